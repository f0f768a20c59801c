// Writes the audit's files: audit.json (docs/audit.md), junit.xml (one testcase per workload) and
// report.html (the audit section, then the --verify check runs as scenario sections).
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { renderHtmlReport } from "../report/html.js";
import type { ScenarioResult } from "../runner/run.js";
import { auditHtmlSection } from "./html.js";
import { auditJunitXml } from "./junit.js";
import type { AuditReport } from "./types.js";

export const AUDIT_JSON = "audit.json";
export const AUDIT_JUNIT = "junit.xml";
export const AUDIT_HTML = "report.html";

export function auditJson(r: AuditReport): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}

export function auditHtml(r: AuditReport, verifyResults: ScenarioResult[]): string {
  return renderHtmlReport(verifyResults, {
    title: `graceful-e2e audit — ${r.target.description}`,
    generatedAt: r.generatedAt,
    sections: [auditHtmlSection(r)],
  });
}

export async function writeAuditReports(
  r: AuditReport,
  verifyResults: ScenarioResult[],
  dir: string,
): Promise<{ json: string; junit: string; html: string }> {
  await mkdir(dir, { recursive: true });
  const files = { json: join(dir, AUDIT_JSON), junit: join(dir, AUDIT_JUNIT), html: join(dir, AUDIT_HTML) };
  await writeFile(files.json, auditJson(r));
  await writeFile(files.junit, auditJunitXml(r));
  await writeFile(files.html, auditHtml(r, verifyResults));
  return files;
}
