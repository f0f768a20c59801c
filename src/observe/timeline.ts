// Merges everything observed during a run into one timeline, relative to the (first) delete.
import type { LoadResult } from "../load/types.js";
import type { TimelineEvent } from "./events.js";

export interface TimelineEntry extends TimelineEvent {
  /** Milliseconds relative to the origin (the first delete); negative = before it. */
  t: number;
}

export interface Timeline {
  /** Epoch ms of the first delete (or of the first event when nothing was deleted). */
  origin: number;
  entries: TimelineEntry[];
}

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

export function buildTimeline(events: TimelineEvent[]): Timeline {
  const deletes = events.filter((e) => e.kind === "delete-requested").map((e) => e.at);
  const sorted = [...events].sort((a, b) => a.at - b.at);
  const origin = deletes.length > 0 ? Math.min(...deletes) : (sorted[0]?.at ?? 0);
  return { origin, entries: sorted.map((e) => ({ ...e, t: e.at - origin })) };
}

/** "+1.234 s" style offsets for reports. */
export function formatOffset(ms: number): string {
  const sign = ms < 0 ? "-" : "+";
  return `${sign}${(Math.abs(ms) / 1000).toFixed(3)} s`;
}
