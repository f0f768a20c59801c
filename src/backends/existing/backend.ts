// The existing-cluster backend: any Kubernetes the user points at with an explicit kubeconfig context,
// images pushed to a registry the user names, the same manifests as kind. It creates and deletes pods,
// so it refuses to run without an explicit allowMutations: true.
// Load runs on this machine, so the Service must be reachable here: the user gives that address
// (a NodePort or LoadBalancer published on 127.0.0.1 / localhost, e.g. Docker Desktop's Kubernetes,
// k3d/minikube with a port mapping or tunnel). Load from inside the cluster (a Job) is not implemented.
import { KubeConfig } from "@kubernetes/client-node";
import { type CommandRunner, execaRunner } from "../../k8s/command.js";
import { KubernetesDriver } from "../../k8s/driver.js";
import { DEFAULT_NODE_PORT } from "../../k8s/manifests.js";
import type { EventSink } from "../../observe/events.js";
import type { Disruption, Scenario } from "../../scenario/schema.js";
import { UsageError } from "../../util/errors.js";
import type { Backend, Deployment, DisruptionOutcome, ResolvedImage } from "../backend.js";
import { pushImages } from "./images.js";

export interface ExistingClusterOptions {
  /** kubeconfig context to use (required: never the current context by accident). */
  context: string;
  /** kubeconfig file; default: $KUBECONFIG or ~/.kube/config. */
  kubeconfigPath?: string;
  /** Registry (host[:port][/path]) the cluster's nodes can pull from and this machine can push to. */
  registry: string;
  /** Where the Service answers on this machine: must be 127.0.0.1, localhost or ::1. */
  target: { host: string; port: number };
  /** NodePort given to the Service (default 30080). */
  nodePort?: number;
  serviceType?: "NodePort" | "LoadBalancer";
  /** Must be true: this backend creates a namespace, deletes pods and the namespace. */
  allowMutations: boolean;
  readyTimeoutMs?: number;
  run?: CommandRunner;
  log?: (line: string) => void;
}

const LOCAL_HOSTS = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

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
  if (!LOCAL_HOSTS.has(o.target.host)) {
    throw new UsageError(
      `the Service address ${o.target.host}:${o.target.port} is not on this machine. Load is generated here and must ` +
        "reach the Service through an address on 127.0.0.1/localhost (a NodePort or LoadBalancer published locally, " +
        "or your own port mapping to a node). Generating load from inside the cluster (a Job) is not implemented yet.",
    );
  }
  if (!Number.isInteger(o.target.port) || o.target.port < 1 || o.target.port > 65535) {
    throw new UsageError(`invalid Service port ${o.target.port}`);
  }
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

export class ExistingClusterBackend implements Backend {
  readonly name = "existing" as const;
  private readonly run: CommandRunner;
  private readonly pushed = new Map<string, string>();
  private kc?: KubeConfig;
  private driver?: KubernetesDriver;

  constructor(private readonly o: ExistingClusterOptions) {
    validateExistingOptions(o);
    this.run = o.run ?? execaRunner;
  }

  async prepare(images: ResolvedImage[]): Promise<void> {
    this.kc ??= kubeConfigFor(this.o.context, this.o.kubeconfigPath);
    const todo = images.map((i) => i.ref).filter((r) => !this.pushed.has(r));
    for (const [local, remote] of await pushImages(this.run, this.o.registry, todo, this.o.log)) {
      this.pushed.set(local, remote);
    }
  }

  private getDriver(): KubernetesDriver {
    if (!this.kc) throw new Error("existing backend: prepare() must run before deploy()");
    const nodePort = this.o.nodePort ?? DEFAULT_NODE_PORT;
    const { host, port } = this.o.target;
    this.driver ??= new KubernetesDriver({
      backend: "existing",
      kc: this.kc,
      target: { host, port },
      trafficPath: `${host}:${port} → (user-provided route) → Service ${this.o.serviceType ?? "NodePort"} ${nodePort} → kube-proxy → a ready pod`,
      nodePort,
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

  deploy(scenario: Scenario, image: ResolvedImage, sink: EventSink, runId: string): Promise<Deployment> {
    return this.getDriver().deploy(scenario, image, sink, runId);
  }

  disrupt(deployment: Deployment, disruption: Disruption): Promise<DisruptionOutcome> {
    return this.getDriver().disrupt(deployment, disruption);
  }

  async teardown(deployment: Deployment | undefined, runId: string): Promise<void> {
    if (!this.kc) return;
    await this.getDriver().teardown(deployment, runId);
  }

  /** Stops watches. The cluster itself is never touched beyond the run's namespaces. */
  async close(): Promise<void> {
    this.driver?.stopAll();
  }
}
