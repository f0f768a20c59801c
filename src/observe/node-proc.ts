// Reading a Kubernetes container's processes from the NODE it runs on, the way inspect.ts reads a
// local container from the host: the container's PID 1 as the node sees it (crictl inspect's
// info.pid), then the node's /proc for every process in that container's PID namespace. The node is
// reached through a NodeExec (kind: `docker exec <node container> …`); argument arrays only, and the
// only value from outside that reaches a shell is a PID checked to be digits (passed as $1).

import type { ProcessTreeInspection } from "../model/process-tree.js";
import { countEstablished } from "./proc.js";
import { buildProcesses, NODE_SCRIPT, parseExecOutput } from "./process-tree.js";

/** Runs argv on the node; resolves with its stdout, rejects when it fails. */
export type NodeExec = (argv: string[]) => Promise<string>;

/** What `crictl inspect -o json` says about a container. */
export interface CrictlContainer {
  /** PID 1 of the container as the node sees it (info.pid). */
  pid?: number;
  /** The configured command (info.runtimeSpec.process.args): what was started, not what runs now. */
  args?: string[];
}

/** "containerd://0123…" (containerStatuses[].containerID) → "0123…"; refuses anything but an id. */
export function containerIdOf(containerID: string): string {
  const id = containerID.replace(/^[a-z0-9.+-]+:\/\//i, "");
  if (!/^[0-9a-zA-Z]{1,128}$/.test(id)) throw new Error(`not a container id: ${JSON.stringify(containerID)}`);
  return id;
}

function positivePid(pid: unknown): number | undefined {
  return typeof pid === "number" && Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Parses `crictl inspect -o json` (pure). */
export function parseCrictlInspect(json: string): CrictlContainer {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch {
    throw new Error("crictl inspect did not print JSON");
  }
  const info = (data as { info?: { pid?: unknown; runtimeSpec?: { process?: { args?: unknown } } } } | null)?.info;
  const args = info?.runtimeSpec?.process?.args;
  const pid = positivePid(info?.pid);
  return {
    ...(pid !== undefined ? { pid } : {}),
    ...(Array.isArray(args) && args.every((a) => typeof a === "string") && args.length > 0
      ? { args: args as string[] }
      : {}),
  };
}

/** `crictl inspect -o json <id>` on the node. */
export async function crictlInspect(exec: NodeExec, containerID: string): Promise<CrictlContainer> {
  return parseCrictlInspect(await exec(["crictl", "inspect", "-o", "json", containerIdOf(containerID)]));
}

/** /proc/<pid>/cmdline on the node, as words ("" when the process has no argv). */
export async function cmdlineOnNode(exec: NodeExec, pid: number): Promise<string> {
  if (positivePid(pid) === undefined) throw new Error(`not a pid: ${pid}`);
  const raw = await exec(["cat", `/proc/${pid}/cmdline`]);
  const words = raw.split("\0").filter(Boolean);
  if (words.length === 0) throw new Error(`/proc/${pid}/cmdline on the node is empty`);
  return words.join(" ");
}

/**
 * The container's processes and their SIGTERM dispositions, read on its node. Throws when that is
 * not possible (no PID from crictl, no shell or /proc on the node, no PID 1 found): the caller
 * falls back to exec in the container.
 */
export async function inspectOnNode(
  exec: NodeExec,
  containerID: string,
  how: string,
  known?: CrictlContainer,
): Promise<ProcessTreeInspection> {
  const info = known?.pid !== undefined ? known : await crictlInspect(exec, containerID);
  const pid = info.pid;
  if (pid === undefined) throw new Error("crictl inspect gave no PID (info.pid) for the container");
  const out = await exec(["sh", "-c", NODE_SCRIPT, "sh", String(pid)]);
  const { raws, listening, matchedBy } = parseExecOutput(out);
  const processes = buildProcesses(raws, listening, { fromHost: true });
  if (!processes.some((p) => p.pid === 1 && p.hostPid === pid)) {
    throw new Error(`node PID ${pid} is not PID 1 of a container's PID namespace on the node (${raws.length} read)`);
  }
  const notes =
    matchedBy === "cgroup"
      ? ["the node's /proc/<pid>/ns/pid links were not readable: the container's processes were found by cgroup"]
      : [];
  return {
    containerId: containerIdOf(containerID),
    at: Date.now(),
    source: "node-proc",
    sourceDetail:
      `read on the node: ${how} cat /proc/<node pid>/status, cmdline, wchan, fd… for every process in the PID ` +
      `namespace of the container's PID 1 (node PID ${pid}, from crictl inspect)`,
    processes,
    notes,
  };
}

/**
 * Established connections on the container's port in its own socket table (the pod's network
 * namespace: /proc/<node pid>/net/tcp and tcp6 read on the node), right now. Independent of
 * conntrack: what the pod itself holds open.
 */
export async function establishedOnNode(exec: NodeExec, containerID: string, port: number): Promise<number> {
  const { pid } = await crictlInspect(exec, containerID);
  if (pid === undefined) throw new Error("crictl inspect gave no PID (info.pid) for the container");
  const [tcp, tcp6] = await Promise.all([
    exec(["cat", `/proc/${pid}/net/tcp`]),
    exec(["cat", `/proc/${pid}/net/tcp6`]).catch(() => ""),
  ]);
  return countEstablished(port, tcp, tcp6);
}
