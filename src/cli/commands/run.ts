// `graceful-e2e run`: every check first (options, scenario files, manifests, the backend's
// prerequisites; any problem exits 2 with nothing started), then the runs, the console summary and the
// reports. Imported only when `run` runs; the chosen backend, then the runner and the reports, load as they are needed.
import { resolve } from "node:path";
import type { Backend } from "../../backends/backend.js";
import { checksTargets, close, drain, hasRunPool, preflight, preflightScenarios } from "../../backends/capabilities.js";
import { createBackend } from "../../backends/index.js";
import { localScenarioProblem } from "../../backends/local/nodes.js";
import type { BackendName } from "../../model/backend.js";
import { inconclusiveLine, statusWord } from "../../report/status.js";
import { formatRepeatSummaries, runExitCode, runPool, summarizeRepeats } from "../../runner/repeat.js";
import type { ScenarioResult } from "../../runner/run.js";
import { runStatus } from "../../runner/status.js";
import { type LoadedScenario, loadScenarios } from "../../scenario/load.js";
import { exitCodeFor, installSignalHandlers, interruptCleanupDone, interruptedBy } from "../../util/cleanup.js";
import { UsageError } from "../../util/errors.js";
import { packageRoot } from "../../util/paths.js";
import { registerBackendCleanup } from "../backend-cleanup.js";
import { backendOptionsFrom } from "../backend-options.js";
import { runPlan, selectScenarios } from "../run-plan.js";
import { type RunnableScenario, readWorkloads, type TargetFlags, targetScenario } from "../workloads.js";

const log = (line: string) => process.stderr.write(`${line}\n`);

/** The scenarios to run, read and checked (files, manifests, what the backend cannot run); UsageError. */
async function checkedScenarios(
  paths: string[],
  opts: Record<string, unknown>,
  backendName: BackendName,
): Promise<RunnableScenario[]> {
  const made = targetScenario(opts as TargetFlags, paths);
  const scenarioPaths = paths.length > 0 ? paths : [resolve(packageRoot(), "fixtures/scenarios")];
  const selected = made
    ? [made]
    : selectScenarios(await loadScenarios(scenarioPaths), opts.filter as string | undefined, opts.tag as string[]);
  if (selected.length === 0) throw new UsageError("no scenario matched (check the paths, --filter and --tag)");
  // Every scenario's manifests read once, here: a bad one ends the command before anything starts.
  const loaded = await readWorkloads(selected, backendName);
  for (const l of loaded) {
    const problem = backendName === "local" ? localScenarioProblem(l.scenario) : undefined;
    if (problem) throw new UsageError(`${l.file}: ${problem}`);
  }
  for (const l of loaded) for (const w of l.warnings) log(`warning: ${l.file}: ${w}`);
  return loaded;
}

export async function runCommand(paths: string[], opts: Record<string, unknown>): Promise<number> {
  // Everything is checked before anything starts: options, every scenario file, the backend's
  // prerequisites (Docker, kind, the Service port). Any problem there exits 2 with nothing started.
  const plan = runPlan(opts);
  const backendName = plan.backend;
  const loaded = await checkedScenarios(paths, opts, backendName);
  const backend = await createBackend(backendName, { ...backendOptionsFrom(opts, log), servicePort: plan.servicePort });
  installSignalHandlers(log);
  await preflight(backend);
  await checkTargets(backend, loaded);
  await preflightScenarios(
    backend,
    loaded.map((l) => l.scenario),
  );
  if (interruptedBy()) return interrupted(0);
  // The runner and the reports load once everything above is checked: a refusal there stays quick.
  const { runScenario } = await import("../../runner/run.js");
  const { formatResults } = await import("../../report/console.js");
  const { writeReports } = await import("../../report/write.js");
  // On Ctrl-C, after every run's own teardown: the namespaces still being deleted, then the backend.
  const unregisterClose = registerBackendCleanup(backend);
  const { repeat } = plan;
  let parallel = plan.parallel;
  if (parallel > 1 && hasRunPool(backend)) {
    const c = await backend.concurrency();
    if (c.max < parallel) {
      log(`--parallel ${parallel} lowered to ${Math.max(1, c.max)}: ${c.why}`);
      parallel = Math.max(1, c.max);
    }
  }
  log(
    `${loaded.length} scenario(s)${repeat > 1 ? ` × ${repeat} runs` : ""} on ${backend.name}, ${parallel} at a time` +
      (plan.timeoutScale !== 1 ? `, time limits × ${plan.timeoutScale}` : ""),
  );
  const tasks = loaded.flatMap((l) =>
    Array.from({ length: repeat }, (_, i) => async () => {
      const label = repeat > 1 ? `${l.scenario.name} #${i + 1}` : l.scenario.name;
      log(`▶ ${label}${repeat > 1 ? ` (run ${i + 1} of ${repeat})` : ""} (${l.file})`);
      const result = await runScenario(l, {
        backend,
        resultsDir: String(opts.results),
        onProgress: log,
        timeoutScale: plan.timeoutScale,
        ...(l.manifests ? { manifests: l.manifests } : {}),
        ...(repeat > 1 ? { attempt: i + 1 } : {}),
        ...(typeof opts.record === "boolean" ? { record: opts.record } : {}),
      });
      const status = runStatus(result);
      const mark = status === "pass" ? "✓" : status === "inconclusive" ? "?" : "✗";
      log(
        `${mark} ${label}${status === "pass" ? "" : ` ${statusWord(status)}`}` +
          `${result.error ? `: ${result.error}` : ""}` +
          `${status === "inconclusive" && result.inconclusive?.length ? `: ${result.inconclusive.join("; ")}` : ""}`,
      );
      return result;
    }),
  );
  const results: ScenarioResult[] = await runPool(tasks, parallel, () => interruptedBy() !== undefined);
  if (interruptedBy()) return interrupted(results.length);
  // Teardowns leave the namespaces going in the background: the run ends when they are gone.
  await drain(backend);
  unregisterClose();
  await close(backend);
  process.stdout.write(`${formatResults(results)}\n`);
  // 0 every run passed, 1 a verdict failed or a run errored (a flaky scenario has a failed run), 3 inconclusive.
  const exitCode = runExitCode(results);
  if (repeat > 1) {
    const summaries = summarizeRepeats(results);
    process.stdout.write(`${formatRepeatSummaries(summaries)}\n`);
    // A scenario whose verdicts differ across repeats is flaky, not passed.
    const flaky = summaries.filter((s) => s.status === "flaky").map((s) => s.scenario);
    if (flaky.length > 0) log(`FLAKY (not passed): ${flaky.join(", ")} — the verdicts differ across repeats`);
  }
  const inconclusive = inconclusiveLine(results);
  if (inconclusive) log(inconclusive);
  log(`results: ${resolve(String(opts.results))}`);
  const reports = await writeReports(results, String(opts.results));
  log(`reports: ${resolve(reports.junit)}, ${resolve(reports.html)}`);
  return exitCode;
}

/** Every target scenario's running workload checked on the cluster before any run (UsageError: exit 2). */
async function checkTargets(backend: Backend, loaded: LoadedScenario[]): Promise<void> {
  if (!checksTargets(backend)) return;
  for (const l of loaded) if (l.scenario.target) await backend.checkTarget(l.scenario.target);
}

/** After SIGINT/SIGTERM: wait for the teardown the signal started, then report 130/143. */
async function interrupted(completedRuns: number): Promise<number> {
  const signal = interruptedBy() ?? "SIGTERM";
  await interruptCleanupDone();
  log(`interrupted by ${signal} after ${completedRuns} run(s); no report written`);
  return exitCodeFor(signal);
}
