// audit --verify: turns the riskiest workloads into `check` runs (src/check/run.ts) on a COPY of
// their image — never on the running workload. Local: the local backend starts its own labelled
// containers from the image. kind/existing: check deploys into the harness's own labelled namespace
// (ge-check-…), which needs --allow-mutations. The copy gets the workload's grace period and preStop
// (Kubernetes) or, on Docker (no preStop hook), a preStop sleep longer than the propagation so the
// check measures the signal path, and the container's stop timeout after it.
import { setMaxListeners } from "node:events";
import { join } from "node:path";
import type { Backend } from "../backends/backend.js";
import { CHECK_DEFAULTS, type CheckOptions, type CheckReport, runCheck } from "../check/run.js";
import type { BackendName } from "../model/backend.js";
import type { ScenarioResult } from "../runner/run.js";
import { interruptSignal } from "../util/cleanup.js";
import type { PropagationBasis, VerifyOutcome, WorkloadFacts, WorkloadReport } from "./types.js";

/** The workloads to verify: most at risk first, those with something to prove, at most `max`. Pure. */
export function verifyCandidates(ranked: WorkloadReport[], max: number, only?: RegExp): WorkloadReport[] {
  return ranked
    .filter((w) => (only ? only.test(w.id) : true))
    .filter((w) => w.prediction.drops !== "no" || w.severity !== "info")
    .filter((w) => w.containers.length > 0)
    .slice(0, max);
}

export interface VerifyPlan {
  options: CheckOptions;
  container: string;
  setup: string;
}

/** The check a workload's copy runs: its image, port, grace and preStop. Pure; throws when it cannot run. */
export function verifyPlan(
  f: WorkloadFacts,
  backend: BackendName,
  propagation: PropagationBasis,
  path: string,
): VerifyPlan {
  const c = f.containers.find((x) => x.ports.length > 0) ?? f.containers[0];
  if (!c) throw new Error("no container");
  const listening = (c.inspection?.processes ?? []).flatMap((p) => p.listens);
  const port = listening[0] ?? c.ports[0];
  if (port === undefined) throw new Error(`container ${c.name} has no known port (none declared, none seen listening)`);
  let preStopSeconds: number;
  let graceSeconds: number;
  let why: string;
  if (backend === "local" || c.preStop === undefined) {
    // Docker has no preStop: a sleep longer than the propagation isolates the signal path.
    preStopSeconds = Math.ceil(propagation.ms / 1000) + 1;
    graceSeconds = preStopSeconds + f.grace.seconds;
    why = `preStop sleep ${preStopSeconds} s (longer than the ${propagation.ms} ms propagation: Docker has no preStop, this isolates the signal path), then ${f.grace.seconds} s (${f.grace.from})`;
  } else {
    preStopSeconds = c.preStop.type === "none" ? 0 : (c.preStop.seconds ?? 0);
    graceSeconds = f.grace.seconds;
    why = `the workload's own preStop (${c.preStop.type === "none" ? "none" : c.preStop.description}) and grace period (${graceSeconds} s)`;
  }
  const readyPath = /httpGet (\/\S*)/.exec(c.readiness ?? "")?.[1];
  return {
    container: c.name,
    setup: `image ${c.image}, port ${port}, ${why}; load ${CHECK_DEFAULTS.connections} connections on ${path}, ${CHECK_DEFAULTS.replicas} replicas, one deleted at +${CHECK_DEFAULTS.atSeconds} s`,
    options: {
      ...CHECK_DEFAULTS,
      image: c.image,
      port,
      path,
      ...(readyPath ? { readyPath } : {}),
      graceSeconds,
      preStopSeconds,
      propagationMs: propagation.ms,
    },
  };
}

/** What a check run showed, in the audit's terms. Pure. */
export function verifyOutcomeOf(report: CheckReport, plan: VerifyPlan, resultsDir: string): VerifyOutcome {
  const o = report.observation;
  const d = report.diagnosis;
  const ns = report.result.platform?.namespace;
  return {
    ...(report.runId ? { runId: report.runId } : {}),
    image: report.ref,
    port: report.port,
    where:
      report.backend === "local"
        ? `a copy started by the local backend (its own containers, label graceful-e2e.run=${report.runId ?? "?"})`
        : `the harness's own namespace ${ns ?? "ge-…"} on ${report.backend}`,
    setup: plan.setup,
    ...(o.pid1Cmdline ? { pid1: o.pid1Cmdline } : {}),
    outcome: o.outcomeWords,
    sent: o.sent,
    failed: o.failed,
    failureSummary: o.failureSummary,
    observedOutcomes: o.compatible,
    ...(o.exitAfterSigtermMs !== undefined ? { sigtermToExitMs: o.exitAfterSigtermMs } : {}),
    ...(d.held !== undefined ? { predictionHeld: d.held } : {}),
    heldWords: d.heldWords,
    problem: d.problem,
    ...(d.fix ? { fix: d.fix } : {}),
    ...(report.error ? { error: report.error } : {}),
    resultFile: join(resultsDir, `${report.scenario.name}.${report.backend}.json`),
  };
}

export interface VerifyRun {
  outcomes: Map<string, VerifyOutcome>;
  results: ScenarioResult[];
}

export async function runVerify(
  backend: Backend,
  candidates: Array<{ report: WorkloadReport; facts: WorkloadFacts }>,
  o: {
    propagation: PropagationBasis;
    path: string;
    resultsDir: string;
    log?: (line: string) => void;
    stop?: () => boolean;
  },
): Promise<VerifyRun> {
  const outcomes = new Map<string, VerifyOutcome>();
  const results: ScenarioResult[] = [];
  // Each check run listens on the process-wide interrupt signal: several in a row exceed Node's default 10.
  setMaxListeners(Math.max(20, candidates.length * 10), interruptSignal());
  for (const { report: w, facts } of candidates) {
    if (o.stop?.()) break;
    let plan: VerifyPlan;
    try {
      plan = verifyPlan(facts, backend.name, o.propagation, o.path);
    } catch (err) {
      outcomes.set(w.id, {
        image: facts.containers[0]?.image ?? "?",
        port: 0,
        where: "-",
        setup: "-",
        error: (err as Error).message,
      });
      continue;
    }
    o.log?.(`verify ${w.id}: check ${plan.setup}`);
    try {
      const report = await runCheck(backend, plan.options, {
        resultsDir: o.resultsDir,
        onProgress: (l) => o.log?.(`  ${l}`),
      });
      results.push(report.result);
      const outcome = verifyOutcomeOf(report, plan, o.resultsDir);
      outcomes.set(w.id, outcome);
      o.log?.(
        `verify ${w.id}: ${outcome.failed ?? "?"} of ${outcome.sent ?? "?"} dropped — ${outcome.outcome ?? outcome.error ?? ""}`,
      );
    } catch (err) {
      outcomes.set(w.id, {
        image: plan.options.image,
        port: plan.options.port,
        where: backend.name,
        setup: plan.setup,
        error: err instanceof Error ? err.message : String(err),
      });
      o.log?.(`verify ${w.id}: could not run: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return { outcomes, results };
}
