// One run's shared state and controls: the abort controller every step waits on (a signal, the caller's
// signal or a time limit ends it), the time limits, and the backend steps still in flight when it ends.
import type { Backend, RunningWorkload } from "../backends/backend.js";
import type { EventSink } from "../model/events.js";
import type { EventLog } from "../observe/events.js";
import type { HarnessLoad, SaturationProbe } from "../observe/saturation.js";
import type { LoadedScenario } from "../scenario/load.js";
import type { Scenario } from "../scenario/schema.js";
import { interruptSignal } from "../util/cleanup.js";
import { LimitExceeded, type LimitName, raceAbort, timeLimits } from "./limits.js";
import type { EventOrigin, RunRecorder } from "./recording.js";
import type { RunOptions, ScenarioResult } from "./run.js";

/**
 * After an early end, how long teardown waits for a step still in flight (a deploy creating
 * containers) before its second sweep by run label. Creating a container takes well under a
 * second; a step that is merely waiting (for readiness, for a grace period) creates nothing more.
 */
export const IN_FLIGHT_SETTLE_MS = 3000;

export class RunContext {
  /** The scenario as written; once deployed, with the deployed pod's figures (deployed()). */
  scenario: Scenario;
  readonly backend: Backend;
  readonly limits: Record<LimitName, number>;
  readonly ctl = new AbortController();
  /** Backend steps that may outlive an early end; teardown waits (bounded) for them, then sweeps again. */
  readonly inFlight = new Map<Promise<unknown>, string>();
  workload?: RunningWorkload;
  /** The saturation probe over the load window (started with the load), and its figures once stopped. */
  saturation?: SaturationProbe;
  harnessLoad?: HarnessLoad;
  /** The run's recording (recording.ts), when it is recorded. */
  readonly recorder?: RunRecorder;
  private readonly sinks: Record<EventOrigin, EventSink>;
  private readonly unlisten: Array<() => void>;

  constructor(
    readonly loaded: LoadedScenario,
    readonly options: RunOptions,
    readonly runId: string,
    readonly events: EventLog,
    readonly result: ScenarioResult,
    recorder?: RunRecorder,
  ) {
    this.scenario = loaded.scenario;
    this.backend = options.backend;
    if (recorder) this.recorder = recorder;
    this.sinks = {
      backend: recorder ? recorder.sinkFor("backend", events) : events,
      harness: recorder ? recorder.sinkFor("harness", events) : events,
    };
    this.limits = { ...timeLimits(this.scenario, options.timeoutScale, this.backend.name), ...options.limits };
    const outside = [interruptSignal(), options.signal].filter((s): s is AbortSignal => s !== undefined);
    this.unlisten = outside.map((s) => {
      const fn = () => this.abort(s.reason);
      if (s.aborted) fn();
      else s.addEventListener("abort", fn, { once: true });
      return () => s.removeEventListener("abort", fn);
    });
  }

  /**
   * The scenario as the pods were deployed (source.ts asDeployed): every later step, the result and the
   * scenario's time limit (armed after the deploy) use its figures.
   */
  deployed(scenario: Scenario): void {
    this.scenario = scenario;
    this.result.scenario = scenario;
    const limits = timeLimits(scenario, this.options.timeoutScale, this.backend.name);
    this.limits.scenario = this.options.limits?.scenario ?? limits.scenario;
  }

  /** Where the backend (or the runner itself) records events: the run's log, and its recording when recorded. */
  sink(from: EventOrigin): EventSink {
    return this.sinks[from];
  }

  get signal(): AbortSignal {
    return this.ctl.signal;
  }

  get tag(): string {
    return this.options.attempt !== undefined ? `${this.scenario.name} #${this.options.attempt}` : this.scenario.name;
  }

  progress(line: string): void {
    this.options.onProgress?.(`[${this.tag}] ${line}`);
  }

  abort(reason: unknown): void {
    if (!this.ctl.signal.aborted) this.ctl.abort(reason);
  }

  /** Starts a limit's timer; the returned function stops it. */
  arm(limit: LimitName, what: string): () => void {
    const timer = setTimeout(() => this.abort(new LimitExceeded(limit, this.limits[limit], what)), this.limits[limit]);
    return () => clearTimeout(timer);
  }

  /** Waits for a backend step (or until the run ends early); the step is tracked until it settles. */
  step<T>(what: string, p: Promise<T>): Promise<T> {
    const settled = p.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight.set(settled, what);
    void settled.then(() => this.inFlight.delete(settled));
    return raceAbort(p, this.ctl.signal);
  }

  /** Removes the listeners on the outside signals. */
  dispose(): void {
    for (const remove of this.unlisten) remove();
  }
}

// Image builds and backend preparation (kind load, registry push) run one at a time across
// parallel runs: two runs of the same style must not build the same tag at once.
let setupChain: Promise<void> = Promise.resolve();
export async function oneAtATime<T>(fn: () => Promise<T>, signal: AbortSignal): Promise<T> {
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
