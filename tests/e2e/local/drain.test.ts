// Voluntary disruptions on the local runtime (issue 15): a node drain with and without a
// PodDisruptionBudget, a preStop too short, a rollout with maxUnavailable 0 vs 50 %, for a graceful
// style (exec-form + preStop) and a broken one (shell-form: SIGTERM never reaches the app). Every
// assertion states what was measured on this backend; the README's "Validate a node drain" table
// comes from the same fixtures (results/e2e-local/drain).
import { describe, expect, it } from "vitest";
import type { ScenarioResult } from "../../../src/runner/run.js";
import { minReadyOver } from "../../../src/verdict/voluntary.js";
import { cli, runContainers } from "./cli.js";
import { runFixture } from "./helpers.js";

const run = (name: string) => runFixture(`drain/${name}`, "drain");

/** The run completed, every request is accounted for, and the fixture's own expectations hold. */
function expectCompleted(r: ScenarioResult): void {
  expect(r.error, r.error).toBeUndefined();
  expect(r.status).not.toBe("error");
  const load = r.load!;
  expect(load.sent).toBe(load.succeeded + load.failed + load.inFlightAtEnd);
  expect(r.verdicts.filter((v) => !v.pass)).toEqual([]);
}

function minReady(r: ScenarioResult): number | undefined {
  return minReadyOver(r.readyEndpoints ?? [], r.load!.startedAt, r.load!.endedAt)?.min;
}

/** Every pod on the drained node evicted, gone, judged; the node uncordoned at teardown. */
function expectDrained(r: ScenarioResult) {
  const drain = r.voluntary?.drain;
  expect(drain).toBeDefined();
  expect(drain!.timedOut).toBe(false);
  expect(drain!.finishedAt).toBeGreaterThan(drain!.cordonedAt);
  expect(drain!.uncordonedAt).toBeGreaterThanOrEqual(drain!.finishedAt!);
  // Every pod of the node was disrupted and each one is judged (one exit verdict per pod).
  expect(r.pods.map((p) => p.pod).sort()).toEqual([...drain!.pods].sort());
  for (const p of r.pods) expect(p.node).toBe(drain!.node);
  expect(r.verdicts.filter((v) => v.name.startsWith("exit (")).length).toBe(r.pods.length);
  for (const p of r.pods) expect(p.exercise?.status).toBe("exercised");
  const accepted = r.voluntary!.evictions.filter((e) => e.result === "accepted").map((e) => e.pod);
  expect(accepted.sort()).toEqual([...drain!.pods].sort());
  return drain!;
}

describe("drain with a PodDisruptionBudget minAvailable 2 of 3", () => {
  it("exec-form + preStop: nothing dropped, never fewer than 2 ready endpoints, a refusal retried", async () => {
    const r = await run("drain-exec-form-pdb");
    expectCompleted(r);
    const drain = expectDrained(r);
    expect(r.load!.failed).toBe(0);
    expect(minReady(r)).toBe(2);
    for (const p of r.pods) expect([p.exitCode, p.sigkilled]).toEqual([0, false]);
    // Two pods on the node: the second is refused (429) until the first one's replacement is ready.
    if (drain.pods.length === 2) {
      const refused = r.voluntary!.evictions.filter((e) => e.result === "refused");
      expect(refused.length).toBeGreaterThanOrEqual(1);
      expect(refused[0]!.status).toBe(429);
      expect(refused[0]!.message).toMatch(/^Cannot evict pod as it would violate the pod's disruption budget\./);
    }
  });

  it("shell-form: the PDB holds the endpoints, yet every pod is SIGKILLed and requests are lost", async () => {
    const r = await run("drain-shell-form-pdb");
    expectCompleted(r);
    expectDrained(r);
    expect(r.load!.failed).toBeGreaterThan(0);
    expect(minReady(r)).toBe(2);
    for (const p of r.pods) expect([p.exitCode, p.sigkilled]).toEqual([137, true]);
  });

  it("a preStop shorter than the endpoint propagation: SIGTERM closes the listener while it is still routed", async () => {
    const r = await run("drain-exec-form-prestop-short");
    expectCompleted(r);
    expectDrained(r);
    expect(minReady(r)).toBe(2);
    // Measured 2 and 8 lost: the budget held, the short preStop did not.
    expect(r.load!.failed).toBeGreaterThan(0);
    for (const p of r.pods) expect([p.exitCode, p.sigkilled]).toEqual([0, false]);
  });
});

describe("drain without a PodDisruptionBudget (4 replicas, 2 per node)", () => {
  it("exec-form + preStop: both pods of the node evicted at once, 2 ready endpoints left, nothing dropped", async () => {
    const r = await run("drain-exec-form-no-pdb");
    expectCompleted(r);
    const drain = expectDrained(r);
    expect(drain.pods).toHaveLength(2);
    expect(r.voluntary!.evictions.every((e) => e.result === "accepted" && e.attempt === 1)).toBe(true);
    expect(minReady(r)).toBe(2);
    expect(r.load!.failed).toBe(0);
  });

  it("shell-form: the same drain loses requests at each SIGKILL", async () => {
    const r = await run("drain-shell-form-no-pdb");
    expectCompleted(r);
    expectDrained(r);
    expect(minReady(r)).toBe(2);
    expect(r.load!.failed).toBeGreaterThan(0);
    for (const p of r.pods) expect(p.sigkilled).toBe(true);
  });
});

describe("a budget that can never be met (minAvailable 3 of 3)", () => {
  it("the drain times out with the reason, evicts nothing, and the node is uncordoned", async () => {
    // Bad input, kept out of the shipped fixtures (it never passes): tests/fixtures.
    const r = await runFixture("../../tests/fixtures/drain-pdb-unsatisfiable", "drain");
    expect(r.error, r.error).toBeUndefined();
    const drain = r.voluntary!.drain!;
    expect(drain.timedOut).toBe(true);
    expect(drain.finishedAt).toBeUndefined();
    expect(drain.timeoutReason).toMatch(
      /PodDisruptionBudget drain-pdb-unsatisfiable-pdb allowed no disruption for 4 s/,
    );
    expect(drain.uncordonedAt).toBeDefined();
    expect(r.pods).toEqual([]);
    expect(r.voluntary!.evictions.every((e) => e.result === "refused")).toBe(true);
    const verdict = r.verdicts.find((v) => v.name.startsWith("drain of"));
    expect(verdict).toMatchObject({ pass: false, actual: "timed out" });
    expect(r.status).not.toBe("pass");
  });

  it("drain with local.nodes 1: a clear error before anything starts, exit 2", async () => {
    const c = await cli(["run", "tests/fixtures/drain-one-node.yaml"]);
    expect(c.exitCode).toBe(2);
    expect(c.stderr).toMatch(/drain-one-node\.yaml: local\.nodes: a drain needs at least 2 nodes/);
    expect(c.stderr).not.toContain("deploying");
    expect(await runContainers("drain-one-node")).toEqual([]);
  });
});

describe("rollout of 4 replicas, maxSurge 1", () => {
  it("maxUnavailable 0 keeps every endpoint ready; 50 % lets two go at once", async () => {
    const zero = await run("rollout-exec-form-max-unavailable-0");
    const half = await run("rollout-exec-form-max-unavailable-50");
    for (const r of [zero, half]) {
      expectCompleted(r);
      expect(r.pods).toHaveLength(4);
      expect(r.load!.failed).toBe(0);
    }
    expect(minReady(zero)).toBe(4);
    expect(minReady(half)).toBe(2);
  });

  it("shell-form: every old pod SIGKILLed, requests lost whatever the strategy", async () => {
    for (const name of ["rollout-shell-form-max-unavailable-0", "rollout-shell-form-max-unavailable-50"]) {
      const r = await run(name);
      expectCompleted(r);
      expect(r.pods).toHaveLength(4);
      for (const p of r.pods) expect(p.sigkilled).toBe(true);
      expect(r.load!.failed).toBeGreaterThan(0);
    }
  });
});
