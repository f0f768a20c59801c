// Console output: one summary row per scenario run, then each verdict with its evidence.
import type { PodOutcome } from "../backends/backend.js";
import type { ScenarioResult } from "../runner/run.js";
import { failureSummary, sigtermReceipts, terminationMs } from "../verdict/verdicts.js";

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
    const ms = pod ? terminationMs(pod) : undefined;
    rows.push([
      r.scenario.name,
      r.backend,
      r.image?.style ?? "-",
      pod?.pid1Cmdline.slice(0, 40) ?? "-",
      sigtermCell(pod),
      exitCell(pod),
      ms === undefined ? "-" : `${(ms / 1000).toFixed(2)} s`,
      r.load ? `${r.load.failed}/${r.load.sent}${r.load.failed > 0 ? ` (${failureSummary(r.load)})` : ""}` : "-",
      r.error ? "ERROR" : r.pass ? "PASS" : "FAIL",
    ]);
  }
  return rows;
}

export function formatResults(results: ScenarioResult[]): string {
  const out = [table(summaryRows(results)), ""];
  for (const r of results) {
    out.push(
      `${r.pass ? "PASS" : "FAIL"} ${r.scenario.name} (${r.backend}${r.platform.runtime ? `, ${r.platform.runtime}` : ""})`,
    );
    if (r.error) out.push(`  error: ${r.error}`);
    for (const w of r.warnings) out.push(`  warning: ${w}`);
    for (const v of r.verdicts) {
      out.push(`  ${v.pass ? "✓" : "✗"} ${v.name}: expected ${v.expected}, got ${v.actual} — ${v.evidence}`);
    }
    if (r.verdicts.length === 0 && !r.error) out.push("  (no expectations in this scenario)");
  }
  return out.join("\n");
}
