// One scenario on a Kubernetes API server, shared by the kind and existing-cluster backends:
// create the labelled namespace + Service + Deployment, watch everything (watch.ts → the pure
// TimelineBuilder → the run's EventSink), wait for readiness through the real traffic path, carry out
// the disruption through the API and wait until the disrupted pods' containers have exited (not for the
// API to delete the pod objects: on 1.20 that comes 6–10 s later; a bounded wait for it and for the
// API's own report of the exit runs while the load window closes), then delete what was made: the
// Service first (its NodePort goes back to the pool at once), the namespace in the background (drain()
// waits for every one at the end). Each run claims one NodePort from a pool, so runs may overlap.
// The backends only differ in how images get to the nodes, where the kubeconfig comes from, which
// address load uses, and how PID 1's command line is read.
import { Writable } from "node:stream";
import {
  ApisApi,
  AppsV1Api,
  CoreV1Api,
  Exec,
  type KubeConfig,
  KubernetesObjectApi,
  type V1LabelSelector,
  type V1Pod,
  type V1Status,
  VersionApi,
} from "@kubernetes/client-node";
import type { Deployment, DisruptionOutcome, DisruptionPlan, WorkloadSource } from "../backends/backend.js";
import type { ResolvedImage } from "../model/backend.js";
import type {
  DrainRecord,
  EvictionAttempt,
  ReadyEndpointsSample,
  VoluntaryDisruptionRecord,
} from "../model/disruption.js";
import type { EventSink, TimelineEvent } from "../model/events.js";
import type { TrafficAttribution } from "../model/exercise.js";
import type { ObservedPodOutcome } from "../model/pod-outcome.js";
import type { ProcessTreeInspection } from "../model/process-tree.js";
import { inspectByExec } from "../observe/process-tree.js";
import type { Disruption, RolloutStrategy, Scenario, Target } from "../scenario/schema.js";
import { interruptSignal, registerCleanup } from "../util/cleanup.js";
import { apiErrorText as errText } from "../util/errors.js";
import { LABEL_ROOT, LABEL_RUN } from "../util/labels.js";
import { sleep } from "../util/sleep.js";
import { labelSelectorText } from "../workload/index.js";
import { type ConntrackFeed, routedConnections } from "./conntrack.js";
import { assertDrainable, daemonSetPod, drainNode, uncordon } from "./drain.js";
import { markDrainInterrupted } from "./drain-record.js";
import { evictPod } from "./eviction.js";

export { attachReadings, type PodReading } from "./observations.js";

import {
  DEPLOYMENT_NAME,
  labelValue,
  objectLabels,
  RESTARTED_AT_ANNOTATION,
  SERVICE_NAME,
  strategyPatch,
} from "./manifests.js";
import { formatPorts, NodePortPool } from "./node-ports.js";
import {
  type DriverObservation,
  driverOutcomes,
  K8S_OBSERVATION_SOURCE,
  ObservedTimelineBuilder,
  type PodReading,
} from "./observations.js";
import { budgetOver, createPdb, pdbObject, pdbRecord } from "./pdb-object.js";
import { imagePlacement, manifestsPlacement, type Placement, targetPlacement } from "./placement.js";
import { ReadyEndpointsSeries } from "./ready-endpoints.js";
import type { ProcessEntry, RecordedRuntimeEvent, TimelineBuilder } from "./timeline-from-watch.js";
import { type ClusterCapabilities, capabilities, parseServerVersion } from "./version.js";
import { type Clock, POLL_MS, pollUntil, realClock, Wakeup } from "./wait.js";
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
  /**
   * The node runtime's own record of one container's exit, for an exit the stream has not delivered
   * (kind: crictl inspect on the node). Never throws: `missing` says why there is none.
   */
  backfillExit?(req: { node: string; containerId: string }): Promise<RuntimeBackfill>;
}

/** A backfilled exit (a runtime event, its origin naming what read it), or why none could be read. */
export type RuntimeBackfill = { entry: RecordedRuntimeEvent } | { missing: string };

/**
 * What the harness can read on the cluster's nodes, beyond the Kubernetes API (kind: docker exec into the
 * node containers). Each member is optional: an existing cluster has none, and the defaults read what
 * the exec API allows (PID 1, the process tree, the /proc inspection) or nothing (runtime events,
 * connections).
 */
export interface NodeAccess {
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
  /**
   * The nodes' runtime task events for one run (kind: `ctr events` on every node). Absent (existing
   * clusters: no node access): exits come from the app's lines and the API only.
   */
  runtimeEvents?: () => RuntimeEventSource;
  /** How long a reported exit is waited for on the runtime stream before a backfill (default RUNTIME_CATCH_UP_MS). */
  runtimeCatchUpMs?: number;
  /**
   * Starts reading which pod each connection to the NodePort goes to (kind: the nodes' conntrack),
   * called at deploy before the Service exists and stopped at teardown. Absent (existing clusters: no
   * node access): trafficAttribution() is undefined.
   */
  trafficAttribution?: (run: { runId: string; nodePort: number }) => Promise<ConntrackFeed>;
}

export interface DriverOptions extends NodeAccess {
  backend: "kind" | "existing";
  kc: KubeConfig;
  /** Where load goes (127.0.0.1 / localhost); per run: targetFor(its NodePort) when given. */
  target: { host: string; port: number };
  /** Where the load of the run whose Service has this NodePort goes (kind: 127.0.0.1:<the mapped port>). */
  targetFor?: (nodePort: number) => { host: string; port: number };
  /** Check that target answers /healthz before the deployment counts as ready (default true). */
  checkReachable?: boolean;
  /** The path traffic takes, for the report; per run: trafficPathFor(its NodePort) when given. */
  trafficPath: string;
  trafficPathFor?: (nodePort: number) => string;
  /** The NodePort of every run when nodePorts is not given. */
  nodePort: number;
  /**
   * The NodePorts runs may claim, one per run in progress (kind: those kind-config.yaml maps to
   * 127.0.0.1; existing: --node-ports). Default: [nodePort].
   */
  nodePorts?: readonly number[];
  serviceType?: "NodePort" | "LoadBalancer";
  /**
   * The NodePorts a running workload's (target's) Service must have for the load to reach it from here
   * (kind: those published on 127.0.0.1). Absent: any (existing: --address routes it, or the in-cluster Job).
   */
  targetNodePorts?: readonly number[];
  /** Maps the image the scenario resolved to the reference the cluster pulls (existing: pushed ref). */
  imageFor?: (image: ResolvedImage) => string;
  /** Extra platform facts for the report. */
  platform?: Record<string, string>;
  readyTimeoutMs?: number;
  /** How long the Service must take to answer once every pod is ready (default 60 s). */
  reachableTimeoutMs?: number;
  /**
   * After every disrupted pod's containers exited: how long the result waits (at most) for the API's
   * own report of the exit, or the pod's deletion (default EVIDENCE_BOUND_MS).
   */
  evidenceBoundMs?: number;
  /** How long the background wait for a torn-down namespace lasts (default 90 s). */
  namespaceGoneBoundMs?: number;
  /** One `/healthz` probe through the Service (default: fetch, 2 s timeout): "ok", or why not. */
  probe?: (url: string) => Promise<true | string>;
  log?: (line: string) => void;
  now?: () => number;
  /** The waits' clock (default: real time; `now` above, when given, tells the time). */
  clock?: Clock;
}

/**
 * After every disrupted pod's containers have exited, how long the result may wait for the rest of the
 * evidence: the API's own report of the exit (on 1.20 ~0.7 s after containerd's record: the kubelet's
 * next status sync) and the app's last log lines. It runs while the load window's settle margin and
 * the load's stop go by (the runner calls final() after them), so it rarely costs anything. The pod
 * object's deletion (6–10 s after the exit on 1.20) is reported when it comes before, never waited for.
 */
export const EVIDENCE_BOUND_MS = 3000;

/**
 * How long an exit the API has reported is waited for on the runtime's event stream before it is read
 * back from the node (crictl inspect): the stream delivers within ~0.1 s; the API reports ~0.7 s later.
 */
export const RUNTIME_CATCH_UP_MS = 1000;

/** How long a torn-down namespace is waited for (in the background; drain() waits for the waits). */
export const NAMESPACE_GONE_BOUND_MS = 90_000;

/** What a disruption started: the pods it targets, how many must end, and how long to wait for them. */
interface StartedDisruption {
  targets: string[];
  expected: number;
  timeoutMs: number;
  grace: number;
}

interface RunState {
  runId: string;
  namespace: string;
  scenario: Scenario;
  sink: EventSink;
  builder: TimelineBuilder;
  observer: ClusterObserver;
  caps: ClusterCapabilities;
  /** Every watch entry or runtime event wakes the waits (readiness, the disruption's end). */
  wake: Wakeup;
  /** Where the workload under test lives: every watch, wait, read and disruption is keyed on it. */
  placement: Placement;
  /** What the run changed in the cluster (the Deployment handle's mutations: the same array). */
  mutations: string[];
  /** evict/drain/rollout: the evictions, the drain, the budget in force. */
  voluntary: VoluntaryDisruptionRecord;
  /** The node a drain cordoned (and the cleanup registered for Ctrl-C), until it is uncordoned. */
  cordoned?: { node: string; unregister: () => void };
  /** The uncordon under way (Ctrl-C's cleanup or the teardown: whichever came first; the other waits for it). */
  uncordoning?: Promise<void>;
  /** Aborted at teardown: an eviction's retries stop there (as on Ctrl-C). */
  stop: AbortController;
}

/** One GET /healthz (2 s timeout): true on 2xx, else why not. */
async function fetchHealth(url: string): Promise<true | string> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.ok ? true : `HTTP ${res.status}`;
  } catch (err) {
    return err instanceof Error ? `${err.message}${err.cause ? ` (${String(err.cause)})` : ""}` : String(err);
  }
}

/** How long the delete waits for the victims' socket tables. */
const SOCKET_READ_BOUND_MS = 1500;

function httpStatus(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === "number" ? code : undefined;
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
  return { ...(inspection ? { inspection } : {}), notes };
}

/**
 * The pod's other containers (regular ones and native sidecars), each read like the app's before any
 * signal: its processes with their dispositions, and PID 1 (into the builder, by container). Never throws.
 */
export async function readOtherContainers(
  o: Pick<DriverOptions, "kc" | "readPid1" | "inspectProcesses" | "log">,
  req: Pid1Request,
  pod: V1Pod,
  builder: TimelineBuilder,
): Promise<NonNullable<PodReading["containers"]>> {
  const natives = new Set(
    (pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === "Always").map((c) => c.name),
  );
  const statuses = [
    ...(pod.status?.containerStatuses ?? []),
    ...(pod.status?.initContainerStatuses ?? []).filter((cs) => natives.has(cs.name)),
  ].filter((cs) => cs.name !== req.container && cs.containerID);
  const out: NonNullable<PodReading["containers"]> = {};
  for (const cs of statuses) {
    const one: Pid1Request = { ...req, container: cs.name, containerID: cs.containerID };
    try {
      const inspection = await (o.inspectProcesses ? o.inspectProcesses(one) : inspectViaPodExec(o.kc, one));
      out[cs.name] = { inspection };
    } catch (err) {
      o.log?.(`could not inspect the processes of ${req.pod}/${cs.name}: ${errText(err)}`);
    }
    try {
      const pid1 = await (o.readPid1 ? o.readPid1(one) : pid1ViaExec(o.kc, one));
      builder.setPid1(req.pod, typeof pid1 === "string" ? pid1 : pid1.cmdline, cs.name);
    } catch (err) {
      o.log?.(`could not read PID 1 of ${req.pod}/${cs.name}: ${errText(err)}`);
    }
  }
  return out;
}

export class KubernetesDriver {
  private readonly runs = new Map<string, RunState>();
  /** Per run: the nodes' runtime event stream, when the backend has one. */
  private readonly runtimeStreams = new Map<string, RuntimeEventSource>();
  /** Per run: its conntrack feed and pod watch, kept after teardown so attribution stays readable. */
  private readonly attribution = new Map<string, { feed: ConntrackFeed; builder: TimelineBuilder; nodePort: number }>();
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  /** The generic API the user's manifests are created through (made at the first manifests run). */
  private objects?: KubernetesObjectApi;
  private readonly now: () => number;
  /** Per run, per pod: what was read of its processes before any signal (attached to its PodOutcome). */
  private readonly podReadings = new Map<string, Map<string, PodReading>>();
  /** One NodePort per run in progress, back once its Service is deleted. */
  readonly ports: NodePortPool;
  private readonly clock: Clock;
  /** The server's capabilities, read once (they do not change between runs). */
  private caps?: Promise<ClusterCapabilities>;
  /** Namespaces torn down whose deletion is still being waited for, in the background (drain()). */
  private readonly namespacesGoing = new Map<string, Promise<void>>();
  /** Runs whose deploy() is in progress: their NodePort is not given back before it ends. */
  private readonly deploying = new Set<string>();
  /** Per run: the Service's ready endpoints over time, from the watch. */
  private readonly readySeries = new Map<string, ReadyEndpointsSeries>();

  constructor(private readonly o: DriverOptions) {
    this.core = o.kc.makeApiClient(CoreV1Api);
    this.apps = o.kc.makeApiClient(AppsV1Api);
    this.clock = o.clock ?? (o.now ? { now: o.now, sleep: realClock.sleep } : realClock);
    this.now = o.now ?? (() => this.clock.now());
    this.ports = new NodePortPool(o.nodePorts && o.nodePorts.length > 0 ? o.nodePorts : [o.nodePort]);
  }

  private capabilities(): Promise<ClusterCapabilities> {
    this.caps ??= detectCapabilities(this.o.kc).catch((err: unknown) => {
      this.caps = undefined;
      throw err;
    });
    return this.caps;
  }

  private log(line: string): void {
    this.o.log?.(line);
  }

  private state(runId: string): RunState {
    const st = this.runs.get(runId);
    if (!st) throw new Error(`no deployment for run ${runId} on this backend`);
    return st;
  }

  /**
   * Starts what the source names and resolves once every replica is ready behind the Service: image and
   * manifests in the run's own namespace (on the run's NodePort), a target where it runs (nothing created).
   * A bare ResolvedImage is an image source (the call every caller made before sources existed).
   */
  async deploy(
    scenario: Scenario,
    source: WorkloadSource | ResolvedImage,
    sink: EventSink,
    runId: string,
  ): Promise<Deployment> {
    const src: WorkloadSource = "ref" in source ? { kind: "image", image: source } : source;
    // A target's load goes to its own Service's NodePort: no port of the pool is claimed.
    if (src.kind === "target") return this.deployOn(undefined, scenario, src, sink, runId);
    // The run's NodePort first: teardown gives it back whatever happens after this.
    const nodePort = this.ports.acquire(runId);
    if (nodePort === undefined) throw new Error(this.ports.exhausted());
    this.deploying.add(runId);
    try {
      return await this.deployOn(nodePort, scenario, src, sink, runId);
    } finally {
      this.deploying.delete(runId);
    }
  }

  /** Checks a running workload before anything starts (placement.ts targetPlacement); changes nothing. */
  async checkTarget(target: Target): Promise<void> {
    await targetPlacement({ core: this.core, apps: this.apps }, target, (np) => this.targetUnreachable(np));
  }

  /** Why the load cannot reach a target Service's NodePort from here (kind: only published ones), or undefined. */
  private targetUnreachable(nodePort: number | undefined): string | undefined {
    const allowed = this.o.targetNodePorts;
    if (allowed === undefined) return undefined;
    if (nodePort === undefined) {
      return `it is not a NodePort Service: the ${this.o.backend} backend's load reaches a running workload only through a NodePort published on 127.0.0.1 (${formatPorts(allowed)})`;
    }
    if (allowed.includes(nodePort)) return undefined;
    return (
      `its NodePort ${nodePort} is not published on 127.0.0.1 by the cluster (${formatPorts(allowed)}, kind-config.yaml ` +
      "extraPortMappings): the load cannot reach it from here; give the Service one of those NodePorts"
    );
  }

  private async placementFor(
    src: WorkloadSource,
    scenario: Scenario,
    runId: string,
    nodePort: number | undefined,
    caps: ClusterCapabilities,
  ): Promise<Placement> {
    const port = nodePort ?? this.o.nodePort;
    switch (src.kind) {
      case "image":
        return imagePlacement({
          scenario,
          image: this.o.imageFor ? this.o.imageFor(src.image) : src.image.ref,
          runId,
          preStopSleep: caps.preStopSleep,
          preStopSleepZero: caps.preStopSleepZero,
          nodePort: port,
          serviceType: this.o.serviceType,
        });
      case "manifests":
        return manifestsPlacement(src.set, { scenario, runId, nodePort: port, support: caps });
      case "target":
        return targetPlacement({ core: this.core, apps: this.apps }, src.target, (np) => this.targetUnreachable(np));
    }
  }

  private async deployOn(
    nodePort: number | undefined,
    scenario: Scenario,
    src: WorkloadSource,
    sink: EventSink,
    runId: string,
  ): Promise<Deployment> {
    const caps = await this.capabilities();
    const p = await this.placementFor(src, scenario, runId, nodePort, caps);
    const port = p.nodePort ?? this.o.nodePort;
    const target = this.o.targetFor ? this.o.targetFor(port) : this.o.target;
    const trafficPath = this.o.trafficPathFor ? this.o.trafficPathFor(port) : this.o.trafficPath;
    const { namespace } = p;
    // Every input of the builder is also a raw observation (the run's recording, when it is recorded).
    const builder = new ObservedTimelineBuilder(
      {
        endpointSource: caps.endpointApi === "v1/endpoints" ? "endpoints" : "endpointslices",
        eventsSince: this.now() - 5000,
        container: p.container,
      },
      (data) => sink.observe?.({ at: this.now(), source: K8S_OBSERVATION_SOURCE, data }),
    );
    const wake = new Wakeup();
    const series = new ReadyEndpointsSeries(caps.endpointConditions === "serving-terminating");
    this.readySeries.set(runId, series);
    const onEntry = (entry: Parameters<TimelineBuilder["push"]>[0]) => {
      for (const e of builder.push(entry)) sink.record(e);
      series.sample(this.now(), builder.readyEndpoints().length, builder.terminatingEndpoints().length);
      wake.notify();
    };
    // A drain moves pods to another node: refused before anything of the run is created.
    if (scenario.disruption.action === "drain") await assertDrainable(this.core, `the ${this.o.backend} cluster`);
    const mutations: string[] = [];
    if (p.namespaceObject) {
      try {
        await this.core.createNamespace({ body: p.namespaceObject });
        mutations.push(`created namespace ${namespace}`);
      } catch (err) {
        throw new Error(`could not create namespace ${namespace}: ${errText(err)}`);
      }
    }
    const observer = new ClusterObserver({
      kc: this.o.kc,
      namespace,
      endpointApi: caps.endpointApi,
      // Only the workload's pods and its Service's endpoints (the manifests may hold others); a target's
      // namespace holds other things too: its events are kept only about the workload.
      scope: {
        podSelector: labelSelectorText(p.podSelector),
        service: p.service,
        workload: p.workload.name,
        onlyWorkloadEvents: p.namespaceObject === undefined,
      },
      onEntry,
      warn: (line) => this.log(line),
      now: this.now,
    });
    this.runs.set(runId, {
      runId,
      namespace,
      scenario,
      sink,
      builder,
      observer,
      caps,
      wake,
      placement: p,
      mutations,
      // The budget in force: the scenario's (created below), else the one the manifests carry.
      voluntary: { evictions: [], ...(p.pdb ? { pdb: p.pdb } : {}) },
      stop: new AbortController(),
    });
    // Watch before anything runs: the app's first lines and every endpoint change are seen.
    await observer.start();
    // The nodes' own record of exits (kind: containerd), from before any container of the run exists, and
    // the connections (kind: the nodes' conntrack), before the Service exists: each one from its start.
    const [, attributionFact] = await Promise.all([
      this.startRuntimeEvents(runId, onEntry),
      this.startAttribution(runId, builder, port),
    ]);
    // The budget before the pods exist, so its controller has counted them by the disruption.
    if (scenario.pdb) await this.createPdb(this.state(runId), objectLabels(scenario, runId), mutations);
    await this.createObjects(p, port, mutations);
    const pods = await this.waitReady(namespace, p.pod.replicas, p.podSelector, builder, wake);
    if (!p.namespaceObject) await this.recordTargetBudget(this.state(runId), pods[0]?.metadata?.labels ?? {});
    await this.readPods(runId, namespace, p.container, pods, builder, this.reachability(src, scenario, target));
    return {
      scenario,
      runId,
      target,
      trafficPath,
      pods: pods.map((pod) => pod.metadata?.name ?? "?"),
      pod: p.pod,
      mutations,
      objects: {
        namespace,
        workload: `${p.workload.kind.toLowerCase()}/${p.workload.name}`,
        service: p.service,
        servicePort: p.servicePort,
      },
      platform: this.platformOf(p, caps, port, attributionFact),
    };
  }

  /** The report's facts about where the run ran. */
  private platformOf(
    p: Placement,
    caps: ClusterCapabilities,
    nodePort: number,
    attributionFact: string | undefined,
  ): Record<string, string> {
    const notes = [...p.notes, ...caps.notes];
    return {
      backend: this.o.backend,
      kubernetes: caps.version.gitVersion,
      namespace: p.namespace,
      nodePort: String(nodePort),
      ...(p.image !== undefined ? { image: p.image } : { workload: `${p.workload.kind}/${p.workload.name}` }),
      endpointApi: `${caps.endpointApi} (${caps.endpointApiSource})`,
      endpointConditions: caps.endpointConditions,
      preStopSleepAction: String(caps.preStopSleep),
      ...(notes.length > 0 ? { notes: notes.join("; ") } : {}),
      ...(attributionFact !== undefined ? { trafficAttribution: attributionFact } : {}),
      ...this.o.platform,
    };
  }

  /** Creates the placement's objects: typed calls for graceful-e2e's own, the generic API for the user's. */
  private async createObjects(p: Placement, nodePort: number, mutations: string[]): Promise<void> {
    const objects = this.objects ?? KubernetesObjectApi.makeApiClient(this.o.kc);
    this.objects = objects;
    for (const body of p.create) {
      const what = `${body.kind} ${p.namespace}/${body.metadata?.name ?? "?"}`;
      try {
        if (p.typed && body.kind === "Service")
          await this.core.createNamespacedService({ namespace: p.namespace, body });
        else if (p.typed && body.kind === "Deployment")
          await this.apps.createNamespacedDeployment({ namespace: p.namespace, body });
        else await objects.create(body);
        mutations.push(`created ${what}`);
      } catch (err) {
        const text = errText(err);
        if (body.kind === "Service" && /already allocated/i.test(text)) {
          throw new Error(
            `NodePort ${nodePort} is already used by another Service (a previous run that was not cleaned up?). ` +
              `Find it with the label ${LABEL_ROOT}=true and delete that namespace. (${text})`,
          );
        }
        throw new Error(`could not create the ${what}: ${text}`);
      }
    }
  }

  /**
   * PID 1's command line, the process tree and every process's SIGTERM disposition, before any signal:
   * read while the Service becomes reachable (kube-proxy's rules follow the endpoints by 0.5–1 s).
   */
  private async readPods(
    runId: string,
    namespace: string,
    container: string,
    pods: V1Pod[],
    builder: TimelineBuilder,
    reachable: Promise<void>,
  ): Promise<void> {
    const readings = new Map<string, PodReading>();
    this.podReadings.set(runId, readings);
    await Promise.all([
      reachable,
      ...pods.map(async (pod) => {
        const req = this.pid1Request(namespace, pod, container);
        const reading = await readPodBeforeSignals(this.o, req, builder);
        const containers = await readOtherContainers(this.o, req, pod, builder);
        readings.set(req.pod, { ...reading, req, ...(Object.keys(containers).length > 0 ? { containers } : {}) });
      }),
    ]);
  }

  /**
   * The wait for the Service to answer from here: graceful-e2e's image on /healthz; a user's HTTP workload
   * on the load's path (any HTTP answer: the path is theirs); other protocols: the warm-up shows it.
   */
  private reachability(src: WorkloadSource, scenario: Scenario, target: { host: string; port: number }): Promise<void> {
    if (this.o.checkReachable === false) return Promise.resolve();
    if (src.kind === "image") return this.waitReachable(target);
    if (scenario.load.protocol !== "http1") return Promise.resolve();
    return this.waitReachable(target, scenario.load.path, true);
  }

  /**
   * A target's evict/drain: the budget of its namespace over its pods, for the record (the API enforces
   * it whatever we read). Best effort: a failed read is a log line, never the run's error.
   */
  private async recordTargetBudget(st: RunState, labels: Record<string, string>): Promise<void> {
    if (!isVoluntary(st.scenario.disruption) || st.voluntary.pdb) return;
    try {
      const found = await budgetOver(this.o.kc, { namespace: st.namespace, labels, version: st.caps.policy.pdb });
      if (found) st.voluntary.pdb = found;
    } catch (err) {
      this.log(
        `could not read the PodDisruptionBudgets of ${st.namespace} (the API honours them anyway): ${errText(err)}`,
      );
    }
  }

  /** The scenario's PodDisruptionBudget over the run's pods, before the pods exist (the record names it). */
  private async createPdb(st: RunState, labels: Record<string, string>, mutations: string[]): Promise<void> {
    if (!st.scenario.pdb) return;
    const obj = pdbObject(st.scenario.pdb, {
      namespace: st.namespace,
      labels,
      selector: st.placement.podSelector,
      version: st.caps.policy.pdb,
    });
    try {
      await createPdb(this.o.kc, obj);
    } catch (err) {
      throw new Error(`could not create the PodDisruptionBudget (${obj.apiVersion}): ${errText(err)}`);
    }
    mutations.push(`created PodDisruptionBudget ${st.namespace}/${obj.metadata?.name ?? "?"}`);
    st.voluntary.pdb = pdbRecord(obj);
  }

  /**
   * evict/drain/rollout: the run's record so far, the live object (the teardown's uncordon lands in it) —
   * for a run that ends before its disruption did (Ctrl-C mid-drain). Undefined for other disruptions.
   */
  voluntaryRecord(runId: string): VoluntaryDisruptionRecord | undefined {
    const st = this.runs.get(runId);
    return st && isVoluntary(st.scenario.disruption) ? st.voluntary : undefined;
  }

  /** The Service's ready endpoints over the run so far (kept after teardown, like the attribution). */
  readyEndpoints(runId: string): ReadyEndpointsSample[] | undefined {
    return this.readySeries.get(runId)?.all();
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

  /**
   * For every pod whose exit the API reported but the runtime stream has not delivered: waits
   * RUNTIME_CATCH_UP_MS for the stream, then reads the exit from the node's runtime (backfillExit) and
   * feeds it to the timeline as a runtime exit. What cannot be read is noted; the API's word stands then.
   */
  private async backfillRuntimeExits(runId: string, pods: string[], st: RunState): Promise<void> {
    const source = this.runtimeStreams.get(runId);
    if (!source?.backfillExit) return;
    const missing = () => pods.filter((p) => st.builder.runtimeExitMissing(p) !== undefined);
    if (missing().length === 0) return;
    await pollUntil(() => (missing().length === 0 ? true : undefined), {
      clock: this.clock,
      timeoutMs: this.o.runtimeCatchUpMs ?? RUNTIME_CATCH_UP_MS,
      changed: () => st.wake.next(),
      pollMs: POLL_MS,
    });
    await Promise.all(
      missing().map(async (pod) => {
        const want = st.builder.runtimeExitMissing(pod);
        if (!want || !source.backfillExit) return;
        const read = await source.backfillExit(want);
        if ("entry" in read) {
          this.record(st, st.builder.push(read.entry));
          this.log(`exit of ${pod} read back from the node's runtime (the event stream had not delivered it)`);
        } else {
          this.log(`exit of ${pod}: not in the runtime's event stream, and not readable on the node (${read.missing})`);
        }
        st.wake.notify();
      }),
    );
  }

  private async stopAttributionFeed(runId: string): Promise<void> {
    try {
      await this.attribution.get(runId)?.feed.stop();
    } catch (err) {
      this.log(`could not stop the connection feed of run ${runId}: ${errText(err)}`);
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
  private async startAttribution(
    runId: string,
    builder: TimelineBuilder,
    nodePort: number,
  ): Promise<string | undefined> {
    if (!this.o.trafficAttribution) return undefined;
    try {
      const feed = await this.o.trafficAttribution({ runId, nodePort });
      this.attribution.set(runId, { feed, builder, nodePort });
      const notes = feed.notes();
      if (!feed.available()) {
        this.log(`no connection attribution: ${notes.join("; ")}`);
        return `unavailable: ${notes.join("; ") || "no source"}`;
      }
      return `conntrack (NodePort ${nodePort})${notes.length > 0 ? `; ${notes.join("; ")}` : ""}`;
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
    const { connections, notes } = routedConnections(a.feed.events(), a.nodePort, (ip) => a.builder.podForIp(ip));
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

  /**
   * Every replica Ready, listed as a ready endpoint of the Service, and no other pod around — as the
   * watch tells it (checked again at every entry it delivers, no API call), then confirmed with one list.
   */
  private async waitReady(
    namespace: string,
    replicas: number,
    selector: V1LabelSelector,
    builder: TimelineBuilder,
    wake: Wakeup,
  ): Promise<V1Pod[]> {
    const labelSelector = labelSelectorText(selector);
    const deadline = this.now() + (this.o.readyTimeoutMs ?? 180_000);
    const isReady = (p: V1Pod) => p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
    for (;;) {
      const seen = await pollUntil(() => readyFromWatch(builder, replicas), {
        clock: this.clock,
        timeoutMs: Math.max(0, deadline - this.now()),
        changed: () => wake.next(),
        // Nothing to poll: the watch delivers every change. A slow re-check only guards the clock.
        pollMs: 1000,
      });
      const list = await this.core.listNamespacedPod({ namespace, labelSelector });
      if (seen.value) {
        const live = new Map(
          list.items.filter((p) => !p.metadata?.deletionTimestamp).map((p) => [p.metadata?.name ?? "", p]),
        );
        const pods = seen.value.map((name) => live.get(name)).filter((p): p is V1Pod => p !== undefined);
        if (live.size === replicas && pods.length === seen.value.length && pods.every(isReady)) return pods;
      }
      if (this.now() >= deadline) throw new Error(`the pods did not become ready: ${diagnosePods(list.items)}`);
      await Promise.race([wake.next(), this.clock.sleep(POLL_MS)]);
    }
  }

  /**
   * One 200 from /healthz through the real path (port mapping, kube-proxy), probed every ~100 ms; a
   * user's workload: any HTTP answer on its load path (anyStatus).
   */
  private async waitReachable(
    target: { host: string; port: number },
    path = "/healthz",
    anyStatus = false,
  ): Promise<void> {
    const { host, port } = target;
    const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}${path}`;
    const probe = this.o.probe ?? fetchHealth;
    let last = "";
    const r = await pollUntil(
      async () => {
        const answer = await probe(url);
        if (answer === true || (anyStatus && answer.startsWith("HTTP "))) return true;
        last = answer;
        return undefined;
      },
      { clock: this.clock, timeoutMs: this.o.reachableTimeoutMs ?? 60_000, pollMs: POLL_MS },
    );
    if (r.value) return;
    throw new Error(
      `every pod is ready but ${url} does not answer (${last}): the Service is not reachable from this machine. ` +
        (this.o.backend === "kind"
          ? `Was the cluster created with kind-config.yaml (extraPortMappings ${port} → 127.0.0.1:${port})?`
          : "Check the address given for the Service (NodePort/LoadBalancer reachable on this machine)."),
    );
  }

  async disrupt(deployment: Deployment, disruption: Disruption, plan?: DisruptionPlan): Promise<DisruptionOutcome> {
    const st = this.state(deployment.runId);
    const notes: string[] = [];
    const deletingBefore = new Set(st.builder.podsBeingDeleted());
    const live = st.builder
      .livePods()
      .filter((p) => !deletingBefore.has(p))
      .sort();
    const started = await this.startDisruption(st, deployment, disruption, plan, live, notes);
    // The disrupted pods: the deleted (evicted) ones, or (rollout, scale down) every pod the API began
    // deleting since — every replaced pod of a rollout, not only the first.
    const named = disruption.action === "delete" || disruption.action === "evict" || disruption.action === "drain";
    const disrupted = (): string[] =>
      named ? started.targets : st.builder.podsBeingDeleted().filter((p) => !deletingBefore.has(p));
    const waited = await this.waitDisrupted(st, disrupted, started, notes);
    const outcome = this.disruptionOutcome(st, deployment.runId, disrupted, waited.timedOut, notes);
    return isVoluntary(disruption) || st.voluntary.pdb ? { ...outcome, voluntary: st.voluntary } : outcome;
  }

  /** Carries out the action; says which pods it targets, how many must end, and how long to wait for them. */
  private async startDisruption(
    st: RunState,
    deployment: Deployment,
    disruption: Disruption,
    plan: DisruptionPlan | undefined,
    live: string[],
    notes: string[],
  ): Promise<StartedDisruption> {
    const grace =
      disruption.action === "delete"
        ? (disruption.gracePeriodSeconds ?? st.placement.pod.terminationGracePeriodSeconds)
        : st.placement.pod.terminationGracePeriodSeconds;
    const timeoutMs = (Math.ceil(grace) + 30) * 1000;
    switch (disruption.action) {
      case "delete": {
        const targets = await this.deletePods(st, deployment, disruption, plan, live, notes);
        return { targets, expected: targets.length, timeoutMs, grace };
      }
      case "rollout": {
        await this.rolloutRestart(st, live, disruption.strategy);
        const minReady = disruption.strategy?.minReadySeconds ?? 0;
        const perPod = 30_000 + minReady * 1000;
        return {
          targets: live,
          expected: live.length,
          timeoutMs: timeoutMs + st.placement.pod.replicas * perPod,
          grace,
        };
      }
      case "scaleDown":
        await this.scaleDown(st, live, disruption.to);
        return { targets: [], expected: Math.max(0, live.length - disruption.to), timeoutMs, grace };
      case "evict": {
        const targets = await this.evictPods(st, deployment, disruption, plan, live, notes);
        return { targets, expected: targets.length, timeoutMs, grace };
      }
      case "drain": {
        const targets = await this.drainWorkloadNode(st, disruption, plan, live, notes);
        return { targets, expected: targets.length, timeoutMs, grace };
      }
    }
  }

  private record(st: RunState, events: TimelineEvent[]): void {
    for (const e of events) st.sink.record(e);
  }

  /** Records a raw observation of this run (recorded runs only). */
  private observe(st: RunState, data: DriverObservation): void {
    st.sink.observe?.({ at: this.now(), source: K8S_OBSERVATION_SOURCE, data });
  }

  /** An event the harness makes itself (not the builder's): recorded, and observed for the replay. */
  private recordHarness(st: RunState, event: TimelineEvent): void {
    this.observe(st, { op: "harness-event", event });
    this.record(st, [event]);
  }

  /**
   * delete: the runner's victims (the pods carrying the most connections), when it chose and they are
   * live pods of this run; else the first pods by name among those that were ready, as the recordings did.
   */
  private async deletePods(
    st: RunState,
    deployment: Deployment,
    disruption: Extract<Disruption, { action: "delete" }>,
    plan: DisruptionPlan | undefined,
    live: string[],
    notes: string[],
  ): Promise<string[]> {
    const targets = chooseTargets(deployment, plan, live, disruption.count, notes, "delete");
    const gps = disruption.gracePeriodSeconds === undefined ? undefined : Math.ceil(disruption.gracePeriodSeconds);
    await this.readSocketsBeforeDelete(deployment.runId, targets, st.placement.containerPort);
    await Promise.all(
      targets.map(async (pod) => {
        const at = this.now();
        this.record(st, st.builder.deleteCalled(pod, at, gps));
        st.mutations.push(
          `deleted pod ${st.namespace}/${pod} at ${new Date(at).toISOString()}` +
            (gps !== undefined ? ` (gracePeriodSeconds ${gps})` : ""),
        );
        await this.core.deleteNamespacedPod({
          name: pod,
          namespace: st.namespace,
          ...(gps !== undefined ? { gracePeriodSeconds: gps } : {}),
        });
      }),
    );
    return targets;
  }

  /**
   * evict: the Eviction API for the runner's victims (busiest first; else the first ready by name), each
   * 429 retried until the timeout. Resolves with the pods whose eviction was accepted.
   */
  private async evictPods(
    st: RunState,
    deployment: Deployment,
    disruption: Extract<Disruption, { action: "evict" }>,
    plan: DisruptionPlan | undefined,
    live: string[],
    notes: string[],
  ): Promise<string[]> {
    const targets = chooseTargets(deployment, plan, live, disruption.count, notes, "evict");
    await this.readSocketsBeforeDelete(deployment.runId, targets, st.placement.containerPort);
    const deadline = this.now() + disruption.timeoutSeconds * 1000;
    const results = await Promise.all(
      targets.map((pod) =>
        evictPod(pod, {
          core: this.core,
          namespace: st.namespace,
          version: st.caps.policy.eviction,
          clock: this.clock,
          retryIntervalMs: disruption.retryIntervalSeconds * 1000,
          deadline,
          node: st.builder.nodeOf(pod),
          onAttempt: (a) => this.onEviction(st, a),
          // Ctrl-C or the run's end: no more retries (the teardown runs meanwhile).
          signal: stopSignal(st),
        }),
      ),
    );
    for (const r of results) if (!r.evicted) notes.push(`${r.pod} was not evicted: ${r.why ?? "?"}`);
    return results.filter((r) => r.evicted).map((r) => r.pod);
  }

  /**
   * drain: cordon the node of the busiest pod (or the scenario's node), evict every pod of the run's
   * workload on it (DaemonSet pods left, as --ignore-daemonsets; other workloads' pods are not the run's
   * to evict and stay), wait until they are gone or the timeout. The uncordon is the teardown's (and
   * Ctrl-C's: registered with the run's cleanup the moment the node is cordoned).
   */
  private async drainWorkloadNode(
    st: RunState,
    disruption: Extract<Disruption, { action: "drain" }>,
    plan: DisruptionPlan | undefined,
    live: string[],
    notes: string[],
  ): Promise<string[]> {
    const planned = victimsFromPlan(plan, live);
    if (planned.note) notes.push(planned.note);
    const busiest = planned.victims?.[0] ?? live[0];
    const node = disruption.node ?? (busiest !== undefined ? st.builder.nodeOf(busiest) : undefined);
    if (node === undefined) throw new Error("drain: no pod of the run has a node yet (nothing to drain)");
    const labelSelector = labelSelectorText(st.placement.podSelector);
    const listed = (await this.core.listNamespacedPod({ namespace: st.namespace, labelSelector })).items;
    const pods = listed
      .filter((p) => p.spec?.nodeName === node && !p.metadata?.deletionTimestamp && !daemonSetPod(p))
      .map((p) => p.metadata?.name ?? "?");
    if (pods.length === 0) notes.push(`node ${node} runs no pod of this run: nothing to evict`);
    await this.readSocketsBeforeDelete(st.runId, pods, st.placement.containerPort);
    const { record, evictions } = await drainNode({
      core: this.core,
      namespace: st.namespace,
      node,
      chosenBecause: disruption.node
        ? "scenario node"
        : `${planned.victims ? "busiest pod" : "first pod by name"} ${busiest}`,
      pods,
      policy: st.caps.policy.eviction,
      clock: this.clock,
      retryIntervalMs: disruption.retryIntervalSeconds * 1000,
      timeoutMs: disruption.timeoutSeconds * 1000,
      runLabel: labelValue(st.runId),
      gone: (p) => st.builder.isGone(p),
      changed: () => st.wake.next(),
      onAttempt: (a) => this.onEviction(st, a),
      onCordoned: (record, byUs) => this.onCordoned(st, record, byUs),
      signal: stopSignal(st),
    });
    if (record.timeoutReason) notes.push(`drain of ${node} timed out: ${record.timeoutReason}`);
    return evictions.filter((e) => e.evicted).map((e) => e.pod);
  }

  /** One answer of the Eviction API: the record, the timeline, and for an accepted one the pod's t = 0. */
  private onEviction(st: RunState, a: EvictionAttempt): void {
    st.voluntary.evictions.push(a);
    this.recordHarness(st, {
      at: a.at,
      kind: "eviction",
      source: "api",
      pod: a.pod,
      detail: { result: a.result, status: a.status, message: a.message, attempt: a.attempt, node: a.node },
    });
    if (a.result !== "accepted") return;
    this.record(st, st.builder.deleteCalled(a.pod, a.at));
    st.mutations.push(`evicted pod ${st.namespace}/${a.pod} at ${new Date(a.at).toISOString()}`);
  }

  /** The drain started: its record is the run's from here on (a run ended mid-drain still reports it). */
  private onCordoned(st: RunState, record: DrainRecord, byUs: boolean): void {
    st.voluntary.drain = record;
    if (!byUs) return;
    const node = record.node;
    const unregister = registerCleanup(`uncordon node ${node}`, () => this.uncordonRun(st));
    st.cordoned = { node, unregister };
    st.mutations.push(`cordoned node ${node} at ${new Date(record.cordonedAt).toISOString()}`);
    this.recordHarness(st, { at: record.cordonedAt, kind: "node-cordoned", source: "harness", detail: { node } });
  }

  /**
   * Uncordons the node the run's drain cordoned (idempotent); the drain record gets the time, or why it
   * failed. A drain still under way is marked interrupted first (how far it got: drain-record.ts).
   */
  private uncordonRun(st: RunState): Promise<void> {
    const c = st.cordoned;
    if (!c) return st.uncordoning ?? Promise.resolve();
    st.cordoned = undefined;
    c.unregister();
    const drain = st.voluntary.drain;
    if (drain) markDrainInterrupted(drain, st.voluntary.evictions, this.now());
    st.uncordoning = uncordon(this.core, c.node).then(
      () => {
        const at = this.now();
        if (drain) drain.uncordonedAt = at;
        st.mutations.push(`uncordoned node ${c.node} at ${new Date(at).toISOString()}`);
        this.recordHarness(st, { at, kind: "node-uncordoned", source: "harness", detail: { node: c.node } });
      },
      (err: unknown) => {
        if (drain) drain.uncordonError = errText(err);
        st.mutations.push(
          `uncordon of node ${c.node} FAILED (${errText(err)}): still cordoned, 'graceful-e2e clean' uncordons it`,
        );
        throw err;
      },
    );
    return st.uncordoning;
  }

  private async rolloutRestart(st: RunState, live: string[], strategy?: RolloutStrategy): Promise<void> {
    // The team's strategy first: the restart then rolls the pods the way their Deployment would.
    // Only what the scenario sets changes; the rest stays as the workload says (workload/rollout-strategy.ts).
    const ops = strategy ? strategyPatch(strategy, st.placement.ownStrategy) : [];
    if (ops.length > 0) await this.patchWorkload(st, ops);
    this.recordHarness(st, {
      at: this.now(),
      kind: "delete-requested",
      source: "harness",
      detail: { via: "rollout restart", pods: live, ...(strategy ? { strategy } : {}) },
    });
    const key = RESTARTED_AT_ANNOTATION.replace(/~/g, "~0").replace(/\//g, "~1");
    await this.patchWorkload(st, [
      { op: "add", path: `/spec/template/metadata/annotations/${key}`, value: new Date(this.now()).toISOString() },
    ]);
  }

  private async scaleDown(st: RunState, live: string[], to: number): Promise<void> {
    this.recordHarness(st, {
      at: this.now(),
      kind: "delete-requested",
      source: "harness",
      detail: { via: "scale down", from: live.length, to },
    });
    await this.patchWorkload(st, [{ op: "replace", path: "/spec/replicas", value: to }]);
  }

  /** A JSON patch of the workload under test (a Deployment or StatefulSet), as a mutation of the run. */
  private async patchWorkload(st: RunState, body: object[]): Promise<void> {
    const { kind, name } = st.placement.workload;
    const namespace = st.namespace;
    if (kind === "StatefulSet") await this.apps.patchNamespacedStatefulSet({ name, namespace, body });
    else await this.apps.patchNamespacedDeployment({ name, namespace, body });
    st.mutations.push(
      `patched ${kind} ${namespace}/${name} at ${new Date(this.now()).toISOString()}: ${JSON.stringify(body)}`,
    );
  }

  /**
   * Waits until every disrupted pod's containers have exited (the runtime's record, or the API's
   * terminated state: not the app's exit line, the container may outlive it) or its object is gone,
   * or the timeout. Every watch entry and runtime event wakes the wait. The pods' deletion from the
   * API (6–10 s after the exit on 1.20) is not waited for: final() reports it if it comes in time.
   */
  private async waitDisrupted(
    st: RunState,
    disrupted: () => string[],
    started: StartedDisruption,
    notes: string[],
  ): Promise<{ timedOut: boolean }> {
    const { builder } = st;
    const ended = (p: string) => builder.hasExited(p) || builder.isGone(p);
    const { expected, timeoutMs } = started;
    const waited = await pollUntil(
      () => {
        const d = disrupted();
        return d.length >= expected && d.every(ended) ? true : undefined;
      },
      { clock: this.clock, timeoutMs, changed: () => st.wake.next(), pollMs: POLL_MS },
    );
    if (waited.timedOut) {
      const d = disrupted();
      const left = d.filter((p) => !ended(p));
      notes.push(
        `gave up waiting after ${timeoutMs / 1000} s (grace ${started.grace} s + 30 s): ` +
          (left.length > 0
            ? `no exit seen and still present: ${left.join(", ")}`
            : `${d.length} of ${expected} pod(s) were disrupted`),
      );
    }
    return { timedOut: waited.timedOut };
  }

  /** The outcomes now, and final(): once the late evidence (the API's report of each exit) is in, bounded. */
  private disruptionOutcome(
    st: RunState,
    runId: string,
    disrupted: () => string[],
    timedOut: boolean,
    notes: string[],
  ): DisruptionOutcome {
    const { builder } = st;
    const endedAt = this.now();
    // Exits the nodes' runtime stream has not delivered: read back from the node before the API is used.
    const backfilled = this.backfillRuntimeExits(runId, disrupted(), st);
    const readings = this.podReadings.get(runId);
    const outcomesNow = (): ObservedPodOutcome[] => {
      // One rule for live and replay (observations.ts), and the inputs observed for the recording.
      const taken = {
        op: "outcomes" as const,
        pods: disrupted(),
        readings: Object.fromEntries(readings ?? []),
        notes: [...notes],
        ...(st.placement.pod.stopSignal ? { stopSignal: st.placement.pod.stopSignal } : {}),
      };
      this.observe(st, taken);
      return driverOutcomes(builder, taken);
    };
    if (notes.length > 0 && disrupted().length === 0) this.log(notes.join("; "));
    let finalized: Promise<ObservedPodOutcome[]> | undefined;
    const final = (): Promise<ObservedPodOutcome[]> => {
      finalized ??= (async () => {
        if (!timedOut) {
          await pollUntil(() => (disrupted().every((p) => builder.apiReportedExit(p)) ? true : undefined), {
            clock: this.clock,
            timeoutMs: Math.max(0, endedAt + (this.o.evidenceBoundMs ?? EVIDENCE_BOUND_MS) - this.now()),
            changed: () => st.wake.next(),
            pollMs: POLL_MS,
          });
        }
        await backfilled;
        // Exits known only from the API are placed now that every bound (preStop, app lines, runtime) is in.
        this.record(st, builder.settle());
        return outcomesNow();
      })();
      return finalized;
    };
    return { pods: outcomesNow(), final };
  }

  /**
   * Deletes everything this run created: found by label (graceful-e2e=true, graceful-e2e.run=<id>), so
   * it works after a failed deploy and when called twice. The Service goes first, and the run's NodePort
   * goes back to the pool as soon as it is deleted; then the Deployment, the pods without grace and the
   * namespace are deleted, and the namespace's end (seconds: Kubernetes empties it first) is waited for
   * in the background — the next run sets up meanwhile; drain() waits for every one.
   */
  async teardown(_deployment: Deployment | undefined, runId: string): Promise<void> {
    const st = this.runs.get(runId);
    st?.observer.stop();
    // A disruption still under way ends here: no more eviction retries; a drain's record says how far it got.
    st?.stop.abort();
    if (st?.voluntary.drain) markDrainInterrupted(st.voluntary.drain, st.voluntary.evictions, this.now());
    // A target's namespace is never in the list below (it carries no run label): nothing of it is deleted.
    const placement = st?.placement.namespaceObject ? st.placement : undefined;
    this.runs.delete(runId);
    this.podReadings.delete(runId);
    // The node streams stop while the API calls below run (they only read; nothing depends on them now).
    const streamsStopped = Promise.all([this.stopRuntimeEvents(runId), this.stopAttributionFeed(runId)]);
    const errors: string[] = [];
    // A node the run's drain cordoned is schedulable again first, whatever else fails (the label stays
    // on a node whose uncordon failed: `graceful-e2e clean` finds it).
    if (st?.cordoned || st?.uncordoning) {
      const node = st.cordoned?.node ?? st.voluntary.drain?.node ?? "?";
      await this.uncordonRun(st).catch((err: unknown) => errors.push(`uncordon node ${node}: ${errText(err)}`));
    }
    /** undefined until the run's namespaces are listed (a failed list tells nothing about its Service). */
    let serviceDeleted: boolean | undefined;
    try {
      const labelSelector = `${LABEL_ROOT}=true,${LABEL_RUN}=${labelValue(runId)}`;
      const list = await this.core.listNamespace({ labelSelector });
      serviceDeleted = true;
      const ignore = async (what: string, p: Promise<unknown>, also: number[] = []) => {
        try {
          await p;
          return true;
        } catch (err) {
          const code = httpStatus(err);
          if (code === 404 || (code !== undefined && also.includes(code))) return true;
          errors.push(`${what}: ${errText(err)}`);
          return false;
        }
      };
      for (const ns of list.items) {
        const namespace = ns.metadata?.name;
        if (!namespace) continue;
        // Already going (an earlier sweep): only its end is still to wait for.
        if (!ns.metadata?.deletionTimestamp && !this.namespacesGoing.has(namespace)) {
          // The run's Service and workload by name (the user's manifests name theirs); the namespace takes the rest.
          const service = placement?.service ?? SERVICE_NAME;
          const deleted = await ignore(
            `Service in ${namespace}`,
            this.core.deleteNamespacedService({ name: service, namespace }),
          );
          serviceDeleted &&= deleted;
          const { kind, name } = placement?.workload ?? { kind: "Deployment", name: DEPLOYMENT_NAME };
          const opts = { name, namespace, propagationPolicy: "Background" };
          await ignore(
            `${kind} in ${namespace}`,
            kind === "StatefulSet"
              ? this.apps.deleteNamespacedStatefulSet(opts)
              : this.apps.deleteNamespacedDeployment(opts),
          );
          await ignore(
            `pods in ${namespace}`,
            this.core.deleteCollectionNamespacedPod({ namespace, gracePeriodSeconds: 0 }),
          );
          // 409: the namespace is already terminating.
          await ignore(`namespace ${namespace}`, this.core.deleteNamespace({ name: namespace }), [409]);
        }
        this.awaitNamespaceGone(namespace);
      }
    } finally {
      await streamsStopped;
      // The port is free once the Service is gone (and no deploy of this run can still create one: the
      // runner sweeps again after a step in flight settles). A Service that could not be deleted keeps it.
      if (serviceDeleted !== undefined && this.ports.portOf(runId) !== undefined && !this.deploying.has(runId)) {
        if (serviceDeleted) this.ports.release(runId);
        else this.ports.retire(runId);
      }
    }
    if (errors.length > 0) throw new Error(`teardown of run ${runId} incomplete: ${errors.join("; ")}`);
  }

  /** Waits, in the background and bounded, for a deleted namespace to be gone; drain() waits for all. */
  private awaitNamespaceGone(name: string): void {
    if (this.namespacesGoing.has(name)) return;
    const bound = this.o.namespaceGoneBoundMs ?? NAMESPACE_GONE_BOUND_MS;
    const going = pollUntil(
      async () => {
        try {
          await this.core.readNamespace({ name });
          return undefined;
        } catch (err) {
          return httpStatus(err) === 404 ? true : undefined;
        }
      },
      { clock: this.clock, timeoutMs: bound, pollMs: 500 },
    )
      .then((r) => {
        if (r.timedOut)
          this.log(`namespace ${name} is still terminating after ${bound / 1000} s; it will go away on its own`);
      })
      .catch((err: unknown) => this.log(`could not follow the deletion of namespace ${name}: ${errText(err)}`))
      .finally(() => this.namespacesGoing.delete(name));
    this.namespacesGoing.set(name, going);
  }

  /** Namespaces torn down whose deletion is still being waited for. */
  namespacesInDeletion(): string[] {
    return [...this.namespacesGoing.keys()];
  }

  /**
   * Resolves once every namespace torn down so far is gone (or its bounded wait ran out): call after the
   * last run, and on Ctrl-C, so that nothing is left behind.
   */
  async drain(): Promise<void> {
    while (this.namespacesGoing.size > 0) await Promise.all([...this.namespacesGoing.values()]);
  }

  /** Stops every watch still open (process exit). */
  stopAll(): void {
    for (const st of this.runs.values()) st.observer.stop();
    for (const r of this.runtimeStreams.values()) void r.stop().catch(() => {});
    for (const a of this.attribution.values()) void a.feed.stop().catch(() => {});
  }
}

/**
 * The run's pods, sorted by name, once the watch shows exactly `replicas` live pods (none terminating),
 * each Ready and listed as a ready endpoint of the Service; else undefined. Pure.
 */
export function readyFromWatch(
  builder: Pick<TimelineBuilder, "livePods" | "podsBeingDeleted" | "readyPods" | "readyEndpoints">,
  replicas: number,
): string[] | undefined {
  const deleting = new Set(builder.podsBeingDeleted());
  const live = builder.livePods().filter((p) => !deleting.has(p));
  const ready = builder.readyPods();
  const endpoints = new Set(builder.readyEndpoints());
  if (live.length !== replicas || ready.length !== replicas || !ready.every((p) => endpoints.has(p))) return undefined;
  return [...ready].sort();
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

/**
 * The pods a delete or an evict targets: the plan's victims (busiest first), else the ready pods by name
 * (then the other live ones), `count` of them. What differs from the scenario's ask goes to the notes.
 */
export function chooseTargets(
  deployment: Pick<Deployment, "pods">,
  plan: DisruptionPlan | undefined,
  live: string[],
  count: number,
  notes: string[],
  verb: "delete" | "evict",
): string[] {
  const planned = victimsFromPlan(plan, live);
  if (planned.note) notes.push(planned.note);
  if (planned.victims) {
    if (planned.victims.length !== count) {
      notes.push(
        `${verb === "delete" ? "deleted" : "evicted"} the ${planned.victims.length} planned victim(s) (the scenario asked for ${count})`,
      );
    }
    return planned.victims;
  }
  const ready = deployment.pods.filter((p) => live.includes(p));
  const targets = [...ready, ...live.filter((p) => !ready.includes(p))].slice(0, count);
  if (targets.length < count) notes.push(`asked to ${verb} ${count} pod(s), only ${targets.length} were running`);
  return targets;
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

/** Ctrl-C, or the run's teardown: a disruption's retries stop at either. */
const stopSignal = (st: RunState): AbortSignal => AbortSignal.any([interruptSignal(), st.stop.signal]);

/** The disruptions that leave a VoluntaryDisruptionRecord (the Eviction API's answers, a drain, a rollout). */
const isVoluntary = (d: Disruption): boolean => d.action === "evict" || d.action === "drain" || d.action === "rollout";
