// The Kubernetes driver (deploy → watch → disrupt → teardown) against a small fake API server speaking
// the real wire protocol over HTTP: client-node's typed calls, JSON-patch bodies, streaming watches and
// a followed log. The fake "kubelet" runs a short termination sequence. This checks the I/O code paths
// that only a real cluster exercises fully (the kind e2e suite does that where kind exists).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConntrackEvent, type ConntrackFeed, parseConntrackOutput } from "../../src/k8s/conntrack.js";
import { KubernetesDriver, parsePs, victimsFromPlan } from "../../src/k8s/driver.js";
import { EventLog } from "../../src/observe/events.js";
import { ScenarioSpec } from "../../src/scenario/schema.js";

// biome-ignore lint/suspicious/noExplicitAny: free-form fake API objects
type Obj = Record<string, any>;

class FakeCluster {
  readonly calls: string[] = [];
  namespaces = new Map<string, Obj>();
  services = new Map<string, Obj>();
  deployments = new Map<string, Obj>();
  pods = new Map<string, Obj>();
  slices = new Map<string, Obj>();
  private watchers: Array<{ kind: string; ns: string; res: ServerResponse }> = [];
  private logs = new Map<string, ServerResponse[]>();
  private podSeq = 0;

  private emit(kind: string, ns: string, type: string, object: Obj) {
    for (const w of this.watchers) {
      if (w.kind === kind && w.ns === ns) w.res.write(`${JSON.stringify({ type, object })}\n`);
    }
  }

  private sliceFor(ns: string): Obj {
    const endpoints = [...this.pods.values()]
      .filter((p) => p.metadata.namespace === ns)
      .map((p) => {
        const deleting = Boolean(p.metadata.deletionTimestamp);
        return {
          addresses: [p.status.podIP],
          conditions: { ready: !deleting, serving: !deleting, terminating: deleting },
          targetRef: { kind: "Pod", name: p.metadata.name, namespace: ns },
        };
      });
    return {
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: { name: "app-x1", namespace: ns, resourceVersion: String(Date.now()) },
      addressType: "IPv4",
      endpoints,
    };
  }

  private touchSlice(ns: string) {
    const s = this.sliceFor(ns);
    const type = this.slices.has(ns) ? "MODIFIED" : "ADDED";
    this.slices.set(ns, s);
    this.emit("endpointslices", ns, type, s);
  }

  private newPod(ns: string, template: Obj): Obj {
    const n = ++this.podSeq;
    const name = `app-7d9f-${String(n).padStart(5, "0")}`;
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace: ns, uid: `uid-${n}`, labels: template.metadata.labels, resourceVersion: "1" },
      spec: { ...template.spec, nodeName: "ge-worker" },
      status: {
        phase: "Running",
        podIP: `10.244.1.${n}`,
        conditions: [{ type: "Ready", status: "True" }],
        containerStatuses: [
          {
            name: "app",
            ready: true,
            containerID: `containerd://c${n}`,
            state: { running: { startedAt: new Date().toISOString() } },
          },
        ],
      },
    };
    this.pods.set(name, pod);
    this.emit("pods", ns, "ADDED", pod);
    return pod;
  }

  private logLine(pod: string, data: Obj) {
    const t = Date.now();
    const line = `${new Date(t).toISOString().replace("Z", "000123Z")} ${JSON.stringify({ t, ...data })}\n`;
    for (const res of this.logs.get(pod) ?? []) res.write(line);
  }

  /** The kubelet's side: SIGTERM to the app, it drains and exits 0, the pod object goes away. */
  private terminate(name: string, grace: number) {
    const pod = this.pods.get(name);
    if (!pod || pod.metadata.deletionTimestamp) return;
    const ns = pod.metadata.namespace;
    pod.metadata.deletionTimestamp = new Date(Date.now() + grace * 1000).toISOString().replace(/\.\d+Z$/, "Z");
    pod.metadata.deletionGracePeriodSeconds = grace;
    this.emit("pods", ns, "MODIFIED", pod);
    this.touchSlice(ns);
    this.emit("events", ns, "ADDED", {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: `${name}.1`, uid: `ev-${name}`, namespace: ns },
      involvedObject: { kind: "Pod", name },
      reason: "Killing",
      message: "Stopping container app",
      type: "Normal",
      count: 1,
      source: { component: "kubelet" },
      lastTimestamp: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    });
    setTimeout(() => this.logLine(name, { event: "signal", pid: 1, ppid: 0, role: "app", signal: "SIGTERM" }), 40);
    setTimeout(() => {
      this.logLine(name, { event: "exit", pid: 1, ppid: 0, role: "app", code: 0 });
      for (const res of this.logs.get(name) ?? []) res.end();
    }, 60);
    setTimeout(() => {
      pod.status.containerStatuses[0].state = {
        terminated: { exitCode: 0, reason: "Completed", finishedAt: new Date().toISOString().replace(/\.\d+Z$/, "Z") },
      };
      pod.status.conditions = [{ type: "Ready", status: "False" }];
      this.emit("pods", ns, "MODIFIED", pod);
    }, 90);
    setTimeout(() => {
      this.pods.delete(name);
      this.emit("pods", ns, "DELETED", pod);
      this.touchSlice(ns);
    }, 130);
  }

  handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://x");
    const p = url.pathname;
    const body = await new Promise<string>((r) => {
      let b = "";
      req.on("data", (c) => {
        b += c;
      });
      req.on("end", () => r(b));
    });
    const watch = url.searchParams.get("watch") === "true";
    this.calls.push(`${req.method} ${p}${watch ? " (watch)" : ""}`);
    const json = (code: number, o: unknown) => {
      res.writeHead(code, { "content-type": "application/json" });
      res.end(JSON.stringify(o));
    };
    const notFound = () => json(404, { kind: "Status", code: 404, message: "not found", reason: "NotFound" });
    let m: RegExpMatchArray | null = null;

    if (p === "/healthz") return json(200, { ok: true });
    if (p === "/version") return json(200, { major: "1", minor: "33", gitVersion: "v1.33.1" });
    if (p === "/apis") {
      return json(200, {
        kind: "APIGroupList",
        apiVersion: "v1",
        groups: [
          {
            name: "discovery.k8s.io",
            versions: [{ groupVersion: "discovery.k8s.io/v1", version: "v1" }],
            preferredVersion: { groupVersion: "discovery.k8s.io/v1", version: "v1" },
          },
        ],
      });
    }
    if (p === "/api/v1/namespaces" && req.method === "POST") {
      const ns = JSON.parse(body);
      this.namespaces.set(ns.metadata.name, ns);
      return json(201, ns);
    }
    if (p === "/api/v1/namespaces" && req.method === "GET") {
      const [k, v] = (url.searchParams.get("labelSelector") ?? "").split(",")[1]?.split("=") ?? [];
      const items = [...this.namespaces.values()].filter((n) => !k || n.metadata.labels?.[k] === v);
      return json(200, { kind: "NamespaceList", apiVersion: "v1", metadata: {}, items });
    }
    m = p.match(/^\/api\/v1\/namespaces\/([^/]+)$/);
    if (m) {
      const ns = m[1] ?? "";
      if (!this.namespaces.has(ns)) return notFound();
      if (req.method === "DELETE") {
        const o = this.namespaces.get(ns);
        this.namespaces.delete(ns);
        return json(200, o);
      }
      return json(200, this.namespaces.get(ns));
    }
    m = p.match(/^\/api\/v1\/namespaces\/([^/]+)\/services(?:\/([^/]+))?$/);
    if (m) {
      const ns = m[1] ?? "";
      if (req.method === "POST") {
        const svc = JSON.parse(body);
        this.services.set(ns, svc);
        return json(201, svc);
      }
      if (req.method === "DELETE") {
        if (!this.services.delete(ns)) return notFound();
        return json(200, { kind: "Status", status: "Success" });
      }
    }
    m = p.match(/^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments(?:\/([^/]+))?$/);
    if (m) {
      const ns = m[1] ?? "";
      if (req.method === "POST") {
        const d = JSON.parse(body);
        this.deployments.set(ns, d);
        for (let i = 0; i < d.spec.replicas; i++) this.newPod(ns, d.spec.template);
        setTimeout(() => this.touchSlice(ns), 20);
        return json(201, d);
      }
      const d = this.deployments.get(ns);
      if (!d) return notFound();
      if (req.method === "PATCH") {
        if (req.headers["content-type"] !== "application/json-patch+json")
          return json(415, { message: "want JSON patch" });
        for (const op of JSON.parse(body) as Array<{ op: string; path: string; value: unknown }>) {
          if (op.path === "/spec/replicas") {
            const to = Number(op.value);
            const live = [...this.pods.values()]
              .filter((x) => x.metadata.namespace === ns && !x.metadata.deletionTimestamp)
              .map((x) => x.metadata.name)
              .sort();
            for (const name of live.slice(to)) this.terminate(name, d.spec.template.spec.terminationGracePeriodSeconds);
            d.spec.replicas = to;
          }
        }
        return json(200, d);
      }
      if (req.method === "DELETE") {
        this.deployments.delete(ns);
        return json(200, { kind: "Status", status: "Success" });
      }
      return json(200, d);
    }
    m = p.match(/^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/log$/);
    if (m) {
      const pod = m[2] ?? "";
      expect(url.searchParams.get("follow")).toBe("true");
      expect(url.searchParams.get("timestamps")).toBe("true");
      res.writeHead(200, { "content-type": "text/plain" });
      res.write(
        `${new Date().toISOString()} ${JSON.stringify({ t: Date.now(), event: "start", pid: 1, ppid: 0, role: "app" })}\n`,
      );
      this.logs.set(pod, [...(this.logs.get(pod) ?? []), res]);
      return;
    }
    m = p.match(/^\/api\/v1\/namespaces\/([^/]+)\/pods(?:\/([^/]+))?$/);
    if (m) {
      const ns = m[1] ?? "";
      if (watch)
        return this.startWatch(
          "pods",
          ns,
          res,
          [...this.pods.values()].filter((x) => x.metadata.namespace === ns),
        );
      if (req.method === "DELETE" && m[2]) {
        const pod = this.pods.get(m[2]);
        if (!pod) return notFound();
        const gps = url.searchParams.get("gracePeriodSeconds");
        this.calls.push(`delete ${m[2]} gracePeriodSeconds=${gps}`);
        this.terminate(m[2], gps === null ? pod.spec.terminationGracePeriodSeconds : Number(gps));
        return json(200, pod);
      }
      if (req.method === "DELETE") {
        for (const [name, x] of this.pods) if (x.metadata.namespace === ns) this.terminate(name, 0);
        return json(200, { kind: "PodList", apiVersion: "v1", metadata: {}, items: [] });
      }
      const items = [...this.pods.values()].filter((x) => x.metadata.namespace === ns);
      return json(200, { kind: "PodList", apiVersion: "v1", metadata: {}, items });
    }
    m = p.match(/^\/apis\/discovery\.k8s\.io\/v1\/namespaces\/([^/]+)\/endpointslices$/);
    if (m && watch) {
      const ns = m[1] ?? "";
      return this.startWatch("endpointslices", ns, res, this.slices.has(ns) ? [this.slices.get(ns) as Obj] : []);
    }
    m = p.match(/^\/api\/v1\/namespaces\/([^/]+)\/events$/);
    if (m && watch) {
      return this.startWatch("events", m[1] ?? "", res, []);
    }
    return notFound();
  };

  private startWatch(kind: string, ns: string, res: ServerResponse, initial: Obj[]) {
    res.writeHead(200, { "content-type": "application/json" });
    res.flushHeaders(); // as the API server does: the watch is established before any event
    for (const o of initial) res.write(`${JSON.stringify({ type: "ADDED", object: o })}\n`);
    this.watchers.push({ kind, ns, res });
    res.on("close", () => {
      this.watchers = this.watchers.filter((w) => w.res !== res);
    });
  }

  closeAll() {
    for (const w of this.watchers) w.res.end();
    for (const list of this.logs.values()) for (const r of list) r.end();
  }
}

describe("KubernetesDriver against a fake API server", () => {
  const fake = new FakeCluster();
  let server: Server;
  let port = 0;
  let kc: KubeConfig;

  beforeAll(async () => {
    server = createServer((req, res) => void fake.handle(req, res));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
    kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "fake", server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: "u", token: "t" }],
      contexts: [{ name: "fake", cluster: "fake", user: "u" }],
      currentContext: "fake",
    });
  });

  afterAll(async () => {
    fake.closeAll();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const warnings: string[] = [];
  const driver = () =>
    new KubernetesDriver({
      backend: "kind",
      kc,
      target: { host: "127.0.0.1", port },
      trafficPath: "fake",
      nodePort: 30080,
      readPid1: async () => "node /app/server.js",
      readProcessTree: async () => parsePs("    1     0 node /app/server.js\n   23     1 ps -eo pid=,ppid=,args=\n"),
      readyTimeoutMs: 10_000,
      log: (line) => warnings.push(line),
    });

  it("deploys, watches, deletes a pod, reports its outcome and the timeline, tears down by label", async () => {
    const d = driver();
    const sink = new EventLog();
    const scenario = ScenarioSpec.parse({
      name: "exec-form",
      image: { style: "exec-form" },
      preStop: { type: "sleep", seconds: 2 },
      terminationGracePeriodSeconds: 20,
    });
    const runId = "20300101000000-abcdef";
    const deployment = await d.deploy(scenario, { style: "exec-form", ref: "graceful-e2e/exec-form:1" }, sink, runId);
    expect(deployment.pods).toHaveLength(2);
    expect(deployment.platform).toMatchObject({
      kubernetes: "v1.33.1",
      endpointApi: "discovery.k8s.io/v1 (discovery)",
      preStopSleepAction: "true",
      namespace: "ge-exec-form-00abcdef",
    });
    const created = fake.deployments.get("ge-exec-form-00abcdef");
    expect(created?.spec.template.spec.containers[0].lifecycle.preStop).toEqual({ sleep: { seconds: 2 } });

    const outcome = await d.disrupt(deployment, {
      action: "delete",
      count: 1,
      atSeconds: 0,
      gracePeriodSeconds: 5,
      victims: "first",
    });
    expect(fake.calls).toContain(`delete ${deployment.pods[0]} gracePeriodSeconds=5`);
    expect(outcome.pods).toHaveLength(1);
    const [o] = outcome.pods;
    expect(o).toMatchObject({
      pod: deployment.pods[0],
      pid1Cmdline: "node /app/server.js",
      exitCode: 0,
      exitReason: "Completed",
      sigkilled: false,
      notes: [],
    });
    expect(o?.processes[0]).toMatchObject({ role: "app", pid: 1, exit: { code: 0 } });
    expect(o?.processTree).toEqual([
      { pid: 1, ppid: 0, command: "node /app/server.js" },
      { pid: 23, ppid: 1, command: "ps -eo pid=,ppid=,args=" },
    ]);

    const kinds = sink.events.filter((e) => e.pod === o?.pod).map((e) => e.kind);
    for (const k of [
      "app-start",
      "endpoint-ready",
      "delete-requested",
      "endpoint-terminating",
      "k8s-event",
      "app-signal",
      "app-exit",
      "container-exit",
      "endpoint-removed",
      "pod-gone",
    ]) {
      expect(kinds).toContain(k);
    }
    expect(sink.events.find((e) => e.kind === "delete-requested")?.source).toBe("harness");

    await d.teardown(deployment, runId);
    expect(fake.namespaces.size).toBe(0);
    const order = fake.calls.filter((c) => c.startsWith("DELETE") && !c.includes("/pods/app-"));
    expect(order[0]).toMatch(/services\/app$/);
    expect(order.at(-1)).toMatch(/namespaces\/ge-exec-form-00abcdef$/);
    // twice is fine (nothing left)
    await d.teardown(deployment, runId);
    expect(warnings).toEqual([]);
  });

  it("scale down patches replicas (JSON patch) and waits for the pods that go", async () => {
    const d = driver();
    const sink = new EventLog();
    const scenario = ScenarioSpec.parse({ name: "scale", image: { style: "exec-form" }, replicas: 3 });
    const runId = "20300101000001-aaaaaa";
    const deployment = await d.deploy(scenario, { style: "exec-form", ref: "x/y:1" }, sink, runId);
    const outcome = await d.disrupt(deployment, { action: "scaleDown", to: 1, atSeconds: 0 });
    expect(outcome.pods.map((p) => p.pod).sort()).toEqual(deployment.pods.slice(1).sort());
    expect(outcome.pods.every((p) => p.goneAt !== undefined && p.exitCode === 0)).toBe(true);
    expect(fake.calls).toContain("PATCH /apis/apps/v1/namespaces/ge-scale-01aaaaaa/deployments/app");
    await d.teardown(undefined, runId);
    expect(fake.namespaces.size).toBe(0);
  });
});

describe("KubernetesDriver: planned victims and connection attribution", () => {
  const fake = new FakeCluster();
  let server: Server;
  let kc: KubeConfig;
  let port = 0;

  beforeAll(async () => {
    server = createServer((req, res) => void fake.handle(req, res));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
    kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "fake", server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: "u", token: "t" }],
      contexts: [{ name: "fake", cluster: "fake", user: "u" }],
      currentContext: "fake",
    });
  });

  afterAll(async () => {
    fake.closeAll();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  /** A feed the test fills with conntrack lines (as the kind nodes' `conntrack -E` would print them). */
  function fakeFeed(available = true) {
    const events: ConntrackEvent[] = [];
    const feed: ConntrackFeed & { stopped: number; add(lines: string): void } = {
      stopped: 0,
      events: () => events,
      notes: () =>
        available ? [] : ["no connection attribution from node ge-control-plane: `conntrack` is not installed"],
      available: () => available,
      stop: async () => {
        feed.stopped++;
      },
      add: (lines) => events.push(...parseConntrackOutput(lines, Date.now(), "ge-control-plane")),
    };
    return feed;
  }

  const driver = (o: { feed?: ReturnType<typeof fakeFeed>; log?: string[] } = {}) =>
    new KubernetesDriver({
      backend: "kind",
      kc,
      target: { host: "127.0.0.1", port },
      trafficPath: "fake",
      nodePort: 30080,
      readPid1: async () => "node /app/server.js",
      readProcessTree: async () => [],
      readyTimeoutMs: 10_000,
      log: (line) => o.log?.push(line),
      ...(o.feed ? { trafficAttribution: async () => o.feed as ConntrackFeed } : {}),
    });
  const scenario = (name: string, replicas: number) =>
    ScenarioSpec.parse({
      name,
      image: { style: "exec-form" },
      replicas,
      terminationGracePeriodSeconds: 5,
      disruption: { action: "delete", count: 1, atSeconds: 0 },
    });
  const podIp = (pod: string | undefined): string => fake.pods.get(pod ?? "")?.status.podIP;
  const conn = (sport: number, ip: string) =>
    `[1718000001.000000]\t    [NEW] tcp      6 120 SYN_SENT src=172.18.0.1 dst=172.18.0.2 sport=${sport} dport=30080 [UNREPLIED] src=${ip} dst=10.244.0.1 sport=8080 dport=${sport}`;

  it("deletes exactly the planned victim, and names each connection's pod from the pod watch", async () => {
    const feed = fakeFeed();
    const d = driver({ feed });
    const s = scenario("victims", 3);
    const runId = "20300101000002-bbbbbb";
    const deployment = await d.deploy(s, { style: "exec-form", ref: "x/y:1" }, new EventLog(), runId);
    expect(deployment.platform.trafficAttribution).toBe("conntrack (NodePort 30080)");
    const [first, , third] = deployment.pods;
    feed.add([conn(41000, podIp(third)), conn(41001, podIp(third)), conn(41002, podIp(first))].join("\n"));

    const attribution = d.trafficAttribution(runId);
    expect(attribution).toMatchObject({ source: "conntrack", joinableByClientPort: false });
    expect(attribution?.connections.map((c) => [c.clientPort, c.pod])).toEqual([
      [41000, third],
      [41001, third],
      [41002, first],
    ]);

    const outcome = await d.disrupt(deployment, s.disruption, { victims: [third ?? ""] });
    expect(fake.calls).toContain(`delete ${third} gracePeriodSeconds=null`);
    expect(fake.calls).not.toContain(`delete ${first} gracePeriodSeconds=null`);
    expect(outcome.pods.map((p) => [p.pod, p.notes])).toEqual([[third, []]]);

    await d.teardown(deployment, runId);
    expect(feed.stopped).toBe(1);
    // Still readable after teardown (the runner may ask late); the victim is named though it is gone.
    expect(d.trafficAttribution(runId)?.connections[0]?.pod).toBe(third);
  });

  it("falls back to the first ready pod by name, with a note, when a victim is not a live pod of the run", async () => {
    const d = driver();
    const s = scenario("fallback", 2);
    const runId = "20300101000003-cccccc";
    const deployment = await d.deploy(s, { style: "exec-form", ref: "x/y:1" }, new EventLog(), runId);
    expect(deployment.platform.trafficAttribution).toBeUndefined();
    expect(d.trafficAttribution(runId)).toBeUndefined(); // no feed (existing cluster): no attribution
    const outcome = await d.disrupt(deployment, s.disruption, { victims: ["app-from-another-run"] });
    expect(outcome.pods.map((p) => p.pod)).toEqual([deployment.pods[0]]);
    expect(outcome.pods[0]?.notes).toEqual([
      `planned victim(s) app-from-another-run not among this run's live pods (${[...deployment.pods].sort().join(", ")}): deleted the first ready pod(s) by name instead`,
    ]);
    await d.teardown(deployment, runId);
  });

  it("a feed that could read no node: undefined attribution, the reason in the platform facts and the log", async () => {
    const log: string[] = [];
    const feed = fakeFeed(false);
    const d = driver({ feed, log });
    const s = scenario("nofeed", 1);
    const runId = "20300101000004-dddddd";
    const deployment = await d.deploy(s, { style: "exec-form", ref: "x/y:1" }, new EventLog(), runId);
    expect(deployment.platform.trafficAttribution).toMatch(/^unavailable: .*`conntrack` is not installed/);
    expect(log.some((l) => l.startsWith("no connection attribution"))).toBe(true);
    expect(d.trafficAttribution(runId)).toBeUndefined();
    await d.teardown(deployment, runId);
  });
});

describe("victimsFromPlan", () => {
  const live = ["app-a", "app-b", "app-c"];
  it("takes live victims as given (order kept, duplicates dropped); no plan, no note", () => {
    expect(victimsFromPlan({ victims: ["app-c", "app-a", "app-c"] }, live)).toEqual({ victims: ["app-c", "app-a"] });
    expect(victimsFromPlan(undefined, live)).toEqual({});
    expect(victimsFromPlan({}, live)).toEqual({});
  });
  it("falls back with a note for an empty list or a pod that is not live", () => {
    expect(victimsFromPlan({ victims: [] }, live).note).toMatch(/named no victim/);
    expect(victimsFromPlan({ victims: ["app-a", "app-z"] }, live)).toEqual({
      note: "planned victim(s) app-z not among this run's live pods (app-a, app-b, app-c): deleted the first ready pod(s) by name instead",
    });
  });
});
