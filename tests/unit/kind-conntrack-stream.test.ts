// The per-node conntrack reader of the kind backend, with a fake command runner (conntrack -L, kill in
// the node) and a fake spawner for the long-lived `conntrack -E` (nothing is executed).
import { describe, expect, it } from "vitest";
import {
  ConntrackStream,
  conntrackEventArgs,
  explainConntrackFailure,
  PID_MARK,
  streamCommand,
} from "../../src/backends/kind/conntrack-stream.js";
import { execaLineSpawner, type LineSpawner } from "../../src/backends/kind/node-command.js";
import { CommandError, type CommandRunner } from "../../src/k8s/command.js";
import { routedConnections } from "../../src/k8s/conntrack.js";

const LISTED = `tcp      6 86395 ESTABLISHED src=172.18.0.1 dst=172.18.0.2 sport=40100 dport=30080 src=10.244.0.6 dst=10.244.0.1 sport=8080 dport=40100 [ASSURED] mark=0 use=1
`;
const NEW = (sport: number, pod: string) =>
  `[1718000001.000000]\t    [NEW] tcp      6 120 SYN_SENT src=172.18.0.1 dst=172.18.0.2 sport=${sport} dport=30080 [UNREPLIED] src=${pod} dst=10.244.0.1 sport=8080 dport=${sport}`;

interface FakeProc {
  file: string;
  args: readonly string[];
  out(line: string): void;
  err(line: string): void;
  exit(r: { exitCode?: number; signal?: string }): void;
  killed: boolean;
}

function fakes(o: { listFails?: Record<string, CommandError>; pidLine?: boolean } = {}) {
  const calls: string[] = [];
  const procs: FakeProc[] = [];
  const run: CommandRunner = async (file, args) => {
    calls.push([file, ...args].join(" "));
    const node = args[1] ?? "";
    if (args[2] === "conntrack" && args[3] === "-L") {
      const failure = o.listFails?.[node];
      if (failure) throw failure;
      return { stdout: LISTED, stderr: "conntrack v1.4.6 (conntrack-tools): 1 flow entries have been shown.\n" };
    }
    if (args[2] === "sh" && args[4] === 'kill "$1"') {
      const p = procs.find((x) => x.args[1] === node);
      p?.exit({ exitCode: 143 });
      return { stdout: "", stderr: "" };
    }
    throw new Error(`unexpected ${file} ${args.join(" ")}`);
  };
  const spawn: LineSpawner = (file, args, on) => {
    let done: (r: { exitCode?: number; signal?: string }) => void = () => {};
    const exited = new Promise<{ exitCode?: number; signal?: string }>((r) => {
      done = r;
    });
    const p: FakeProc = {
      file,
      args,
      out: on.stdout,
      err: on.stderr,
      exit: (r) => done(r),
      killed: false,
    };
    procs.push(p);
    if (o.pidLine !== false) queueMicrotask(() => on.stdout(`${PID_MARK} ${4200 + procs.length}`));
    return {
      exited,
      kill: () => {
        p.killed = true;
        done({ signal: "SIGTERM" });
      },
    };
  };
  return { calls, procs, run, spawn };
}

describe("ConntrackStream", () => {
  it("lists what is open, streams events per node, and stops the process inside the node", async () => {
    const f = fakes();
    let now = 1_718_000_000_000;
    const s = new ConntrackStream({
      nodes: ["ge-control-plane"],
      nodePort: 30080,
      run: f.run,
      spawn: f.spawn,
      now: () => now,
    });
    await s.start();
    expect(s.available()).toBe(true);
    expect(f.calls).toEqual(["docker exec ge-control-plane conntrack -L -p tcp --orig-port-dst 30080"]);
    expect(f.procs).toHaveLength(1);
    expect([f.procs[0]?.file, ...(f.procs[0]?.args ?? [])]).toEqual([
      "docker",
      "exec",
      "ge-control-plane",
      "sh",
      "-c",
      `echo "${PID_MARK} $$"; exec "$@"`,
      "sh",
      "conntrack",
      "-E",
      "-p",
      "tcp",
      "-e",
      "NEW,UPDATES,DESTROY",
      "-o",
      "timestamp",
      "--orig-port-dst",
      "30080",
    ]);

    now += 1500;
    f.procs[0]?.out(NEW(41000, "10.244.0.5"));
    f.procs[0]?.out(NEW(41001, "10.244.0.6").replace(/^\[[^\]]+\]\t/, "")); // no timestamp: receipt time
    f.procs[0]?.out("garbage that is not a conntrack line");
    expect(s.events().map((e) => [e.type, e.node, e.at, e.orig.sport])).toEqual([
      ["listed", "ge-control-plane", 1_718_000_000_000, 40100],
      ["new", "ge-control-plane", 1_718_000_001_000, 41000],
      ["new", "ge-control-plane", 1_718_000_001_500, 41001],
    ]);
    const pods: Record<string, string> = { "10.244.0.5": "app-a", "10.244.0.6": "app-b" };
    const { connections } = routedConnections(s.events(), 30080, (ip) => pods[ip]);
    expect(connections.map((c) => [c.clientPort, c.pod])).toEqual([
      [40100, "app-b"],
      [41000, "app-a"],
      [41001, "app-b"],
    ]);

    await s.stop();
    expect(f.calls).toContain('docker exec ge-control-plane sh -c kill "$1" sh 4201');
    expect(f.procs[0]?.killed).toBe(true);
    expect(s.notes()).toEqual([]); // a stop is not "the stream ended"
    await s.stop(); // twice is fine
    expect(s.events()).toHaveLength(3); // still readable
  });

  it("conntrack missing on the node: no stream, a note, unavailable", async () => {
    const f = fakes({
      listFails: {
        "ge-control-plane": new CommandError(
          "docker",
          [],
          127,
          'OCI runtime exec failed: exec failed: unable to start container process: exec: "conntrack": executable file not found in $PATH: unknown',
        ),
      },
    });
    const s = new ConntrackStream({ nodes: ["ge-control-plane"], nodePort: 30080, run: f.run, spawn: f.spawn });
    await s.start();
    expect(s.available()).toBe(false);
    expect(f.procs).toHaveLength(0);
    expect(s.notes()).toEqual([
      "no connection attribution from node ge-control-plane: `conntrack` is not installed on node ge-control-plane",
    ]);
    await s.stop();
  });

  it("one node readable, one not permitted: available, with a note for the other", async () => {
    const f = fakes({
      listFails: {
        "ge-worker": new CommandError(
          "docker",
          [],
          1,
          "conntrack v1.4.6 (conntrack-tools): Operation failed: Operation not permitted",
        ),
      },
    });
    const s = new ConntrackStream({
      nodes: ["ge-control-plane", "ge-worker"],
      nodePort: 30080,
      run: f.run,
      spawn: f.spawn,
    });
    await s.start();
    expect(s.available()).toBe(true);
    expect(f.procs.map((p) => p.args[1])).toEqual(["ge-control-plane"]);
    expect(s.notes()[0]).toMatch(/ge-worker.*not permitted.*CAP_NET_ADMIN/);
    await s.stop();
  });

  it("a stream that ends by itself, and lost events, are noted", async () => {
    const f = fakes();
    const s = new ConntrackStream({ nodes: ["n1"], nodePort: 30080, run: f.run, spawn: f.spawn, now: () => 0 });
    await s.start();
    f.procs[0]?.err("WARNING: We have hit ENOBUFS! We are losing events.");
    f.procs[0]?.err("conntrack v1.4.6 (conntrack-tools): 12 flow events have been shown.");
    f.procs[0]?.exit({ exitCode: 1 });
    await new Promise((r) => setTimeout(r, 0));
    const notes = s.notes();
    expect(
      notes.some((n) =>
        /the conntrack stream on node n1 ended at 1970-01-01T00:00:00.000Z \(exit 1: WARNING: We have hit ENOBUFS/.test(
          n,
        ),
      ),
    ).toBe(true);
    expect(notes).toContain("conntrack on node n1 lost events (netlink buffer full): some connections may be missing");
    expect(s.available()).toBe(true); // what was seen before the end still counts
    await s.stop();
    expect(f.calls.filter((c) => c.includes("kill"))).toEqual([]); // already ended
  });

  it("a stream that dies before its first line does not count as started", async () => {
    const f = fakes({ pidLine: false });
    const spawn: LineSpawner = (file, args, on) => {
      const p = f.spawn(file, args, on);
      queueMicrotask(() => f.procs.at(-1)?.exit({ exitCode: 126 }));
      return p;
    };
    const s = new ConntrackStream({ nodes: ["n1"], nodePort: 30080, run: f.run, spawn, startTimeoutMs: 1000 });
    await s.start();
    expect(s.available()).toBe(false);
    expect(s.notes()[0]).toMatch(/ended at .* \(exit 126/);
  });

  it("no nodes: unavailable with a note", async () => {
    const s = new ConntrackStream({ nodes: [], nodePort: 30080, run: fakes().run, spawn: fakes().spawn });
    await s.start();
    expect(s.available()).toBe(false);
    expect(s.notes()).toEqual(["no kind node to read connections from"]);
  });
});

describe("conntrack command lines", () => {
  it("event mode: NEW, UPDATES and DESTROY with timestamps, filtered on the NodePort", () => {
    expect(conntrackEventArgs(30080).join(" ")).toBe(
      "conntrack -E -p tcp -e NEW,UPDATES,DESTROY -o timestamp --orig-port-dst 30080",
    );
    expect(streamCommand("n", 31000).args.slice(0, 3)).toEqual(["exec", "n", "sh"]);
  });

  it("explains failures in words", () => {
    expect(explainConntrackFailure("n", Object.assign(new Error("spawn docker ENOENT"), { code: "ENOENT" }))).toBe(
      "`docker` is not on PATH",
    );
    expect(
      explainConntrackFailure(
        "n",
        new CommandError("docker", [], 1, "Error response from daemon: No such container: n"),
      ),
    ).toBe("node n is not running");
    expect(
      explainConntrackFailure("n", new CommandError("docker", [], 2, "conntrack: bad option\nTry `conntrack -h'")),
    ).toMatch(/^conntrack failed on node n: conntrack: bad option/);
  });
});

describe("execaLineSpawner (a real short process)", () => {
  it("delivers stdout and stderr line by line and the exit", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const p = execaLineSpawner("sh", ["-c", 'echo "$1"; echo two; echo oops >&2; exit 3', "sh", "one"], {
      stdout: (l) => out.push(l),
      stderr: (l) => err.push(l),
    });
    expect(await p.exited).toMatchObject({ exitCode: 3 });
    await new Promise((r) => setTimeout(r, 20));
    expect(out).toEqual(["one", "two"]);
    expect(err).toEqual(["oops"]);
  });

  it("kill ends a long-lived process; a missing binary resolves with ENOENT", async () => {
    const p = execaLineSpawner("sleep", ["30"], { stdout: () => {}, stderr: () => {} });
    p.kill();
    expect(await p.exited).toMatchObject({ signal: "SIGTERM" });
    const missing = execaLineSpawner("graceful-e2e-no-such-binary", [], { stdout: () => {}, stderr: () => {} });
    expect((await missing.exited).errorCode).toBe("ENOENT");
  });
});
