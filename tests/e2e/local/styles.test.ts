// One scenario per entrypoint style, with and without a preStop sleep, on the local runtime
// (real containers, real signals). Every assertion states behaviour measured on this backend;
// the README's table comes from the same fixtures.
import { describe, expect, it } from "vitest";
import type { ScenarioResult } from "../../../src/runner/run.js";
import { at, entries, failures, runFixture } from "./helpers.js";

const GRACE_MS = 8000;

function expectCompleted(r: ScenarioResult) {
  expect(r.error, r.error).toBeUndefined();
  expect(r.backend).toBe("local");
  expect(r.pods).toHaveLength(1);
  // The fixture's own expectations (written from the same measurements) hold too.
  expect(r.verdicts.filter((v) => !v.pass)).toEqual([]);
  // Every request is accounted for.
  const load = r.load!;
  expect(load.sent).toBe(load.succeeded + load.failed + load.inFlightAtEnd);
  return { pod: r.pods[0]!, load };
}

/** Styles where SIGTERM reaches the app: it drains and exits 0 by itself. */
function expectGraceful(r: ScenarioResult, roles: string[], preStopMs: number) {
  const { pod } = expectCompleted(r);
  expect(pod.sigkilled).toBe(false);
  expect(pod.exitCode).toBe(0);
  expect(pod.processes.map((p) => p.role).sort()).toEqual(roles);
  for (const p of pod.processes) {
    const sigterm = p.signals.find((s) => s.name === "SIGTERM");
    expect(sigterm, `${p.role} logged SIGTERM`).toBeDefined();
    // SIGTERM comes after the preStop hook, never before.
    expect(sigterm!.at - pod.deleteAt).toBeGreaterThanOrEqual(preStopMs - 50);
    expect(sigterm!.at - pod.deleteAt).toBeLessThan(preStopMs + 1000);
    expect(p.exit?.code).toBe(0);
  }
  return pod;
}

/** Styles where SIGTERM never reaches the app: the kubelet SIGKILLs at the end of the grace period. */
function expectKilledAtGraceEnd(r: ScenarioResult, pid1: RegExp) {
  const { pod } = expectCompleted(r);
  expect(pod.pid1Cmdline).toMatch(pid1);
  expect(pod.processes.map((p) => p.role)).toEqual(["app"]);
  expect(pod.processes[0]!.signals).toEqual([]);
  expect(entries(r, "app-drain-start")).toEqual([]);
  expect(pod.sigkilled).toBe(true);
  expect(pod.exitCode).toBe(137);
  const sigkill = at(r, "sigkill-sent")!;
  expect(sigkill).toBeGreaterThanOrEqual(GRACE_MS - 50);
  expect(sigkill).toBeLessThan(GRACE_MS + 1000);
  // The app kept serving its pinned connections until SIGKILL; what was in flight then is lost,
  // and only then.
  const lost = failures(r);
  expect(lost.length).toBeGreaterThan(0);
  for (const f of lost) expect(f.t).toBeGreaterThanOrEqual(sigkill - 100);
  expect(at(r, "last-request-served")).toBeGreaterThan(GRACE_MS - 1000);
}

describe.each([
  { style: "exec-form", pid1: /^node \/app\/server\.js$/, roles: ["app"] },
  { style: "exec", pid1: /^node \/app\/server\.js$/, roles: ["app"] },
  { style: "trap", pid1: /^\/bin\/bash \/app\/entrypoint\.sh$/, roles: ["app-1", "app-2"] },
])("$style: SIGTERM reaches the app", ({ style, pid1, roles }) => {
  it("with a preStop sleep longer than the endpoint propagation: zero failed requests", async () => {
    const r = await runFixture(`${style}-prestop-sleep`);
    const pod = expectGraceful(r, roles, 2000);
    expect(pod.pid1Cmdline).toMatch(pid1);
    expect(r.load!.failed).toBe(0);
    // The endpoint left the Service before SIGTERM, so no new connection met a closed listener.
    expect(at(r, "endpoint-removed")!).toBeLessThan(at(r, "sigterm-sent")!);
  });

  it("without preStop: new connections reach the pod after its listener closed and fail", async () => {
    const r = await runFixture(`${style}-no-prestop`);
    expectGraceful(r, roles, 0);
    const removed = at(r, "endpoint-removed")!;
    const lost = failures(r);
    expect(lost.length).toBeGreaterThan(0);
    // Only in the window between SIGTERM and kube-proxy dropping the endpoint, and only as
    // connection-level failures (Docker's port proxy turns the refusal into a reset or close).
    for (const f of lost) {
      expect(f.t).toBeGreaterThanOrEqual(0);
      expect(f.t).toBeLessThan(removed + 300);
      expect(["reset", "closed", "refused"]).toContain(f.kind);
    }
  });
});

describe.each([
  { style: "shell-form", pid1: /^\/bin\/sh -c node \/app\/server\.js$/ },
  { style: "script", pid1: /^\/bin\/bash \/app\/entrypoint\.sh$/ },
  { style: "no-handler", pid1: /^node \/app\/server\.js$/ },
])("$style: SIGTERM never reaches the app", ({ style, pid1 }) => {
  it("without preStop: SIGKILL at the end of the grace period drops the requests in flight", async () => {
    expectKilledAtGraceEnd(await runFixture(`${style}-no-prestop`), pid1);
  });

  it("with a preStop sleep: the same, the hook does not help", async () => {
    const r = await runFixture(`${style}-prestop-sleep`);
    expectKilledAtGraceEnd(r, pid1);
    expect(at(r, "prestop-end")).toBeGreaterThanOrEqual(1950);
  });
});

describe("tini: forwards SIGTERM to its child only", () => {
  for (const variant of ["no-prestop", "prestop-sleep"] as const) {
    it(`${variant}: the script dies of SIGTERM, tini exits 143, the apps are killed without draining`, async () => {
      const r = await runFixture(`tini-${variant}`);
      const { pod } = expectCompleted(r);
      expect(pod.pid1Cmdline).toMatch(/^tini -- \/app\/entrypoint\.sh$/);
      expect(pod.processes.map((p) => p.role).sort()).toEqual(["app-1", "app-2"]);
      for (const p of pod.processes) {
        expect(p.signals).toEqual([]);
        expect(p.exit).toBeUndefined();
      }
      expect(pod.sigkilled).toBe(false);
      expect(pod.exitCode).toBe(143);
      const sigterm = at(r, "sigterm-sent")!;
      expect(at(r, "container-exit")! - sigterm).toBeLessThan(1000);
      const lost = failures(r);
      expect(lost.length).toBeGreaterThan(0);
      for (const f of lost) expect(f.t).toBeGreaterThanOrEqual(sigterm - 50);
    });
  }
});

describe("tini -g: signals the whole process group", () => {
  for (const variant of ["no-prestop", "prestop-sleep"] as const) {
    it(`${variant}: the apps are killed when bash and tini exit, mid-drain at best`, async () => {
      const r = await runFixture(`tini-group-${variant}`);
      const { pod } = expectCompleted(r);
      expect(pod.pid1Cmdline).toMatch(/^tini -g -- \/app\/entrypoint\.sh$/);
      expect(pod.sigkilled).toBe(false);
      expect(pod.exitCode).toBe(143);
      // Whether an app gets to log SIGTERM before the kernel kills it is a race (seen both ways).
      // app-2 serves no traffic: with no connection to drain it can finish and log exit 0 within
      // a millisecond, before bash and tini are gone (seen in CI). app-1, which holds the load's
      // connections, never finishes its drain: it is killed mid-drain.
      const serving = pod.processes.find((p) => p.role === "app-1");
      expect(serving).toBeDefined();
      expect(serving?.exit).toBeUndefined();
      expect(serving?.drainEnd).toBeUndefined();
      expect(failures(r).length).toBeGreaterThan(0);
    });
  }
});
