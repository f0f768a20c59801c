// Runs one scenario end to end on a backend:
//   image → deploy → load → disrupt (at T) → wait until the disrupted pods are gone → stop load
//   → timeline → verdicts → result file; teardown always (success, failure, Ctrl-C).
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Backend, Deployment, PodOutcome, ResolvedImage } from "../backends/backend.js";
import { imageForScenario } from "../images/build.js";
import { startLoad } from "../load/generator.js";
import type { LoadResult } from "../load/types.js";
import { processReports } from "../observe/app-log.js";
import { EventLog } from "../observe/events.js";
import { buildTimeline, loadEvents, type Timeline } from "../observe/timeline.js";
import type { LoadedScenario } from "../scenario/load.js";
import type { Scenario } from "../scenario/schema.js";
import { registerCleanup } from "../util/cleanup.js";
import { newRunId } from "../util/labels.js";
import { evaluate, type Verdict } from "../verdict/verdicts.js";

export const RESULT_SCHEMA_VERSION = 1;

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
  /** Set when the run could not complete (setup failure, timeout, interruption). */
  error?: string;
  load?: LoadResult;
  pods: PodOutcome[];
  timeline?: Timeline;
  verdicts: Verdict[];
  pass: boolean;
}

export interface RunOptions {
  backend: Backend;
  /** Multiplies every time limit (setup, scenario, teardown). */
  timeoutScale?: number;
  /** 1-based index of this run when a scenario is repeated; names the result file. */
  attempt?: number;
  resultsDir?: string;
  onProgress?: (line: string) => void;
}

/** Margin kept after the last disrupted pod is gone, so late damage still falls in the window. */
const WINDOW_MARGIN_MS = 1000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

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
 * Named time limits, scaled by the scenario's own waits: setup (image + deploy until every
 * replica is ready), scenario (load window: the disruption and the wait for the disrupted pods),
 * teardown. `scale` stretches all three (--timeout-scale). Pure.
 */
export function timeLimits(s: Scenario, scale = 1): Record<LimitName, number> {
  const preStop = s.preStop.type === "sleep" ? s.preStop.seconds * 1000 : 0;
  return {
    setup: Math.round((120_000 + 15_000 * s.replicas) * scale),
    scenario: Math.round(
      (s.disruption.atSeconds * 1000 +
        Math.max(s.load.durationSeconds * 1000, disruptionBudgetMs(s) + preStop) +
        10_000) *
        scale,
    ),
    teardown: Math.round((30_000 + 5_000 * s.replicas) * scale),
  };
}

export class LimitExceeded extends Error {
  constructor(
    readonly limit: LimitName,
    readonly ms: number,
    what: string,
  ) {
    super(`${what} timed out after ${(ms / 1000).toFixed(0)} s (limit: ${limit}; raise it with --timeout-scale)`);
    this.name = "LimitExceeded";
  }
}

function withLimit<T>(p: Promise<T>, limit: LimitName, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new LimitExceeded(limit, ms, what)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export async function runScenario(loaded: LoadedScenario, options: RunOptions): Promise<ScenarioResult> {
  const { scenario } = loaded;
  const { backend } = options;
  const progress = (line: string) => options.onProgress?.(`[${scenario.name}] ${line}`);
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
    pass: false,
  };
  let deployment: Deployment | undefined;
  const limits = timeLimits(scenario, options.timeoutScale);
  const teardown = async () => {
    progress("teardown");
    await withLimit(backend.teardown(deployment, runId), "teardown", limits.teardown, "teardown");
  };
  const unregister = registerCleanup(`scenario ${scenario.name} (run ${runId})`, teardown);
  try {
    const setup = async () => {
      result.image = await imageForScenario(scenario.image, { onProgress: progress });
      await backend.prepare([result.image]);
      progress(`deploying ${scenario.replicas} replica(s) of ${result.image.ref} on ${backend.name}`);
      return backend.deploy(scenario, result.image, events, runId);
    };
    // The deploy keeps running if the limit fires; teardown (by run label) still finds what it made.
    deployment = await withLimit(setup(), "setup", limits.setup, "setup (image and deploy)");
    result.platform = deployment.platform;
    result.trafficPath = deployment.trafficPath;

    progress(`load: ${scenario.load.connections} connection(s) → ${deployment.target.host}:${deployment.target.port}`);
    const hooks = {
      // The load generator's own hard stop: never before the scenario could legitimately end.
      safetyCapSeconds:
        scenario.disruption.atSeconds + scenario.load.durationSeconds + disruptionBudgetMs(scenario) / 1000 + 60,
    };
    const load = backend.startLoad
      ? await backend.startLoad(deployment, scenario.load, hooks)
      : startLoad(deployment.target, scenario.load, hooks);
    const loadStarted = Date.now();
    let disrupted: PodOutcome[] = [];
    const active = deployment;
    const window = async () => {
      await sleep(scenario.disruption.atSeconds * 1000);
      progress(`disruption: ${scenario.disruption.action} at +${scenario.disruption.atSeconds}s`);
      const outcome = await backend.disrupt(active, scenario.disruption);
      disrupted = outcome.pods;
      progress(`disrupted pod(s) gone: ${disrupted.map((p) => p.pod).join(", ")}`);
      await sleep(Math.max(WINDOW_MARGIN_MS, loadStarted + scenario.load.durationSeconds * 1000 - Date.now()));
    };
    try {
      await withLimit(window(), "scenario", limits.scenario, `the scenario (load and ${scenario.disruption.action})`);
    } finally {
      result.load = await load.stop();
    }
    for (const pod of disrupted) pod.processes = processReports(events.events, pod.pod);
    result.pods = disrupted;
    result.timeline = buildTimeline([
      ...events.events,
      ...loadEvents(
        result.load,
        disrupted.map((p) => p.pod),
      ),
    ]);
    result.verdicts = evaluate({ expectations: scenario.expectations, load: result.load, pods: disrupted });
    result.pass = result.verdicts.every((v) => v.pass);
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
    result.pass = false;
    if (result.timeline === undefined && events.events.length > 0) result.timeline = buildTimeline(events.events);
  } finally {
    try {
      await teardown();
    } finally {
      unregister();
    }
    result.durationMs = Date.now() - started;
    if (options.resultsDir) await writeResult(options.resultsDir, result);
  }
  return result;
}

export async function writeResult(dir: string, result: ScenarioResult): Promise<string> {
  await mkdir(dir, { recursive: true });
  const attempt = result.attempt !== undefined ? `.${result.attempt}` : "";
  const file = join(dir, `${result.scenario.name}.${result.backend}${attempt}.json`);
  await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}
