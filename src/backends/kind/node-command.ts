// A long-lived command inside a kind node, followed line by line (conntrack's event stream,
// containerd's task events). `docker exec <node> sh -c 'echo "<mark> $$"; exec "$@"' sh <argv…>`:
// the shell prints its PID before exec'ing the command (arguments go through "$@", nothing is
// interpolated), because stopping the local `docker exec` client does not stop the process inside
// the node — stop() kills that PID there (the shell's builtin kill: no kill binary needed), then the
// local client.
import { createInterface } from "node:readline";
import { execa } from "execa";
import type { CommandRunner } from "../../k8s/command.js";
import { sleep } from "../../util/sleep.js";

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

/** The argv of `docker exec` running `argv` in the node behind a shell that first prints "<mark> <pid>". */
export function nodeCommandArgs(node: string, mark: string, argv: readonly string[]): { file: string; args: string[] } {
  return { file: "docker", args: ["exec", node, "sh", "-c", `echo "${mark} $$"; exec "$@"`, "sh", ...argv] };
}

export interface NodeCommandOptions {
  node: string;
  /** The first line's marker ("<mark> <pid>"). */
  mark: string;
  argv: readonly string[];
  run: CommandRunner;
  spawn: LineSpawner;
  /** Every stdout line but the marker. */
  onLine(line: string): void;
  /** Every stderr line (the last 20 are also kept for the ended message). */
  onStderr?(line: string): void;
  /** The command ended before stop(): how, and its last stderr lines. */
  onEnded?(how: string, stderrTail: string): void;
  /** How long start() waits for the marker (default 5 s). */
  startTimeoutMs?: number;
  /** How long stop() waits for the process to end (default 3 s). */
  stopTimeoutMs?: number;
}

/** One long-lived command in one node. */
export class NodeCommand {
  private proc?: LineProcess;
  private pid?: number;
  private stopping = false;
  private readonly stderr: string[] = [];
  /** The process has ended (by itself or by stop()). */
  ended = false;

  constructor(private readonly o: NodeCommandOptions) {}

  get node(): string {
    return this.o.node;
  }

  /** True once the node-side PID is known (the command is running in the node). */
  get running(): boolean {
    return this.pid !== undefined && !this.ended;
  }

  /** Starts the command; resolves at its marker line, its end, or the start timeout. Never throws. */
  async start(): Promise<void> {
    let marked: () => void = () => {};
    const started = new Promise<void>((resolve) => {
      marked = resolve;
    });
    const { file, args } = nodeCommandArgs(this.o.node, this.o.mark, this.o.argv);
    const proc = this.o.spawn(file, args, {
      stdout: (line) => {
        const m = line.startsWith(this.o.mark) ? /^\S+\s+(\d+)/.exec(line) : null;
        if (m) {
          this.pid = Number(m[1]);
          marked();
          return;
        }
        this.o.onLine(line);
      },
      stderr: (line) => {
        this.stderr.push(line);
        if (this.stderr.length > 20) this.stderr.shift();
        this.o.onStderr?.(line);
      },
    });
    this.proc = proc;
    void proc.exited.then((r) => {
      this.ended = true;
      marked();
      if (this.stopping) return;
      const how = r.errorCode ?? (r.signal ? `signal ${r.signal}` : `exit ${r.exitCode ?? "?"}`);
      this.o.onEnded?.(how, this.stderr.slice(-3).join(" / ") || "no output");
    });
    await Promise.race([started, sleep(this.o.startTimeoutMs ?? 5000)]);
  }

  /** Kills the command in the node, then the local client; bounded. */
  async stop(): Promise<void> {
    if (this.ended || this.stopping) return;
    this.stopping = true;
    if (this.pid !== undefined) {
      try {
        await this.o.run("docker", ["exec", this.o.node, "sh", "-c", 'kill "$1"', "sh", String(this.pid)]);
      } catch {
        // gone already, or the node is: the local client is stopped below either way
      }
    }
    this.proc?.kill();
    if (this.proc) await Promise.race([this.proc.exited, sleep(this.o.stopTimeoutMs ?? 3000)]);
  }
}
