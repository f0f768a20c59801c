// kind: PID 1 read from the LIVE process and the /proc inspection read on the node, with a fake
// command runner answering as a kind node does (crictl inspect JSON, /proc texts in the kernel's
// formats), and the exec-in-container fallbacks. Last, NODE_SCRIPT for real on this machine's /proc
// against a process in its own PID namespace (unshare), where that is permitted.
import { type ChildProcess, spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { KubeConfig } from "@kubernetes/client-node";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inspectOnKind, type KindPodReaders, pid1ViaCrictl, readLivePid1 } from "../../src/backends/kind/backend.js";
import { podPrediction } from "../../src/inspect/pod-prediction.js";
import { predict } from "../../src/inspect/predict.js";
import { CommandError, type CommandRunner } from "../../src/k8s/command.js";
import { attachReadings, type Pid1Request, readPodBeforeSignals } from "../../src/k8s/driver.js";
import { TimelineBuilder } from "../../src/k8s/timeline-from-watch.js";
import { containerIdOf, inspectOnNode, parseCrictlInspect } from "../../src/observe/node-proc.js";
import { EXEC_SCRIPT, inspectByExec, NODE_SCRIPT } from "../../src/observe/process-tree.js";

const M = "@@graceful-e2e@@";
const ID = "a9b497a8da1e6d66450b5c7a97154efb266b501d2c6aba2e9386a95f634a5598";
const NODE = "graceful-e2e-control-plane";
const REQ: Pid1Request = {
  namespace: "ge-exec-0abcdef",
  pod: "app-6d9c7b5f4-x2x7q",
  container: "app",
  nodeName: NODE,
  containerID: `containerd://${ID}`,
};

/** `crictl inspect -o json` of a running container, as containerd 1.4 (kind v1.20 nodes) prints it (trimmed). */
function crictlJson(pid: number | undefined, args: string[]): string {
  return JSON.stringify(
    {
      status: {
        id: ID,
        metadata: { attempt: 0, name: "app" },
        state: "CONTAINER_RUNNING",
        createdAt: "2026-11-26T19:52:07.366517423Z",
        startedAt: "2026-11-26T19:52:07.551229047Z",
        finishedAt: "1970-01-01T00:00:00Z",
        exitCode: 0,
        image: { image: "docker.io/graceful-e2e/exec:5f1c0e2a9b7d" },
        imageRef: "sha256:5f1c0e2a9b7d6c1e0f3a2b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f80",
        reason: "",
        message: "",
        labels: { "io.kubernetes.container.name": "app", "io.kubernetes.pod.name": REQ.pod },
        logPath: `/var/log/pods/${REQ.namespace}_${REQ.pod}_0b7c/app/0.log`,
      },
      info: {
        sandboxID: "3f6e1d2c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
        ...(pid !== undefined ? { pid } : {}),
        removing: false,
        snapshotKey: ID,
        snapshotter: "overlayfs",
        runtimeType: "io.containerd.runc.v2",
        runtimeOptions: null,
        runtimeSpec: {
          ociVersion: "1.0.2-dev",
          process: {
            user: { uid: 0, gid: 0 },
            args,
            env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "PORT=8080"],
            cwd: "/app",
          },
        },
      },
    },
    null,
    2,
  );
}

/** /proc/<pid>/status as the kernel writes it (seen from the node: NSpid = node pid, container pid). */
function statusText(o: {
  name: string;
  pid: number;
  ppid: number;
  nspid: number[];
  nspgid?: number[];
  cgt?: string;
  ign?: string;
  blk?: string;
}): string {
  return [
    `Name:\t${o.name}`,
    "Umask:\t0022",
    "State:\tS (sleeping)",
    `Tgid:\t${o.pid}`,
    "Ngid:\t0",
    `Pid:\t${o.pid}`,
    `PPid:\t${o.ppid}`,
    "TracerPid:\t0",
    "Uid:\t0\t0\t0\t0",
    "Gid:\t0\t0\t0\t0",
    "FDSize:\t64",
    "Groups:\t ",
    `NStgid:\t${o.nspid.join("\t")}`,
    `NSpid:\t${o.nspid.join("\t")}`,
    `NSpgid:\t${(o.nspgid ?? o.nspid).join("\t")}`,
    `NSsid:\t${(o.nspgid ?? o.nspid).join("\t")}`,
    "VmPeak:\t  613992 kB",
    "Threads:\t7",
    "SigQ:\t0/31556",
    "SigPnd:\t0000000000000000",
    "ShdPnd:\t0000000000000000",
    `SigBlk:\t${o.blk ?? "0000000000000000"}`,
    `SigIgn:\t${o.ign ?? "0000000000000000"}`,
    `SigCgt:\t${o.cgt ?? "0000000000000000"}`,
    "CapInh:\t00000000a80425fb",
    "NoNewPrivs:\t0",
    "Seccomp:\t0",
    "Cpus_allowed_list:\t0-1",
    "voluntary_ctxt_switches:\t151",
    "nonvoluntary_ctxt_switches:\t12",
  ].join("\n");
}

// Masks of the sample images (read with docker top + /proc/<host pid>/status; see inspect-proc.test.ts).
const NODE_MASKS = { cgt: "0000000108026e07", ign: "0000000001001000" };
const BASH_MASKS = { cgt: "0000000000010002", ign: "0000000000000004", blk: "0000000000010000" };
const TINI_MASKS = { ign: "0000000000300000" };

interface FakeProc {
  status: string;
  cmdline: string;
  wchan: string;
  syscall: string;
  fds: string[];
}

const TCP = [
  "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
  "   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3358921 1 0000000070fe3c0d 100 0 0 10 0",
  "   1: 00000000:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3358977 1 0000000093e59d0b 100 0 0 10 0",
  "   2: 0A F4 00 05:1F90 0A F4 00 01:A2C4 01 00000000:00000000 00:00000000 00000000     0        0 3360001 1 0 20 4 30 10 -1",
  "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
].join("\n");

/** What NODE_SCRIPT prints (same sequence of sections) for the given processes. */
function nodeScriptOutput(procs: FakeProc[], match = "pid-namespace"): string {
  const out = [`${M} self 31337`, `${M} match ${match}`];
  for (const p of procs) {
    const pid = /^Pid:\t(\d+)/m.exec(p.status)?.[1];
    out.push(`${M} pid ${pid}`, p.status, `${M} cmdline`, p.cmdline, `${M} wchan`, p.wchan, `${M} syscall`);
    out.push(p.syscall, `${M} fd`, ...p.fds);
  }
  out.push(`${M} tcp`, TCP, "");
  return out.join("\n");
}

const EXEC_STYLE: FakeProc[] = [
  {
    status: statusText({ name: "node", pid: 4242, ppid: 4201, nspid: [4242, 1], ...NODE_MASKS }),
    cmdline: "node\0/app/server.js\0",
    wchan: "do_epoll_wait",
    syscall: "232 0x11 0x7ffc4b8e2a10 0x400 0xffffffff 0x0 0x0 0x7ffc4b8e29c8 0x7f3a1c2b4dfe",
    fds: ["/dev/null", "pipe:[3358801]", "pipe:[3358802]", "anon_inode:[eventpoll]", "socket:[3358921]"],
  },
];

const TINI_STYLE: FakeProc[] = [
  {
    status: statusText({ name: "tini", pid: 4242, ppid: 4201, nspid: [4242, 1], ...TINI_MASKS }),
    cmdline: "tini\0--\0/app/entrypoint.sh\0",
    wchan: "do_sigtimedwait.isra.0",
    syscall: "128 0x7ffe0b1f5d40 0x7ffe0b1f5cc0 0x7ffe0b1f5cb0 0x8 0x0 0x0 0x7ffe0b1f5c98 0x4a1f5e",
    fds: ["/dev/null", "pipe:[3358801]", "pipe:[3358802]"],
  },
  {
    status: statusText({ name: "entrypoint.sh", pid: 4270, ppid: 4242, nspid: [4270, 7], ...BASH_MASKS }),
    cmdline: "/bin/bash\0/app/entrypoint.sh\0",
    wchan: "do_wait",
    syscall: "61 0xffffffff 0x7ffd2c1b0a90 0x0 0x0 0x0 0x0 0x7ffd2c1b0a68 0x7f0e9b6a2c1a",
    fds: ["/dev/null", "pipe:[3358801]", "pipe:[3358802]"],
  },
  {
    status: statusText({
      name: "node",
      pid: 4271,
      ppid: 4270,
      nspid: [4271, 8],
      nspgid: [4270, 7],
      ...NODE_MASKS,
    }),
    cmdline: "node\0/app/server.js\0",
    wchan: "do_epoll_wait",
    syscall: "232 0x11 0x7ffc4b8e2a10 0x400 0xffffffff 0x0 0x0 0x7ffc4b8e29c8 0x7f3a1c2b4dfe",
    fds: ["/dev/null", "anon_inode:[eventpoll]", "socket:[3358921]"],
  },
  {
    status: statusText({
      name: "node",
      pid: 4272,
      ppid: 4270,
      nspid: [4272, 9],
      nspgid: [4270, 7],
      ...NODE_MASKS,
    }),
    cmdline: "node\0/app/server.js\0",
    wchan: "do_epoll_wait",
    syscall: "232 0x11 0x7ffc4b8e2a10 0x400 0xffffffff 0x0 0x0 0x7ffc4b8e29c8 0x7f3a1c2b4dfe",
    fds: ["/dev/null", "anon_inode:[eventpoll]", "socket:[3358977]"],
  },
];

/** A kind node behind `docker exec <node> …`: crictl, cat /proc/<pid>/cmdline and NODE_SCRIPT. */
function fakeNode(world: {
  pid?: number;
  args: string[];
  procs: FakeProc[];
  crictl?: "fails";
  cat?: "fails";
  script?: "fails";
}) {
  const calls: string[][] = [];
  const run: CommandRunner = async (file, args) => {
    calls.push([file, ...args]);
    const fail = (stderr: string) => new CommandError(file, args, 1, stderr);
    if (file !== "docker" || args[0] !== "exec" || args[1] !== NODE) throw fail("unexpected command");
    const argv = args.slice(2);
    if (argv[0] === "crictl") {
      if (world.crictl === "fails")
        throw fail(`time="…" level=fatal msg="getting the status of the container: not found"`);
      expect(argv).toEqual(["crictl", "inspect", "-o", "json", ID]);
      return { stdout: crictlJson(world.pid, world.args), stderr: "" };
    }
    if (argv[0] === "cat") {
      if (world.cat === "fails") throw fail(`cat: ${argv[1]}: No such file or directory`);
      const proc = world.procs.find((p) => argv[1] === `/proc/${/^Pid:\t(\d+)/m.exec(p.status)?.[1]}/cmdline`);
      if (!proc) throw fail(`cat: ${argv[1]}: No such file or directory`);
      return { stdout: proc.cmdline, stderr: "" };
    }
    if (argv[0] === "sh") {
      if (world.script === "fails") throw fail('OCI runtime exec failed: exec: "sh": executable file not found');
      // The script text is fixed; the PID comes as an argument ($1), never spliced into the text.
      expect(argv.slice(0, 4)).toEqual(["sh", "-c", NODE_SCRIPT, "sh"]);
      expect(argv[4]).toBe(String(world.pid));
      return { stdout: nodeScriptOutput(world.procs), stderr: "" };
    }
    throw fail("unexpected command");
  };
  return { run, calls };
}

/** The exec-API fallbacks, recorded. */
function readers(run: CommandRunner, exec: { pid1?: string; inspect?: "script" | "none" } = {}) {
  const used: string[] = [];
  const r: KindPodReaders = {
    run,
    execPid1: async () => {
      used.push("execPid1");
      if (exec.pid1 === undefined) throw new Error('unable to upgrade connection: container not found ("app")');
      return exec.pid1;
    },
    execInspect: (req, notes) => {
      used.push("execInspect");
      return inspectByExec(
        async (argv) => {
          if (exec.inspect === "script" && argv[0] === "sh") {
            expect(argv).toEqual(["sh", "-c", EXEC_SCRIPT]);
            return {
              exitCode: 0,
              stdout: nodeScriptOutput([
                {
                  ...EXEC_STYLE[0],
                  status: statusText({ name: "node", pid: 1, ppid: 0, nspid: [1], ...NODE_MASKS }),
                } as FakeProc,
              ]).replace(`${M} match pid-namespace\n`, ""),
              stderr: "",
            };
          }
          return { exitCode: 126, stdout: "", stderr: 'exec: "sh": executable file not found in $PATH' };
        },
        req.containerID ?? "?",
        { source: "kube-exec", via: `the Kubernetes exec API (${req.pod}/${req.container})` },
        notes,
      );
    },
  };
  return { r, used };
}

describe("crictl inspect", () => {
  it("gives the container's PID on the node and its configured argv", () => {
    expect(parseCrictlInspect(crictlJson(4242, ["/app/entrypoint.sh"]))).toEqual({
      pid: 4242,
      args: ["/app/entrypoint.sh"],
    });
    expect(parseCrictlInspect(crictlJson(undefined, ["x"]))).toEqual({ args: ["x"] });
    expect(() => parseCrictlInspect("FATA[0000] not found")).toThrow(/JSON/);
  });

  it("container ids: the runtime prefix is dropped; anything but an id is refused", () => {
    expect(containerIdOf(`containerd://${ID}`)).toBe(ID);
    expect(containerIdOf(`cri-o://${ID}`)).toBe(ID);
    expect(() => containerIdOf("containerd://abc; rm -rf /")).toThrow(/not a container id/);
    expect(() => containerIdOf("")).toThrow(/not a container id/);
  });
});

describe("PID 1 on kind: the live process, as on the local backend", () => {
  it("exec style: crictl's configured command is the script, the live PID 1 is node (read on the node)", async () => {
    const node = fakeNode({ pid: 4242, args: ["/app/entrypoint.sh"], procs: EXEC_STYLE });
    const { r, used } = readers(node.run);
    expect(await readLivePid1(r, REQ)).toEqual({ cmdline: "node /app/server.js" });
    expect(node.calls.map((c) => c.join(" "))).toEqual([
      `docker exec ${NODE} crictl inspect -o json ${ID}`,
      `docker exec ${NODE} cat /proc/4242/cmdline`,
    ]);
    expect(used).toEqual([]);
    // what the configured command alone would have said
    expect(await pid1ViaCrictl(node.run, REQ)).toBe("/app/entrypoint.sh");
  });

  it("the node's /proc not readable: cat /proc/1/cmdline in the container through the exec API", async () => {
    const node = fakeNode({ pid: 4242, args: ["/app/entrypoint.sh"], procs: EXEC_STYLE, cat: "fails" });
    const { r, used } = readers(node.run, { pid1: "node /app/server.js" });
    expect(await readLivePid1(r, REQ)).toEqual({ cmdline: "node /app/server.js" });
    expect(used).toEqual(["execPid1"]);
  });

  it("neither: the configured command, and the note says so", async () => {
    const node = fakeNode({ pid: 4242, args: ["/app/entrypoint.sh"], procs: EXEC_STYLE, cat: "fails" });
    const { r } = readers(node.run);
    const got = await readLivePid1(r, REQ);
    expect(got.cmdline).toBe("/app/entrypoint.sh");
    expect(got.note).toMatch(/CONFIGURED command \(crictl inspect runtimeSpec\.process\.args\), not the live process/);
    expect(got.note).toMatch(/No such file or directory/);
    expect(got.note).toMatch(/container not found/);
  });

  it("nothing at all: an error naming every attempt", async () => {
    const node = fakeNode({ args: [], procs: [], crictl: "fails" });
    const { r } = readers(node.run);
    await expect(readLivePid1(r, REQ)).rejects.toThrow(/on the node: .*not found.*exec in the container/);
    await expect(readLivePid1(r, { ...REQ, nodeName: undefined })).rejects.toThrow(/no node or container id yet/);
  });
});

describe("/proc inspection on kind", () => {
  it("exec style read on the node: node is PID 1, catches SIGTERM, listens on 8080; node PIDs kept", async () => {
    const node = fakeNode({ pid: 4242, args: ["/app/entrypoint.sh"], procs: EXEC_STYLE });
    const { r, used } = readers(node.run);
    const inspection = await inspectOnKind(r, REQ);
    expect(used).toEqual([]);
    expect(inspection).toMatchObject({ containerId: ID, source: "node-proc", notes: [] });
    expect(inspection.sourceDetail).toMatch(
      new RegExp(`docker exec ${NODE} cat /proc/<node pid>/status.*node PID 4242`),
    );
    expect(inspection.processes).toHaveLength(1);
    expect(inspection.processes[0]).toMatchObject({
      pid: 1,
      ppid: 0,
      hostPid: 4242,
      command: "node /app/server.js",
      sigterm: { disposition: "caught" },
      waitsForSignals: false,
      listens: [8080],
    });
    expect(predict(inspection.processes, { port: 8080 }).cause).toBe("node-pid1");
  });

  it("tini style: the whole tree in the container's PID namespace, tini waiting in sigtimedwait", async () => {
    const node = fakeNode({ pid: 4242, args: ["tini", "--", "/app/entrypoint.sh"], procs: TINI_STYLE });
    const { r } = readers(node.run);
    const inspection = await inspectOnKind(r, REQ);
    expect(inspection.source).toBe("node-proc");
    expect(
      inspection.processes.map((p) => [p.pid, p.ppid, p.hostPid, p.command, p.sigterm.disposition, p.listens]),
    ).toEqual([
      [1, 0, 4242, "tini -- /app/entrypoint.sh", "default", []],
      [7, 1, 4270, "/bin/bash /app/entrypoint.sh", "default", []],
      [8, 7, 4271, "node /app/server.js", "caught", [8080]],
      [9, 7, 4272, "node /app/server.js", "caught", [8081]],
    ]);
    expect(inspection.processes[0]?.waitsForSignals).toBe(true);
    expect(inspection.processes[2]?.pgid).toBe(7);
    const prediction = predict(inspection.processes, { port: 8080 });
    expect(prediction.pid1?.command).toBe("tini -- /app/entrypoint.sh");
    expect(prediction.summary).toMatch(/^PID 1 is tini -- \/app\/entrypoint\.sh/);
  });

  it("processes found by cgroup (ns links unreadable) are noted", async () => {
    const exec = async (argv: string[]) =>
      argv[0] === "sh" ? nodeScriptOutput(EXEC_STYLE, "cgroup") : crictlJson(4242, ["node", "/app/server.js"]);
    const inspection = await inspectOnNode(exec, `containerd://${ID}`, `docker exec ${NODE}`);
    expect(inspection.notes).toEqual([expect.stringMatching(/found by cgroup/)]);
  });

  it("a PID that is not a container's PID 1 is refused (the caller falls back)", async () => {
    const notInit = [{ ...EXEC_STYLE[0], status: statusText({ name: "node", pid: 4242, ppid: 1, nspid: [4242] }) }];
    const exec = async (argv: string[]) =>
      argv[0] === "sh" ? nodeScriptOutput(notInit as FakeProc[]) : crictlJson(4242, ["x"]);
    await expect(inspectOnNode(exec, ID, "x")).rejects.toThrow(/not PID 1 of a container's PID namespace/);
  });

  it("no node access: the same script through the Kubernetes exec API, and why", async () => {
    const node = fakeNode({ pid: 4242, args: ["/app/entrypoint.sh"], procs: EXEC_STYLE, script: "fails" });
    const { r, used } = readers(node.run, { inspect: "script" });
    const inspection = await inspectOnKind(r, REQ);
    expect(used).toEqual(["execInspect"]);
    expect(inspection.source).toBe("kube-exec");
    expect(inspection.sourceDetail).toMatch(/the Kubernetes exec API \(app-6d9c7b5f4-x2x7q\/app\) sh -c/);
    expect(inspection.notes[0]).toMatch(/the node's \/proc not usable \(.*executable file not found.*\)/);
    expect(inspection.processes.map((p) => [p.pid, p.command, p.sigterm.disposition, p.listens])).toEqual([
      [1, "node /app/server.js", "caught", [8080]],
    ]);
    expect(inspection.processes[0]?.hostPid).toBeUndefined();
  });

  it("neither the node nor a shell in the image: source none, every reason noted", async () => {
    const node = fakeNode({ args: [], procs: [], crictl: "fails" });
    const { r } = readers(node.run, { inspect: "none" });
    const inspection = await inspectOnKind(r, REQ);
    expect(inspection).toMatchObject({ source: "none", processes: [] });
    expect(inspection.notes.join("\n")).toMatch(
      /node's \/proc not usable[\s\S]*no shell in the image[\s\S]*failed too/,
    );
    expect(predict(inspection.processes).cause).toBe("nothing-read");
  });
});

describe("inspectByExec (docker exec and the Kubernetes exec API alike)", () => {
  it("an image with cat but no sh: PID 1 alone", async () => {
    const inspection = await inspectByExec(
      async (argv) => {
        if (argv[0] === "sh") return { exitCode: 127, stdout: "", stderr: "sh: not found" };
        if (argv[1] === "/proc/1/status") {
          return { exitCode: 0, stdout: statusText({ name: "server", pid: 1, ppid: 0, nspid: [1] }), stderr: "" };
        }
        return { exitCode: 0, stdout: "/server\u0000--port\u00008080\u0000", stderr: "" };
      },
      "abc",
      { source: "kube-exec", via: "the Kubernetes exec API (p/app)" },
    );
    expect(inspection.source).toBe("kube-exec");
    expect(inspection.notes).toEqual([
      "no shell in the image (the Kubernetes exec API (p/app) sh: sh: not found)",
      "only PID 1 could be read (the Kubernetes exec API (p/app) cat /proc/1/status)",
    ]);
    expect(inspection.processes.map((p) => [p.pid, p.command, p.sigterm.disposition])).toEqual([
      [1, "/server --port 8080", "default"],
    ]);
  });

  it("an exec that rejects is a failed attempt, not an exception", async () => {
    const inspection = await inspectByExec(
      async () => {
        throw new Error("websocket closed");
      },
      "abc",
      { source: "docker-exec", via: "docker exec abc" },
    );
    expect(inspection.source).toBe("none");
    expect(inspection.notes[0]).toMatch(/websocket closed/);
  });
});

// NODE_SCRIPT itself, on this machine's real /proc: a process in a PID namespace of its own (what a
// container is) plays the container; this machine plays the node. Needs root (unshare --pid).
const unshareWorks = await execa("unshare", ["--pid", "--fork", "true"], { reject: false })
  .then((r) => r.exitCode === 0)
  .catch(() => false);

describe.skipIf(!unshareWorks)("NODE_SCRIPT on a real /proc (unshare --pid)", () => {
  let child: ChildProcess | undefined;
  let initPid = 0;

  beforeAll(async () => {
    // PID 1 of the new namespace: node catching SIGTERM and listening; a child `sleep` under it.
    const app =
      "process.on('SIGTERM',()=>{});require('node:child_process').spawn('sleep',['60'],{stdio:'ignore'});" +
      "require('node:net').createServer().listen(0,'127.0.0.1',()=>process.stdout.write('up\\n'));";
    child = spawn("unshare", ["--pid", "--fork", "--kill-child", process.execPath, "-e", app], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise<void>((resolve, reject) => {
      child?.stdout?.once("data", () => resolve());
      child?.once("exit", (code) => reject(new Error(`unshare exited ${code}`)));
    });
    // The namespace's PID 1 as this machine sees it: the child of `unshare` whose NSpid ends in 1.
    for (const d of await readdir("/proc")) {
      if (!/^\d+$/.test(d)) continue;
      const status = await readFile(`/proc/${d}/status`, "utf8").catch(() => "");
      if (new RegExp(`^PPid:\\t${child.pid}$`, "m").test(status) && /^NSpid:\t\d+\t1$/m.test(status)) {
        initPid = Number(d);
      }
    }
    if (!initPid) throw new Error("the namespace's PID 1 was not found");
  });

  afterAll(() => {
    if (child?.pid) process.kill(child.pid, "SIGKILL");
  });

  it("finds exactly the namespace's processes, with their dispositions, ports and node PIDs", async () => {
    const local = async (argv: string[]) => (await execa(argv[0] as string, argv.slice(1))).stdout;
    const inspection = await inspectOnNode(local, ID, "(this machine)", { pid: initPid });
    expect(inspection.source).toBe("node-proc");
    const [init, sleep] = inspection.processes;
    expect(init).toMatchObject({ pid: 1, ppid: 0, hostPid: initPid, name: "node" });
    expect(init?.sigterm.disposition).toBe("caught");
    expect(init?.listens).toHaveLength(1);
    expect(sleep).toMatchObject({ ppid: 1, command: "sleep 60", sigterm: { disposition: "default" } });
    expect(inspection.processes).toHaveLength(2);
    // the script's own shell and commands are in this machine's namespace: never listed
    expect(inspection.processes.every((p) => p.pid < 100)).toBe(true);
  });

  it("refuses a PID that is not digits, and a process that does not exist", async () => {
    const local = (argv: string[]) => execa(argv[0] as string, argv.slice(1), { reject: false });
    const bad = await local(["sh", "-c", NODE_SCRIPT, "sh", "1; echo pwned"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stdout).not.toMatch(/pwned/);
    const gone = await local(["sh", "-c", NODE_SCRIPT, "sh", "999999999"]);
    expect(gone.exitCode).toBe(3);
  });
});

describe("the driver puts the readings on the disrupted pod's outcome (kind wiring)", () => {
  it("inspection, prediction, PID 1 (with its note) and the tree from the inspection", async () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "c", server: "http://127.0.0.1:9" }],
      users: [{ name: "u" }],
      contexts: [{ name: "x", cluster: "c", user: "u" }],
      currentContext: "x",
    });
    const node = fakeNode({ pid: 4242, args: ["tini", "--", "/app/entrypoint.sh"], procs: TINI_STYLE, cat: "fails" });
    const { r } = readers(node.run);
    const options = {
      kc,
      readPid1: (req: Pid1Request) => readLivePid1(r, req),
      inspectProcesses: (req: Pid1Request) => inspectOnKind(r, req),
    };
    const builder = new TimelineBuilder({ container: "app" });
    // The steps deploy() and disrupt() take, without an API server.
    const reading = await readPodBeforeSignals(options, REQ, builder);
    builder.deleteCalled(REQ.pod, Date.now());
    const outcomes = builder.outcomes([REQ.pod]);
    attachReadings(outcomes, new Map([[REQ.pod, reading]]));
    const [o] = outcomes;
    expect(o?.inspection?.source).toBe("node-proc");
    expect(o && podPrediction(o, 8080)).toMatch(/^PID 1 is tini -- \/app\/entrypoint\.sh/);
    expect(o?.pid1Cmdline).toBe("tini -- /app/entrypoint.sh");
    expect(o?.notes).toContainEqual(expect.stringMatching(/^PID 1 shown is the CONFIGURED command/));
    expect(o?.processTree).toEqual([
      { pid: 1, ppid: 0, command: "tini -- /app/entrypoint.sh" },
      { pid: 7, ppid: 1, command: "/bin/bash /app/entrypoint.sh" },
      { pid: 8, ppid: 7, command: "node /app/server.js" },
      { pid: 9, ppid: 7, command: "node /app/server.js" },
    ]);
  });
});
