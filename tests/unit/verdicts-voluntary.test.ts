import { describe, expect, it } from "vitest";
import type { VoluntaryDisruptionRecord } from "../../src/model/disruption.js";
import { voluntaryEvents } from "../../src/runner/collect.js";
import {
  checkDrainFinished,
  checkMaxDrainSeconds,
  checkMaxEvictionRefusals,
  checkMinReadyEndpoints,
  minReadyOver,
} from "../../src/verdict/voluntary.js";

const series = [
  { at: 0, ready: 3 },
  { at: 5000, ready: 2, terminating: 1 },
  { at: 7000, ready: 3 },
  { at: 9000, ready: 1 },
  { at: 20_000, ready: 0 },
];

const record = (over: Partial<VoluntaryDisruptionRecord> = {}): VoluntaryDisruptionRecord => ({
  evictions: [
    { pod: "a", node: "n1", at: 1000, attempt: 1, result: "accepted", status: 201, message: "evicted" },
    { pod: "b", node: "n1", at: 1001, attempt: 1, result: "refused", status: 429, message: "Cannot evict pod…" },
    { pod: "b", node: "n1", at: 6001, attempt: 2, result: "accepted", status: 201, message: "evicted" },
  ],
  drain: {
    node: "n1",
    chosenBecause: "busiest pod a",
    cordonedAt: 1000,
    pods: ["a", "b"],
    finishedAt: 10_500,
    timedOut: false,
  },
  pdb: { name: "web-pdb", minAvailable: 2 },
  ...over,
});

describe("voluntary disruption verdicts", () => {
  it("the minimum of the ready-endpoints step function over the load window only", () => {
    expect(minReadyOver(series, 2000, 8000)).toEqual({ min: 2, at: 5000, knownFrom: 2000 });
    // The value in force at the window's start counts; the drop to 0 after the window does not.
    expect(minReadyOver(series, 9500, 15_000)).toMatchObject({ min: 1, at: 9500 });
    const pass = checkMinReadyEndpoints(2, series, { from: 2000, to: 8000 });
    expect([pass.pass, pass.actual]).toEqual([true, "2"]);
    const fail = checkMinReadyEndpoints(2, series, { from: 2000, to: 15_000 });
    expect([fail.pass, fail.actual]).toEqual([false, "1"]);
  });

  it("no ready-endpoints series: INCONCLUSIVE, never a pass", () => {
    const v = checkMinReadyEndpoints(2, undefined, { from: 0, to: 1 });
    expect(v).toMatchObject({ pass: false, decidable: false });
    expect(v.inconclusive).toMatch(/not followed/);
  });

  it("drain seconds from the cordon to the last pod gone; a timed-out drain fails with its reason", () => {
    expect(checkMaxDrainSeconds(10, record())).toMatchObject({ pass: true, actual: "9.50 s" });
    expect(checkMaxDrainSeconds(9, record())).toMatchObject({ pass: false });
    const stuck = record({
      drain: {
        node: "n1",
        chosenBecause: "x",
        cordonedAt: 0,
        pods: ["a"],
        timedOut: true,
        timeoutReason: "the PodDisruptionBudget web-pdb allowed no disruption for 8 s",
      },
    });
    const v = checkMaxDrainSeconds(100, stuck);
    expect(v).toMatchObject({ pass: false, actual: "timed out" });
    expect(v.evidence).toContain("allowed no disruption for 8 s");
    expect(checkDrainFinished(stuck)).toMatchObject({ pass: false, actual: "timed out" });
    expect(checkDrainFinished(record())).toMatchObject({ pass: true });
    expect(checkMaxDrainSeconds(10, undefined)).toMatchObject({ decidable: false });
  });

  it("eviction refusals counted from the API's answers", () => {
    expect(checkMaxEvictionRefusals(1, record())).toMatchObject({ pass: true, actual: "1" });
    const v = checkMaxEvictionRefusals(0, record());
    expect(v.pass).toBe(false);
    expect(v.evidence).toContain("2 accepted, 1 refused (429), 0 error(s) under web-pdb");
  });

  it("every eviction and the cordon go on the timeline", () => {
    const events = voluntaryEvents(record());
    expect(events.map((e) => [e.kind, e.pod, e.detail?.result])).toEqual([
      ["eviction", "a", "accepted"],
      ["eviction", "b", "refused"],
      ["eviction", "b", "accepted"],
      ["node-cordoned", undefined, undefined],
    ]);
  });
});
