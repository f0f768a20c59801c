// Regenerates the README's entrypoint-style table from real result files:
//   npx graceful-e2e run fixtures/scenarios && npx tsx scripts/styles-table.ts [results-dir] [--write]
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ScenarioResult } from "../src/runner/run.js";
import { describeExit, failureSummary, sigtermReceipts, terminationMs } from "../src/verdict/verdicts.js";

const args = process.argv.slice(2);
const dir = args.find((a) => !a.startsWith("--")) ?? "results";
const order = ["exec-form", "exec", "trap", "shell-form", "script", "no-handler", "tini", "tini-group"];

const results = readdirSync(dir)
  .filter((f) => f.endsWith(".local.json"))
  .map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")) as ScenarioResult)
  .filter((r) => r.scenario.tags.includes("matrix") && r.pods.length > 0)
  .sort(
    (a, b) =>
      order.indexOf(a.image?.style ?? "") - order.indexOf(b.image?.style ?? "") ||
      a.scenario.name.localeCompare(b.scenario.name),
  );

const rows = results.flatMap((r) => {
  const pod = r.pods[0];
  const load = r.load;
  if (!pod || !load) return [];
  const preStop = r.scenario.preStop.type === "sleep" ? `sleep ${r.scenario.preStop.seconds}` : r.scenario.preStop.type;
  const receipts = sigtermReceipts(pod);
  const sigterm = receipts.every((x) => x.at === undefined)
    ? "no"
    : receipts
        .map((x) => `${x.role}: ${x.at === undefined ? "no" : `+${((x.at - pod.deleteAt) / 1000).toFixed(1)} s`}`)
        .join(", ");
  const ms = terminationMs(pod);
  const failed =
    load.failed === 0 ? `**0** of ${load.sent}` : `${load.failed} of ${load.sent} (${failureSummary(load)})`;
  return [
    `| ${r.image?.style} | \`${pod.pid1Cmdline}\` | ${preStop} | ${sigterm} | ${pod.exitCode}, ${describeExit(pod)} | ${ms === undefined ? "-" : `${(ms / 1000).toFixed(2)} s`} | ${failed} |`,
  ];
});
const table = [
  "| style | PID 1 (live, before the delete) | preStop | SIGTERM received by the app | exit | delete → exit | failed requests |",
  "|---|---|---|---|---|---|---|",
  ...rows,
].join("\n");

if (args.includes("--write")) {
  const readme = readFileSync("README.md", "utf8");
  const next = readme.replace(
    /<!-- styles-table:start -->[\s\S]*<!-- styles-table:end -->/,
    `<!-- styles-table:start -->\n${table}\n<!-- styles-table:end -->`,
  );
  writeFileSync("README.md", next);
}
console.log(table);
