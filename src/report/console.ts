// Console output: one summary row per scenario run (its status: PASS, FAIL, INCONCLUSIVE or
// ERROR), then per run why it is inconclusive, the warm-up, per disrupted pod the evidence that it
// carried traffic, the timeline, and each verdict with its evidence.

import { podPrediction } from "../inspect/pod-prediction.js";
import type { PacingReport } from "../load/types.js";
import type { PodOutcome } from "../model/pod-outcome.js";
import { formatOffset } from "../observe/timeline.js";
import type { ScenarioResult } from "../runner/run.js";
import {
  exerciseHeadline,
  hasStatus,
  reportedInconclusiveReasons,
  runStatus,
  verdictUndecided,
} from "../runner/status.js";
import { harnessClockLine } from "../verdict/trust.js";
import { failureSummary, sigtermReceipts, unitSuffix } from "../verdict/verdicts.js";
import { containerLines, failureCauseLines } from "./containers.js";
import {
  exerciseFigures,
  exitEvidenceText,
  goneMeaning,
  signedSeconds,
  statusWord,
  terminationText,
  verdictMark,
  warmUpText,
} from "./status.js";
import { voluntaryLines } from "./voluntary.js";

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  const [head, ...body] = rows;
  return [line(head ?? []), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

function sigtermCell(pod: PodOutcome | undefined): string {
  if (!pod) return "-";
  const r = sigtermReceipts(pod);
  if (r.length === 0) return "no app lines";
  return r
    .map((x) => `${x.role}:${x.at === undefined ? "no" : `+${((x.at - pod.deleteAt) / 1000).toFixed(1)}s`}`)
    .join(" ");
}

function exitCell(pod: PodOutcome | undefined): string {
  if (!pod) return "-";
  return `${pod.exitCode ?? "?"}${pod.sigkilled ? " (SIGKILL)" : ""}`;
}

export function summaryRows(results: ScenarioResult[]): string[][] {
  const rows = [
    ["scenario", "backend", "image", "PID 1", "SIGTERM received", "exit", "termination", "failed requests", "verdict"],
  ];
  for (const r of results) {
    const pod = r.pods[0];
    rows.push([
      r.scenario.name,
      r.backend,
      r.image?.style ?? "-",
      pod?.pid1Cmdline.slice(0, 40) ?? "-",
      sigtermCell(pod),
      exitCell(pod),
      terminationText(pod, r.timeline),
      r.load
        ? `${r.load.failed}/${r.load.sent}${unitSuffix(r.load)}${r.load.failed > 0 ? ` (${failureSummary(r.load)})` : ""}`
        : "-",
      statusWord(runStatus(r)),
    ]);
  }
  return rows;
}

/** Failed requests listed one by one before the rest are summarised per kind. */
const LISTED_FAILURES = 5;

function describeEntry(kind: string, detail: Record<string, unknown> | undefined, backend: string): string {
  const d = detail ?? {};
  switch (kind) {
    case "app-signal":
      return `received ${String(d.signal)} (pid ${String(d.pid)})`;
    case "app-exit":
      return `exit ${String(d.code)} (pid ${String(d.pid)})`;
    case "app-drain-start":
      return `drain start (${String(d.openConnections)} open connection(s), ${String(d.inFlight)} in flight)`;
    case "app-drain-end":
      return `drain end (${String(d.reason)})`;
    case "container-exit":
      return `container exited ${String(d.exitCode)}`;
    case "pod-gone":
      return `gone (${goneMeaning(backend)})`;
    case "request-failed":
      return `request failed: ${String(d.kind)}${d.code !== undefined ? ` (${String(d.code)})` : ""}`;
    case "last-request-served":
      return `last successful response (${String(d.count)} served)`;
    case "prestop-failed":
      return `FailedPreStopHook: ${String(d.message)}`;
    case "sigterm-sent":
      return `${typeof d.signal === "string" ? d.signal : "SIGTERM"} sent${d.inferred ? " (inferred)" : ""}`;
    case "sigkill-sent":
      return `SIGKILL sent${d.inferred ? " (inferred)" : ""}`;
    case "last-connection-routed":
      return "last new connection routed to it";
    case "warm-up-probe-failed":
      return `warm-up probe failed: ${String(d.kind)}${d.code !== undefined ? ` (${String(d.code)})` : ""}`;
    case "eviction":
      return `eviction ${String(d.result)} (${String(d.status)}, attempt ${String(d.attempt)}): ${String(d.message)}`;
    case "node-cordoned":
      return `node ${String(d.node)} cordoned`;
    default:
      return kind;
  }
}

/** The termination as it happened, relative to the delete: lifecycle steps, and failures (capped). */
export function formatTimeline(r: ScenarioResult): string[] {
  const disrupted = new Set(r.pods.map((p) => p.pod));
  const lines: string[] = [];
  let failures = 0;
  let warmUpFailures = 0;
  for (const e of r.timeline?.entries ?? []) {
    // The warm-up's failed probes come before the delete: listed (capped) all the same.
    if (e.kind === "warm-up-probe-failed") {
      warmUpFailures++;
      if (warmUpFailures > LISTED_FAILURES) continue;
    } else if (e.t < 0 || e.kind === "endpoint-ready") continue;
    else if (e.kind === "request-failed") {
      failures++;
      if (failures > LISTED_FAILURES) continue;
    } else if (e.pod !== undefined && !disrupted.has(e.pod)) continue;
    const who = [e.pod, e.process].filter(Boolean).join(" ");
    lines.push(
      `    ${formatOffset(e.t).padStart(10)}  ${e.source.padEnd(7)} ${describeEntry(e.kind, e.detail, r.backend)}${who ? `  [${who}]` : ""}`,
    );
  }
  if (warmUpFailures > LISTED_FAILURES)
    lines.push(`    … and ${warmUpFailures - LISTED_FAILURES} more failed warm-up probe(s)`);
  if (failures > LISTED_FAILURES) lines.push(`    … and ${failures - LISTED_FAILURES} more failed request(s)`);
  return lines;
}

/** Per disrupted pod: termination (delete → container exit), gone, and the exercise evidence. */
export function formatPod(
  pod: PodOutcome,
  backend: string,
  timeline?: ScenarioResult["timeline"],
  port?: number,
): string[] {
  const out = [`  pod ${pod.pod}${pod.node ? ` (node ${pod.node})` : ""}: PID 1 ${pod.pid1Cmdline}`];
  const prediction = podPrediction(pod, port);
  if (prediction) out.push(`    predicted from /proc before any signal: ${prediction}`);
  const gone =
    pod.goneAt !== undefined ? `; gone (${goneMeaning(backend)}) at ${signedSeconds(pod.goneAt - pod.deleteAt)}` : "";
  out.push(`    termination (delete → container exit): ${terminationText(pod, timeline)}${gone}`);
  const exit = exitEvidenceText(pod);
  if (exit) out.push(`    ${exit}`);
  for (const line of containerLines(pod, port)) out.push(`    ${line}`);
  for (const w of failureCauseLines(pod)) {
    out.push(`    failures caused by ${w.says}`);
    if (w.fix) out.push(`      fix to measure: ${w.fix}`);
  }
  const e = pod.exercise;
  if (e) {
    out.push(`    exercise: ${exerciseHeadline(e)}`);
    for (const f of exerciseFigures(e)) out.push(`      ${f.label}: ${f.value}`);
  }
  for (const note of pod.notes) out.push(`    note: ${note}`);
  return out;
}

/** The block of one run below the table. */
/** The rate asked and achieved on the long-lived connections, and the units that could not go on time. */
export function pacingText(p: PacingReport, unit: string): string {
  if (p.mode === "max") return `closed loop (rate max): ${p.rateAchieved} ${unit}/s achieved`;
  const late = p.late > 0 ? `${p.late} late (waited up to ${p.maxLateMs ?? "?"} ms for a free connection)` : "0 late";
  return `paced: ${p.rateAsked} ${unit}/s asked, ${p.rateAchieved}/s achieved; ${late}, ${p.notSent} not sent`;
}

export function formatResult(r: ScenarioResult): string[] {
  const status = runStatus(r);
  const out = [
    `${statusWord(status)} ${r.scenario.name} (${r.backend}${r.platform.runtime ? `, ${r.platform.runtime}` : ""})`,
  ];
  if (r.error) out.push(`  error: ${r.error}`);
  if (status === "inconclusive") {
    out.push("  inconclusive: the verdicts below back nothing, because");
    for (const reason of reportedInconclusiveReasons(r)) out.push(`    - ${reason}`);
  } else if (!hasStatus(r) && r.pods.length > 0) {
    out.push(
      "  (no exercise evidence: result written before the harness checked that the disrupted pod carried traffic)",
    );
  }
  for (const w of r.warnings) out.push(`  warning: ${w}`);
  if (r.warmUp) out.push(`  warm-up: ${warmUpText(r.warmUp)}`);
  if (r.load?.pacing) out.push(`  load: ${pacingText(r.load.pacing, unitSuffix(r.load).trim() || "requests")}`);
  if (r.trust) out.push(`  ${harnessClockLine(r.trust, r.scenario)}`);
  if (r.trafficPath) out.push(`  traffic: ${r.trafficPath}`);
  // What the run changed in the cluster: for a running target, exactly what the user must know.
  if (r.mutations && r.mutations.length > 0) out.push(`  changed in the cluster: ${r.mutations.join("; ")}`);
  for (const line of voluntaryLines(r)) out.push(`  ${line}`);
  for (const pod of r.pods) out.push(...formatPod(pod, r.backend, r.timeline, r.scenario.port));
  const timeline = formatTimeline(r);
  if (timeline.length > 0) out.push("  timeline (relative to the delete):", ...timeline);
  for (const v of r.verdicts) {
    const undecided = verdictUndecided(v);
    out.push(
      `  ${verdictMark(v)} ${v.name}: expected ${v.expected}, got ${v.actual} — ${v.evidence}` +
        (undecided !== undefined ? ` (undecided: ${undecided})` : ""),
    );
  }
  if (r.verdicts.length === 0 && !r.error) out.push("  (no expectations in this scenario)");
  return out;
}

export function formatResults(results: ScenarioResult[]): string {
  const out = [table(summaryRows(results)), ""];
  for (const r of results) out.push(...formatResult(r));
  return out.join("\n");
}
