// One pod of a workload scenario on the local runtime, run as a kubelet would run its template: a holder
// container owning the network namespace (and publishing the pod's ports on 127.0.0.1), every container
// joined to it, started in the kubelet's order, each probed, each stopped by the one termination
// sequence (termination.ts), each with its own exit evidence.
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { getContainerRuntimeClient } from "testcontainers";
import type { EventSink, TimelineEvent } from "../../model/events.js";
import type { ContainerRole, ObservedPodOutcome } from "../../model/pod-outcome.js";
import type { ProcessTreeInspection } from "../../model/process-tree.js";
import { preStopWords } from "./observations.js";
import { observedTermination } from "./observed-termination.js";
import type { ContainerPlan, DockerCreate, PodPlan } from "./pod-template.js";
import { Prober, probeOnce } from "./probes.js";
import { followLog, type LogRecord, type ProcessEntry, processTreeOf, rootCommand, runPreStopHook } from "./replica.js";
import { type ContainerRuntime, type ContainerToStop, terminatePodContainers } from "./termination.js";

type Client = Awaited<ReturnType<typeof getContainerRuntimeClient>>;
type DockerContainer = ReturnType<Client["container"]["getById"]>;

/** One started container of the pod. */
class PodContainer implements LogRecord {
  readonly rawLogs: string[] = [];
  readonly appEvents: TimelineEvent[] = [];
  logsDone: Promise<void> = Promise.resolve();
  pid1Cmdline = "";
  imageStopSignal?: string;
  tree?: ProcessEntry[];
  prober?: Prober;
  private exit?: Promise<number>;

  constructor(
    readonly plan: ContainerPlan,
    readonly docker: DockerContainer,
  ) {}

  get running(): boolean {
    return this.plan.role !== "init";
  }

  waitForExit(): Promise<number> {
    this.exit ??= this.docker.wait().then((r: { StatusCode: number }) => r.StatusCode);
    return this.exit;
  }
}

export interface LocalPodSpec {
  name: string;
  plan: PodPlan;
  appContainer: string;
  appPort: number;
}

export class LocalPod {
  private readonly containers: PodContainer[] = [];
  private holder?: DockerContainer;
  private readonly hostPorts = new Map<number, number>();
  private removed = false;
  private podReady = false;
  /** The delete began: readiness no longer moves the endpoint (the termination removes it). */
  terminating = false;
  /** Hears every change of the pod's readiness once it was first ready (the Service's gating). */
  onReadinessChange?: (ready: boolean) => void;

  private constructor(
    readonly name: string,
    private readonly spec: LocalPodSpec,
    private readonly client: Client,
  ) {}

  /** Creates the pod's files and containers; removes what it made when a step fails. */
  static async start(spec: LocalPodSpec, sink: EventSink, startupTimeoutMs: number): Promise<LocalPod> {
    const pod = new LocalPod(spec.name, spec, await getContainerRuntimeClient());
    try {
      await pod.writeVolumes();
      await pod.startHolder();
      for (const plan of spec.plan.containers) await pod.startContainer(plan, sink, startupTimeoutMs);
      for (const c of pod.containers.filter((x) => x.running)) pod.startReadiness(c);
      return pod;
    } catch (err) {
      await pod.remove();
      throw err;
    }
  }

  private async writeVolumes(): Promise<void> {
    for (const dir of this.spec.plan.directories) await mkdir(dir, { recursive: true });
    for (const f of this.spec.plan.files) {
      await mkdir(dirname(f.path), { recursive: true });
      await writeFile(f.path, f.content, { mode: 0o644 });
    }
  }

  private async create(opts: DockerCreate): Promise<DockerContainer> {
    const container = await this.client.container.create(opts);
    await this.client.container.start(container);
    return container;
  }

  private async startHolder(): Promise<void> {
    this.holder = await this.create(this.spec.plan.holder);
    const info = await this.client.container.inspect(this.holder);
    for (const port of this.spec.plan.ports) {
      const binding = info.NetworkSettings.Ports[`${port}/tcp`]?.[0];
      if (!binding) throw new Error(`pod ${this.name}: port ${port} was not published`);
      if (binding.HostIp !== "127.0.0.1")
        throw new Error(`pod ${this.name}: port ${port} published on ${binding.HostIp}, not 127.0.0.1`);
      this.hostPorts.set(port, Number(binding.HostPort));
    }
  }

  /** Starts one container in the kubelet's order: an init container runs to completion, a native sidecar until started. */
  private async startContainer(plan: ContainerPlan, sink: EventSink, timeoutMs: number): Promise<void> {
    const c = new PodContainer(plan, await this.create(plan.create));
    this.containers.push(c);
    const logs = await this.client.container.logs(c.docker);
    // The app container's lines are the pod's app events (as for graceful-e2e's own pod); the others' stay its own.
    c.logsDone = followLog(logs, this.name, c, plan.name === this.spec.appContainer ? sink : undefined);
    const info = await this.client.container.inspect(c.docker);
    c.pid1Cmdline = [info.Path, ...info.Args].join(" ");
    c.imageStopSignal = (info.Config as { StopSignal?: string }).StopSignal || undefined;
    if (plan.role === "init") {
      const code = await Promise.race([c.waitForExit(), this.timeout(timeoutMs, `init container ${plan.name}`)]);
      if (code !== 0) throw new Error(`pod ${this.name}: init container ${plan.name} exited ${code}${tail(c)}`);
    } else if (plan.startup) {
      const startup = plan.startup;
      await this.waitFor(c, () => probeOnce(startup.action, this.probeTarget(c), startup.timeoutMs), timeoutMs);
    }
  }

  private timeout(ms: number, what: string): Promise<never> {
    return new Promise((_, reject) =>
      setTimeout(() => reject(new Error(`pod ${this.name}: ${what} did not finish within ${ms} ms`)), ms).unref(),
    );
  }

  private async waitFor(c: PodContainer, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (this.removed) throw new Error(`pod ${this.name} was removed before it started`);
      if (Date.now() > deadline)
        throw new Error(`pod ${this.name}: container ${c.plan.name} did not start within ${timeoutMs} ms${tail(c)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private probeTarget(c: PodContainer) {
    return {
      exec: (command: string[]) => this.client.container.exec(c.docker, command),
      hostPortFor: (port: number) => this.hostPorts.get(port) ?? 0,
    };
  }

  /** A container with a readiness probe is ready when it passes; one without, once it runs. */
  private startReadiness(c: PodContainer): void {
    const readiness = c.plan.readiness;
    if (!readiness) return;
    c.prober = new Prober(readiness, this.probeTarget(c), () => this.readinessChanged());
    c.prober.start();
  }

  private allReady(): boolean {
    return this.containers.every((c) => !c.running || c.prober === undefined || c.prober.ready);
  }

  private readinessChanged(): void {
    const ready = this.allReady();
    if (ready === this.podReady) return;
    this.podReady = ready;
    this.onReadinessChange?.(ready);
  }

  /** The Service's port on 127.0.0.1. */
  get hostPort(): number {
    return this.hostPorts.get(this.spec.appPort) ?? 0;
  }

  private get app(): PodContainer | undefined {
    return this.containers.find((c) => c.plan.name === this.spec.appContainer);
  }

  /** The app container's id (the process inspection reads its /proc). */
  get containerId(): string {
    return this.app?.docker.id ?? "";
  }

  async waitForReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.allReady()) {
      if (this.removed) throw new Error(`pod ${this.name} was removed before it became ready`);
      if (Date.now() > deadline) {
        const waiting = this.containers.filter((c) => c.running && c.prober && !c.prober.ready);
        const names = waiting.map((c) => c.plan.name).join(", ");
        throw new Error(
          `pod ${this.name} not ready after ${timeoutMs} ms (readiness failing: ${names})${tail(waiting[0])}`,
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    this.podReady = true;
  }

  /** Every running container's process tree, and PID 1 as it runs; returns the app container's tree. */
  async refreshPid1(): Promise<ProcessEntry[]> {
    await Promise.all(
      this.containers
        .filter((c) => c.running)
        .map(async (c) => {
          c.tree = await processTreeOf(c.docker).catch(() => []);
          c.pid1Cmdline = rootCommand(c.tree) ?? c.pid1Cmdline;
        }),
    );
    return this.app?.tree ?? [];
  }

  /** The pod's running containers in the kubelet's model (what DeployedPod lists). */
  runningContainers(): ContainerPlan[] {
    return this.containers.filter((c) => c.running).map((c) => c.plan);
  }

  private runtime(c: PodContainer): ContainerRuntime {
    return {
      runPreStop: (hook, signal) =>
        runPreStopHook(hook, signal, {
          exec: (command) => this.client.container.exec(c.docker, command),
          hostPortFor: async (port) => this.hostPorts.get(port ?? this.spec.appPort) ?? this.hostPort,
        }),
      sendSignal: async (signal) => {
        await c.docker.kill({ signal });
      },
      imageStopSignal: async () => c.imageStopSignal,
      waitForExit: () => c.waitForExit(),
    };
  }

  /**
   * The kubelet's termination of this pod, observed (observed-termination.ts), then its evidence from those
   * observations: the app container's outcome as the pod's, every other container's in `sidecars`. The
   * containers are removed once their last lines are read.
   */
  async terminate(opts: {
    graceSeconds: number;
    endpointPropagationMs: number;
    removeEndpoint(): void;
    sink: EventSink;
    node?: string;
    inspection?: ProcessTreeInspection;
  }): Promise<ObservedPodOutcome> {
    this.terminating = true;
    for (const c of this.containers) c.prober?.stop();
    const running = this.containers.filter((c) => c.running && c.plan.role !== "init");
    const toStop: ContainerToStop[] = running.map((c) => ({
      name: c.plan.name,
      preStop: c.plan.preStop,
      ...(c.plan.stopSignal !== undefined ? { stopSignal: c.plan.stopSignal } : {}),
      nativeSidecar: c.plan.role === "native-sidecar",
      runtime: this.runtime(c),
    }));
    return observedTermination({
      pod: this.name,
      ...(opts.node ? { node: opts.node } : {}),
      containers: running.map((c) => ({
        // The container the load reaches is the pod's "app" whatever it is to the kubelet (a native sidecar
        // serving the Service's port too): the evidence is judged against it. Its stop order stays its own.
        identity: {
          container: c.plan.name,
          role: c === this.app ? "app" : (c.plan.role as ContainerRole),
          preStop: preStopWords(c.plan.preStop),
        },
        pid1Cmdline: c.pid1Cmdline,
        ...(c.tree ? { processTree: c.tree } : {}),
        ...(c === this.app && opts.inspection ? { inspection: opts.inspection } : {}),
      })),
      sink: opts.sink,
      terminate: (sink) =>
        terminatePodContainers({
          pod: this.name,
          graceSeconds: opts.graceSeconds,
          endpointPropagationMs: opts.endpointPropagationMs,
          containers: toStop,
          removeEndpoint: opts.removeEndpoint,
          sink,
        }),
      // Docker flushes the last log lines after the exit; read them before the containers go.
      afterExit: () =>
        Promise.all(
          running.map(async (c) => {
            const [inspected] = await Promise.all([this.inspectState(c), Promise.race([c.logsDone, delay(3000)])]);
            return { ...(inspected ? { inspected } : {}), appEvents: c.appEvents };
          }),
        ),
      remove: () => this.remove(),
    });
  }

  private async inspectState(c: PodContainer) {
    const info = await this.client.container.inspect(c.docker).catch(() => undefined);
    return info && { oomKilled: info.State.OOMKilled, finishedAt: info.State.FinishedAt };
  }

  /** Removes every container of the pod (the holder last) whatever their state. Safe to call twice. */
  async remove(): Promise<void> {
    this.removed = true;
    for (const c of this.containers) c.prober?.stop();
    await Promise.all(this.containers.map((c) => c.docker.remove({ force: true, v: true }).catch(() => undefined)));
    await this.holder?.remove({ force: true, v: true }).catch(() => undefined);
  }
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

function tail(c: PodContainer | undefined): string {
  if (!c || c.rawLogs.length === 0) return "";
  return `; last log lines of ${c.plan.name}:\n${c.rawLogs.slice(-10).join("\n")}`;
}
