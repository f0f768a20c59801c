// Runs one scenario end to end on a backend:
//   image → deploy → load → disrupt (at T) → wait until the disrupted pods have ended (their containers
//   exited, or the pods gone) → settle margin → stop load → the evidence that comes late (bounded)
//   → timeline → verdicts → result file; teardown always (success, failure, time limit, Ctrl-C).
//
// Three named time limits bound a run (setup, scenario, teardown; see timeLimits). A limit, a
// signal (SIGINT/SIGTERM) or the caller's AbortSignal ends the wait for the current step at once;
// the step itself may still be running (a deploy starting containers, a disruption waiting for
// its grace period). Teardown therefore sweeps by run label twice: at once, and again once the
// step still in flight has settled (bounded), so whatever it created after the first sweep goes too.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Backend, Deployment, DisruptionPlan } from "../backends/backend.js";
import { imageForScenario } from "../images/build.js";
import { startLoad } from "../load/generator.js";
import type { LoadResult } from "../load/types.js";
import type { BackendName, ResolvedImage } from "../model/backend.js";
import type { TimelineEvent } from "../model/events.js";
import type { RequestRecord } from "../model/exercise.js";
import type { PodOutcome } from "../model/pod-outcome.js";
import type { Timeline } from "../model/timeline.js";
import { processReports } from "../observe/app-log.js";
import { EventLog } from "../observe/events.js";
import { attributeRequests, busiestPods, exerciseEvidence } from "../observe/exercise.js";
import { buildTimeline } from "../observe/timeline.js";
import { expectationsFor } from "../scenario/expectations.js";
import type { LoadedScenario } from "../scenario/load.js";
import type { ImageRef, Scenario } from "../scenario/schema.js";
import { InterruptedError, interruptedBy, interruptSignal, registerCleanup } from "../util/cleanup.js";
import { LABEL_RUN, newRunId } from "../util/labels.js";
import { evaluate, type Verdict } from "../verdict/verdicts.js";
import { loadEvents } from "./collect.js";
import { inconclusiveReasons, type RunStatus } from "./status.js";
import { warmUp } from "./warm-up.js";

export const RESULT_SCHEMA_VERSION = 1;

/** The wait, before the disruption, until every ready pod had answered through the Service. */
export interface WarmUpReport {
  /** Epoch ms when it started / ended. */
  startedAt: number;
  endedAt: number;
  /** Pods that had to answer, and those that did (by the backend's attribution or x-served-by). */
  pods: string[];
  answered: string[];
  probes: number;
  /** False when the bound ran out first (reported; the run goes on and exercise decides). */
  complete: boolean;
  note?: string;
}

/**
 * Wall time of a run's phases (ms), for the bench's breakdown. setup: the run's start → the load started
 * (image, deploy until every pod is ready and the Service answers, warm-up); loadWindow: the load's
 * window (the disruption at atSeconds, the wait until the disrupted pods ended, the settle margin, at
 * least durationSeconds); evidence: the load stopped → teardown (late evidence, timeline, verdicts);
 * teardown: the backend's teardown (kind/existing: until the Service is deleted and the namespace's
 * deletion is under way — the rest finishes in the background while the next run sets up).
 */
export interface RunPhases {
  setupMs?: number;
  warmUpMs?: number;
  loadWindowMs?: number;
  evidenceMs?: number;
  teardownMs?: number;
}

export interface ScenarioResult {
  schemaVersion: number;
  scenario: Scenario;
  file: string;
  backend: string;
  runId: string;
  /** 1-based run index when the scenario was repeated (--repeat). */
  attempt?: number;
  startedAt: string;
  durationMs: number;
  platform: Record<string, string>;
  image?: ResolvedImage;
  trafficPath?: string;
  warnings: string[];
  /** Set when the run could not complete (setup failure, timeout, interruption, failed teardown). */
  error?: string;
  load?: LoadResult;
  pods: PodOutcome[];
  timeline?: Timeline;
  verdicts: Verdict[];
  /** The run's outcome; `pass` is status === "pass". */
  status: RunStatus;
  /** Why the run is inconclusive (one line per reason), when it is. */
  inconclusive?: string[];
  warmUp?: WarmUpReport;
  /** Wall time per phase (ms); a phase the run did not reach is absent. */
  phases?: RunPhases;
  pass: boolean;
}

export interface RunOptions {
  backend: Backend;
  /** Multiplies every time limit (setup, scenario, teardown). */
  timeoutScale?: number;
  /** 1-based index of this run when a scenario is repeated; names the result file and the progress lines. */
  attempt?: number;
  resultsDir?: string;
  onProgress?: (line: string) => void;
  /** Ends the run early (teardown still runs); SIGINT/SIGTERM end every run anyway. */
  signal?: AbortSignal;
  /** Overrides of the computed limits, in ms (tests). */
  limits?: Partial<Record<LimitName, number>>;
  /** How the scenario's image is found or built (default: imageForScenario). */
  resolveImage?: (image: ImageRef, opts: { onProgress?: (line: string) => void }) => Promise<ResolvedImage>;
}

/**
 * The load window's settle margin: kept after the last disrupted pod ended (its containers exited, or
 * it was gone), so that late damage still falls in the window. A request in flight when SIGKILL (or any
 * exit) closed its connection fails within it: the kernel resets the pod's sockets at the exit, and the
 * reset crosses kube-proxy / docker-proxy in milliseconds. It is the only settle time: the backends'
 * disrupt() adds none.
 */
export const WINDOW_MARGIN_MS = 1000;

/** Beyond the request timeout, how long settleOutstanding() waits for a request's own end. */
const OUTSTANDING_SLACK_MS = 500;

/**
 * Before the window closes: waits until every request sent before `cutoff` (when the settle margin
 * ended; `sentByCutoff` requests had been written by then) has settled — answered or failed — or until
 * `deadline`. Normally they have by the time it is asked (a response takes ms, /slow 300 ms). The one
 * that has not is a request that went where nothing answers any more: a new connection that kube-proxy
 * still routed to a disrupted pod whose network was already gone fails only by timing out, seconds
 * later; closing the window before that would count it "in flight" instead of failed. Without the
 * request records (a load Job in the cluster) the window closes as it is.
 */
export async function settleOutstanding(
  records: () => readonly RequestRecord[],
  cutoff: number,
  sentByCutoff: number,
  deadline: number,
  signal: AbortSignal,
  pollMs = 50,
): Promise<{ left: number }> {
  for (;;) {
    const settled = records().filter((r) => r.sentAt <= cutoff).length;
    const left = Math.max(0, sentByCutoff - settled);
    if (left === 0 || Date.now() >= deadline) return { left };
    await sleep(Math.min(pollMs, deadline - Date.now()), signal);
  }
}

/**
 * After an early end, how long teardown waits for a step still in flight (a deploy creating
 * containers) before its second sweep by run label. Creating a container takes well under a
 * second; a step that is merely waiting (for readiness, for a grace period) creates nothing more.
 */
export const IN_FLIGHT_SETTLE_MS = 3000;

/** The longest a disruption may take before the harness gives up waiting. */
export function disruptionBudgetMs(s: Scenario): number {
  const grace =
    s.disruption.action === "delete"
      ? (s.disruption.gracePeriodSeconds ?? s.terminationGracePeriodSeconds)
      : s.terminationGracePeriodSeconds;
  // grace + the 2 s minimum + 30 s for the API to report the pod gone (14 s seen on 1.20).
  const perPod = (grace + 2) * 1000 + 30_000;
  const pods = s.disruption.action === "rollout" ? s.replicas : 1;
  return perPod * pods + 30_000 * (s.disruption.action === "rollout" ? s.replicas : 0);
}

export type LimitName = "setup" | "scenario" | "teardown";

/**
 * Named time limits, scaled by the scenario's own waits. Pure.
 * - setup: image (found, or built) + deploy until every replica is ready. Kubernetes backends get
 *   more: the first run may create the kind cluster and load or push images, and pods may pull.
 * - scenario: the load window — the disruption at atSeconds, then the wait for the disrupted pods
 *   (grace period, preStop, 2 s minimum, API lag: disruptionBudgetMs), at least the load duration.
 * - teardown: removing what the run made; Kubernetes waits (bounded) for the namespace to go.
 * `scale` stretches all three (--timeout-scale).
 */
export function timeLimits(s: Scenario, scale = 1, backend: BackendName = "local"): Record<LimitName, number> {
  const preStop = s.preStop.type === "sleep" ? s.preStop.seconds * 1000 : 0;
  const kubernetes = backend !== "local";
  return {
    setup: Math.round(((kubernetes ? 600_000 : 120_000) + 15_000 * s.replicas) * scale),
    scenario: Math.round(
      (s.disruption.atSeconds * 1000 +
        Math.max(s.load.durationSeconds * 1000, disruptionBudgetMs(s) + preStop) +
        10_000) *
        scale,
    ),
    teardown: Math.round(((kubernetes ? 120_000 : 30_000) + 5_000 * s.replicas) * scale),
  };
}

function seconds(ms: number): string {
  return ms < 10_000 ? (ms / 1000).toFixed(1) : (ms / 1000).toFixed(0);
}

export class LimitExceeded extends Error {
  constructor(
    readonly limit: LimitName,
    readonly ms: number,
    what: string,
  ) {
    super(`${what} timed out after ${seconds(ms)} s (limit: ${limit}; raise it with --timeout-scale)`);
    this.name = "LimitExceeded";
  }
}

/** Resolves with p, or rejects with the signal's reason as soon as it aborts (p keeps running). */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    p.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

/** A sleep that ends (rejecting with the reason) when the signal aborts; no timer is left behind. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(
      () => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

// Image builds and backend preparation (kind load, registry push) run one at a time across
// parallel runs: two runs of the same style must not build the same tag at once.
let setupChain: Promise<void> = Promise.resolve();
async function oneAtATime<T>(fn: () => Promise<T>, signal: AbortSignal): Promise<T> {
  const previous = setupChain;
  let release: () => void = () => {};
  const mine = new Promise<void>((r) => {
    release = r;
  });
  setupChain = previous.then(() => mine);
  try {
    await raceAbort(previous, signal);
    return await fn();
  } finally {
    release();
  }
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

export async function runScenario(loaded: LoadedScenario, options: RunOptions): Promise<ScenarioResult> {
  const { scenario } = loaded;
  const { backend } = options;
  const tag = options.attempt !== undefined ? `${scenario.name} #${options.attempt}` : scenario.name;
  const progress = (line: string) => options.onProgress?.(`[${tag}] ${line}`);
  const runId = newRunId();
  const started = Date.now();
  const events = new EventLog();
  const result: ScenarioResult = {
    schemaVersion: RESULT_SCHEMA_VERSION,
    scenario,
    file: loaded.file,
    backend: backend.name,
    runId,
    ...(options.attempt !== undefined ? { attempt: options.attempt } : {}),
    startedAt: new Date(started).toISOString(),
    durationMs: 0,
    platform: {},
    warnings: loaded.warnings,
    pods: [],
    verdicts: [],
    status: "error",
    pass: false,
  };
  const limits = { ...timeLimits(scenario, options.timeoutScale, backend.name), ...options.limits };

  // One controller ends the run early: a signal, the caller's signal, or a time limit.
  const ctl = new AbortController();
  const abort = (reason: unknown) => {
    if (!ctl.signal.aborted) ctl.abort(reason);
  };
  const outside = [interruptSignal(), options.signal].filter((s): s is AbortSignal => s !== undefined);
  const forward = (s: AbortSignal) => () => abort(s.reason);
  const listeners = outside.map((s) => {
    const fn = forward(s);
    if (s.aborted) fn();
    else s.addEventListener("abort", fn, { once: true });
    return () => s.removeEventListener("abort", fn);
  });
  const arm = (limit: LimitName, what: string) => {
    const timer = setTimeout(() => abort(new LimitExceeded(limit, limits[limit], what)), limits[limit]);
    return () => clearTimeout(timer);
  };

  // Backend steps that may outlive an early end; teardown waits (bounded) for them, then sweeps again.
  const inFlight = new Map<Promise<unknown>, string>();
  const step = <T>(what: string, p: Promise<T>): Promise<T> => {
    const settled = p.then(
      () => undefined,
      () => undefined,
    );
    inFlight.set(settled, what);
    void settled.then(() => inFlight.delete(settled));
    return raceAbort(p, ctl.signal);
  };

  let deployment: Deployment | undefined;
  let load:
    | { stop(): Promise<LoadResult>; requestRecords?(): RequestRecord[]; snapshot?(): { sent: number; at: number } }
    | undefined;
  const phases: RunPhases = {};
  result.phases = phases;
  let loadStopped: number | undefined;
  let teardownFailure: string | undefined;
  let finish: () => void = () => {};
  const finished = new Promise<void>((r) => {
    finish = r;
  });
  // On SIGINT/SIGTERM the signal handler runs this: the run stops where it is and tears down itself.
  const unregister = registerCleanup(`scenario ${tag} (run ${runId})`, async () => {
    abort(new InterruptedError(interruptedBy() ?? "SIGTERM"));
    await finished;
    if (teardownFailure) throw new Error(teardownFailure);
  });

  const teardownOnce = async (problems: string[]) => {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        backend.teardown(deployment, runId),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new LimitExceeded("teardown", limits.teardown, "teardown")), limits.teardown);
        }),
      ]);
    } catch (err) {
      problems.push(message(err));
    } finally {
      clearTimeout(timer);
    }
  };
  const teardown = async () => {
    progress("teardown");
    const problems: string[] = [];
    await teardownOnce(problems);
    if (inFlight.size > 0) {
      const what = [...new Set(inFlight.values())].join(", ");
      progress(`teardown: waiting for the ${what} still in flight, then sweeping by run label again`);
      const pending = [...inFlight.keys()];
      let settleTimer: NodeJS.Timeout | undefined;
      const settledInTime = await Promise.race([
        Promise.all(pending).then(() => true),
        new Promise<false>((r) => {
          settleTimer = setTimeout(() => r(false), Math.min(IN_FLIGHT_SETTLE_MS, limits.teardown));
        }),
      ]);
      clearTimeout(settleTimer);
      await teardownOnce(problems);
      if (!settledInTime) {
        progress(`teardown: the ${what} is still running; it is swept by run label again when it ends`);
        // For callers that keep the process alive (tests, bench): a last sweep once it settles.
        void Promise.all(pending).then(() => backend.teardown(deployment, runId).catch(() => undefined));
      }
    }
    if (problems.length > 0) {
      const leftovers =
        `teardown incomplete: ${[...new Set(problems)].join("; ")} — what is left carries the label ` +
        `${LABEL_RUN}=${runId}: remove it with 'graceful-e2e clean'`;
      progress(leftovers);
      teardownFailure = leftovers;
      result.error = result.error ? `${result.error}; ${leftovers}` : leftovers;
      result.status = "error";
      result.pass = false;
    }
  };

  try {
    progress(
      `run ${runId} on ${backend.name}; limits: setup ${seconds(limits.setup)} s, scenario ` +
        `${seconds(limits.scenario)} s, teardown ${seconds(limits.teardown)} s`,
    );
    if (ctl.signal.aborted) throw ctl.signal.reason;
    const endSetup = arm("setup", "setup (image and deploy)");
    try {
      progress("setup: image");
      const resolveImage = options.resolveImage ?? imageForScenario;
      const image = await step(
        "image build and preparation",
        oneAtATime(async () => {
          const resolved = await resolveImage(scenario.image, { onProgress: progress });
          await backend.prepare([resolved]);
          return resolved;
        }, ctl.signal),
      );
      result.image = image;
      progress(`deploying ${scenario.replicas} replica(s) of ${image.ref} on ${backend.name}`);
      const deployed = await step("deploy", backend.deploy(scenario, image, events, runId));
      deployment = deployed;
      result.platform = deployed.platform;
      result.trafficPath = deployed.trafficPath;
      if (scenario.load.warmUpSeconds > 0 && !backend.startLoad) {
        const w = await raceAbort(
          warmUp({
            target: deployed.target,
            path: scenario.load.path,
            pods: deployed.pods,
            boundMs: scenario.load.warmUpSeconds * 1000,
            attribution: backend.trafficAttribution ? () => backend.trafficAttribution?.(deployed) : undefined,
            signal: ctl.signal,
          }),
          ctl.signal,
        );
        result.warmUp = w;
        phases.warmUpMs = w.endedAt - w.startedAt;
        progress(
          `warm-up: ${w.answered.length}/${w.pods.length} pod(s) answered through the Service in ` +
            `${((w.endedAt - w.startedAt) / 1000).toFixed(1)} s (${w.probes} probe(s))${w.note ? `; ${w.note}` : ""}`,
        );
      }
      progress(
        `load: ${scenario.load.connections} connection(s)` +
          (scenario.load.freshConnectionIntervalMs > 0
            ? ` + a fresh connection every ${scenario.load.freshConnectionIntervalMs} ms`
            : "") +
          ` → ${deployed.target.host}:${deployed.target.port}`,
      );
      const hooks = {
        // The load generator's own hard stop: never before the scenario limit could fire.
        safetyCapSeconds: Math.ceil(limits.scenario / 1000) + 60,
      };
      // A backend may start the load itself (existing cluster: a Job inside the cluster); part of setup.
      load = backend.startLoad
        ? await step("load start", backend.startLoad(deployed, scenario.load, hooks))
        : startLoad(deployed.target, scenario.load, hooks);
    } finally {
      endSetup();
    }
    const loadStarted = Date.now();
    phases.setupMs = loadStarted - started;
    let disrupted: PodOutcome[] = [];
    let finalOutcome: (() => Promise<PodOutcome[]>) | undefined;
    const active = deployment;
    const running = load;
    const endScenario = arm("scenario", `the scenario (load and ${scenario.disruption.action})`);
    try {
      await sleep(scenario.disruption.atSeconds * 1000, ctl.signal);
      progress(`disruption: ${scenario.disruption.action} at +${scenario.disruption.atSeconds}s`);
      const plan = planDisruption(scenario, active, backend, running.requestRecords?.() ?? []);
      if (plan.basis) progress(`victims: ${plan.basis}`);
      const outcome = await step("disruption", backend.disrupt(active, scenario.disruption, plan.plan));
      disrupted = outcome.pods;
      finalOutcome = outcome.final?.bind(outcome);
      progress(`disrupted pod(s) ended (containers exited, or gone): ${disrupted.map((p) => p.pod).join(", ")}`);
      // The settle margin, then at least the load's duration; then every request sent before the margin
      // ended must have settled (bounded by the request timeout): see settleOutstanding().
      await sleep(WINDOW_MARGIN_MS, ctl.signal);
      // What had been sent when the margin ended (the count first: whatever it counts was sent by `at`).
      const marginEnd = running.snapshot?.();
      const settleDeadline = Date.now() + scenario.load.requestTimeoutSeconds * 1000 + OUTSTANDING_SLACK_MS;
      await sleep(loadStarted + scenario.load.durationSeconds * 1000 - Date.now(), ctl.signal);
      if (!marginEnd || !running.requestRecords) {
        // A load this process cannot see into (a Job in the cluster): every request sent before the
        // margin ended has settled by the request timeout.
        await sleep(settleDeadline - Date.now(), ctl.signal);
      } else {
        const records = running.requestRecords.bind(running);
        const waited = await settleOutstanding(
          () => records(),
          marginEnd.at,
          marginEnd.sent,
          marginEnd.at + scenario.load.requestTimeoutSeconds * 1000 + OUTSTANDING_SLACK_MS,
          ctl.signal,
        );
        if (waited.left > 0) {
          progress(
            `load: ${waited.left} request(s) sent before the settle margin ended still unanswered at the request timeout`,
          );
        }
      }
    } finally {
      endScenario();
      result.load = await running.stop();
      loadStopped = Date.now();
      phases.loadWindowMs = loadStopped - loadStarted;
    }
    // What comes after the window (the API's report of each exit, the last log lines), bounded.
    if (finalOutcome) disrupted = await step("late evidence", finalOutcome());
    for (const pod of disrupted) pod.processes = processReports(events.events, pod.pod);
    const attribution = backend.trafficAttribution?.(active);
    const requests = attributeRequests(running.requestRecords?.() ?? [], attribution);
    const routed: TimelineEvent[] = [];
    for (const pod of disrupted) {
      pod.exercise = exerciseEvidence({
        pod: pod.pod,
        deleteAt: pod.deleteAt,
        sigtermAt: sigtermAt(events.events, pod, scenario),
        attribution,
        requests,
        ...(pod.socketsAtDelete ? { socketTableAtDelete: pod.socketsAtDelete.established } : {}),
        servedBy: result.load.servedBy,
      });
      const last = pod.exercise.lastNewConnectionMs;
      if (last !== undefined && attribution) {
        routed.push({
          at: pod.deleteAt + last,
          kind: "last-connection-routed",
          source: attribution.source === "service-proxy" ? "proxy" : "runtime",
          pod: pod.pod,
          detail: { via: attribution.source, afterDelete: pod.exercise.newConnectionsAfterDelete },
        });
      }
    }
    result.pods = disrupted;
    result.timeline = buildTimeline([
      ...events.events,
      ...routed,
      ...loadEvents(
        result.load,
        disrupted.map((p) => p.pod),
      ),
    ]);
    result.verdicts = evaluate({
      expectations: expectationsFor(scenario.expectations, backend.name),
      load: result.load,
      pods: disrupted,
      backend: backend.name,
    });
    const inconclusive = inconclusiveReasons(disrupted, result.verdicts);
    result.status = inconclusive.length > 0 ? "inconclusive" : result.verdicts.every((v) => v.pass) ? "pass" : "fail";
    if (inconclusive.length > 0) result.inconclusive = inconclusive;
    result.pass = result.status === "pass";
  } catch (err) {
    result.error = message(err);
    result.status = "error";
    result.pass = false;
    if (result.timeline === undefined && events.events.length > 0) result.timeline = buildTimeline(events.events);
  } finally {
    const teardownStarted = Date.now();
    if (loadStopped !== undefined) phases.evidenceMs = teardownStarted - loadStopped;
    try {
      await teardown();
    } finally {
      phases.teardownMs = Date.now() - teardownStarted;
      unregister();
      for (const remove of listeners) remove();
      result.durationMs = Date.now() - started;
      try {
        if (options.resultsDir) await writeResult(options.resultsDir, result);
      } finally {
        finish();
      }
    }
  }
  return result;
}

/**
 * When SIGTERM reached a disrupted pod: the kubelet's signal when the harness sent it (local), else
 * the app's own SIGTERM line, else the end of a preStop sleep; undefined when nothing tells.
 */
export function sigtermAt(events: readonly TimelineEvent[], pod: PodOutcome, scenario: Scenario): number | undefined {
  const sent = events.find((e) => e.pod === pod.pod && e.kind === "sigterm-sent");
  if (sent) return sent.at;
  const logged = events
    .filter((e) => e.pod === pod.pod && e.kind === "app-signal" && e.detail?.signal === "SIGTERM")
    .map((e) => e.at);
  if (logged.length > 0) return Math.min(...logged);
  if (scenario.preStop.type === "sleep") return pod.deleteAt + scenario.preStop.seconds * 1000;
  if (scenario.preStop.type === "none") return pod.deleteAt;
  return undefined;
}

/** The delete's victims: the pods carrying the most connections now (scenario victims: busiest). */
export function planDisruption(
  scenario: Scenario,
  deployment: Deployment,
  backend: Backend,
  records: readonly RequestRecord[],
): { plan?: DisruptionPlan; basis?: string } {
  const d = scenario.disruption;
  if (d.action !== "delete" || d.victims !== "busiest") return {};
  const attribution = backend.trafficAttribution?.(deployment);
  const { pods, basis } = busiestPods(
    deployment.pods,
    d.count,
    Date.now(),
    attribution,
    attributeRequests(records, attribution),
  );
  return { plan: { victims: pods }, basis };
}

export async function writeResult(dir: string, result: ScenarioResult): Promise<string> {
  await mkdir(dir, { recursive: true });
  const attempt = result.attempt !== undefined ? `.${result.attempt}` : "";
  const file = join(dir, `${result.scenario.name}.${result.backend}${attempt}.json`);
  await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}
