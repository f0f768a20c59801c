// The kubelet's pod termination sequence, reproduced for the local runtime:
//   delete → (endpoint leaves the Service after the propagation delay, concurrently)
//          → preStop hook (bounded by the grace period, which counts from the delete)
//          → the stop signal to PID 1 → SIGKILL when the remaining grace runs out.
// The stop signal is what the container runtime's stop sends: the image's STOPSIGNAL (Docker,
// containerd and CRI-O all honour it; SIGTERM when the image sets none), or the pod's
// lifecycle.stopSignal (Kubernetes 1.33+, alpha gate ContainerStopSignals) — here the scenario's
// stopSignal. The timeline event keeps its name "sigterm-sent"; detail.signal says which signal.
// If the hook overruns the grace period the kubelet still sends SIGTERM and grants a 2 s
// minimum before SIGKILL (kuberuntime's minimumGracePeriodInSeconds); the same 2 s minimum
// applies whenever less than 2 s of grace remain after the hook.
import type { EventSink } from "../../model/events.js";
import { sigkillDeadline } from "../../observe/exit-evidence.js";
import type { PreStop } from "../../scenario/schema.js";
import { signalName } from "../../util/signals.js";
import { sleepUnlessAborted } from "../../util/sleep.js";
import { observeLocal } from "./observations.js";

/** What a container runtime must offer the sequence for one container. */
export interface ContainerRuntime {
  /** Runs the preStop hook to completion; rejects (with the reason) when it fails. */
  runPreStop(preStop: Exclude<PreStop, { type: "none" }>, signal: AbortSignal): Promise<void>;
  /** Sends a signal (a name such as "SIGTERM", "SIGQUIT", "SIGKILL") to PID 1. */
  sendSignal(signal: string): Promise<void>;
  /** The image's STOPSIGNAL as the runtime reports it (any form: "SIGQUIT", "QUIT", "3"), if it has one. */
  imageStopSignal?(): Promise<string | undefined>;
  /** Resolves with the exit code once the container has exited (may be called early). */
  waitForExit(): Promise<number>;
}

/** What a container runtime must offer the sequence for a pod of one container. */
export interface PodRuntime extends ContainerRuntime {
  /** Takes the pod's endpoint out of the Service. */
  removeEndpoint(): void;
}

export interface TerminationOptions {
  pod: string;
  graceSeconds: number;
  preStop: PreStop;
  endpointPropagationMs: number;
  runtime: PodRuntime;
  sink: EventSink;
  /** The scenario's stopSignal: overrides the image's STOPSIGNAL. */
  stopSignal?: string;
  now?: () => number;
}

/** One container of a pod being terminated. */
export interface ContainerToStop {
  /** The container's name in the pod spec (events carry it in detail.container); absent: a one-container pod. */
  name?: string;
  preStop: PreStop;
  /** lifecycle.stopSignal (or the scenario's): overrides the image's STOPSIGNAL. */
  stopSignal?: string;
  /** A native sidecar: stopped after every regular container exited, in reverse start order. */
  nativeSidecar?: boolean;
  runtime: ContainerRuntime;
}

export interface PodTerminationOptions {
  pod: string;
  graceSeconds: number;
  endpointPropagationMs: number;
  /** Every running container of the pod, in start order (native sidecars first). */
  containers: ContainerToStop[];
  removeEndpoint(): void;
  sink: EventSink;
  now?: () => number;
}

export type StopSignalSource = "scenario" | "image" | "default";

/** Which signal starts the termination: the scenario's, else the image's STOPSIGNAL, else SIGTERM. Pure. */
export function chooseStopSignal(
  scenario: string | undefined,
  image: string | undefined,
): { signal: string; from: StopSignalSource } {
  const fromScenario = signalName(scenario);
  if (fromScenario) return { signal: fromScenario, from: "scenario" };
  const fromImage = signalName(image);
  if (fromImage) return { signal: fromImage, from: "image" };
  return { signal: "SIGTERM", from: "default" };
}

/** How one container's stop went. */
export interface ContainerStopOutcome {
  preStop?: { startedAt: number; endedAt?: number; failed?: string; overran: boolean };
  /** When the stop signal (SIGTERM unless the image or scenario says otherwise) went out. */
  sigtermAt?: number;
  /** The stop signal sent (or that would have been sent), and where it came from. */
  stopSignal: { signal: string; from: StopSignalSource };
  sigkillAt?: number;
  exitedAt: number;
  exitCode: number;
}

export interface TerminationOutcome extends ContainerStopOutcome {
  deleteAt: number;
  endpointRemovedAt?: number;
}

/** A pod's termination: the delete, the endpoint's removal, and each container's stop (in the options' order). */
export interface PodTerminationOutcome {
  deleteAt: number;
  endpointRemovedAt?: number;
  containers: ContainerStopOutcome[];
}

const sleep = sleepUnlessAborted;

type Settled<T> = { kind: "done"; value: T } | { kind: "failed"; error: unknown };
const settle = <T>(p: Promise<T>): Promise<Settled<T>> =>
  p.then(
    (value) => ({ kind: "done", value }) as const,
    (error: unknown) => ({ kind: "failed", error }) as const,
  );

/** One container's part of the sequence, as the kubelet's killContainer runs it. */
interface ContainerStopInput {
  pod: string;
  container: ContainerToStop;
  deleteAt: number;
  graceDeadline: number;
  graceSeconds: number;
  /** Resolves when the containers that must exit before this one did (native sidecars' order). */
  turn: Promise<unknown>;
  sink: EventSink;
  now: () => number;
}

/** Events of a named container say which one (a one-container pod's events stay as they were). */
const named = (c: ContainerToStop, detail?: Record<string, unknown>) =>
  c.name === undefined ? detail : { ...detail, container: c.name };

/** The preStop hook, bounded by the grace deadline and by the container's own exit. */
async function runHook(input: ContainerStopInput, exit: Promise<unknown>): Promise<ContainerStopOutcome["preStop"]> {
  const { pod, sink, now, container: c } = input;
  const hook = c.preStop;
  if (hook.type === "none") return undefined;
  const startedAt = now();
  const record: NonNullable<ContainerStopOutcome["preStop"]> = { startedAt, overran: false };
  sink.record({ at: startedAt, kind: "prestop-start", source: "kubelet", pod, detail: named(c, { ...hook }) });
  const abort = new AbortController();
  const result = await Promise.race([
    settle(c.runtime.runPreStop(hook, abort.signal)),
    sleep(input.graceDeadline - now(), abort.signal).then(() => ({ kind: "deadline" as const })),
    exit.then(() => ({ kind: "exited" as const })),
  ]);
  abort.abort();
  const endedAt = now();
  if (result.kind === "done") {
    record.endedAt = endedAt;
    sink.record({ at: endedAt, kind: "prestop-end", source: "kubelet", pod, ...withDetail(named(c)) });
  } else if (result.kind === "failed") {
    const message = result.error instanceof Error ? result.error.message : String(result.error);
    record.endedAt = endedAt;
    record.failed = message;
    // The kubelet records a FailedPreStopHook event and carries on with SIGTERM.
    const detail = named(c, { reason: "FailedPreStopHook", message });
    sink.record({ at: endedAt, kind: "prestop-failed", source: "kubelet", pod, ...withDetail(detail) });
  } else if (result.kind === "deadline") {
    record.overran = true;
    const detail = named(c, { overran: true, note: "grace period ended during preStop" });
    sink.record({ at: endedAt, kind: "prestop-end", source: "kubelet", pod, ...withDetail(detail) });
  }
  observeLocal(sink, endedAt, { op: "prestop", ...of(input), ...record });
  return record;
}

/** Which pod and container an observation is about. */
const of = (input: Pick<ContainerStopInput, "pod" | "container">) => ({
  pod: input.pod,
  ...(input.container.name !== undefined ? { container: input.container.name } : {}),
});

const withDetail = (detail: Record<string, unknown> | undefined) => (detail ? { detail } : {});

/** preStop → (its turn) → the stop signal → SIGKILL at the deadline → the exit. */
async function stopContainer(input: ContainerStopInput): Promise<ContainerStopOutcome> {
  const { pod, sink, now, container: c } = input;
  const { runtime } = c;
  // Looked up at once (concurrently with the hook), not when the signal is due.
  const stopSignal = (
    c.stopSignal !== undefined || !runtime.imageStopSignal
      ? Promise.resolve(undefined)
      : runtime.imageStopSignal().catch(() => undefined)
  ).then((image) => chooseStopSignal(c.stopSignal, image));
  let exited: { code: number; at: number } | undefined;
  const exit = runtime.waitForExit().then((code) => {
    exited = { code, at: now() };
    return exited;
  });
  const outcome: Omit<ContainerStopOutcome, "stopSignal" | "exitedAt" | "exitCode"> = {};
  const preStop = await runHook(input, exit);
  if (preStop) outcome.preStop = preStop;
  // A native sidecar waits for its turn (bounded by the grace period, as the kubelet's waitForTurn).
  const waiting = new AbortController();
  await Promise.race([input.turn, exit, sleep(input.graceDeadline - now(), waiting.signal)]);
  waiting.abort();
  // When the signal became due by the ordering rule: its trust bound counts from here, not the hook's end.
  const turn = c.nativeSidecar ? { turnEndedAt: now() } : {};
  const stop = await stopSignal;
  if (!exited) {
    outcome.sigtermAt = now();
    observeLocal(sink, outcome.sigtermAt, { op: "stop-signal", ...of(input), ...stop, at: outcome.sigtermAt });
    await runtime.sendSignal(stop.signal).catch(() => undefined);
    // The event is placed when the call started; the signal reached PID 1 before the call returned.
    const deliveredWithinMs = now() - outcome.sigtermAt;
    const detail = named(c, { signal: stop.signal, from: stop.from, deliveredWithinMs, ...turn });
    sink.record({ at: outcome.sigtermAt, kind: "sigterm-sent", source: "kubelet", pod, process: "pid1", detail });
    const killAt = sigkillDeadline(input.deleteAt, input.graceSeconds, outcome.sigtermAt);
    const stopWaiting = new AbortController();
    await Promise.race([exit, sleep(killAt - now(), stopWaiting.signal)]);
    stopWaiting.abort();
    if (!exited) {
      outcome.sigkillAt = now();
      observeLocal(sink, outcome.sigkillAt, { op: "sigkill", ...of(input), at: outcome.sigkillAt });
      await runtime.sendSignal("SIGKILL").catch(() => undefined);
      const at = outcome.sigkillAt;
      sink.record({ at, kind: "sigkill-sent", source: "kubelet", pod, process: "pid1", ...withDetail(named(c)) });
    }
  } else {
    // Exited before its turn: the signal that would have been sent is still the container's.
    observeLocal(sink, now(), { op: "stop-signal", ...of(input), ...stop });
  }
  const done = await exit;
  observeLocal(sink, done.at, { op: "exit", ...of(input), at: done.at, code: done.code });
  const detail = named(c, { exitCode: done.code });
  sink.record({ at: done.at, kind: "container-exit", source: "runtime", pod, ...withDetail(detail) });
  return { ...outcome, stopSignal: stop, exitedAt: done.at, exitCode: done.code };
}

/**
 * Which exits each container's stop signal waits for: none for a regular container; for a native
 * sidecar, every regular container's and every sidecar's started after it (reverse start order).
 */
function turns(containers: ContainerToStop[]): Promise<unknown>[] {
  const exits = containers.map((c) => c.runtime.waitForExit().catch(() => undefined));
  return containers.map((c, i) => {
    if (!c.nativeSidecar) return Promise.resolve();
    return Promise.all(exits.filter((_, j) => !containers[j]?.nativeSidecar || j > i));
  });
}

/**
 * The kubelet's termination of a pod of any number of containers: every preStop at once at the delete,
 * then each container's stop signal (native sidecars after the regular containers, in reverse order),
 * SIGKILL when the grace period — counted from the delete, the hooks included — runs out.
 */
export async function terminatePodContainers(opts: PodTerminationOptions): Promise<PodTerminationOutcome> {
  const now = opts.now ?? Date.now;
  const { pod, sink } = opts;
  const deleteAt = now();
  observeLocal(sink, deleteAt, { op: "delete", pod, at: deleteAt, graceSeconds: opts.graceSeconds });
  sink.record({
    at: deleteAt,
    kind: "delete-requested",
    source: "harness",
    pod,
    detail: { graceSeconds: opts.graceSeconds },
  });
  let endpointRemovedAt: number | undefined;
  // Faithful to kube-proxy's lag: even a container that died at once keeps receiving new
  // connections (which then fail) until the endpoint is gone from the rules.
  const endpointRemoved = sleep(opts.endpointPropagationMs).then(() => {
    opts.removeEndpoint();
    endpointRemovedAt = now();
    sink.record({ at: endpointRemovedAt, kind: "endpoint-removed", source: "proxy", pod });
  });
  const graceDeadline = deleteAt + opts.graceSeconds * 1000;
  const order = turns(opts.containers);
  const containers = await Promise.all(
    opts.containers.map((container, i) =>
      stopContainer({
        pod,
        container,
        deleteAt,
        graceDeadline,
        graceSeconds: opts.graceSeconds,
        turn: order[i] ?? Promise.resolve(),
        sink,
        now,
      }),
    ),
  );
  await endpointRemoved;
  return { deleteAt, ...(endpointRemovedAt !== undefined ? { endpointRemovedAt } : {}), containers };
}

/** The termination of a pod of one container (graceful-e2e's own Deployment). */
export async function terminatePod(opts: TerminationOptions): Promise<TerminationOutcome> {
  const { runtime } = opts;
  const pod = await terminatePodContainers({
    pod: opts.pod,
    graceSeconds: opts.graceSeconds,
    endpointPropagationMs: opts.endpointPropagationMs,
    containers: [
      {
        preStop: opts.preStop,
        ...(opts.stopSignal !== undefined ? { stopSignal: opts.stopSignal } : {}),
        runtime,
      },
    ],
    removeEndpoint: () => runtime.removeEndpoint(),
    sink: opts.sink,
    ...(opts.now ? { now: opts.now } : {}),
  });
  const [container] = pod.containers;
  if (!container) throw new Error(`pod ${opts.pod}: no container was stopped`);
  return {
    ...container,
    deleteAt: pod.deleteAt,
    ...(pod.endpointRemovedAt !== undefined ? { endpointRemovedAt: pod.endpointRemovedAt } : {}),
  };
}
