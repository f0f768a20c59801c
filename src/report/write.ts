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

function looksLikeResult(v: unknown): v is ScenarioResult {
  if (typeof v !== "object" || v === null) return false;
  const r = v as Partial<ScenarioResult>;
  return (
    typeof r.schemaVersion === "number" &&
    typeof r.scenario?.name === "string" &&
    typeof r.backend === "string" &&
    Array.isArray(r.verdicts) &&
    Array.isArray(r.pods)
  );
}

/** Every ScenarioResult JSON file directly in `dir` (other JSON files are skipped), by start time. */
export async function readResults(dir: string): Promise<ScenarioResult[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith(".json")).sort();
  const results: ScenarioResult[] = [];
  for (const name of names) {
    const parsed: unknown = JSON.parse(await readFile(join(dir, name), "utf8"));
    if (looksLikeResult(parsed)) results.push(parsed);
  }
  return results.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}
