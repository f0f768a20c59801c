// The collect step: what the run observed (events, the load's records, the backend's attribution, the
// disrupted pods' outcomes), turned into the evidence the verdicts read, the same for every backend:
// per-process reports, the exercise of each disrupted pod (SIGTERM's time: observe/sigterm.ts), the timeline.
import type { LoadResult } from "../load/types.js";
import type { VoluntaryDisruptionRecord } from "../model/disruption.js";
import type { TimelineEvent } from "../model/events.js";
import type { RequestRecord, TrafficAttribution } from "../model/exercise.js";
import type { ObservedPodOutcome, PodOutcome } from "../model/pod-outcome.js";
import type { Timeline } from "../model/timeline.js";
import { processReports } from "../observe/app-log.js";
import { withContainerEvidence } from "../observe/containers.js";
import { attributeRequests, exerciseEvidence } from "../observe/exercise.js";
import { sigtermReceipt } from "../observe/sigterm.js";
import { buildTimeline } from "../observe/timeline.js";
import type { Scenario } from "../scenario/schema.js";
import { attributeFailures } from "../verdict/container-attribution.js";
import type { RunContext } from "./context.js";

/** Failed requests beyond this many are summarised, not listed one by one. */
export const MAX_LISTED_FAILURES = 200;

/** Events derived from the load: each failure, and the last request each disrupted pod served. */
export function loadEvents(load: LoadResult | undefined, disruptedPods: string[]): TimelineEvent[] {
  if (!load) return [];
  const events: TimelineEvent[] = load.failures.slice(0, MAX_LISTED_FAILURES).map((f) => ({
    at: f.at,
    kind: "request-failed",
    source: "load",
    pod: f.pod,
    detail: { kind: f.kind, code: f.code, sentAt: f.sentAt, path: f.path },
  }));
  for (const served of load.servedBy) {
    // x-served-by is "<pod>/<role>"
    const pod = served.pod.split("/")[0] ?? served.pod;
    if (disruptedPods.includes(pod)) {
      events.push({
        at: served.last,
        kind: "last-request-served",
        source: "load",
        pod,
        detail: { count: served.count, by: served.pod },
      });
    }
  }
  return events;
}

/** Every eviction the API answered (accepted, refused, error) and the drain's cordon, as timeline events. */
export function voluntaryEvents(v: VoluntaryDisruptionRecord | undefined): TimelineEvent[] {
  if (!v) return [];
  const events: TimelineEvent[] = v.evictions.map((e) => ({
    at: e.at,
    kind: "eviction",
    source: "api",
    pod: e.pod,
    detail: {
      result: e.result,
      status: e.status,
      attempt: e.attempt,
      message: e.message,
      ...(e.node ? { node: e.node } : {}),
    },
  }));
  const d = v.drain;
  if (d) {
    events.push({
      at: d.cordonedAt,
      kind: "node-cordoned",
      source: "api",
      detail: { node: d.node, chosenBecause: d.chosenBecause, pods: d.pods },
    });
  }
  return events;
}

/** The exercise of each disrupted pod, and the last new connection routed to it as a timeline event. */
function exercise(
  ctx: Pick<CollectInput, "events" | "scenario">,
  pods: PodOutcome[],
  load: LoadResult,
  records: readonly RequestRecord[],
  attribution: TrafficAttribution | undefined,
): TimelineEvent[] {
  const requests = attributeRequests(records, attribution);
  const routed: TimelineEvent[] = [];
  for (const pod of pods) {
    // A multi-container pod: the receipt of the container the load reaches (observe/containers.ts).
    const sigterm = pod.sigterm ?? sigtermReceipt(ctx.events, pod, ctx.scenario.preStop);
    pod.exercise = exerciseEvidence({
      pod: pod.pod,
      deleteAt: pod.deleteAt,
      ...(sigterm ? { sigtermAt: sigterm.at, sigtermFrom: sigterm.from, sigtermInferred: sigterm.inferred } : {}),
      attribution,
      requests,
      ...(pod.socketsAtDelete ? { socketTableAtDelete: pod.socketsAtDelete.established } : {}),
      servedBy: load.servedBy,
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
  return routed;
}

/** What the collect step reads: the same for a run and for its replay (replay.ts). */
export interface CollectInput {
  scenario: Scenario;
  /** Every event the run recorded, in arrival order. */
  events: readonly TimelineEvent[];
  /** The backend's outcomes of the disrupted pods, as observed (completed here). */
  pods: readonly ObservedPodOutcome[];
  load: LoadResult;
  records: readonly RequestRecord[];
  attribution: TrafficAttribution | undefined;
  /** evict/drain: the evictions and the cordon go on the timeline. */
  voluntary?: VoluntaryDisruptionRecord;
}

/**
 * The disrupted pods' outcomes as the backend observed them, with the evidence derived alike for every
 * backend from the run's events: the per-process reports (computed here, and only here), and for a
 * multi-container pod each container's own reports and stop-signal receipt (observe/containers.ts).
 */
export function withProcessReports(
  events: readonly TimelineEvent[],
  observed: readonly ObservedPodOutcome[],
): PodOutcome[] {
  return observed.map((o) => withContainerEvidence(events, { ...o, processes: processReports(events, o.pod) }));
}

/** collect, pure: the disrupted pods' final outcomes with their processes and exercise, and the timeline. */
export function collectEvidence(ctx: CollectInput): { pods: PodOutcome[]; timeline: Timeline } {
  const { load, records, attribution } = ctx;
  const pods = withProcessReports(ctx.events, ctx.pods);
  const routed = exercise(ctx, pods, load, records, attribution);
  // Which container caused each failure (multi-container pods only).
  for (const [name, windows] of attributeFailures(pods, load.failures)) {
    const pod = pods.find((p) => p.pod === name);
    if (pod) pod.failureCauses = windows;
  }
  const timeline = buildTimeline([
    ...ctx.events,
    ...routed,
    ...loadEvents(
      load,
      pods.map((p) => p.pod),
    ),
    ...voluntaryEvents(ctx.voluntary),
  ]);
  return { pods, timeline };
}

/** collect: collectEvidence() on what the run observed, into its result. */
export function collectStep(
  ctx: RunContext,
  observed: readonly ObservedPodOutcome[],
  load: LoadResult,
  records: readonly RequestRecord[],
  attribution: TrafficAttribution | undefined,
): void {
  const collected = collectEvidence({
    scenario: ctx.scenario,
    events: ctx.events.events,
    pods: observed,
    load,
    records,
    attribution,
    ...(ctx.result.voluntary ? { voluntary: ctx.result.voluntary } : {}),
  });
  ctx.result.pods = collected.pods;
  ctx.result.timeline = collected.timeline;
}
