// A node drain as `kubectl drain --ignore-daemonsets` does it, limited to the run's own workload: cordon
// the node (spec.unschedulable, and a label naming the run so `graceful-e2e clean` finds a node left
// cordoned), evict every pod of the workload on it (eviction.ts: 429s retried), wait until they are gone
// or the timeout, and uncordon it — at teardown, always. Pods of other workloads on the node are not the
// run's to evict: they stay. A node that was already cordoned is drained but never uncordoned by us.
import type { CoreV1Api, V1Node, V1Pod } from "@kubernetes/client-node";
import type { DrainRecord, EvictionAttempt } from "../model/disruption.js";
import { apiErrorText, UsageError } from "../util/errors.js";
import { LABEL_ROOT } from "../util/labels.js";
import { drainUnfinished, markDrainInterrupted } from "./drain-record.js";
import { type EvictionResult, evictPod } from "./eviction.js";
import type { PolicyVersion } from "./version.js";
import { type Clock, POLL_MS, pollUntil } from "./wait.js";

/** On a node cordoned by a run: the run's id (a label, so a selector finds the leftovers). */
export const CORDONED_BY_LABEL = `${LABEL_ROOT}.cordoned-by`;

/** JSON-pointer escaping of one path segment (a label key holds a "/" or a "~" sometimes). */
const pointer = (key: string) => key.replace(/~/g, "~0").replace(/\//g, "~1");

/** Cordons the node and labels it with the run. Returns false when it was cordoned already (not by us). */
export async function cordon(core: CoreV1Api, node: string, runLabel: string): Promise<boolean> {
  const current = await core.readNode({ name: node }).catch((err: unknown) => {
    throw new Error(`cannot drain node ${node}: ${apiErrorText(err)}`);
  });
  if (current.spec?.unschedulable === true) return false;
  await core.patchNode({
    name: node,
    body: [
      { op: "add", path: "/spec/unschedulable", value: true },
      { op: "add", path: `/metadata/labels/${pointer(CORDONED_BY_LABEL)}`, value: runLabel },
    ],
  });
  return true;
}

/** Makes the node schedulable again and drops the run's label (the label is tested first: idempotent). */
export async function uncordon(core: CoreV1Api, node: string): Promise<void> {
  const current = await core.readNode({ name: node });
  const labelled = current.metadata?.labels?.[CORDONED_BY_LABEL] !== undefined;
  await core.patchNode({
    name: node,
    body: [
      { op: "add", path: "/spec/unschedulable", value: false },
      ...(labelled ? [{ op: "remove", path: `/metadata/labels/${pointer(CORDONED_BY_LABEL)}` }] : []),
    ],
  });
}

/** Uncordons every node a run left cordoned (label CORDONED_BY_LABEL; all runs, or the one given). */
export async function uncordonLeftovers(core: CoreV1Api, runLabel?: string): Promise<string[]> {
  const labelSelector = runLabel ? `${CORDONED_BY_LABEL}=${runLabel}` : CORDONED_BY_LABEL;
  const nodes = await core.listNode({ labelSelector });
  const names = nodes.items.map((n) => n.metadata?.name).filter((n): n is string => n !== undefined);
  for (const name of names) await uncordon(core, name);
  return names;
}

/** A node pods can be scheduled on: not cordoned, no NoSchedule/NoExecute taint (the control plane's). */
export function schedulable(node: V1Node): boolean {
  if (node.spec?.unschedulable === true) return false;
  return !(node.spec?.taints ?? []).some((t) => t.effect === "NoSchedule" || t.effect === "NoExecute");
}

/**
 * Preflight: a drain moves pods to another node, so it needs two schedulable nodes. Throws a UsageError
 * (exit 2) naming them otherwise, before anything is created.
 */
export async function assertDrainable(core: CoreV1Api, contextName: string): Promise<void> {
  const nodes = (await core.listNode()).items;
  const ok = nodes.filter(schedulable).map((n) => n.metadata?.name ?? "?");
  if (ok.length >= 2) return;
  const all = nodes.map((n) => `${n.metadata?.name ?? "?"}${schedulable(n) ? "" : " (unschedulable)"}`).join(", ");
  throw new UsageError(
    `disruption.action drain needs at least 2 schedulable nodes, ${contextName} has ${ok.length} (${all || "none"}): ` +
      "the drained node's pods would have nowhere to go. Use a cluster with more workers (kind: kind-config.yaml " +
      "creates two), or disruption.action evict",
  );
}

/** True when a DaemonSet owns the pod (kubectl drain --ignore-daemonsets leaves those). */
export function daemonSetPod(pod: V1Pod): boolean {
  return (pod.metadata?.ownerReferences ?? []).some((r) => r.kind === "DaemonSet");
}

export interface DrainOptions {
  core: CoreV1Api;
  namespace: string;
  node: string;
  chosenBecause: string;
  /** The workload's pods on the node (already without DaemonSet pods). */
  pods: string[];
  policy: PolicyVersion;
  clock: Clock;
  retryIntervalMs: number;
  timeoutMs: number;
  /** The run's label value, put on the node while it is cordoned. */
  runLabel: string;
  /** Whether a pod is gone (the run's watch); `changed` resolves at every watch entry. */
  gone: (pod: string) => boolean;
  changed: () => Promise<void>;
  onAttempt: (attempt: EvictionAttempt) => void;
  /**
   * Called once the node is cordoned (by us, or already before the run), with the drain's record: the
   * caller keeps it (a run that ends mid-drain still reports it) and, when cordoned by us, registers the
   * uncordon with the run's cleanup.
   */
  onCordoned: (record: DrainRecord, byUs: boolean) => void;
  signal?: AbortSignal;
}

/**
 * The drain's course: cordon → evict every pod (in parallel, as kubectl does) → wait until gone or timeout.
 * The record exists from the cordon on and is completed here, unless the run's end marked it interrupted
 * first (drain-record.ts): then it stays as marked.
 */
export async function drainNode(o: DrainOptions): Promise<{ record: DrainRecord; evictions: EvictionResult[] }> {
  const byUs = await cordon(o.core, o.node, o.runLabel);
  const cordonedAt = o.clock.now();
  const record: DrainRecord = {
    node: o.node,
    chosenBecause: byUs ? o.chosenBecause : `${o.chosenBecause}; already cordoned before the run (left cordoned)`,
    cordonedAt,
    pods: [...o.pods],
    timedOut: false,
  };
  o.onCordoned(record, byUs);
  const deadline = cordonedAt + o.timeoutMs;
  const evictions = await Promise.all(
    o.pods.map((pod) =>
      evictPod(pod, {
        core: o.core,
        namespace: o.namespace,
        version: o.policy,
        clock: o.clock,
        retryIntervalMs: o.retryIntervalMs,
        deadline,
        node: o.node,
        onAttempt: o.onAttempt,
        signal: o.signal,
      }),
    ),
  );
  if (o.signal?.aborted) {
    markDrainInterrupted(
      record,
      evictions.flatMap((e) => e.attempts),
      o.clock.now(),
    );
    return { record, evictions };
  }
  const waited = await pollUntil(() => (o.pods.every(o.gone) ? o.clock.now() : undefined), {
    clock: o.clock,
    timeoutMs: Math.max(0, deadline - o.clock.now()),
    changed: o.changed,
    pollMs: POLL_MS,
  });
  if (!drainUnfinished(record)) return { record, evictions };
  if (waited.value !== undefined) record.finishedAt = waited.value;
  record.timedOut = waited.value === undefined;
  if (waited.value === undefined) record.timeoutReason = timeoutReason(o, evictions);
  return { record, evictions };
}

/** Why the drain stopped short, in words. */
function timeoutReason(o: DrainOptions, evictions: EvictionResult[]): string {
  const s = o.timeoutMs / 1000;
  const refused = evictions.filter((e) => !e.evicted);
  if (refused.length > 0) {
    return (
      `after ${s} s ${refused.length} of ${o.pods.length} pod(s) were still not evicted: ` +
      refused.map((e) => `${e.pod} ${e.why ?? "not evicted"}`).join("; ")
    );
  }
  const left = o.pods.filter((p) => !o.gone(p));
  return `every eviction was accepted, but after ${s} s ${left.join(", ")} ${left.length === 1 ? "was" : "were"} still present`;
}
