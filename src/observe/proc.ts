// Pure parsers for the /proc files the process-tree inspection reads: status (signal masks,
// namespace PIDs), net/tcp{,6} (listening sockets, established connections) and the kernel's rules for what a signal
// with each disposition does to a process.
//
// Signal masks in /proc/<pid>/status are hexadecimal bitmasks where signal n is bit n-1:
// SIGTERM (15) is bit 14, mask 0x4000.

import type { SignalDisposition, SignalState } from "../model/process-tree.js";

export const SIGTERM = 15;

export interface ProcStatus {
  /** The command name (comm, at most 15 characters). */
  name: string;
  /** PID as the reader's PID namespace sees it. */
  pid: number;
  ppid: number;
  /** NSpid: the PID in every nested PID namespace, outermost first (last = inside the container). */
  nspid: number[];
  /** NSpgid / NSsid: process group and session in the same namespaces (last = inside). */
  nspgid: number[];
  nssid: number[];
  sigBlk: bigint;
  sigIgn: bigint;
  sigCgt: bigint;
  /** Signals pending for this thread / for the whole process. */
  sigPnd: bigint;
  shdPnd: bigint;
}

function hexMask(value: string | undefined): bigint {
  if (!value || !/^[0-9a-fA-F]+$/.test(value.trim())) return 0n;
  return BigInt(`0x${value.trim()}`);
}

function numbers(value: string | undefined): number[] {
  return (value ?? "")
    .trim()
    .split(/\s+/)
    .filter((x) => x !== "")
    .map(Number)
    .filter((n) => Number.isInteger(n));
}

/** Parses /proc/<pid>/status. Throws when the text has no Pid line (not a status file). */
export function parseProcStatus(text: string): ProcStatus {
  const fields = new Map<string, string>();
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  const pid = Number(fields.get("Pid"));
  if (!Number.isInteger(pid) || pid <= 0) throw new Error("not a /proc/<pid>/status text (no Pid line)");
  const nspid = numbers(fields.get("NSpid"));
  return {
    name: fields.get("Name") ?? "",
    pid,
    ppid: Number(fields.get("PPid") ?? 0),
    nspid: nspid.length > 0 ? nspid : [pid],
    nspgid: numbers(fields.get("NSpgid")),
    nssid: numbers(fields.get("NSsid")),
    sigBlk: hexMask(fields.get("SigBlk")),
    sigIgn: hexMask(fields.get("SigIgn")),
    sigCgt: hexMask(fields.get("SigCgt")),
    sigPnd: hexMask(fields.get("SigPnd")),
    shdPnd: hexMask(fields.get("ShdPnd")),
  };
}

/** Whether signal `signo` (1-based) is set in a /proc signal mask. */
export function maskHas(mask: bigint, signo: number): boolean {
  return ((mask >> BigInt(signo - 1)) & 1n) === 1n;
}

/** The mask as /proc prints it (16 hex digits). */
export function formatMask(mask: bigint): string {
  return mask.toString(16).padStart(16, "0");
}

export function signalState(status: ProcStatus, signo = SIGTERM): SignalState {
  const caught = maskHas(status.sigCgt, signo);
  const ignored = maskHas(status.sigIgn, signo);
  const blocked = maskHas(status.sigBlk, signo);
  const disposition: SignalDisposition = ignored ? "ignored" : caught ? "caught" : blocked ? "blocked" : "default";
  return { disposition, caught, ignored, blocked };
}

/**
 * Whether a process waits for signals synchronously (sigtimedwait/sigwaitinfo, signalfd), judged
 * from /proc/<pid>/wchan (and the syscall it sleeps in). tini, dumb-init and catatonit work this
 * way: while they wait, the kernel shows the waited-for signals as neither caught nor blocked
 * (the mask in status is the temporary one), yet the signal is delivered to them — a PID 1 that
 * looks "default" in its status can still receive SIGTERM.
 */
export function waitsForSignals(wchan: string | undefined, syscall?: string, arch: string = process.arch): boolean {
  if (wchan && /sigtimedwait|sigwaitinfo|signalfd/i.test(wchan)) return true;
  const nr = Number((syscall ?? "").trim().split(/\s+/)[0]);
  if (!Number.isInteger(nr)) return false;
  // rt_sigtimedwait: 128 on x86_64, 137 on arm64/riscv64 (generic syscall table).
  const rtSigtimedwait: Record<string, number> = { x64: 128, arm64: 137, riscv64: 137 };
  return rtSigtimedwait[arch] === nr;
}

export interface ListeningSocket {
  port: number;
  inode: number;
  /** Local address as /proc prints it (hex). */
  address: string;
}

/** TCP state codes as /proc/net/tcp prints them (include/net/tcp_states.h, hex). */
export const TCP_STATE_ESTABLISHED = "01";
export const TCP_STATE_LISTEN = "0A";

/** One row of /proc/<pid>/net/tcp or net/tcp6 (the socket table of the process's network namespace). */
export interface TcpTableRow {
  /** Local address as /proc prints it (hex, host byte order per 32-bit word). */
  localHex: string;
  localPort: number;
  remoteHex: string;
  remotePort: number;
  /** Two hex digits: 01 ESTABLISHED, 0A LISTEN, 06 TIME_WAIT... */
  state: string;
  inode: number;
}

/** Every well-formed row of /proc/<pid>/net/tcp or net/tcp6 (the header line is skipped). */
export function parseTcpTable(text: string): TcpTableRow[] {
  const out: TcpTableRow[] = [];
  for (const line of text.split("\n").slice(1)) {
    const cols = line.trim().split(/\s+/);
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
    if (cols.length < 10) continue;
    const [localHex, localPortHex] = (cols[1] ?? "").split(":");
    const [remoteHex, remotePortHex] = (cols[2] ?? "").split(":");
    const localPort = Number.parseInt(localPortHex ?? "", 16);
    const remotePort = Number.parseInt(remotePortHex ?? "", 16);
    const inode = Number(cols[9]);
    if (!Number.isInteger(localPort) || !Number.isInteger(remotePort) || !Number.isInteger(inode)) continue;
    out.push({
      localHex: localHex ?? "",
      localPort,
      remoteHex: remoteHex ?? "",
      remotePort,
      state: (cols[3] ?? "").toUpperCase(),
      inode,
    });
  }
  return out;
}

/**
 * A /proc/net/tcp{,6} address in readable form. Each 32-bit word is printed in host byte order
 * (little-endian on x86-64 and arm64, which is what this assumes): 0100007F = 127.0.0.1.
 */
export function decodeProcAddress(hex: string): string {
  const word = (w: string) => (w.match(/../g) ?? []).reverse().map((b) => Number.parseInt(b, 16));
  if (hex.length === 8) return word(hex).join(".");
  if (hex.length !== 32) return hex;
  const bytes = [0, 8, 16, 24].flatMap((i) => word(hex.slice(i, i + 8)));
  // IPv4-mapped (::ffff:a.b.c.d): how a dual-stack listener sees IPv4 clients.
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return `::ffff:${bytes.slice(12).join(".")}`;
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  // RFC 5952: the longest run of two or more zero groups becomes "::".
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j === i ? i + 1 : j;
  }
  if (best.len < 2) return groups.join(":");
  return `${groups.slice(0, best.at).join(":")}::${groups.slice(best.at + best.len).join(":")}`;
}

/**
 * Established TCP connections whose local port is `port` (the container's listening port) in one or
 * more /proc/<pid>/net/tcp / tcp6 texts: the client connections the container holds right now, as
 * its own socket table says (independent of the node's conntrack).
 */
export function countEstablished(port: number, ...tables: string[]): number {
  return tables
    .flatMap((t) => parseTcpTable(t))
    .filter((r) => r.state === TCP_STATE_ESTABLISHED && r.localPort === port).length;
}

/** TCP sockets in state LISTEN (0A) from /proc/<pid>/net/tcp or net/tcp6. */
export function parseListeningSockets(text: string): ListeningSocket[] {
  return parseTcpTable(text)
    .filter((r) => r.state === TCP_STATE_LISTEN)
    .map((r) => ({ port: r.localPort, inode: r.inode, address: r.localHex }));
}

/** The inode of a "socket:[12345]" file descriptor link, if it is one. */
export function socketInode(link: string): number | undefined {
  const m = /^socket:\[(\d+)\]$/.exec(link.trim());
  return m ? Number(m[1]) : undefined;
}

/** /proc/<pid>/cmdline (NUL-separated argv) as a list; empty for kernel threads and zombies. */
export function parseCmdline(raw: string): string[] {
  const parts = raw.split("\0");
  if (parts.at(-1) === "") parts.pop();
  return parts;
}
