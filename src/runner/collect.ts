// The collect step: what the run observed (events, the load's records, the backend's attribution, the
// disrupted pods' outcomes), turned into the evidence the verdicts read: per-process reports, the
// exercise of each disrupted pod, the timeline.
import type { LoadResult } from "../load/types.js";
import type { TimelineEvent } from "../model/events.js";
import type { RequestRecord, TrafficAttribution } from "../model/exercise.js";
import type { PodOutcome } from "../model/pod-outcome.js";
import type { Timeline } from "../model/timeline.js";
import { processReports } from "../observe/app-log.js";
import { attributeRequests, exerciseEvidence } from "../observe/exercise.js";
import { buildTimeline } from "../observe/timeline.js";
import type { Scenario } from "../scenario/schema.js";
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
    pod.exercise = exerciseEvidence({
      pod: pod.pod,
      deleteAt: pod.deleteAt,
      sigtermAt: sigtermAt(ctx.events, pod, ctx.scenario),
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
  /** The backend's outcomes of the disrupted pods (completed here). */
  pods: PodOutcome[];
  load: LoadResult;
  records: readonly RequestRecord[];
  attribution: TrafficAttribution | undefined;
}

/** collect, pure: the disrupted pods' final outcomes with their processes and exercise, and the timeline. */
export function collectEvidence(ctx: CollectInput): { pods: PodOutcome[]; timeline: Timeline } {
  const { pods, load, records, attribution } = ctx;
  for (const pod of pods) pod.processes = processReports(ctx.events, pod.pod);
  const routed = exercise(ctx, pods, load, records, attribution);
  const timeline = buildTimeline([
    ...ctx.events,
    ...routed,
    ...loadEvents(
      load,
      pods.map((p) => p.pod),
    ),
  ]);
  return { pods, timeline };
}

/** collect: collectEvidence() on what the run observed, into its result. */
export function collectStep(
  ctx: RunContext,
  pods: PodOutcome[],
  load: LoadResult,
  records: readonly RequestRecord[],
  attribution: TrafficAttribution | undefined,
): void {
  const collected = collectEvidence({
    scenario: ctx.scenario,
    events: ctx.events.events,
    pods,
    load,
    records,
    attribution,
  });
  ctx.result.pods = collected.pods;
  ctx.result.timeline = collected.timeline;
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
