// Turns the sample app's JSON lines into timeline events and per-process reports.
// Line format (images/app/server.js): {"t": epochMs, "event": "...", "pid", "ppid", "role", ...}.
import type { ProcessReport } from "../backends/backend.js";
import type { TimelineEvent, TimelineEventKind } from "./events.js";

const KINDS: Record<string, TimelineEventKind> = {
  start: "app-start",
  signal: "app-signal",
  "drain-start": "app-drain-start",
  "drain-end": "app-drain-end",
  exit: "app-exit",
};

/** Parses one log line; undefined for lines that are not app lifecycle events. */
export function parseAppLine(line: string, pod: string): TimelineEvent | undefined {
  // kubectl/Kubernetes log lines may carry an RFC3339 timestamp prefix.
  const brace = line.indexOf("{");
  if (brace < 0) return undefined;
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(line.slice(brace)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const kind = typeof data.event === "string" ? KINDS[data.event] : undefined;
  if (!kind || typeof data.t !== "number") return undefined;
  const { t, event: _event, role, ...detail } = data;
  return { at: t, kind, source: "app", pod, process: typeof role === "string" ? role : "app", detail };
}

/** Groups a pod's app events into one report per process role. */
export function processReports(events: TimelineEvent[], pod: string): ProcessReport[] {
  const byRole = new Map<string, ProcessReport>();
  for (const e of events) {
    if (e.source !== "app" || e.pod !== pod || !e.process) continue;
    let report = byRole.get(e.process);
    if (!report) {
      report = { role: e.process, pid: Number(e.detail?.pid ?? 0), signals: [] };
      byRole.set(e.process, report);
    }
    if (e.kind === "app-start") report.pid = Number(e.detail?.pid ?? report.pid);
    if (e.kind === "app-signal") report.signals.push({ name: String(e.detail?.signal ?? "?"), at: e.at });
    if (e.kind === "app-drain-start") report.drainStart ??= e.at;
    if (e.kind === "app-drain-end") report.drainEnd ??= e.at;
    if (e.kind === "app-exit") report.exit = { code: Number(e.detail?.code ?? -1), at: e.at };
  }
  return [...byRole.values()];
}
