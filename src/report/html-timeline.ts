// The data behind a scenario's timeline picture: pure functions from a ScenarioResult to bars
// (requests per 100 ms, failures by kind) and markers (delete, endpoint removed, preStop,
// SIGTERM received, exit, SIGKILL, the last new connection routed to a disrupted pod), all in
// milliseconds relative to the delete.
import { BUCKET_MS, bucketStart } from "../load/accounting.js";
import { FAILURE_KINDS, type FailedRequest, type FailureKind, type LoadResult } from "../load/types.js";
import type { TimelineEntry } from "../model/timeline.js";
import type { ScenarioResult } from "../runner/run.js";

export type MarkerKind =
  | "delete"
  | "endpoint-removed"
  | "prestop-start"
  | "prestop-end"
  | "prestop-failed"
  | "sigterm-sent"
  | "sigterm"
  | "exit"
  | "sigkill"
  | "last-connection"
  | "eviction"
  | "eviction-refused"
  | "cordon";

export const MARKER_KINDS: readonly MarkerKind[] = [
  "delete",
  "endpoint-removed",
  "prestop-start",
  "prestop-end",
  "prestop-failed",
  "sigterm-sent",
  "sigterm",
  "exit",
  "sigkill",
  "last-connection",
  "eviction",
  "eviction-refused",
  "cordon",
];

export interface Marker {
  kind: MarkerKind;
  /** Milliseconds relative to the timeline origin (the first delete). */
  t: number;
  label: string;
  /**
   * The timeline event it comes from (exit markers come from app-exit or container-exit);
   * "exercise" for the last new connection, from the pod's exercise evidence.
   */
  event: TimelineEntry["kind"] | "exercise";
  pod?: string;
  /** Process role, for SIGTERM received and app exits. */
  process?: string;
}

export interface SuccessBar {
  /** Bucket start relative to the origin. */
  t: number;
  count: number;
}

export interface FailureBar {
  /** Bucket start relative to the origin. */
  t: number;
  byKind: Partial<Record<FailureKind, number>>;
  total: number;
}

export interface TimelineData {
  origin: number;
  bucketMs: number;
  /** [from, to] in ms relative to the origin: everything the picture must show. */
  domain: [number, number];
  successes: SuccessBar[];
  failures: FailureBar[];
  markers: Marker[];
  /** False when the run ended before the load generator reported (bars are then empty, not zero). */
  loadMeasured: boolean;
  /** The Service's ready endpoints (a step function, t relative to the origin), when followed. */
  readyEndpoints?: Array<{ t: number; ready: number }>;
}

/** Failed requests per bucket (same grid as LoadResult.successBuckets: epoch ms floored to the bucket). */
export function bucketFailures(
  failures: ReadonlyArray<Pick<FailedRequest, "at" | "kind">>,
  bucketMs = BUCKET_MS,
): Array<{ at: number; byKind: Partial<Record<FailureKind, number>>; total: number }> {
  const buckets = new Map<number, { at: number; byKind: Partial<Record<FailureKind, number>>; total: number }>();
  for (const f of failures) {
    const at = bucketStart(f.at, bucketMs);
    let b = buckets.get(at);
    if (!b) {
      b = { at, byKind: {}, total: 0 };
      buckets.set(at, b);
    }
    b.byKind[f.kind] = (b.byKind[f.kind] ?? 0) + 1;
    b.total++;
  }
  return [...buckets.values()].sort((a, b) => a.at - b.at);
}

/** Failure kinds in their fixed order, with their counts (from failedByKind), zeros left out. */
export function failureKindCounts(load: Pick<LoadResult, "failedByKind">): Array<{ kind: FailureKind; count: number }> {
  return FAILURE_KINDS.map((kind) => ({ kind, count: load.failedByKind[kind] ?? 0 })).filter((k) => k.count > 0);
}

/** The last "-" separated part of a pod name ("ge-x-d629ad-1" → "1"), to tell pods apart in labels. */
export function shortPod(pod: string): string {
  const parts = pod.split("-");
  return parts[parts.length - 1] || pod;
}

function str(v: unknown): string | undefined {
  return typeof v === "string" || typeof v === "number" ? String(v) : undefined;
}

/**
 * Markers from timeline entries: delete, endpoint removed, preStop start/end/failed, SIGTERM sent
 * (by the kubelet, to PID 1) and SIGTERM received by each process (the app's own log line: kind
 * "sigterm"), exits (app-exit per process, container-exit) and SIGKILL. Labels name the pod only when markers come from several.
 */
export function extractMarkers(entries: readonly TimelineEntry[]): Marker[] {
  const markers: Marker[] = [];
  for (const e of entries) {
    const base = { t: e.t, event: e.kind, pod: e.pod, process: e.process };
    switch (e.kind) {
      case "delete-requested":
        markers.push({ ...base, kind: "delete", label: "delete" });
        break;
      case "endpoint-removed":
        markers.push({ ...base, kind: "endpoint-removed", label: "endpoint removed" });
        break;
      case "prestop-start":
        markers.push({ ...base, kind: "prestop-start", label: "preStop start" });
        break;
      case "prestop-end":
        markers.push({ ...base, kind: "prestop-end", label: "preStop end" });
        break;
      case "prestop-failed":
        markers.push({ ...base, kind: "prestop-failed", label: "preStop failed" });
        break;
      case "sigterm-sent":
        // The stop signal the kubelet sent: SIGTERM unless the image's STOPSIGNAL (or the scenario) says otherwise.
        markers.push({
          ...base,
          kind: "sigterm-sent",
          label: `${typeof e.detail?.signal === "string" ? e.detail.signal : "SIGTERM"} sent`,
        });
        break;
      case "app-signal":
        if (e.detail?.signal === "SIGTERM") {
          markers.push({ ...base, kind: "sigterm", label: `SIGTERM ${e.process ?? "?"}` });
        }
        break;
      case "app-exit": {
        const code = str(e.detail?.code);
        markers.push({ ...base, kind: "exit", label: `exit ${e.process ?? "?"}${code ? ` (${code})` : ""}` });
        break;
      }
      case "container-exit": {
        const code = str(e.detail?.exitCode);
        markers.push({ ...base, kind: "exit", label: `container exit${code ? ` (${code})` : ""}` });
        break;
      }
      case "sigkill-sent":
        markers.push({ ...base, kind: "sigkill", label: "SIGKILL" });
        break;
      case "eviction":
        if (e.detail?.result === "accepted") markers.push({ ...base, kind: "eviction", label: "evicted" });
        else markers.push({ ...base, kind: "eviction-refused", label: `eviction ${str(e.detail?.status) ?? "?"}` });
        break;
      case "node-cordoned":
        markers.push({ ...base, kind: "cordon", label: `cordon ${str(e.detail?.node) ?? "?"}` });
        break;
      default:
        break;
    }
  }
  const pods = new Set(markers.map((m) => m.pod).filter((p) => p !== undefined));
  if (pods.size > 1) {
    for (const m of markers) if (m.pod) m.label = `${m.label} @${shortPod(m.pod)}`;
  }
  return markers.sort((a, b) => a.t - b.t);
}

/**
 * Per disrupted pod with exercise evidence: the last new connection routed to it (delete +
 * lastNewConnectionMs), relative to `origin`. Labels name the pod when there are several.
 */
export function lastConnectionMarkers(pods: ScenarioResult["pods"], origin: number): Marker[] {
  const withFigure = pods.filter((p) => p.exercise?.lastNewConnectionMs !== undefined);
  return withFigure.map((p) => {
    const ms = p.exercise?.lastNewConnectionMs ?? 0;
    return {
      kind: "last-connection",
      t: p.deleteAt + ms - origin,
      label: `last new connection${withFigure.length > 1 ? ` @${shortPod(p.pod)}` : ""}`,
      event: "exercise",
      pod: p.pod,
    };
  });
}

/** Where t = 0 is: the timeline's origin, else the first delete, else the load's start. */
export function originOf(result: Pick<ScenarioResult, "timeline" | "pods" | "load">): number | undefined {
  return result.timeline?.origin ?? result.pods[0]?.deleteAt ?? result.load?.startedAt;
}

/** Everything the picture of one scenario shows; undefined when nothing was measured. */
export function timelineData(
  result: Pick<ScenarioResult, "timeline" | "pods" | "load" | "readyEndpoints">,
): TimelineData | undefined {
  const origin = originOf(result);
  if (origin === undefined) return undefined;
  const load = result.load;
  const successes = (load?.successBuckets ?? []).map((b) => ({ t: b.at - origin, count: b.count }));
  const failures = bucketFailures(load?.failures ?? []).map((b) => ({
    t: b.at - origin,
    byKind: b.byKind,
    total: b.total,
  }));
  const markers = [
    ...extractMarkers(result.timeline?.entries ?? []),
    ...lastConnectionMarkers(result.pods, origin),
  ].sort((a, b) => a.t - b.t);
  const points: number[] = [
    ...successes.flatMap((b) => [b.t, b.t + BUCKET_MS]),
    ...failures.flatMap((b) => [b.t, b.t + BUCKET_MS]),
    ...markers.map((m) => m.t),
  ];
  if (load) points.push(load.startedAt - origin, load.endedAt - origin);
  if (points.length === 0) return undefined;
  let from = Math.min(0, ...points);
  let to = Math.max(0, ...points);
  if (to - from < 1000) {
    from -= 500;
    to += 500;
  }
  return {
    origin,
    bucketMs: BUCKET_MS,
    domain: [from, to],
    successes,
    failures,
    markers,
    loadMeasured: load !== undefined,
    ...(result.readyEndpoints && result.readyEndpoints.length > 0
      ? { readyEndpoints: result.readyEndpoints.map((s) => ({ t: s.at - origin, ready: s.ready })) }
      : {}),
  };
}

export interface LabelBox {
  /** Left edge the label wants (the marker's x), px. */
  x: number;
  width: number;
}

/**
 * Puts marker labels on rows so none overlap: each label starts at its marker (moved left when it
 * would pass `right`), on the first row whose last label ends `gap` px before it. Returns each
 * label's row and x, in input order.
 */
export function layoutLabels(boxes: readonly LabelBox[], right: number, gap = 6): Array<{ row: number; x: number }> {
  const order = boxes.map((b, i) => ({ ...b, i })).sort((a, b) => a.x - b.x);
  const rowEnds: number[] = [];
  const placed: Array<{ row: number; x: number }> = new Array(boxes.length);
  for (const b of order) {
    const x = Math.max(0, Math.min(b.x, right - b.width));
    let row = rowEnds.findIndex((end) => end + gap <= x);
    if (row === -1) {
      row = rowEnds.length;
      rowEnds.push(x + b.width);
    } else {
      rowEnds[row] = x + b.width;
    }
    placed[b.i] = { row, x };
  }
  return placed;
}
