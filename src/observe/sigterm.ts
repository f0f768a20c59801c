// PURE: when the stop signal (SIGTERM unless the image or scenario says otherwise) reached a disrupted
// pod. The one rule for every backend, read by the exercise evidence and the trust check:
//   1. the signal as sent, measured: the harness's own send (local, it plays the kubelet);
//   2. else the app's own line saying it received the signal (the earliest of the pod's processes);
//   3. else the end of the preStop hook as observed (kind: the preStop exec task's exit on the node,
//      after which the kubelet sends SIGTERM; a measured prestop-end that did not overrun the grace);
//   4. else the end of a preStop sleep as the scenario states it (the delete + its seconds);
//   5. else, with no hook, the delete itself (the kubelet signals at once).
// 3–5 are the kubelet's rule applied, not a record of the signal: `inferred` says so.
import type { TimelineEvent } from "../model/events.js";
import type { PreStop } from "../scenario/schema.js";

export interface SigtermReceipt {
  /** Epoch ms. */
  at: number;
  /** Which rule gave the time. */
  by: "sent" | "app-line" | "prestop-end" | "prestop-sleep" | "delete";
  /** True when nothing recorded the signal itself: the time is where the kubelet's rule puts it. */
  inferred: boolean;
  /** Where the time comes from, in words ("sigterm-sent (kubelet)", "the app's SIGTERM line", …). */
  from: string;
}

/** When the stop signal reached `pod` (see the rule above); undefined when nothing tells. */
export function sigtermReceipt(
  events: readonly TimelineEvent[],
  pod: { pod: string; deleteAt: number; stopSignal?: { signal: string } },
  preStop: PreStop,
): SigtermReceipt | undefined {
  const mine = events.filter((e) => e.pod === pod.pod);
  const earliest = (ok: (e: TimelineEvent) => boolean) =>
    mine.filter(ok).reduce<TimelineEvent | undefined>((a, e) => (a === undefined || e.at < a.at ? e : a), undefined);
  const inferredEvent = (e: TimelineEvent) => e.detail?.inferred === true;
  const sent = earliest((e) => e.kind === "sigterm-sent" && !inferredEvent(e));
  if (sent) return { at: sent.at, by: "sent", inferred: false, from: `sigterm-sent (${sent.source})` };
  const signal = pod.stopSignal?.signal ?? "SIGTERM";
  const logged = earliest((e) => e.kind === "app-signal" && e.detail?.signal === signal);
  if (logged) return { at: logged.at, by: "app-line", inferred: false, from: `the app's ${signal} line` };
  const hookEnd =
    earliest((e) => e.kind === "sigterm-sent") ??
    earliest((e) => e.kind === "prestop-end" && !inferredEvent(e) && e.detail?.overran !== true);
  if (hookEnd) {
    return { at: hookEnd.at, by: "prestop-end", inferred: true, from: `the end of the preStop hook (${hookEnd.kind})` };
  }
  if (preStop.type === "sleep") {
    return {
      at: pod.deleteAt + preStop.seconds * 1000,
      by: "prestop-sleep",
      inferred: true,
      from: `the end of the preStop sleep (${preStop.seconds} s after the delete)`,
    };
  }
  if (preStop.type === "none")
    return { at: pod.deleteAt, by: "delete", inferred: true, from: "the delete (no preStop hook)" };
  return undefined;
}
