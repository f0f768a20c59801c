// The kind cluster's lifecycle through the `kind` CLI (argument arrays, injectable runner):
// - reuse a cluster of the configured name when one exists (fast path), after checking its nodes run
//   and that it maps NodePorts to 127.0.0.1 like kind-config.yaml does (30080-30087, one per scenario
//   running at once; a cluster made from an older kind-config.yaml maps 30080 only: one at a time);
// - else create it from kind-config.yaml and remember that THIS run created it;
// - at teardown delete it only if this run created it and keep was not asked for. A cluster this run
//   did not create is never deleted.
// The kubeconfig comes from `kind get kubeconfig --name N`: never the user's current context.
import { fileURLToPath } from "node:url";
import { KubeConfig } from "@kubernetes/client-node";
import { CommandError, type CommandRunner, execaRunner, isMissingBinary } from "../../k8s/command.js";
import { formatPorts, KIND_NODE_PORTS } from "../../k8s/node-ports.js";
import { PrerequisiteError } from "../../util/errors.js";

export const DEFAULT_CLUSTER_NAME = "graceful-e2e";
/** The repository's kind-config.yaml (same relative place from src/ and from dist/). */
export const DEFAULT_KIND_CONFIG = fileURLToPath(new URL("../../../kind-config.yaml", import.meta.url));

export const INSTALL_KIND =
  "install kind (v0.29.0 or newer): https://kind.sigs.k8s.io/docs/user/quick-start/#installation " +
  "— e.g. `go install sigs.k8s.io/kind@v0.29.0`, or the release binary for your platform";
export const INSTALL_DOCKER =
  "install Docker Engine (https://docs.docker.com/engine/install/): kind runs each node as a Docker container";

export interface KindClusterOptions {
  name?: string;
  configPath?: string;
  /** Keep a cluster this run created (for a faster next run). */
  keep?: boolean;
  /** kindest/node image to create the cluster with (chooses the Kubernetes version). */
  nodeImage?: string;
  /** `kind create cluster --wait` */
  waitSeconds?: number;
  /** The NodePorts to use, one per scenario at once (default KIND_NODE_PORTS, as kind-config.yaml maps them). */
  nodePorts?: readonly number[];
  run?: CommandRunner;
  log?: (line: string) => void;
}

export interface TeardownResult {
  deleted: boolean;
  reason: string;
}

/**
 * `docker port <node>` output → NodePort → port on this machine, for the NodePorts published on the
 * loopback address (127.0.0.1, localhost, ::1). Lines look like "30080/tcp -> 127.0.0.1:30080".
 */
export function parsePublishedPorts(text: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of text.split("\n")) {
    const m = /^\s*(\d+)\/tcp\s*->\s*(127\.0\.0\.1|localhost|\[::1\]|::1):(\d+)\s*$/.exec(line);
    if (m?.[1] && m[3] && !out.has(Number(m[1]))) out.set(Number(m[1]), Number(m[3]));
  }
  return out;
}

export class KindCluster {
  readonly name: string;
  private readonly run: CommandRunner;
  private ensured?: Promise<{ created: boolean }>;
  private published?: Map<number, number>;
  /** How long `kind create cluster` took, when this process created it (seconds). */
  createSeconds?: number;
  /** True only when this process ran `kind create cluster` successfully. */
  private createdByUs = false;

  constructor(private readonly o: KindClusterOptions = {}) {
    this.name = o.name ?? DEFAULT_CLUSTER_NAME;
    this.run = o.run ?? execaRunner;
  }

  get created(): boolean {
    return this.createdByUs;
  }

  /** teardown() will delete the cluster (this run created it and keep was not asked). */
  get deletedAtTeardown(): boolean {
    return this.createdByUs && !this.o.keep;
  }

  /** The NodePorts this harness uses on a cluster (kind-config.yaml's range). */
  get wantedPorts(): readonly number[] {
    return this.o.nodePorts ?? KIND_NODE_PORTS;
  }

  /**
   * The wanted NodePorts the control-plane node publishes on 127.0.0.1 → their port on this machine
   * (after ensure()). Read once per process.
   */
  async publishedPorts(knownNodes?: string[]): Promise<Map<number, number>> {
    if (this.published) return this.published;
    const nodes = knownNodes ?? (await this.nodes());
    const controlPlane = nodes.find((n) => n.endsWith("-control-plane")) ?? nodes[0] ?? "";
    let text = "";
    try {
      text = (await this.run("docker", ["port", controlPlane])).stdout;
    } catch {
      text = "";
    }
    const all = parsePublishedPorts(text);
    const wanted = new Map([...all].filter(([port]) => this.wantedPorts.includes(port)).sort(([a], [b]) => a - b));
    if (wanted.size > 0) this.published = wanted;
    return wanted;
  }

  /** Checks Docker and kind, then reuses or creates the cluster. Memoized: once per process. */
  ensure(): Promise<{ created: boolean }> {
    this.ensured ??= this.doEnsure().catch((err: unknown) => {
      this.ensured = undefined;
      throw err;
    });
    return this.ensured;
  }

  private async doEnsure(): Promise<{ created: boolean }> {
    await this.preflight();
    const existing = await this.clusters();
    if (existing.includes(this.name)) {
      await this.checkReusable();
      this.o.log?.(`kind: reusing the running cluster "${this.name}"`);
      return { created: false };
    }
    const args = ["create", "cluster", "--name", this.name, "--config", this.o.configPath ?? DEFAULT_KIND_CONFIG];
    if (this.o.nodeImage) args.push("--image", this.o.nodeImage);
    args.push("--wait", `${this.o.waitSeconds ?? 120}s`);
    this.o.log?.(`kind: creating cluster "${this.name}" (a minute or two)`);
    const started = Date.now();
    try {
      await this.run("kind", args);
    } catch (err) {
      throw new Error(`could not create the kind cluster "${this.name}": ${(err as Error).message}`);
    }
    this.createSeconds = Math.round((Date.now() - started) / 100) / 10;
    this.o.log?.(`kind: cluster "${this.name}" created in ${this.createSeconds} s`);
    this.createdByUs = true;
    return { created: true };
  }

  /** kind and a reachable Docker engine; throws a PrerequisiteError naming what to install. */
  async preflight(): Promise<void> {
    try {
      await this.run("docker", ["version", "--format", "{{.Server.Version}}"]);
    } catch (err) {
      if (isMissingBinary(err))
        throw new PrerequisiteError(`the kind backend needs Docker, and \`docker\` is not on PATH: ${INSTALL_DOCKER}`);
      const stderr = err instanceof CommandError ? err.stderr.trim() : String(err);
      throw new PrerequisiteError(`the Docker engine is not reachable (${stderr}): start Docker and try again`);
    }
    try {
      await this.run("kind", ["version"]);
    } catch (err) {
      if (isMissingBinary(err)) throw new PrerequisiteError(`\`kind\` not found on PATH: ${INSTALL_KIND}`);
      throw err;
    }
  }

  async clusters(): Promise<string[]> {
    const { stdout } = await this.run("kind", ["get", "clusters"]);
    // "No kind clusters found." goes to stderr; stdout then is empty.
    return stdout
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean);
  }

  async nodes(): Promise<string[]> {
    const { stdout } = await this.run("kind", ["get", "nodes", "--name", this.name]);
    return stdout
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean);
  }

  /** A reused cluster must run and publish the NodePort on 127.0.0.1, as kind-config.yaml does. */
  private async checkReusable(): Promise<void> {
    const nodes = await this.nodes();
    if (nodes.length === 0) throw new Error(`kind cluster "${this.name}" is listed but has no nodes`);
    const { stdout } = await this.run("docker", ["inspect", "--format", "{{.Name}} {{.State.Running}}", ...nodes]);
    const stopped = stdout
      .split("\n")
      .map((l) => l.trim().split(" "))
      .filter(([, running]) => running === "false")
      .map(([n]) => (n ?? "").replace(/^\//, ""));
    if (stopped.length > 0) {
      throw new Error(
        `kind cluster "${this.name}" exists but its node(s) ${stopped.join(", ")} are stopped: ` +
          `start them (docker start ${stopped.join(" ")}) or delete the cluster yourself ` +
          `(kind delete cluster --name ${this.name}); graceful-e2e never deletes a cluster it did not create`,
      );
    }
    const published = await this.publishedPorts(nodes);
    if (published.size === 0) {
      const wanted = this.wantedPorts;
      throw new Error(
        `kind cluster "${this.name}" exists but does not publish NodePort ${wanted[0]} on 127.0.0.1 ` +
          `(nor any other of ${formatPorts(wanted)}: it was not created from kind-config.yaml). Use another ` +
          "cluster name, or delete that cluster yourself.",
      );
    }
  }

  async kubeconfig(): Promise<KubeConfig> {
    const { stdout } = await this.run("kind", ["get", "kubeconfig", "--name", this.name]);
    const kc = new KubeConfig();
    kc.loadFromString(stdout);
    return kc;
  }

  /** Deletes the cluster only if this run created it and keep was not requested. */
  async teardown(): Promise<TeardownResult> {
    if (!this.createdByUs) return { deleted: false, reason: `cluster "${this.name}" was not created by this run` };
    if (this.o.keep) return { deleted: false, reason: `keeping cluster "${this.name}" as asked` };
    await this.run("kind", ["delete", "cluster", "--name", this.name]);
    this.createdByUs = false;
    this.ensured = undefined;
    return { deleted: true, reason: `deleted cluster "${this.name}" (created by this run)` };
  }
}
