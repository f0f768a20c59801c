// The existing-cluster backend: any Kubernetes the user points at with an explicit kubeconfig context,
// images pushed to a registry the user names, the same manifests as kind. It creates and deletes pods,
// so it refuses to run without an explicit allowMutations: true.
// Load comes from one of two places (loadFrom):
// - "local": this machine, through an address the user gives where the Service answers here (a
//   NodePort or LoadBalancer published on 127.0.0.1 / localhost, e.g. Docker Desktop's Kubernetes,
//   k3d/minikube with a port mapping or tunnel);
// - "in-cluster" (no address given): a Job in the cluster runs the same load generator (images/loadgen,
//   src/k8s/load-job.ts) against the Service's cluster DNS name. The runner starts it through
//   startLoad(deployment, ...) below (InClusterLoad) instead of the local generator.
import { CoreV1Api, KubeConfig, type V1ResourceRequirements } from "@kubernetes/client-node";
import { type CommandRunner, execaRunner } from "../../k8s/command.js";
import { assertDrainable } from "../../k8s/drain.js";
import { KubernetesDriver } from "../../k8s/driver.js";
import { loadJobNamespace, loadJobTiming, type RunningLoadJob, startLoadJob } from "../../k8s/load-job.js";
import { DEFAULT_NODE_PORT, namespaceName, SERVICE_NAME } from "../../k8s/manifests.js";
import { formatPorts } from "../../k8s/node-ports.js";
import type { LoadHooks } from "../../load/types.js";
import type { ResolvedImage } from "../../model/backend.js";
import type { ReadyEndpointsSample, VoluntaryDisruptionRecord } from "../../model/disruption.js";
import type { EventSink } from "../../model/events.js";
import type { Disruption, LoadOptions, Scenario, Target } from "../../scenario/schema.js";
import { UsageError } from "../../util/errors.js";
import {
  type Deployment,
  type DisruptionOutcome,
  type DisruptionPlan,
  RunStateBackend,
  type WorkloadSource,
} from "../backend.js";
import type { InClusterLoad, InClusterLoadRun } from "../capabilities.js";
import { assertDockerReachable } from "../docker-check.js";
import { pushImages } from "./images.js";
import { assertLoadgenBuildable, ensureLoadgenImage } from "./loadgen-image.js";

export type LoadFrom = "local" | "in-cluster";

export interface InClusterLoadOptions {
  /** A loadgen image already built (local tag, pushed like the others); default: built here. */
  image?: string;
  /** Base image for the build (default: the sample images' base). */
  baseRef?: string;
  /** The Job container's resources (default: src/k8s/load-job.ts DEFAULT_LOAD_JOB_RESOURCES). */
  resources?: V1ResourceRequirements;
  /** How long to wait for the generator's first successful response (default 240 s). */
  startTimeoutSeconds?: number;
  /** In the pod: how long to wait for the Service's /healthz before starting (default 60 s). */
  readyTimeoutSeconds?: number;
}

export interface ExistingClusterOptions {
  /** kubeconfig context to use (required: never the current context by accident). */
  context: string;
  /** kubeconfig file; default: $KUBECONFIG or ~/.kube/config. */
  kubeconfigPath?: string;
  /** Registry (host[:port][/path]) the cluster's nodes can pull from and this machine can push to. */
  registry: string;
  /**
   * Where load comes from (default: "local" when a target is given, else "in-cluster").
   * local: this machine, to `target`; in-cluster: a Job in the cluster, to the Service's DNS name.
   */
  loadFrom?: LoadFrom;
  /** local: where the Service answers on this machine: must be 127.0.0.1, localhost or ::1. */
  target?: { host: string; port: number };
  /** in-cluster: the load Job's image and limits. */
  inCluster?: InClusterLoadOptions;
  /** NodePort given to the Service (default 30080) when nodePorts is not given. */
  nodePort?: number;
  /**
   * NodePorts the runs' Services may claim, one per scenario running at once (--node-ports). With more
   * than one and load from this machine, each run's load goes to <target host>:<its NodePort> (NodePorts
   * published 1:1 on this machine, as Docker Desktop does), so target's port must be one of them.
   */
  nodePorts?: readonly number[];
  serviceType?: "NodePort" | "LoadBalancer";
  /** Must be true: this backend creates a namespace, deletes pods and the namespace. */
  allowMutations: boolean;
  readyTimeoutMs?: number;
  run?: CommandRunner;
  log?: (line: string) => void;
}

const LOCAL_HOSTS = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

/** Where load comes from for these options. */
export function loadFromOf(o: Pick<ExistingClusterOptions, "loadFrom" | "target">): LoadFrom {
  return o.loadFrom ?? (o.target ? "local" : "in-cluster");
}

/** Checks the options; throws UsageError explaining what to change. */
export function validateExistingOptions(o: ExistingClusterOptions): void {
  if (o.allowMutations !== true) {
    throw new UsageError(
      "the existing-cluster backend creates a namespace, deletes pods and deletes that namespace in the cluster " +
        `of context "${o.context}": confirm with --allow-mutations (allowMutations: true)`,
    );
  }
  if (!o.context) throw new UsageError("the existing-cluster backend needs an explicit kubeconfig context (--context)");
  if (!o.registry) throw new UsageError("the existing-cluster backend needs a registry to push images to (--registry)");
  const from = loadFromOf(o);
  if (from === "in-cluster") {
    if (o.target) {
      throw new UsageError(
        `a Service address (${o.target.host}:${o.target.port}) is only used with load from this machine; ` +
          "load from inside the cluster goes to the Service's cluster DNS name: drop the address",
      );
    }
    return;
  }
  if (!o.target) {
    throw new UsageError(
      "load from this machine needs the address where the Service answers here (--address); " +
        "without one, load comes from a Job inside the cluster",
    );
  }
  if (!LOCAL_HOSTS.has(o.target.host)) {
    throw new UsageError(
      `the Service address ${o.target.host}:${o.target.port} is not on this machine. Load from this machine must ` +
        "reach the Service through an address on 127.0.0.1/localhost (a NodePort or LoadBalancer published locally, " +
        "or your own port mapping to a node). Omit --address to generate the load from inside the cluster (a Job).",
    );
  }
  if (!Number.isInteger(o.target.port) || o.target.port < 1 || o.target.port > 65535) {
    throw new UsageError(`invalid Service port ${o.target.port}`);
  }
  const ports = nodePortsOf(o);
  if (ports.length > 1 && !ports.includes(o.target.port)) {
    throw new UsageError(
      `--address ${o.target.host}:${o.target.port} with --node-ports ${formatPorts(ports)}: each run's load goes to ` +
        `${o.target.host}:<its NodePort>, so the address's port must be one of them (e.g. ${o.target.host}:${ports[0]})`,
    );
  }
}

/** The NodePorts runs may claim: nodePorts, else [nodePort], else [30080]. */
export function nodePortsOf(o: Pick<ExistingClusterOptions, "nodePort" | "nodePorts">): number[] {
  return o.nodePorts && o.nodePorts.length > 0 ? [...o.nodePorts] : [o.nodePort ?? DEFAULT_NODE_PORT];
}

/** Loads the kubeconfig and switches to the named context (an error lists the ones that exist). */
export function kubeConfigFor(context: string, kubeconfigPath?: string): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfigPath) kc.loadFromFile(kubeconfigPath);
  else kc.loadFromDefault();
  const names = kc.getContexts().map((c) => c.name);
  if (!names.includes(context)) {
    throw new UsageError(`kubeconfig has no context "${context}" (it has: ${names.join(", ") || "none"})`);
  }
  kc.setCurrentContext(context);
  return kc;
}

export class ExistingClusterBackend extends RunStateBackend implements InClusterLoad {
  readonly name = "existing" as const;
  private readonly run: CommandRunner;
  private readonly pushed = new Map<string, string>();
  private kc?: KubeConfig;
  private driver?: KubernetesDriver;
  readonly loadFrom: LoadFrom;
  /** InClusterLoad: only without --address (loadFrom "in-cluster"); else the runner runs the load here. */
  get loadsInCluster(): boolean {
    return this.loadFrom === "in-cluster";
  }
  /** in-cluster: the loadgen image (local tag) once built. */
  private loadgenImage?: string;
  private inClusterPrepared?: Promise<string>;
  private readonly loadJobs = new Map<string, RunningLoadJob>();

  constructor(private readonly o: ExistingClusterOptions) {
    super();
    validateExistingOptions(o);
    this.run = o.run ?? execaRunner;
    this.loadFrom = loadFromOf(o);
  }

  /** Docker (images are pushed from here); in-cluster: what building the loadgen image needs. */
  async preflight(): Promise<void> {
    await assertDockerReachable();
    if (this.loadFrom === "in-cluster" && !this.o.inCluster?.image) await assertLoadgenBuildable();
  }

  /**
   * A user's workload: its images are the cluster's to pull (nothing is pushed); the in-cluster load's
   * image is prepared as for any run.
   */
  async prepareWorkload(images: string[]): Promise<string[]> {
    await this.prepare([]);
    return images.length > 0
      ? [`images ${images.join(", ")}: pulled by the cluster's nodes as the manifests name them (nothing pushed)`]
      : [];
  }

  /** A running workload: it exists and its Service selects it (changes nothing; --allow-mutations was checked). */
  async checkTarget(target: Target): Promise<void> {
    this.kc ??= kubeConfigFor(this.o.context, this.o.kubeconfigPath);
    await this.getDriver().checkTarget(target);
  }

  /** A drain needs two schedulable nodes in the context's cluster. */
  async preflightScenarios(scenarios: readonly Scenario[]): Promise<void> {
    if (!scenarios.some((s) => s.disruption.action === "drain")) return;
    this.kc ??= kubeConfigFor(this.o.context, this.o.kubeconfigPath);
    await assertDrainable(this.kc.makeApiClient(CoreV1Api), `the cluster of context "${this.o.context}"`);
    // Beyond the run's namespace: a node of the user's cluster is cordoned for the drain's duration.
    this.o.log?.(
      `drain: a node of context "${this.o.context}" will be cordoned while its pods of the run are evicted ` +
        `(other workloads' pods stay); uncordoned at teardown, or by \`graceful-e2e clean --context ${this.o.context}\``,
    );
  }

  async prepare(images: ResolvedImage[]): Promise<void> {
    this.kc ??= kubeConfigFor(this.o.context, this.o.kubeconfigPath);
    const refs = images.map((i) => i.ref);
    if (this.loadFrom === "in-cluster") {
      // Once for all scenarios (they may prepare in parallel); a failure is retried by the next one.
      this.inClusterPrepared ??= this.prepareInCluster();
      try {
        refs.push(await this.inClusterPrepared);
      } catch (err) {
        this.inClusterPrepared = undefined;
        throw err;
      }
    }
    const todo = refs.filter((r) => !this.pushed.has(r));
    for (const [local, remote] of await pushImages(this.run, this.o.registry, todo, this.o.log)) {
      this.pushed.set(local, remote);
    }
  }

  /** The loadgen image; resolves with its local tag. */
  private async prepareInCluster(): Promise<string> {
    this.loadgenImage ??=
      this.o.inCluster?.image ??
      (await ensureLoadgenImage({ run: this.run, baseRef: this.o.inCluster?.baseRef, log: this.o.log }));
    return this.loadgenImage;
  }

  private getDriver(): KubernetesDriver {
    if (!this.kc) throw new Error("existing backend: prepare() must run before deploy()");
    const nodePorts = nodePortsOf(this.o);
    const target = this.o.target;
    // One NodePort: the address is wherever the user routes it. Several: <host>:<the run's NodePort>.
    const targetFor = (nodePort: number) =>
      target && nodePorts.length > 1
        ? { host: target.host, port: nodePort }
        : (target ?? { host: "127.0.0.1", port: 0 });
    this.driver ??= new KubernetesDriver({
      backend: "existing",
      kc: this.kc,
      // in-cluster: nothing answers on this machine; the load Job checks the Service from inside.
      target: target ?? { host: "127.0.0.1", port: 0 },
      targetFor,
      checkReachable: target !== undefined,
      trafficPath: "",
      trafficPathFor: (nodePort) => {
        const t = targetFor(nodePort);
        return target
          ? `${t.host}:${t.port} → (user-provided route) → Service ${this.o.serviceType ?? "NodePort"} ${nodePort} → kube-proxy → a ready pod`
          : "load Job in the cluster → the Service (cluster DNS) → kube-proxy → a ready pod";
      },
      nodePort: nodePorts[0] as number,
      nodePorts,
      serviceType: this.o.serviceType,
      imageFor: (image) => {
        const ref = this.pushed.get(image.ref);
        if (!ref) throw new Error(`image ${image.ref} was not pushed (prepare() did not see it)`);
        return ref;
      },
      platform: { context: this.o.context, registry: this.o.registry },
      readyTimeoutMs: this.o.readyTimeoutMs,
      log: this.o.log,
    });
    return this.driver;
  }

  async deployRecord(scenario: Scenario, source: WorkloadSource, sink: EventSink, runId: string): Promise<Deployment> {
    const d = await this.getDriver().deploy(scenario, source, sink, runId);
    if (this.loadFrom === "local") return d;
    // Load goes to the Service from inside the cluster: its DNS name (any cluster domain: the pod's
    // resolv.conf search path completes <svc>.<ns>.svc) and the port the deploy chose (workload.port).
    const namespace = d.objects?.namespace ?? d.platform.namespace ?? namespaceName(scenario.name, runId);
    const name = d.objects?.service ?? SERVICE_NAME;
    const kc = this.kc as KubeConfig;
    const svc = await kc.makeApiClient(CoreV1Api).readNamespacedService({ name, namespace });
    const port = d.objects?.servicePort ?? svc.spec?.ports?.[0]?.port;
    if (!port) throw new Error(`the Service ${namespace}/${name} has no port`);
    const host = `${name}.${namespace}.svc`;
    return {
      ...d,
      target: { host, port },
      trafficPath:
        `load Job in ${loadJobNamespace(scenario.name, runId)} → ${host}:${port} (DNS looked up once → ClusterIP ` +
        `${svc.spec?.clusterIP ?? "?"}) → kube-proxy → a ready pod`,
      platform: {
        ...d.platform,
        loadFrom: "in-cluster",
        loadgenImage: this.pushed.get(this.loadgenImage ?? "") ?? "?",
      },
    };
  }

  /**
   * Starts the load for a deployment: the local generator (loadFrom local), or the load Job
   * (in-cluster), resolving once the Job's generator got its first successful response through the
   * Service. hooks.safetyCapSeconds sizes the Job's window (default: from the scenario).
   */
  async startLoad(deployment: Deployment, load: LoadOptions, hooks: LoadHooks = {}): Promise<InClusterLoadRun> {
    if (!this.kc || !this.loadgenImage) throw new Error("existing backend: prepare() must run before startLoad()");
    const image = this.pushed.get(this.loadgenImage);
    if (!image) throw new Error(`the loadgen image ${this.loadgenImage} was not pushed`);
    const scenario = deployment.scenario;
    const job = await startLoadJob({
      kc: this.kc,
      scenario,
      runId: deployment.runId,
      image,
      target: deployment.target,
      load,
      timing: loadJobTiming(scenario, {
        safetyCapSeconds: hooks.safetyCapSeconds,
        startTimeoutSeconds: this.o.inCluster?.startTimeoutSeconds,
        readyTimeoutSeconds: this.o.inCluster?.readyTimeoutSeconds,
      }),
      resources: this.o.inCluster?.resources,
      log: this.o.log,
    });
    this.loadJobs.set(deployment.runId, job);
    return { stop: () => job.stop() };
  }

  disrupt(deployment: Deployment, disruption: Disruption, plan?: DisruptionPlan): Promise<DisruptionOutcome> {
    // No trafficAttribution here: without node access nothing sees which pod a connection went to.
    return this.getDriver().disrupt(deployment, disruption, plan);
  }

  /** The Service's ready endpoints over the run, from the watch. */
  readyEndpoints(deployment: Deployment): ReadyEndpointsSample[] | undefined {
    return this.driver?.readyEndpoints(deployment.runId);
  }

  /** evict/drain/rollout: the record so far (a run ended mid-drain reports it). */
  voluntaryRecord(deployment: Deployment): VoluntaryDisruptionRecord | undefined {
    return this.driver?.voluntaryRecord(deployment.runId);
  }

  /**
   * Also removes the load Job: its namespace carries the run's labels like the app's. Resolves once the
   * Service is deleted and the namespaces' deletion is under way (drain() waits for the rest).
   */
  async teardown(deployment: Deployment | undefined, runId: string): Promise<void> {
    this.loadJobs.get(runId)?.close();
    this.loadJobs.delete(runId);
    if (!this.kc) return;
    await this.getDriver().teardown(deployment, runId);
  }

  /** Every namespace torn down so far gone (each wait bounded). */
  async drain(): Promise<void> {
    await this.driver?.drain();
  }

  /** One scenario per NodePort (--node-ports). */
  async concurrency(): Promise<{ max: number; why: string }> {
    const ports = nodePortsOf(this.o);
    return { max: ports.length, why: `one NodePort per scenario: ${formatPorts(ports)} (--node-ports)` };
  }

  /**
   * Waits for the namespaces still being deleted, stops watches and log streams. The cluster itself is
   * never touched beyond the run's namespaces.
   */
  async close(): Promise<void> {
    for (const job of this.loadJobs.values()) job.close();
    this.loadJobs.clear();
    await this.drain();
    this.driver?.stopAll();
  }
}
