// The local runtime's node model and voluntary disruptions, without containers: placement, the
// eviction API's answers through the PodDisruptionBudget arithmetic, drain's course and its timeout,
// the Deployment controller's rolling-update moves, the ready-endpoints series.
import { describe, expect, it } from "vitest";
import { LocalCluster } from "../../src/backends/local/cluster.js";
import { chooseNode, LocalNodes, localScenarioProblem } from "../../src/backends/local/nodes.js";
import { fenceposts, rolloutMoves } from "../../src/backends/local/rollout.js";
import {
  drainNode,
  type EvictionTarget,
  LocalEvictionApi,
  type LocalPod,
  ReadyEndpointsSeries,
} from "../../src/backends/local/voluntary.js";
import { defaultLoadWindowSeconds } from "../../src/k8s/load-job.js";
import { EVICTION_REFUSED_MESSAGE } from "../../src/k8s/pdb.js";
import type { TimelineEvent } from "../../src/model/events.js";
import type { ObservedPodOutcome } from "../../src/model/pod-outcome.js";
import { timeLimits } from "../../src/runner/limits.js";
import { disruptionBudgetSeconds } from "../../src/scenario/disruption-time.js";
import { parseScenario } from "../../src/scenario/load.js";

/** Pods that end `endMs` after their eviction; a replacement becomes ready `replaceMs` after it. */
function fakeCluster(names: string[], o: { endMs: number; replaceMs?: number }) {
  const pods = new Map<string, LocalPod>(names.map((name) => [name, { name, ready: true, deleting: false }]));
  let next = names.length;
  const target: EvictionTarget = {
    pods: () => [...pods.values()],
    evict: (name) => {
      const p = pods.get(name) as LocalPod;
      p.deleting = true;
      if (o.replaceMs !== undefined) {
        const fresh: LocalPod = { name: `new-${next++}`, ready: false, deleting: false };
        pods.set(fresh.name, fresh);
        setTimeout(() => {
          fresh.ready = true;
        }, o.replaceMs);
      }
      const deleteAt = Date.now();
      return new Promise<ObservedPodOutcome>((resolve) =>
        setTimeout(() => {
          pods.delete(name);
          resolve({ pod: name, pid1Cmdline: "x", deleteAt, goneAt: Date.now(), sigkilled: false, notes: [] });
        }, o.endMs),
      );
    },
  };
  return { target, pods };
}

describe("local nodes", () => {
  it("places each new pod on the schedulable node with the fewest, never on a cordoned one", () => {
    const nodes = new LocalNodes(2, "spread");
    expect(["a", "b", "c"].map((p) => nodes.place(p))).toEqual(["local-node-1", "local-node-2", "local-node-1"]);
    expect(nodes.podsOn("local-node-1")).toEqual(["a", "c"]);
    nodes.cordon("local-node-2");
    expect(nodes.place("d")).toBe("local-node-1");
    nodes.cordon("local-node-1");
    expect(() => nodes.place("e")).toThrow(/0\/2 nodes are available: 2 node\(s\) were unschedulable/);
    const uncordoned = nodes.uncordonAll(123);
    expect(uncordoned.map((r) => [r.node, r.uncordonedAt])).toEqual([
      ["local-node-2", 123],
      ["local-node-1", 123],
    ]);
    expect(chooseNode("any", ["n1", "n2"], new Map([["n1", 2]]), new Set())).toBe("n2");
  });

  it("refuses a drain on one node, or of a node that does not exist, before anything starts", () => {
    const yaml = (extra: string) =>
      `name: d\nimage: { style: exec-form }\nreplicas: 3\ndisruption: { action: drain${extra} }\n`;
    const one = parseScenario("d.yaml", `${yaml("")}local: { nodes: 1 }\n`).scenario;
    expect(localScenarioProblem(one)).toMatch(/^local\.nodes: a drain needs at least 2 nodes.*got 1/);
    const named = parseScenario("d.yaml", yaml(", node: worker7")).scenario;
    expect(localScenarioProblem(named)).toMatch(
      /disruption\.node: "worker7" is not a local node.*local-node-1, local-node-2/,
    );
    expect(localScenarioProblem(parseScenario("d.yaml", yaml("")).scenario)).toBeUndefined();
  });
});

describe("local eviction API (the API server's PDB arithmetic)", () => {
  it("minAvailable 2 of 3: the first eviction accepted, the second refused with 429 and the API's message", () => {
    const { target } = fakeCluster(["a", "b", "c"], { endMs: 10 });
    const api = new LocalEvictionApi(target, 3, { name: "web-pdb", spec: { minAvailable: 2 } });
    expect(api.call("a", 1).answer).toMatchObject({ result: "accepted", status: 201 });
    const refused = api.call("b", 1).answer;
    expect(refused).toMatchObject({ result: "refused", status: 429 });
    expect(refused.message).toContain(EVICTION_REFUSED_MESSAGE);
    expect(api.call("gone", 1).answer).toMatchObject({ result: "error", status: 404 });
    expect(api.attempts.map((a) => [a.pod, a.result])).toEqual([
      ["a", "accepted"],
      ["b", "refused"],
      ["gone", "error"],
    ]);
  });

  it("without a budget every eviction is accepted", () => {
    const { target } = fakeCluster(["a", "b"], { endMs: 10 });
    const api = new LocalEvictionApi(target, 2, undefined);
    expect([api.call("a", 1).answer.result, api.call("b", 1).answer.result]).toEqual(["accepted", "accepted"]);
  });
});

describe("drain", () => {
  it("retries a refused eviction until the replacement is ready, then finishes (never below minAvailable)", async () => {
    const { target } = fakeCluster(["a", "b", "c"], { endMs: 20, replaceMs: 30 });
    const nodes = new LocalNodes(2, "spread");
    for (const p of ["a", "b", "c"]) nodes.place(p);
    const api = new LocalEvictionApi(target, 3, { name: "pdb", spec: { minAvailable: 2 } });
    const { drain, outcomes } = await drainNode(api, nodes, {
      node: "local-node-1",
      chosenBecause: "test",
      retryMs: 50,
      timeoutMs: 2000,
    });
    expect(drain.pods).toEqual(["a", "c"]);
    expect(drain.timedOut).toBe(false);
    expect(drain.finishedAt).toBeGreaterThanOrEqual(drain.cordonedAt);
    expect(outcomes.map((o) => o.pod).sort()).toEqual(["a", "c"]);
    const refusals = api.attempts.filter((a) => a.result === "refused");
    expect(refusals.length).toBeGreaterThanOrEqual(1);
    expect(api.attempts.filter((a) => a.result === "accepted").map((a) => a.pod)).toEqual(["a", "c"]);
  });

  it("a budget that can never be met: the drain times out with the reason, it does not hang", async () => {
    const { target } = fakeCluster(["a", "b", "c"], { endMs: 10, replaceMs: 10 });
    const nodes = new LocalNodes(2, "spread");
    for (const p of ["a", "b", "c"]) nodes.place(p);
    const api = new LocalEvictionApi(target, 3, { name: "web-pdb", spec: { minAvailable: 3 } });
    const started = Date.now();
    const { drain, outcomes } = await drainNode(api, nodes, {
      node: "local-node-1",
      chosenBecause: "test",
      retryMs: 40,
      timeoutMs: 200,
    });
    expect(Date.now() - started).toBeLessThan(1500);
    expect(outcomes).toEqual([]);
    expect(drain.timedOut).toBe(true);
    expect(drain.finishedAt).toBeUndefined();
    expect(drain.timeoutReason).toMatch(
      /^the PodDisruptionBudget web-pdb allowed no disruption for 0\.2 s: a, c not evicted \(last answer: 429 Cannot evict/,
    );
  });
});

describe("rolling update (the Deployment controller's moves)", () => {
  it("resolves the fenceposts as the controller does", () => {
    expect(fenceposts(undefined, 3)).toEqual({ maxSurge: 1, maxUnavailable: 0 });
    expect(fenceposts(undefined, 4)).toEqual({ maxSurge: 1, maxUnavailable: 1 });
    expect(fenceposts({ maxSurge: 0, maxUnavailable: 0 }, 4)).toEqual({ maxSurge: 0, maxUnavailable: 1 });
    expect(fenceposts({ maxSurge: 1, maxUnavailable: "50%" }, 3)).toEqual({ maxSurge: 1, maxUnavailable: 1 });
  });

  it("maxUnavailable 0 deletes nothing before a new pod is available; 50% deletes at once", () => {
    const view = { replicas: 4, old: 4, created: 0, newAvailable: 0 };
    expect(rolloutMoves(fenceposts({ maxSurge: 1, maxUnavailable: 0 }, 4), view)).toEqual({ create: 1, remove: 0 });
    expect(rolloutMoves(fenceposts({ maxSurge: 1, maxUnavailable: "50%" }, 4), view)).toEqual({ create: 1, remove: 2 });
    // One new pod available: maxUnavailable 0 may now delete one old pod.
    const next = { replicas: 4, old: 4, created: 1, newAvailable: 1 };
    expect(rolloutMoves(fenceposts({ maxSurge: 1, maxUnavailable: 0 }, 4), next)).toEqual({ create: 0, remove: 1 });
  });
});

describe("a rollout's strategy on local: the scenario's fields over the workload's own", () => {
  /** The moves of a rollout's first tick (a, b, ...: `replicas` old pods; new pods ready at once). */
  const firstTick = async (replicas: number, yaml: string, own?: object) => {
    const scenario = parseScenario(
      "r.yaml",
      `name: r\nimage: { style: exec-form }\nreplicas: ${replicas}\ndisruption: { action: rollout, atSeconds: 0${yaml} }\n`,
    ).scenario;
    const cluster = new LocalCluster(scenario);
    if (own) cluster.useManifestWorkload({ apiVersion: "apps/v1", kind: "Deployment", spec: own } as never);
    const moves: Array<{ what: string; at: number }> = [];
    let n = 0;
    const ops = {
      start: async () => {
        moves.push({ what: "start", at: Date.now() });
        return { name: `new-${n++}`, readyAt: Date.now() };
      },
      terminate: async (pod: string) => {
        moves.push({ what: `terminate ${pod}`, at: Date.now() });
        return { pod, pid1Cmdline: "x", deleteAt: Date.now(), goneAt: Date.now(), sigkilled: false, notes: [] };
      },
    };
    const d = scenario.disruption;
    if (d.action !== "rollout") throw new Error("a rollout scenario");
    const { target } = fakeCluster(["a", "b", "c", "d"].slice(0, replicas), { endMs: 1 });
    await cluster.disrupt(d, target, ops, undefined);
    // One tick's moves are made at once; the next tick comes 50 ms later.
    return moves.filter((m) => m.at - (moves[0]?.at ?? 0) < 25).map((m) => m.what);
  };

  it("graceful-e2e's own Deployment surges first (maxSurge 1, maxUnavailable 0) unless the scenario says otherwise", async () => {
    expect(await firstTick(2, "")).toEqual(["start"]);
    expect(await firstTick(2, ", strategy: { maxSurge: 0, maxUnavailable: 1 }")).toEqual(["terminate b"]);
  });

  it("a manifests Deployment keeps its own maxSurge 0 / maxUnavailable 1 where the scenario sets only minReadySeconds", async () => {
    const own = { strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } } };
    expect(await firstTick(2, ", strategy: { minReadySeconds: 0 }", own)).toEqual(["terminate b"]);
    // The scenario's field wins where it sets one: maxSurge 1 over the manifests' 0 (their maxUnavailable 1 kept).
    expect(await firstTick(2, ", strategy: { maxSurge: 1 }", own)).toEqual(["start", "terminate b"]);
  });

  it("manifests silent on the strategy: Kubernetes' 25 % / 25 %, not graceful-e2e's own", async () => {
    // 4 replicas: surge 1, unavailable 1 → one new pod and one old pod deleted at once.
    expect(await firstTick(4, ", strategy: { minReadySeconds: 0 }", {})).toEqual(["start", "terminate d"]);
    expect(await firstTick(4, ", strategy: { minReadySeconds: 0 }")).toEqual(["start"]);
  });
});

describe("ready endpoints series", () => {
  it("a sample per change; a deleting pod still in the rules counts as terminating, not ready", () => {
    const s = new ReadyEndpointsSeries();
    s.sample(["a", "b"], new Set(), 1);
    s.sample(["a", "b"], new Set(), 2);
    s.sample(["a", "b"], new Set(["a"]), 3);
    s.sample(["b"], new Set(["a"]), 4);
    expect(s.samples()).toEqual([
      { at: 1, ready: 2, terminating: 0 },
      { at: 3, ready: 1, terminating: 1 },
      { at: 4, ready: 1, terminating: 0 },
    ]);
  });
});

describe("time limits of a voluntary disruption", () => {
  it("evict and drain may retry for timeoutSeconds before the last pod's grace: the limits leave room for it", () => {
    const yaml = (d: string) =>
      `name: d\nimage: { style: exec-form }\nreplicas: 3\nterminationGracePeriodSeconds: 8\ndisruption: ${d}\n`;
    const drain = parseScenario("d.yaml", yaml("{ action: drain, timeoutSeconds: 100 }")).scenario;
    const del = parseScenario("d.yaml", yaml("{ action: delete }")).scenario;
    expect(disruptionBudgetSeconds(drain)).toBe(100 + 8 + 2 + 30);
    expect(disruptionBudgetSeconds(del)).toBe(8 + 2 + 30);
    expect(timeLimits(drain).scenario).toBeGreaterThan(100_000 + 40_000);
    expect(defaultLoadWindowSeconds(drain)).toBeGreaterThan(140);
  });
});

describe("teardown mid-drain (Ctrl-C)", () => {
  it("stops the evictions at once and uncordons the node, on the drain's record and the timeline", async () => {
    const scenario = parseScenario(
      "d.yaml",
      "name: d\nimage: { style: exec-form }\nreplicas: 3\npdb: { minAvailable: 3 }\n" +
        "disruption: { action: drain, retryIntervalSeconds: 1, timeoutSeconds: 60 }\n",
    ).scenario;
    const cluster = new LocalCluster(scenario);
    const { target } = fakeCluster(["a", "b", "c"], { endMs: 10 });
    for (const p of ["a", "b", "c"]) cluster.nodes.place(p);
    const noRollout = {
      start: () => Promise.reject(new Error("no")),
      terminate: () => Promise.reject(new Error("no")),
    };
    const started = Date.now();
    const d = scenario.disruption;
    if (d.action !== "drain") throw new Error("a drain scenario");
    const running = cluster.disrupt(d, target, noRollout, undefined);
    await new Promise((r) => setTimeout(r, 100));
    const events: TimelineEvent[] = [];
    cluster.teardown({ record: (e) => events.push(e) });
    const outcome = await running;
    expect(Date.now() - started).toBeLessThan(2000);
    const drain = outcome.voluntary?.drain;
    expect(drain?.finishedAt).toBeUndefined();
    expect(drain?.uncordonedAt).toBeGreaterThanOrEqual(drain?.cordonedAt ?? Number.POSITIVE_INFINITY);
    expect(events.map((e) => e.detail?.reason)).toEqual(["NodeSchedulable"]);
    // What happened up to the teardown, on the record: interrupted, every pod's answer so far.
    expect(drain).toMatchObject({ interrupted: true, timedOut: false });
    expect(drain?.timeoutReason).toMatch(
      /^the run ended 0\.\d s after the cordon, before the drain did: refused \(429\) [abc], [abc]$/,
    );
    expect(outcome.voluntary?.evictions.map((e) => e.result)).toEqual(["refused", "refused"]);
    // The record the runner takes when the run ends first is the same live object.
    expect(cluster.voluntaryRecord()).toBe(outcome.voluntary);
  });
});
