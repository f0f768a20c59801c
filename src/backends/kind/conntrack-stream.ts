// Reads each kind node's connection tracking table while a run is live: which pod every client
// connection to the NodePort went to, for any image (src/k8s/conntrack.ts explains the path and the
// format). Per node, at deploy:
//   1. docker exec <node> conntrack -L -p tcp --orig-port-dst <NodePort>
//      connections already open (their opening time is unknown: the list time stands in), and the
//      check that conntrack exists and may be used (kind node images ship it: kubeadm requires it);
//   2. docker exec <node> sh -c 'echo "<mark> $$"; exec "$@"' sh \
//        conntrack -E -p tcp -e NEW,UPDATES,DESTROY -o timestamp --orig-port-dst <NodePort>
//      a long-lived event stream. UPDATES are needed for the closing time: conntrack keeps a closed
//      connection in TIME_WAIT for up to 120 s, so its DESTROY comes far too late. conntrack applies
//      --orig-port-dst in userspace in event mode (it receives every event of the node's network
//      namespace and prints the matching ones); the parser checks the port again anyway.
//      The shell prints its PID before exec'ing conntrack (arguments go through "$@", nothing is
//      interpolated) because stopping `docker exec` does not stop the process inside the node: stop()
//      kills that PID in the node, then the local client.
// A node where step 1 fails (conntrack missing, not permitted, node stopped) gets a note; when no node
// can be read the feed is unavailable and the run has no connection attribution.
import { CommandError, type CommandRunner, execaRunner, isMissingBinary } from "../../k8s/command.js";
import {
  type ConntrackEvent,
  type ConntrackFeed,
  parseConntrackLine,
  parseConntrackOutput,
} from "../../k8s/conntrack.js";
import { lastLines } from "../../util/text.js";
import { execaLineSpawner, type LineSpawner, NodeCommand, nodeCommandArgs } from "./node-command.js";

/** First line the node-side shell prints: "<mark> <pid>". */
export const PID_MARK = "graceful-e2e-conntrack-pid";

/** `conntrack -L` for the NodePort's TCP entries. */
export function conntrackListArgs(nodePort: number): string[] {
  return ["conntrack", "-L", "-p", "tcp", "--orig-port-dst", String(nodePort)];
}

/** `conntrack -E` for the NodePort's TCP connections: opens, state changes, ends, with timestamps. */
export function conntrackEventArgs(nodePort: number): string[] {
  return [
    "conntrack",
    "-E",
    "-p",
    "tcp",
    "-e",
    "NEW,UPDATES,DESTROY",
    "-o",
    "timestamp",
    "--orig-port-dst",
    String(nodePort),
  ];
}

/** The full argv of the streaming `docker exec` for one node. */
export function streamCommand(node: string, nodePort: number): { file: string; args: string[] } {
  return nodeCommandArgs(node, PID_MARK, conntrackEventArgs(nodePort));
}

export interface ConntrackStreamOptions {
  /** kind node containers (`kind get nodes`). */
  nodes: string[];
  nodePort: number;
  run?: CommandRunner;
  spawn?: LineSpawner;
  now?: () => number;
  /** How long start() waits for each stream's first line (default 5 s). */
  startTimeoutMs?: number;
  /** How long stop() waits for a stream to end (default 3 s). */
  stopTimeoutMs?: number;
}

/** Why `conntrack -L` could not run on a node, in words. */
export function explainConntrackFailure(node: string, err: unknown): string {
  if (isMissingBinary(err)) return "`docker` is not on PATH";
  const stderr = err instanceof CommandError ? err.stderr : err instanceof Error ? err.message : String(err);
  const exit = err instanceof CommandError ? err.exitCode : undefined;
  if (/No such container|is not running|container [^ ]+ not found/i.test(stderr)) return `node ${node} is not running`;
  if (/executable file not found|conntrack: not found|command not found/i.test(stderr) || exit === 127) {
    return `\`conntrack\` is not installed on node ${node}`;
  }
  if (/not permitted|CAP_NET_ADMIN|must be root|permission denied/i.test(stderr)) {
    return `not permitted to read the connection tracking table on node ${node} (needs CAP_NET_ADMIN)`;
  }
  return `conntrack failed on node ${node}: ${lastLines(stderr)}`;
}

/** One `conntrack -E` per node, for one run. */
export class ConntrackStream implements ConntrackFeed {
  private readonly all: ConntrackEvent[] = [];
  private readonly extra: string[] = [];
  private readonly streams: NodeCommand[] = [];
  private readonly lostEvents = new Set<string>();
  private readonly run: CommandRunner;
  private readonly spawn: LineSpawner;
  private readonly now: () => number;
  private stopped = false;

  constructor(private readonly o: ConntrackStreamOptions) {
    this.run = o.run ?? execaRunner;
    this.spawn = o.spawn ?? execaLineSpawner;
    this.now = o.now ?? Date.now;
  }

  events(): readonly ConntrackEvent[] {
    return this.all;
  }

  notes(): string[] {
    const out = [...this.extra];
    for (const node of this.lostEvents) {
      out.push(`conntrack on node ${node} lost events (netlink buffer full): some connections may be missing`);
    }
    return out;
  }

  available(): boolean {
    return this.streams.length > 0;
  }

  /** Lists what is open, then starts the event stream, on every node. Never throws: failures become notes. */
  async start(): Promise<void> {
    if (this.o.nodes.length === 0) {
      this.extra.push("no kind node to read connections from");
      return;
    }
    await Promise.all(this.o.nodes.map((node) => this.startNode(node)));
  }

  private async startNode(node: string): Promise<void> {
    const listedAt = this.now();
    let listed: string;
    try {
      listed = (await this.run("docker", ["exec", node, ...conntrackListArgs(this.o.nodePort)])).stdout;
    } catch (err) {
      this.extra.push(`no connection attribution from node ${node}: ${explainConntrackFailure(node, err)}`);
      return;
    }
    this.all.push(...parseConntrackOutput(listed, listedAt, node));

    const stream = new NodeCommand({
      node,
      mark: PID_MARK,
      argv: conntrackEventArgs(this.o.nodePort),
      run: this.run,
      spawn: this.spawn,
      startTimeoutMs: this.o.startTimeoutMs,
      stopTimeoutMs: this.o.stopTimeoutMs,
      onLine: (line) => {
        const e = parseConntrackLine(line, this.now());
        if (e) this.all.push({ ...e, node });
      },
      onStderr: (line) => {
        if (/ENOBUFS|losing events/i.test(line)) this.lostEvents.add(node);
      },
      onEnded: (how, tail) => {
        this.extra.push(
          `the conntrack stream on node ${node} ended at ${new Date(this.now()).toISOString()} (${how}: ${tail}): connections after that are missing`,
        );
      },
    });
    await stream.start();
    if (!stream.running) return; // the note above says why
    this.streams.push(stream);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all(this.streams.map((s) => s.stop()));
  }
}
