// Runs one scenario end to end on a backend, as named steps (steps.ts):
//   prepare → deploy → warm-up → load → disrupt (at T) → the load window's end → collect → judge → report,
// with teardown (teardown.ts) registered as its own step and run whatever happened (success, failure,
// time limit, Ctrl-C).
//
// Three named time limits bound a run (setup, scenario, teardown; see limits.ts). A limit, a
// signal (SIGINT/SIGTERM) or the caller's AbortSignal ends the wait for the current step at once;
// the step itself may still be running (a deploy starting containers, a disruption waiting for
// its grace period). Teardown therefore sweeps by run label twice: at once, and again once the
// step still in flight has settled (bounded), so whatever it created after the first sweep goes too.
import type { Backend } from "../backends/backend.js";
import type { FailureKind, LoadResult } from "../load/types.js";
import type { ResolvedImage } from "../model/backend.js";
import type { ReadyEndpointsSample, VoluntaryDisruptionRecord } from "../model/disruption.js";
import type { PodOutcome } from "../model/pod-outcome.js";
import type { Timeline } from "../model/timeline.js";
import { EventLog } from "../observe/events.js";
import { buildTimeline } from "../observe/timeline.js";
import type { LoadedScenario } from "../scenario/load.js";
import type { ImageRef, Scenario } from "../scenario/schema.js";
import { InterruptedError, interruptedBy, registerCleanup } from "../util/cleanup.js";
import { errorText } from "../util/errors.js";
import { newRunId } from "../util/labels.js";
import type { TrustReport } from "../verdict/trust.js";
import type { Verdict } from "../verdict/verdicts.js";
import type { ManifestSet } from "../workload/types.js";
import { collectStep } from "./collect.js";
import { RunContext } from "./context.js";
import { type LimitName, seconds } from "./limits.js";
import { hostPlatform, type RecordingLimits, RunRecorder, recordsByDefault } from "./recording.js";
import type { RunStatus } from "./status.js";
import {
  deployStep,
  disruptStep,
  judgeStep,
  loadStep,
  prepareStep,
  type RunningLoad,
  warmUpStep,
  windowEndStep,
  writeResult,
} from "./steps.js";
import { teardownStep } from "./teardown.js";

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
  /** Probes that failed (reset, refused, timeout, non-2xx, ...); absent in results written before it existed. */
  failed?: number;
  /** The failed probes, in order (the first WARM_UP_LISTED_FAILURES of them). */
  failures?: WarmUpFailure[];
  /** False when it ended before every pod answered (reported; the run goes on and exercise decides). */
  complete: boolean;
  /** Why an incomplete warm-up ended (absent when complete, and in results written before it existed). */
  stopped?: WarmUpStop;
  note?: string;
}

/**
 * bound: the warm-up's time ran out; no-pod-named: probes answered but nothing names the pod (more cannot
 * tell); not-http1: the answers are not HTTP/1.1 (a server of another protocol); aborted: the run ended.
 */
export type WarmUpStop = "bound" | "no-pod-named" | "not-http1" | "aborted";

/** A warm-up probe that failed: what went wrong, when, and the pod when something names it. */
export interface WarmUpFailure {
  /** Epoch ms when it failed. */
  at: number;
  kind: FailureKind;
  /** Status code for non-2xx, the socket error code otherwise. */
  code?: string | number;
  pod?: string;
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
  /** Inside setup: the image found or built and made available (prepare), the deploy until the Service answered. */
  prepareMs?: number;
  deployMs?: number;
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
  /** Whether the harness could keep its clock during the window: its figures and the kubelet's lateness. */
  trust?: TrustReport;
  /**
   * What the run changed in the cluster (kind/existing), one line each: with a target, exactly the
   * pods the disruption deleted or evicted and a drain's cordon and uncordon (or its failure); else
   * also what the run created in its own namespace.
   */
  mutations?: string[];
  /** Wall time per phase (ms); a phase the run did not reach is absent. */
  phases?: RunPhases;
  /** evict/drain/rollout: every eviction the API answered, the drain's course, the budget in force. */
  voluntary?: VoluntaryDisruptionRecord;
  /** The Service's ready endpoints over the run (a step function), when the backend followed them. */
  readyEndpoints?: ReadyEndpointsSample[];
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
  /** workload.manifests read once before any run (the CLI: bad manifests exit 2); absent: read at prepare. */
  manifests?: ManifestSet;
  /** How the scenario's image is found or built (default: imageForScenario). */
  resolveImage?: (image: ImageRef, opts: { onProgress?: (line: string) => void }) => Promise<ResolvedImage>;
  /**
   * Write the run's observations next to its result file (needs resultsDir; see recording.ts).
   * Default: recordsByDefault(backend) — kind and existing yes, local no.
   */
  record?: boolean;
  /** Bounds of the recording (tests; default RECORDING_LIMITS). */
  recordingLimits?: Partial<RecordingLimits>;
}

function newResult(loaded: LoadedScenario, options: RunOptions, runId: string, started: number): ScenarioResult {
  return {
    schemaVersion: RESULT_SCHEMA_VERSION,
    scenario: loaded.scenario,
    file: loaded.file,
    backend: options.backend.name,
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
    phases: {},
  };
}

/** The run's recorder when it is recorded (and has somewhere to write). */
function recorderFor(result: ScenarioResult, options: RunOptions): RunRecorder | undefined {
  if (!options.resultsDir || !(options.record ?? recordsByDefault(options.backend.name))) return undefined;
  return new RunRecorder(
    {
      scenario: result.scenario,
      file: result.file,
      backend: options.backend.name,
      runId: result.runId,
      ...(result.attempt !== undefined ? { attempt: result.attempt } : {}),
      startedAt: result.startedAt,
      platform: hostPlatform(),
      warnings: result.warnings,
    },
    options.recordingLimits,
  );
}

/** The recording's end and file; a failure to write it is a warning of the run, never its error. */
async function writeRecording(ctx: RunContext, recorder: RunRecorder, dir: string): Promise<void> {
  const r = ctx.result;
  const text = recorder.finish({
    at: Date.now(),
    ...(r.error !== undefined ? { error: r.error } : {}),
    durationMs: r.durationMs,
    ...(r.phases ? { phases: r.phases } : {}),
  });
  try {
    ctx.progress(`observations recorded: ${await recorder.write(dir, text)}`);
  } catch (err) {
    ctx.progress(`the run's observations could not be written: ${errorText(err)}`);
  }
}

/** prepare → deploy → warm-up → load, under the setup limit. */
async function setUp(ctx: RunContext): Promise<RunningLoad> {
  const endSetup = ctx.arm("setup", "setup (image and deploy)");
  const phases = ctx.result.phases ?? {};
  try {
    let started = Date.now();
    const source = await prepareStep(ctx);
    phases.prepareMs = Date.now() - started;
    started = Date.now();
    const workload = await deployStep(ctx, source);
    phases.deployMs = Date.now() - started;
    await warmUpStep(ctx, workload);
    return await loadStep(ctx, workload);
  } finally {
    endSetup();
  }
}

/** disrupt → the window's end → stop the load → the late evidence → collect → judge. */
async function disruptAndJudge(ctx: RunContext, load: RunningLoad, marks: { loadStopped?: number }): Promise<void> {
  const workload = ctx.workload;
  if (!workload) throw new Error("no workload deployed");
  const phases = ctx.result.phases ?? {};
  const loadStarted = Date.now();
  let outcome: Awaited<ReturnType<typeof disruptStep>> | undefined;
  let result: LoadResult;
  const endScenario = ctx.arm("scenario", `the scenario (load and ${ctx.scenario.disruption.action})`);
  try {
    outcome = await disruptStep(ctx, workload, load);
    await windowEndStep(ctx, load, loadStarted);
  } finally {
    endScenario();
    ctx.harnessLoad = ctx.saturation?.stop();
    result = await load.run.stop();
    ctx.result.load = result;
    marks.loadStopped = Date.now();
    phases.loadWindowMs = marks.loadStopped - loadStarted;
  }
  // What comes after the window (the API's report of each exit, the last log lines), bounded.
  const final = outcome.final?.bind(outcome);
  const pods = final ? await ctx.step("late evidence", final()) : outcome.pods;
  const records = load.where === "here" ? load.run.requestRecords() : [];
  const attribution = workload.trafficAttribution();
  // The record, not a copy: the teardown's uncordon lands in it before the result is written.
  const voluntary = outcome.voluntary;
  const readyEndpoints = workload.readyEndpoints?.();
  const extra = { ...(voluntary ? { voluntary } : {}), ...(readyEndpoints ? { readyEndpoints } : {}) };
  ctx.recorder?.collected({
    at: Date.now(),
    pods,
    load: result,
    records,
    attribution,
    harnessLoad: ctx.harnessLoad,
    ...extra,
  });
  Object.assign(ctx.result, extra);
  collectStep(ctx, pods, result, records, attribution);
  judgeStep(ctx, result);
}

/**
 * A run that ended before its disruption did (Ctrl-C mid-drain, a time limit) still reports what the
 * disruption did so far: the backend's live record (the teardown's uncordon lands in it before the
 * result is written) and the ready endpoints followed until then.
 */
function keepUnfinishedDisruption(ctx: RunContext): void {
  const r = ctx.result;
  const workload = ctx.workload;
  if (!workload) return;
  const voluntary = r.voluntary ?? workload.voluntaryRecord?.();
  if (voluntary) r.voluntary = voluntary;
  const ready = r.readyEndpoints ?? workload.readyEndpoints?.();
  if (ready && ready.length > 0) r.readyEndpoints = ready;
}

export async function runScenario(loaded: LoadedScenario, options: RunOptions): Promise<ScenarioResult> {
  const runId = newRunId();
  const started = Date.now();
  const events = new EventLog();
  const result = newResult(loaded, options, runId, started);
  const recorder = recorderFor(result, options);
  const ctx = new RunContext(loaded, options, runId, events, result, recorder);
  const phases = result.phases ?? {};
  const marks: { loadStopped?: number } = {};
  let teardownFailure: string | undefined;
  let finish: () => void = () => {};
  const finished = new Promise<void>((r) => {
    finish = r;
  });
  // The teardown step, registered first: on SIGINT/SIGTERM the run stops where it is and tears down itself.
  const unregister = registerCleanup(`scenario ${ctx.tag} (run ${runId})`, async () => {
    ctx.abort(new InterruptedError(interruptedBy() ?? "SIGTERM"));
    await finished;
    if (teardownFailure) throw new Error(teardownFailure);
  });
  try {
    const l = ctx.limits;
    ctx.progress(
      `run ${runId} on ${options.backend.name}; limits: setup ${seconds(l.setup)} s, scenario ` +
        `${seconds(l.scenario)} s, teardown ${seconds(l.teardown)} s`,
    );
    if (ctx.signal.aborted) throw ctx.signal.reason;
    const load = await setUp(ctx);
    phases.setupMs = Date.now() - started;
    await disruptAndJudge(ctx, load, marks);
  } catch (err) {
    result.error = errorText(err);
    result.status = "error";
    result.pass = false;
    keepUnfinishedDisruption(ctx);
    if (result.timeline === undefined && events.events.length > 0) result.timeline = buildTimeline(events.events);
  } finally {
    if (!ctx.harnessLoad) ctx.saturation?.stop(); // the window never ran: no figures, no histogram left enabled
    const teardownStarted = Date.now();
    if (marks.loadStopped !== undefined) phases.evidenceMs = teardownStarted - marks.loadStopped;
    try {
      teardownFailure = await teardownStep(ctx);
    } finally {
      phases.teardownMs = Date.now() - teardownStarted;
      unregister();
      ctx.dispose();
      result.durationMs = Date.now() - started;
      try {
        if (options.resultsDir) await writeResult(options.resultsDir, result);
        if (recorder && options.resultsDir) await writeRecording(ctx, recorder, options.resultsDir);
      } finally {
        finish();
      }
    }
  }
  return result;
}
