// One replica ("pod") of the local runtime: a container started with testcontainers, its
// port published on 127.0.0.1 only, its logs followed from the start, and the container
// operations the termination sequence needs (exec preStop, signals, exit).
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import {
  GenericContainer,
  getContainerRuntimeClient,
  type StartedTestContainer,
  type WaitStrategy,
} from "testcontainers";
import type { EventSink, TimelineEvent } from "../../model/events.js";
import { appEventsFromLine } from "../../observe/app-log.js";
import type { PreStop } from "../../scenario/schema.js";
import { LABEL_ROOT, runLabels } from "../../util/labels.js";
import { sleepUnlessAborted } from "../../util/sleep.js";
import type { PodRuntime } from "./termination.js";

/** testcontainers publishes on 0.0.0.0; the Docker API it wraps can bind 127.0.0.1. */
class LoopbackContainer extends GenericContainer {
  withLoopbackPort(port: number): this {
    this.createOpts.ExposedPorts = { ...this.createOpts.ExposedPorts, [`${port}/tcp`]: {} };
    this.hostConfig.PortBindings = {
      ...this.hostConfig.PortBindings,
      [`${port}/tcp`]: [{ HostIp: "127.0.0.1", HostPort: "" }],
    };
    return this;
  }
}

/**
 * Started is enough for testcontainers: readiness is the harness's own probe (waitForReady, the
 * scenario's path over HTTP). Its default (listening ports) polls inside the container with
 * `docker exec` every 100 ms — seconds of a busy machine per pod, for a check the probe subsumes.
 */
class StartedOnly implements WaitStrategy {
  private timeoutMs = 60_000;
  private timeoutSet = false;
  async waitUntilReady(): Promise<void> {}
  withStartupTimeout(ms: number): this {
    this.timeoutMs = ms;
    this.timeoutSet = true;
    return this;
  }
  isStartupTimeoutSet(): boolean {
    return this.timeoutSet;
  }
  getStartupTimeout(): number {
    return this.timeoutMs;
  }
}

export interface ReplicaSpec {
  name: string;
  image: string;
  port: number;
  env: Record<string, string>;
  runId: string;
  scenario: string;
}

export interface ProcessEntry {
  pid: number;
  ppid: number;
  command: string;
}

/**
 * One line of a container's log stream → the app events it states, into the sink: the same reading
 * of the app's lines as on every backend (observe/app-log.ts). Docker's stream has no timestamp prefix;
 * a line that carries no time of its own is placed at its arrival.
 */
export function recordLogLine(sink: EventSink, pod: string, line: string, now = Date.now()): TimelineEvent[] {
  const events = appEventsFromLine(line, pod, now);
  for (const event of events) sink.record(event);
  return events;
}

/** Where a container's log lines go: every raw line, and the app events they state. */
export interface LogRecord {
  rawLogs: string[];
  appEvents: TimelineEvent[];
}

/**
 * Follows a container's (demultiplexed) log stream until it ends: every line kept, the app events it
 * states kept (bounded) and, when a sink is given, recorded for the pod. Resolves at the stream's end.
 */
export function followLog(stream: Readable, pod: string, into: LogRecord, sink?: EventSink): Promise<void> {
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  return (async () => {
    for await (const line of lines) {
      into.rawLogs.push(line);
      into.appEvents.push(...(sink ? recordLogLine(sink, pod, line) : appEventsFromLine(line, pod, Date.now())));
      if (into.appEvents.length > MAX_APP_EVENTS) into.appEvents.splice(0, into.appEvents.length - MAX_APP_EVENTS);
    }
  })().catch(() => undefined);
}

/** A container's process tree as the host sees it (docker top): PID, parent and command line. */
export async function processTreeOf(container: {
  top(opts: { ps_args: string }): Promise<unknown>;
}): Promise<ProcessEntry[]> {
  const top = (await container.top({ ps_args: "-o pid,ppid,args" })) as { Titles: string[]; Processes: string[][] };
  const col = (t: string) => top.Titles.findIndex((x) => x.trim().toUpperCase() === t);
  const [pid, ppid, args] = [col("PID"), col("PPID"), col("COMMAND")];
  return top.Processes.map((p) => ({
    pid: Number(p[pid]),
    ppid: Number(p[ppid]),
    command: p[args === -1 ? p.length - 1 : args] ?? "",
  }));
}

/** PID 1 as it runs: the root of the tree (a script that `exec`s has replaced itself). */
export function rootCommand(tree: ProcessEntry[]): string | undefined {
  const pids = new Set(tree.map((p) => p.pid));
  return tree.find((p) => !pids.has(p.ppid))?.command;
}

/** How a preStop hook reaches its container: exec inside it, and the host port of a container port. */
export interface HookTarget {
  exec(command: string[]): Promise<{ exitCode: number; output: string }>;
  /** undefined: the pod's Service port. */
  hostPortFor(containerPort: number | undefined): Promise<number>;
}

/** Runs one preStop hook as the kubelet does; rejects with the reason when it fails. */
export async function runPreStopHook(
  hook: Exclude<PreStop, { type: "none" }>,
  signal: AbortSignal,
  target: HookTarget,
): Promise<void> {
  switch (hook.type) {
    case "sleep":
      // The kubelet's built-in sleep action: a wait in the kubelet, nothing runs in the container.
      await sleepUnlessAborted(hook.seconds * 1000, signal);
      return;
    case "exec": {
      const result = await target.exec(hook.command);
      if (result.exitCode !== 0) {
        throw new Error(
          `preStop exec ${JSON.stringify(hook.command)} exited ${result.exitCode}: ${result.output.trim().slice(0, 200)}`,
        );
      }
      return;
    }
    case "httpGet": {
      // The kubelet calls the pod IP; here that is the port published on 127.0.0.1.
      const port = await target.hostPortFor(hook.port);
      const res = await fetch(`http://127.0.0.1:${port}${hook.path}`, { signal });
      await res.arrayBuffer();
      if (res.status < 200 || res.status >= 400)
        throw new Error(`preStop httpGet ${hook.path} answered HTTP ${res.status}`);
      return;
    }
  }
}

/** The app events a replica keeps for its own exit evidence (start, signal, drain, exit lines: few per process). */
const MAX_APP_EVENTS = 2000;

export class Replica {
  private exitCode?: Promise<number>;
  /** remove() was called: stop waiting for readiness. */
  private removed = false;
  private logsDone?: Promise<void>;
  /** Ends waitForReady()'s pause between probes early: the container wrote something (e.g. "listening"). */
  private wakeReadiness?: () => void;
  /** Every raw line the container wrote, for the report. */
  readonly rawLogs: string[] = [];
  /** The app's own events from its log lines (PID 1's exit line is a source of the exit evidence). */
  readonly appEvents: TimelineEvent[] = [];

  private constructor(
    readonly name: string,
    private readonly started: StartedTestContainer,
    readonly hostPort: number,
    /** What the runtime started; replaced by the live PID 1 once refreshPid1() ran. */
    public pid1Cmdline: string,
    /** The container's stop signal (Config.StopSignal: the image's STOPSIGNAL), when it has one. */
    readonly stopSignal?: string,
  ) {}

  static async start(spec: ReplicaSpec, sink: EventSink): Promise<Replica> {
    const started = await new LoopbackContainer(spec.image)
      .withName(spec.name)
      .withHostname(spec.name)
      .withLabels({
        ...runLabels(spec.runId),
        [`${LABEL_ROOT}.scenario`]: spec.scenario,
        [`${LABEL_ROOT}.pod`]: spec.name,
      })
      .withEnvironment({ ...spec.env, PORT: String(spec.port), POD_NAME: spec.name })
      .withLoopbackPort(spec.port)
      .withWaitStrategy(new StartedOnly())
      .start();
    const client = await getContainerRuntimeClient();
    const info = await client.container.inspect(client.container.getById(started.getId()));
    const binding = info.NetworkSettings.Ports[`${spec.port}/tcp`]?.[0];
    if (!binding) throw new Error(`container ${spec.name}: port ${spec.port} was not published`);
    if (binding.HostIp !== "127.0.0.1")
      throw new Error(`container ${spec.name}: published on ${binding.HostIp}, not 127.0.0.1`);
    const replica = new Replica(
      spec.name,
      started,
      Number(binding.HostPort),
      [info.Path, ...info.Args].join(" "),
      (info.Config as { StopSignal?: string }).StopSignal || undefined,
    );
    await replica.followLogs(sink);
    return replica;
  }

  /**
   * PID 1 as it runs now: the runtime's Path/Args name what was started, but a script that
   * `exec`s replaces itself, so read the live process tree once the app is up.
   */
  async refreshPid1(): Promise<ProcessEntry[]> {
    const tree = await this.processTree().catch(() => []);
    this.pid1Cmdline = rootCommand(tree) ?? this.pid1Cmdline;
    return tree;
  }

  private async followLogs(sink: EventSink): Promise<void> {
    const stream = await this.started.logs();
    stream.on("data", () => this.wakeReadiness?.());
    this.logsDone = followLog(stream, this.name, this, sink);
  }

  /** Waits until the log stream ended (the container exited and Docker flushed its output). */
  async logsClosed(timeoutMs = 3000): Promise<void> {
    await Promise.race([this.logsDone, new Promise((r) => setTimeout(r, timeoutMs))]);
  }

  get containerId(): string {
    return this.started.getId();
  }

  private container() {
    return getContainerRuntimeClient().then((c) => c.container.getById(this.started.getId()));
  }

  /** Process tree as the host sees it (docker top): PID, parent and command line. */
  async processTree(): Promise<ProcessEntry[]> {
    return processTreeOf(await this.container());
  }

  async waitForReady(timeoutMs: number, path: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = "no answer";
    while (Date.now() < deadline) {
      if (this.removed) throw new Error(`replica ${this.name} was removed before it became ready`);
      try {
        const res = await fetch(`http://127.0.0.1:${this.hostPort}${path}`, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        if (res.ok) return;
        last = `HTTP ${res.status}`;
      } catch (err) {
        last = err instanceof Error ? err.message : String(err);
      }
      // The harness's own poll (the scenario's readiness has no period on local): short, so a pod
      // is seen ready within ~50 ms of answering — and probed again at once when it writes a log line
      // (an app says it listens as it starts to), so most pods are seen ready within a probe's time.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(wake, 50);
        function wake() {
          clearTimeout(timer);
          resolve();
        }
        this.wakeReadiness = wake;
      });
      this.wakeReadiness = undefined;
    }
    const tail = this.rawLogs.slice(-10).join("\n");
    throw new Error(
      `replica ${this.name} not ready on ${path} after ${timeoutMs} ms (${last}); last log lines:\n${tail}`,
    );
  }

  runtime(removeEndpoint: () => void): PodRuntime {
    return {
      runPreStop: (hook, signal) => this.runPreStop(hook, signal),
      sendSignal: async (signal) => {
        await (await this.container()).kill({ signal });
      },
      // What `docker stop` (and containerd's StopContainer) would send: the image's STOPSIGNAL.
      imageStopSignal: async () => this.stopSignal,
      waitForExit: () => this.waitForExit(),
      removeEndpoint,
    };
  }

  waitForExit(): Promise<number> {
    this.exitCode ??= this.container()
      .then((c) => c.wait())
      .then((r: { StatusCode: number }) => r.StatusCode);
    return this.exitCode;
  }

  private runPreStop(hook: Exclude<PreStop, { type: "none" }>, signal: AbortSignal): Promise<void> {
    return runPreStopHook(hook, signal, {
      exec: (command) => this.started.exec(command),
      hostPortFor: (port) => (port === undefined ? Promise.resolve(this.hostPort) : this.publishedPortFor(port)),
    });
  }

  private async publishedPortFor(containerPort: number): Promise<number> {
    const info = await (await this.container()).inspect();
    const b = info.NetworkSettings.Ports[`${containerPort}/tcp`]?.[0];
    if (!b) throw new Error(`preStop httpGet: container port ${containerPort} is not published`);
    return Number(b.HostPort);
  }

  async inspectState(): Promise<{ exitCode: number; oomKilled: boolean; finishedAt: string }> {
    const info = await (await this.container()).inspect();
    return { exitCode: info.State.ExitCode, oomKilled: info.State.OOMKilled, finishedAt: info.State.FinishedAt };
  }

  /** Removes the container whatever its state. */
  async remove(): Promise<void> {
    this.removed = true;
    await (await this.container()).remove({ force: true, v: true }).catch(() => undefined);
  }
}
