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
import type { ContainerSigterm } from "../model/pod-outcome.js";
import type { PreStop } from "../scenario/schema.js";

/** When the stop signal reached a pod or one of its containers, and by which rule (model/pod-outcome.ts). */
export type SigtermReceipt = ContainerSigterm;

/** What the rule reads of a preStop hook: its type, and a sleep's seconds (scenario PreStop or a container's). */
type HookShape = PreStop | { type: string; seconds?: number };

/** When the stop signal reached `pod` (see the rule above); undefined when nothing tells. */
export function sigtermReceipt(
  events: readonly TimelineEvent[],
  pod: { pod: string; deleteAt: number; stopSignal?: { signal: string } },
  preStop: HookShape,
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
  if (preStop.type === "sleep" && "seconds" in preStop && preStop.seconds !== undefined) {
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
