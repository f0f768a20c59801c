// A drain the run's end cut short (Ctrl-C, a time limit, an error): its record still says what happened —
// the cordon, every pod's last eviction answer so far, and (teardown's) the uncordon. One rule for kind,
// existing and the local runtime: the teardown marks the record, and a drain that ends later leaves it as is.
import type { DrainRecord, EvictionAttempt } from "../model/disruption.js";

const sec = (ms: number) => `${(Math.max(0, ms) / 1000).toFixed(1)} s`;

/** True when the drain has not ended on its own yet (no end, no timeout, no interruption recorded). */
export function drainUnfinished(drain: DrainRecord): boolean {
  return drain.finishedAt === undefined && drain.timeoutReason === undefined && drain.interrupted !== true;
}

/** Each pod of the drain by its last eviction answer so far, in words ("evicted a; refused (429) b ×3"). */
export function evictionProgress(pods: readonly string[], evictions: readonly EvictionAttempt[]): string {
  const groups = new Map<string, string[]>();
  for (const pod of pods) {
    const mine = evictions.filter((e) => e.pod === pod);
    const last = mine[mine.length - 1];
    const key = !last
      ? "not yet asked"
      : last.result === "accepted"
        ? "evicted"
        : last.result === "refused"
          ? "refused (429)"
          : `error ${last.status}`;
    const times = last && last.result !== "accepted" && mine.length > 1 ? ` ×${mine.length}` : "";
    groups.set(key, [...(groups.get(key) ?? []), `${pod}${times}`]);
  }
  return [...groups].map(([k, list]) => `${k} ${list.join(", ")}`).join("; ") || "no pod to evict";
}

/**
 * Marks a drain still under way as interrupted at `at`, its reason saying how far it got. A drain that had
 * ended (finished or timed out) is left as it is. Returns whether it marked.
 */
export function markDrainInterrupted(drain: DrainRecord, evictions: readonly EvictionAttempt[], at: number): boolean {
  if (!drainUnfinished(drain)) return false;
  drain.interrupted = true;
  drain.timedOut = false;
  drain.timeoutReason =
    `the run ended ${sec(at - drain.cordonedAt)} after the cordon, before the drain did: ` +
    evictionProgress(drain.pods, evictions);
  return true;
}
