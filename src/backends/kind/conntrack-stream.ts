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
import { createInterface } from "node:readline";
import { execa } from "execa";
import { CommandError, type CommandRunner, execaRunner, isMissingBinary } from "../../k8s/command.js";
import {
  type ConntrackEvent,
  type ConntrackFeed,
  parseConntrackLine,
  parseConntrackOutput,
} from "../../k8s/conntrack.js";

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
  return {
    file: "docker",
    args: ["exec", node, "sh", "-c", `echo "${PID_MARK} $$"; exec "$@"`, "sh", ...conntrackEventArgs(nodePort)],
  };
}

/** A started long-lived process whose output arrives line by line. */
export interface LineProcess {
  /** Resolves when the process has ended (never rejects). */
  readonly exited: Promise<{ exitCode?: number; signal?: string; errorCode?: string }>;
  kill(): void;
}

export type LineSpawner = (
  file: string,
  args: readonly string[],
  on: { stdout(line: string): void; stderr(line: string): void },
) => LineProcess;

/** The real spawner: execa with an argument array, output read line by line, never buffered whole. */
export const execaLineSpawner: LineSpawner = (file, args, on) => {
  const sub = execa(file, [...args], { stdin: "ignore", reject: false, buffer: false });
  if (sub.stdout) createInterface({ input: sub.stdout, crlfDelay: Number.POSITIVE_INFINITY }).on("line", on.stdout);
  if (sub.stderr) createInterface({ input: sub.stderr, crlfDelay: Number.POSITIVE_INFINITY }).on("line", on.stderr);
  const exited = sub.then(
    (r) => ({
      exitCode: r.exitCode,
      signal: r.signal,
      errorCode: (r as { code?: string }).code,
    }),
    (err: unknown) => ({ errorCode: (err as { code?: string }).code ?? "ERROR" }),
  );
  return {
    exited,
    kill: () => {
      sub.kill();
    },
  };
};

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

interface NodeStream {
  node: string;
  proc?: LineProcess;
  pid?: number;
  ended: boolean;
  stopping: boolean;
  stderr: string[];
  lostEvents: boolean;
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

function lastLines(text: string, n = 3): string {
  return text.trim().split("\n").slice(-n).join(" / ") || "no output";
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One `conntrack -E` per node, for one run. */
export class ConntrackStream implements ConntrackFeed {
  private readonly all: ConntrackEvent[] = [];
  private readonly extra: string[] = [];
  private readonly streams: NodeStream[] = [];
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
    for (const s of this.streams) {
      if (s.lostEvents) {
        out.push(`conntrack on node ${s.node} lost events (netlink buffer full): some connections may be missing`);
      }
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

    const s: NodeStream = { node, ended: false, stopping: false, stderr: [], lostEvents: false };
    let firstLine: () => void = () => {};
    const started = new Promise<void>((resolve) => {
      firstLine = resolve;
    });
    const { file, args } = streamCommand(node, this.o.nodePort);
    const proc = this.spawn(file, args, {
      stdout: (line) => {
        const mark = line.startsWith(PID_MARK) ? /^\S+\s+(\d+)/.exec(line) : null;
        if (mark) {
          s.pid = Number(mark[1]);
          firstLine();
          return;
        }
        const e = parseConntrackLine(line, this.now());
        if (e) this.all.push({ ...e, node });
      },
      stderr: (line) => {
        if (/ENOBUFS|losing events/i.test(line)) s.lostEvents = true;
        if (/flow events have been shown/.test(line)) return;
        s.stderr.push(line);
        if (s.stderr.length > 20) s.stderr.shift();
      },
    });
    s.proc = proc;
    void proc.exited.then((r) => {
      s.ended = true;
      firstLine();
      if (!s.stopping) {
        const how = r.errorCode ?? (r.signal ? `signal ${r.signal}` : `exit ${r.exitCode ?? "?"}`);
        this.extra.push(
          `the conntrack stream on node ${node} ended at ${new Date(this.now()).toISOString()} (${how}: ${lastLines(s.stderr.join("\n"))}): connections after that are missing`,
        );
      }
    });
    await Promise.race([started, sleep(this.o.startTimeoutMs ?? 5000)]);
    if (s.ended && s.pid === undefined) return; // the note above says why
    this.streams.push(s);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all(
      this.streams.map(async (s) => {
        if (s.ended) return;
        s.stopping = true;
        if (s.pid !== undefined) {
          try {
            // The shell's builtin kill: no dependency on a kill binary in the node image.
            await this.run("docker", ["exec", s.node, "sh", "-c", 'kill "$1"', "sh", String(s.pid)]);
          } catch {
            // gone already, or the node is: the local client is stopped below either way
          }
        }
        s.proc?.kill();
        if (s.proc) await Promise.race([s.proc.exited, sleep(this.o.stopTimeoutMs ?? 3000)]);
      }),
    );
  }
}
