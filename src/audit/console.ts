// The audit in the console: a ranked table (most at risk first), then per workload its prediction and
// findings with evidence and fix. Pure.
import type { AuditReport, Finding, WorkloadReport } from "./types.js";

function cut(text: string, max: number): string {
  const t = text.replace(/\s+/g, " ").trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

const MARK: Record<Finding["severity"], string> = { critical: "✗", high: "✗", medium: "!", low: "·", info: " " };

/** PID 1 as read (live), else the configured command, else "?". */
export function pid1Words(w: WorkloadReport): string {
  const c = w.containers[0];
  if (!c) return "?";
  if (c.pid1) return c.pid1;
  if (c.command) return `${c.command.argv.join(" ")} (configured)`;
  return "not read";
}

/** The fix of the workload's top finding (the first with a fix: findings come most severe first). */
export function topFix(w: WorkloadReport): string {
  const f = w.findings.find((x) => x.fix && x.severity !== "info");
  return f?.fix ?? "nothing to fix";
}

export function formatAuditTable(r: AuditReport): string {
  const header = ["#", "severity", "workload", "PID 1", "prediction", "fix (top finding)"];
  const rows = r.workloads.map((w) => [
    String(w.rank),
    w.severity.toUpperCase(),
    cut(w.id, 40),
    cut(pid1Words(w), 36),
    cut(w.prediction.summary, 46),
    cut(topFix(w), 100),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

function findingLines(f: Finding, detailed: boolean): string[] {
  const out = [
    `   ${MARK[f.severity]} ${f.severity} [${f.certainty}]${f.container ? ` ${f.container}:` : ""} ${f.title}`,
  ];
  if (detailed) {
    f.evidence.forEach((e, i) => {
      out.push(`       ${i === 0 ? "evidence:" : "         "} ${e}`);
    });
  }
  if (f.fix && f.severity !== "info") out.push(`       fix: ${f.fix}`);
  return out;
}

export function formatWorkload(w: WorkloadReport): string {
  const c = w.containers[0];
  const facts = [
    c ? `image ${c.image}` : undefined,
    `${w.instances.length} ${w.kind === "ComposeService" || w.kind === "Container" ? "container" : "pod"}(s)${w.replicas !== undefined ? ` of ${w.replicas}` : ""}`,
    c ? `stop signal ${c.stopSignal.signal} (${c.stopSignal.from})` : undefined,
    `${w.kind === "ComposeService" || w.kind === "Container" ? "stop timeout" : "grace"} ${w.grace.seconds} s`,
    c?.preStop ? `preStop ${c.preStop.type === "none" ? "none" : c.preStop.description}` : undefined,
    w.exposedBy ? (w.exposedBy.length > 0 ? `Service ${w.exposedBy.join(", ")}` : "no Service") : undefined,
  ].filter((x): x is string => x !== undefined);
  const lines = [`${w.rank}. ${w.severity.toUpperCase()} ${w.id} — ${w.prediction.summary}`, `   ${facts.join(" · ")}`];
  for (const f of w.findings) lines.push(...findingLines(f, f.severity !== "info" && f.severity !== "low"));
  if (w.verify) {
    const v = w.verify;
    lines.push(
      `   verify: ${v.error && v.sent === undefined ? `not run: ${v.error}` : `${v.failed ?? 0} of ${v.sent ?? 0} requests dropped; ${v.outcome ?? ""}; prediction ${v.heldWords ?? "-"}`}`,
    );
  }
  for (const n of w.notes) lines.push(`   note: ${n}`);
  return lines.join("\n");
}

export function formatAudit(r: AuditReport): string {
  const s = r.summary;
  const head = [
    `graceful-e2e audit: ${r.target.description} (${Object.values(r.target.platform).join(", ") || r.backend})`,
    `${s.workloads} workload(s) in ${(r.durationMs / 1000).toFixed(1)} s; access (${r.access.readOnly ? "read-only" : "NOT read-only: opt-ins used"}): ${r.access.used.join("; ")}`,
    `endpoint propagation: ${r.propagation.ms} ms, ${r.propagation.source} — ${r.propagation.detail}`,
  ];
  for (const x of r.access.refused) head.push(`refused: ${x}`);
  const body =
    r.workloads.length > 0
      ? [formatAuditTable(r), "", ...r.workloads.map(formatWorkload).join("\n\n").split("\n")]
      : ["no workload matched"];
  const tail = [
    "",
    `${s.failing} of ${s.workloads} workload(s) at or above --fail-on ${r.failOn}; predicted to drop requests on a delete: ${s.predictedDrops}; ` +
      `by severity: ${Object.entries(s.bySeverity)
        .reverse()
        .map(([k, n]) => `${k} ${n}`)
        .join(", ")}`,
  ];
  for (const x of r.skipped) tail.push(`skipped: ${x}`);
  for (const n of r.notes) tail.push(`note: ${n}`);
  return [...head, "", ...body, ...tail].join("\n");
}
