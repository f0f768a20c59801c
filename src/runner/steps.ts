// The run's named steps, in order: prepare → deploy → warm-up → load → disrupt (and the load window's
// end) → collect → judge → report. Teardown is its own step (teardown.ts), registered before the first.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { DisruptionOutcome, DisruptionPlan, RunningWorkload, WorkloadSource } from "../backends/backend.js";
import { type InClusterLoadRun, loadsInCluster } from "../backends/capabilities.js";
import { httpRequestOf } from "../load/fresh-request.js";
import { startLoad } from "../load/generator.js";
import type { LoadResult, LoadRun } from "../load/types.js";
import type { RequestRecord } from "../model/exercise.js";
import { attributeRequests, busiestPods } from "../observe/exercise.js";
import { startSaturationProbe } from "../observe/saturation.js";
import type { Scenario } from "../scenario/schema.js";
import { sleepOrAbort as sleep } from "../util/sleep.js";
import type { RunContext } from "./context.js";
import { judgeRun } from "./judge.js";
import { raceAbort } from "./limits.js";
import { OUTSTANDING_SLACK_MS, settleOutstanding, WINDOW_MARGIN_MS } from "./load-window.js";
import type { ScenarioResult } from "./run.js";
import { asDeployed, buildSource } from "./source.js";
import { warmUp } from "./warm-up.js";

/**
 * The load as the runner holds it: from this machine (every request recorded, so the window can wait
 * for each to settle and the exercise can attribute it), or a Job in the cluster (only its result).
 */
export type RunningLoad = { where: "here"; run: LoadRun } | { where: "cluster"; run: InClusterLoadRun };

const recordsOf = (load: RunningLoad): RequestRecord[] => (load.where === "here" ? load.run.requestRecords() : []);

/** prepare: what the run tests (image, manifests or a running target), made available to the backend. */
export async function prepareStep(ctx: RunContext): Promise<WorkloadSource> {
  ctx.progress(ctx.scenario.image !== undefined ? "setup: image" : "setup: workload");
  return ctx.step("image build and preparation", buildSource(ctx));
}

const sourceText = (source: WorkloadSource): string =>
  source.kind === "image"
    ? source.image.ref
    : source.kind === "manifests"
      ? `${source.set.workload.kind} ${source.set.workload.name} (manifests)`
      : `${source.target.workload.kind} ${source.target.namespace}/${source.target.workload.name} (running)`;

/**
 * deploy: every replica ready behind the Service; the handle is kept for the next steps and teardown.
 * From here on the run's scenario carries the deployed pod's figures (asDeployed), and the scenario's
 * time limit follows them.
 */
export async function deployStep(ctx: RunContext, source: WorkloadSource): Promise<RunningWorkload> {
  const replicas = source.kind === "image" ? `${ctx.scenario.replicas} replica(s) of ` : "";
  ctx.progress(`deploying ${replicas}${sourceText(source)} on ${ctx.backend.name}`);
  const workload = await ctx.step("deploy", ctx.backend.deploy(ctx.scenario, source, ctx.sink("backend"), ctx.runId));
  ctx.workload = workload;
  ctx.deployed(asDeployed(ctx.scenario, workload.pod));
  // The handle carries it too: what the backend reads later (the in-cluster load's timing) uses the pod as deployed.
  workload.scenario = ctx.scenario;
  ctx.result.platform = workload.platform;
  ctx.result.trafficPath = workload.trafficPath;
  if (workload.mutations) ctx.result.mutations = workload.mutations;
  ctx.recorder?.note({
    kind: "deployed",
    at: Date.now(),
    ...(source.kind === "image" ? { image: source.image } : {}),
    platform: workload.platform,
    trafficPath: workload.trafficPath,
    pods: workload.pods,
    pod: workload.pod,
  });
  return workload;
}

/** warm-up: until every ready pod answered through the Service (bounded), whenever the load comes from here. */
export async function warmUpStep(ctx: RunContext, workload: RunningWorkload): Promise<void> {
  if (ctx.scenario.load.warmUpSeconds <= 0 || loadsInCluster(ctx.backend)) return;
  const w = await raceAbort(
    warmUp({
      target: workload.target,
      path: ctx.scenario.load.path,
      request: httpRequestOf(ctx.scenario.load),
      pods: workload.pods,
      boundMs: ctx.scenario.load.warmUpSeconds * 1000,
      attribution: () => workload.trafficAttribution(),
      signal: ctx.signal,
      sink: ctx.sink("harness"),
    }),
    ctx.signal,
  );
  ctx.result.warmUp = w;
  ctx.recorder?.note({ kind: "warm-up", at: Date.now(), report: w });
  if (ctx.result.phases) ctx.result.phases.warmUpMs = w.endedAt - w.startedAt;
  ctx.progress(
    `warm-up: ${w.answered.length}/${w.pods.length} pod(s) answered through the Service in ` +
      `${((w.endedAt - w.startedAt) / 1000).toFixed(1)} s (${w.probes} probe(s))${w.failed ? `; ${w.failed} FAILED` : ""}${w.note ? `; ${w.note}` : ""}`,
  );
}

/** load: from this machine, or the backend's in-cluster Job; resolves once load flows. */
export async function loadStep(ctx: RunContext, workload: RunningWorkload): Promise<RunningLoad> {
  const load = ctx.scenario.load;
  ctx.progress(
    `load: ${load.connections} connection(s)` +
      (load.freshConnectionIntervalMs > 0 ? ` + a fresh connection every ${load.freshConnectionIntervalMs} ms` : "") +
      ` → ${workload.target.host}:${workload.target.port}`,
  );
  // The load generator's own hard stop: never before the scenario limit could fire.
  const hooks = { safetyCapSeconds: Math.ceil(ctx.limits.scenario / 1000) + 60 };
  const backend = ctx.backend;
  // Saturation is measured over the load window (started with the load, stopped with it).
  ctx.saturation = startSaturationProbe();
  if (loadsInCluster(backend)) {
    return { where: "cluster", run: await ctx.step("load start", backend.startLoad(workload, load, hooks)) };
  }
  return { where: "here", run: startLoad(workload.target, load, hooks) };
}

/** disrupt: at atSeconds, the victims chosen, the disruption carried out until the disrupted pods ended. */
export async function disruptStep(
  ctx: RunContext,
  workload: RunningWorkload,
  load: RunningLoad,
): Promise<DisruptionOutcome> {
  const d = ctx.scenario.disruption;
  await sleep(d.atSeconds * 1000, ctx.signal);
  ctx.progress(`disruption: ${d.action} at +${d.atSeconds}s`);
  const plan = planDisruption(ctx.scenario, workload, recordsOf(load));
  if (plan.basis) ctx.progress(`victims: ${plan.basis}`);
  ctx.recorder?.note({ kind: "plan", at: Date.now(), ...plan.plan, ...(plan.basis ? { basis: plan.basis } : {}) });
  const changedBefore = workload.mutations?.length ?? 0;
  const outcome = await ctx.step("disruption", workload.disrupt(d, plan.plan));
  // What the disruption changed in the cluster (a target: exactly the pods it deleted or evicted, a drain's
  // cordon), as the result says.
  for (const m of workload.mutations?.slice(changedBefore) ?? []) ctx.progress(`changed: ${m}`);
  ctx.progress(`disrupted pod(s) ended (containers exited, or gone): ${outcome.pods.map((p) => p.pod).join(", ")}`);
  return outcome;
}

/**
 * The load window's end: the settle margin, then at least the load's duration; then every request sent
 * before the margin ended must have settled (bounded by the request timeout): see settleOutstanding().
 */
export async function windowEndStep(ctx: RunContext, load: RunningLoad, loadStarted: number): Promise<void> {
  const opts = ctx.scenario.load;
  await sleep(WINDOW_MARGIN_MS, ctx.signal);
  // What had been sent when the margin ended (the count first: whatever it counts was sent by `at`).
  const marginEnd = load.where === "here" ? load.run.snapshot() : undefined;
  const settleDeadline = Date.now() + opts.requestTimeoutSeconds * 1000 + OUTSTANDING_SLACK_MS;
  await sleep(loadStarted + opts.durationSeconds * 1000 - Date.now(), ctx.signal);
  if (load.where === "cluster" || !marginEnd) {
    // A load this process cannot see into (a Job in the cluster): every request sent before the
    // margin ended has settled by the request timeout.
    await sleep(settleDeadline - Date.now(), ctx.signal);
    return;
  }
  const run = load.run;
  const waited = await settleOutstanding(
    () => run.requestRecords(),
    marginEnd.at,
    marginEnd.sent,
    marginEnd.at + opts.requestTimeoutSeconds * 1000 + OUTSTANDING_SLACK_MS,
    ctx.signal,
  );
  if (waited.left > 0) {
    ctx.progress(
      `load: ${waited.left} request(s) sent before the settle margin ended still unanswered at the request timeout`,
    );
  }
}

export async function stopLoad(load: RunningLoad): Promise<LoadResult> {
  return load.run.stop();
}

/** judge: judgeRun() on the collected evidence, into the result. */
export function judgeStep(ctx: RunContext, load: LoadResult): void {
  const r = ctx.result;
  Object.assign(
    r,
    judgeRun({
      scenario: ctx.scenario,
      backend: ctx.backend.name,
      load,
      pods: r.pods,
      events: ctx.events.events,
      harnessLoad: ctx.harnessLoad,
      ...(r.voluntary ? { voluntary: r.voluntary } : {}),
      ...(r.readyEndpoints ? { readyEndpoints: r.readyEndpoints } : {}),
    }),
  );
}

/** How many busiest pods the disruption needs named: delete/evict their count, drain the one whose node goes. */
function busiestWanted(d: Scenario["disruption"]): number {
  if ((d.action === "delete" || d.action === "evict") && d.victims === "busiest") return d.count;
  if (d.action === "drain" && d.node === undefined) return 1;
  return 0;
}

/** The victims: the pods carrying the most connections now (delete/evict victims busiest; drain's node). */
export function planDisruption(
  scenario: Scenario,
  workload: RunningWorkload,
  records: readonly RequestRecord[],
): { plan?: DisruptionPlan; basis?: string } {
  const count = busiestWanted(scenario.disruption);
  if (count === 0) return {};
  const attribution = workload.trafficAttribution();
  const { pods, basis } = busiestPods(
    workload.pods,
    count,
    Date.now(),
    attribution,
    attributeRequests(records, attribution),
  );
  return { plan: { victims: pods }, basis };
}

/** report: the result file, one per run (attempt in the name when repeated). */
export async function writeResult(dir: string, result: ScenarioResult): Promise<string> {
  await mkdir(dir, { recursive: true });
  const attempt = result.attempt !== undefined ? `.${result.attempt}` : "";
  const file = join(dir, `${result.scenario.name}.${result.backend}${attempt}.json`);
  await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}
