import { describe, expect, it } from "vitest";
import {
  type BudgetPod,
  DISRUPTED_POD_TIMEOUT_MS,
  EVICTION_REFUSED_MESSAGE,
  evictionAnswer,
  expectedAndDesired,
  pdbStatus,
  scaledValue,
} from "../../src/k8s/pdb.js";

const ready = (name: string): BudgetPod => ({ name, ready: true, deleting: false });

describe("PodDisruptionBudget arithmetic (the disruption controller's and the eviction subresource's)", () => {
  it("scales percentages rounding up, as the controller does", () => {
    expect(scaledValue("50%", 3)).toBe(2);
    expect(scaledValue("25%", 2)).toBe(1);
    expect(scaledValue("0%", 5)).toBe(0);
    expect(scaledValue(2, 10)).toBe(2);
    expect(() => scaledValue("half", 2)).toThrow(/int-or-percent/);
  });

  it("an integer minAvailable counts the pods that exist; a percentage and maxUnavailable the controller's scale", () => {
    expect(expectedAndDesired({ minAvailable: 2 }, 4, 3)).toEqual([4, 2]);
    expect(expectedAndDesired({ minAvailable: "50%" }, 4, 3)).toEqual([3, 2]);
    expect(expectedAndDesired({ maxUnavailable: 1 }, 4, 3)).toEqual([3, 2]);
    expect(expectedAndDesired({ maxUnavailable: "50%" }, 3, 3)).toEqual([3, 1]);
    expect(expectedAndDesired({ maxUnavailable: 5 }, 3, 3)).toEqual([3, 0]);
  });

  it("3 ready replicas, minAvailable 2: one eviction accepted, the next refused with 429 until a pod is ready again", () => {
    const pods = [ready("a"), ready("b"), ready("c")];
    const disrupted = new Map<string, number>();
    const s1 = pdbStatus({ minAvailable: 2 }, pods, 3, disrupted, 0);
    expect(s1).toEqual({ expectedPods: 3, desiredHealthy: 2, currentHealthy: 3, disruptionsAllowed: 1 });
    expect(evictionAnswer(pods[0] as BudgetPod, s1, "web").result).toBe("accepted");
    disrupted.set("a", 0);
    const s2 = pdbStatus({ minAvailable: 2 }, pods, 3, disrupted, 1000);
    expect(s2.disruptionsAllowed).toBe(0);
    const refused = evictionAnswer(pods[1] as BudgetPod, s2, "web");
    expect(refused).toMatchObject({ result: "refused", status: 429 });
    expect(refused.message).toContain(EVICTION_REFUSED_MESSAGE);
    expect(refused.message).toContain("needs 2 healthy pods and has 2 currently");
    // The evicted pod counts as disrupted only until the controller's timeout.
    const late = pdbStatus({ minAvailable: 2 }, pods, 3, disrupted, DISRUPTED_POD_TIMEOUT_MS + 1);
    expect(late.disruptionsAllowed).toBe(1);
  });

  it("terminating pods are never healthy; an unready pod may go while the budget is met", () => {
    const pods: BudgetPod[] = [ready("a"), ready("b"), { name: "c", ready: false, deleting: false }];
    const s = pdbStatus({ minAvailable: 2 }, pods, 3, new Map(), 0);
    expect(s).toMatchObject({ currentHealthy: 2, disruptionsAllowed: 0 });
    expect(evictionAnswer(pods[2] as BudgetPod, s, "web").result).toBe("accepted");
    expect(evictionAnswer(pods[0] as BudgetPod, s, "web").result).toBe("refused");
    const deleting = pdbStatus(
      { minAvailable: 1 },
      [ready("a"), { name: "b", ready: true, deleting: true }],
      2,
      new Map(),
      0,
    );
    expect(deleting.currentHealthy).toBe(1);
  });

  it("a budget that can never be met (minAvailable ≥ replicas) allows no disruption", () => {
    const pods = [ready("a"), ready("b"), ready("c")];
    const s = pdbStatus({ minAvailable: 3 }, pods, 3, new Map(), 0);
    expect(s.disruptionsAllowed).toBe(0);
    expect(evictionAnswer(pods[0] as BudgetPod, s, "web").status).toBe(429);
  });
});
