// /proc parsing → SIGTERM disposition, listening sockets, and the docker-exec fallback's output.
import { describe, expect, it } from "vitest";
import {
  maskHas,
  parseCmdline,
  parseListeningSockets,
  parseProcStatus,
  SIGTERM,
  signalState,
  socketInode,
  waitsForSignals,
} from "../../src/observe/proc.js";
import { buildProcesses, EXEC_SCRIPT, NODE_SCRIPT, parseExecOutput } from "../../src/observe/process-tree.js";

/** A /proc/<pid>/status text as the kernel writes it (the lines the inspection reads, and a few others). */
function statusText(o: {
  name: string;
  pid: number;
  ppid: number;
  nspid?: number[];
  nspgid?: number[];
  cgt?: string;
  ign?: string;
  blk?: string;
}): string {
  const ns = o.nspid ?? [o.pid];
  return [
    `Name:\t${o.name}`,
    "Umask:\t0022",
    "State:\tS (sleeping)",
    `Tgid:\t${o.pid}`,
    `Pid:\t${o.pid}`,
    `PPid:\t${o.ppid}`,
    "TracerPid:\t0",
    `NSpid:\t${ns.join("\t")}`,
    `NSpgid:\t${(o.nspgid ?? ns).join("\t")}`,
    `NSsid:\t${(o.nspgid ?? ns).join("\t")}`,
    "SigQ:\t0/96365",
    "SigPnd:\t0000000000000000",
    "ShdPnd:\t0000000000000000",
    `SigBlk:\t${o.blk ?? "0000000000000000"}`,
    `SigIgn:\t${o.ign ?? "0000000000000000"}`,
    `SigCgt:\t${o.cgt ?? "0000000000000000"}`,
    "CapInh:\t0000000000000000",
    "",
  ].join("\n");
}

// Masks read from the sample images on this machine (docker top + /proc/<host pid>/status).
const MASKS = {
  node: { cgt: "0000000108026e07", ign: "0000000001001000" },
  sh: { cgt: "0000000000010002" },
  bash: { cgt: "0000000000010002", ign: "0000000000000004", blk: "0000000000010000" },
  bashTrap: { cgt: "0000000000014002", ign: "0000000000000004", blk: "0000000000010000" },
  tini: { ign: "0000000000300000" },
};

describe("/proc/<pid>/status", () => {
  it("parses pid, parent, namespace pids and the three masks", () => {
    const st = parseProcStatus(statusText({ name: "node", pid: 12120, ppid: 12093, nspid: [12120, 7], ...MASKS.node }));
    expect(st).toMatchObject({ name: "node", pid: 12120, ppid: 12093, nspid: [12120, 7] });
    expect(st.sigCgt).toBe(0x108026e07n);
    expect(st.sigIgn).toBe(0x1001000n);
    expect(st.sigBlk).toBe(0n);
  });

  it("refuses a text that is not a status file", () => {
    expect(() => parseProcStatus("hello")).toThrow(/Pid/);
  });

  it("signal n is bit n-1: SIGTERM (15) is 0x4000", () => {
    expect(maskHas(0x4000n, SIGTERM)).toBe(true);
    expect(maskHas(0x8000n, SIGTERM)).toBe(false);
    expect(maskHas(0x2000n, SIGTERM)).toBe(false);
    // sh: SIGINT (2) and SIGCHLD (17) caught, not SIGTERM
    expect(maskHas(0x10002n, 2)).toBe(true);
    expect(maskHas(0x10002n, 17)).toBe(true);
    expect(maskHas(0x10002n, SIGTERM)).toBe(false);
  });

  it.each([
    { what: "node (caught)", masks: MASKS.node, disposition: "caught" },
    { what: "sh (default)", masks: MASKS.sh, disposition: "default" },
    // bash blocks SIGCHLD while it waits: not SIGTERM
    { what: "bash without trap (default)", masks: MASKS.bash, disposition: "default" },
    { what: "bash with a TERM trap (caught)", masks: MASKS.bashTrap, disposition: "caught" },
    {
      what: "SIG_IGN beats a handler",
      masks: { cgt: "0000000000004000", ign: "0000000000004000" },
      disposition: "ignored",
    },
    { what: "blocked, no handler", masks: { blk: "0000000000004000" }, disposition: "blocked" },
    { what: "caught and blocked", masks: { cgt: "0000000000004000", blk: "0000000000004000" }, disposition: "caught" },
  ])("$what", ({ masks, disposition }) => {
    const st = parseProcStatus(statusText({ name: "x", pid: 5, ppid: 1, ...masks }));
    expect(signalState(st).disposition).toBe(disposition);
  });

  it("reports the blocked flag beside the disposition", () => {
    const st = parseProcStatus(
      statusText({ name: "x", pid: 5, ppid: 1, cgt: "0000000000004000", blk: "0000000000004000" }),
    );
    expect(signalState(st)).toEqual({ disposition: "caught", caught: true, ignored: false, blocked: true });
  });
});

describe("synchronous signal waiters (tini)", () => {
  it("wchan in sigtimedwait means the process receives SIGTERM though its masks look default", () => {
    expect(waitsForSignals("do_sigtimedwait.isra.0")).toBe(true);
    expect(waitsForSignals("signalfd_dequeue")).toBe(true);
    expect(waitsForSignals("do_epoll_wait")).toBe(false);
    expect(waitsForSignals(undefined)).toBe(false);
  });

  it("falls back to the syscall number (rt_sigtimedwait) per architecture", () => {
    expect(waitsForSignals("0", "128 0x7ffc 0x7ffd", "x64")).toBe(true);
    expect(waitsForSignals("0", "137 0x1 0x2", "arm64")).toBe(true);
    expect(waitsForSignals("0", "232 0xd", "x64")).toBe(false);
  });
});

describe("listening sockets and fds", () => {
  const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 142764 1 0000000093e59d0b 100 0 0 10 0
   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 142761 1 0000000070fe3c0d 100 0 0 10 0
   2: 0100007F:1F90 0100007F:D2A8 01 00000000:00000000 00:00000000 00000000     0        0 150000 1 0000000070fe3c0d 100 0 0 10 0`;

  it("keeps LISTEN (0A) sockets with their port and inode", () => {
    expect(parseListeningSockets(TCP)).toEqual([
      { port: 8081, inode: 142764, address: "00000000" },
      { port: 8080, inode: 142761, address: "00000000" },
    ]);
  });

  it("reads socket inodes from fd links", () => {
    expect(socketInode("socket:[142761]")).toBe(142761);
    expect(socketInode("/dev/null")).toBeUndefined();
  });

  it("splits cmdline on NUL", () => {
    expect(parseCmdline("node\0/app/server.js\0")).toEqual(["node", "/app/server.js"]);
    expect(parseCmdline("")).toEqual([]);
  });

  it("builds the tree in the container's PID namespace with ports per process", () => {
    const ps = buildProcesses(
      [
        {
          readPid: 25937,
          status: statusText({ name: "tini", pid: 25937, ppid: 25900, nspid: [25937, 1], ...MASKS.tini }),
          cmdline: "tini\0--\0/app/entrypoint.sh\0",
          wchan: "do_sigtimedwait.isra.0",
          fdLinks: ["/dev/null"],
        },
        {
          readPid: 25967,
          status: statusText({ name: "bash", pid: 25967, ppid: 25937, nspid: [25967, 7], ...MASKS.bash }),
          cmdline: "/bin/bash\0/app/entrypoint.sh\0",
          wchan: "do_wait",
          fdLinks: [],
        },
        {
          readPid: 25968,
          status: statusText({
            name: "node",
            pid: 25968,
            ppid: 25967,
            nspid: [25968, 8],
            nspgid: [25967, 7],
            ...MASKS.node,
          }),
          cmdline: "node\0/app/server.js\0",
          wchan: "do_epoll_wait",
          fdLinks: ["socket:[142761]", "pipe:[1]"],
        },
      ],
      parseListeningSockets(TCP),
      { fromHost: true },
    );
    expect(ps.map((p) => [p.pid, p.ppid, p.hostPid, p.sigterm.disposition, p.waitsForSignals, p.listens])).toEqual([
      [1, 0, 25937, "default", true, []],
      [7, 1, 25967, "default", false, []],
      [8, 7, 25968, "caught", false, [8080]],
    ]);
    expect(ps[2]?.pgid).toBe(7);
    expect(ps[0]?.command).toBe("tini -- /app/entrypoint.sh");
  });
});

describe("docker exec fallback", () => {
  it("the script is plain POSIX sh reading /proc", () => {
    expect(EXEC_SCRIPT).toMatch(/for d in \/proc\/\[0-9\]\*/);
  });

  it("both scripts (in the container, on a node) read the same texts, syscall included", () => {
    for (const script of [EXEC_SCRIPT, NODE_SCRIPT]) {
      for (const file of ["status", "cmdline", "wchan", "syscall"]) expect(script).toContain(`cat "$d/${file}"`);
      expect(script).toContain('readlink "$f"');
    }
    // The node script takes the PID as $1 only and checks it is digits before anything else.
    expect(NODE_SCRIPT.split("\n").slice(0, 2)).toEqual([
      'pid="$1"',
      'case "$pid" in ""|*[!0-9]*) echo "not a pid: $pid" >&2; exit 2;; esac',
    ]);
  });

  it("a synchronous signal waiter seen only through its syscall (wchan 0) is recognised", () => {
    const M = "@@graceful-e2e@@";
    const out = [
      `${M} self 40`,
      `${M} pid 1`,
      statusText({ name: "tini", pid: 1, ppid: 0, ...MASKS.tini }).trimEnd(),
      `${M} cmdline`,
      "tini\0--\0/app/entrypoint.sh\0",
      `${M} wchan`,
      "0",
      `${M} syscall`,
      "128 0x7ffe0b1f5d40 0x7ffe0b1f5cc0 0x7ffe0b1f5cb0 0x8 0x0 0x0 0x7ffe0b1f5c98 0x4a1f5e",
      `${M} fd`,
      "/dev/null",
      `${M} tcp`,
      "",
    ].join("\n");
    const { raws } = parseExecOutput(out);
    expect(raws[0]?.syscall).toMatch(/^128 /);
    const [p] = buildProcesses(raws, [], { fromHost: false, arch: "x64" });
    expect(p).toMatchObject({ pid: 1, command: "tini -- /app/entrypoint.sh", waitsForSignals: true });
  });

  it("parses the script's output and leaves out its own shell and children", () => {
    const M = "@@graceful-e2e@@";
    const out = [
      `${M} self 40`,
      `${M} pid 1`,
      statusText({ name: "node", pid: 1, ppid: 0, ...MASKS.node }).trimEnd(),
      `${M} cmdline`,
      "node\0/app/server.js\0",
      `${M} wchan`,
      "do_epoll_wait",
      `${M} fd`,
      "/dev/null",
      "socket:[142761]",
      `${M} pid 40`,
      statusText({ name: "sh", pid: 40, ppid: 0 }).trimEnd(),
      `${M} cmdline`,
      "sh\0-c\0…\0",
      `${M} wchan`,
      "do_wait",
      `${M} fd`,
      `${M} pid 41`,
      statusText({ name: "cat", pid: 41, ppid: 40 }).trimEnd(),
      `${M} cmdline`,
      "cat\0",
      `${M} wchan`,
      "0",
      `${M} fd`,
      `${M} tcp`,
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
      "   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 142761 1 0 100 0 0 10 0",
      "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
      "   0: 00000000000000000000000000000000:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 150001 1 0 100 0 0 10 0",
      "",
    ].join("\n");
    const { raws, listening } = parseExecOutput(out);
    expect(raws.map((r) => r.readPid)).toEqual([1]);
    expect(raws[0]?.cmdline).toBe("node\0/app/server.js\0");
    expect(listening.map((l) => l.port)).toEqual([8080, 8081]);
    const [p] = buildProcesses(raws, listening, { fromHost: false });
    expect(p).toMatchObject({ pid: 1, ppid: 0, command: "node /app/server.js", listens: [8080] });
    expect(p?.hostPid).toBeUndefined();
  });
});
