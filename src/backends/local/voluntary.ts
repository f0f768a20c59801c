// The local runtime's voluntary disruptions: the Eviction API answered with the API server's own
// PodDisruptionBudget arithmetic (k8s/pdb.ts, the one implementation), `kubectl drain`'s loop (cordon,
// evict every pod of the workload on the node, a 429 retried every retryIntervalSeconds until
// timeoutSeconds, wait until the evicted pods are gone) and the Service's ready endpoints over the run.
// The containers themselves are the backend's: it hands over an EvictionTarget.
import { drainUnfinished } from "../../k8s/drain-record.js";
import { type EvictionAnswer, evictionAnswer, type PdbSpecValues, pdbStatus } from "../../k8s/pdb.js";
import type { DrainRecord, EvictionAttempt, ReadyEndpointsSample } from "../../model/disruption.js";
import type { ObservedPodOutcome } from "../../model/pod-outcome.js";
import { sleepUnlessAborted } from "../../util/sleep.js";
import type { LocalNodes } from "./nodes.js";

/** A pod of the workload as the budget and the drain see it. */
export interface LocalPod {
  name: string;
  /** Its readiness probe passed (the Ready condition the budget and the EndpointSlice read). */
  ready: boolean;
  /** Its deletion started (deletionTimestamp set): never healthy, never ready. */
  deleting: boolean;
}

/** What the backend lets the eviction API do. */
export interface EvictionTarget {
  /** The workload's pods now (starting, ready and terminating). */
  pods(): LocalPod[];
  /** An accepted eviction: the pod's termination, resolving once it is gone (a replacement is the backend's). */
  evict(pod: string): Promise<ObservedPodOutcome>;
}

/** The PodDisruptionBudget in force, as applied. */
export interface AppliedPdb {
  name: string;
  spec: PdbSpecValues;
}

/** The answer to one eviction call, and the pod's termination when it was accepted. */
export interface EvictionCall {
  answer: EvictionAnswer;
  termination?: Promise<ObservedPodOutcome>;
}

/** The eviction subresource, locally: one budget for the run, every call recorded. */
export class LocalEvictionApi {
  readonly attempts: EvictionAttempt[] = [];
  /** Pods whose eviction used a disruption, and when (the budget status's disruptedPods). */
  private readonly disrupted = new Map<string, number>();

  constructor(
    private readonly target: EvictionTarget,
    /** The Deployment's replicas (the budget's scale). */
    private readonly scale: number,
    readonly pdb: AppliedPdb | undefined,
    private readonly nodeOf: (pod: string) => string | undefined = () => undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** One call for `pod` (`attempt`: 1 for the first call for this pod), answered and recorded. */
  call(pod: string, attempt: number): EvictionCall {
    const at = this.now();
    const pods = this.target.pods();
    const me = pods.find((p) => p.name === pod);
    let answer: EvictionAnswer;
    if (!me) answer = { result: "error", status: 404, message: `pods "${pod}" not found` };
    else if (!this.pdb) answer = { result: "accepted", status: 201, message: "evicted (no PodDisruptionBudget)" };
    else {
      const budgetPods = pods.map((p) => ({ name: p.name, ready: p.ready, deleting: p.deleting }));
      const status = pdbStatus(this.pdb.spec, budgetPods, this.scale, this.disrupted, at);
      answer = evictionAnswer(me, status, this.pdb.name);
      // Only an eviction the budget counted uses a disruption (not an unready or terminating pod's).
      if (answer.result === "accepted" && me.ready && !me.deleting) this.disrupted.set(pod, at);
    }
    const node = this.nodeOf(pod);
    this.attempts.push({ pod, ...(node ? { node } : {}), at, attempt, ...answer });
    if (answer.result !== "accepted" || !me || me.deleting) return { answer };
    return { answer, termination: this.target.evict(pod) };
  }

  /**
   * kubectl drain's loop for one pod: a 429 retried every `retryMs` until `deadline` (epoch ms); any
   * other refusal ends it. Resolves with the last answer and the termination when one was accepted.
   */
  async evictUntil(pod: string, retryMs: number, deadline: number, signal?: AbortSignal): Promise<EvictionCall> {
    for (let attempt = 1; ; attempt++) {
      const call = this.call(pod, attempt);
      if (call.answer.result !== "refused") return call;
      const wait = Math.min(retryMs, deadline - this.now());
      if (wait <= 0 || signal?.aborted) return call;
      await sleepUnlessAborted(Math.max(wait, 10), signal);
      // Stopped while waiting (teardown, Ctrl-C): no call after the run's end.
      if (this.now() >= deadline || signal?.aborted) return call;
    }
  }
}

/** The outcome of a drain: its record, and the evicted pods' terminations (to wait for). */
export interface DrainResult {
  drain: DrainRecord;
  outcomes: ObservedPodOutcome[];
}

export interface DrainOptions {
  node: string;
  chosenBecause: string;
  retryMs: number;
  timeoutMs: number;
  signal?: AbortSignal;
  /** The drain's record as soon as the node is cordoned (teardown completes it, also mid-drain). */
  onCordon?(drain: DrainRecord): void;
}

/**
 * Cordons the node, evicts every pod of the workload on it (concurrently, each with kubectl drain's
 * retries), waits until the evicted pods are gone or the timeout (from the cordon). Never hangs: the
 * evictions stop at the deadline, and a pod already evicted ends within its grace period.
 */
export async function drainNode(api: LocalEvictionApi, nodes: LocalNodes, o: DrainOptions): Promise<DrainResult> {
  const cordon = nodes.cordon(o.node);
  const deadline = cordon.cordonedAt + o.timeoutMs;
  const pods = nodes.podsOn(o.node);
  const drain: DrainRecord = {
    node: o.node,
    chosenBecause: o.chosenBecause,
    cordonedAt: cordon.cordonedAt,
    pods,
    timedOut: false,
  };
  o.onCordon?.(drain);
  const calls = await Promise.all(pods.map((p) => api.evictUntil(p, o.retryMs, deadline, o.signal)));
  const terminations = calls.flatMap((c) => (c.termination ? [c.termination] : []));
  const ended = Promise.all(terminations);
  const inTime = await Promise.race([
    ended.then(() => true),
    sleepUnlessAborted(deadline - Date.now(), o.signal).then(() => false),
  ]);
  const outcomes = await ended;
  // The run ended first (teardown: Ctrl-C, a limit): the record was marked there, and stays so.
  if (!drainUnfinished(drain)) return { drain, outcomes };
  const notEvicted = pods.filter((_, i) => calls[i]?.termination === undefined);
  const reason = drainShortfall(notEvicted, calls, api.pdb, o.timeoutMs, inTime ? [] : outcomes);
  if (reason) {
    drain.timedOut = reason.timedOut;
    drain.timeoutReason = reason.text;
  } else {
    drain.finishedAt = Math.max(cordon.cordonedAt, ...outcomes.map((p) => p.goneAt ?? p.exitedAt ?? Date.now()));
  }
  return { drain, outcomes };
}

/** Why a drain stopped short, in words (undefined: every pod evicted and gone in time). Pure. */
export function drainShortfall(
  notEvicted: readonly string[],
  calls: readonly EvictionCall[],
  pdb: AppliedPdb | undefined,
  timeoutMs: number,
  lateOutcomes: readonly ObservedPodOutcome[],
): { timedOut: boolean; text: string } | undefined {
  const s = `${Number((timeoutMs / 1000).toFixed(1))} s`;
  const errors = calls.filter((c) => c.answer.result === "error");
  if (errors.length > 0) {
    const e = errors[0]?.answer;
    return { timedOut: false, text: `${errors.length} eviction(s) failed: ${e?.status} ${e?.message}` };
  }
  if (notEvicted.length > 0) {
    const last = calls.find((c) => c.answer.result === "refused")?.answer.message ?? "";
    return {
      timedOut: true,
      text:
        `the PodDisruptionBudget ${pdb?.name ?? "?"} allowed no disruption for ${s}: ${notEvicted.join(", ")} ` +
        `not evicted (last answer: 429 ${last})`,
    };
  }
  if (lateOutcomes.length > 0) {
    return { timedOut: true, text: `the evicted pods were not all gone ${s} after the cordon` };
  }
  return undefined;
}

/**
 * The Service's ready endpoints as a step function, as the EndpointSlice watch gives them on
 * Kubernetes: a sample whenever the count changes. Ready: the pod passed its readiness probe and is
 * not deleting (an EndpointSlice never calls a terminating endpoint ready); terminating: ready before
 * its deletion and not gone yet. kube-proxy's rules lag both (local.endpointAddDelayMs,
 * endpointPropagationMs): that lag is the proxy's, not the EndpointSlice's.
 */
export class ReadyEndpointsSeries {
  private readonly list: ReadyEndpointsSample[] = [];

  sample(readyPods: readonly string[], deleting: ReadonlySet<string>, at = Date.now()): void {
    const terminating = readyPods.filter((p) => deleting.has(p)).length;
    const ready = readyPods.length - terminating;
    const last = this.list[this.list.length - 1];
    if (last && last.ready === ready && (last.terminating ?? 0) === terminating) return;
    this.list.push({ at, ready, terminating });
  }

  samples(): ReadyEndpointsSample[] {
    return this.list.map((s) => ({ ...s }));
  }
}
