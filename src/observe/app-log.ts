// THE reader of the sample app's log lines, for every backend (local: Docker's log stream; kind and
// existing: the API's log stream, timestamps=true), and the one place app events become per-process
// reports. Pure: no I/O.
//
// Formats understood (images/app/server.js writes the first; the 1.20 recordings have the second):
//   JSON  {"t": epochMs, "event": "...", "pid", "ppid", "role", ...event-specific fields}
//         (signal+phase, drain-start/listener-closed: openConnections+inFlight, drain-end: reason+…,
//         exit: code, start: port, host, node, …)
//   text  <app ISO time> pid=<n> <role>:<port> listening on <port> | received <SIG> |
//         server closed (…) err=…; exit <n>
// Either may be prefixed by the kubelet's RFC3339Nano timestamp ("<ts> <line>", logs read with
// timestamps=true); the app's own time is used when it wrote one, the prefix otherwise.

import type { TimelineEvent, TimelineEventKind } from "../model/events.js";
import type { AppExit } from "../model/exit-evidence.js";
import type { ProcessReport } from "../model/pod-outcome.js";
import { parseRfc3339 } from "../util/time.js";

/** One thing the app said about itself. */
export interface AppLine {
  /** Epoch ms: the app's own clock when it wrote one, else the log timestamp, else the caller's fallback. */
  at: number;
  /** The runtime's log timestamp (the RFC3339Nano prefix), when the line had one. */
  loggedAt?: number;
  /** The app's event name: start, listening, signal, drain-start, listener-closed, drain-end, exit, … */
  event: string;
  pid?: number;
  ppid?: number;
  /** Which process of the image this is (APP_ROLE; "app" when the line names none). */
  role: string;
  /** Every event-specific field the line carried (signal, phase, code, openConnections, inFlight, reason…). */
  fields: Record<string, unknown>;
  format: "json" | "text";
}

/** App events that become timeline events (the others — listening, listener-closed, fault-injected… — do not). */
const KINDS: Record<string, TimelineEventKind> = {
  start: "app-start",
  signal: "app-signal",
  "drain-start": "app-drain-start",
  "drain-end": "app-drain-end",
  exit: "app-exit",
};

/** The app's own `t`: epoch ms, epoch seconds, or an ISO string. */
function appTime(t: unknown): number | undefined {
  if (typeof t === "number" && Number.isFinite(t)) return t < 1e11 ? Math.round(t * 1000) : t;
  if (typeof t === "string") return parseRfc3339(t) ?? (Number.isNaN(Date.parse(t)) ? undefined : Date.parse(t));
  return undefined;
}

const PREFIX = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d))\s(.*)$/s;

/**
 * One raw log line → the app events it states: none (not an app line), one, or two (the text format
 * says "server closed …; exit 0" on one line). `fallbackAt` times a line that carries no time at all.
 */
export function parseAppLine(raw: string, fallbackAt?: number): AppLine[] {
  const line = raw.trim();
  const prefix = PREFIX.exec(line);
  const loggedAt = prefix?.[1] ? parseRfc3339(prefix[1]) : undefined;
  if (prefix?.[2] !== undefined && loggedAt !== undefined) {
    const rest = prefix[2].trim();
    const parsed = rest.startsWith("{") ? jsonLine(rest, loggedAt, fallbackAt) : textLine(rest, loggedAt, fallbackAt);
    if (parsed.length > 0) return parsed;
    // Not a prefix after all: a text line without one starts with the app's own time.
  }
  if (line.startsWith("{")) return jsonLine(line, undefined, fallbackAt);
  const text = textLine(line, undefined, fallbackAt);
  if (text.length > 0) return text;
  // Docker merges stdout and stderr into one stream: a stderr fragment may precede a JSON line.
  const brace = line.indexOf('{"');
  return brace > 0 ? jsonLine(line.slice(brace), loggedAt, fallbackAt) : [];
}

function jsonLine(text: string, loggedAt: number | undefined, fallbackAt: number | undefined): AppLine[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return [];
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) return [];
  const { t, event, pid, ppid, role, ...fields } = data as Record<string, unknown>;
  if (typeof event !== "string" || event === "") return [];
  const at = appTime(t) ?? loggedAt ?? fallbackAt;
  if (at === undefined) return [];
  return [
    {
      at,
      ...(loggedAt !== undefined ? { loggedAt } : {}),
      event,
      ...(typeof pid === "number" ? { pid } : {}),
      ...(typeof ppid === "number" ? { ppid } : {}),
      role: typeof role === "string" && role !== "" ? role : "app",
      fields,
      format: "json",
    },
  ];
}

function textLine(text: string, loggedAt: number | undefined, fallbackAt: number | undefined): AppLine[] {
  const m = /^(\S+)\s+pid=(\d+)\s+(\S+)\s+(.*)$/.exec(text);
  if (!m?.[1] || !m[2] || !m[3] || m[4] === undefined) return [];
  const at = appTime(m[1]) ?? loggedAt ?? fallbackAt;
  if (at === undefined) return [];
  const [role, port] = m[3].split(":");
  const base = {
    at,
    ...(loggedAt !== undefined ? { loggedAt } : {}),
    pid: Number(m[2]),
    role: role || "app",
    format: "text" as const,
  };
  const portField = port && /^\d+$/.test(port) ? { port: Number(port) } : {};
  const msg = m[4];
  const out: AppLine[] = [];
  if (/^listening\b/.test(msg)) out.push({ ...base, event: "listening", fields: portField });
  const sig = /^received (SIG[A-Z0-9]+)/.exec(msg);
  if (sig?.[1]) out.push({ ...base, event: "signal", fields: { signal: sig[1] } });
  if (/^(closing|draining|shutting down)\b/.test(msg)) out.push({ ...base, event: "drain-start", fields: {} });
  const closed = /^server closed\b(?:\s*\(([^)]*)\))?/.exec(msg);
  if (closed) out.push({ ...base, event: "drain-end", fields: closed[1] ? { reason: closed[1] } : {} });
  const exit = /\bexit (-?\d+)\s*$/.exec(msg);
  if (exit?.[1]) out.push({ ...base, event: "exit", fields: { code: Number(exit[1]) } });
  return out;
}

/**
 * An app line → its timeline event, if it has one. detail = pid, ppid, format and every
 * event-specific field, under the names the app wrote them. The text format has no "start" line:
 * its "listening" line stands for the start (detail.event says so).
 */
export function appEvent(line: AppLine, pod: string): TimelineEvent | undefined {
  const textStart = line.format === "text" && line.event === "listening";
  const kind = textStart ? "app-start" : KINDS[line.event];
  if (!kind) return undefined;
  return {
    at: line.at,
    kind,
    source: "app",
    pod,
    process: line.role,
    detail: {
      ...(line.pid !== undefined ? { pid: line.pid } : {}),
      ...(line.ppid !== undefined ? { ppid: line.ppid } : {}),
      ...line.fields,
      ...(textStart ? { event: "listening" } : {}),
      format: line.format,
    },
  };
}

/** A raw log line of a pod → its app timeline events (what every backend records). */
export function appEventsFromLine(raw: string, pod: string, fallbackAt?: number): TimelineEvent[] {
  const out: TimelineEvent[] = [];
  for (const line of parseAppLine(raw, fallbackAt)) {
    const e = appEvent(line, pod);
    if (e) out.push(e);
  }
  return out;
}

/**
 * Whose a line without a pid is: lines from one container are one process unless they say
 * otherwise, so a pid-less line of a role belongs to the one process of that role that named its
 * pid (PID 1, for an app that names it only on some lines). With two or more identified processes
 * of the role it cannot be told, and the line stays its own (pid 0).
 */
function pidlessOwners(events: readonly TimelineEvent[]): Map<string, number> {
  const pids = new Map<string, Set<number>>();
  for (const e of events) {
    if (typeof e.detail?.pid !== "number") continue;
    const role = e.process as string;
    pids.set(role, (pids.get(role) ?? new Set()).add(e.detail.pid));
  }
  const owners = new Map<string, number>();
  for (const [role, set] of pids) if (set.size === 1) owners.set(role, [...set][0] as number);
  return owners;
}

/**
 * A pod's app events → one report per process (role and pid; a second start line of the same
 * role and pid is a restarted process and gets its own report; a line without a pid joins the one
 * identified process of its role, see pidlessOwners). Events of other pods and sources are
 * ignored; order of the input does not matter (events are taken in time order).
 */
export function processReports(events: readonly TimelineEvent[], pod: string): ProcessReport[] {
  const mine = events
    .map((e, i) => ({ e, i }))
    .filter(({ e }) => e.source === "app" && e.pod === pod && e.process !== undefined)
    .sort((a, b) => a.e.at - b.e.at || a.i - b.i);
  const reports: ProcessReport[] = [];
  const current = new Map<string, { report: ProcessReport; started: boolean }>();
  const ownerOf = pidlessOwners(mine.map(({ e }) => e));
  for (const { e } of mine) {
    const role = e.process as string;
    const pid = typeof e.detail?.pid === "number" ? e.detail.pid : (ownerOf.get(role) ?? 0);
    const key = `${role}\0${pid}`;
    let cur = current.get(key);
    if (!cur || (e.kind === "app-start" && cur.started)) {
      cur = { report: { role, pid, signals: [] }, started: false };
      current.set(key, cur);
      reports.push(cur.report);
    }
    const r = cur.report;
    switch (e.kind) {
      case "app-start":
        cur.started = true;
        break;
      case "app-signal":
        r.signals.push({ name: typeof e.detail?.signal === "string" ? e.detail.signal : "?", at: e.at });
        break;
      case "app-drain-start":
        r.drainStart ??= e.at;
        break;
      case "app-drain-end":
        r.drainEnd ??= e.at;
        break;
      case "app-exit":
        r.exit = { code: typeof e.detail?.code === "number" ? e.detail.code : -1, at: e.at };
        break;
      default:
        break;
    }
  }
  return reports;
}

/**
 * PID 1's own exit line among a pod's app events (the last one, not older than a second before the
 * delete): its code is the container's, a source beside the runtime's record (observe/exit-evidence.ts).
 * The same for every backend; a pid-less line joins PID 1 as processReports() says.
 */
export function pid1Exit(events: readonly TimelineEvent[], pod: string, deleteAt?: number): AppExit | undefined {
  const reports = processReports(events, pod).filter(
    (p) =>
      p.pid === 1 &&
      p.exit !== undefined &&
      p.exit.code >= 0 &&
      (deleteAt === undefined || p.exit.at >= deleteAt - 1000),
  );
  const last = reports.sort((a, b) => (a.exit?.at ?? 0) - (b.exit?.at ?? 0)).at(-1);
  return last?.exit ? { code: last.exit.code, at: last.exit.at, pid: 1, role: last.role } : undefined;
}
