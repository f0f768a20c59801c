// The collect step: what the run observed, turned into the evidence the verdicts read.
import type { LoadResult } from "../load/types.js";
import type { TimelineEvent } from "../model/events.js";

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
