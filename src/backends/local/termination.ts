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

/** What a container runtime must offer the sequence. */
export interface PodRuntime {
  /** Runs the preStop hook to completion; rejects (with the reason) when it fails. */
  runPreStop(preStop: Exclude<PreStop, { type: "none" }>, signal: AbortSignal): Promise<void>;
  /** Sends a signal (a name such as "SIGTERM", "SIGQUIT", "SIGKILL") to PID 1. */
  sendSignal(signal: string): Promise<void>;
  /** The image's STOPSIGNAL as the runtime reports it (any form: "SIGQUIT", "QUIT", "3"), if it has one. */
  imageStopSignal?(): Promise<string | undefined>;
  /** Resolves with the exit code once the container has exited (may be called early). */
  waitForExit(): Promise<number>;
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

export interface TerminationOutcome {
  deleteAt: number;
  preStop?: { startedAt: number; endedAt?: number; failed?: string; overran: boolean };
  /** When the stop signal (SIGTERM unless the image or scenario says otherwise) went out. */
  sigtermAt?: number;
  /** The stop signal sent (or that would have been sent), and where it came from. */
  stopSignal: { signal: string; from: StopSignalSource };
  sigkillAt?: number;
  exitedAt: number;
  exitCode: number;
  endpointRemovedAt?: number;
}

const sleep = sleepUnlessAborted;

type Settled<T> = { kind: "done"; value: T } | { kind: "failed"; error: unknown };
const settle = <T>(p: Promise<T>): Promise<Settled<T>> =>
  p.then(
    (value) => ({ kind: "done", value }) as const,
    (error: unknown) => ({ kind: "failed", error }) as const,
  );

export async function terminatePod(opts: TerminationOptions): Promise<TerminationOutcome> {
  const now = opts.now ?? Date.now;
  const { pod, sink, runtime } = opts;
  const deleteAt = now();
  const graceDeadline = deleteAt + opts.graceSeconds * 1000;
  sink.record({
    at: deleteAt,
    kind: "delete-requested",
    source: "harness",
    pod,
    detail: { graceSeconds: opts.graceSeconds },
  });

  // Looked up at once (concurrently with the hook), not when the signal is due.
  const stopSignal = (
    opts.stopSignal !== undefined || !runtime.imageStopSignal
      ? Promise.resolve(undefined)
      : runtime.imageStopSignal().catch(() => undefined)
  ).then((image) => chooseStopSignal(opts.stopSignal, image));

  const outcome: Partial<TerminationOutcome> & { deleteAt: number } = { deleteAt };
  let exited: { code: number; at: number } | undefined;
  const exit = runtime.waitForExit().then((code) => {
    exited = { code, at: now() };
    return exited;
  });

  // Faithful to kube-proxy's lag: even a container that died at once keeps receiving new
  // connections (which then fail) until the endpoint is gone from the rules.
  const endpointRemoved = sleep(opts.endpointPropagationMs).then(() => {
    runtime.removeEndpoint();
    outcome.endpointRemovedAt = now();
    sink.record({ at: outcome.endpointRemovedAt, kind: "endpoint-removed", source: "proxy", pod });
  });

  const hook = opts.preStop;
  if (hook.type !== "none") {
    const startedAt = now();
    outcome.preStop = { startedAt, overran: false };
    sink.record({ at: startedAt, kind: "prestop-start", source: "kubelet", pod, detail: { ...hook } });
    const abort = new AbortController();
    const result = await Promise.race([
      settle(runtime.runPreStop(hook, abort.signal)).then((r) => ({ ...r, why: "hook" as const })),
      sleep(graceDeadline - now(), abort.signal).then(() => ({ kind: "deadline" as const, why: "deadline" as const })),
      exit.then(() => ({ kind: "exited" as const, why: "exited" as const })),
    ]);
    abort.abort();
    const endedAt = now();
    if (result.kind === "done") {
      outcome.preStop.endedAt = endedAt;
      sink.record({ at: endedAt, kind: "prestop-end", source: "kubelet", pod });
    } else if (result.kind === "failed") {
      const message = result.error instanceof Error ? result.error.message : String(result.error);
      outcome.preStop.endedAt = endedAt;
      outcome.preStop.failed = message;
      // The kubelet records a FailedPreStopHook event and carries on with SIGTERM.
      sink.record({
        at: endedAt,
        kind: "prestop-failed",
        source: "kubelet",
        pod,
        detail: { reason: "FailedPreStopHook", message },
      });
    } else if (result.kind === "deadline") {
      outcome.preStop.overran = true;
      sink.record({
        at: endedAt,
        kind: "prestop-end",
        source: "kubelet",
        pod,
        detail: { overran: true, note: "grace period ended during preStop" },
      });
    }
  }

  const stop = await stopSignal;
  if (!exited) {
    outcome.sigtermAt = now();
    await runtime.sendSignal(stop.signal).catch(() => undefined);
    // The event is placed when the call started; the signal reached PID 1 before the call returned.
    const deliveredWithinMs = now() - outcome.sigtermAt;
    sink.record({
      at: outcome.sigtermAt,
      kind: "sigterm-sent",
      source: "kubelet",
      pod,
      process: "pid1",
      detail: { signal: stop.signal, from: stop.from, deliveredWithinMs },
    });
    const killAt = sigkillDeadline(deleteAt, opts.graceSeconds, outcome.sigtermAt);
    const stopWaiting = new AbortController();
    await Promise.race([exit, sleep(killAt - now(), stopWaiting.signal)]);
    stopWaiting.abort();
    if (!exited) {
      outcome.sigkillAt = now();
      await runtime.sendSignal("SIGKILL").catch(() => undefined);
      sink.record({ at: outcome.sigkillAt, kind: "sigkill-sent", source: "kubelet", pod, process: "pid1" });
    }
  }
  const done = await exit;
  sink.record({ at: done.at, kind: "container-exit", source: "runtime", pod, detail: { exitCode: done.code } });
  await endpointRemoved;
  return { ...outcome, stopSignal: stop, exitedAt: done.at, exitCode: done.code };
}
