// The Kubernetes driver (deploy → watch → disrupt → teardown) against a small fake API server speaking
// the real wire protocol over HTTP: client-node's typed calls, JSON-patch bodies, streaming watches and
// a followed log. The fake "kubelet" runs a short termination sequence. This checks the I/O code paths
// that only a real cluster exercises fully (the kind e2e suite does that where kind exists).
import { mkdtempSync, readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type Backend, imageOfSource, runningWorkload } from "../../src/backends/backend.js";
import type { BackgroundTeardown, Closable } from "../../src/backends/capabilities.js";
import { registerBackendCleanup } from "../../src/cli/main.js";
import { type ConntrackEvent, type ConntrackFeed, parseConntrackOutput } from "../../src/k8s/conntrack.js";
import {
  type DriverOptions,
  EVIDENCE_BOUND_MS,
  KubernetesDriver,
  parsePs,
  type RuntimeEventSource,
  readyFromWatch,
  victimsFromPlan,
} from "../../src/k8s/driver.js";
import type { RecordedRuntimeEvent } from "../../src/k8s/timeline-from-watch.js";
import type { Clock } from "../../src/k8s/wait.js";
import { processReports } from "../../src/observe/app-log.js";
import { EventLog } from "../../src/observe/events.js";
import { formatResult } from "../../src/report/console.js";
import { readRecordingFile } from "../../src/runner/read-recording.js";
import { replayRun } from "../../src/runner/replay.js";
import { runScenario, type ScenarioResult } from "../../src/runner/run.js";
import { parseScenario } from "../../src/scenario/load.js";
import { ScenarioSpec } from "../../src/scenario/schema.js";
import { handleInterrupt, resetInterruptForTests } from "../../src/util/cleanup.js";
import { UsageError } from "../../src/util/errors.js";
import {
  type FakeApiServer,
  openWatch,
  readBody,
  refused429,
  replyJson,
  startFakeApi,
  useFakeServer,
} from "./fake-api-server.js";

// biome-ignore lint/suspicious/noExplicitAny: free-form fake API objects
type Obj = Record<string, any>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Until the watch has reported each of these pods gone (the fake API deletes them ~40 ms after their exit). */
async function podsGone(sink: EventLog, pods: ReadonlyArray<string | undefined>): Promise<void> {
  await vi.waitFor(() => {
    const gone = new Set(sink.events.filter((e) => e.kind === "pod-gone").map((e) => e.pod));
    expect(pods.filter((p) => !gone.has(p))).toEqual([]);
  });
}

/** A promise the test settles itself (Node 20 has no Promise.withResolvers). */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** When the fake kubelet does what after a delete (ms); undefined: never. */
interface Timing {
  sigterm?: number;
  exit?: number;
  status?: number;
  gone?: number;
}

/** The kind backend's shape around a driver (as backends/kind does it), for runs through the runner. */
function kindBackend(d: KubernetesDriver): Backend {
  return {
    name: "kind",
    deploy: async (sc, source, sink, runId) =>
      runningWorkload(await d.deploy(sc, imageOfSource(source, "kind"), sink, runId), {
        disrupt: (dep, dis, plan) => d.disrupt(dep, dis, plan),
        teardown: (dep, runId) => d.teardown(dep, runId),
        voluntaryRecord: (dep) => d.voluntaryRecord(dep.runId),
      }),
    sweep: (runId) => d.teardown(undefined, runId),
  };
}

class FakeCluster {
  readonly calls: string[] = [];
  timing: Timing = { sigterm: 40, exit: 60, status: 90, gone: 130 };
  /** How long a namespace stays Terminating after its delete (ms). */
  namespaceDeleteMs = 0;
  /** When set, a deleted namespace stays Terminating until this settles (a test's own order, not a race). */
  namespaceGoneWhen?: Promise<void>;
  /** When set, a terminated pod's object goes (timing.gone) no sooner than this settles. */
  podGoneWhen?: Promise<void>;
  /** When set, the API reports a container's exit (timing.status) no sooner than this settles. */
  statusWhen?: Promise<void>;
  /** How long a new pod takes to become Ready (ms). */
  readyAfterMs = 0;
  /** The container's own exit, as the node's runtime records it (tests feed a fake runtime source). */
  onExit?: (pod: string, containerId: string, at: number) => void;
  namespaces = new Map<string, Obj>();
  services = new Map<string, Obj>();
  deployments = new Map<string, Obj>();
  pods = new Map<string, Obj>();
  slices = new Map<string, Obj>();
  /** The nodes pods are placed on, in turn; the control plane (tainted) is listed too. */
  workers = ["ge-worker"];
  nodes = new Map<string, Obj>();
  /** The answer to an eviction of `pod` (a Status; code 201 evicts it). Default: every eviction accepted. */
  evictionAnswer: (pod: string) => Obj = () => ({ kind: "Status", status: "Success", code: 201 });
  pdbs: Obj[] = [];
  /** The API's answer to an uncordon (a PATCH setting unschedulable false), when it fails. */
  uncordonFailure?: Obj;
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
        const ready = !deleting && p.status.conditions.some((c: Obj) => c.type === "Ready" && c.status === "True");
        return {
          addresses: [p.status.podIP],
          conditions: { ready, serving: ready, terminating: deleting },
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
    const pod: Obj = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace: ns, uid: `uid-${n}`, labels: template.metadata.labels, resourceVersion: "1" },
      spec: { ...template.spec, nodeName: this.workers[(n - 1) % this.workers.length] },
      status: {
        phase: "Running",
        podIP: `10.244.1.${n}`,
        conditions: [{ type: "Ready", status: this.readyAfterMs > 0 ? "False" : "True" }],
        containerStatuses: [
          {
            name: "app",
            ready: this.readyAfterMs === 0,
            containerID: `containerd://c${n}`,
            state: { running: { startedAt: new Date().toISOString() } },
          },
        ],
      },
    };
    this.pods.set(name, pod);
    this.emit("pods", ns, "ADDED", pod);
    if (this.readyAfterMs > 0) {
      setTimeout(() => {
        if (pod.metadata.deletionTimestamp) return;
        pod.status.conditions = [{ type: "Ready", status: "True" }];
        pod.status.containerStatuses[0].ready = true;
        this.emit("pods", ns, "MODIFIED", pod);
        this.touchSlice(ns);
      }, this.readyAfterMs);
    }
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
    const t = grace === 0 ? { sigterm: 0, exit: 5, status: 10, gone: 15 } : this.timing;
    const at = (ms: number | undefined, fn: () => void) => {
      if (ms !== undefined) setTimeout(fn, ms);
    };
    at(t.sigterm, () => this.logLine(name, { event: "signal", pid: 1, ppid: 0, role: "app", signal: "SIGTERM" }));
    at(t.exit, () => {
      this.logLine(name, { event: "exit", pid: 1, ppid: 0, role: "app", code: 0 });
      for (const res of this.logs.get(name) ?? []) res.end();
      this.onExit?.(name, pod.status.containerStatuses[0].containerID.replace("containerd://", ""), Date.now());
    });
    at(t.status, async () => {
      await this.statusWhen;
      pod.status.containerStatuses[0].state = {
        terminated: {
          exitCode: 0,
          reason: "Completed",
          containerID: pod.status.containerStatuses[0].containerID,
          finishedAt: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
        },
      };
      pod.status.conditions = [{ type: "Ready", status: "False" }];
      this.emit("pods", ns, "MODIFIED", pod);
    });
    at(t.gone, () => {
      const gone = () => {
        this.pods.delete(name);
        this.emit("pods", ns, "DELETED", pod);
        this.touchSlice(ns);
      };
      if (this.podGoneWhen) void this.podGoneWhen.then(gone);
      else gone();
    });
  }

  handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://x");
    const p = url.pathname;
    const body = await readBody(req);
    const watch = url.searchParams.get("watch") === "true";
    this.calls.push(`${req.method} ${p}${watch ? " (watch)" : ""}`);
    const json = replyJson(res);
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
    if (p.startsWith("/api/v1/nodes") || p.includes("/eviction") || p.startsWith("/apis/policy/")) {
      return this.voluntaryCall(req, p, body, json);
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
      const o = this.namespaces.get(ns);
      if (!o) return notFound();
      if (req.method === "DELETE") {
        if (o.metadata.deletionTimestamp) {
          return json(409, { kind: "Status", code: 409, reason: "Conflict", message: "namespace is terminating" });
        }
        // Kubernetes empties a namespace before it goes: Terminating for a while.
        o.metadata.deletionTimestamp = new Date().toISOString();
        o.status = { phase: "Terminating" };
        const gone = () => {
          this.namespaces.delete(ns);
          this.services.delete(ns);
        };
        if (this.namespaceGoneWhen) void this.namespaceGoneWhen.then(gone);
        else if (this.namespaceDeleteMs > 0) setTimeout(gone, this.namespaceDeleteMs);
        else gone();
        return json(200, o);
      }
      return json(200, o);
    }
    m = p.match(/^\/api\/v1\/namespaces\/([^/]+)\/services(?:\/([^/]+))?$/);
    if (m) {
      const ns = m[1] ?? "";
      if (req.method === "POST") {
        const svc = JSON.parse(body);
        const nodePort = svc.spec.ports[0].nodePort;
        if ([...this.services.values()].some((x) => x.spec.ports[0].nodePort === nodePort)) {
          return json(422, {
            kind: "Status",
            code: 422,
            reason: "Invalid",
            message: `Service "app" is invalid: spec.ports[0].nodePort: Invalid value: ${nodePort}: provided port is already allocated`,
          });
        }
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
          if (op.path === "/spec/strategy" || op.path === "/spec/minReadySeconds") {
            d.spec[op.path.slice("/spec/".length)] = op.value;
          }
          if (op.path.endsWith("restartedAt")) this.rollOut(ns, d);
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

  /** A rolling restart, one pod at a time: the new pod first, then the old one terminated. */
  private rollOut(ns: string, d: Obj) {
    const old = [...this.pods.values()].filter((x) => x.metadata.namespace === ns && !x.metadata.deletionTimestamp);
    old.forEach((pod, i) => {
      setTimeout(
        () => {
          this.newPod(ns, d.spec.template);
          this.touchSlice(ns);
          this.terminate(pod.metadata.name, d.spec.template.spec.terminationGracePeriodSeconds);
        },
        30 * (i + 1),
      );
    });
  }

  /** Nodes (list, read, JSON patch), evictions and PodDisruptionBudgets. */
  private voluntaryCall(req: IncomingMessage, p: string, body: string, json: (code: number, o: unknown) => void) {
    if (this.nodes.size === 0) {
      for (const name of ["ge-control-plane", ...this.workers]) {
        const taints = name.endsWith("control-plane")
          ? [{ key: "node-role.kubernetes.io/master", effect: "NoSchedule" }]
          : [];
        this.nodes.set(name, { kind: "Node", apiVersion: "v1", metadata: { name, labels: {} }, spec: { taints } });
      }
    }
    if (p === "/api/v1/nodes")
      return json(200, { kind: "NodeList", apiVersion: "v1", metadata: {}, items: [...this.nodes.values()] });
    let m = p.match(/^\/api\/v1\/nodes\/([^/]+)$/);
    if (m) {
      const node = this.nodes.get(m[1] ?? "");
      if (!node) return json(404, { kind: "Status", code: 404, reason: "NotFound", message: "node not found" });
      if (req.method === "PATCH") {
        this.calls.push(`patch node ${m[1]} ${body}`);
        const ops = JSON.parse(body) as Array<{ path: string; value?: unknown }>;
        const uncordoning = ops.some((op) => op.path === "/spec/unschedulable" && op.value === false);
        if (uncordoning && this.uncordonFailure) return json(this.uncordonFailure.code, this.uncordonFailure);
        for (const op of JSON.parse(body) as Array<{ op: string; path: string; value?: unknown }>) {
          if (op.path === "/spec/unschedulable") node.spec.unschedulable = op.value;
          const label = /^\/metadata\/labels\/(.+)$/.exec(op.path)?.[1]?.replace(/~1/g, "/");
          if (label && op.op === "add") node.metadata.labels[label] = op.value;
          if (label && op.op === "remove") delete node.metadata.labels[label];
        }
      }
      return json(200, node);
    }
    m = p.match(/^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/eviction$/);
    if (m) {
      const pod = this.pods.get(m[2] ?? "");
      if (!pod)
        return json(404, { kind: "Status", code: 404, reason: "NotFound", message: `pods "${m[2]}" not found` });
      this.calls.push(`evict ${m[2]} ${JSON.parse(body).apiVersion}`);
      const answer = this.evictionAnswer(m[2] ?? "");
      if (answer.code === 201) this.terminate(m[2] ?? "", pod.spec.terminationGracePeriodSeconds);
      return json(answer.code, answer);
    }
    if (/^\/apis\/policy\/v1(beta1)?$/.test(p)) {
      return json(200, {
        kind: "APIResourceList",
        groupVersion: p.slice("/apis/".length),
        resources: [{ name: "poddisruptionbudgets", namespaced: true, kind: "PodDisruptionBudget", verbs: ["create"] }],
      });
    }
    this.pdbs.push(JSON.parse(body));
    return json(201, JSON.parse(body));
  }

  private startWatch(kind: string, ns: string, res: ServerResponse, initial: Obj[]) {
    openWatch(res, initial); // as the API server does: the watch is established before any event
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
  let server: FakeApiServer;
  let port = 0;
  let kc: KubeConfig;

  beforeAll(async () => {
    server = await startFakeApi(fake.handle);
    ({ port, kc } = server);
  });

  afterAll(async () => {
    fake.closeAll();
    await server.close();
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
    // The pod object goes (DELETED, ~40 ms after the exit) only once the test has seen the disruption end:
    // on a loaded machine the two events raced the test's own continuation.
    const podGone = deferred();
    fake.podGoneWhen = podGone.promise;
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
    // Resolved at the exit (the API's terminated state, ~90 ms), not when the pod object went (~130 ms).
    expect(outcome.pods).toHaveLength(1);
    expect(outcome.pods[0]?.exitCode).toBe(0);
    expect(outcome.pods[0]?.goneAt).toBeUndefined();
    // The runner's settle margin and the load's stop; then the final outcome has what came meanwhile.
    podGone.resolve();
    fake.podGoneWhen = undefined;
    await podsGone(sink, [deployment.pods[0]]);
    const pods = (await outcome.final?.()) ?? [];
    expect(pods).toHaveLength(1);
    const [o] = pods;
    expect(o?.goneAt).toBeGreaterThan(o?.exitedAt ?? Number.POSITIVE_INFINITY);
    expect(o).toMatchObject({
      pod: deployment.pods[0],
      pid1Cmdline: "node /app/server.js",
      exitCode: 0,
      exitReason: "Completed",
      sigkilled: false,
      notes: [],
    });
    // Per-process reports come from the recorded events (the runner derives them for every backend).
    expect(processReports(sink.events, o?.pod ?? "")[0]).toMatchObject({ role: "app", pid: 1, exit: { code: 0 } });
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
    expect(outcome.pods.every((p) => p.exitCode === 0)).toBe(true);
    await podsGone(
      sink,
      outcome.pods.map((p) => p.pod),
    );
    const pods = (await outcome.final?.()) ?? [];
    expect(pods.every((p) => p.goneAt !== undefined && p.exitCode === 0)).toBe(true);
    expect(fake.calls).toContain("PATCH /apis/apps/v1/namespaces/ge-scale-01aaaaaa/deployments/app");
    await d.teardown(undefined, runId);
    expect(fake.namespaces.size).toBe(0);
  });
});

describe("KubernetesDriver: planned victims and connection attribution", () => {
  const fake = new FakeCluster();
  let server: FakeApiServer;
  let kc: KubeConfig;
  let port = 0;

  beforeAll(async () => {
    server = await startFakeApi(fake.handle);
    ({ port, kc } = server);
  });

  afterAll(async () => {
    fake.closeAll();
    await server.close();
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
    const sink = new EventLog();
    const deployment = await d.deploy(s, { style: "exec-form", ref: "x/y:1" }, sink, runId);
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
    await podsGone(sink, [third]);
    expect(((await outcome.final?.()) ?? []).map((p) => [p.pod, p.notes])).toEqual([[third, []]]);

    await d.teardown(deployment, runId);
    expect(feed.stopped).toBe(1);
    // Still readable after teardown (the runner may ask late); the victim is named though it is gone.
    expect(d.trafficAttribution(runId)?.connections[0]?.pod).toBe(third);
  });

  it("falls back to the first ready pod by name, with a note, when a victim is not a live pod of the run", async () => {
    const d = driver();
    const s = scenario("fallback", 2);
    const runId = "20300101000003-cccccc";
    const sink = new EventLog();
    const deployment = await d.deploy(s, { style: "exec-form", ref: "x/y:1" }, sink, runId);
    expect(deployment.platform.trafficAttribution).toBeUndefined();
    expect(d.trafficAttribution(runId)).toBeUndefined(); // no feed (existing cluster): no attribution
    const outcome = await d.disrupt(deployment, s.disruption, { victims: ["app-from-another-run"] });
    expect(outcome.pods.map((p) => p.pod)).toEqual([deployment.pods[0]]);
    await podsGone(sink, [deployment.pods[0]]);
    expect((await outcome.final?.())?.[0]?.notes).toEqual([
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

/** Real time until `fast` is set; then each sleep advances the time at once (a fake clock for long waits). */
function switchableClock(): Clock & { fast: boolean; t: number; go(): void } {
  const c = {
    fast: false,
    t: 0,
    go() {
      c.t = Date.now();
      c.fast = true;
    },
    now: () => (c.fast ? c.t : Date.now()),
    sleep: (ms: number) => {
      if (!c.fast) return new Promise<void>((r) => setTimeout(r, ms));
      c.t += Math.max(0, ms);
      return new Promise<void>((r) => setImmediate(r));
    },
  };
  return c;
}

describe("KubernetesDriver: the window closes on evidence, NodePorts per run, teardown in the background", () => {
  let fake: FakeCluster;
  let server: FakeApiServer;
  let kc: KubeConfig;
  let port = 0;

  beforeAll(async () => {
    // Each test makes its own fake cluster: the server asks the current one.
    server = await startFakeApi((req, res) => fake.handle(req, res));
    ({ port, kc } = server);
  });
  afterEach(() => {
    fake?.closeAll();
    resetInterruptForTests();
  });
  afterAll(async () => {
    await server.close();
  });

  /** The nodes' runtime record of exits, as containerd's events give it on kind. */
  const runtimeSource = (): RuntimeEventSource => {
    let on: ((e: RecordedRuntimeEvent) => void) | undefined;
    fake.onExit = (_pod, containerId, at) =>
      on?.({
        source: "runtime",
        receivedAt: Date.now(),
        origin: "containerd on node ge-worker",
        event: "exit",
        at,
        containerId,
        taskId: containerId,
      });
    return {
      start: async (fn) => {
        on = fn;
      },
      stop: async () => {
        on = undefined;
      },
    };
  };
  const driver = (o: Partial<DriverOptions> = {}) =>
    new KubernetesDriver({
      backend: "kind",
      kc,
      target: { host: "127.0.0.1", port },
      trafficPath: "fake",
      nodePort: 30080,
      readPid1: async () => "node /app/server.js",
      readProcessTree: async () => [],
      readyTimeoutMs: 10_000,
      ...o,
    });
  const scenario = (name: string, extra: Record<string, unknown> = {}) =>
    ScenarioSpec.parse({
      name,
      image: { style: "exec-form" },
      replicas: 2,
      terminationGracePeriodSeconds: 5,
      disruption: { action: "delete", count: 1, atSeconds: 0, victims: "first" },
      ...extra,
    });
  const image = { style: "exec-form", ref: "x/y:1" };

  it("a kind run is recorded by default; its replay rebuilds the same outcomes, timeline, verdicts and status", async () => {
    fake = new FakeCluster();
    const d = driver({ runtimeEvents: runtimeSource });
    const backend = kindBackend(d);
    const loaded = parseScenario(
      "recorded-kind.yaml",
      [
        "name: recorded-kind",
        "image: {ref: 'x/y:1'}",
        "replicas: 2",
        "terminationGracePeriodSeconds: 5",
        "load: {connections: 1, durationSeconds: 2, warmUpSeconds: 0, freshConnectionIntervalMs: 0}",
        "disruption: {action: delete, atSeconds: 1, victims: first}",
      ].join("\n"),
    );
    const dir = mkdtempSync(join(tmpdir(), "ge-kind-rec-"));
    const original = await runScenario(loaded, { backend, resolveImage: async () => image, resultsDir: dir });
    await d.drain();
    expect(original.error).toBeUndefined();
    expect(original.pods[0]?.exitCode).toBe(0);
    const file = join(dir, "recorded-kind.kind.observations.jsonl.gz");
    const rec = await readRecordingFile(file);
    const ops = rec.observations.flatMap((o) => (o.kind === "raw" ? [(o.data as { op: string }).op] : []));
    for (const op of ["options", "entry", "delete-called", "pid1", "settle", "outcomes"]) expect(ops).toContain(op);
    const judged = (r: ScenarioResult) =>
      JSON.parse(JSON.stringify([r.pods, r.timeline, r.verdicts, r.trust, r.status, r.inconclusive]));
    const replayed = replayRun(rec);
    expect(judged(replayed)).toEqual(judged(original));
    expect(replayed.warnings.join("\n")).not.toMatch(/differs from what the run decided/);

    // The outcome is rebuilt from the raw observations: the runtime's exit record said 137 → the replay says so.
    for (const o of rec.observations) {
      const data =
        o.kind === "raw"
          ? (o.data as { op: string; entry?: { source: string; event?: string; exitStatus?: number } })
          : undefined;
      if (data?.op === "entry" && data.entry?.source === "runtime" && data.entry.event === "exit")
        data.entry.exitStatus = 137;
    }
    const altered = replayRun(rec);
    expect(altered.pods[0]?.exitCode).toBe(137);
    expect(altered.warnings.join("\n")).toMatch(/differs from what the run decided/);
  });

  it("ends the disruption at the runtime's exit record, before the API's report and long before the pod object goes", async () => {
    fake = new FakeCluster();
    fake.timing = { sigterm: 20, exit: 40, status: 700, gone: 5000 };
    // The API's report comes when the test says (and not before 700 ms), the pod object never: an order
    // the driver must follow, where time bounds raced a loaded machine.
    const apiReport = deferred();
    fake.statusWhen = apiReport.promise;
    fake.podGoneWhen = new Promise<void>(() => {});
    const d = driver({ runtimeEvents: runtimeSource });
    const s = scenario("exit-first");
    const runId = "20300101000010-aaaaaa";
    const deployment = await d.deploy(s, image, new EventLog(), runId);
    const outcome = await d.disrupt(deployment, s.disruption);
    expect(outcome.pods[0]?.exitEvidence?.chosen).toBe("runtime");
    expect(outcome.pods[0]?.exitCode).toBe(0);
    // final(): waits (bounded) for the API's own report of the exit, not for the pod object's deletion.
    let finalDone = false;
    const final = outcome.final?.().then((p) => {
      finalDone = true;
      return p;
    });
    await sleep(200);
    expect(finalDone).toBe(false);
    apiReport.resolve();
    const pods = (await final) ?? [];
    const [o] = pods;
    expect(o?.exitEvidence?.sources.map((x) => x.source).sort()).toEqual(["api", "app", "runtime"]);
    expect(o?.goneAt).toBeUndefined();
    expect(o?.notes).toEqual([
      "pod gone not observed: its containers had exited, and the harness does not wait for the API to delete the pod object (6–10 s after the exit on 1.20)",
    ]);
    await d.teardown(deployment, runId);
    await d.drain();
  });

  it("an exit the runtime stream never delivered is read back from the node (backfill) before the API's word is used", async () => {
    fake = new FakeCluster();
    fake.timing = { sigterm: 20, exit: 40, status: 300, gone: 5000 };
    const asked: Array<{ node: string; containerId: string }> = [];
    const logs: string[] = [];
    let exitAt = 0;
    fake.onExit = (_pod, _id, at) => {
      exitAt = at;
    };
    const silent = (read: "found" | "removed"): RuntimeEventSource => ({
      start: async () => {},
      stop: async () => {},
      backfillExit: async (req) => {
        asked.push(req);
        return read === "found"
          ? {
              entry: {
                source: "runtime",
                receivedAt: Date.now(),
                origin: `containerd on node ${req.node}, read with crictl inspect (the event stream had not delivered the exit)`,
                event: "exit",
                at: exitAt,
                containerId: req.containerId,
                taskId: req.containerId,
                exitStatus: 0,
              },
            }
          : { missing: "docker exec ge-worker crictl inspect -o json c1 failed: NotFound" };
      },
    });
    for (const read of ["found", "removed"] as const) {
      asked.length = 0;
      const d = driver({ runtimeEvents: () => silent(read), runtimeCatchUpMs: 100, log: (l) => logs.push(l) });
      const s = scenario(`backfill-${read}`);
      const runId = read === "found" ? "20300101000012-cccccc" : "20300101000013-dddddd";
      const deployment = await d.deploy(s, image, new EventLog(), runId);
      const outcome = await d.disrupt(deployment, s.disruption);
      const [o] = (await outcome.final?.()) ?? [];
      const victim = outcome.pods[0]?.pod ?? "?";
      expect(asked).toEqual([{ node: "ge-worker", containerId: expect.stringMatching(/^c\d+$/) }]);
      if (read === "found") {
        expect(o?.exitEvidence?.chosen).toBe("runtime");
        expect(o?.exitEvidence?.at).toBe(exitAt);
        expect(o?.exitEvidence?.sources.find((x) => x.source === "runtime")?.note).toMatch(
          /^containerd on node ge-worker, read with crictl inspect/,
        );
        expect(logs).toContain(
          `exit of ${victim} read back from the node's runtime (the event stream had not delivered it)`,
        );
      } else {
        expect(o?.exitEvidence?.sources.map((x) => x.source)).not.toContain("runtime");
        expect(logs.at(-1)).toMatch(/not in the runtime's event stream, and not readable on the node \(.*NotFound\)/);
      }
      await d.teardown(deployment, runId);
      await d.drain();
    }
  });

  it("a pod whose object is gone without an exit seen ends the wait too", async () => {
    fake = new FakeCluster();
    fake.timing = { sigterm: 20, gone: 150 };
    const d = driver();
    const s = scenario("gone-first");
    const runId = "20300101000011-bbbbbb";
    const deployment = await d.deploy(s, image, new EventLog(), runId);
    const t0 = Date.now();
    const outcome = await d.disrupt(deployment, s.disruption);
    // Real time by nature (the wait ends when the pod is gone, ~150 ms): well under the 5 s grace, let
    // alone grace + 30 s, with room for a loaded machine.
    expect(Date.now() - t0).toBeLessThan(2500);
    expect(outcome.pods[0]?.goneAt).toBeDefined();
    expect(outcome.pods[0]?.exitCode).toBeUndefined();
    // Nothing more to wait for: the pod is gone (well under the bound final() would wait for evidence).
    const t1 = Date.now();
    await outcome.final?.();
    expect(Date.now() - t1).toBeLessThan(EVIDENCE_BOUND_MS / 3);
    await d.teardown(deployment, runId);
  });

  it("gives up at grace + 30 s without an exit or the pod gone (fake clock); final() then adds no wait", async () => {
    fake = new FakeCluster();
    fake.timing = {};
    const clock = switchableClock();
    const d = driver({ clock });
    const s = scenario("never-ends");
    const runId = "20300101000012-cccccc";
    const deployment = await d.deploy(s, image, new EventLog(), runId);
    clock.go();
    const t0 = clock.now();
    const outcome = await d.disrupt(deployment, s.disruption);
    expect(clock.now() - t0).toBeGreaterThanOrEqual(35_000);
    expect(clock.now() - t0).toBeLessThan(35_200);
    const t1 = clock.now();
    const [o] = (await outcome.final?.()) ?? [];
    expect(clock.now() - t1).toBe(0);
    expect(o?.notes).toContain(
      `gave up waiting after 35 s (grace 5 s + 30 s): no exit seen and still present: ${o?.pod}`,
    );
    clock.fast = false;
    await d.teardown(deployment, runId);
  });

  it("readiness follows the watch: one pod list per deploy however long the pods take; the Service probed every ~100 ms", async () => {
    fake = new FakeCluster();
    fake.readyAfterMs = 600;
    let probes = 0;
    const d = driver({
      probe: async () => (++probes >= 4 ? true : "connection refused"),
    });
    const s = scenario("ready-events");
    const runId = "20300101000013-dddddd";
    const t0 = Date.now();
    const deployment = await d.deploy(s, image, new EventLog(), runId);
    const took = Date.now() - t0;
    const ns = deployment.platform.namespace;
    expect(fake.calls.filter((c) => c === `GET /api/v1/namespaces/${ns}/pods`)).toHaveLength(1);
    expect(probes).toBe(4);
    // 600 ms of readiness + 3 × 100 ms between probes, plus the fake API's own latency.
    expect(took).toBeGreaterThanOrEqual(850);
    expect(took).toBeLessThan(2000);
    await d.teardown(deployment, runId);
  });

  it("each run at once claims its own NodePort, back in the pool once its Service is deleted", async () => {
    fake = new FakeCluster();
    const d = driver({
      nodePorts: [30080, 30081],
      targetFor: () => ({ host: "127.0.0.1", port }),
      trafficPathFor: (nodePort) => `127.0.0.1:${nodePort} → fake`,
    });
    const [a, b] = await Promise.all([
      d.deploy(scenario("ports-a"), image, new EventLog(), "20300101000014-aaaaaa"),
      d.deploy(scenario("ports-b"), image, new EventLog(), "20300101000014-bbbbbb"),
    ]);
    const nodePortOf = (ns: string | undefined) => fake.services.get(ns ?? "")?.spec.ports[0].nodePort;
    expect([nodePortOf(a?.platform.namespace), nodePortOf(b?.platform.namespace)].sort()).toEqual([30080, 30081]);
    expect(a?.platform.nodePort).toBe(String(nodePortOf(a?.platform.namespace)));
    expect(a?.trafficPath).toBe(`127.0.0.1:${a?.platform.nodePort} → fake`);
    await expect(d.deploy(scenario("ports-c"), image, new EventLog(), "20300101000014-cccccc")).rejects.toThrow(
      /no free NodePort: all 2 \(30080-30081\) are in use by 3008\d \(run 20300101000014-aaaaaa\), 3008\d \(run 20300101000014-bbbbbb\)/,
    );
    // A's Service is deleted by its teardown: C gets A's port (the fake API refuses a port still allocated).
    const portOfA = nodePortOf(a?.platform.namespace);
    await d.teardown(a, "20300101000014-aaaaaa");
    await d.teardown(undefined, "20300101000014-cccccc");
    const c = await d.deploy(scenario("ports-c"), image, new EventLog(), "20300101000014-cccccc");
    expect(nodePortOf(c.platform.namespace)).toBe(portOfA);
    await d.teardown(b, "20300101000014-bbbbbb");
    await d.teardown(c, "20300101000014-cccccc");
    expect(d.ports.portOf("20300101000014-cccccc")).toBeUndefined();
    await d.drain();
    expect(fake.namespaces.size).toBe(0);
  });

  it("teardown deletes the Service first and leaves the namespace going in the background; drain() waits for it", async () => {
    fake = new FakeCluster();
    // The namespace goes only when the test says so: a teardown that waited for it would never return
    // (an order, where a time bound raced a loaded machine).
    const namespaceGone = deferred();
    fake.namespaceGoneWhen = namespaceGone.promise;
    const d = driver();
    const runId = "20300101000015-eeeeee";
    const deployment = await d.deploy(scenario("background"), image, new EventLog(), runId);
    const ns = deployment.platform.namespace ?? "";
    await d.teardown(deployment, runId);
    expect(fake.services.has(ns)).toBe(false);
    expect(fake.namespaces.get(ns)?.status?.phase).toBe("Terminating");
    expect(d.ports.portOf(runId)).toBeUndefined();
    expect(d.namespacesInDeletion()).toEqual([ns]);
    const order = fake.calls.filter((c) => c.startsWith("DELETE"));
    expect(order[0]).toBe(`DELETE /api/v1/namespaces/${ns}/services/app`);
    // A second sweep (the runner's, after a step in flight) finds it terminating: nothing more to delete.
    await d.teardown(deployment, runId);
    let drained = false;
    const draining = d.drain().then(() => {
      drained = true;
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(drained).toBe(false);
    expect(fake.namespaces.get(ns)?.status?.phase).toBe("Terminating");
    namespaceGone.resolve();
    await draining;
    expect(fake.namespaces.size).toBe(0);
    expect(d.namespacesInDeletion()).toEqual([]);
  });

  it("Ctrl-C during a run: once the signal's cleanup is done every namespace is gone, the background ones included", async () => {
    fake = new FakeCluster();
    // The namespace goes only when the test says so: the run's teardown must end without it.
    const namespaceGone = deferred();
    fake.namespaceGoneWhen = namespaceGone.promise;
    const d = driver();
    const backend: Backend & BackgroundTeardown & Closable = {
      ...kindBackend(d),
      drain: () => d.drain(),
      close: async () => {
        await d.drain();
        d.stopAll();
      },
    };
    // As the CLI does before any run: the backend's cleanup runs after every run's own teardown.
    registerBackendCleanup(backend);
    const loaded = parseScenario(
      "ctrl-c.yaml",
      [
        "name: ctrl-c",
        "image: {ref: 'x/y:1'}",
        "replicas: 2",
        "terminationGracePeriodSeconds: 5",
        "load: {connections: 1, durationSeconds: 5, warmUpSeconds: 0, freshConnectionIntervalMs: 0}",
        "disruption: {action: delete, atSeconds: 3}",
      ].join("\n"),
    );
    let loadStarted: () => void = () => {};
    const underLoad = new Promise<void>((r) => {
      loadStarted = r;
    });
    const run = runScenario(loaded, {
      backend,
      resolveImage: async () => image,
      onProgress: (line) => {
        if (line.includes("load: ")) loadStarted();
      },
    });
    await underLoad;
    expect(fake.namespaces.size).toBe(1);
    let cleanedUp = false;
    const cleanup = handleInterrupt("SIGINT", () => {}).then(() => {
      cleanedUp = true;
    });
    // The run's teardown is over while its namespace is still Terminating (it does not wait for it)...
    const r = await run;
    expect(r.error).toBe("interrupted by SIGINT");
    expect(r.phases?.teardownMs).toBeDefined();
    expect([...fake.namespaces.values()].map((n) => n.status?.phase)).toEqual(["Terminating"]);
    // ...and the signal's cleanup is not done until the namespace is gone.
    await new Promise((res) => setTimeout(res, 200));
    expect(cleanedUp).toBe(false);
    namespaceGone.resolve();
    await cleanup;
    expect(fake.namespaces.size).toBe(0);
  });
});

describe("readyFromWatch", () => {
  const view = (o: { live: string[]; deleting?: string[]; ready: string[]; endpoints: string[] }) => ({
    livePods: () => o.live,
    podsBeingDeleted: () => o.deleting ?? [],
    readyPods: () => o.ready,
    readyEndpoints: () => o.endpoints,
  });
  it("every replica Ready and a ready endpoint, nothing else live", () => {
    expect(readyFromWatch(view({ live: ["b", "a"], ready: ["b", "a"], endpoints: ["a", "b"] }), 2)).toEqual(["a", "b"]);
    expect(readyFromWatch(view({ live: ["a", "b"], ready: ["a", "b"], endpoints: ["a"] }), 2)).toBeUndefined();
    expect(
      readyFromWatch(view({ live: ["a", "b", "c"], ready: ["a", "b"], endpoints: ["a", "b"] }), 2),
    ).toBeUndefined();
    expect(
      readyFromWatch(view({ live: ["a", "b", "c"], deleting: ["c"], ready: ["a", "b"], endpoints: ["a", "b"] }), 2),
    ).toEqual(["a", "b"]);
    expect(readyFromWatch(view({ live: ["a", "b"], ready: ["a"], endpoints: ["a", "b"] }), 2)).toBeUndefined();
  });
});

describe("KubernetesDriver: evict and drain through the Eviction API", () => {
  let fake: FakeCluster;
  const served = useFakeServer((req, res) => fake.handle(req, res));
  afterEach(() => {
    fake?.closeAll();
    resetInterruptForTests();
  });

  const driver = (clock?: Clock) =>
    new KubernetesDriver({
      backend: "kind",
      kc: served.kc(),
      target: { host: "127.0.0.1", port: served.port() },
      trafficPath: "fake",
      nodePort: 30080,
      readPid1: async () => "node /app/server.js",
      readProcessTree: async () => [],
      readyTimeoutMs: 10_000,
      clock,
    });
  const image = { style: "exec-form", ref: "x/y:1" };
  const refused = (desired: number, current: number) => refused429("app", desired, current);
  /** Refuses each pod's first `n` evictions, then accepts. */
  const refuseFirst = (n: number) => {
    const seen = new Map<string, number>();
    return (pod: string) => {
      const k = (seen.get(pod) ?? 0) + 1;
      seen.set(pod, k);
      return k <= n ? refused(2, 2) : { kind: "Status", status: "Success", code: 201 };
    };
  };

  it("drain: the busiest pod's node is cordoned, its pods evicted (a 429 retried), gone; uncordoned at teardown", async () => {
    fake = new FakeCluster();
    fake.workers = ["ge-worker", "ge-worker2"];
    fake.evictionAnswer = refuseFirst(1);
    const d = driver();
    const sink = new EventLog();
    const scenario = ScenarioSpec.parse({
      name: "drain",
      image: { style: "exec-form" },
      replicas: 4,
      terminationGracePeriodSeconds: 5,
      pdb: { minAvailable: 3 },
      disruption: { action: "drain", atSeconds: 0, retryIntervalSeconds: 0.1, timeoutSeconds: 20 },
    });
    const runId = "20300101000009-dddddd";
    const dep = await d.deploy(scenario, image, sink, runId);
    // The Deployment spreads the replicas; the PDB selects them in policy/v1 (1.33).
    const created = fake.deployments.get(dep.platform.namespace ?? "");
    expect(created?.spec.template.spec.topologySpreadConstraints?.[0]?.topologyKey).toBe("kubernetes.io/hostname");
    expect(fake.pdbs).toEqual([
      expect.objectContaining({
        apiVersion: "policy/v1",
        spec: { minAvailable: 3, selector: { matchLabels: created?.spec.selector.matchLabels } },
      }),
    ]);
    const onWorker2 = dep.pods.filter((p) => fake.pods.get(p)?.spec.nodeName === "ge-worker2").sort();
    expect(onWorker2).toHaveLength(2);
    const busiest = onWorker2[1] as string;

    const outcome = await d.disrupt(dep, scenario.disruption, { victims: [busiest] });
    const v = outcome.voluntary;
    expect(v?.pdb).toEqual({ name: "app", minAvailable: 3 });
    expect(v?.drain).toMatchObject({
      node: "ge-worker2",
      chosenBecause: `busiest pod ${busiest}`,
      pods: onWorker2,
      timedOut: false,
    });
    expect(v?.drain?.finishedAt).toBeGreaterThanOrEqual(v?.drain?.cordonedAt ?? Number.POSITIVE_INFINITY);
    // Each pod: refused once (429, the API's words kept), then accepted.
    expect(v?.evictions.map((e) => [e.pod, e.attempt, e.result, e.status, e.node])).toEqual(
      expect.arrayContaining(
        onWorker2.flatMap((p) => [
          [p, 1, "refused", 429, "ge-worker2"],
          [p, 2, "accepted", 201, "ge-worker2"],
        ]),
      ),
    );
    expect(v?.evictions).toHaveLength(4);
    expect(v?.evictions[0]?.message).toBe(
      "Cannot evict pod as it would violate the pod's disruption budget. The disruption budget app needs 2 healthy pods and has 2 currently",
    );
    expect(fake.calls).toContain(`evict ${busiest} policy/v1`);
    // Both evicted pods judged, each with its node; the other node's pods untouched.
    expect(outcome.pods.map((p) => [p.pod, p.node]).sort()).toEqual(onWorker2.map((p) => [p, "ge-worker2"]));
    expect(fake.nodes.get("ge-worker2")?.spec.unschedulable).toBe(true);
    expect(fake.nodes.get("ge-worker2")?.metadata.labels["graceful-e2e.cordoned-by"]).toBe("20300101000009-dddddd");
    expect(fake.nodes.get("ge-worker")?.spec.unschedulable).toBeUndefined();
    const kinds = sink.events.map((e) => e.kind);
    expect(kinds.filter((k) => k === "eviction")).toHaveLength(4);
    expect(kinds).toContain("node-cordoned");
    expect(
      sink.events
        .filter((e) => e.kind === "delete-requested")
        .map((e) => e.pod)
        .sort(),
    ).toEqual(onWorker2);
    // The ready endpoints over the window: 4, fewer while the evicted pods go.
    const series = d.readyEndpoints(runId) ?? [];
    expect(series[0]?.ready).toBeLessThanOrEqual(4);
    expect(Math.max(...series.map((s) => s.ready))).toBe(4);
    expect(Math.min(...series.slice(series.findIndex((s) => s.ready === 4)).map((s) => s.ready))).toBe(2);

    await d.teardown(dep, runId);
    expect(fake.nodes.get("ge-worker2")?.spec.unschedulable).toBe(false);
    expect(fake.nodes.get("ge-worker2")?.metadata.labels["graceful-e2e.cordoned-by"]).toBeUndefined();
    expect(v?.drain?.uncordonedAt).toBeGreaterThanOrEqual(v?.drain?.finishedAt ?? Number.POSITIVE_INFINITY);
    expect(sink.events.filter((e) => e.kind === "node-uncordoned").map((e) => e.detail?.node)).toEqual(["ge-worker2"]);
  });

  /** A drain under a budget that never allows, run through the runner and stopped by SIGINT mid-drain. */
  const ctrlCMidDrain = async (resultsDir: string): Promise<ScenarioResult> => {
    fake.evictionAnswer = () => refused(2, 2);
    const d = driver();
    const loaded = parseScenario(
      "ctrl-c-drain.yaml",
      [
        "name: ctrl-c-drain",
        "image: {ref: 'x/y:1'}",
        "replicas: 2",
        "terminationGracePeriodSeconds: 5",
        "pdb: {minAvailable: 2}",
        "load: {connections: 1, durationSeconds: 30, warmUpSeconds: 0, freshConnectionIntervalMs: 0}",
        "disruption: {action: drain, atSeconds: 0, node: ge-worker, retryIntervalSeconds: 0.2, timeoutSeconds: 60}",
      ].join("\n"),
    );
    let cordoned: () => void = () => {};
    const cordonSeen = new Promise<void>((r) => {
      cordoned = r;
    });
    const sinkWatch = setInterval(() => {
      if (fake.nodes.get("ge-worker")?.spec.unschedulable === true) cordoned();
    }, 20);
    const run = runScenario(loaded, { backend: kindBackend(d), resolveImage: async () => image, resultsDir });
    await cordonSeen;
    clearInterval(sinkWatch);
    // A refusal answered before the signal: the second request, as retries follow the answer they retry
    // (waited for, not slept on).
    await vi.waitFor(() => expect(fake.calls.filter((c) => c.startsWith("evict ")).length).toBeGreaterThanOrEqual(2));
    await handleInterrupt("SIGINT", () => {});
    return run;
  };

  it("Ctrl-C mid-drain (a budget that never allows): the node is uncordoned by the run's cleanup", async () => {
    fake = new FakeCluster();
    fake.workers = ["ge-worker", "ge-worker2"];
    const dir = mkdtempSync(join(tmpdir(), "ge-ctrl-c-drain-"));
    const r = await ctrlCMidDrain(dir);
    expect(r.error).toBe("interrupted by SIGINT");
    expect(fake.nodes.get("ge-worker")?.spec.unschedulable).toBe(false);
    expect(fake.nodes.get("ge-worker")?.metadata.labels["graceful-e2e.cordoned-by"]).toBeUndefined();
    // The errored result still says what the drain did: the cordon, every answer so far, the uncordon.
    const drain = r.voluntary?.drain;
    expect(drain).toMatchObject({
      node: "ge-worker",
      chosenBecause: "scenario node",
      interrupted: true,
      timedOut: false,
    });
    expect(drain?.finishedAt).toBeUndefined();
    expect(drain?.uncordonedAt).toBeGreaterThanOrEqual(drain?.cordonedAt ?? Number.POSITIVE_INFINITY);
    expect(drain?.uncordonError).toBeUndefined();
    expect(drain?.timeoutReason).toMatch(
      /^the run ended 0\.\d s after the cordon, before the drain did: refused \(429\) app-/,
    );
    const refusals = fake.calls.filter((c) => c.startsWith("evict ")).length;
    expect(r.voluntary?.evictions.length).toBe(refusals);
    expect(r.voluntary?.evictions.every((e) => e.result === "refused" && e.node === "ge-worker")).toBe(true);
    expect(r.voluntary?.pdb).toEqual({ name: "app", minAvailable: 2 });
    // The same in the result file and on the console.
    const file = JSON.parse(readFileSync(join(dir, "ctrl-c-drain.kind.json"), "utf8")) as ScenarioResult;
    expect(file.voluntary?.drain).toEqual(drain);
    expect(file.voluntary?.evictions).toHaveLength(refusals);
    const lines = formatResult(r).join("\n");
    expect(lines).toMatch(
      /drain: node ge-worker \(scenario node\) cordoned; INTERRUPTED: the run ended .*; uncordoned \d+\.\d\d s after the cordon/,
    );
    expect(lines).toContain(
      `evictions: 0 accepted, ${refusals} refused (429), 0 error(s) under PodDisruptionBudget app`,
    );
  });

  it("Ctrl-C mid-drain and the uncordon fails: the record and the error say so, the node keeps its label", async () => {
    fake = new FakeCluster();
    fake.workers = ["ge-worker", "ge-worker2"];
    fake.uncordonFailure = {
      kind: "Status",
      status: "Failure",
      code: 500,
      reason: "InternalError",
      message: "etcdserver: request timed out",
    };
    const r = await ctrlCMidDrain(mkdtempSync(join(tmpdir(), "ge-ctrl-c-drain-")));
    expect(fake.nodes.get("ge-worker")?.spec.unschedulable).toBe(true);
    expect(fake.nodes.get("ge-worker")?.metadata.labels["graceful-e2e.cordoned-by"]).toBeDefined();
    const drain = r.voluntary?.drain;
    expect(drain?.interrupted).toBe(true);
    expect(drain?.uncordonedAt).toBeUndefined();
    expect(drain?.uncordonError).toContain("etcdserver: request timed out");
    expect(r.error).toMatch(
      /^interrupted by SIGINT; teardown incomplete: .*uncordon node ge-worker: etcdserver: request timed out/,
    );
    expect(formatResult(r).join("\n")).toContain("UNCORDON FAILED (");
  });

  it("drain on a cluster with one schedulable node: a usage error before anything of the run is created", async () => {
    fake = new FakeCluster();
    const d = driver();
    const scenario = ScenarioSpec.parse({
      name: "one",
      image: { style: "exec-form" },
      disruption: { action: "drain" },
    });
    const err = await d.deploy(scenario, image, new EventLog(), "20300101000010-eeeeee").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(/needs at least 2 schedulable nodes, the kind cluster has 1/);
    expect(fake.calls.filter((c) => c.startsWith("POST"))).toEqual([]);
    await d.teardown(undefined, "20300101000010-eeeeee");
  });

  it("evict: the planned victim through the Eviction API; a budget that never allows gives up at the timeout", async () => {
    fake = new FakeCluster();
    fake.evictionAnswer = () => refused(2, 2);
    // The retries and the deadline on a fake clock: a loaded machine's slow answers cannot eat the
    // 350 ms (real time made it 2 attempts, not 3, under load).
    const clock = switchableClock();
    const d = driver(clock);
    const scenario = ScenarioSpec.parse({
      name: "evict",
      image: { style: "exec-form" },
      disruption: { action: "evict", atSeconds: 0, retryIntervalSeconds: 0.1, timeoutSeconds: 0.35 },
    });
    const runId = "20300101000011-ffffff";
    const dep = await d.deploy(scenario, image, new EventLog(), runId);
    const victim = dep.pods[1] as string;
    clock.go();
    const outcome = await d.disrupt(dep, scenario.disruption, { victims: [victim] });
    clock.fast = false;
    expect(outcome.pods).toEqual([]);
    expect(outcome.voluntary?.evictions.map((e) => [e.pod, e.result])).toEqual(
      Array.from({ length: outcome.voluntary?.evictions.length ?? 0 }, () => [victim, "refused"]),
    );
    // Attempts at 0, 100, 200 and 300 ms; none started once the next would be at or past the 350 ms deadline.
    expect(outcome.voluntary?.evictions.length).toBe(4);
    expect(outcome.voluntary?.drain).toBeUndefined();

    fake.evictionAnswer = () => ({ kind: "Status", status: "Success", code: 201 });
    const again = await d.disrupt(dep, scenario.disruption, { victims: [victim] });
    expect(again.pods.map((p) => [p.pod, p.node, p.exitCode])).toEqual([[victim, "ge-worker", 0]]);
    await d.teardown(dep, runId);
  });

  it("rollout with the scenario's strategy: patched before the restart, every old pod replaced and judged", async () => {
    fake = new FakeCluster();
    fake.workers = ["ge-worker", "ge-worker2"];
    const d = driver();
    const scenario = ScenarioSpec.parse({
      name: "roll",
      image: { style: "exec-form" },
      replicas: 3,
      terminationGracePeriodSeconds: 5,
      disruption: { action: "rollout", atSeconds: 0, strategy: { maxUnavailable: "50%", minReadySeconds: 1 } },
    });
    const runId = "20300101000012-aaaaab";
    const dep = await d.deploy(scenario, image, new EventLog(), runId);
    const outcome = await d.disrupt(dep, scenario.disruption);
    const created = fake.deployments.get(dep.platform.namespace ?? "");
    expect(created?.spec.strategy).toEqual({
      type: "RollingUpdate",
      rollingUpdate: { maxSurge: 1, maxUnavailable: "50%" },
    });
    expect(created?.spec.minReadySeconds).toBe(1);
    // Every replaced pod, not only the first, each with its exit and its node.
    expect(outcome.pods.map((p) => p.pod).sort()).toEqual([...dep.pods].sort());
    expect(outcome.pods.every((p) => p.exitCode === 0 && p.node?.startsWith("ge-worker"))).toBe(true);
    expect(outcome.voluntary?.evictions).toEqual([]);
    await d.teardown(dep, runId);
  });
});
