// Ranking the audited workloads (most at risk first), the summary counts and the exit code. Pure.
import { certaintyRank, codeRank, compareFindings } from "./rules.js";
import {
  type AuditReport,
  atLeast,
  type DropWords,
  type Finding,
  maxSeverity,
  SEVERITIES,
  type Severity,
  severityRank,
  type WorkloadReport,
} from "./types.js";

const DROP_ORDER: DropWords[] = ["no", "uncertain", "likely", "yes"];

/** The finding that decides a workload's place: the most severe, then the most certain. */
export function topFinding(findings: Finding[]): Finding | undefined {
  return [...findings].sort(compareFindings)[0];
}

/** Most at risk first: severity, then what it is about (the signal path first), how sure, the predicted drops, the id. */
export function compareWorkloads(
  a: Pick<WorkloadReport, "findings" | "prediction" | "id">,
  b: Pick<WorkloadReport, "findings" | "prediction" | "id">,
): number {
  const ta = topFinding(a.findings);
  const tb = topFinding(b.findings);
  const sa = ta ? severityRank(ta.severity) : 0;
  const sb = tb ? severityRank(tb.severity) : 0;
  return (
    sb - sa ||
    (ta ? codeRank(ta.code) : 99) - (tb ? codeRank(tb.code) : 99) ||
    (tb ? certaintyRank(tb.certainty) : 0) - (ta ? certaintyRank(ta.certainty) : 0) ||
    DROP_ORDER.indexOf(b.prediction.drops) - DROP_ORDER.indexOf(a.prediction.drops) ||
    a.id.localeCompare(b.id)
  );
}

/** Sorts, numbers (rank 1 = most at risk) and marks the workloads at or above the threshold. */
export function rankWorkloads(
  workloads: Array<Omit<WorkloadReport, "rank" | "severity" | "failing">>,
  failOn: Severity,
): WorkloadReport[] {
  return [...workloads].sort(compareWorkloads).map((w, i) => {
    const severity = maxSeverity(w.findings.map((f) => f.severity));
    return { ...w, rank: i + 1, severity, failing: atLeast(severity, failOn) };
  });
}

export function summarize(workloads: WorkloadReport[]): AuditReport["summary"] {
  const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const w of workloads) bySeverity[w.severity]++;
  return {
    workloads: workloads.length,
    bySeverity,
    failing: workloads.filter((w) => w.failing).length,
    predictedDrops: workloads.filter((w) => w.prediction.drops === "yes" || w.prediction.drops === "likely").length,
  };
}

/** 1 when a workload reaches --fail-on, else 0 (2 is for bad input, decided before anything is read). */
export function auditExitCode(report: Pick<AuditReport, "workloads">): number {
  return report.workloads.some((w) => w.failing) ? 1 : 0;
}

export function parseSeverity(value: string): Severity | undefined {
  const v = value.trim().toLowerCase();
  return (SEVERITIES as readonly string[]).includes(v) ? (v as Severity) : undefined;
}
