// The kind backend: a real Kubernetes (kind) on this machine's Docker engine. Load reaches the pods
// the way Service traffic does: 127.0.0.1:30080 → Docker's port mapping → the control-plane node's
// NodePort → kube-proxy → a ready pod on any node (never port-forward, which bypasses the Service).
import type { KubeConfig } from "@kubernetes/client-node";
import { type CommandRunner, execaRunner } from "../../k8s/command.js";
import { KubernetesDriver, type Pid1Request, pid1ViaExec } from "../../k8s/driver.js";
import { DEFAULT_NODE_PORT } from "../../k8s/manifests.js";
import type { EventSink } from "../../observe/events.js";
import type { Disruption, Scenario } from "../../scenario/schema.js";
import type { Backend, Deployment, DisruptionOutcome, ResolvedImage } from "../backend.js";
import { KindCluster, type KindClusterOptions, type TeardownResult } from "./cluster.js";
import { loadImages } from "./images.js";

export interface KindBackendOptions extends KindClusterOptions {
  readyTimeoutMs?: number;
}

/** PID 1's argv as containerd started it (`crictl inspect` on the node): works for any image. */
export async function pid1ViaCrictl(run: CommandRunner, req: Pid1Request): Promise<string> {
  if (!req.nodeName || !req.containerID) throw new Error("pod has no node or container id yet");
  const id = req.containerID.replace(/^[a-z]+:\/\//, "");
  const { stdout } = await run("docker", ["exec", req.nodeName, "crictl", "inspect", "-o", "json", id]);
  const data = JSON.parse(stdout) as { info?: { runtimeSpec?: { process?: { args?: string[] } } } };
  const args = data.info?.runtimeSpec?.process?.args;
  if (!args || args.length === 0) throw new Error("crictl inspect gave no process args");
  return args.join(" ");
}

export class KindBackend implements Backend {
  readonly name = "kind" as const;
  readonly cluster: KindCluster;
  private readonly run: CommandRunner;
  private kc?: KubeConfig;
  private driver?: KubernetesDriver;

  constructor(private readonly o: KindBackendOptions = {}) {
    this.run = o.run ?? execaRunner;
    this.cluster = new KindCluster({ ...o, run: this.run });
  }

  preflight(): Promise<void> {
    return this.cluster.preflight();
  }

  async prepare(images: ResolvedImage[]): Promise<void> {
    await this.cluster.ensure();
    this.kc ??= await this.cluster.kubeconfig();
    const nodes = await this.cluster.nodes();
    await loadImages(
      this.run,
      this.cluster.name,
      nodes,
      images.map((i) => i.ref),
      this.o.log,
    );
  }

  private getDriver(): KubernetesDriver {
    if (!this.kc) throw new Error("kind backend: prepare() must run before deploy()");
    const kc = this.kc;
    const port = this.o.nodePort ?? DEFAULT_NODE_PORT;
    this.driver ??= new KubernetesDriver({
      backend: "kind",
      kc,
      target: { host: "127.0.0.1", port },
      trafficPath:
        `127.0.0.1:${port} → Docker port mapping → kind node ${this.cluster.name}-control-plane:${port} (NodePort) ` +
        "→ kube-proxy (externalTrafficPolicy Cluster) → a ready pod on any node",
      nodePort: port,
      readPid1: async (req) => {
        try {
          return await pid1ViaCrictl(this.run, req);
        } catch {
          return pid1ViaExec(kc, req);
        }
      },
      platform: { kindCluster: this.cluster.name, kindClusterCreatedByRun: String(this.cluster.created) },
      readyTimeoutMs: this.o.readyTimeoutMs,
      log: this.o.log,
    });
    return this.driver;
  }

  deploy(scenario: Scenario, image: ResolvedImage, sink: EventSink, runId: string): Promise<Deployment> {
    return this.getDriver().deploy(scenario, image, sink, runId);
  }

  disrupt(deployment: Deployment, disruption: Disruption): Promise<DisruptionOutcome> {
    return this.getDriver().disrupt(deployment, disruption);
  }

  async teardown(deployment: Deployment | undefined, runId: string): Promise<void> {
    // Nothing was deployed if prepare never got a kubeconfig.
    if (!this.kc) return;
    await this.getDriver().teardown(deployment, runId);
  }

  /**
   * Ends the backend: stops watches and deletes the cluster if this run created it and keep was not
   * asked. Call once, after the last scenario.
   */
  async close(): Promise<TeardownResult> {
    this.driver?.stopAll();
    return this.cluster.teardown();
  }
}
