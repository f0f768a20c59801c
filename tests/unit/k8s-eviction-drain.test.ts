// Eviction, drain, PodDisruptionBudget objects and placement against a small fake API server speaking the
// wire protocol client-node uses (JSON patch, Status objects). The fake's answers are shaped like the real
// API server's: a 429 is a Status with reason TooManyRequests, the budget's words in details.causes.
import type { IncomingMessage, ServerResponse } from "node:http";
import { CoreV1Api } from "@kubernetes/client-node";
import { beforeEach, describe, expect, it } from "vitest";
import type { RunningWorkload } from "../../src/backends/backend.js";
import {
  assertDrainable,
  CORDONED_BY_LABEL,
  cordon,
  type DrainOptions,
  drainNode,
  uncordon,
  uncordonLeftovers,
} from "../../src/k8s/drain.js";
import { evictionProgress, markDrainInterrupted } from "../../src/k8s/drain-record.js";
import { answerOfError, evictPod } from "../../src/k8s/eviction.js";
import { buildManifests, strategyPatch } from "../../src/k8s/manifests.js";
import { createPdb, pdbObject, pdbRecord } from "../../src/k8s/pdb-object.js";
import { ReadyEndpointsSeries } from "../../src/k8s/ready-endpoints.js";
import { policyVersions } from "../../src/k8s/version.js";
import type { Clock } from "../../src/k8s/wait.js";
import type { DrainRecord, EvictionAttempt } from "../../src/model/disruption.js";
import { planDisruption } from "../../src/runner/steps.js";
import { ScenarioSpec } from "../../src/scenario/schema.js";
import { UsageError } from "../../src/util/errors.js";
import { ownRolloutStrategy, rolloutStrategy } from "../../src/workload/rollout-strategy.js";
import { readBody, refused429, replyJson, useFakeServer } from "./fake-api-server.js";

// biome-ignore lint/suspicious/noExplicitAny: free-form fake API objects
type Obj = Record<string, any>;

const accepted201 = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", code: 201 };

/** Nodes, evictions (answers scripted per pod) and PDB creation; every call and body kept. */
class FakeApi {
  nodes = new Map<string, Obj>();
  /** Per pod: the answers to give, in order; the last one repeats. */
  answers = new Map<string, Obj[]>();
  evictionBodies: Obj[] = [];
  created: Array<{ path: string; body: Obj }> = [];
  calls: string[] = [];
  onAccepted?: (pod: string) => void;

  node(name: string, o: { unschedulable?: boolean; controlPlane?: boolean } = {}): void {
    this.nodes.set(name, {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name, labels: { "kubernetes.io/hostname": name } },
      spec: {
        ...(o.unschedulable ? { unschedulable: true } : {}),
        ...(o.controlPlane ? { taints: [{ key: "node-role.kubernetes.io/master", effect: "NoSchedule" }] } : {}),
      },
    });
  }

  handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://x");
    const p = url.pathname;
    const body = await readBody(req);
    this.calls.push(`${req.method} ${p}`);
    const json = replyJson(res);
    let m: RegExpMatchArray | null = p.match(/^\/api\/v1\/nodes(?:\/([^/]+))?$/);
    if (m) return this.nodesCall(req, m[1], url, body, json);
    m = p.match(/^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/eviction$/);
    if (m && req.method === "POST") {
      const pod = m[2] ?? "";
      this.evictionBodies.push(JSON.parse(body));
      const queue = this.answers.get(pod) ?? [accepted201];
      const answer = (queue.length > 1 ? queue.shift() : queue[0]) as Obj;
      if (answer.code === 201) this.onAccepted?.(pod);
      return json(answer.code, answer);
    }
    m = p.match(/^\/apis\/policy\/(v1|v1beta1)$/);
    if (m) {
      return json(200, {
        kind: "APIResourceList",
        groupVersion: `policy/${m[1]}`,
        resources: [{ name: "poddisruptionbudgets", namespaced: true, kind: "PodDisruptionBudget", verbs: ["create"] }],
      });
    }
    m = p.match(/^\/apis\/policy\/(v1|v1beta1)\/namespaces\/([^/]+)\/poddisruptionbudgets$/);
    if (m && req.method === "POST") {
      const o = JSON.parse(body);
      this.created.push({ path: p, body: o });
      return json(201, o);
    }
    return json(404, { kind: "Status", code: 404, reason: "NotFound", message: `${p} not found` });
  };

  private nodesCall(
    req: IncomingMessage,
    name: string | undefined,
    url: URL,
    body: string,
    json: (code: number, o: unknown) => void,
  ) {
    if (!name) {
      const sel = url.searchParams.get("labelSelector");
      const [k, v] = sel?.split("=") ?? [];
      const items = [...this.nodes.values()].filter(
        (n) => !k || (v === undefined ? n.metadata.labels[k] !== undefined : n.metadata.labels[k] === v),
      );
      return json(200, { kind: "NodeList", apiVersion: "v1", metadata: {}, items });
    }
    const node = this.nodes.get(name);
    if (!node)
      return json(404, { kind: "Status", code: 404, reason: "NotFound", message: `nodes "${name}" not found` });
    if (req.method === "PATCH") {
      expect(req.headers["content-type"]).toBe("application/json-patch+json");
      for (const op of JSON.parse(body) as Array<{ op: string; path: string; value?: unknown }>) {
        const [, a, b, c] = op.path.split("/");
        const key = (c ?? b ?? "").replace(/~1/g, "/").replace(/~0/g, "~");
        const parent = c !== undefined ? node[a as string][b as string] : node[a as string];
        if (op.op === "add") parent[key] = op.value;
        else if (op.op === "remove") {
          if (!(key in parent)) return json(422, { kind: "Status", code: 422, message: "path not found" });
          delete parent[key];
        }
      }
    }
    return json(200, node);
  }
}

/** A clock whose sleep moves time on at once. */
function fakeClock(start = 1_000_000): Clock & { t: number } {
  const c = {
    t: start,
    now: () => c.t,
    sleep: async (ms: number) => {
      c.t += Math.max(0, ms);
      await new Promise((r) => setImmediate(r));
    },
  };
  return c;
}

describe("eviction, drain and PDB objects against a fake API server", () => {
  const fake = new FakeApi();
  const served = useFakeServer(fake.handle);
  let core: CoreV1Api;
  /** One pod's evictions with the defaults of these tests (interval 5 s, timeout 120 s, fake clock). */
  const evict = (o: { version?: "policy/v1" | "policy/v1beta1"; timeoutMs?: number; node?: string } = {}) => {
    const clock = fakeClock();
    const attempts: EvictionAttempt[] = [];
    const result = evictPod("app-1", {
      core,
      namespace: "ns1",
      version: o.version ?? "policy/v1",
      clock,
      retryIntervalMs: 5000,
      deadline: clock.t + (o.timeoutMs ?? 120_000),
      ...(o.node ? { node: o.node } : {}),
      onAttempt: (a) => attempts.push(a),
    });
    return { clock, attempts, result };
  };
  /** drainNode's options with these tests' defaults (node w1, interval 5 s, timeout 60 s, run-1). */
  const drainOptions = (clock: Clock, o: Partial<DrainOptions>): DrainOptions => ({
    core,
    namespace: "ns1",
    node: "w1",
    chosenBecause: "scenario node",
    pods: ["app-1"],
    policy: "policy/v1",
    clock,
    retryIntervalMs: 5000,
    timeoutMs: 60_000,
    runLabel: "run-1",
    gone: () => false,
    changed: () => new Promise(() => {}),
    onAttempt: () => {},
    onCordoned: () => {},
    ...o,
  });
  beforeEach(() => {
    core = served.kc().makeApiClient(CoreV1Api);
    fake.nodes.clear();
    fake.answers.clear();
    fake.evictionBodies = [];
    fake.created = [];
    fake.calls = [];
    fake.onAccepted = undefined;
  });

  it("a 429 is retried every interval and recorded verbatim until the API accepts (policy/v1 body)", async () => {
    fake.answers.set("app-1", [refused429("app", 2, 2), refused429("app", 2, 2), accepted201]);
    const { attempts: seen, result } = evict({ node: "w1" });
    const r = await result;
    expect(r.evicted).toBe(true);
    expect(seen.map((a) => [a.attempt, a.result, a.status, a.at - 1_000_000])).toEqual([
      [1, "refused", 429, 0],
      [2, "refused", 429, 5000],
      [3, "accepted", 201, 10_000],
    ]);
    expect(seen[0]?.message).toBe(
      "Cannot evict pod as it would violate the pod's disruption budget. The disruption budget app needs 2 healthy pods and has 2 currently",
    );
    expect(seen[0]?.node).toBe("w1");
    expect(fake.evictionBodies[0]).toEqual({
      apiVersion: "policy/v1",
      kind: "Eviction",
      metadata: { name: "app-1", namespace: "ns1" },
    });
  });

  it("a budget that never allows: retried until the timeout, then given up with the reason (v1beta1 body)", async () => {
    fake.answers.set("app-1", [refused429("app", 3, 3)]);
    const r = await evict({ version: "policy/v1beta1", timeoutMs: 12_000 }).result;
    expect(r.evicted).toBe(false);
    // t = 0, 5, 10 s; a fourth at 15 s would start after the 12 s timeout.
    expect(r.attempts).toHaveLength(3);
    expect(r.why).toMatch(/^refused 3 time\(s\) \(429: Cannot evict pod .*\) until the timeout$/);
    expect(fake.evictionBodies.every((b) => b.apiVersion === "policy/v1beta1")).toBe(true);
  });

  it("stopped while waiting between refusals (the run's teardown): no call after the stop", async () => {
    fake.answers.set("app-1", [refused429("app", 2, 2)]);
    const stop = new AbortController();
    const clock = fakeClock();
    const stopWhileWaiting: Clock = {
      now: () => clock.now(),
      sleep: async (ms) => {
        await clock.sleep(ms);
        stop.abort();
      },
    };
    const r = await evictPod("app-1", {
      core,
      namespace: "ns1",
      version: "policy/v1",
      clock: stopWhileWaiting,
      retryIntervalMs: 5000,
      deadline: clock.t + 120_000,
      onAttempt: () => {},
      signal: stop.signal,
    });
    expect(r.evicted).toBe(false);
    expect(r.attempts).toHaveLength(1);
    expect(r.why).toMatch(/^refused 1 time\(s\) \(429: .*\); stopped$/);
    expect(fake.evictionBodies).toHaveLength(1);
  });

  it("any other answer is an error, not retried (500: a pod under two budgets)", async () => {
    const message = "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.";
    fake.answers.set("app-1", [{ kind: "Status", status: "Failure", code: 500, reason: "InternalError", message }]);
    const { clock, result } = evict();
    const r = await result;
    expect(r.attempts).toEqual([expect.objectContaining({ result: "error", status: 500, message })]);
    expect(r.why).toBe(`the API answered 500: ${message}`);
    expect(clock.t).toBe(1_000_000);
  });

  it("drain: cordon (labelled with the run) → evict every pod, one refused once → gone → uncordon", async () => {
    fake.node("w1");
    fake.node("w2");
    fake.answers.set("app-2", [refused429("app", 2, 2), accepted201]);
    const gone = new Set<string>();
    fake.onAccepted = (pod) => gone.add(pod);
    const clock = fakeClock();
    let cordonedAt: number | undefined;
    const attempts: EvictionAttempt[] = [];
    const { record, evictions } = await drainNode(
      drainOptions(clock, {
        chosenBecause: "busiest pod app-1",
        pods: ["app-1", "app-2"],
        gone: (p) => gone.has(p),
        onAttempt: (a) => attempts.push(a),
        onCordoned: (started, byUs) => {
          cordonedAt = started.cordonedAt;
          expect(byUs).toBe(true);
          expect(started).toMatchObject({ node: "w1", pods: ["app-1", "app-2"], timedOut: false });
          // The cordon is in place before the first eviction.
          expect(fake.nodes.get("w1")?.spec.unschedulable).toBe(true);
          expect(fake.evictionBodies).toHaveLength(0);
        },
      }),
    );
    expect(cordonedAt).toBe(1_000_000);
    expect(fake.nodes.get("w1")?.metadata.labels[CORDONED_BY_LABEL]).toBe("run-1");
    expect(evictions.map((e) => [e.pod, e.evicted, e.attempts.length])).toEqual([
      ["app-1", true, 1],
      ["app-2", true, 2],
    ]);
    expect(attempts.filter((a) => a.result === "refused")).toHaveLength(1);
    expect(record).toMatchObject({
      node: "w1",
      chosenBecause: "busiest pod app-1",
      pods: ["app-1", "app-2"],
      timedOut: false,
    });
    expect(record.finishedAt).toBeGreaterThanOrEqual(1_005_000);
    expect(fake.nodes.get("w2")?.spec.unschedulable).toBeUndefined();

    await uncordon(core, "w1");
    expect(fake.nodes.get("w1")?.spec.unschedulable).toBe(false);
    expect(fake.nodes.get("w1")?.metadata.labels[CORDONED_BY_LABEL]).toBeUndefined();
    await uncordon(core, "w1"); // twice is fine (the label is no longer removed)
  });

  it("drain under a budget that can never be met: times out with a clear reason, never hangs", async () => {
    fake.node("w1");
    fake.answers.set("app-1", [refused429("app", 3, 3)]);
    const clock = fakeClock();
    const { record } = await drainNode(drainOptions(clock, { timeoutMs: 30_000 }));
    expect(record.timedOut).toBe(true);
    expect(record.finishedAt).toBeUndefined();
    expect(record.timeoutReason).toMatch(
      /^after 30 s 1 of 1 pod\(s\) were still not evicted: app-1 refused 6 time\(s\) \(429: Cannot evict pod as it would violate the pod's disruption budget\. The disruption budget app needs 3 healthy pods and has 3 currently\) until the timeout$/,
    );
    expect(clock.t - 1_000_000).toBeLessThanOrEqual(30_000);
  });

  it("a drain the run's end interrupts: the record made at the cordon says how far it got, and stays so", async () => {
    fake.node("w1");
    fake.answers.set("app-1", [refused429("app", 2, 2)]);
    const stop = new AbortController();
    const clock = fakeClock();
    let started: DrainRecord | undefined;
    const { record } = await drainNode(
      drainOptions(clock, {
        pods: ["app-1", "app-2"],
        onAttempt: (a) => {
          if (a.pod === "app-1" && a.attempt === 2) stop.abort();
        },
        onCordoned: (r) => {
          started = r;
        },
        signal: stop.signal,
      }),
    );
    expect(record).toBe(started);
    expect(record).toMatchObject({ interrupted: true, timedOut: false });
    expect(record.finishedAt).toBeUndefined();
    expect(record.timeoutReason).toBe(
      "the run ended 5.0 s after the cordon, before the drain did: refused (429) app-1 ×2; evicted app-2",
    );
    // Marked once: a later mark (the teardown's) or end leaves it as it is.
    expect(markDrainInterrupted(record, [], clock.t + 9000)).toBe(false);
    expect(record.timeoutReason).toMatch(/^the run ended 5\.0 s after/);
  });

  it("an interrupted drain's words: each pod by its last answer; a drain that ended is never marked", () => {
    const at = (pod: string, attempt: number, result: EvictionAttempt["result"], status: number) =>
      ({ pod, at: 0, attempt, result, status, message: "" }) as EvictionAttempt;
    const progress = evictionProgress(
      ["a", "b", "c", "d"],
      [at("a", 1, "refused", 429), at("a", 2, "accepted", 201), at("b", 1, "error", 500), at("c", 1, "refused", 429)],
    );
    expect(progress).toBe("evicted a; error 500 b; refused (429) c; not yet asked d");
    const ended: DrainRecord = { node: "n", chosenBecause: "x", cordonedAt: 0, pods: ["a"], timedOut: true };
    ended.timeoutReason = "after 30 s ...";
    expect(markDrainInterrupted(ended, [], 1000)).toBe(false);
    expect(ended.interrupted).toBeUndefined();
    const open: DrainRecord = { node: "n", chosenBecause: "x", cordonedAt: 0, pods: [], timedOut: false };
    expect(markDrainInterrupted(open, [], 2500)).toBe(true);
    expect(open.timeoutReason).toBe("the run ended 2.5 s after the cordon, before the drain did: no pod to evict");
  });

  it("a node cordoned before the run is drained but not labelled, and never uncordoned by us", async () => {
    fake.node("w1", { unschedulable: true });
    expect(await cordon(core, "w1", "run-1")).toBe(false);
    expect(fake.calls.filter((c) => c.startsWith("PATCH"))).toEqual([]);
    expect(fake.nodes.get("w1")?.metadata.labels[CORDONED_BY_LABEL]).toBeUndefined();
  });

  it("a scenario node that does not exist: a clear error naming it, nothing patched", async () => {
    await expect(cordon(core, "nope", "run-1")).rejects.toThrow('cannot drain node nope: nodes "nope" not found');
    expect(fake.calls.filter((c) => c.startsWith("PATCH"))).toEqual([]);
  });

  it("clean: every node a run left cordoned is found by its label and uncordoned", async () => {
    fake.node("w1");
    fake.node("w2");
    fake.node("w3");
    await cordon(core, "w1", "run-1");
    await cordon(core, "w3", "run-2");
    expect(await uncordonLeftovers(core, "run-1")).toEqual(["w1"]);
    expect(fake.nodes.get("w3")?.spec.unschedulable).toBe(true);
    expect(await uncordonLeftovers(core)).toEqual(["w3"]);
    expect([...fake.nodes.values()].every((n) => n.spec.unschedulable !== true)).toBe(true);
  });

  it("preflight: a drain on a cluster with one schedulable node is a usage error naming the nodes", async () => {
    fake.node("kind-control-plane", { controlPlane: true });
    fake.node("kind-worker");
    const err = await assertDrainable(core, "the kind cluster").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toContain(
      "needs at least 2 schedulable nodes, the kind cluster has 1 (kind-control-plane (unschedulable), kind-worker)",
    );
    fake.node("kind-worker2");
    await expect(assertDrainable(core, "the kind cluster")).resolves.toBeUndefined();
  });

  it("creates the scenario's PDB in policy/v1 and in policy/v1beta1 (older servers)", async () => {
    const selector = { matchLabels: { app: "a", run: "r" } };
    const base = { namespace: "ns1", labels: { "graceful-e2e": "true" }, selector };
    for (const version of ["policy/v1", "policy/v1beta1"] as const) {
      const obj = pdbObject({ minAvailable: 2 }, { ...base, version });
      await createPdb(served.kc(), obj);
    }
    expect(fake.created.map((c) => c.path)).toEqual([
      "/apis/policy/v1/namespaces/ns1/poddisruptionbudgets",
      "/apis/policy/v1beta1/namespaces/ns1/poddisruptionbudgets",
    ]);
    expect(fake.created[1]?.body).toEqual({
      apiVersion: "policy/v1beta1",
      kind: "PodDisruptionBudget",
      metadata: { name: "app", namespace: "ns1", labels: { "graceful-e2e": "true" } },
      spec: { minAvailable: 2, selector: { matchLabels: { app: "a", run: "r" } } },
    });
    expect(pdbRecord(pdbObject({ maxUnavailable: "50%" }, { ...base, version: "policy/v1" }))).toEqual({
      name: "app",
      maxUnavailable: "50%",
    });
  });
});

describe("policy versions, placement, strategy, ready endpoints (pure)", () => {
  const v = (minor: number) => ({ major: 1, minor, gitVersion: `v1.${minor}.0` });
  const groups = (...versions: string[]) => ({
    groups: [{ name: "policy", versions: versions.map((x) => ({ groupVersion: `policy/${x}`, version: x })) }],
  });

  it("policy/v1beta1 on 1.20; the PDB in v1 from 1.21, the Eviction from 1.22; discovery wins for the PDB", () => {
    expect(policyVersions(v(20))).toEqual({ pdb: "policy/v1beta1", eviction: "policy/v1beta1" });
    expect(policyVersions(v(20), groups("v1beta1"))).toEqual({ pdb: "policy/v1beta1", eviction: "policy/v1beta1" });
    expect(policyVersions(v(21), groups("v1", "v1beta1"))).toEqual({ pdb: "policy/v1", eviction: "policy/v1beta1" });
    expect(policyVersions(v(22))).toEqual({ pdb: "policy/v1", eviction: "policy/v1" });
    expect(policyVersions(v(33), groups("v1"))).toEqual({ pdb: "policy/v1", eviction: "policy/v1" });
  });

  const podSpec = (input: Obj) =>
    buildManifests({
      scenario: ScenarioSpec.parse(input),
      image: "x:1",
      runId: "20300101000000-abcdef",
      preStopSleep: true,
    }).deployment.spec?.template.spec;

  it("drain and evict spread the replicas over the nodes by default; delete does not; anti-affinity on ask", () => {
    const drain = podSpec({ name: "d", image: { style: "exec-form" }, disruption: { action: "drain" } });
    expect(drain?.topologySpreadConstraints).toEqual([
      {
        maxSkew: 1,
        topologyKey: "kubernetes.io/hostname",
        whenUnsatisfiable: "ScheduleAnyway",
        labelSelector: {
          matchLabels: { "app.kubernetes.io/name": "graceful-e2e-app", "graceful-e2e.run": "20300101000000-abcdef" },
        },
      },
    ]);
    expect(
      podSpec({ name: "e", image: { style: "exec-form" }, disruption: { action: "evict" } })?.topologySpreadConstraints,
    ).toHaveLength(1);
    const del = podSpec({ name: "x", image: { style: "exec-form" } });
    expect(del?.topologySpreadConstraints).toBeUndefined();
    expect(del?.affinity).toBeUndefined();
    const anti = podSpec({ name: "a", image: { style: "exec-form" }, placement: "anti-affinity" });
    expect(anti?.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.[0]).toMatchObject({
      weight: 100,
      podAffinityTerm: { topologyKey: "kubernetes.io/hostname" },
    });
    expect(anti?.topologySpreadConstraints).toBeUndefined();
  });

  it("a rollout's strategy becomes JSON-patch ops: the scenario's fields over the Deployment's own", () => {
    // graceful-e2e's own Deployment (maxSurge 1, maxUnavailable 0): the field the scenario leaves keeps its value.
    const image = ownRolloutStrategy(
      buildManifests({
        scenario: ScenarioSpec.parse({ name: "s", image: { style: "exec-form" } }),
        image: "x",
        runId: "r",
        preStopSleep: true,
      }).deployment,
    );
    expect(image).toEqual({ maxSurge: 1, maxUnavailable: 0 });
    expect(strategyPatch({ maxUnavailable: "50%", minReadySeconds: 2 }, image)).toEqual([
      {
        op: "add",
        path: "/spec/strategy",
        value: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: "50%" } },
      },
      { op: "add", path: "/spec/minReadySeconds", value: 2 },
    ]);
    // A user's Deployment: its own maxSurge is kept, not replaced by graceful-e2e's default.
    const own = { maxSurge: "50%", maxUnavailable: 0, minReadySeconds: 5 };
    expect(strategyPatch({ maxUnavailable: 1 }, own)).toEqual([
      {
        op: "add",
        path: "/spec/strategy",
        value: { type: "RollingUpdate", rollingUpdate: { maxSurge: "50%", maxUnavailable: 1 } },
      },
    ]);
    // Manifests silent on the strategy: only the scenario's field; the API's 25 % for the other.
    expect(strategyPatch({ maxSurge: 2 }, {})).toEqual([
      { op: "add", path: "/spec/strategy", value: { type: "RollingUpdate", rollingUpdate: { maxSurge: 2 } } },
    ]);
    expect(strategyPatch({ progressDeadlineSeconds: 60 }, own)).toEqual([
      { op: "add", path: "/spec/progressDeadlineSeconds", value: 60 },
    ]);
    expect(strategyPatch({}, own)).toEqual([]);
  });

  it("a workload's own rolling update: only what its object says (Recreate: none; a StatefulSet: minReadySeconds)", () => {
    const deployment = (spec: Obj) => ({ apiVersion: "apps/v1", kind: "Deployment", spec }) as never;
    expect(
      ownRolloutStrategy(
        deployment({
          strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 0, maxUnavailable: "30%" } },
          minReadySeconds: 4,
          progressDeadlineSeconds: 90,
        }),
      ),
    ).toEqual({ maxSurge: 0, maxUnavailable: "30%", minReadySeconds: 4, progressDeadlineSeconds: 90 });
    expect(ownRolloutStrategy(deployment({ strategy: { rollingUpdate: { maxUnavailable: 0 } } }))).toEqual({
      maxUnavailable: 0,
    });
    expect(ownRolloutStrategy(deployment({ strategy: { type: "Recreate" }, minReadySeconds: 1 }))).toEqual({
      minReadySeconds: 1,
    });
    expect(ownRolloutStrategy(deployment({}))).toEqual({});
    const sts = { apiVersion: "apps/v1", kind: "StatefulSet", spec: { minReadySeconds: 3 } } as never;
    expect(ownRolloutStrategy(sts)).toEqual({ minReadySeconds: 3 });
    expect(rolloutStrategy({ minReadySeconds: 0 }, { maxSurge: 0, minReadySeconds: 3 })).toEqual({
      maxSurge: 0,
      minReadySeconds: 0,
    });
  });

  it("ready endpoints: a sample per change; terminating only where the server reports it", () => {
    const s = new ReadyEndpointsSeries(true);
    s.sample(1, 3, 0);
    s.sample(2, 3, 0);
    s.sample(3, 2, 1);
    s.sample(4, 3, 0);
    expect(s.all()).toEqual([
      { at: 1, ready: 3, terminating: 0 },
      { at: 3, ready: 2, terminating: 1 },
      { at: 4, ready: 3, terminating: 0 },
    ]);
    const old = new ReadyEndpointsSeries(false);
    old.sample(1, 2, 0);
    old.sample(2, 2, 1);
    expect(old.all()).toEqual([{ at: 1, ready: 2 }]);
  });

  it("answerOfError: a network failure is an error with its own words", () => {
    expect(answerOfError(new Error("connect ECONNREFUSED 127.0.0.1:1"))).toEqual({
      result: "error",
      status: 0,
      message: "connect ECONNREFUSED 127.0.0.1:1",
    });
  });
});

describe("planDisruption: the runner's victims for evict and drain", () => {
  const workload = (busy: string) =>
    ({
      pods: ["app-a", "app-b", "app-c"],
      trafficAttribution: () => ({
        source: "conntrack" as const,
        joinableByClientPort: false,
        connections: [
          { pod: busy, openedAt: Date.now() - 1000 },
          { pod: busy, openedAt: Date.now() - 1000 },
          { pod: "app-a", openedAt: Date.now() - 1000 },
        ],
      }),
    }) as unknown as RunningWorkload;
  const plan = (disruption: Obj) =>
    planDisruption(
      ScenarioSpec.parse({ name: "p", image: { style: "exec-form" }, replicas: 3, disruption }),
      workload("app-c"),
      [],
    );

  it("evict (busiest): the `count` busiest pods; drain: the busiest one, whose node is drained", () => {
    expect(plan({ action: "evict", count: 2 }).plan?.victims).toEqual(["app-c", "app-a"]);
    expect(plan({ action: "drain" }).plan?.victims).toEqual(["app-c"]);
    expect(plan({ action: "delete", count: 1 }).plan?.victims).toEqual(["app-c"]);
  });

  it("victims: first asks for no plan (the first ready pods by name), as for delete", () => {
    expect(plan({ action: "evict", victims: "first" })).toEqual({});
    expect(plan({ action: "delete", victims: "first" })).toEqual({});
    expect(plan({ action: "rollout" })).toEqual({});
  });
});
