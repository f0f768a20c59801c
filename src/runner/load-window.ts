// The load window's end: the settle margin after the disrupted pods ended, and the wait for every request
// sent before it to settle.
import type { RequestRecord } from "../model/exercise.js";
import { sleepOrAbort as sleep } from "../util/sleep.js";

/**
 * The load window's settle margin: kept after the last disrupted pod ended (its containers exited, or
 * it was gone), so that late damage still falls in the window. A request in flight when SIGKILL (or any
 * exit) closed its connection fails within it: the kernel resets the pod's sockets at the exit, and the
 * reset crosses kube-proxy / docker-proxy in milliseconds. It is the only settle time: the backends'
 * disrupt() adds none.
 */
export const WINDOW_MARGIN_MS = 1000;

/** Beyond the request timeout, how long settleOutstanding() waits for a request's own end. */
export const OUTSTANDING_SLACK_MS = 500;

/**
 * Before the window closes: waits until every request sent before `cutoff` (when the settle margin
 * ended; `sentByCutoff` requests had been written by then) has settled — answered or failed — or until
 * `deadline`. Normally they have by the time it is asked (a response takes ms, /slow 300 ms). The one
 * that has not is a request that went where nothing answers any more: a new connection that kube-proxy
 * still routed to a disrupted pod whose network was already gone fails only by timing out, seconds
 * later; closing the window before that would count it "in flight" instead of failed. Without the
 * request records (a load Job in the cluster) the window closes as it is.
 */
export async function settleOutstanding(
  records: () => readonly RequestRecord[],
  cutoff: number,
  sentByCutoff: number,
  deadline: number,
  signal: AbortSignal,
  pollMs = 50,
): Promise<{ left: number }> {
  for (;;) {
    const settled = records().filter((r) => r.sentAt <= cutoff).length;
    const left = Math.max(0, sentByCutoff - settled);
    if (left === 0 || Date.now() >= deadline) return { left };
    await sleep(Math.min(pollMs, deadline - Date.now()), signal);
  }
}
