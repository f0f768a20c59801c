// The Kubernetes driver with the user's own workload (issue 16), against a small fake API server that
// speaks the wire protocol (discovery for the generic create, label-selected lists and watches): a
// manifests run creates exactly its objects in the run's namespace and finds the pods by the workload's
// selector; a target run creates nothing and deletes only its victim; a target that does not fit is a
// UsageError before anything changes.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { WorkloadSource } from "../../src/backends/backend.js";
import { type DriverOptions, KubernetesDriver } from "../../src/k8s/driver.js";
import { EventLog } from "../../src/observe/events.js";
import { ScenarioSpec, type Target } from "../../src/scenario/schema.js";
import { UsageError } from "../../src/util/errors.js";
import { parseManifests, selectManifestSet } from "../../src/workload/index.js";
import {
  type FakeApiServer,
  fakeNode,
  labelSelectorMatches,
  openWatch,
  readBody,
  replyJson,
  serveNodeCall,
  startFakeApi,
} from "./fake-api-server.js";

// biome-ignore lint/suspicious/noExplicitAny: free-form fake API objects
type Obj = Record<string, any>;

const PLURAL: Record<string, string> = {
  Service: "services",
  ConfigMap: "configmaps",
  Deployment: "deployments",
  StatefulSet: "statefulsets",
  PodDisruptionBudget: "poddisruptionbudgets",
};

/** A labelSelector parameter (equality or set-based) matches these labels. */
const matches = labelSelectorMatches;

class Fake {
  calls: string[] = [];
  /** Every labelSelector a pod list or watch asked with. */
  podSelectors: string[] = [];
  namespaces = new Map<string, Obj>();
  /** `${plural}/${ns}/${name}` → object. */
  objects = new Map<string, Obj>();
  pods = new Map<string, Obj>();
  /** Two workers: the controller's pods alternate between them (a drain has somewhere to move them). */
  nodes = new Map<string, Obj>(["node-1", "node-2"].map((n) => [n, fakeNode(n)]));
  private watchers: Array<{ kind: string; ns: string; selector: string | null; res: ServerResponse }> = [];
  private seq = 0;

  reset() {
    this.calls = [];
    this.podSelectors = [];
    this.namespaces.clear();
    this.objects.clear();
    this.pods.clear();
    this.nodes = new Map(["node-1", "node-2"].map((n) => [n, fakeNode(n)]));
  }

  private emit(kind: string, ns: string, type: string, object: Obj) {
    for (const w of this.watchers) {
      if (w.kind !== kind || w.ns !== ns || !matches(w.selector, object.metadata.labels)) continue;
      w.res.write(`${JSON.stringify({ type, object })}\n`);
    }
  }

  /** A kubelet event about an object of the namespace. */
  event(ns: string, kind: string, name: string) {
    const at = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    this.emit("events", ns, "ADDED", {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: `${name}.${++this.seq}`, uid: `ev-${this.seq}`, namespace: ns },
      involvedObject: { kind, name },
      reason: "Unhealthy",
      message: "Readiness probe failed",
      type: "Warning",
      count: 1,
      source: { component: "kubelet" },
      lastTimestamp: at,
    });
  }

  /** One EndpointSlice per Service of the namespace, listing the pods it selects. */
  touchSlices(ns: string) {
    for (const [key, svc] of this.objects) {
      if (!key.startsWith(`services/${ns}/`)) continue;
      const name = svc.metadata.name;
      const sel = Object.entries(svc.spec.selector ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(",");
      const endpoints = [...this.pods.values()]
        .filter((p) => p.metadata.namespace === ns && matches(sel, p.metadata.labels))
        .map((p) => {
          const deleting = Boolean(p.metadata.deletionTimestamp);
          return {
            addresses: [p.status.podIP],
            conditions: { ready: !deleting, serving: !deleting, terminating: deleting },
            targetRef: { kind: "Pod", name: p.metadata.name, namespace: ns },
          };
        });
      const slice = {
        apiVersion: "discovery.k8s.io/v1",
        kind: "EndpointSlice",
        metadata: { name: `${name}-x`, namespace: ns, labels: { "kubernetes.io/service-name": name } },
        addressType: "IPv4",
        endpoints,
      };
      this.objects.set(`endpointslices/${ns}/${name}-x`, slice);
      this.emit("endpointslices", ns, "MODIFIED", slice);
    }
  }

  /** The controller's part: `replicas` running, ready pods from the template. */
  startPods(ns: string, w: Obj) {
    for (let i = 0; i < (w.spec.replicas ?? 1); i++) {
      const n = ++this.seq;
      const name = `${w.metadata.name}-${n}`;
      const t = w.spec.template;
      const names = [...(t.spec.initContainers ?? []), ...t.spec.containers].map((c: Obj) => c.name);
      const pod = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, namespace: ns, uid: `uid-${n}`, labels: t.metadata.labels },
        spec: { ...t.spec, nodeName: `node-${((n - 1) % 2) + 1}` },
        status: {
          phase: "Running",
          podIP: `10.244.0.${n}`,
          conditions: [{ type: "Ready", status: "True" }],
          containerStatuses: names.map((c: string, j: number) => ({
            name: c,
            ready: true,
            containerID: `containerd://c${n}-${j}`,
            state: { running: { startedAt: new Date().toISOString() } },
          })),
        },
      };
      this.pods.set(name, pod);
      this.emit("pods", ns, "ADDED", pod);
    }
    this.touchSlices(ns);
  }

  private terminate(pod: Obj) {
    const ns = pod.metadata.namespace;
    pod.metadata.deletionTimestamp = new Date().toISOString();
    this.emit("pods", ns, "MODIFIED", pod);
    this.touchSlices(ns);
    setTimeout(() => {
      pod.status.containerStatuses = pod.status.containerStatuses.map((c: Obj) => ({
        ...c,
        state: { terminated: { exitCode: 0, reason: "Completed", containerID: c.containerID } },
      }));
      pod.status.conditions = [{ type: "Ready", status: "False" }];
      this.emit("pods", ns, "MODIFIED", pod);
    }, 30);
    setTimeout(() => {
      this.pods.delete(pod.metadata.name);
      this.emit("pods", ns, "DELETED", pod);
      this.touchSlices(ns);
    }, 60);
  }

  handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://x");
    const p = url.pathname;
    const body = await readBody(req);
    const watch = url.searchParams.get("watch") === "true";
    const selector = url.searchParams.get("labelSelector");
    if (!watch && !p.endsWith("/log")) this.calls.push(`${req.method} ${p}`);
    const json = replyJson(res);
    const notFound = () => json(404, { kind: "Status", code: 404, reason: "NotFound", message: `${p} not found` });
    if (p === "/version") return json(200, { major: "1", minor: "33", gitVersion: "v1.33.1" });
    if (serveNodeCall(this.nodes, { method: req.method, path: p, body, calls: this.calls, json })) return;
    const evicted = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/eviction$/.exec(p);
    if (evicted) {
      const pod = this.pods.get(evicted[2] ?? "");
      if (!pod) return notFound();
      this.terminate(pod);
      return json(201, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", code: 201 });
    }
    if (p === "/apis") {
      const g = { groupVersion: "discovery.k8s.io/v1", version: "v1" };
      return json(200, {
        kind: "APIGroupList",
        groups: [{ name: "discovery.k8s.io", versions: [g], preferredVersion: g }],
      });
    }
    // Discovery, for the generic (KubernetesObjectApi) create.
    if (p === "/api/v1" || p === "/apis/apps/v1" || p === "/apis/policy/v1") {
      const kinds =
        p === "/api/v1"
          ? ["Service", "ConfigMap", "Pod", "Namespace"]
          : p === "/apis/policy/v1"
            ? ["PodDisruptionBudget"]
            : ["Deployment", "StatefulSet"];
      const resources = kinds.map((kind) => ({
        kind,
        name: PLURAL[kind] ?? `${kind.toLowerCase()}s`,
        namespaced: kind !== "Namespace",
        verbs: [],
      }));
      return json(200, { kind: "APIResourceList", groupVersion: p.replace(/^\/apis?\//, ""), resources });
    }
    if (p === "/api/v1/namespaces") {
      if (req.method === "POST") {
        const ns = JSON.parse(body);
        this.namespaces.set(ns.metadata.name, ns);
        return json(201, ns);
      }
      const items = [...this.namespaces.values()].filter((n) => matches(selector, n.metadata.labels));
      return json(200, { kind: "NamespaceList", apiVersion: "v1", metadata: {}, items });
    }
    let m = p.match(/^\/api\/v1\/namespaces\/([^/]+)$/);
    if (m) {
      const ns = this.namespaces.get(m[1] ?? "");
      if (!ns) return notFound();
      if (req.method === "DELETE") this.namespaces.delete(m[1] ?? "");
      return json(200, ns);
    }
    m = p.match(/^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/log$/);
    if (m) {
      res.writeHead(200, { "content-type": "text/plain" });
      return res.end();
    }
    m = p.match(/^\/api\/v1\/namespaces\/([^/]+)\/pods(?:\/([^/]+))?$/);
    if (m) {
      const ns = m[1] ?? "";
      if (selector !== null) this.podSelectors.push(selector);
      const inNs = [...this.pods.values()].filter(
        (x) => x.metadata.namespace === ns && matches(selector, x.metadata.labels),
      );
      if (watch) return this.startWatch("pods", ns, selector, res, inNs);
      if (req.method === "DELETE" && m[2]) {
        const pod = this.pods.get(m[2]);
        if (!pod) return notFound();
        this.terminate(pod);
        return json(200, pod);
      }
      if (req.method === "DELETE") return json(200, { kind: "PodList", items: [] });
      return json(200, { kind: "PodList", apiVersion: "v1", metadata: {}, items: inNs });
    }
    m = p.match(/^\/apis\/discovery\.k8s\.io\/v1\/namespaces\/([^/]+)\/endpointslices$/);
    if (m && watch) {
      const ns = m[1] ?? "";
      const slices = [...this.objects.entries()]
        .filter(([k, o]) => k.startsWith(`endpointslices/${ns}/`) && matches(selector, o.metadata.labels))
        .map(([, o]) => o);
      return this.startWatch("endpointslices", ns, selector, res, slices);
    }
    m = p.match(/^\/api\/v1\/namespaces\/([^/]+)\/events$/);
    if (m && watch) return this.startWatch("events", m[1] ?? "", null, res, []);
    m = p.match(/^\/(?:api\/v1|apis\/apps\/v1|apis\/policy\/v1)\/namespaces\/([^/]+)\/([a-z]+)(?:\/([^/]+))?$/);
    if (m) {
      const [, ns = "", plural = "", name] = m;
      if (!this.namespaces.has(ns)) return notFound();
      if (req.method === "POST") {
        const o = JSON.parse(body);
        this.objects.set(`${plural}/${ns}/${o.metadata.name}`, o);
        if (plural === "deployments" || plural === "statefulsets") this.startPods(ns, o);
        if (plural === "services") this.touchSlices(ns);
        return json(201, o);
      }
      if (name === undefined) {
        const items = [...this.objects.entries()].filter(([k]) => k.startsWith(`${plural}/${ns}/`)).map(([, o]) => o);
        return json(200, { kind: "List", apiVersion: "v1", metadata: {}, items });
      }
      const o = this.objects.get(`${plural}/${ns}/${name}`);
      if (!o) return notFound();
      if (req.method === "DELETE") this.objects.delete(`${plural}/${ns}/${name}`);
      return json(200, o);
    }
    return notFound();
  };

  private startWatch(kind: string, ns: string, selector: string | null, res: ServerResponse, initial: Obj[]) {
    openWatch(res, initial);
    this.watchers.push({ kind, ns, selector, res });
    res.on("close", () => {
      this.watchers = this.watchers.filter((w) => w.res !== res);
    });
  }

  closeAll() {
    for (const w of this.watchers) w.res.end();
  }
}

const MANIFESTS = `
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config}
data: {GREETING: hi}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: ClusterIP
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 25
      initContainers:
        - {name: mesh, image: "mesh:1", restartPolicy: Always}
      containers:
        - name: proxy
          image: "nginx:1.27"
          ports: [{name: http, containerPort: 8080}]
          lifecycle: {preStop: {sleep: {seconds: 3}}}
        - {name: app, image: "shop/web:2", ports: [{containerPort: 3000}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: worker}
spec:
  replicas: 1
  selector: {matchLabels: {app: worker}}
  template:
    metadata: {labels: {app: worker}}
    spec: {containers: [{name: worker, image: "shop/worker:2"}]}
`;

describe("KubernetesDriver with the user's workload (fake API server)", () => {
  const fake = new Fake();
  let api: FakeApiServer;
  let kc: KubeConfig;
  const logs: string[] = [];

  beforeAll(async () => {
    api = await startFakeApi(fake.handle);
    kc = api.kc;
  });
  beforeEach(() => {
    fake.reset();
    logs.length = 0;
  });
  afterAll(async () => {
    fake.closeAll();
    await api.close();
  });

  const driver = (o: Partial<DriverOptions> = {}) =>
    new KubernetesDriver({
      backend: "kind",
      kc,
      target: { host: "127.0.0.1", port: 1 },
      checkReachable: false,
      trafficPath: "fake",
      nodePort: 30080,
      nodePorts: [30080, 30081],
      readPid1: async () => "node server.js",
      readProcessTree: async () => [],
      inspectProcesses: async () => ({ source: "none", processes: [], notes: [] }) as never,
      readyTimeoutMs: 5000,
      evidenceBoundMs: 300,
      log: (line) => logs.push(line),
      ...o,
    });

  const manifestsSource = (name?: string): WorkloadSource => {
    const set = selectManifestSet(parseManifests(MANIFESTS, "chart.yaml"), {
      namespace: "x",
      ...(name ? { name } : {}),
    });
    return { kind: "manifests", set, images: [] };
  };

  it("a manifests run creates exactly its objects in the run's namespace, labelled, and finds the pods by the selector", async () => {
    const d = driver();
    const scenario = ScenarioSpec.parse({ name: "shop", workload: { manifests: "chart.yaml", name: "web" } });
    const runId = "20300101000000-abcdef";
    const dep = await d.deploy(scenario, manifestsSource("web"), new EventLog(), runId);
    const ns = "ge-shop-00abcdef";
    const posts = fake.calls.filter((c) => c.startsWith("POST"));
    expect(posts).toEqual([
      "POST /api/v1/namespaces",
      `POST /api/v1/namespaces/${ns}/configmaps`,
      `POST /api/v1/namespaces/${ns}/services`,
      `POST /apis/apps/v1/namespaces/${ns}/deployments`,
      `POST /apis/apps/v1/namespaces/${ns}/deployments`,
    ]);
    for (const [key, o] of fake.objects) {
      if (key.startsWith("endpointslices/")) continue;
      expect(o.metadata.namespace).toBe(ns);
      expect(o.metadata.labels).toMatchObject({ "graceful-e2e": "true", "graceful-e2e.run": runId });
    }
    // The user's ClusterIP Service, switched to the run's NodePort so the 127.0.0.1 mapping reaches it.
    const svc = fake.objects.get(`services/${ns}/web`);
    expect(svc?.spec).toMatchObject({ type: "NodePort", ports: [{ name: "http", nodePort: 30080 }] });
    // Only the workload under test's pods: the worker's pod is in the namespace, not in the run's pods.
    expect(dep.pods).toHaveLength(2);
    expect(dep.pods.every((p) => p.startsWith("web-"))).toBe(true);
    expect([...fake.pods.keys()].some((p) => p.startsWith("worker-"))).toBe(true);
    expect(dep.pod).toEqual({
      replicas: 2,
      terminationGracePeriodSeconds: 25,
      appContainer: "proxy",
      containers: [
        { name: "mesh", image: "mesh:1", role: "native-sidecar" },
        { name: "proxy", image: "nginx:1.27", role: "app" },
        { name: "app", image: "shop/web:2", role: "sidecar" },
      ],
      preStop: { type: "sleep", seconds: 3 },
      port: 8080,
    });
    expect(dep.objects).toEqual({ namespace: ns, workload: "deployment/web", service: "web", servicePort: 80 });
    expect(dep.platform.notes).toMatch(/Service "web" made NodePort \(was ClusterIP\)/);

    const outcome = await d.disrupt(dep, { action: "delete", count: 1, atSeconds: 0, victims: "first" });
    expect(outcome.pods.map((p) => p.pod)).toEqual([dep.pods[0]]);
    expect(dep.mutations?.at(-1)).toMatch(new RegExp(`^deleted pod ${ns}/${dep.pods[0]} at \\d{4}-`));

    const before = fake.calls.length;
    await d.teardown(dep, runId);
    const deletes = fake.calls.slice(before).filter((c) => c.startsWith("DELETE"));
    expect(deletes[0]).toBe(`DELETE /api/v1/namespaces/${ns}/services/web`);
    expect(deletes).toContain(`DELETE /apis/apps/v1/namespaces/${ns}/deployments/web`);
    expect(deletes.at(-1)).toBe(`DELETE /api/v1/namespaces/${ns}`);
    expect(fake.namespaces.has(ns)).toBe(false);
  });

  it("a workload selecting its pods with matchExpressions: found by the set-based selector, a neighbour left out", async () => {
    const manifests = `
{apiVersion: v1, kind: Service, metadata: {name: web}, spec: {selector: {app: web, tier: front}, ports: [{port: 80, targetPort: 8080}]}}
---
{apiVersion: apps/v1, kind: Deployment, metadata: {name: web}, spec: {replicas: 2, selector: {
  matchLabels: {app: web},
  matchExpressions: [{key: track, operator: In, values: [stable, beta]}, {key: canary, operator: DoesNotExist}]},
  template: {metadata: {labels: {app: web, tier: front, track: stable}},
    spec: {containers: [{name: web, image: "shop/web:2", ports: [{containerPort: 8080}]}]}}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web-canary}
spec:
  replicas: 1
  selector: {matchLabels: {app: web, canary: "yes"}}
  template:
    metadata: {labels: {app: web, track: stable, canary: "yes"}}
    spec: {containers: [{name: web, image: "shop/web:3", ports: [{containerPort: 8080}]}]}
`;
    const set = selectManifestSet(parseManifests(manifests, "sel.yaml"), { namespace: "x", name: "web" });
    const d = driver();
    const scenario = ScenarioSpec.parse({ name: "sel", workload: { manifests: "sel.yaml", name: "web" } });
    const runId = "20300101000002-cccccc";
    const dep = await d.deploy(scenario, { kind: "manifests", set, images: [] }, new EventLog(), runId);
    // The watch and the lists ask the API with the workload's own selector, in its set-based syntax.
    expect(new Set(fake.podSelectors)).toEqual(new Set(["app=web,track in (stable,beta),!canary"]));
    // The canary's pod carries app=web (matchLabels alone would take it): not one of the run's pods.
    expect([...fake.pods.keys()].some((p) => p.startsWith("web-canary-"))).toBe(true);
    expect(dep.pods).toHaveLength(2);
    expect(dep.pods.every((p) => /^web-\d+$/.test(p))).toBe(true);
    await d.teardown(dep, runId);
  });

  /** The team's namespace: web (2 pods) behind Service web on NodePort 30081, and a neighbour. */
  function shop(nodePort = 30081, selector: Record<string, string> = { app: "web" }) {
    fake.namespaces.set("shop", { metadata: { name: "shop" } });
    const web = parseManifests(MANIFESTS, "m")[2]?.object;
    const worker = parseManifests(MANIFESTS, "m")[3]?.object;
    for (const w of [web, worker] as Obj[]) {
      fake.objects.set(`deployments/shop/${w.metadata.name}`, { ...w, metadata: { ...w.metadata, namespace: "shop" } });
      fake.startPods("shop", w);
    }
    fake.objects.set("services/shop/web", {
      metadata: { name: "web", namespace: "shop" },
      spec: { type: "NodePort", selector, ports: [{ name: "http", port: 80, targetPort: "http", nodePort }] },
    });
    fake.touchSlices("shop");
    fake.calls = [];
  }
  const target = (o: Partial<Target> = {}): Target => ({
    namespace: "shop",
    workload: { kind: "Deployment", name: "web" },
    ...o,
  });
  const targetScenario = () =>
    ScenarioSpec.parse({ name: "t", target: { namespace: "shop", workload: "deployment/web" } });

  it("a target run creates nothing, watches only its pods and deletes only the victim", async () => {
    shop();
    const d = driver({ targetNodePorts: [30080, 30081] });
    const runId = "20300101000001-bbbbbb";
    const sink = new EventLog();
    const dep = await d.deploy(targetScenario(), { kind: "target", target: target() }, sink, runId);
    expect(dep.pods).toHaveLength(2);
    expect(dep.pods.every((p) => p.startsWith("web-"))).toBe(true);
    expect(dep.platform.nodePort).toBe("30081");
    expect(dep.pod).toMatchObject({ replicas: 2, appContainer: "proxy", terminationGracePeriodSeconds: 25 });
    // The neighbour's pod never enters the run's timeline (the watches are label-selected), nor its events.
    const worker = [...fake.pods.keys()].find((n) => n.startsWith("worker-")) ?? "";
    fake.event("shop", "Pod", worker);
    fake.event("shop", "Pod", dep.pods[1] ?? "");
    // The run's pod's event, sent second, is waited for: the neighbour's had its chance by then.
    await vi.waitFor(() => expect(sink.events.some((e) => e.kind === "k8s-event" && e.pod === dep.pods[1])).toBe(true));
    expect(
      sink.events.some((e) => e.pod?.startsWith("worker-") || JSON.stringify(e.detail ?? {}).includes(worker)),
    ).toBe(false);

    const outcome = await d.disrupt(dep, { action: "delete", count: 1, atSeconds: 0, victims: "first" });
    expect(outcome.pods.map((p) => p.pod)).toEqual([dep.pods[0]]);
    await d.teardown(dep, runId);
    // Nothing created, nothing deleted but the victim; the report's mutations say exactly that.
    expect(fake.calls.filter((c) => !c.startsWith("GET"))).toEqual([
      `DELETE /api/v1/namespaces/shop/pods/${dep.pods[0]}`,
    ]);
    expect(dep.mutations).toHaveLength(1);
    expect(dep.mutations?.[0]).toMatch(new RegExp(`^deleted pod shop/${dep.pods[0]} at `));
    expect(fake.namespaces.has("shop")).toBe(true);
    expect(fake.objects.has("services/shop/web")).toBe(true);
  });

  /** A target run of the shop's web with this disruption, deployed. */
  const deployTarget = async (runId: string, disruption: Record<string, unknown>) => {
    shop();
    const d = driver({ targetNodePorts: [30080, 30081] });
    const scenario = ScenarioSpec.parse({
      name: "t",
      target: { namespace: "shop", workload: "deployment/web" },
      disruption,
    });
    return { d, scenario, dep: await d.deploy(scenario, { kind: "target", target: target() }, new EventLog(), runId) };
  };

  it("a target takes evict: only the victim is evicted (the Eviction API), the one change the result lists", async () => {
    const runId = "20300101000003-dddddd";
    // The team's own budget over web (and one over another app): named in the record, left as it is.
    for (const [name, app] of [
      ["web-pdb", "web"],
      ["other-pdb", "other"],
    ]) {
      fake.objects.set(`poddisruptionbudgets/shop/${name}`, {
        apiVersion: "policy/v1",
        kind: "PodDisruptionBudget",
        metadata: { name, namespace: "shop" },
        spec: { minAvailable: 1, selector: { matchExpressions: [{ key: "app", operator: "In", values: [app] }] } },
      });
    }
    const disruption = { action: "evict", count: 1, atSeconds: 0, victims: "first" };
    const { d, scenario, dep } = await deployTarget(runId, disruption);
    const outcome = await d.disrupt(dep, scenario.disruption);
    const victim = dep.pods[0] ?? "";
    expect(outcome.pods.map((p) => p.pod)).toEqual([victim]);
    expect(outcome.voluntary?.evictions.map((e) => [e.pod, e.result])).toEqual([[victim, "accepted"]]);
    expect(outcome.voluntary?.pdb).toEqual({ name: "web-pdb", minAvailable: 1 });
    await d.teardown(dep, runId);
    expect(fake.calls.filter((c) => !c.startsWith("GET"))).toEqual([
      `POST /api/v1/namespaces/shop/pods/${victim}/eviction`,
    ]);
    expect(dep.mutations).toHaveLength(1);
    expect(dep.mutations?.[0]).toMatch(new RegExp(`^evicted pod shop/${victim} at \\d{4}-`));
    expect(fake.pods.has(dep.pods[1] ?? "")).toBe(true);
  });

  it("a target takes drain: its pods on the node evicted, a neighbour's left, the node uncordoned; every change listed", async () => {
    const runId = "20300101000004-eeeeee";
    const disruption = { action: "drain", atSeconds: 0, node: "node-1", retryIntervalSeconds: 0.1, timeoutSeconds: 10 };
    const { d, scenario, dep } = await deployTarget(runId, disruption);
    const onNode1 = dep.pods.filter((p) => fake.pods.get(p)?.spec.nodeName === "node-1");
    const neighbour = [...fake.pods.values()].find((p) => p.metadata.name.startsWith("worker-"));
    expect(onNode1).toHaveLength(1);
    expect(neighbour?.spec.nodeName).toBe("node-1");
    const outcome = await d.disrupt(dep, scenario.disruption);
    expect(outcome.pods.map((p) => p.pod)).toEqual(onNode1);
    expect(outcome.voluntary?.drain).toMatchObject({ node: "node-1", pods: onNode1, timedOut: false });
    expect(fake.nodes.get("node-1")?.spec.unschedulable).toBe(true);
    await d.teardown(dep, runId);
    // Uncordoned at teardown, the run's label gone; the neighbour's pod untouched.
    expect(fake.nodes.get("node-1")?.spec.unschedulable).toBe(false);
    expect(fake.nodes.get("node-1")?.metadata.labels["graceful-e2e.cordoned-by"]).toBeUndefined();
    expect(fake.pods.has(neighbour?.metadata.name)).toBe(true);
    expect(fake.calls.filter((c) => c.startsWith("POST") || c.startsWith("PATCH") || c.startsWith("DELETE"))).toEqual([
      "PATCH /api/v1/nodes/node-1",
      `POST /api/v1/namespaces/shop/pods/${onNode1[0]}/eviction`,
      "PATCH /api/v1/nodes/node-1",
    ]);
    expect(dep.mutations?.map((m) => m.replace(/ at \S+$/, ""))).toEqual([
      "cordoned node node-1",
      `evicted pod shop/${onNode1[0]}`,
      "uncordoned node node-1",
    ]);
  });

  it.each([
    [
      "a missing workload",
      () => shop(),
      target({ workload: { kind: "Deployment", name: "nope" } }),
      /Deployment shop\/nope does not exist/,
    ],
    ["a missing namespace", () => {}, target(), /namespace shop does not exist/],
    [
      "a Service selecting nothing of it",
      () => shop(30081, { app: "other" }),
      target({ service: "web" }),
      /Service shop\/web selects app=other, not the pods of Deployment shop\/web \(app=web\)/,
    ],
    [
      "no Service selecting it",
      () => shop(30081, { app: "other" }),
      target(),
      /no Service in shop selects the pods of Deployment shop\/web/,
    ],
    [
      "a NodePort kind does not publish",
      () => shop(31999),
      target(),
      /NodePort 31999 is not published on 127\.0\.0\.1/,
    ],
  ])("a target with %s is a UsageError before anything changes", async (_what, setup, t, message) => {
    setup();
    const d = driver({ targetNodePorts: [30080, 30081] });
    const err = await d.checkTarget(t).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(message);
    expect(fake.calls.filter((c) => !c.startsWith("GET"))).toEqual([]);
  });
});
