// Measures the classic-sidecar fixture set (issue 16, item 4: an app behind an nginx proxy sidecar in
// one pod) on the local backend and prints the README's "Sidecars, measured" table:
//   flock /tmp/graceful-e2e-docker.lock npx tsx scripts/sidecars-table.ts [--repeat N] [--results DIR] [--write]
// runs each scenario of SET N times (default 3) with `graceful-e2e run --backend local`, one scenario
// at a time, into DIR/<scenario>/ (default results/sidecars), then reads the result files back.
// `--from DIR` skips the runs and tabulates what a former run left in DIR.
// --write replaces the table between the sidecars-table markers in README.md.
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { execa } from "execa";
import type { ContainerOutcome, PodOutcome } from "../src/model/pod-outcome.js";
import { readResults } from "../src/report/write.js";
import type { ScenarioResult } from "../src/runner/run.js";
import { runStatus } from "../src/runner/status.js";
import { replaceReadmeBlock } from "./readme-block.js";

/** The set, in the table's order: the failures, then the fixes. */
export const SET = [
  "shop-web-no-prestop",
  "shop-web-as-shipped",
  "shop-web-proxy-fast-stop",
  "shop-web-prestop-5s",
  "shop-web-prestop-5s-quit",
  "shop-web-native-sidecar",
  "shop-web-native-sidecar-prestop",
  "before-1.29/shop-web-native-sidecar-1.28",
] as const;
const SCENARIOS = "fixtures/workloads/scenarios";

/** What one scenario's runs gave: the result files, or the CLI's refusal when nothing could start. */
export interface ScenarioRuns {
  file: string;
  results: ScenarioResult[];
  /** The CLI's exit code and last line when it wrote no result (bad input: exit 2). */
  refused?: { exitCode: number; line: string };
}

const s = (ms: number) => (ms / 1000).toFixed(2);
/** "48–151", or "3" when every run gave the same. */
export function range(values: readonly number[], show: (n: number) => string = String): string {
  if (values.length === 0) return "-";
  const lo = show(Math.min(...values));
  const hi = show(Math.max(...values));
  return lo === hi ? lo : `${lo}–${hi}`;
}

const CAUSE_WORDS: Record<string, string> = {
  "listener-closed-behind-proxy": "its listener closed behind the proxy",
  "front-stopped-without-drain": "stopped without draining",
  "before-stop-signal": "before any stop signal",
  unattributed: "unattributed",
};

/** Per container and cause: the failures of each run (0 where a run had none), and their kinds. */
export function causesCell(runs: readonly ScenarioResult[]): string {
  const keys = new Map<string, { counts: number[]; kinds: Set<string>; via?: string }>();
  runs.forEach((r, i) => {
    for (const w of r.pods.flatMap((p) => p.failureCauses ?? [])) {
      const key = `${w.container ?? "no container"} — ${CAUSE_WORDS[w.cause] ?? w.cause}`;
      const entry = keys.get(key) ?? { counts: runs.map(() => 0), kinds: new Set<string>() };
      entry.counts[i] = (entry.counts[i] ?? 0) + w.count;
      for (const k of Object.keys(w.kinds)) entry.kinds.add(k);
      if (w.via) entry.via = w.via;
      keys.set(key, entry);
    }
  });
  if (keys.size === 0) return "—";
  return [...keys]
    .map(([key, e]) => `**${key}**${e.via ? ` (via ${e.via})` : ""}: ${range(e.counts)} (${[...e.kinds].join(", ")})`)
    .join("; ");
}

function containersOf(pod: PodOutcome): ContainerOutcome[] {
  return [pod, ...(pod.sidecars ?? [])];
}

/** Per container of the disrupted pod: its stop signal and exit relative to the delete, over the runs. */
export function exitsCell(runs: readonly ScenarioResult[]): string {
  const names = [...new Set(runs.flatMap((r) => r.pods.flatMap((p) => containersOf(p).map((c) => c.container))))];
  return names
    .map((name) => {
      const seen = runs.flatMap((r) =>
        r.pods.flatMap((p) => containersOf(p).flatMap((c) => (c.container === name ? [{ c, p }] : []))),
      );
      const role = seen[0]?.c.role === "native-sidecar" ? ", native sidecar" : "";
      const codes = [...new Set(seen.map(({ c }) => `${c.exitCode ?? "?"}${c.sigkilled ? " SIGKILL" : ""}`))];
      const signal = seen.flatMap(({ c, p }) => (c.sigterm ? [c.sigterm.at - p.deleteAt] : []));
      const exit = seen.flatMap(({ c, p }) => (c.exitedAt !== undefined ? [c.exitedAt - p.deleteAt] : []));
      return `${name ?? "?"}${role}: signal +${range(signal, s)} s, exit ${codes.join("/")} at +${range(exit, s)} s`;
    })
    .join("<br>");
}

/** "PASS ×3", "FAIL ×2, PASS ×1 (failed: maxFailedRequests)". */
export function statusCell(runs: readonly ScenarioResult[]): string {
  const counts = new Map<string, number>();
  for (const r of runs) counts.set(runStatus(r), (counts.get(runStatus(r)) ?? 0) + 1);
  const failed = [...new Set(runs.flatMap((r) => r.verdicts.filter((v) => !v.pass).map((v) => v.name)))];
  const errors = [...new Set(runs.flatMap((r) => (r.error ? [r.error] : [])))];
  // Why runs were inconclusive, by the reason's head ("harness saturated"), once each.
  const why = [...new Set(runs.flatMap((r) => (r.inconclusive ?? []).map((x) => x.split(":")[0])))];
  return (
    [...counts].map(([k, n]) => `${k.toUpperCase()} ×${n}`).join(", ") +
    (why.length > 0 ? ` (inconclusive: ${why.join("; ")})` : "") +
    (failed.length > 0 ? ` (not met: ${failed.join(", ")})` : "") +
    (errors.length > 0 ? ` — ${errors.join("; ")}` : "")
  );
}

export function sidecarRow(runs: ScenarioRuns): string {
  const first = runs.results[0];
  const name = first?.scenario.name ?? runs.file.replace(/^.*scenarios\//, "").replace(/\.yaml$/, "");
  if (runs.refused || !first) {
    // The CLI's line names the file (the row does) before the field: "error: <file>: <field>: <why>".
    const line = runs.refused?.line.replace(/^error: /, "").replace(`${runs.file}: `, "");
    const nothing = runs.refused?.exitCode === 2 ? ", nothing started" : "";
    const why = runs.refused ? `exit ${runs.refused.exitCode}${nothing}: \`${line}\`` : "no result";
    return `| ${name} | not run — ${why} | | | |`;
  }
  const loads = runs.results.flatMap((r) => (r.load ? [r.load] : []));
  const each = loads.length > 1 ? `; runs: ${loads.map((l) => l.failed).join(", ")}` : "";
  const failed = `${range(loads.map((l) => l.failed))} of ${range(loads.map((l) => l.sent))}${each}`;
  const description = first.scenario.description ?? "";
  return `| ${name} — ${description} | ${failed} | ${causesCell(runs.results)} | ${exitsCell(runs.results)} | ${statusCell(runs.results)} |`;
}

export function sidecarsTable(all: readonly ScenarioRuns[], repeat: number): string {
  return [
    `| scenario (local, ${repeat} run${repeat === 1 ? "" : "s"} each) | failed requests (min–max) | caused by (container — cause: failures per run) | per container: stop signal and exit after the delete | runs |`,
    "|---|---|---|---|---|",
    ...all.map(sidecarRow),
  ].join("\n");
}

/** One scenario file run N times through the CLI into its own folder; what it wrote (or why nothing). */
async function runScenario(name: string, repeat: number, dir: string): Promise<ScenarioRuns> {
  const file = join(SCENARIOS, `${name}.yaml`);
  const out = join(dir, name);
  await rm(out, { recursive: true, force: true });
  const args = ["src/cli/bin.ts", "run", file, "--backend", "local", "--repeat", String(repeat), "--results", out];
  process.stderr.write(`sidecars-table: graceful-e2e ${args.slice(1).join(" ")}\n`);
  const cli = await execa("tsx", args, { preferLocal: true, reject: false, stderr: ["pipe", "inherit"] });
  const results = await readResults(out).catch(() => [] as ScenarioResult[]);
  if (results.length > 0) return { file, results };
  const line = (String(cli.stderr).trim().split("\n").at(-1) ?? "").replaceAll(`${process.cwd()}/`, "");
  return { file, results, refused: { exitCode: cli.exitCode ?? -1, line } };
}

/** The results a former run left in DIR/<scenario>/. */
async function fromDirectory(dir: string): Promise<ScenarioRuns[]> {
  return Promise.all(
    SET.map(async (name) => ({
      file: join(SCENARIOS, `${name}.yaml`),
      results: await readResults(join(dir, name)).catch(() => [] as ScenarioResult[]),
    })),
  );
}

function option(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i === -1 ? undefined : argv[i + 1];
}

async function main(argv: string[]): Promise<void> {
  const repeat = Number(option(argv, "--repeat") ?? 3);
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > 20) throw new Error("--repeat: a whole number 1–20");
  const from = option(argv, "--from");
  const dir = option(argv, "--results") ?? "results/sidecars";
  const runs = from ? await fromDirectory(from) : [];
  if (!from) for (const name of SET) runs.push(await runScenario(name, repeat, dir));
  const measured = Math.max(1, ...runs.map((r) => r.results.length));
  const table = sidecarsTable(runs, measured);
  process.stdout.write(`${table}\n`);
  if (!argv.includes("--write")) return;
  replaceReadmeBlock("sidecars-table", table);
  process.stdout.write(`README.md: sidecars table updated (${runs.length} rows)\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await main(process.argv.slice(2));
