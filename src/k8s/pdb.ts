// The PodDisruptionBudget arithmetic the API server applies, in one place: the disruption controller's
// status (expected pods, desired healthy, current healthy, disruptions allowed) and the eviction
// subresource's answer. kind/existing get the real API's answers; the local backend asks this module the
// same questions, so one scenario gives the same verdicts on every backend. Pure; no I/O.
//
// Follows kubernetes pkg/controller/disruption (getExpectedPodCount, countHealthyPods, DeletionTimeout)
// and pkg/registry/core/pod/storage/eviction.go (checkAndDecrement, unhealthy pods, 429 and its message).

/** A PodDisruptionBudget's spec: exactly one of the two. */
export interface PdbSpecValues {
  minAvailable?: number | string;
  maxUnavailable?: number | string;
}

/** A pod as the budget counts it. */
export interface BudgetPod {
  name: string;
  ready: boolean;
  /** Being deleted (deletionTimestamp set): never healthy. */
  deleting: boolean;
}

/** The controller's view of a budget (PodDisruptionBudgetStatus). */
export interface PdbStatus {
  expectedPods: number;
  desiredHealthy: number;
  currentHealthy: number;
  disruptionsAllowed: number;
}

/** The API server's answer to one eviction. */
export interface EvictionAnswer {
  result: "accepted" | "refused" | "error";
  status: number;
  message: string;
}

/** How long an evicted pod counts as disrupted though not yet seen deleting (controller's DeletionTimeout). */
export const DISRUPTED_POD_TIMEOUT_MS = 2 * 60_000;
/** The API's words for a 429 (the same on policy/v1beta1 and policy/v1). */
export const EVICTION_REFUSED_MESSAGE = "Cannot evict pod as it would violate the pod's disruption budget.";

/** intstr.GetScaledValueFromIntOrPercent with roundUp = true, as the disruption controller calls it. */
export function scaledValue(value: number | string, total: number): number {
  if (typeof value === "number") return value;
  const m = /^(\d+)%$/.exec(value);
  if (!m) throw new Error(`invalid int-or-percent ${JSON.stringify(value)}`);
  return Math.ceil((Number(m[1]) * total) / 100);
}

/**
 * The expected pod count and the desired healthy count. `scale` is the owning controllers' replicas
 * (getExpectedScale); an integer minAvailable counts the pods that exist instead.
 */
export function expectedAndDesired(spec: PdbSpecValues, podCount: number, scale: number): [number, number] {
  if (spec.maxUnavailable !== undefined) {
    return [scale, Math.max(0, scale - scaledValue(spec.maxUnavailable, scale))];
  }
  if (typeof spec.minAvailable === "number") return [podCount, spec.minAvailable];
  if (spec.minAvailable !== undefined) return [scale, scaledValue(spec.minAvailable, scale)];
  return [podCount, 0];
}

/**
 * The budget's status now. `disrupted` maps pods whose eviction was accepted to when (the status's
 * disruptedPods): they are not healthy until the timeout even before they show a deletionTimestamp.
 */
export function pdbStatus(
  spec: PdbSpecValues,
  pods: readonly BudgetPod[],
  scale: number,
  disrupted: ReadonlyMap<string, number>,
  now: number,
): PdbStatus {
  const [expectedPods, desiredHealthy] = expectedAndDesired(spec, pods.length, scale);
  let currentHealthy = 0;
  for (const p of pods) {
    if (p.deleting) continue;
    const at = disrupted.get(p.name);
    if (at !== undefined && at + DISRUPTED_POD_TIMEOUT_MS > now) continue;
    if (p.ready) currentHealthy++;
  }
  const allowed = currentHealthy - desiredHealthy;
  return {
    expectedPods,
    desiredHealthy,
    currentHealthy,
    disruptionsAllowed: expectedPods <= 0 || allowed <= 0 ? 0 : allowed,
  };
}

/**
 * The eviction subresource's answer for `pod` under the budget's current status. An accepted eviction
 * of a ready pod uses one allowed disruption: the caller records it in `disrupted`.
 */
export function evictionAnswer(pod: BudgetPod, status: PdbStatus, pdbName: string): EvictionAnswer {
  // A pod already terminating is deleted again without consulting the budget.
  if (pod.deleting) return { result: "accepted", status: 201, message: "pod already terminating" };
  // An unready pod may go while the budget is met (IfHealthyBudget, the default policy).
  if (!pod.ready && status.currentHealthy >= status.desiredHealthy && status.desiredHealthy > 0) {
    return { result: "accepted", status: 201, message: "unhealthy pod evicted: the budget is met" };
  }
  if (status.disruptionsAllowed > 0) return { result: "accepted", status: 201, message: "evicted" };
  return {
    result: "refused",
    status: 429,
    message:
      `${EVICTION_REFUSED_MESSAGE} The disruption budget ${pdbName} needs ${status.desiredHealthy} healthy ` +
      `pods and has ${status.currentHealthy} currently`,
  };
}
