// Merges everything observed during a run into one timeline, relative to the (first) delete.
import type { TimelineEvent } from "../model/events.js";
import type { Timeline } from "../model/timeline.js";

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
