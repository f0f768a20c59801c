// The audit as JUnit XML for CI: one testsuite, one testcase per workload (classname
// "audit.<backend>[.<namespace>]", name = the workload id), failing when its most severe finding
// reaches --fail-on; the findings with evidence and fix in the failure body (or system-out). Pure.
import { escapeXmlAttr, escapeXmlText } from "../report/junit.js";
import type { AuditReport, Finding, WorkloadReport } from "./types.js";

function attrs(values: Record<string, string | number | undefined>): string {
  return Object.entries(values)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${escapeXmlAttr(v)}"`)
    .join("");
}

function findingText(f: Finding): string {
  return [
    `[${f.severity}/${f.certainty}]${f.container ? ` ${f.container}:` : ""} ${f.title}`,
    ...f.evidence.map((e) => `    evidence: ${e}`),
    ...(f.fix ? [`    fix: ${f.fix}`] : []),
  ].join("\n");
}

export function workloadBody(w: WorkloadReport): string {
  return [
    `prediction: ${w.prediction.summary}`,
    ...w.prediction.why.map((x) => `  why: ${x}`),
    ...w.findings.map(findingText),
    ...(w.verify ? [`verify: ${JSON.stringify(w.verify)}`] : []),
  ].join("\n");
}

export function auditJunitXml(r: AuditReport): string {
  const cases = r.workloads.map((w) => {
    const classname = `audit.${r.backend}${w.namespace ? `.${w.namespace}` : ""}`;
    const open = `    <testcase${attrs({ classname, name: w.id, time: "0.000" })}>`;
    const top = w.findings.find((f) => f.severity === w.severity);
    const body = escapeXmlText(workloadBody(w));
    const inner = w.failing
      ? `      <failure${attrs({ message: `${w.severity}: ${top?.title ?? ""}${top?.fix ? ` — fix: ${top.fix}` : ""}`, type: `audit-${w.severity}` })}>${body}</failure>`
      : `      <system-out>${body}</system-out>`;
    return `${open}\n${inner}\n    </testcase>`;
  });
  const failures = r.workloads.filter((w) => w.failing).length;
  const counts = { tests: r.workloads.length, failures, errors: 0, skipped: 0, time: (r.durationMs / 1000).toFixed(3) };
  const name = `graceful-e2e audit (${r.backend})`;
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites${attrs({ name: "graceful-e2e audit", ...counts })}>`,
    `  <testsuite${attrs({ name, ...counts, timestamp: r.generatedAt.slice(0, 19), hostname: "localhost" })}>`,
    "    <properties>",
    `      <property${attrs({ name: "target", value: r.target.description })}/>`,
    `      <property${attrs({ name: "failOn", value: r.failOn })}/>`,
    `      <property${attrs({ name: "propagationMs", value: `${r.propagation.ms} (${r.propagation.source})` })}/>`,
    `      <property${attrs({ name: "readOnly", value: String(r.access.readOnly) })}/>`,
    "    </properties>",
    ...cases,
    "  </testsuite>",
    "</testsuites>",
    "",
  ].join("\n");
}
