// One scenario on a Kubernetes API server, shared by the kind and existing-cluster backends:
// create the labelled namespace + Service + Deployment, watch everything (watch.ts → the pure
// TimelineBuilder → the run's EventSink), wait for readiness through the real traffic path, carry out
// the disruption through the API and wait for the disrupted pods to be gone, then delete what was made.
// The backends only differ in how images get to the nodes, where the kubeconfig comes from, which
// address load uses, and how PID 1's command line is read.
import { Writable } from "node:stream";
import {
  ApisApi,
  AppsV1Api,
  CoreV1Api,
  Exec,
  type KubeConfig,
  type V1Pod,
  type V1Status,
  VersionApi,
} from "@kubernetes/client-node";
import type { Deployment, DisruptionOutcome, DisruptionPlan, PodOutcome, ResolvedImage } from "../backends/backend.js";
import { inspectByExec } from "../inspect/inspect.js";
import { predict } from "../inspect/predict.js";
import type { ProcessTreeInspection } from "../inspect/types.js";
import type { EventSink, TimelineEvent } from "../observe/events.js";
import type { TrafficAttribution } from "../observe/exercise-types.js";
import type { Disruption, Scenario } from "../scenario/schema.js";
import { LABEL_ROOT, LABEL_RUN } from "../util/labels.js";
import { type ConntrackFeed, routedConnections } from "./conntrack.js";
import { buildManifests, DEPLOYMENT_NAME, labelValue, RESTARTED_AT_ANNOTATION, SERVICE_NAME } from "./manifests.js";
import { type ProcessEntry, type RecordedRuntimeEvent, TimelineBuilder } from "./timeline-from-watch.js";
import { type ClusterCapabilities, capabilities, parseServerVersion } from "./version.js";
import { ClusterObserver } from "./watch.js";

export interface Pid1Request {
  namespace: string;
  pod: string;
  container: string;
  nodeName?: string;
  /** "containerd://<id>" as in containerStatuses. */
  containerID?: string;
}

/**
 * The nodes' container runtime task events (kind: containerd on each node), the most trusted record of
 * a container's exit. Started at deploy, stopped at teardown; must not throw once started.
 */
export interface RuntimeEventSource {
  start(onEntry: (entry: RecordedRuntimeEvent) => void): Promise<void>;
  stop(): Promise<void>;
}

export interface DriverOptions {
  backend: "kind" | "existing";
  kc: KubeConfig;
  /** Where load goes (127.0.0.1 / localhost). */
  target: { host: string; port: number };
  /** Check that target answers /healthz before the deployment counts as ready (default true). */
  checkReachable?: boolean;
  /** The path traffic takes, for the report. */
  trafficPath: string;
  nodePort: number;
  serviceType?: "NodePort" | "LoadBalancer";
  /** Maps the image the scenario resolved to the reference the cluster pulls (existing: pushed ref). */
  imageFor?: (image: ResolvedImage) => string;
  /**
   * Reads the command line of the container's LIVE PID 1 (a script that exec'd shows as what it
   * exec'd); a note says when only something less (the configured command) could be read. Default:
   * exec `cat /proc/1/cmdline` in the container.
   */
  readPid1?: (req: Pid1Request) => Promise<string | Pid1Reading>;
  /**
   * Reads the container's process tree; default: the processes of the inspection below, else exec
   * `ps` (skipped quietly when the image has none).
   */
  readProcessTree?: (req: Pid1Request) => Promise<ProcessEntry[]>;
  /**
   * Reads every process of the container with its SIGTERM disposition, before any signal (never
   * throws: an unreadable container gives source "none" and notes). Default: inspect.ts's script
   * through the Kubernetes exec API (needs sh, or at least cat, in the image).
   */
  inspectProcesses?: (req: Pid1Request) => Promise<ProcessTreeInspection>;
  /** Established connections on the container's port in the pod's own socket table (kind: via the node). */
  readEstablished?: (req: Pid1Request, port: number) => Promise<number>;
  /** Extra platform facts for the report. */
  platform?: Record<string, string>;
  /**
   * The nodes' runtime task events for one run (kind: `ctr events` on every node). Absent (existing
   * clusters: no node access): exits come from the app's lines and the API only.
   */
  runtimeEvents?: () => RuntimeEventSource;
  /**
   * Starts reading which pod each connection to the NodePort goes to (kind: the nodes' conntrack),
   * called at deploy before the Service exists and stopped at teardown. Absent (existing clusters: no
   * node access): trafficAttribution() is undefined.
   */
  trafficAttribution?: (run: { runId: string; nodePort: number }) => Promise<ConntrackFeed>;
  readyTimeoutMs?: number;
  log?: (line: string) => void;
  now?: () => number;
}

interface RunState {
  runId: string;
  namespace: string;
  scenario: Scenario;
  sink: EventSink;
  builder: TimelineBuilder;
  observer: ClusterObserver;
  caps: ClusterCapabilities;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How long the delete waits for the victims' socket tables. */
const SOCKET_READ_BOUND_MS = 1500;

function httpStatus(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === "number" ? code : undefined;
}

function errText(err: unknown): string {
  if (err && typeof err === "object" && "body" in err) {
    const body = (err as { body?: unknown }).body;
    try {
      const parsed =
        typeof body === "string" ? (JSON.parse(body) as { message?: string }) : (body as { message?: string });
      if (parsed?.message) return parsed.message;
    } catch {
      /* not JSON */
    }
  }
  return err instanceof Error ? err.message : String(err);
}

/** Reads /version and /apis; /apis failing (RBAC) falls back to the version rules. */
export async function detectCapabilities(kc: KubeConfig): Promise<ClusterCapabilities> {
  const info = await kc.makeApiClient(VersionApi).getCode();
  const version = parseServerVersion(info);
  try {
    const groups = await kc.makeApiClient(ApisApi).getAPIVersions();
    return capabilities(version, groups);
  } catch {
    return capabilities(version);
  }
}

/** Runs argv in a pod's container through the exec API; resolves with its stdout. */
export async function execInPod(kc: KubeConfig, req: Pid1Request, argv: string[], timeoutMs = 5000): Promise<string> {
  const chunks: Buffer[] = [];
  const stdout = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(Buffer.from(chunk));
      cb();
    },
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("exec timed out")), timeoutMs);
    new Exec(kc)
      .exec(req.namespace, req.pod, req.container, argv, stdout, null, null, false, (s: V1Status) => {
        clearTimeout(timer);
        if (s.status === "Success") resolve();
        else reject(new Error(s.message ?? "exec failed"));
      })
      .catch((e: unknown) => {
        clearTimeout(timer);
        reject(e);
      });
  });
  return Buffer.concat(chunks).toString("utf8");
}

/** PID 1's command line through the exec API (needs `cat` in the image). */
export async function pid1ViaExec(kc: KubeConfig, req: Pid1Request): Promise<string> {
  const raw = await execInPod(kc, req, ["cat", "/proc/1/cmdline"]);
  return raw.split("\0").filter(Boolean).join(" ");
}

/** `ps -eo pid=,ppid=,args=` output → entries (PIDs as the container sees them, like the app logs them). */
export function parsePs(text: string): ProcessEntry[] {
  const out: ProcessEntry[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line);
    if (m?.[1] && m[2] && m[3] !== undefined) out.push({ pid: Number(m[1]), ppid: Number(m[2]), command: m[3].trim() });
  }
  return out;
}

/** The container's process tree through the exec API (needs `ps` in the image; best effort). */
export async function processTreeViaExec(kc: KubeConfig, req: Pid1Request): Promise<ProcessEntry[]> {
  return parsePs(await execInPod(kc, req, ["ps", "-eo", "pid=,ppid=,args="]));
}

/** PID 1's command line, and a note when it is not the live process's (e.g. the configured command). */
export interface Pid1Reading {
  cmdline: string;
  note?: string;
}

/** What was read of one pod's processes before any signal. */
export interface PodReading {
  inspection?: ProcessTreeInspection;
  /** predict()'s summary, in words. */
  prediction?: string;
  /** For the pod's outcome (e.g. PID 1 read from the configured command only). */
  notes: string[];
  /** Where the pod's container is (to read its socket table at the delete). */
  req?: Pid1Request;
  /** Its socket table just before the delete. */
  socketsAtDelete?: PodOutcome["socketsAtDelete"];
}

/**
 * The container's processes and SIGTERM dispositions read INSIDE it through the exec API (inspect.ts's
 * script; PID 1's status alone when the image has cat but no sh). Never throws.
 */
export function inspectViaPodExec(
  kc: KubeConfig,
  req: Pid1Request,
  notes: string[] = [],
): Promise<ProcessTreeInspection> {
  return inspectByExec(
    async (argv) => {
      try {
        return { exitCode: 0, stdout: await execInPod(kc, req, argv, 15_000), stderr: "" };
      } catch (err) {
        return { exitCode: 1, stdout: "", stderr: errText(err) };
      }
    },
    req.containerID?.replace(/^[a-z0-9.+-]+:\/\//i, "") ?? `${req.pod}/${req.container}`,
    { source: "kube-exec", via: `the Kubernetes exec API (${req.pod}/${req.container})` },
    notes,
  );
}

/**
 * One pod before any signal: its processes with their SIGTERM dispositions, PID 1's live command line
 * and the process tree (into the timeline builder). Never throws; what failed is logged or noted.
 */
export async function readPodBeforeSignals(
  o: Pick<DriverOptions, "kc" | "readPid1" | "readProcessTree" | "inspectProcesses" | "log">,
  req: Pid1Request,
  port: number,
  builder: TimelineBuilder,
): Promise<PodReading> {
  const notes: string[] = [];
  let inspection: ProcessTreeInspection | undefined;
  try {
    inspection = await (o.inspectProcesses ? o.inspectProcesses(req) : inspectViaPodExec(o.kc, req));
  } catch (err) {
    o.log?.(`could not inspect the processes of ${req.pod}: ${errText(err)}`);
  }
  try {
    const pid1 = await (o.readPid1 ? o.readPid1(req) : pid1ViaExec(o.kc, req));
    const reading = typeof pid1 === "string" ? { cmdline: pid1 } : pid1;
    builder.setPid1(req.pod, reading.cmdline);
    if (reading.note) notes.push(reading.note);
  } catch (err) {
    o.log?.(`could not read PID 1 of ${req.pod}: ${errText(err)}`);
  }
  try {
    const inspected = (inspection?.processes ?? []).map((p) => ({ pid: p.pid, ppid: p.ppid, command: p.command }));
    const tree = o.readProcessTree
      ? await o.readProcessTree(req)
      : inspected.length > 0
        ? inspected
        : await processTreeViaExec(o.kc, req);
    if (tree.length > 0) builder.setProcessTree(req.pod, tree);
  } catch {
    // no `ps` in the image: the tree stays unknown
  }
  const prediction =
    inspection && inspection.processes.length > 0 ? predict(inspection.processes, { port }).summary : undefined;
  return { ...(inspection ? { inspection } : {}), ...(prediction ? { prediction } : {}), notes };
}

/** Puts what readPodBeforeSignals() read on the disrupted pods' outcomes. */
export function attachReadings(outcomes: PodOutcome[], readings: ReadonlyMap<string, PodReading> | undefined): void {
  for (const o of outcomes) {
    const r = readings?.get(o.pod);
    if (!r) continue;
    if (r.inspection) o.inspection = r.inspection;
    if (r.prediction) o.prediction = r.prediction;
    if (r.socketsAtDelete) o.socketsAtDelete = r.socketsAtDelete;
    o.notes.push(...r.notes);
  }
}

export class KubernetesDriver {
  private readonly runs = new Map<string, RunState>();
  /** Per run: the nodes' runtime event stream, when the backend has one. */
  private readonly runtimeStreams = new Map<string, RuntimeEventSource>();
  /** Per run: its conntrack feed and pod watch, kept after teardown so attribution stays readable. */
  private readonly attribution = new Map<string, { feed: ConntrackFeed; builder: TimelineBuilder }>();
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private readonly now: () => number;
  /** Per run, per pod: what was read of its processes before any signal (attached to its PodOutcome). */
  private readonly podReadings = new Map<string, Map<string, PodReading>>();

  constructor(private readonly o: DriverOptions) {
    this.core = o.kc.makeApiClient(CoreV1Api);
    this.apps = o.kc.makeApiClient(AppsV1Api);
    this.now = o.now ?? Date.now;
  }

  private log(line: string): void {
    this.o.log?.(line);
  }

  private state(runId: string): RunState {
    const st = this.runs.get(runId);
    if (!st) throw new Error(`no deployment for run ${runId} on this backend`);
    return st;
  }

  async deploy(scenario: Scenario, image: ResolvedImage, sink: EventSink, runId: string): Promise<Deployment> {
    const caps = await detectCapabilities(this.o.kc);
    const ref = this.o.imageFor ? this.o.imageFor(image) : image.ref;
    const m = buildManifests({
      scenario,
      image: ref,
      runId,
      preStopSleep: caps.preStopSleep,
      preStopSleepZero: caps.preStopSleepZero,
      nodePort: this.o.nodePort,
      serviceType: this.o.serviceType,
    });
    const namespace = m.names.namespace;
    const builder = new TimelineBuilder({
      endpointSource: caps.endpointApi === "v1/endpoints" ? "endpoints" : "endpointslices",
      eventsSince: this.now() - 5000,
      container: m.names.container,
    });
    const record = (events: TimelineEvent[]) => {
      for (const e of events) sink.record(e);
    };

    try {
      await this.core.createNamespace({ body: m.namespace });
    } catch (err) {
      throw new Error(`could not create namespace ${namespace}: ${errText(err)}`);
    }
    const observer = new ClusterObserver({
      kc: this.o.kc,
      namespace,
      endpointApi: caps.endpointApi,
      onEntry: (entry) => record(builder.push(entry)),
      warn: (line) => this.log(line),
      now: this.now,
    });
    this.runs.set(runId, { runId, namespace, scenario, sink, builder, observer, caps });
    // Watch before anything runs: the app's first lines and every endpoint change are seen.
    await observer.start();
    // The nodes' own record of exits (kind: containerd), from before any container of the run exists.
    await this.startRuntimeEvents(runId, (entry) => record(builder.push(entry)));
    // Connections too (kind: the nodes' conntrack), before the Service exists: each one from its start.
    const attributionFact = await this.startAttribution(runId, builder);

    try {
      await this.core.createNamespacedService({ namespace, body: m.service });
    } catch (err) {
      const text = errText(err);
      if (/already allocated/i.test(text)) {
        throw new Error(
          `NodePort ${this.o.nodePort} is already used by another Service (a previous run that was not cleaned up?). ` +
            `Find it with the label ${LABEL_ROOT}=true and delete that namespace. (${text})`,
        );
      }
      throw new Error(`could not create the Service: ${text}`);
    }
    try {
      await this.apps.createNamespacedDeployment({ namespace, body: m.deployment });
    } catch (err) {
      throw new Error(`could not create the Deployment: ${errText(err)}`);
    }

    const pods = await this.waitReady(namespace, scenario, m.selector, builder);
    if (this.o.checkReachable !== false) await this.waitReachable();

    // PID 1's command line, the process tree and every process's SIGTERM disposition, before any signal.
    const readings = new Map<string, PodReading>();
    this.podReadings.set(runId, readings);
    await Promise.all(
      pods.map(async (pod) => {
        const req = this.pid1Request(namespace, pod, m.names.container);
        readings.set(req.pod, { ...(await readPodBeforeSignals(this.o, req, scenario.port, builder)), req });
      }),
    );

    return {
      scenario,
      runId,
      target: this.o.target,
      trafficPath: this.o.trafficPath,
      pods: pods.map((p) => p.metadata?.name ?? "?"),
      platform: {
        backend: this.o.backend,
        kubernetes: caps.version.gitVersion,
        namespace,
        image: ref,
        endpointApi: `${caps.endpointApi} (${caps.endpointApiSource})`,
        endpointConditions: caps.endpointConditions,
        preStopSleepAction: String(caps.preStopSleep),
        ...(m.notes.length > 0 || caps.notes.length > 0 ? { notes: [...m.notes, ...caps.notes].join("; ") } : {}),
        ...(attributionFact !== undefined ? { trafficAttribution: attributionFact } : {}),
        ...this.o.platform,
      },
    };
  }

  /** Starts the nodes' runtime event stream, if the backend has one (never throws: exits then come from elsewhere). */
  private async startRuntimeEvents(runId: string, onEntry: (entry: RecordedRuntimeEvent) => void): Promise<void> {
    const source = this.o.runtimeEvents?.();
    if (!source) return;
    this.runtimeStreams.set(runId, source);
    try {
      await source.start(onEntry);
    } catch (err) {
      this.log(`no runtime record of container exits (the app's lines and the API are used): ${errText(err)}`);
    }
  }

  private async stopRuntimeEvents(runId: string): Promise<void> {
    const source = this.runtimeStreams.get(runId);
    this.runtimeStreams.delete(runId);
    try {
      await source?.stop();
    } catch (err) {
      this.log(`could not stop the runtime event stream of run ${runId}: ${errText(err)}`);
    }
  }

  /** Starts the trafficAttribution feed, if the backend has one; returns the platform fact to report. */
  private async startAttribution(runId: string, builder: TimelineBuilder): Promise<string | undefined> {
    if (!this.o.trafficAttribution) return undefined;
    try {
      const feed = await this.o.trafficAttribution({ runId, nodePort: this.o.nodePort });
      this.attribution.set(runId, { feed, builder });
      const notes = feed.notes();
      if (!feed.available()) {
        this.log(`no connection attribution: ${notes.join("; ")}`);
        return `unavailable: ${notes.join("; ") || "no source"}`;
      }
      return `conntrack (NodePort ${this.o.nodePort})${notes.length > 0 ? `; ${notes.join("; ")}` : ""}`;
    } catch (err) {
      this.log(`no connection attribution: ${errText(err)}`);
      return `unavailable: ${errText(err)}`;
    }
  }

  /**
   * Every connection to the NodePort routed so far and the pod it went to (the reply source of its
   * conntrack entry, named by this run's pod watch). Undefined when the backend has no feed or no node
   * could be read (the notes went to the log and to the platform facts).
   */
  trafficAttribution(runId: string): TrafficAttribution | undefined {
    const a = this.attribution.get(runId);
    if (!a?.feed.available()) return undefined;
    const { connections, notes } = routedConnections(a.feed.events(), this.o.nodePort, (ip) => a.builder.podForIp(ip));
    const all = [...a.feed.notes(), ...notes];
    return { source: "conntrack", joinableByClientPort: false, connections, ...(all.length > 0 ? { notes: all } : {}) };
  }

  /**
   * Each victim's own socket table, read just before its delete (bounded: the delete must not wait
   * long for evidence). Failures are noted on the pod, never thrown.
   */
  private async readSocketsBeforeDelete(runId: string, pods: string[], port: number): Promise<void> {
    const read = this.o.readEstablished;
    if (!read) return;
    const readings = this.podReadings.get(runId);
    await Promise.all(
      pods.map(async (pod) => {
        const reading = readings?.get(pod);
        if (!reading?.req) return;
        const req = reading.req;
        try {
          const established = await Promise.race([
            read(req, port),
            sleep(SOCKET_READ_BOUND_MS).then(() => {
              throw new Error(`no answer within ${SOCKET_READ_BOUND_MS} ms`);
            }),
          ]);
          reading.socketsAtDelete = {
            established,
            readAt: this.now(),
            source: `the pod's socket table (/proc/<pid>/net/tcp{,6} on node ${req.nodeName ?? "?"})`,
          };
        } catch (err) {
          reading.notes.push(`the pod's socket table could not be read before the delete: ${errText(err)}`);
        }
      }),
    );
  }

  private pid1Request(namespace: string, pod: V1Pod, container: string): Pid1Request {
    const cs = pod.status?.containerStatuses?.find((c) => c.name === container);
    return {
      namespace,
      pod: pod.metadata?.name ?? "?",
      container,
      nodeName: pod.spec?.nodeName,
      containerID: cs?.containerID,
    };
  }

  /** Every replica Ready, listed as a ready endpoint of the Service, and no other pod around. */
  private async waitReady(
    namespace: string,
    scenario: Scenario,
    selector: Record<string, string>,
    builder: TimelineBuilder,
  ): Promise<V1Pod[]> {
    const deadline = this.now() + (this.o.readyTimeoutMs ?? 180_000);
    const labelSelector = Object.entries(selector)
      .map(([k, v]) => `${k}=${v}`)
      .join(",");
    for (;;) {
      const list = await this.core.listNamespacedPod({ namespace, labelSelector });
      const live = list.items.filter((p) => !p.metadata?.deletionTimestamp);
      const ready = live.filter((p) => p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"));
      const endpoints = new Set(builder.readyEndpoints());
      if (
        live.length === scenario.replicas &&
        ready.length === scenario.replicas &&
        ready.every((p) => endpoints.has(p.metadata?.name ?? ""))
      ) {
        return ready.sort((a, b) => (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? ""));
      }
      if (this.now() > deadline) throw new Error(`the pods did not become ready: ${diagnosePods(list.items)}`);
      await sleep(500);
    }
  }

  /** One 200 from /healthz through the real path (port mapping, kube-proxy). */
  private async waitReachable(): Promise<void> {
    const { host, port } = this.o.target;
    const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}/healthz`;
    const deadline = this.now() + 60_000;
    let last = "";
    for (;;) {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
        await res.arrayBuffer();
        if (res.ok) return;
        last = `HTTP ${res.status}`;
      } catch (err) {
        last = err instanceof Error ? `${err.message}${err.cause ? ` (${String(err.cause)})` : ""}` : String(err);
      }
      if (this.now() > deadline) {
        throw new Error(
          `every pod is ready but ${url} does not answer (${last}): the Service is not reachable from this machine. ` +
            (this.o.backend === "kind"
              ? "Was the cluster created with kind-config.yaml (extraPortMappings 30080 → 127.0.0.1:30080)?"
              : "Check the address given for the Service (NodePort/LoadBalancer reachable on this machine)."),
        );
      }
      await sleep(500);
    }
  }

  async disrupt(deployment: Deployment, disruption: Disruption, plan?: DisruptionPlan): Promise<DisruptionOutcome> {
    const st = this.state(deployment.runId);
    const { builder, namespace, scenario } = st;
    const record = (events: TimelineEvent[]) => {
      for (const e of events) st.sink.record(e);
    };
    const grace =
      disruption.action === "delete"
        ? (disruption.gracePeriodSeconds ?? scenario.terminationGracePeriodSeconds)
        : scenario.terminationGracePeriodSeconds;
    const notes: string[] = [];
    const deletingBefore = new Set(builder.podsBeingDeleted());
    const live = builder
      .livePods()
      .filter((p) => !deletingBefore.has(p))
      .sort();
    let targets: string[] = [];
    let expected = 0;
    let timeoutMs = (Math.ceil(grace) + 30) * 1000;

    switch (disruption.action) {
      case "delete": {
        // The runner's victims (the pods carrying the most connections), when it chose and they are
        // live pods of this run; else the first pods by name among those that were ready, as the
        // recordings did.
        const planned = victimsFromPlan(plan, live);
        if (planned.note) notes.push(planned.note);
        if (planned.victims) {
          targets = planned.victims;
          if (targets.length !== disruption.count) {
            notes.push(`deleted the ${targets.length} planned victim(s) (the scenario asked for ${disruption.count})`);
          }
        } else {
          const ready = deployment.pods.filter((p) => live.includes(p));
          targets = [...ready, ...live.filter((p) => !ready.includes(p))].slice(0, disruption.count);
        }
        if (targets.length < disruption.count && !planned.victims) {
          notes.push(`asked to delete ${disruption.count} pod(s), only ${targets.length} were running`);
        }
        const gps = disruption.gracePeriodSeconds === undefined ? undefined : Math.ceil(disruption.gracePeriodSeconds);
        await this.readSocketsBeforeDelete(deployment.runId, targets, scenario.port);
        await Promise.all(
          targets.map(async (pod) => {
            record(builder.deleteCalled(pod, this.now(), gps));
            await this.core.deleteNamespacedPod({
              name: pod,
              namespace,
              ...(gps !== undefined ? { gracePeriodSeconds: gps } : {}),
            });
          }),
        );
        expected = targets.length;
        break;
      }
      case "rollout": {
        targets = live;
        expected = live.length;
        timeoutMs += scenario.replicas * 30_000;
        record([
          {
            at: this.now(),
            kind: "delete-requested",
            source: "harness",
            detail: { via: "rollout restart", pods: live },
          },
        ]);
        await this.apps.patchNamespacedDeployment({
          name: DEPLOYMENT_NAME,
          namespace,
          body: [
            {
              op: "add",
              path: `/spec/template/metadata/annotations/${RESTARTED_AT_ANNOTATION.replace(/~/g, "~0").replace(/\//g, "~1")}`,
              value: new Date(this.now()).toISOString(),
            },
          ],
        });
        break;
      }
      case "scaleDown": {
        expected = Math.max(0, live.length - disruption.to);
        record([
          {
            at: this.now(),
            kind: "delete-requested",
            source: "harness",
            detail: { via: "scale down", from: live.length, to: disruption.to },
          },
        ]);
        await this.apps.patchNamespacedDeployment({
          name: DEPLOYMENT_NAME,
          namespace,
          body: [{ op: "replace", path: "/spec/replicas", value: disruption.to }],
        });
        break;
      }
    }

    // Wait until every disrupted pod is gone (DELETED), or the timeout.
    const deadline = this.now() + timeoutMs;
    const disrupted = (): string[] =>
      disruption.action === "delete" ? targets : builder.podsBeingDeleted().filter((p) => !deletingBefore.has(p));
    for (;;) {
      const d = disrupted();
      if (d.length >= expected && d.every((p) => builder.isGone(p))) break;
      if (this.now() > deadline) {
        const left = d.filter((p) => !builder.isGone(p));
        notes.push(
          `gave up waiting after ${timeoutMs / 1000} s (grace ${grace} s + 30 s): ` +
            (left.length > 0
              ? `still present: ${left.join(", ")}`
              : `${d.length} of ${expected} pod(s) were disrupted`),
        );
        break;
      }
      await sleep(100);
    }
    // Exits known only from the API are placed now that every bound (preStop, app lines, runtime) is in.
    record(builder.settle());
    const outcomes: PodOutcome[] = builder.outcomes(disrupted());
    attachReadings(outcomes, this.podReadings.get(deployment.runId));
    if (notes.length > 0) for (const o of outcomes) o.notes.push(...notes);
    if (outcomes.length === 0 && notes.length > 0) this.log(notes.join("; "));
    return { pods: outcomes };
  }

  /**
   * Deletes everything this run created: found by label (graceful-e2e=true, graceful-e2e.run=<id>), so
   * it works after a failed deploy and when called twice. The Service goes first (frees the NodePort at
   * once), then pods without grace, then the namespace; waits (bounded) for the namespace to be gone.
   */
  async teardown(_deployment: Deployment | undefined, runId: string): Promise<void> {
    const st = this.runs.get(runId);
    st?.observer.stop();
    this.runs.delete(runId);
    this.podReadings.delete(runId);
    await this.stopRuntimeEvents(runId);
    try {
      await this.attribution.get(runId)?.feed.stop();
    } catch (err) {
      this.log(`could not stop the connection feed of run ${runId}: ${errText(err)}`);
    }
    const labelSelector = `${LABEL_ROOT}=true,${LABEL_RUN}=${labelValue(runId)}`;
    const list = await this.core.listNamespace({ labelSelector });
    const names = list.items.map((n) => n.metadata?.name).filter((n): n is string => Boolean(n));
    const errors: string[] = [];
    const ignore404 = async (what: string, p: Promise<unknown>) => {
      try {
        await p;
      } catch (err) {
        if (httpStatus(err) !== 404) errors.push(`${what}: ${errText(err)}`);
      }
    };
    for (const namespace of names) {
      await ignore404(`Service in ${namespace}`, this.core.deleteNamespacedService({ name: SERVICE_NAME, namespace }));
      await ignore404(
        `Deployment in ${namespace}`,
        this.apps.deleteNamespacedDeployment({ name: DEPLOYMENT_NAME, namespace, propagationPolicy: "Background" }),
      );
      await ignore404(
        `pods in ${namespace}`,
        this.core.deleteCollectionNamespacedPod({ namespace, gracePeriodSeconds: 0 }),
      );
      await ignore404(`namespace ${namespace}`, this.core.deleteNamespace({ name: namespace }));
    }
    const deadline = this.now() + 90_000;
    for (const name of names) {
      for (;;) {
        try {
          await this.core.readNamespace({ name });
        } catch (err) {
          if (httpStatus(err) === 404) break;
        }
        if (this.now() > deadline) {
          this.log(`namespace ${name} is still terminating; it will go away on its own`);
          break;
        }
        await sleep(500);
      }
    }
    if (errors.length > 0) throw new Error(`teardown of run ${runId} incomplete: ${errors.join("; ")}`);
  }

  /** Stops every watch still open (process exit). */
  stopAll(): void {
    for (const st of this.runs.values()) st.observer.stop();
    for (const r of this.runtimeStreams.values()) void r.stop().catch(() => {});
    for (const a of this.attribution.values()) void a.feed.stop().catch(() => {});
  }
}

/**
 * The plan's victims when every one is a live pod of this run (not already terminating); otherwise
 * none, with a note saying why the default order is used. No plan (or no victims field): no note.
 */
export function victimsFromPlan(
  plan: DisruptionPlan | undefined,
  live: readonly string[],
): { victims?: string[]; note?: string } {
  if (plan?.victims === undefined) return {};
  const victims = [...new Set(plan.victims)];
  if (victims.length === 0) {
    return { note: "the plan named no victim: deleted the first ready pod(s) by name instead" };
  }
  const unknown = victims.filter((v) => !live.includes(v));
  if (unknown.length > 0) {
    return {
      note: `planned victim(s) ${unknown.join(", ")} not among this run's live pods (${live.join(", ") || "none"}): deleted the first ready pod(s) by name instead`,
    };
  }
  return { victims };
}

/** Why pods are not ready, in one line: waiting reasons (image pulls!) and phases. */
export function diagnosePods(pods: V1Pod[]): string {
  if (pods.length === 0) return "no pod was created (check the Deployment's events)";
  return pods
    .map((p) => {
      const cs = p.status?.containerStatuses?.[0];
      const waiting = cs?.state?.waiting;
      let why = waiting ? `${waiting.reason ?? "waiting"}${waiting.message ? `: ${waiting.message}` : ""}` : "";
      if (waiting?.reason && /ImagePull|ErrImageNeverPull|InvalidImageName/.test(waiting.reason)) {
        why += " — the image is not available to the node (kind: not loaded; existing: not pullable from the registry)";
      }
      const ready = p.status?.conditions?.find((c) => c.type === "Ready")?.status ?? "?";
      return `${p.metadata?.name} phase=${p.status?.phase ?? "?"} ready=${ready}${why ? ` ${why}` : ""}`;
    })
    .join("; ");
}
