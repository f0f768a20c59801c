// Writes the run-level reports next to the per-scenario JSON files the runner wrote:
// junit.xml (for CI) and report.html (for people). Also reads result files back, so the reports
// can be remade from a results directory.
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ScenarioResult } from "../runner/run.js";
import { type HtmlOptions, renderHtmlReport } from "./html.js";
import { junitXml } from "./junit.js";

export const JUNIT_FILE = "junit.xml";
export const HTML_FILE = "report.html";

export interface WrittenReports {
  junit: string;
  html: string;
}

export async function writeReports(
  results: ScenarioResult[],
  dir: string,
  options: HtmlOptions = {},
): Promise<WrittenReports> {
  await mkdir(dir, { recursive: true });
  const written = { junit: join(dir, JUNIT_FILE), html: join(dir, HTML_FILE) };
  await writeFile(written.junit, junitXml(results));
  await writeFile(written.html, renderHtmlReport(results, options));
  return written;
}

/**
 * Whether a parsed JSON file is a graceful-e2e result (the one test for every reader of result files):
 * a schema version, a backend and the disrupted pods. Trimmed results (the field reports' fixtures) pass.
 */
export function looksLikeResult(v: unknown): v is { schemaVersion: number; backend: string; pods: unknown[] } {
  if (typeof v !== "object" || v === null) return false;
  const r = v as Record<string, unknown>;
  return typeof r.schemaVersion === "number" && typeof r.backend === "string" && Array.isArray(r.pods);
}

/** A result complete enough to render: its scenario's name and its verdicts too. */
function renderable(v: { schemaVersion: number; backend: string; pods: unknown[] }): v is ScenarioResult {
  const r = v as Partial<ScenarioResult>;
  return typeof r.scenario?.name === "string" && Array.isArray(r.verdicts);
}

/** Every ScenarioResult JSON file directly in `dir` (other JSON files are skipped), by start time. */
export async function readResults(dir: string): Promise<ScenarioResult[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith(".json")).sort();
  const results: ScenarioResult[] = [];
  for (const name of names) {
    const parsed: unknown = JSON.parse(await readFile(join(dir, name), "utf8"));
    if (looksLikeResult(parsed) && renderable(parsed)) results.push(parsed);
  }
  return results.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}
