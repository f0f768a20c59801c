// The Kubernetes driver's raw observations, as a run records them: every input the driver gives the
// TimelineBuilder (watch entries, log lines, runtime events, the harness's delete calls, PID 1 and the
// process tree, the settle), the harness's own events, and what it attaches to the disrupted pods'
// outcomes (readings before any signal, notes). replayObservations() feeds them, in their order, to a
// FRESH builder: the evidence is rebuilt by today's code, so a fix in the builder changes a replayed
// outcome. Pure (no I/O).
import type { TimelineEvent } from "../model/events.js";
import type { ObservedPodOutcome, PodOutcome } from "../model/pod-outcome.js";
import type { ProcessTreeInspection } from "../model/process-tree.js";
import type { Scenario } from "../scenario/schema.js";
import type { Pid1Request } from "./driver.js";
import { type ProcessEntry, type RecordedEntry, TimelineBuilder, type TimelineOptions } from "./timeline-from-watch.js";

/** The `source` of the driver's observations in a run's EventSink (model/events.ts RawObservation). */
export const K8S_OBSERVATION_SOURCE = "k8s";

/** What was read of one pod's processes before any signal. */
export interface PodReading {
  inspection?: ProcessTreeInspection;
  /** For the pod's outcome (e.g. PID 1 read from the configured command only). */
  notes: string[];
  /** Where the pod's container is (to read its socket table at the delete). */
  req?: Pid1Request;
  /** Its socket table just before the delete. */
  socketsAtDelete?: PodOutcome["socketsAtDelete"];
  /** The pod's other containers (multi-container pods): what was read of each before any signal, by name. */
  containers?: Record<string, { inspection?: ProcessTreeInspection }>;
}

/** One input of the driver's evidence, in the order it happened. */
export type DriverObservation =
  | { op: "options"; options: TimelineOptions }
  | { op: "entry"; entry: RecordedEntry }
  | { op: "delete-called"; pod: string; at: number; gracePeriodSeconds?: number }
  /** PID 1 of the pod's app container, or of the named container (multi-container pods). */
  | { op: "pid1"; pod: string; cmdline: string; container?: string }
  | { op: "process-tree"; pod: string; tree: ProcessEntry[] }
  | { op: "settle" }
  /** An event the harness records itself (rollout restart, scale down). */
  | { op: "harness-event"; event: TimelineEvent }
  /** The disrupted pods' outcomes were taken: which pods, with what read before and noted during the disruption. */
  | {
      op: "outcomes";
      pods: string[];
      readings: Record<string, PodReading>;
      notes: string[];
      stopSignal?: Scenario["stopSignal"];
    };

const OPS = new Set<DriverObservation["op"]>([
  "options",
  "entry",
  "delete-called",
  "pid1",
  "process-tree",
  "settle",
  "harness-event",
  "outcomes",
]);

/** True when `data` has the shape of a driver observation (checked on replay: a recording is input). */
export function isDriverObservation(data: unknown): data is DriverObservation {
  const op = (data as { op?: unknown } | null)?.op;
  return typeof op === "string" && OPS.has(op as DriverObservation["op"]);
}

/** A TimelineBuilder that reports every input it is given (the driver's: recorded when the run is). */
export class ObservedTimelineBuilder extends TimelineBuilder {
  constructor(
    options: TimelineOptions,
    private readonly seen: (o: DriverObservation) => void,
  ) {
    super(options);
    seen({ op: "options", options });
  }
  override push(entry: RecordedEntry): TimelineEvent[] {
    this.seen({ op: "entry", entry });
    return super.push(entry);
  }
  override deleteCalled(pod: string, at: number, gracePeriodSeconds?: number): TimelineEvent[] {
    this.seen({ op: "delete-called", pod, at, ...(gracePeriodSeconds !== undefined ? { gracePeriodSeconds } : {}) });
    return super.deleteCalled(pod, at, gracePeriodSeconds);
  }
  override setPid1(pod: string, cmdline: string, container?: string): void {
    this.seen({ op: "pid1", pod, cmdline, ...(container !== undefined ? { container } : {}) });
    super.setPid1(pod, cmdline, container);
  }
  override setProcessTree(pod: string, tree: ProcessEntry[]): void {
    this.seen({ op: "process-tree", pod, tree });
    super.setProcessTree(pod, tree);
  }
  override settle(): TimelineEvent[] {
    this.seen({ op: "settle" });
    return super.settle();
  }
}

/** Puts what readPodBeforeSignals() read on the disrupted pods' outcomes. */
export function attachReadings(
  outcomes: ObservedPodOutcome[],
  readings: ReadonlyMap<string, PodReading> | undefined,
  scenario?: Pick<Scenario, "stopSignal">,
): void {
  for (const o of outcomes) {
    // The scenario's lifecycle.stopSignal; without one the image's STOPSIGNAL applies, which the API
    // does not report: left unknown rather than guessed.
    if (scenario?.stopSignal && !o.stopSignal) o.stopSignal = { signal: scenario.stopSignal, from: "scenario" };
    const r = readings?.get(o.pod);
    if (!r) continue;
    if (r.inspection) o.inspection = r.inspection;
    for (const c of o.sidecars ?? []) {
      const inspection = c.container !== undefined ? r.containers?.[c.container]?.inspection : undefined;
      if (inspection) c.inspection = inspection;
    }
    if (r.socketsAtDelete) o.socketsAtDelete = r.socketsAtDelete;
    o.notes.push(...r.notes);
  }
}

/** The disrupted pods' outcomes as the driver makes them: the builder's, the readings, the notes. */
export function driverOutcomes(
  builder: TimelineBuilder,
  o: Extract<DriverObservation, { op: "outcomes" }>,
): ObservedPodOutcome[] {
  const outcomes = builder.outcomes(o.pods);
  attachReadings(outcomes, new Map(Object.entries(o.readings)), o.stopSignal ? { stopSignal: o.stopSignal } : {});
  if (o.notes.length > 0) for (const out of outcomes) out.notes.push(...o.notes);
  return outcomes;
}

/** The events one observation emitted when replayed (by its index). */
export interface ReplayedStep {
  index: number;
  events: TimelineEvent[];
}

/**
 * Replays the driver's observations through a fresh builder, in their order. Returns the events each
 * one emitted (by its index in `observations`, to be merged with the run's other events in order), and
 * the outcomes of the last "outcomes" observation (undefined when the run never took them).
 */
export function replayObservations(observations: readonly DriverObservation[]): {
  steps: ReplayedStep[];
  outcomes?: ObservedPodOutcome[];
} {
  let builder = new TimelineBuilder();
  const steps: ReplayedStep[] = [];
  let outcomes: ObservedPodOutcome[] | undefined;
  for (const [index, o] of observations.entries()) {
    const emitted = applyObservation(builder, o);
    if (o.op === "options") builder = new TimelineBuilder(o.options);
    if (o.op === "outcomes") outcomes = driverOutcomes(builder, o);
    if (emitted.length > 0) steps.push({ index, events: emitted });
  }
  return outcomes ? { steps, outcomes } : { steps };
}

function applyObservation(builder: TimelineBuilder, o: DriverObservation): TimelineEvent[] {
  switch (o.op) {
    case "entry":
      return builder.push(o.entry);
    case "delete-called":
      return builder.deleteCalled(o.pod, o.at, o.gracePeriodSeconds);
    case "pid1":
      builder.setPid1(o.pod, o.cmdline, o.container);
      return [];
    case "process-tree":
      builder.setProcessTree(o.pod, o.tree);
      return [];
    case "settle":
      return builder.settle();
    case "harness-event":
      return [o.event];
    case "options":
    case "outcomes":
      return [];
  }
}
