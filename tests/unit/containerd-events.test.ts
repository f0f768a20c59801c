// containerd's task events as `ctr -n k8s.io events` prints them inside a kind node: the parser on the
// REAL streams recorded on kind v1.20.2 (containerd-events.txt, with the recording's tab-separated
// receivedAt column) and on the bare format, and the per-node streamer with a fake spawner (nothing runs).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  ContainerdEvents,
  CTR_PID_MARK,
  ctrEventsCommand,
  MAX_RESUBSCRIBE,
  parseContainerdEventLine,
  parseGoTime,
} from "../../src/backends/kind/containerd-events.js";
import type { LineSpawner } from "../../src/backends/kind/node-command.js";
import type { CommandRunner } from "../../src/k8s/command.js";
import type { RecordedRuntimeEvent } from "../../src/k8s/timeline-from-watch.js";

const ROOT = join(import.meta.dirname, "..", "fixtures", "recordings", "kind-v1.20.2");
const ORIGIN = "containerd on node kind-control-plane";

function recorded(name: string): RecordedRuntimeEvent[] {
  return readFileSync(join(ROOT, name, "containerd-events.txt"), "utf8")
    .split("\n")
    .map((l) => parseContainerdEventLine(l, ORIGIN))
    .filter((e): e is RecordedRuntimeEvent => e !== undefined);
}

describe.skipIf(!existsSync(ROOT))("ctr events lines recorded on kind v1.20.2", () => {
  it("exec-form, preStop exec sleep 3: the preStop exec's exit (id != container_id) and the container's own exit 0", () => {
    const victim = "a9b497a8da1e6d66450b5c7a97154efb266b501d2c6aba2e9386a95f634a5598";
    const mine = recorded("exec-form-prestop-sleep-3").filter((e) => e.containerId === victim);
    expect(mine.map((e) => `${e.event}:${e.taskId === victim ? "container" : "exec"}`)).toEqual([
      "exec-started:exec",
      "exit:exec",
      "exit:container",
    ]);
    const [started, execExit, exit] = mine;
    expect(started).toMatchObject({
      taskId: "c784a94887307deec5729fa40bec9f2e5188be111ccfdb7e9d2951135559cbe4",
      pid: 215041,
    });
    expect(started?.at).toBe(Date.parse("2026-11-26T19:53:12.461Z"));
    // exited_at (ns) cut to the ms; exit_status absent in the JSON means 0.
    expect(execExit).toMatchObject({ exitStatus: 0, at: Date.parse("2026-11-26T19:53:15.514Z") });
    expect(exit).toMatchObject({
      source: "runtime",
      origin: ORIGIN,
      exitStatus: 0,
      pid: 213701,
      at: Date.parse("2026-11-26T19:53:15.559Z"),
      receivedAt: Date.parse("2026-11-26T19:53:15.560Z"),
    });
    // The pod sandbox (pause container) exits 137 too: another container id, which no containerStatus names.
    expect(recorded("exec-form-prestop-sleep-3").filter((e) => e.event === "exit" && e.exitStatus === 137)).toEqual([
      expect.objectContaining({ containerId: "5bdd8f0cc62eceaed5502935398eff6ffbe866f1a6b7d0006c49d7adba6bd951" }),
    ]);
  });

  it("shell-form, no preStop: the container's own exit is 137", () => {
    const victim = "a08ad9734b89a6272b28c5f7de75bd272cdd1daf29c93f01eaebbfc901a7a12b";
    const exits = recorded("shell-form-no-prestop").filter((e) => e.event === "exit" && e.containerId === victim);
    expect(exits).toEqual([
      expect.objectContaining({ taskId: victim, exitStatus: 137, at: Date.parse("2026-11-26T19:54:12.503Z") }),
    ]);
  });

  it("only task start / exit / exec-started become events (snapshots, containers, deletes do not)", () => {
    const topics = new Set(recorded("shell-form-no-prestop").map((e) => e.event));
    expect([...topics].sort()).toEqual(["exit", "start"]);
  });
});

describe("the bare `ctr events` format", () => {
  const line =
    '2026-11-26 19:53:15.559581596 +0000 UTC k8s.io /tasks/exit {"container_id":"c1","id":"c1","pid":7,"exit_status":143,"exited_at":"2026-11-26T19:53:15.559555957Z"}';

  it("reads a line without the recording's receivedAt column (receivedAt from the caller)", () => {
    expect(parseContainerdEventLine(line, ORIGIN, 42)).toEqual({
      source: "runtime",
      receivedAt: 42,
      origin: ORIGIN,
      event: "exit",
      at: Date.parse("2026-11-26T19:53:15.559Z"),
      containerId: "c1",
      taskId: "c1",
      pid: 7,
      exitStatus: 143,
    });
    // Without a caller's time, the event's own timestamp stands in.
    expect(parseContainerdEventLine(line, ORIGIN)?.receivedAt).toBe(Date.parse("2026-11-26T19:53:15.559Z"));
  });

  it("an exit without exited_at is placed at the event's timestamp; other offsets are honoured", () => {
    const e = parseContainerdEventLine(
      '2026-11-26 20:53:15.5 +0100 CET k8s.io /tasks/exit {"container_id":"c1","id":"x1"}',
      ORIGIN,
    );
    expect(e).toMatchObject({ at: Date.parse("2026-11-26T19:53:15.500Z"), taskId: "x1", exitStatus: 0 });
    expect(parseGoTime("2026-11-26 19:53:15 +0000 UTC")).toBe(Date.parse("2026-11-26T19:53:15Z"));
  });

  it("ignores what is not an event line", () => {
    for (const l of [
      "",
      "ctr: failed to dial",
      "2026-11-26 19:53:15.5 +0000 UTC k8s.io /tasks/exit {broken",
      '2026-11-26 19:53:15.5 +0000 UTC k8s.io /tasks/exit {"id":"no container id"}',
      '2026-11-26 19:53:15.5 +0000 UTC k8s.io /containers/delete {"id":"c1"}',
      `${CTR_PID_MARK} 123`,
    ]) {
      expect(parseContainerdEventLine(l, ORIGIN, 1)).toBeUndefined();
    }
  });
});

describe("ContainerdEvents: one `ctr events` per kind node, from deploy to teardown", () => {
  function fakes() {
    const procs: Array<{
      args: readonly string[];
      out(line: string): void;
      err(line: string): void;
      exit(code: number): void;
      killed: boolean;
    }> = [];
    const calls: string[] = [];
    const spawn: LineSpawner = (file, args, on) => {
      let done: (r: { exitCode?: number }) => void = () => {};
      const exited = new Promise<{ exitCode?: number }>((r) => {
        done = r;
      });
      const p = {
        args: [file, ...args],
        out: on.stdout,
        err: on.stderr,
        exit: (c: number) => done({ exitCode: c }),
        killed: false,
      };
      procs.push(p);
      return {
        exited,
        kill: () => {
          p.killed = true;
          done({ exitCode: 143 });
        },
      };
    };
    const run: CommandRunner = async (file, args) => {
      calls.push([file, ...args].join(" "));
      return { stdout: "", stderr: "" };
    };
    return { procs, calls, spawn, run };
  }

  it("streams every node's task events with argv arrays and stops ctr inside each node", async () => {
    const f = fakes();
    const logs: string[] = [];
    const got: RecordedRuntimeEvent[] = [];
    const src = new ContainerdEvents({
      nodes: async () => ["kind-control-plane", "kind-worker"],
      spawn: f.spawn,
      run: f.run,
      log: (l) => logs.push(l),
      now: () => 1000,
      startTimeoutMs: 50,
    });
    const starting = src.start((e) => got.push(e));
    await new Promise((r) => setTimeout(r, 0));
    for (const [i, p] of f.procs.entries()) p.out(`${CTR_PID_MARK} ${100 + i}`);
    await starting;
    expect(f.procs.map((p) => p.args)).toEqual([
      ["docker", ...ctrEventsCommand("kind-control-plane").args],
      ["docker", ...ctrEventsCommand("kind-worker").args],
    ]);
    expect(f.procs[0]?.args.slice(-4)).toEqual(["ctr", "-n", "k8s.io", "events"]);
    f.procs[1]?.out(
      '2026-11-26 19:54:12.503919494 +0000 UTC k8s.io /tasks/exit {"container_id":"c9","id":"c9","pid":5,"exit_status":137,"exited_at":"2026-11-26T19:54:12.503872373Z"}',
    );
    f.procs[1]?.out("not an event");
    expect(got).toEqual([
      expect.objectContaining({
        origin: "containerd on node kind-worker",
        containerId: "c9",
        exitStatus: 137,
        receivedAt: 1000,
      }),
    ]);
    await src.stop();
    expect(f.calls).toEqual([
      `docker exec kind-control-plane sh -c kill "$1" sh 100`,
      `docker exec kind-worker sh -c kill "$1" sh 101`,
    ]);
    expect(f.procs.every((p) => p.killed)).toBe(true);
    expect(logs).toEqual([]);
    await src.stop(); // twice is fine
  });

  it("a stream that ends on its own is logged (exits then come from the app and the API)", async () => {
    const f = fakes();
    const logs: string[] = [];
    const src = new ContainerdEvents({
      nodes: async () => ["kind-control-plane"],
      spawn: f.spawn,
      run: f.run,
      log: (l) => logs.push(l),
      startTimeoutMs: 10,
    });
    await src.start(() => {});
    f.procs[0]?.err("sh: 1: exec: ctr: not found");
    f.procs[0]?.exit(127);
    await new Promise((r) => setTimeout(r, 0));
    expect(logs.join("\n")).toMatch(
      /containerd events of node kind-control-plane ended \(exit 127: sh: 1: exec: ctr: not found\)/,
    );
    await src.stop();
    expect(f.calls).toEqual([]);
  });

  it("a stream that ends is resubscribed (events flow again), up to MAX_RESUBSCRIBE times, then given up", async () => {
    const f = fakes();
    const logs: string[] = [];
    const got: RecordedRuntimeEvent[] = [];
    const src = new ContainerdEvents({
      nodes: async () => ["kind-worker"],
      spawn: f.spawn,
      run: f.run,
      log: (l) => logs.push(l),
      startTimeoutMs: 5,
      restartDelayMs: 1,
    });
    await src.start((e) => got.push(e));
    const settle = () => new Promise((r) => setTimeout(r, 30));
    f.procs[0]?.exit(1);
    await settle();
    expect(f.procs).toHaveLength(2);
    expect(f.procs[1]?.args).toEqual(f.procs[0]?.args);
    f.procs[1]?.out(
      '2026-12-07 15:49:49.690123456 +0000 UTC k8s.io /tasks/exit {"container_id":"c1","id":"c1","pid":9,"exit_status":143,"exited_at":"2026-12-07T15:49:49.690123456Z"}',
    );
    expect(got.map((e) => [e.containerId, e.exitStatus])).toEqual([["c1", 143]]);
    for (let i = 1; i <= MAX_RESUBSCRIBE; i++) {
      f.procs.at(-1)?.exit(1);
      await settle();
    }
    expect(f.procs).toHaveLength(1 + MAX_RESUBSCRIBE);
    expect(logs.filter((l) => /resubscribing/.test(l))).toHaveLength(MAX_RESUBSCRIBE);
    expect(logs.at(-1)).toMatch(
      /resubscribed 5 times already: given up; container exits of this node come from crictl/,
    );
    await src.stop();
  });

  it("backfillExit reads the node's runtime; an exit the alive stream never printed (> 2 s, silent since) resubscribes it", async () => {
    const f = fakes();
    const logs: string[] = [];
    const id = "a".repeat(64);
    let now = Date.parse("2026-12-07T15:49:52.000Z");
    const inspect = JSON.stringify({
      status: { id, state: "CONTAINER_EXITED", exitCode: 0, finishedAt: "2026-12-07T15:49:49.690123456Z" },
      info: {},
    });
    const run: CommandRunner = async (file, args) => {
      f.calls.push([file, ...args].join(" "));
      return { stdout: args.includes("inspect") ? inspect : "", stderr: "" };
    };
    const src = new ContainerdEvents({
      nodes: async () => ["kind-worker"],
      spawn: f.spawn,
      run,
      log: (l) => logs.push(l),
      now: () => now,
      startTimeoutMs: 5,
      restartDelayMs: 1,
    });
    const starting = src.start(() => {});
    await new Promise((r) => setTimeout(r, 0));
    f.procs[0]?.out(`${CTR_PID_MARK} 77`);
    await starting;
    // 2.3 s after the exit, the stream printed nothing since: stalled.
    const read = await src.backfillExit({ node: "kind-worker", containerId: id });
    expect(read).toMatchObject({
      entry: { exitStatus: 0, containerId: id, at: Date.parse("2026-12-07T15:49:49.690Z") },
    });
    expect(f.calls[0]).toBe(`docker exec kind-worker crictl inspect -o json ${id}`);
    await new Promise((r) => setTimeout(r, 30));
    expect(logs.join("\n")).toMatch(
      /kind-worker printed nothing since the exit of aaaaaaaaaaaa .*: stalled: resubscribing/,
    );
    expect(f.calls).toContain(`docker exec kind-worker sh -c kill "$1" sh 77`);
    expect(f.procs).toHaveLength(2);
    // A stream that printed a line after the exit, or an exit just read, is not stalled.
    f.procs[1]?.out(`${CTR_PID_MARK} 78`);
    f.procs[1]?.out("something");
    now += 10_000;
    await src.backfillExit({ node: "kind-worker", containerId: id });
    await new Promise((r) => setTimeout(r, 30));
    expect(f.procs).toHaveLength(2);
    await src.stop();
  });

  it("no node list: nothing starts, and start() does not throw", async () => {
    const f = fakes();
    const logs: string[] = [];
    const src = new ContainerdEvents({
      nodes: async () => {
        throw new Error("kind: not found");
      },
      spawn: f.spawn,
      log: (l) => logs.push(l),
    });
    await src.start(() => {});
    expect(f.procs).toEqual([]);
    expect(logs.join("")).toMatch(/could not list the kind nodes/);
  });
});
