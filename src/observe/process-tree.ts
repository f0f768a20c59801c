// Reads a running container's process tree and every process's SIGTERM disposition, before any
// signal is sent. Preferred: from the HOST, with the host PIDs `docker top` reports and
// /proc/<host pid>/{status,cmdline,wchan,syscall,fd,net/tcp} (root can read them; the reading
// is checked to belong to the container through /proc/<pid>/cgroup or NSpid). Fallback when the
// host's /proc is not the daemon's (Docker Desktop, a remote DOCKER_HOST, no permission):
// `docker exec <id> sh -c '…cat /proc/…'` inside the container, or PID 1's status alone when
// the image has no shell.
// The same texts are read for Kubernetes pods (one parser, parseExecOutput + buildProcesses): on a
// kind node with NODE_SCRIPT (node-proc.ts), or inside the container with EXEC_SCRIPT through the
// Kubernetes exec API (inspectByExec, k8s/driver.ts).
import { readdir, readFile, readlink } from "node:fs/promises";
import type { InspectedProcess, ProcessTreeInspection } from "../model/process-tree.js";
import { errorText } from "../util/errors.js";
import { configureTestcontainersOffline } from "../util/testcontainers-env.js";
import {
  formatMask,
  type ListeningSocket,
  type ProcStatus,
  parseCmdline,
  parseListeningSockets,
  parseProcStatus,
  signalState,
  socketInode,
  waitsForSignals,
} from "./proc.js";

/** One process's raw /proc texts, wherever they were read. */
export interface RawProcess {
  /** PID in the namespace the texts were read from. */
  readPid: number;
  status: string;
  cmdline: string;
  wchan?: string;
  syscall?: string;
  /** Targets of the fd links ("socket:[123]", "/dev/null", ...). */
  fdLinks: string[];
}

/**
 * Builds the inspected processes from raw /proc texts. Pure. PIDs are mapped into the
 * container's namespace (the last NSpid entry); a parent outside the set becomes 0.
 */
export function buildProcesses(
  raws: RawProcess[],
  listening: ListeningSocket[],
  opts: { fromHost: boolean; arch?: string },
): InspectedProcess[] {
  const portByInode = new Map(listening.map((l) => [l.inode, l.port]));
  const parsed: Array<{ raw: RawProcess; st: ProcStatus }> = [];
  for (const raw of raws) {
    try {
      parsed.push({ raw, st: parseProcStatus(raw.status) });
    } catch {
      // the process went away between listing and reading
    }
  }
  const inner = new Map(parsed.map(({ st }) => [st.pid, st.nspid.at(-1) ?? st.pid]));
  return parsed
    .map(({ raw, st }): InspectedProcess => {
      const argv = parseCmdline(raw.cmdline);
      const ports = new Set<number>();
      for (const link of raw.fdLinks) {
        const inode = socketInode(link);
        const port = inode === undefined ? undefined : portByInode.get(inode);
        if (port !== undefined) ports.add(port);
      }
      return {
        pid: st.nspid.at(-1) ?? st.pid,
        ppid: inner.get(st.ppid) ?? 0,
        ...(opts.fromHost ? { hostPid: st.pid } : {}),
        ...(st.nspgid.length > 0 ? { pgid: st.nspgid.at(-1) } : {}),
        ...(st.nssid.length > 0 ? { sid: st.nssid.at(-1) } : {}),
        argv,
        command: argv.length > 0 ? argv.join(" ") : `[${st.name}]`,
        name: st.name,
        sigterm: signalState(st),
        masks: { caught: formatMask(st.sigCgt), ignored: formatMask(st.sigIgn), blocked: formatMask(st.sigBlk) },
        waitsForSignals: waitsForSignals(raw.wchan, raw.syscall, opts.arch),
        ...(raw.wchan !== undefined && raw.wchan !== "" && raw.wchan !== "0" ? { wchan: raw.wchan } : {}),
        listens: [...ports].sort((a, b) => a - b),
      };
    })
    .sort((a, b) => a.pid - b.pid);
}

async function readOptional(path: string): Promise<string | undefined> {
  return readFile(path, "utf8").catch(() => undefined);
}

async function fdLinks(pid: number | string): Promise<string[]> {
  const dir = `/proc/${pid}/fd`;
  const names = await readdir(dir).catch(() => [] as string[]);
  const links = await Promise.all(names.map((n) => readlink(`${dir}/${n}`).catch(() => "")));
  return links.filter((l) => l !== "");
}

async function hostPids(containerId: string): Promise<number[]> {
  configureTestcontainersOffline();
  // Imported here: the kind and existing backends read process trees by the Kubernetes exec API only.
  const { getContainerRuntimeClient } = await import("testcontainers");
  const client = await getContainerRuntimeClient();
  const top = (await client.container.dockerode.getContainer(containerId).top({ ps_args: "-o pid" })) as {
    Titles: string[];
    Processes: string[][];
  };
  const col = Math.max(
    0,
    top.Titles.findIndex((t) => t.trim().toUpperCase() === "PID"),
  );
  return top.Processes.map((p) => Number(p[col])).filter((n) => Number.isInteger(n) && n > 0);
}

async function fromHost(containerId: string): Promise<ProcessTreeInspection> {
  const pids = await hostPids(containerId);
  if (pids.length === 0) throw new Error("docker top listed no process");
  const raws: RawProcess[] = [];
  let cgroupMatches = 0;
  for (const pid of pids) {
    const status = await readOptional(`/proc/${pid}/status`);
    if (status === undefined) continue;
    const cgroup = (await readOptional(`/proc/${pid}/cgroup`)) ?? "";
    if (cgroup.includes(containerId)) cgroupMatches++;
    raws.push({
      readPid: pid,
      status,
      cmdline: (await readOptional(`/proc/${pid}/cmdline`)) ?? "",
      wchan: (await readOptional(`/proc/${pid}/wchan`))?.trim(),
      syscall: (await readOptional(`/proc/${pid}/syscall`))?.trim(),
      fdLinks: await fdLinks(pid),
    });
  }
  if (raws.length === 0) throw new Error(`/proc/<pid>/status is not readable for the host PIDs ${pids.join(", ")}`);
  // The network namespace is shared by the container's processes: one reading is enough.
  const first = raws[0]?.readPid;
  const listening = [
    ...parseListeningSockets((await readOptional(`/proc/${first}/net/tcp`)) ?? ""),
    ...parseListeningSockets((await readOptional(`/proc/${first}/net/tcp6`)) ?? ""),
  ];
  const processes = buildProcesses(raws, listening, { fromHost: true });
  const notes: string[] = [];
  if (cgroupMatches === raws.length) {
    // every process is in the container's cgroup: the host PIDs are this container's
  } else if (processes.some((p) => p.pid === 1)) {
    notes.push("the host's /proc/<pid>/cgroup does not name the container; its PID 1 was found through NSpid");
  } else {
    throw new Error(
      "the host PIDs docker top gave are not this container's processes here (no cgroup match, no PID 1): " +
        "this machine's /proc is not the Docker daemon's",
    );
  }
  return {
    containerId,
    at: Date.now(),
    source: "host-proc",
    sourceDetail: `read from the host: /proc/<host pid>/status for the host PIDs docker top reported (${pids.join(", ")})`,
    processes,
    notes,
  };
}

const MARK = "@@graceful-e2e@@";

/** The /proc texts of one process directory "$d" (PID "$p"): the sections parseExecOutput reads. */
const PER_PROCESS = [
  `  echo "${MARK} pid $p"`,
  '  cat "$d/status" 2>/dev/null',
  `  echo "${MARK} cmdline"`,
  '  cat "$d/cmdline" 2>/dev/null',
  "  echo",
  `  echo "${MARK} wchan"`,
  '  cat "$d/wchan" 2>/dev/null',
  "  echo",
  `  echo "${MARK} syscall"`,
  '  cat "$d/syscall" 2>/dev/null',
  `  echo "${MARK} fd"`,
  '  for f in "$d"/fd/*; do readlink "$f" 2>/dev/null; done',
];

/** POSIX sh run inside the container: every process's status, cmdline, wchan, syscall, fds; the TCP tables. */
export const EXEC_SCRIPT = [
  `echo "${MARK} self $$"`,
  "for d in /proc/[0-9]*; do",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a template
  '  p="${d#/proc/}"',
  '  [ -r "$d/status" ] || continue',
  ...PER_PROCESS,
  "done",
  `echo "${MARK} tcp"`,
  "cat /proc/net/tcp /proc/net/tcp6 2>/dev/null",
].join("\n");

/**
 * POSIX sh run on a Kubernetes NODE (kind: `docker exec <node> sh -c NODE_SCRIPT sh <pid>`), for
 * the container whose PID 1 is node PID $1 (crictl inspect's info.pid): the same texts as
 * EXEC_SCRIPT for every process in that container's PID namespace (same /proc/<p>/ns/pid link; where
 * that link cannot be read, the same /proc/<p>/cgroup), and the TCP tables of its network namespace.
 * The PID arrives as an argument, never inside the script text, and is checked to be digits.
 */
export const NODE_SCRIPT = [
  'pid="$1"',
  'case "$pid" in ""|*[!0-9]*) echo "not a pid: $pid" >&2; exit 2;; esac',
  '[ -r "/proc/$pid/status" ] || { echo "no process $pid on this node" >&2; exit 3; }',
  'ns=$(readlink "/proc/$pid/ns/pid" 2>/dev/null)',
  'cg=$(cat "/proc/$pid/cgroup" 2>/dev/null)',
  `echo "${MARK} self $$"`,
  `if [ -n "$ns" ]; then echo "${MARK} match pid-namespace"; else echo "${MARK} match cgroup"; fi`,
  "for d in /proc/[0-9]*; do",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a template
  '  p="${d#/proc/}"',
  '  [ -r "$d/status" ] || continue',
  '  if [ -n "$ns" ]; then [ "$(readlink "$d/ns/pid" 2>/dev/null)" = "$ns" ] || continue',
  '  else [ "$(cat "$d/cgroup" 2>/dev/null)" = "$cg" ] || continue; fi',
  ...PER_PROCESS,
  "done",
  `echo "${MARK} tcp"`,
  'cat "/proc/$pid/net/tcp" "/proc/$pid/net/tcp6" 2>/dev/null',
].join("\n");

/**
 * Parses EXEC_SCRIPT's or NODE_SCRIPT's output (pure); the script's own shell and its children are
 * left out. `matchedBy`: how NODE_SCRIPT picked the container's processes (pid-namespace | cgroup).
 */
export function parseExecOutput(out: string): { raws: RawProcess[]; listening: ListeningSocket[]; matchedBy?: string } {
  const raws: RawProcess[] = [];
  let self = -1;
  let matchedBy: string | undefined;
  let current: RawProcess | undefined;
  let section: "status" | "cmdline" | "wchan" | "syscall" | "fd" | "tcp" | undefined;
  const tcp: string[] = [];
  const cmdline: string[] = [];
  const flushCmdline = () => {
    if (current) current.cmdline = cmdline.join("\n").replace(/\n$/, "");
    cmdline.length = 0;
  };
  for (const line of out.split("\n")) {
    if (line.startsWith(MARK)) {
      const [, what, arg] = line.split(" ");
      if (section === "cmdline") flushCmdline();
      if (what === "self") self = Number(arg);
      else if (what === "match") matchedBy = arg;
      else if (what === "pid") {
        current = { readPid: Number(arg), status: "", cmdline: "", fdLinks: [] };
        raws.push(current);
        section = "status";
      } else section = what as typeof section;
      continue;
    }
    if (section === "tcp") tcp.push(line);
    else if (!current) continue;
    else if (section === "status") current.status += `${line}\n`;
    else if (section === "cmdline") cmdline.push(line);
    else if (section === "wchan") current.wchan = `${current.wchan ?? ""}${line}`.trim();
    else if (section === "syscall") current.syscall = `${current.syscall ?? ""}${line}`.trim();
    else if (section === "fd" && line.trim() !== "") current.fdLinks.push(line.trim());
  }
  if (section === "cmdline") flushCmdline();
  const isOurs = (r: RawProcess) => {
    if (r.readPid === self) return true;
    try {
      return parseProcStatus(r.status).ppid === self;
    } catch {
      return true;
    }
  };
  // Several TCP tables follow one another: each has its own header line, which the parser skips
  // only as the first line, so parse them one by one.
  const tables = tcp.join("\n").split(/\n(?=\s*sl\s+local_address)/);
  return {
    raws: raws.filter((r) => !isOurs(r)),
    listening: tables.flatMap((t) => parseListeningSockets(t)),
    ...(matchedBy !== undefined ? { matchedBy } : {}),
  };
}

/** Runs argv inside the container (docker exec, the Kubernetes exec API); never rejects. */
export type ContainerExec = (argv: string[]) => Promise<{ exitCode: number; stdout: string; stderr: string }>;

/** How an exec-based reading names itself in the report. */
export interface ExecReader {
  source: "docker-exec" | "kube-exec";
  /** "docker exec <id>", "the Kubernetes exec API (pod/container)" */
  via: string;
}

/**
 * The process tree read INSIDE the container by exec: EXEC_SCRIPT when the image has a POSIX sh,
 * else PID 1's status and cmdline alone (cat), else nothing. Never throws; `notes` come first in the
 * result's notes (why this fallback was used).
 */
export async function inspectByExec(
  exec: ContainerExec,
  containerId: string,
  reader: ExecReader,
  notes: string[] = [],
): Promise<ProcessTreeInspection> {
  const out = [...notes];
  const safe = (argv: string[]) =>
    exec(argv).catch((err: unknown) => ({ exitCode: -1, stdout: "", stderr: errorText(err) }));
  const shell = await safe(["sh", "-c", EXEC_SCRIPT]);
  if (shell.exitCode === 0 && shell.stdout.includes(MARK)) {
    const { raws, listening } = parseExecOutput(shell.stdout);
    return {
      containerId,
      at: Date.now(),
      source: reader.source,
      sourceDetail: `read inside the container: ${reader.via} sh -c 'cat /proc/<pid>/status …'`,
      processes: buildProcesses(raws, listening, { fromHost: false }),
      notes: out,
    };
  }
  out.push(
    `no shell in the image (${reader.via} sh: ${shell.stderr.trim().slice(0, 120) || `exit ${shell.exitCode}`})`,
  );
  const status = await safe(["cat", "/proc/1/status"]);
  const cmdline = await safe(["cat", "/proc/1/cmdline"]);
  if (status.exitCode === 0 && status.stdout.includes("Pid:")) {
    out.push(`only PID 1 could be read (${reader.via} cat /proc/1/status)`);
    return {
      containerId,
      at: Date.now(),
      source: reader.source,
      sourceDetail: `read inside the container: ${reader.via} cat /proc/1/status (PID 1 only)`,
      processes: buildProcesses(
        [{ readPid: 1, status: status.stdout, cmdline: cmdline.exitCode === 0 ? cmdline.stdout : "", fdLinks: [] }],
        [],
        { fromHost: false },
      ),
      notes: out,
    };
  }
  out.push(`${reader.via} cat /proc/1/status failed too`);
  return { containerId, at: Date.now(), source: "none", sourceDetail: "could not be read", processes: [], notes: out };
}

async function fromExec(containerId: string, hostError: string): Promise<ProcessTreeInspection> {
  configureTestcontainersOffline();
  const { getContainerRuntimeClient } = await import("testcontainers");
  const client = await getContainerRuntimeClient();
  const container = client.container.getById(containerId);
  return inspectByExec(
    (argv) => client.container.exec(container, argv),
    containerId,
    { source: "docker-exec", via: `docker exec ${containerId.slice(0, 12)}` },
    [`host /proc not usable (${hostError})`],
  );
}

/**
 * The container's processes with their SIGTERM dispositions, read before any signal. Never
 * throws for an unreadable container: the result says where it read from (source) and why a
 * reading was incomplete (notes).
 */
export async function inspectProcessTree(containerId: string): Promise<ProcessTreeInspection> {
  try {
    return await fromHost(containerId);
  } catch (err) {
    try {
      return await fromExec(containerId, errorText(err));
    } catch (err2) {
      return {
        containerId,
        at: Date.now(),
        source: "none",
        sourceDetail: "could not be read",
        processes: [],
        notes: [`host /proc: ${errorText(err)}`, `docker exec: ${errorText(err2)}`],
      };
    }
  }
}

/** The host's /proc reading alone (never docker exec): throws when it is not usable here. */
export function inspectProcessTreeFromHost(containerId: string): Promise<ProcessTreeInspection> {
  return fromHost(containerId);
}
