// Regenerates the README's "Servers, measured" table from real result files (tag `servers`):
//   npx vitest run --project e2e-local tests/e2e/local/servers.test.ts   # writes results/e2e-local
//   npx tsx scripts/servers-table.ts [results-dir...] [--write]
// (or `npx graceful-e2e run fixtures/scenarios/servers --results results` and pass `results`).
// The first directory holding a scenario wins. --write replaces the table between the
// servers-table markers in README.md; without it the table is printed.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { ScenarioResult } from "../src/runner/run.js";
import { failureSummary } from "../src/verdict/verdicts.js";
import { replaceReadmeBlock } from "./readme-block.js";

const ORDER = ["nginx", "nginx-quit", "apache2", "apache2-winch", "gunicorn", "uvicorn", "go", "go-graceful"];

export function readServerResults(dirs: string[]): ScenarioResult[] {
  const byName = new Map<string, ScenarioResult>();
  for (const dir of dirs) {
    const files = readdirSync(dir).filter((f) => f.endsWith(".local.json"));
    for (const f of files) {
      const r = JSON.parse(readFileSync(join(dir, f), "utf8")) as ScenarioResult;
      if (!r.scenario?.tags?.includes("servers") || byName.has(r.scenario.name)) continue;
      byName.set(r.scenario.name, r);
    }
  }
  return [...byName.values()].sort(
    (a, b) =>
      ORDER.indexOf(a.image?.style ?? "") - ORDER.indexOf(b.image?.style ?? "") ||
      a.scenario.name.localeCompare(b.scenario.name),
  );
}

const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** One row: server, preStop, stop signal (and from where), exit, delete → exit, failed requests and what they were. */
export function serverRow(r: ScenarioResult): string | undefined {
  const pod = r.pods[0];
  const load = r.load;
  const origin = r.timeline?.origin;
  if (!pod || !load || origin === undefined) return undefined;
  const sent = r.timeline?.entries.find((e) => e.kind === "sigterm-sent" && e.pod === pod.pod);
  const signal = sent?.detail?.signal ?? "SIGTERM";
  const from =
    sent?.detail?.from === "image" ? " (STOPSIGNAL)" : sent?.detail?.from === "scenario" ? " (scenario)" : "";
  const signalAt = sent?.t ?? 0;
  const exit =
    pod.exitedAt === undefined
      ? "?"
      : `${pod.exitCode}${pod.sigkilled ? ", SIGKILL" : ""}, +${s(pod.exitedAt - pod.deleteAt - signalAt)} after the signal`;
  const term = pod.exitedAt === undefined ? "?" : s(pod.exitedAt - pod.deleteAt);
  const preStop = r.scenario.preStop.type === "sleep" ? `sleep ${r.scenario.preStop.seconds}` : r.scenario.preStop.type;
  // When each failed request was sent: before the runtime's kill call started, during it (the signal
  // reached PID 1 at some point before the call returned: deliveredWithinMs), or after it.
  const deliveredWithinMs = Number(sent?.detail?.deliveredWithinMs ?? 0);
  const sentAt = load.failures.map((f) => f.sentAt - origin);
  const before = sentAt.filter((t) => t < signalAt).length;
  const during = sentAt.filter((t) => t >= signalAt && t < signalAt + deliveredWithinMs).length;
  const after = load.failed - before - during;
  const parts = [
    before > 0 ? `${before} sent before the signal` : "",
    during > 0 ? `${during} while it was sent (${deliveredWithinMs} ms)` : "",
    after > 0 ? `${after} after` : "",
  ].filter(Boolean);
  const what = load.failed === 0 ? "" : ` — ${parts.join(", ")}`;
  const failed =
    load.failed === 0 ? `**0** of ${load.sent}` : `${load.failed} of ${load.sent} (${failureSummary(load)})${what}`;
  return `| ${r.image?.style} | ${preStop} | ${signal}${from} | ${exit} | ${term} | ${failed} |`;
}

export function serversTable(results: ScenarioResult[]): string {
  const header = [
    "| server | preStop | signal sent | exit | delete → exit | failed requests |",
    "|---|---|---|---|---|---|",
  ];
  return [...header, ...results.flatMap((r) => serverRow(r) ?? [])].join("\n");
}

function main(argv: string[]): void {
  const write = argv.includes("--write");
  const dirs = argv.filter((a) => !a.startsWith("--"));
  const results = readServerResults(dirs.length > 0 ? dirs : ["results/e2e-local"]);
  if (results.length === 0) throw new Error("no result of a scenario tagged `servers` found");
  const table = serversTable(results);
  if (!write) {
    process.stdout.write(`${table}\n`);
    return;
  }
  replaceReadmeBlock("servers-table", table);
  process.stdout.write(`README.md: servers table updated (${results.length} rows)\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) main(process.argv.slice(2));
