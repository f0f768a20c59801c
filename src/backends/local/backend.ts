// The local runtime backend: real containers and real signals on plain Docker. The harness
// plays the parts Kubernetes would: a Service (ServiceProxy with kube-proxy's semantics) and
// the kubelet's termination sequence (terminatePod).
import net from "node:net";
import { getContainerRuntimeClient } from "testcontainers";
import type { ResolvedImage } from "../../model/backend.js";
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
  type Deployment,
  type DisruptionOutcome,
  type DisruptionPlan,
  imageOfSource,
  imagePod,
  RunStateBackend,
  type WorkloadSource,
} from "../backend.js";
import { assertDockerReachable } from "../docker-check.js";
import { localExitEvidence } from "./exit-record.js";
import { type ProcessEntry, Replica } from "./replica.js";
import { ServiceProxy } from "./service-proxy.js";
import { terminatePod } from "./termination.js";

interface RunState {
  scenario: Scenario;
  image: ResolvedImage;
  sink: EventSink;
  proxy: ServiceProxy;
  replicas: Map<string, Replica>;
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

  private async startReplica(runId: string, state: RunState): Promise<Replica> {
    const name = this.podName(runId, state.scenario.name, state.nextIndex++);
    const starting = Replica.start(
      {
        name,
        image: state.image.ref,
        port: state.scenario.port,
        env: state.scenario.env,
        runId,
        scenario: state.scenario.name,
      },
      state.sink,
    );
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
    await replica.waitForReady(this.options.readyTimeoutMs ?? 30_000, state.scenario.readinessPath);
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

  async deployRecord(scenario: Scenario, source: WorkloadSource, sink: EventSink, runId: string): Promise<Deployment> {
    const image = imageOfSource(source, this.name);
    configureTestcontainersOffline();
    const proxy = new ServiceProxy({ balancing: scenario.local.balancing });
    const state: RunState = {
      scenario,
      image,
      sink,
      proxy,
      replicas: new Map(),
      trees: new Map(),
      inspections: new Map(),
      starting: new Set(),
      replacements: new Set(),
      pendingEndpoints: new Set(),
      nextIndex: 0,
    };
    this.runs.set(runId, state);
    const target = await proxy.listen(this.options.servicePort ?? 0);
    await Promise.all(Array.from({ length: scenario.replicas }, () => this.startReplica(runId, state)));
    // As on Kubernetes (the kind driver's reachability check): deployed once every pod is ready and
    // the Service answers — which needs only the first endpoint in its rules, not all of them.
    await waitUntil(() => proxy.readyEndpoints().length > 0, this.addDelayMs(scenario) + 10_000);
    const client = await getContainerRuntimeClient();
    const engine = await client.container.dockerode.version().catch(() => undefined);
    const firstPort = [...state.replicas.values()][0]?.hostPort;
    return {
      scenario,
      runId,
      target,
      trafficPath:
        `client → harness Service proxy 127.0.0.1:${target.port} (kube-proxy semantics: ${scenario.local.balancing} ` +
        `balancing per new connection, a ready pod joins ${this.addDelayMs(scenario)} ms after ready, endpoint removed ` +
        `${this.propagationMs(scenario)} ms after the delete) → Docker port publish on 127.0.0.1 (e.g. :${firstPort}, ` +
        "docker-proxy accepts before the container does, so a refusal can reach the client as a reset) → container:" +
        `${scenario.port}`,
      pods: [...state.replicas.keys()],
      pod: imagePod(scenario, image.ref, "app"),
      platform: {
        backend: "local",
        runtime: `Docker ${engine?.Version ?? "?"} (${client.info.containerRuntime.operatingSystem})`,
        endpointPropagationMs: String(this.propagationMs(scenario)),
        endpointAddDelayMs: String(this.addDelayMs(scenario)),
        balancing: scenario.local.balancing,
        replacementPod: String(scenario.local.replacementPod),
      },
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
    const outcome = await terminatePod({
      pod: name,
      graceSeconds,
      preStop: state.scenario.preStop,
      stopSignal: state.scenario.stopSignal,
      endpointPropagationMs: this.propagationMs(state.scenario),
      runtime: replica.runtime(() => state.proxy.removeEndpoint(name)),
      sink: state.sink,
    });
    // Docker flushes the last log lines after the exit; read them before the container goes.
    const [inspected] = await Promise.all([replica.inspectState().catch(() => undefined), replica.logsClosed()]);
    await replica.remove();
    state.replicas.delete(name);
    const goneAt = Date.now();
    state.sink.record({ at: goneAt, kind: "pod-gone", source: "runtime", pod: name });
    const inspection = state.inspections.get(name);
    const { exitEvidence, notes } = localExitEvidence({
      pod: name,
      graceSeconds,
      termination: outcome,
      appEvents: replica.appEvents,
      ...(inspected ? { inspected } : {}),
    });
    return {
      pod: name,
      pid1Cmdline: replica.pid1Cmdline,
      deleteAt: outcome.deleteAt,
      exitedAt: outcome.exitedAt,
      goneAt,
      exitCode: outcome.exitCode,
      exitReason:
        outcome.sigkillAt !== undefined ? "Killed after grace period" : outcome.exitCode === 0 ? "Completed" : "Error",
      sigkilled: outcome.sigkillAt !== undefined,
      ...(exitEvidence ? { exitEvidence } : {}),
      processTree: state.trees.get(name),
      inspection,
      // The choice the termination made: the scenario's stopSignal, else the image's STOPSIGNAL, else SIGTERM.
      stopSignal: outcome.stopSignal,
      notes,
    };
  }

  async disrupt(deployment: Deployment, disruption: Disruption, plan?: DisruptionPlan): Promise<DisruptionOutcome> {
    const state = this.runs.get(deployment.runId);
    if (!state) throw new Error(`run ${deployment.runId} is not deployed`);
    const runId = deployment.runId;
    const grace = state.scenario.terminationGracePeriodSeconds;
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
      case "rollout": {
        // RollingUpdate with the defaults (maxSurge 25% → rounds up to 1, maxUnavailable 25% → 0 for
        // small replica counts): start one new pod, wait until it is ready, then delete one old pod.
        const terminations: Promise<ObservedPodOutcome>[] = [];
        for (const old of current) {
          await this.startReplica(runId, state);
          terminations.push(this.terminate(state, old, grace));
        }
        return { pods: await Promise.all(terminations) };
      }
      case "evict":
      case "drain":
        throw new UsageError(`the local backend does not ${disruption.action} yet (issue 15)`);
    }
  }

  async teardown(_deployment: Deployment | undefined, runId: string): Promise<void> {
    const state = this.runs.get(runId);
    this.runs.delete(runId);
    if (state) {
      // A Ctrl-C during deploy: let container creations land first, so the sweep below sees them.
      for (const timer of state.pendingEndpoints) clearTimeout(timer);
      // (A replacement still waiting for readiness is not waited for: remove() ends its wait.)
      await Promise.allSettled([...state.starting]);
      await state.proxy.close();
      await Promise.all([...state.replicas.values()].map((r) => r.remove()));
    }
    // Whatever else carries this run's label (a replica that failed half-way through starting).
    await removeLabelledContainers([`${LABEL_RUN}=${runId}`]);
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
