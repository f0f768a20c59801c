// PURE: the per-container evidence of a multi-container pod that every backend gets alike from the
// run's events: each container's own process reports and when its stop signal reached it. A backend
// fills each container's exit evidence (PodOutcome.sidecars); events say which container they are
// about in detail.container (app lines, container exits), those naming none are the app container's.
import type { TimelineEvent } from "../model/events.js";
import type { ContainerOutcome, PodOutcome } from "../model/pod-outcome.js";
import { processReports } from "./app-log.js";
import { type SigtermReceipt, sigtermReceipt } from "./sigterm.js";

/**
 * The events that are about one container of a pod: those naming it (detail.container), and for the
 * app container also those naming none (the kubelet's inferred SIGTERM after the app's preStop exec,
 * the harness's sends on the local backend).
 */
export function containerEvents(
  events: readonly TimelineEvent[],
  pod: string,
  container: Pick<ContainerOutcome, "container" | "role">,
): TimelineEvent[] {
  return events.filter((e) => {
    if (e.pod !== pod) return false;
    const named = e.detail?.container;
    if (typeof named === "string" && container.container !== undefined) return named === container.container;
    return container.role === undefined || container.role === "app";
  });
}

/** sigtermReceipt() for one container: its own events, its own preStop hook, its own stop signal. */
export function containerSigtermReceipt(
  events: readonly TimelineEvent[],
  pod: { pod: string; deleteAt: number },
  container: Pick<ContainerOutcome, "container" | "role" | "preStop" | "stopSignal">,
): SigtermReceipt | undefined {
  const mine = containerEvents(events, pod.pod, container);
  // A hook the backend did not report is not assumed absent: only the events can tell then.
  const hook = container.preStop ?? { type: "unknown" };
  const stop = container.stopSignal ? { stopSignal: container.stopSignal } : {};
  return sigtermReceipt(mine, { pod: pod.pod, deleteAt: pod.deleteAt, ...stop }, hook);
}

/** Every container of the pod, the app's first (the pod's own fields are the app container's). */
export function podContainers(pod: PodOutcome): ContainerOutcome[] {
  return [pod, ...(pod.sidecars ?? [])];
}

/**
 * A multi-container pod's per-container process reports and stop-signal receipts, from the run's
 * events. A one-container pod is returned as it is (its process reports are the pod's, as ever).
 */
export function withContainerEvidence(events: readonly TimelineEvent[], pod: PodOutcome): PodOutcome {
  if (!pod.sidecars || pod.sidecars.length === 0) return pod;
  const regularExits = [pod, ...pod.sidecars].filter((c) => c.role !== "native-sidecar").map((c) => c.exitedAt);
  const complete = <C extends ContainerOutcome>(c: C): C => {
    const sigterm = nativeSidecarOrder(c, containerSigtermReceipt(events, pod, c), regularExits);
    return {
      ...c,
      processes: processReports(containerEvents(events, pod.pod, c), pod.pod),
      ...(sigterm ? { sigterm } : {}),
    };
  };
  const app = complete({ ...pod, role: pod.role ?? "app" });
  return { ...app, sidecars: pod.sidecars.map((s) => complete(s)) };
}

/**
 * The kubelet stops a native sidecar only after every regular container exited (Kubernetes 1.29+): a
 * receipt the rule only inferred (the delete, its preStop) comes no sooner than the last regular exit.
 * Unknown when a regular container's exit is.
 */
function nativeSidecarOrder(
  c: ContainerOutcome,
  receipt: SigtermReceipt | undefined,
  regularExits: ReadonlyArray<number | undefined>,
): SigtermReceipt | undefined {
  if (c.role !== "native-sidecar" || !receipt?.inferred) return receipt;
  if (regularExits.some((at) => at === undefined)) return undefined;
  const last = Math.max(...(regularExits as number[]));
  if (last <= receipt.at) return receipt;
  return { ...receipt, at: last, from: `after the regular containers exited (native sidecar; ${receipt.from})` };
}
