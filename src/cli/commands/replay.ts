// `graceful-e2e replay <dir-or-file>...`: a recorded run rebuilt offline (runner/replay.ts) — evidence,
// timeline, verdicts, trust, status — and the same reports as `run` (console, JSON, JUnit, HTML). Exit
// codes as `run`: 0 every replayed run passed, 1 a verdict failed or a run errored, 3 inconclusive,
// 2 bad input (a missing path, not a recording, a newer format version).
import { dirname, resolve } from "node:path";
import type { Command } from "commander";
import type { ScenarioResult } from "../../runner/run.js";
import { UsageError } from "../../util/errors.js";

const log = (line: string) => process.stderr.write(`${line}\n`);

/** Reads every recording first (bad input: nothing written), then replays and reports them. */
export async function replayCommand(paths: string[], opts: { results: string }): Promise<number> {
  // Loaded only when replay runs (the runner's evidence and verdicts, the reports).
  const { readRecordings } = await import("../../runner/read-recording.js");
  const { replayRun } = await import("../../runner/replay.js");
  const { writeResult } = await import("../../runner/steps.js");
  const { runExitCode } = await import("../../runner/repeat.js");
  const { formatResults } = await import("../../report/console.js");
  const { inconclusiveLine } = await import("../../report/status.js");
  const { writeReports } = await import("../../report/write.js");
  const recordings = (await Promise.all(paths.map((p) => readRecordings(p)))).flat();
  // The replayed results carry the recorded runs' file names: never written over the originals.
  const into = resolve(opts.results);
  const clash = recordings.find((r) => [resolve(r.from), dirname(resolve(r.from))].includes(into));
  if (clash) {
    throw new UsageError(
      `--results ${opts.results}: the replayed results would be written among the recorded ones (${clash.from}) ` +
        "and could overwrite them: choose another directory",
    );
  }
  const results: ScenarioResult[] = recordings.map((rec) => replayRun(rec));
  for (const r of results) await writeResult(opts.results, r);
  process.stdout.write(`${formatResults(results)}\n`);
  const inconclusive = inconclusiveLine(results);
  if (inconclusive) log(inconclusive);
  const reports = await writeReports(results, opts.results);
  log(`replayed ${results.length} run(s); results: ${resolve(opts.results)}`);
  log(`reports: ${resolve(reports.junit)}, ${resolve(reports.html)}`);
  return runExitCode(results);
}

export function register(program: Command): void {
  program
    .command("replay")
    .description(
      "rebuild recorded runs offline (evidence, verdicts, reports) from <scenario>.<backend>.observations.jsonl.gz " +
        "files, a results directory holding them, or a field recording folder (meta.json, pods.jsonl, ...)",
    )
    .argument("<paths...>", "recording files or directories")
    .option("-r, --results <dir>", "directory for the replayed JSON results and reports", "results-replay")
    .action(async (paths: string[], opts: { results: string }) => {
      process.exitCode = await replayCommand(paths, opts);
    });
}
