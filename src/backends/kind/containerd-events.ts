// The node's own record of container exits on kind: containerd's task events, streamed from every node
// with `docker exec <node> … ctr -n k8s.io events` (argument arrays; the same long-lived pattern as
// conntrack-stream.ts) from deploy to teardown. /tasks/exit carries the exact exit status and time
// (exited_at, ns) of every task: the container's own (id == container_id) and exec tasks (the preStop
// exec hook, the harness's own execs: id != container_id). The timeline builder maps container ids to
// pods through containerStatuses[].containerID.
//
// `ctr events` prints one event per line:
//   2026-11-26 19:53:15.559581596 +0000 UTC k8s.io /tasks/exit {"container_id":"a9b4…","id":"a9b4…","pid":213701,"exited_at":"2026-11-26T19:53:15.559555957Z"}
// (Go's time.Time String(), namespace, topic, the event as JSON; exit_status is omitted when 0). The
// recordings in tests/fixtures/recordings add a tab-separated receivedAt column first: both are read.
//
// ctr events has no replay: an exit printed while a node's stream is down is not printed again. So a
// stream that ends is resubscribed, one that stalls (an exit crictl shows, nothing printed since) too,
// and the driver reads every disrupted container's exit the stream has not delivered back from the
// node's runtime (backfillExit: runtime-record.ts) before it falls back to the API.
import { type CommandRunner, execaRunner } from "../../k8s/command.js";
import type { RuntimeBackfill, RuntimeEventSource } from "../../k8s/driver.js";
import type { RecordedRuntimeEvent } from "../../k8s/timeline-from-watch.js";
import { parseRfc3339 } from "../../util/time.js";
import { execaLineSpawner, type LineSpawner, NodeCommand, nodeCommandArgs } from "./node-command.js";
import { readExitOnNode } from "./runtime-record.js";

/** "2026-11-26 19:53:15.559581596 +0000 UTC" → epoch ms (fraction cut to ms). */
export function parseGoTime(text: string): number | undefined {
  const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(\.\d+)? ([+-])(\d\d)(\d\d)(?: [A-Z]+)?$/.exec(text.trim());
  if (!m) return undefined;
  const frac = m[3] ? m[3].slice(0, 4).padEnd(4, "0") : "";
  const ms = Date.parse(`${m[1]}T${m[2]}${frac}${m[4]}${m[5]}:${m[6]}`);
  return Number.isNaN(ms) ? undefined : ms;
}

const LINE = /^(?:(\S+)\t)?(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? [+-]\d{4}(?: [A-Z]+)?) (\S*) (\/\S+) (\{.*\})\s*$/;

/**
 * One line of `ctr events` → a runtime event the timeline builder understands, or undefined (another
 * topic, or not an event line). `receivedAt`: when the line was read (the recording's first column wins).
 */
export function parseContainerdEventLine(
  line: string,
  origin: string,
  receivedAt?: number,
): RecordedRuntimeEvent | undefined {
  const m = LINE.exec(line.trim());
  if (!m?.[2] || !m[4] || !m[5]) return undefined;
  const topic = m[4];
  const event =
    topic === "/tasks/exit"
      ? "exit"
      : topic === "/tasks/start"
        ? "start"
        : topic === "/tasks/exec-started"
          ? "exec-started"
          : undefined;
  if (!event) return undefined;
  let data: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(m[5]);
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return undefined;
    data = parsed as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const containerId = typeof data.container_id === "string" ? data.container_id : undefined;
  if (!containerId) return undefined;
  const stamped = parseGoTime(m[2]);
  const column = m[1] ? parseRfc3339(m[1]) : undefined;
  const read = column ?? receivedAt ?? stamped;
  if (stamped === undefined || read === undefined) return undefined;
  const pid = typeof data.pid === "number" ? data.pid : undefined;
  switch (event) {
    case "exit": {
      const taskId = typeof data.id === "string" && data.id !== "" ? data.id : containerId;
      const status = typeof data.exit_status === "number" ? data.exit_status : 0;
      return {
        source: "runtime",
        receivedAt: read,
        origin,
        event,
        at: parseRfc3339(data.exited_at) ?? stamped,
        containerId,
        taskId,
        ...(pid !== undefined ? { pid } : {}),
        exitStatus: status,
      };
    }
    case "exec-started": {
      const execId = typeof data.exec_id === "string" ? data.exec_id : undefined;
      if (!execId) return undefined;
      return {
        source: "runtime",
        receivedAt: read,
        origin,
        event,
        at: stamped,
        containerId,
        taskId: execId,
        ...(pid !== undefined ? { pid } : {}),
      };
    }
    case "start":
      return {
        source: "runtime",
        receivedAt: read,
        origin,
        event,
        at: stamped,
        containerId,
        taskId: containerId,
        ...(pid !== undefined ? { pid } : {}),
      };
  }
}

/** First line the node-side shell prints: "<mark> <pid>" (to stop `ctr` inside the node at teardown). */
export const CTR_PID_MARK = "graceful-e2e-ctr-events-pid";

/**
 * The argv that follows one node's containerd task events. The shell prints its PID, then exec's ctr
 * (arguments through "$@", nothing interpolated): stopping `docker exec` does not stop the process in
 * the node, so stop() kills that PID there.
 */
export function ctrEventsCommand(node: string): { file: string; args: string[] } {
  return nodeCommandArgs(node, CTR_PID_MARK, CTR_EVENTS_ARGV);
}

const CTR_EVENTS_ARGV = ["ctr", "-n", "k8s.io", "events"] as const;

export interface ContainerdEventsOptions {
  /** The kind nodes (Docker container names) to follow. */
  nodes: () => Promise<string[]>;
  run?: CommandRunner;
  spawn?: LineSpawner;
  log?: (line: string) => void;
  now?: () => number;
  /** How long start() waits for each stream's first line (default 5 s). */
  startTimeoutMs?: number;
  /** How long stop() waits for a stream to end (default 3 s). */
  stopTimeoutMs?: number;
  /** Pause before resubscribing a node whose stream ended, times the attempt (default 500 ms). */
  restartDelayMs?: number;
}

/** Resubscriptions of one node's stream before giving up on it (its exits then come from crictl and the API). */
export const MAX_RESUBSCRIBE = 5;
/**
 * A backfilled exit older than this while the node's stream printed nothing since it happened: the
 * stream is alive but stalled (containerd prints /tasks/exit at once, 36 ms measured): resubscribed.
 */
export const STALL_BOUND_MS = 2000;

/**
 * containerd's task events from every kind node, for the driver (DriverOptions.runtimeEvents). A node's
 * stream that ends or stalls is resubscribed (bounded); what a gap may have lost is read back from the
 * node's runtime (backfillExit: crictl inspect) by the driver before it falls back to the API.
 */
export class ContainerdEvents implements RuntimeEventSource {
  private readonly streams = new Map<string, NodeCommand>();
  private readonly resubscribed = new Map<string, number>();
  /** Per node: when its stream last printed a line (stall detection). */
  private readonly lastLineAt = new Map<string, number>();
  private onEntry?: (entry: RecordedRuntimeEvent) => void;
  private stopped = false;

  constructor(private readonly o: ContainerdEventsOptions) {}

  private get now(): () => number {
    return this.o.now ?? Date.now;
  }

  /** Starts `ctr events` on every node. Never throws: a node that cannot be followed is logged. */
  async start(onEntry: (entry: RecordedRuntimeEvent) => void): Promise<void> {
    this.onEntry = onEntry;
    let nodes: string[];
    try {
      nodes = await this.o.nodes();
    } catch (err) {
      this.o.log?.(`no containerd events (could not list the kind nodes: ${String(err)})`);
      return;
    }
    await Promise.all(nodes.map((node) => this.follow(node)));
  }

  /** One node's stream, from now on (checked and registered in one tick: stop() sees every stream). */
  private async follow(node: string): Promise<void> {
    const onEntry = this.onEntry;
    if (this.stopped || !onEntry) return;
    const origin = `containerd on node ${node}`;
    const stream: NodeCommand = new NodeCommand({
      node,
      mark: CTR_PID_MARK,
      argv: CTR_EVENTS_ARGV,
      run: this.o.run ?? execaRunner,
      spawn: this.o.spawn ?? execaLineSpawner,
      startTimeoutMs: this.o.startTimeoutMs,
      stopTimeoutMs: this.o.stopTimeoutMs,
      onLine: (line) => {
        const at = this.now();
        this.lastLineAt.set(node, at);
        const entry = parseContainerdEventLine(line, origin, at);
        if (entry) onEntry(entry);
      },
      onEnded: (how, tail) => void this.resubscribe(node, stream, `ended (${how}: ${tail})`),
    });
    this.streams.set(node, stream);
    await stream.start();
  }

  /** Replaces a node's stream that ended or stalled (bounded; the gap is what backfillExit is for). */
  private async resubscribe(node: string, stream: NodeCommand, why: string): Promise<void> {
    if (this.stopped || this.streams.get(node) !== stream) return;
    const attempt = (this.resubscribed.get(node) ?? 0) + 1;
    this.resubscribed.set(node, attempt);
    if (attempt > MAX_RESUBSCRIBE) {
      this.o.log?.(
        `containerd events of node ${node} ${why}, resubscribed ${MAX_RESUBSCRIBE} times already: given up; ` +
          "container exits of this node come from crictl inspect on the node, then the app's lines and the API",
      );
      return;
    }
    this.o.log?.(`containerd events of node ${node} ${why}: resubscribing (${attempt} of ${MAX_RESUBSCRIBE})`);
    await stream.stop();
    await new Promise((r) => setTimeout(r, (this.o.restartDelayMs ?? 500) * attempt));
    await this.follow(node);
  }

  /**
   * The node runtime's record of a container's exit the stream has not delivered (crictl inspect). When
   * the exit is older than STALL_BOUND_MS and the node's stream printed nothing since, it is stalled:
   * resubscribed.
   */
  async backfillExit(req: { node: string; containerId: string }): Promise<RuntimeBackfill> {
    const read = await readExitOnNode(this.o.run ?? execaRunner, req.node, req.containerId, this.now());
    if ("entry" in read) {
      const stream = this.streams.get(req.node);
      const last = this.lastLineAt.get(req.node);
      const silentSince = last === undefined || last < read.entry.at;
      if (stream && silentSince && this.now() - read.entry.at > STALL_BOUND_MS) {
        void this.resubscribe(
          req.node,
          stream,
          `printed nothing since the exit of ${req.containerId.slice(0, 12)} (read with crictl inspect): stalled`,
        );
      }
    }
    return read;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all([...this.streams.values()].map((s) => s.stop()));
  }
}
