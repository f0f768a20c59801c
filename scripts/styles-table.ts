// Regenerates the README's entrypoint-style table from real result files:
//   npx graceful-e2e run fixtures/scenarios && npx tsx scripts/styles-table.ts [results-dir] [--write]
// Per backend, side by side (one row per style × preStop, the key figures of each backend):
//   npx tsx scripts/styles-table.ts results/ other-results/ --backends local,kind
// reads `<scenario>.<backend>.json` of the listed backends from every directory given (the first
// directory that has a scenario on a backend wins). Files written before results had a `status`
// show the status derived from `pass`, marked "(no exercise evidence)".
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { PodOutcome } from "../src/model/pod-outcome.js";
import { containerExitAt, statusWord } from "../src/report/status.js";
import type { ScenarioResult } from "../src/runner/run.js";
import { hasStatus, runStatus } from "../src/runner/status.js";
import { describeExit, failureSummary, sigtermReceipts } from "../src/verdict/verdicts.js";

const ORDER = ["exec-form", "exec", "trap", "shell-form", "script", "no-handler", "tini", "tini-group"];

export interface StylesTableArgs {
  dirs: string[];
  write: boolean;
  backends?: string[];
}

/** `[dir...] [--write] [--backends a,b]` (also `--backends=a,b`). */
export function parseArgs(argv: string[]): StylesTableArgs {
  const dirs: string[] = [];
  let write = false;
  let backends: string[] | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? "";
    if (a === "--write") write = true;
    else if (a === "--backends" || a.startsWith("--backends=")) {
      const value = a === "--backends" ? argv[++i] : a.slice("--backends=".length);
      backends = (value ?? "")
        .split(",")
        .map((b) => b.trim())
        .filter(Boolean);
      if (backends.length === 0) throw new Error("--backends needs a comma-separated list, e.g. --backends local,kind");
    } else if (!a.startsWith("--")) dirs.push(a);
  }
  return { dirs: dirs.length > 0 ? dirs : ["results"], write, ...(backends ? { backends } : {}) };
}

function byStyle(a: ScenarioResult, b: ScenarioResult): number {
  return (
    ORDER.indexOf(a.image?.style ?? "") - ORDER.indexOf(b.image?.style ?? "") ||
    a.scenario.name.localeCompare(b.scenario.name)
  );
}

function preStopText(r: ScenarioResult): string {
  return r.scenario.preStop.type === "sleep" ? `sleep ${r.scenario.preStop.seconds}` : r.scenario.preStop.type;
}

function sigtermText(pod: PodOutcome): string {
  const receipts = sigtermReceipts(pod);
  return receipts.every((x) => x.at === undefined)
    ? "no"
    : receipts
        .map((x) => `${x.role}: ${x.at === undefined ? "no" : `+${((x.at - pod.deleteAt) / 1000).toFixed(1)} s`}`)
        .join(", ");
}

/** Delete → container exit (exitedAt; in older files, the timeline's container exit). */
function terminationText(r: ScenarioResult, pod: PodOutcome): string {
  const exit = containerExitAt(pod, r.timeline);
  return exit === undefined ? "-" : `${((exit - pod.deleteAt) / 1000).toFixed(2)} s`;
}

function failedText(r: ScenarioResult): string {
  const load = r.load;
  if (!load) return "-";
  return load.failed === 0 ? `**0** of ${load.sent}` : `${load.failed} of ${load.sent} (${failureSummary(load)})`;
}

/** Requests the disrupted pod answered, from x-served-by ("<pod>/<role>"); undefined when unknown. */
function servedByDisrupted(r: ScenarioResult, pod: PodOutcome): number | undefined {
  const served = r.load?.servedBy ?? [];
  if (served.length === 0) return undefined;
  return served.filter((s) => (s.pod.split("/")[0] ?? s.pod) === pod.pod).reduce((acc, s) => acc + s.count, 0);
}

/**
 * "PASS", "INCONCLUSIVE"...; a file without `status` (written before exercise was checked):
 * "PASS (no exercise evidence; the deleted pod served 105)".
 */
export function statusText(r: ScenarioResult): string {
  const word = statusWord(runStatus(r));
  if (hasStatus(r)) return word;
  const pod = r.pods[0];
  const served = pod ? servedByDisrupted(r, pod) : undefined;
  return `${word} (no exercise evidence${served !== undefined ? `; the deleted pod served ${served}` : ""})`;
}

/** Matrix results with a disrupted pod, by style. */
function matrixResults(results: ScenarioResult[]): ScenarioResult[] {
  return results.filter((r) => r.scenario.tags.includes("matrix") && r.pods.length > 0).sort(byStyle);
}

/** Today's table (one backend's results, the README's): unchanged by the per-backend mode. */
export function defaultTable(all: ScenarioResult[]): string {
  const results = matrixResults(all);
  const rows = results.flatMap((r) => {
    const pod = r.pods[0];
    const load = r.load;
    if (!pod || !load) return [];
    return [
      `| ${r.image?.style} | \`${pod.pid1Cmdline}\` | ${preStopText(r)} | ${sigtermText(pod)} | ${pod.exitCode}, ${describeExit(pod)} | ${terminationText(r, pod)} | ${failedText(r)} |`,
    ];
  });
  return [
    "| style | PID 1 (live, before the delete) | preStop | SIGTERM received by the app | exit | delete → exit | failed requests |",
    "|---|---|---|---|---|---|---|",
    ...rows,
  ].join("\n");
}

/**
 * One row per style × preStop; per backend its SIGTERM received, exit, delete → exit (termination),
 * failed requests and status, side by side. A backend without that scenario shows "-".
 */
export function backendTable(all: ScenarioResult[], backends: string[]): string {
  const rows = new Map<string, { first: ScenarioResult; by: Map<string, ScenarioResult> }>();
  for (const r of matrixResults(all)) {
    if (!backends.includes(r.backend) || !r.load) continue;
    const key = `${r.image?.style ?? "?"}\u0000${preStopText(r)}`;
    const row = rows.get(key) ?? { first: r, by: new Map<string, ScenarioResult>() };
    if (!row.by.has(r.backend)) row.by.set(r.backend, r);
    rows.set(key, row);
  }
  const perBackend = ["SIGTERM received by the app", "exit", "delete → exit", "failed requests", "status"];
  const head = [
    "style",
    "PID 1 (live, before the delete)",
    "preStop",
    ...backends.flatMap((b) => perBackend.map((c) => `${b}: ${c}`)),
  ];
  const lines = [`| ${head.join(" | ")} |`, `|${head.map(() => "---|").join("")}`];
  const sorted = [...rows.values()].sort(
    (a, b) => byStyle(a.first, b.first) || preStopText(a.first).localeCompare(preStopText(b.first)),
  );
  for (const { first, by } of sorted) {
    const pid1s = backends.flatMap((b) => {
      const pod = by.get(b)?.pods[0];
      return pod ? [[b, pod.pid1Cmdline] as const] : [];
    });
    const distinct = [...new Set(pid1s.map(([, c]) => c))];
    const pid1 =
      distinct.length === 1 ? `\`${distinct[0]}\`` : pid1s.map(([b, c]) => `${b}: \`${c}\``).join("; ") || "-";
    const cells = backends.flatMap((b) => {
      const r = by.get(b);
      const pod = r?.pods[0];
      if (!r || !pod) return ["-", "-", "-", "-", "not run"];
      return [
        sigtermText(pod),
        `${pod.exitCode ?? "?"}, ${describeExit(pod)}`,
        terminationText(r, pod),
        failedText(r),
        statusText(r),
      ];
    });
    lines.push(`| ${[first.image?.style ?? "?", pid1, preStopText(first), ...cells].join(" | ")} |`);
  }
  return lines.join("\n");
}

function isResult(v: unknown): v is ScenarioResult {
  const r = v as Partial<ScenarioResult> | null;
  return typeof r?.scenario?.name === "string" && typeof r.backend === "string" && Array.isArray(r.pods);
}

/** `<scenario>.<backend>.json` files of the listed backends (the JSON's backend must agree). */
export function readBackendResults(dirs: string[], backends: string[]): ScenarioResult[] {
  const out: ScenarioResult[] = [];
  for (const dir of dirs) {
    for (const f of readdirSync(dir).sort()) {
      const backend = backends.find((b) => f.endsWith(`.${b}.json`));
      if (!backend) continue;
      const parsed: unknown = JSON.parse(readFileSync(join(dir, f), "utf8"));
      if (isResult(parsed) && parsed.backend === backend) out.push(parsed);
    }
  }
  return out;
}

export function main(argv: string[]): string {
  const args = parseArgs(argv);
  let table: string;
  if (args.backends) {
    table = backendTable(readBackendResults(args.dirs, args.backends), args.backends);
  } else {
    const dir = args.dirs[0] ?? "results";
    const results = readdirSync(dir)
      .filter((f) => f.endsWith(".local.json"))
      .map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")) as ScenarioResult);
    table = defaultTable(results);
  }
  if (args.write) {
    const readme = readFileSync("README.md", "utf8");
    const next = readme.replace(
      /<!-- styles-table:start -->[\s\S]*<!-- styles-table:end -->/,
      `<!-- styles-table:start -->\n${table}\n<!-- styles-table:end -->`,
    );
    writeFileSync("README.md", next);
  }
  return table;
}

if (process.argv[1] && pathToFileURL(resolve(process.argv[1])).href === import.meta.url) {
  console.log(main(process.argv.slice(2)));
}
