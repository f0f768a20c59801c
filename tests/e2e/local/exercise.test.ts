// Proven exercise on the local runtime with kube-proxy's real behaviour reproduced: random balancing
// per new connection (iptables mode) and a delay before a newly ready pod joins the Service's rules
// (measured 0.5–1 s on kind, Kubernetes 1.20). What went wrong on a real cluster: every keep-alive
// connection opened while only the first pod was in the rules, keep-alive pinned them there, and the
// harness deleted "the first ready pod by name" — a pod that served nothing — and passed.
import { describe, expect, it } from "vitest";
import { type Backend, type Deployment, type DisruptionPlan, runningWorkload } from "../../../src/backends/backend.js";
import type { ImageLoading } from "../../../src/backends/capabilities.js";
import { LocalBackend } from "../../../src/backends/local/backend.js";
import { runScenario } from "../../../src/runner/run.js";
import { parseScenario } from "../../../src/scenario/load.js";
import type { Disruption } from "../../../src/scenario/schema.js";
import { runInline } from "./helpers.js";

const scenario = (name: string, extra: { load?: string; disruption?: string }) => `
name: ${name}
image: { style: exec-form }
replicas: 2
preStop: { type: sleep, seconds: 2 }
terminationGracePeriodSeconds: 8
load: { connections: 8, durationSeconds: 5, keepAlive: true${extra.load ?? ""} }
disruption: { action: delete, count: 1, atSeconds: 2${extra.disruption ?? ""} }
local: { balancing: random, endpointAddDelayMs: 750, endpointPropagationMs: 1000 }
expectations: { maxFailedRequests: 0, exit: graceful }
`;

/** Keep-alive connections (not the fresh stream) open per pod just before the delete. */
function keepAliveSpread(r: Awaited<ReturnType<typeof runInline>>): number[] {
  const pod = r.pods[0]!;
  const victim = pod.exercise?.openConnectionsAtDelete ?? 0;
  return [victim, 8 - victim];
}

describe("proven exercise (random balancing, 750 ms endpoint add delay)", () => {
  it("yesterday's logic (no warm-up, first pod by name): connections pile onto the first pod in the rules, and a victim that carried nothing is INCONCLUSIVE, never PASS", async () => {
    const r = await runInline(
      scenario("old-logic", {
        load: ", warmUpSeconds: 0, freshConnectionIntervalMs: 0",
        disruption: ", victims: first",
      }),
    );
    expect(r.error, r.error).toBeUndefined();
    const ex = r.pods[0]?.exercise;
    expect(ex).toBeDefined();
    expect(ex!.sources).toContain("service-proxy");
    // The load opened every keep-alive connection while only one pod was in the rules.
    const [onVictim, onOther] = keepAliveSpread(r);
    expect(Math.max(onVictim!, onOther!)).toBe(8);
    if (ex!.status === "exercised") {
      expect(onVictim).toBe(8);
      expect(r.status).toBe("pass");
    } else {
      // The vacuous victim of the old logic: reported, not passed.
      expect(ex!.status).toBe("not-exercised");
      expect(ex!.openConnectionsAtDelete).toBe(0);
      expect(ex!.servedInSecondBeforeDelete).toBe(0);
      expect(r.status).toBe("inconclusive");
      expect(r.pass).toBe(false);
      expect(r.inconclusive?.join(" ")).toContain("NOT exercised");
    }
  });

  it("a disruption of a pod that carried nothing is INCONCLUSIVE even when every verdict holds", async () => {
    // Deliberately delete the idle pod: one keep-alive connection, no fresh stream, no warm-up.
    const local = new LocalBackend();
    const idlest: Backend & ImageLoading = {
      name: "local",
      prepare: (images) => local.prepare(images),
      sweep: (runId) => local.sweep(runId),
      deploy: async (s, image, sink, runId) =>
        runningWorkload(await local.deployRecord(s, image, sink, runId), {
          trafficAttribution: (d) => local.trafficAttribution(d),
          teardown: (d, runId) => local.teardown(d, runId),
          disrupt: idlestDisrupt,
        }),
    };
    const idlestDisrupt = (d: Deployment, disruption: Disruption, _plan?: DisruptionPlan) => {
      const open = new Set(
        local
          .trafficAttribution(d)
          ?.connections.filter((c) => c.pod && c.closedAt === undefined)
          .map((c) => c.pod),
      );
      const idle = d.pods.filter((p) => !open.has(p));
      return local.disrupt(d, disruption, { victims: idle });
    };
    const yaml = scenario("idle-victim", {
      load: ", connections: 1, warmUpSeconds: 0, freshConnectionIntervalMs: 0",
      disruption: ", victims: first",
    }).replace("connections: 8, ", "");
    const r = await runScenario(parseScenario("idle-victim.yaml", yaml), { backend: idlest });
    expect(r.error, r.error).toBeUndefined();
    expect(r.verdicts.every((v) => v.pass)).toBe(true);
    expect(r.pods[0]?.exercise).toMatchObject({
      status: "not-exercised",
      openConnectionsAtDelete: 0,
      servedInSecondBeforeDelete: 0,
    });
    expect(r.status).toBe("inconclusive");
    expect(r.pass).toBe(false);
  });

  it("today's logic (warm-up, busiest victim, fresh connections): every pod answered first, the victim carried traffic, the last new connection routed to it is measured", async () => {
    const r = await runInline(scenario("new-logic", {}));
    expect(r.error, r.error).toBeUndefined();
    expect(r.warmUp).toMatchObject({ complete: true });
    expect(r.warmUp!.answered.sort()).toEqual(r.warmUp!.pods.sort());
    const ex = r.pods[0]!.exercise!;
    expect(ex.status).toBe("exercised");
    expect(ex.openConnectionsAtDelete).toBeGreaterThan(0);
    expect(ex.servedInSecondBeforeDelete).toBeGreaterThan(0);
    // New connections keep reaching the pod until the endpoint leaves the rules (1000 ms here), not after.
    expect(ex.lastNewConnectionMs).toBeGreaterThan(0);
    expect(ex.lastNewConnectionMs).toBeLessThan(1000 + 100);
    expect(ex.newConnectionsAfterDelete).toBeGreaterThan(0);
    // The replacement pod a Deployment starts at the delete took traffic too.
    expect(r.load!.servedBy.length).toBeGreaterThanOrEqual(3);
    expect(r.status).toBe("pass");
  });
});
