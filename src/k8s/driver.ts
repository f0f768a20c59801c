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
import type { Deployment, DisruptionOutcome, PodOutcome, ResolvedImage } from "../backends/backend.js";
import type { EventSink, TimelineEvent } from "../observe/events.js";
import type { Disruption, Scenario } from "../scenario/schema.js";
import { LABEL_ROOT, LABEL_RUN } from "../util/labels.js";
import { buildManifests, DEPLOYMENT_NAME, labelValue, RESTARTED_AT_ANNOTATION, SERVICE_NAME } from "./manifests.js";
import { type ProcessEntry, TimelineBuilder } from "./timeline-from-watch.js";
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
  /** Reads PID 1's command line of a pod's container; default: exec `cat /proc/1/cmdline`. */
  readPid1?: (req: Pid1Request) => Promise<string>;
  /** Reads the container's process tree; default: exec `ps` (skipped quietly when the image has none). */
  readProcessTree?: (req: Pid1Request) => Promise<ProcessEntry[]>;
  /** Extra platform facts for the report. */
  platform?: Record<string, string>;
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

export class KubernetesDriver {
  private readonly runs = new Map<string, RunState>();
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private readonly now: () => number;

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

    // PID 1's command line and the process tree, before any signal.
    await Promise.all(
      pods.map(async (pod) => {
        const req = this.pid1Request(namespace, pod, m.names.container);
        try {
          builder.setPid1(req.pod, await (this.o.readPid1 ? this.o.readPid1(req) : pid1ViaExec(this.o.kc, req)));
        } catch (err) {
          this.log(`could not read PID 1 of ${req.pod}: ${errText(err)}`);
        }
        try {
          const tree = await (this.o.readProcessTree
            ? this.o.readProcessTree(req)
            : processTreeViaExec(this.o.kc, req));
          if (tree.length > 0) builder.setProcessTree(req.pod, tree);
        } catch {
          // no `ps` in the image: the tree stays unknown
        }
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
        ...this.o.platform,
      },
    };
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

  async disrupt(deployment: Deployment, disruption: Disruption): Promise<DisruptionOutcome> {
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
        // The first pods by name among those that were ready, as the recordings did.
        const ready = deployment.pods.filter((p) => live.includes(p));
        targets = [...ready, ...live.filter((p) => !ready.includes(p))].slice(0, disruption.count);
        if (targets.length < disruption.count) {
          notes.push(`asked to delete ${disruption.count} pod(s), only ${targets.length} were running`);
        }
        const gps = disruption.gracePeriodSeconds === undefined ? undefined : Math.ceil(disruption.gracePeriodSeconds);
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
    const outcomes: PodOutcome[] = builder.outcomes(disrupted());
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
  }
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
