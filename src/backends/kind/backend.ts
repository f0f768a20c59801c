// The kind backend: a real Kubernetes (kind) on this machine's Docker engine. Load reaches the pods
// the way Service traffic does: 127.0.0.1:<NodePort> → Docker's port mapping → the control-plane node's
// NodePort → kube-proxy → a ready pod on any node (never port-forward, which bypasses the Service).
// Every run claims one NodePort of those kind-config.yaml publishes (30080-30087): runs may overlap.
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { CommandError, type CommandRunner, execaRunner } from "../../k8s/command.js";
import { assertDrainable } from "../../k8s/drain.js";
import {
  inspectViaPodExec,
  KubernetesDriver,
  type Pid1Reading,
  type Pid1Request,
  pid1ViaExec,
} from "../../k8s/driver.js";
import { formatPorts } from "../../k8s/node-ports.js";
import type { ResolvedImage } from "../../model/backend.js";
import type { ReadyEndpointsSample, VoluntaryDisruptionRecord } from "../../model/disruption.js";
import type { EventSink } from "../../model/events.js";
import type { TrafficAttribution } from "../../model/exercise.js";
import type { ProcessTreeInspection } from "../../model/process-tree.js";
import {
  type CrictlContainer,
  cmdlineOnNode,
  crictlInspect,
  establishedOnNode,
  inspectOnNode,
  type NodeExec,
} from "../../observe/node-proc.js";
import type { Disruption, Scenario, Target } from "../../scenario/schema.js";
import { errorText } from "../../util/errors.js";
import {
  type Deployment,
  type DisruptionOutcome,
  type DisruptionPlan,
  RunStateBackend,
  type WorkloadSource,
} from "../backend.js";
import { KindCluster, type KindClusterOptions, type TeardownResult } from "./cluster.js";
import { ConntrackStream } from "./conntrack-stream.js";
import { ContainerdEvents } from "./containerd-events.js";
import { loadImages, loadWorkloadImages } from "./images.js";
import type { LineSpawner } from "./node-command.js";

export interface KindBackendOptions extends KindClusterOptions {
  readyTimeoutMs?: number;
  /** Starts the nodes' `conntrack -E` streams (default: execa); tests inject a fake. */
  spawn?: LineSpawner;
}

/** Runs argv inside a kind node (a Docker container): `docker exec <node> …`, argument arrays only. */
export function kindNodeExec(run: CommandRunner, node: string): NodeExec {
  return async (argv) => {
    try {
      return (await run("docker", ["exec", node, ...argv])).stdout;
    } catch (err) {
      // Name the command by its program only (a script would fill the report), with its own error.
      if (err instanceof CommandError && !err.code) {
        const why = err.stderr.trim().split("\n").slice(-2).join(" ") || `exit ${err.exitCode ?? "?"}`;
        throw new Error(`docker exec ${node} ${argv[0] ?? ""} failed: ${why}`);
      }
      throw err;
    }
  };
}

/** What PID 1 readings and inspections on kind need besides the node: exec inside the container. */
export interface KindPodReaders {
  run: CommandRunner;
  /** PID 1's cmdline through the Kubernetes exec API (default in the backend: pid1ViaExec). */
  execPid1: (req: Pid1Request) => Promise<string>;
  /** The process inspection through the Kubernetes exec API (default in the backend: inspectViaPodExec). */
  execInspect: (req: Pid1Request, notes: string[]) => Promise<ProcessTreeInspection>;
}

/**
 * PID 1's command line as it RUNS (what the local backend reports too): the container's node PID from
 * crictl inspect, then the node's /proc/<pid>/cmdline. Falls back to `cat /proc/1/cmdline` in the
 * container (exec API), then to the configured command (crictl's runtimeSpec args), saying so.
 */
export async function readLivePid1(r: KindPodReaders, req: Pid1Request): Promise<Pid1Reading> {
  const failed: string[] = [];
  let info: CrictlContainer | undefined;
  if (req.nodeName && req.containerID) {
    const node = kindNodeExec(r.run, req.nodeName);
    try {
      info = await crictlInspect(node, req.containerID);
      if (info.pid === undefined) throw new Error("crictl inspect gave no PID (info.pid)");
      return { cmdline: await cmdlineOnNode(node, info.pid) };
    } catch (err) {
      failed.push(`on the node: ${errorText(err)}`);
    }
  } else {
    failed.push("on the node: the pod has no node or container id yet");
  }
  try {
    const cmdline = await r.execPid1(req);
    if (cmdline.trim() !== "") return { cmdline };
    failed.push("exec in the container: empty /proc/1/cmdline");
  } catch (err) {
    failed.push(`exec in the container: ${errorText(err)}`);
  }
  if (info?.args) {
    return {
      cmdline: info.args.join(" "),
      note:
        `PID 1 shown is the CONFIGURED command (crictl inspect runtimeSpec.process.args), not the live process ` +
        `(${failed.join("; ")}): a script that exec's into the app shows as the script`,
    };
  }
  throw new Error(`PID 1 of ${req.pod} could not be read (${failed.join("; ")})`);
}

/**
 * Every process of the pod's container with its SIGTERM disposition, before any signal, as the local
 * backend reads it from the host: here from the kind node's /proc (crictl inspect's PID, then the
 * processes of that PID namespace). Falls back to the same script through the Kubernetes exec API
 * (needs sh in the image). Never throws.
 */
export async function inspectOnKind(r: KindPodReaders, req: Pid1Request): Promise<ProcessTreeInspection> {
  let why: string;
  if (req.nodeName && req.containerID) {
    try {
      return await inspectOnNode(kindNodeExec(r.run, req.nodeName), req.containerID, `docker exec ${req.nodeName}`);
    } catch (err) {
      why = errorText(err);
    }
  } else {
    why = "the pod has no node or container id yet";
  }
  return r.execInspect(req, [`the node's /proc not usable (${why}): read through the exec API instead`]);
}

/** PID 1's argv as containerd started it (`crictl inspect` on the node): the CONFIGURED command. */
export async function pid1ViaCrictl(run: CommandRunner, req: Pid1Request): Promise<string> {
  if (!req.nodeName || !req.containerID) throw new Error("pod has no node or container id yet");
  const { args } = await crictlInspect(kindNodeExec(run, req.nodeName), req.containerID);
  if (!args) throw new Error("crictl inspect gave no process args");
  return args.join(" ");
}

export class KindBackend extends RunStateBackend {
  readonly name = "kind" as const;
  readonly cluster: KindCluster;
  private readonly run: CommandRunner;
  private kc?: KubeConfig;
  private driver?: KubernetesDriver;
  /** NodePort → port on 127.0.0.1, as the cluster publishes them (after prepare or concurrency). */
  private published?: Map<number, number>;
  private nodeList?: Promise<string[]>;

  constructor(private readonly o: KindBackendOptions = {}) {
    super();
    this.run = o.run ?? execaRunner;
    this.cluster = new KindCluster({ ...o, run: this.run });
  }

  preflight(): Promise<void> {
    return this.cluster.preflight();
  }

  /** A drain needs two schedulable nodes (a cluster from an older kind-config.yaml has one worker). */
  async preflightScenarios(scenarios: readonly Scenario[]): Promise<void> {
    if (!scenarios.some((s) => s.disruption.action === "drain")) return;
    await this.cluster.ensure();
    this.kc ??= await this.cluster.kubeconfig();
    await assertDrainable(this.kc.makeApiClient(CoreV1Api), `kind cluster "${this.cluster.name}"`);
  }

  /**
   * One scenario per NodePort the cluster publishes on 127.0.0.1 (kind-config.yaml: 30080-30087). A
   * cluster made from an older kind-config.yaml publishes 30080 only: one at a time, and why.
   */
  async concurrency(): Promise<{ max: number; why: string }> {
    await this.cluster.ensure();
    const ports = await this.publishedPorts();
    const wanted = this.cluster.wantedPorts;
    if (ports.size < wanted.length) {
      return {
        max: ports.size,
        why:
          `kind cluster "${this.cluster.name}" publishes only NodePort ${formatPorts([...ports.keys()])} of ` +
          `${formatPorts(wanted)} on 127.0.0.1 (created from an older kind-config.yaml): ${ports.size} scenario(s) ` +
          `at a time; recreate it from kind-config.yaml (kind delete cluster --name ${this.cluster.name}) to run up to ${wanted.length}`,
      };
    }
    return { max: ports.size, why: `one NodePort per scenario: ${formatPorts([...ports.keys()])} (kind-config.yaml)` };
  }

  private async publishedPorts(): Promise<Map<number, number>> {
    this.published ??= await this.cluster.publishedPorts();
    if (this.published.size === 0) {
      this.published = undefined;
      throw new Error(
        `kind cluster "${this.cluster.name}" publishes none of the NodePorts ${formatPorts(this.cluster.wantedPorts)} ` +
          "on 127.0.0.1: create it from kind-config.yaml",
      );
    }
    return this.published;
  }

  /** The cluster up, its published ports and kubeconfig read: what every deploy needs. */
  private async ready(): Promise<void> {
    await this.cluster.ensure();
    await this.publishedPorts();
    this.kc ??= await this.cluster.kubeconfig();
  }

  /** A user's workload: the images the local Docker engine has loaded, the rest pulled by the nodes. */
  async prepareWorkload(images: string[]): Promise<string[]> {
    await this.ready();
    if (images.length === 0) return [];
    return loadWorkloadImages(this.run, this.cluster.name, await this.nodes(), images, this.o.log);
  }

  /** A running workload: it exists, its Service selects it and is published on 127.0.0.1 (changes nothing). */
  async checkTarget(target: Target): Promise<void> {
    await this.ready();
    await this.getDriver().checkTarget(target);
  }

  async prepare(images: ResolvedImage[]): Promise<void> {
    await this.ready();
    const nodes = await this.nodes();
    await loadImages(
      this.run,
      this.cluster.name,
      nodes,
      images.map((i) => i.ref),
      this.o.log,
    );
  }

  /**
   * The cluster's nodes, listed once per backend (`kind get nodes` cost every scenario three CLI calls:
   * prepare, the conntrack streams, the containerd streams); a failed listing is not kept.
   */
  private nodes(): Promise<string[]> {
    this.nodeList ??= this.cluster.nodes().catch((err: unknown) => {
      this.nodeList = undefined;
      throw err;
    });
    return this.nodeList;
  }

  private getDriver(): KubernetesDriver {
    if (!this.kc || !this.published) throw new Error("kind backend: prepare() must run before deploy()");
    const kc = this.kc;
    const published = this.published;
    const hostPort = (nodePort: number) => published.get(nodePort) ?? nodePort;
    const nodePorts = [...published.keys()];
    const readers: KindPodReaders = {
      run: this.run,
      execPid1: (req) => pid1ViaExec(kc, req),
      execInspect: (req, notes) => inspectViaPodExec(kc, req, notes),
    };
    this.driver ??= new KubernetesDriver({
      backend: "kind",
      kc,
      target: { host: "127.0.0.1", port: hostPort(nodePorts[0] as number) },
      targetFor: (nodePort) => ({ host: "127.0.0.1", port: hostPort(nodePort) }),
      trafficPath: "",
      trafficPathFor: (nodePort) =>
        `127.0.0.1:${hostPort(nodePort)} → Docker port mapping → kind node ${this.cluster.name}-control-plane:${nodePort} ` +
        "(NodePort) → kube-proxy (externalTrafficPolicy Cluster) → a ready pod on any node",
      nodePort: nodePorts[0] as number,
      nodePorts,
      // A running workload's Service is reached only through a NodePort the cluster publishes here.
      targetNodePorts: nodePorts,
      readPid1: (req) => readLivePid1(readers, req),
      inspectProcesses: (req) => inspectOnKind(readers, req),
      readEstablished: (req, port) => {
        if (!req.nodeName || !req.containerID) throw new Error("the pod has no node or container id");
        return establishedOnNode(kindNodeExec(this.run, req.nodeName), req.containerID, port);
      },
      platform: {
        kindCluster: this.cluster.name,
        kindClusterCreatedByRun: String(this.cluster.created),
        ...(this.cluster.createSeconds !== undefined
          ? { kindClusterCreateSeconds: String(this.cluster.createSeconds) }
          : {}),
      },
      // Which pod each connection went to: the nodes' conntrack (src/backends/kind/conntrack-stream.ts).
      trafficAttribution: async ({ nodePort }) => {
        const stream = new ConntrackStream({
          nodes: await this.nodes(),
          nodePort,
          run: this.run,
          spawn: this.o.spawn,
        });
        await stream.start();
        return stream;
      },
      // The nodes' own record of container exits: containerd's task events (containerd-events.ts).
      runtimeEvents: () =>
        new ContainerdEvents({
          nodes: () => this.nodes(),
          run: this.run,
          spawn: this.o.spawn,
          log: this.o.log,
        }),
      readyTimeoutMs: this.o.readyTimeoutMs,
      log: this.o.log,
    });
    return this.driver;
  }

  deployRecord(scenario: Scenario, source: WorkloadSource, sink: EventSink, runId: string): Promise<Deployment> {
    return this.getDriver().deploy(scenario, source, sink, runId);
  }

  disrupt(deployment: Deployment, disruption: Disruption, plan?: DisruptionPlan): Promise<DisruptionOutcome> {
    return this.getDriver().disrupt(deployment, disruption, plan);
  }

  trafficAttribution(deployment: Deployment): TrafficAttribution | undefined {
    return this.driver?.trafficAttribution(deployment.runId);
  }

  /** The Service's ready endpoints over the run, from the watch. */
  readyEndpoints(deployment: Deployment): ReadyEndpointsSample[] | undefined {
    return this.driver?.readyEndpoints(deployment.runId);
  }

  /** evict/drain/rollout: the record so far (a run ended mid-drain reports it). */
  voluntaryRecord(deployment: Deployment): VoluntaryDisruptionRecord | undefined {
    return this.driver?.voluntaryRecord(deployment.runId);
  }

  /** Resolves once the Service is deleted and the namespace's deletion is under way (drain() waits for it). */
  async teardown(deployment: Deployment | undefined, runId: string): Promise<void> {
    // Nothing was deployed if prepare never got a kubeconfig.
    if (!this.kc || !this.published) return;
    await this.getDriver().teardown(deployment, runId);
  }

  /** Every namespace torn down so far gone (each wait bounded). */
  async drain(): Promise<void> {
    await this.driver?.drain();
  }

  /**
   * Ends the backend: waits for the namespaces still being deleted (not when the cluster itself goes),
   * stops watches and deletes the cluster if this run created it and keep was not asked. Call once,
   * after the last scenario.
   */
  async close(): Promise<TeardownResult> {
    if (!this.cluster.deletedAtTeardown) await this.drain();
    this.driver?.stopAll();
    return this.cluster.teardown();
  }
}
