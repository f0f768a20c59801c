// A Deployment's RollingUpdate, reproduced for the local runtime: the controller's fenceposts (maxSurge
// rounded up, maxUnavailable rounded down, both 0 → maxUnavailable 1) and its two moves, repeated until
// every old pod is being deleted — scale the new ReplicaSet up while the pods (old not terminating + new)
// stay within replicas + maxSurge, scale the old one down while the available pods (old ones, and new
// ones ready for minReadySeconds) stay at least replicas − maxUnavailable. Terminating pods count in
// neither, as in the controller. The old pods go newest first (the ReplicaSet's ranking, all else equal).
import { scaledValue } from "../../k8s/pdb.js";
import type { ObservedPodOutcome } from "../../model/pod-outcome.js";
import type { RolloutStrategy } from "../../scenario/schema.js";
import { sleepUnlessAborted } from "../../util/sleep.js";

export interface Fenceposts {
  maxSurge: number;
  maxUnavailable: number;
}

/** deploymentutil.ResolveFenceposts, with the API's defaults (25 % / 25 %). Pure. */
export function fenceposts(strategy: RolloutStrategy | undefined, replicas: number): Fenceposts {
  const maxSurge = scaledValue(strategy?.maxSurge ?? "25%", replicas, true);
  const maxUnavailable = scaledValue(strategy?.maxUnavailable ?? "25%", replicas, false);
  return { maxSurge, maxUnavailable: maxSurge === 0 && maxUnavailable === 0 ? 1 : maxUnavailable };
}

/** The rollout at one moment, as the controller counts it. */
export interface RolloutView {
  replicas: number;
  /** Old pods not yet being deleted. */
  old: number;
  /** New pods created (starting or ready). */
  created: number;
  /** New pods ready for at least minReadySeconds. */
  newAvailable: number;
}

/** How many new pods to create and old pods to delete now. Pure. */
export function rolloutMoves(f: Fenceposts, v: RolloutView): { create: number; remove: number } {
  const create = Math.max(0, Math.min(v.replicas + f.maxSurge - (v.old + v.created), v.replicas - v.created));
  const remove = Math.max(0, Math.min(v.old, v.old + v.newAvailable - (v.replicas - f.maxUnavailable)));
  return { create, remove };
}

/** What the rollout needs of the backend. */
export interface RolloutOps {
  /** The old pods, oldest first. */
  oldPods: string[];
  /** Starts a new pod; resolves with its name and when it became ready. */
  start(): Promise<{ name: string; readyAt: number }>;
  /** Deletes an old pod; resolves once it is gone. */
  terminate(pod: string): Promise<ObservedPodOutcome>;
}

const TICK_MS = 50;

/** Runs the rollout until every old pod is being deleted, then waits until they are gone. */
export async function rollingUpdate(
  ops: RolloutOps,
  strategy: RolloutStrategy | undefined,
  replicas: number,
  signal?: AbortSignal,
): Promise<ObservedPodOutcome[]> {
  const f = fenceposts(strategy, replicas);
  const minReadyMs = (strategy?.minReadySeconds ?? 0) * 1000;
  const deadlineMs = (strategy?.progressDeadlineSeconds ?? 600) * 1000;
  const old = [...ops.oldPods];
  const ready: number[] = [];
  const failures: string[] = [];
  const terminations: Promise<ObservedPodOutcome>[] = [];
  let created = 0;
  let progressAt = Date.now();
  while (old.length > 0 && !signal?.aborted) {
    const now = Date.now();
    const newAvailable = ready.filter((at) => at + minReadyMs <= now).length;
    const moves = rolloutMoves(f, { replicas, old: old.length, created: created - failures.length, newAvailable });
    for (let i = 0; i < moves.create; i++) {
      created++;
      ops.start().then(
        (p) => {
          ready.push(p.readyAt);
          progressAt = Date.now();
        },
        (err: unknown) => failures.push(err instanceof Error ? err.message : String(err)),
      );
    }
    for (const pod of old.splice(old.length - moves.remove, moves.remove)) terminations.push(ops.terminate(pod));
    if (moves.create + moves.remove > 0) progressAt = now;
    if (failures.length > replicas) throw new Error(`rollout: new pods fail to start: ${failures[0]}`);
    if (now - progressAt > deadlineMs) {
      throw new Error(
        `rollout: no progress for ${deadlineMs / 1000} s (progressDeadlineSeconds); ${old.length} old pod(s) left` +
          (failures.length > 0 ? `; a new pod failed: ${failures[0]}` : ""),
      );
    }
    await sleepUnlessAborted(TICK_MS, signal);
  }
  return Promise.all(terminations);
}
