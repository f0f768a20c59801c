// The local runtime backend: real containers and real signals on plain Docker. The harness
// plays the parts Kubernetes would: a Service (ServiceProxy with kube-proxy's semantics) and
// the kubelet's termination sequence (terminatePod).
import net from "node:net";
import { getContainerRuntimeClient } from "testcontainers";
import type { ResolvedImage } from "../../model/backend.js";
import type { ReadyEndpointsSample, VoluntaryDisruptionRecord } from "../../model/disruption.js";
import type { EventSink } from "../../model/events.js";
import type { TrafficAttribution } from "../../model/exercise.js";
import type { ObservedPodOutcome } from "../../model/pod-outcome.js";
import type { ProcessTreeInspection } from "../../model/process-tree.js";
import { inspectProcessTree } from "../../observe/process-tree.js";
import type { Disruption, Scenario } from "../../scenario/schema.js";
import { PrerequisiteError, UsageError } from "../../util/errors.js";
import { LABEL_RUN } from "../../util/labels.js";
import { configureTestcontainersOffline } from "../../util/testcontainers-env.js";
import {
  type DeployedPod,
  type Deployment,
  type DisruptionOutcome,
  type DisruptionPlan,
  imageOfSource,
  imagePod,
  RunStateBackend,
  type WorkloadSource,
} from "../backend.js";
import { assertDockerReachable } from "../docker-check.js";
import { LocalCluster } from "./cluster.js";
import { localScenarioProblem } from "./nodes.js";
import { preStopWords } from "./observations.js";
import { observedTermination } from "./observed-termination.js";
import { LocalPod } from "./pod.js";
import { type ProcessEntry, Replica } from "./replica.js";
import { ServiceProxy } from "./service-proxy.js";
import { terminatePod } from "./termination.js";
import {
  deployedPod,
  type LocalWorkload,
  localPodPlan,
  prepareLocalWorkload,
  removeRunVolumes,
} from "./workload-run.js";

interface RunState {
  scenario: Scenario;
  /** What runs: graceful-e2e's own one-container pod of an image, or the user's pod template. */
  source: { kind: "image"; image: ResolvedImage } | { kind: "manifests"; workload: LocalWorkload };
  sink: EventSink;
  proxy: ServiceProxy;
  replicas: Map<string, Replica | LocalPod>;
  /** Process tree of each replica once it was ready, before any signal. */
  trees: Map<string, ProcessEntry[]>;
  inspections: Map<string, ProcessTreeInspection>;
  /** Container starts still in flight: teardown waits for them, or it could miss a container. */
  starting: Set<Promise<unknown>>;
  /** Replacement pods being started (a Deployment replaces a deleted pod at once). */
  replacements: Set<Promise<unknown>>;
  /** Endpoint additions waiting for the add delay (kube-proxy's lag for a newly ready pod). */
  pendingEndpoints: Set<NodeJS.Timeout>;
  nextIndex: number;
  /** Nodes, pods being deleted, ready endpoints, budget (cluster.ts). */
  cluster: LocalCluster;
}

export interface LocalBackendOptions {
  /** Fixed port for the Service proxy on 127.0.0.1 (default: any free port). */
  servicePort?: number;
  /** Overrides every scenario's local.endpointPropagationMs. */
  endpointPropagationMs?: number;
  /** Overrides every scenario's local.endpointAddDelayMs. */
  endpointAddDelayMs?: number;
  readyTimeoutMs?: number;
}

export class LocalBackend extends RunStateBackend {
  readonly name = "local" as const;
  private readonly runs = new Map<string, RunState>();
  private engine?: Promise<string | undefined>;

  constructor(private readonly options: LocalBackendOptions = {}) {
    super();
  }

  async preflight(): Promise<void> {
    await assertDockerReachable();
    if (this.options.servicePort !== undefined) await assertPortFree(this.options.servicePort);
  }

  async prepare(images: ResolvedImage[]): Promise<void> {
    configureTestcontainersOffline();
    const client = await getContainerRuntimeClient();
    for (const image of images) {
      const info = await client.container.dockerode
        .getImage(image.ref)
        .inspect()
        .catch(() => undefined);
      if (!info)
        throw new Error(`image ${image.ref} is not present in the local Docker engine (build it or docker pull it)`);
    }
  }

  private podName(runId: string, scenario: string, index: number): string {
    return `ge-${scenario}-${runId.slice(-6)}-${index}`;
  }

  private async startReplica(runId: string, state: RunState): Promise<Replica | LocalPod> {
    const name = this.podName(runId, state.scenario.name, state.nextIndex++);
    state.cluster.nodes.place(name);
    const starting = this.createPod(name, runId, state);
    // Teardown waits for this: the creation, and the removal when the run was torn down meanwhile (a
    // replacement, or Ctrl-C during deploy) — or the process could exit with the removal in flight.
    const created = starting.then(async (replica) => {
      state.replicas.set(name, replica);
      if (this.runs.get(runId) !== state) {
        await replica.remove();
        throw new Error(`run ${runId} was torn down while ${name} started`);
      }
      return replica;
    });
    state.starting.add(created);
    const replica = await created.finally(() => state.starting.delete(created));
    const readyTimeoutMs = this.options.readyTimeoutMs ?? 30_000;
    if (replica instanceof LocalPod) await replica.waitForReady(readyTimeoutMs);
    else await replica.waitForReady(readyTimeoutMs, state.scenario.readinessPath);
    state.cluster.markReady(name);
    state.sink.record({ at: Date.now(), kind: "endpoint-ready", source: "proxy", pod: name });
    // The EndpointSlice lists the pod now; kube-proxy's rules take it in only after the add delay.
    const addDelay = this.addDelayMs(state.scenario);
    const join = () => {
      if (!state.replicas.has(name)) return;
      state.proxy.addEndpoint(name, { host: "127.0.0.1", port: replica.hostPort });
      state.sink.record({
        at: Date.now(),
        kind: "k8s-event",
        source: "proxy",
        pod: name,
        detail: { reason: "EndpointInRules", message: `joined the Service's rules ${addDelay} ms after ready` },
      });
    };
    if (addDelay > 0) {
      const timer = setTimeout(() => {
        state.pendingEndpoints.delete(timer);
        join();
      }, addDelay);
      state.pendingEndpoints.add(timer);
    } else {
      join();
    }
    if (replica instanceof LocalPod) replica.onReadinessChange = (ready) => this.readinessChanged(state, name, ready);
    // Read while the add delay runs (the pod is ready; nothing signals it before this returns).
    const [tree, inspection] = await Promise.all([
      replica.refreshPid1(),
      // Before any signal: how each process would take SIGTERM (/proc signal masks).
      inspectProcessTree(replica.containerId),
    ]);
    state.trees.set(name, tree);
    state.inspections.set(name, inspection);
    return replica;
  }

  /** One pod of the run: a Replica of the image, or the pod template's containers. */
  private createPod(name: string, runId: string, state: RunState): Promise<Replica | LocalPod> {
    const { scenario, source } = state;
    if (source.kind === "manifests") {
      const w = source.workload;
      const plan = localPodPlan(w, name, runId, scenario.name);
      const spec = { name, plan, appContainer: w.appContainer, appPort: w.appPort };
      return LocalPod.start(spec, state.sink, this.options.readyTimeoutMs ?? 30_000);
    }
    const image = source.image.ref;
    const spec = { name, image, port: scenario.port, env: scenario.env, runId, scenario: scenario.name };
    return Replica.start(spec, state.sink);
  }

  /**
   * A pod's readiness probes flipped after it first joined: the endpoint leaves the Service (after the
   * propagation delay) or joins again (after the add delay), as the EndpointSlice and kube-proxy follow it.
   */
  private readinessChanged(state: RunState, name: string, ready: boolean): void {
    const delay = ready ? this.addDelayMs(state.scenario) : this.propagationMs(state.scenario);
    state.sink.record({
      at: Date.now(),
      kind: "k8s-event",
      source: "kubelet",
      pod: name,
      detail: { reason: ready ? "Ready" : "Unhealthy", message: `readiness ${ready ? "passes" : "fails"} again` },
    });
    const timer = setTimeout(() => {
      state.pendingEndpoints.delete(timer);
      const pod = state.replicas.get(name);
      if (!pod || (pod instanceof LocalPod && pod.terminating)) return;
      if (ready) state.proxy.addEndpoint(name, { host: "127.0.0.1", port: pod.hostPort });
      else state.proxy.removeEndpoint(name);
    }, delay);
    state.pendingEndpoints.add(timer);
  }

  trafficAttribution(deployment: Deployment): TrafficAttribution | undefined {
    const state = this.runs.get(deployment.runId);
    if (!state) return undefined;
    const { connections, dropped } = state.proxy.connections();
    return {
      source: "service-proxy",
      joinableByClientPort: true,
      connections,
      ...(dropped > 0 ? { notes: [`the ${dropped} oldest connection record(s) were dropped (bound)`] } : {}),
    };
  }

  /** A Deployment's ReplicaSet creates a replacement as soon as a pod is deleted. */
  private startReplacement(runId: string, state: RunState): void {
    const started = this.startReplica(runId, state).catch((err: unknown) => {
      state.sink.record({
        at: Date.now(),
        kind: "k8s-event",
        source: "harness",
        detail: { reason: "ReplacementFailed", message: err instanceof Error ? err.message : String(err) },
      });
    });
    state.replacements.add(started);
    void started.finally(() => state.replacements.delete(started));
  }

  /** The image, or the manifests with the scenario's overrides (the run's volume folder made). */
  private async runSource(scenario: Scenario, source: WorkloadSource, runId: string): Promise<RunState["source"]> {
    if (source.kind !== "manifests") return { kind: "image", image: imageOfSource(source, this.name) };
    return { kind: "manifests", workload: await prepareLocalWorkload(scenario, source.set, runId) };
  }

  async deployRecord(scenario: Scenario, source: WorkloadSource, sink: EventSink, runId: string): Promise<Deployment> {
    const problem = localScenarioProblem(scenario);
    if (problem) throw new UsageError(`${scenario.name}: ${problem}`);
    configureTestcontainersOffline();
    const proxy = new ServiceProxy({ balancing: scenario.local.balancing });
    const cluster = new LocalCluster(scenario);
    const state: RunState = {
      scenario,
      source: await this.runSource(scenario, source, runId),
      sink,
      proxy,
      replicas: new Map(),
      trees: new Map(),
      inspections: new Map(),
      starting: new Set(),
      replacements: new Set(),
      pendingEndpoints: new Set(),
      nextIndex: 0,
      cluster,
    };
    // The template's plan first: a manifest it cannot run (a missing ConfigMap, port...) fails before anything starts.
    const pod = this.deployedPod(state, runId);
    const manifestPdb = state.source.kind === "manifests" ? state.source.workload.applied.pdb : undefined;
    if (manifestPdb) cluster.useManifestPdb(manifestPdb);
    if (state.source.kind === "manifests") cluster.useManifestWorkload(state.source.workload.applied.workload);
    cluster.replicas = pod.replicas;
    this.runs.set(runId, state);
    const target = await proxy.listen(this.options.servicePort ?? 0);
    await Promise.all(Array.from({ length: pod.replicas }, () => this.startReplica(runId, state)));
    // As on Kubernetes (the kind driver's reachability check): deployed once every pod is ready and
    // the Service answers — which needs only the first endpoint in its rules, not all of them.
    await waitUntil(() => proxy.readyEndpoints().length > 0, this.addDelayMs(scenario) + 10_000);
    const client = await getContainerRuntimeClient();
    const engine = await this.engineVersion();
    const firstPort = [...state.replicas.values()][0]?.hostPort;
    return {
      scenario,
      runId,
      target,
      trafficPath:
        `client → harness Service proxy 127.0.0.1:${target.port} (kube-proxy semantics: ${scenario.local.balancing} ` +
        `balancing per new connection, a ready pod joins ${this.addDelayMs(scenario)} ms after ready, endpoint removed ` +
        `${this.propagationMs(scenario)} ms after the delete) → Docker port publish on 127.0.0.1 (e.g. :${firstPort}, ` +
        "docker-proxy accepts before the container does, so a refusal can reach the client as a reset) → " +
        (state.source.kind === "manifests"
          ? `the pod's network namespace (held by a holder container, every container joined) → container ` +
            `${pod.appContainer}:${state.source.workload.appPort}`
          : `container:${scenario.port}`),
      pods: [...state.replicas.keys()],
      pod,
      platform: {
        backend: "local",
        runtime: `Docker ${engine ?? "?"} (${client.info.containerRuntime.operatingSystem})`,
        endpointPropagationMs: String(this.propagationMs(scenario)),
        endpointAddDelayMs: String(this.addDelayMs(scenario)),
        balancing: scenario.local.balancing,
        replacementPod: String(scenario.local.replacementPod),
        ...this.workloadPlatform(state),
        nodes: cluster.nodes.names.join(", "),
        podNodes: [...state.replicas.keys()].map((p) => `${p}@${cluster.nodes.nodeOf(p)}`).join(", "),
      },
    };
  }

  /** The engine's version, asked once per backend (every deploy names it in the platform). */
  private engineVersion(): Promise<string | undefined> {
    this.engine ??= getContainerRuntimeClient()
      .then((c) => c.container.dockerode.version())
      .then((v) => v.Version)
      .catch(() => {
        this.engine = undefined;
        return undefined;
      });
    return this.engine;
  }

  /** The pod the run deploys: graceful-e2e's own, or the template's (its containers in start order). */
  private deployedPod(state: RunState, runId: string): DeployedPod {
    const { scenario, source } = state;
    if (source.kind === "image") return imagePod(scenario, source.image.ref, "app");
    // The template's plan for a name no pod takes: the containers and roles every pod will have.
    return deployedPod(source.workload, localPodPlan(source.workload, "ge-plan", runId, scenario.name));
  }

  /** A workload scenario's platform facts: the kubelet version played, what is not honoured locally. */
  private workloadPlatform(state: RunState): Record<string, string> {
    if (state.source.kind !== "manifests") return {};
    const w = state.source.workload;
    return {
      kubernetesVersion: `${w.version.major}.${w.version.minor} (local.kubernetesVersion; the kubelet behaviour played)`,
      nativeSidecars: w.nativeSidecars
        ? "yes (1.29+)"
        : "no (before 1.29: restartPolicy Always init containers run to completion)",
      ...(w.notes.length > 0 ? { workloadNotes: w.notes.join("; ") } : {}),
    };
  }

  private addDelayMs(scenario: Scenario): number {
    return this.options.endpointAddDelayMs ?? scenario.local.endpointAddDelayMs;
  }

  private propagationMs(scenario: Scenario): number {
    return this.options.endpointPropagationMs ?? scenario.local.endpointPropagationMs;
  }

  private async terminate(state: RunState, name: string, graceSeconds: number): Promise<ObservedPodOutcome> {
    const replica = state.replicas.get(name);
    if (!replica) throw new Error(`no replica ${name}`);
    const node = state.cluster.nodes.nodeOf(name);
    state.cluster.markDeleting(name);
    if (replica instanceof LocalPod) {
      const inspection = state.inspections.get(name);
      const outcome = await replica.terminate({
        graceSeconds,
        endpointPropagationMs: this.propagationMs(state.scenario),
        removeEndpoint: () => state.proxy.removeEndpoint(name),
        sink: state.sink,
        ...(node ? { node } : {}),
        ...(inspection ? { inspection } : {}),
      });
      state.replicas.delete(name);
      return outcome;
    }
    return this.terminateReplica(state, replica, graceSeconds, node);
  }

  /** graceful-e2e's own one-container pod: the kubelet's termination, observed (observed-termination.ts). */
  private terminateReplica(
    state: RunState,
    replica: Replica,
    graceSeconds: number,
    node: string | undefined,
  ): Promise<ObservedPodOutcome> {
    const pod = replica.name;
    const inspection = state.inspections.get(pod);
    const tree = state.trees.get(pod);
    return observedTermination({
      pod,
      ...(node ? { node } : {}),
      containers: [
        {
          identity: { role: "app", preStop: preStopWords(state.scenario.preStop) },
          pid1Cmdline: replica.pid1Cmdline,
          ...(tree ? { processTree: tree } : {}),
          ...(inspection ? { inspection } : {}),
        },
      ],
      sink: state.sink,
      terminate: (sink) =>
        terminatePod({
          pod,
          graceSeconds,
          preStop: state.scenario.preStop,
          stopSignal: state.scenario.stopSignal,
          endpointPropagationMs: this.propagationMs(state.scenario),
          runtime: replica.runtime(() => state.proxy.removeEndpoint(pod)),
          sink,
        }),
      // Docker flushes the last log lines after the exit; read them before the container goes.
      afterExit: async () => {
        const [docker] = await Promise.all([replica.inspectState().catch(() => undefined), replica.logsClosed()]);
        const inspected = docker && { oomKilled: docker.oomKilled, finishedAt: docker.finishedAt };
        return [{ ...(inspected ? { inspected } : {}), appEvents: replica.appEvents }];
      },
      remove: async () => {
        await replica.remove();
        state.replicas.delete(pod);
        state.cluster.gone(pod);
      },
    });
  }

  async disrupt(deployment: Deployment, disruption: Disruption, plan?: DisruptionPlan): Promise<DisruptionOutcome> {
    const state = this.runs.get(deployment.runId);
    if (!state) throw new Error(`run ${deployment.runId} is not deployed`);
    const runId = deployment.runId;
    const grace = deployment.pod.terminationGracePeriodSeconds;
    const current = [...state.replicas.keys()];
    switch (disruption.action) {
      case "delete": {
        // The runner's choice (the busiest pods) when it made one; else the first by name.
        const planned = (plan?.victims ?? []).filter((v) => current.includes(v));
        const victims = [...planned, ...current.filter((p) => !planned.includes(p))].slice(0, disruption.count);
        const g = disruption.gracePeriodSeconds ?? grace;
        const terminations = victims.map((v) => this.terminate(state, v, g));
        if (state.scenario.local.replacementPod) for (const _ of victims) this.startReplacement(runId, state);
        return { pods: await Promise.all(terminations) };
      }
      case "scaleDown": {
        // A ReplicaSet scales down the newest pods first when all else is equal.
        const victims = current.slice(disruption.to).reverse();
        return { pods: await Promise.all(victims.map((v) => this.terminate(state, v, grace))) };
      }
      case "rollout":
      case "evict":
      case "drain":
        return this.voluntary(runId, state, disruption, plan);
    }
  }

  /** evict, drain and rollout (cluster.ts): evictions replace the pod as a ReplicaSet does. */
  private voluntary(
    runId: string,
    state: RunState,
    disruption: Extract<Disruption, { action: "evict" | "drain" | "rollout" }>,
    plan?: DisruptionPlan,
  ): Promise<DisruptionOutcome> {
    const grace = state.scenario.terminationGracePeriodSeconds;
    const target = {
      pods: () => state.cluster.pods([...state.replicas.keys()]),
      evict: (pod: string) => {
        const ended = this.terminate(state, pod, grace);
        if (state.scenario.local.replacementPod) this.startReplacement(runId, state);
        return ended;
      },
    };
    const rollout = {
      start: async () => {
        const replica = await this.startReplica(runId, state);
        return { name: replica.name, readyAt: state.cluster.readyAt(replica.name) ?? Date.now() };
      },
      terminate: (pod: string) => this.terminate(state, pod, grace),
    };
    return state.cluster.disrupt(disruption, target, rollout, plan);
  }

  readyEndpoints(deployment: Deployment): ReadyEndpointsSample[] | undefined {
    return this.runs.get(deployment.runId)?.cluster.readyEndpoints();
  }

  /** evict/drain/rollout: the record so far (a run ended mid-drain reports it). */
  voluntaryRecord(deployment: Deployment): VoluntaryDisruptionRecord | undefined {
    return this.runs.get(deployment.runId)?.cluster.voluntaryRecord();
  }

  async teardown(_deployment: Deployment | undefined, runId: string): Promise<void> {
    const state = this.runs.get(runId);
    this.runs.delete(runId);
    if (state) {
      state.cluster.teardown(state.sink);
      // A Ctrl-C during deploy: let container creations land first, so the sweep below sees them.
      for (const timer of state.pendingEndpoints) clearTimeout(timer);
      // (A replacement still waiting for readiness is not waited for: remove() ends its wait.)
      await Promise.allSettled([...state.starting]);
      await state.proxy.close();
      await Promise.all([...state.replicas.values()].map((r) => r.remove()));
    }
    // Whatever else carries this run's label (a replica that failed half-way through starting).
    await removeLabelledContainers([`${LABEL_RUN}=${runId}`]);
    // A workload scenario's volume files (the folder's name carries the run id).
    await removeRunVolumes(runId);
  }
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`no endpoint joined the Service within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The Service proxy's fixed port must be free on 127.0.0.1 before anything starts. */
export async function assertPortFree(port: number): Promise<void> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        err.code === "EADDRINUSE"
          ? new PrerequisiteError(
              `--service-port: 127.0.0.1:${port} is in use: choose another port or stop what listens there`,
            )
          : err,
      ),
    );
    server.listen(port, "127.0.0.1", () => server.close(() => resolve()));
  });
}

/**
 * Removes every container carrying all the given labels ("key=value", or "key" for any value);
 * returns their names. Images carry graceful-e2e=true too and containers inherit image labels,
 * so cleanup keys on the run label, which only the harness sets.
 */
export async function removeLabelledContainers(labels: string[]): Promise<string[]> {
  configureTestcontainersOffline();
  const client = await getContainerRuntimeClient();
  const filters = { label: labels };
  const list = await client.container.dockerode.listContainers({ all: true, filters });
  await Promise.all(
    list.map((c) =>
      client.container.dockerode
        .getContainer(c.Id)
        .remove({ force: true, v: true })
        .catch(() => undefined),
    ),
  );
  return list.map((c) => c.Names[0]?.replace(/^\//, "") ?? c.Id);
}
