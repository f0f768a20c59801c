// One local pod's termination as the backend observes it, the same for graceful-e2e's own pod
// (backend.ts) and a pod template's (pod.ts): the pod's identity and what was read of each container
// before any signal, the kubelet's sequence (termination.ts, which observes its own steps), Docker's
// records after the exits and each container's app lines, the removal — every one a raw observation
// (observations.ts) — and the outcome built from them alone, as a replay of the recording builds it.
import type { EventSink, TimelineEvent } from "../../model/events.js";
import type { ObservedPodOutcome } from "../../model/pod-outcome.js";
import type { ProcessTreeInspection } from "../../model/process-tree.js";
import { keepingObservations, type LocalObservation, localPodOutcome, observeLocal } from "./observations.js";

type PodIdentity = Extract<LocalObservation, { op: "pod" }>;

/** One running container of the pod: who it is, and what was read of it before any signal. */
export interface ObservedContainer {
  identity: PodIdentity["containers"][number];
  pid1Cmdline: string;
  processTree?: Array<{ pid: number; ppid: number; command: string }>;
  inspection?: ProcessTreeInspection;
}

/** What is read of a container once it exited: Docker's inspect (when it answered) and its app events. */
export interface AfterExit {
  inspected?: { oomKilled?: boolean; finishedAt?: string };
  appEvents: readonly TimelineEvent[];
}

export interface ObservedTerminationInput {
  pod: string;
  node?: string;
  containers: readonly ObservedContainer[];
  sink: EventSink;
  /** The kubelet's sequence, through the sink given (its steps are observations too). */
  terminate(sink: EventSink): Promise<unknown>;
  /** After the exits, per container in `containers`' order (their last log lines read). */
  afterExit(): Promise<AfterExit[]>;
  /** Removes the pod's containers. */
  remove(): Promise<void>;
  now?: () => number;
}

/** Terminates the pod, observing every step; its outcome from those observations alone. */
export async function observedTermination(input: ObservedTerminationInput): Promise<ObservedPodOutcome> {
  const now = input.now ?? Date.now;
  const { pod } = input;
  const { sink, observations } = keepingObservations(input.sink);
  const before = now();
  const containers = input.containers.map((c) => c.identity);
  observeLocal(sink, before, { op: "pod", pod, ...(input.node !== undefined ? { node: input.node } : {}), containers });
  for (const c of input.containers) {
    observeLocal(sink, before, {
      op: "read-before-signal",
      pod,
      ...of(c),
      pid1Cmdline: c.pid1Cmdline,
      ...(c.processTree ? { processTree: c.processTree } : {}),
      ...(c.inspection ? { inspection: c.inspection } : {}),
    });
  }
  await input.terminate(sink);
  const after = await input.afterExit();
  input.containers.forEach((c, i) => {
    const read = after[i];
    if (read?.inspected) observeLocal(sink, now(), { op: "inspected", pod, ...of(c), ...read.inspected });
    observeLocal(sink, now(), { op: "app-events", pod, ...of(c), events: [...(read?.appEvents ?? [])] });
  });
  await input.remove();
  const goneAt = now();
  observeLocal(sink, goneAt, { op: "gone", pod, at: goneAt });
  sink.record({ at: goneAt, kind: "pod-gone", source: "runtime", pod });
  const outcome = localPodOutcome(observations, pod);
  if (!outcome) throw new Error(`pod ${pod}: no outcome could be built from its termination's observations`);
  return outcome;
}

const of = (c: ObservedContainer) => (c.identity.container !== undefined ? { container: c.identity.container } : {});
