// graceful-e2e command line. Exit codes: 0 every verdict passed, 1 a verdict failed or a run
// errored, 2 bad input or a missing prerequisite (nothing was started), 130/143 interrupted.
import { writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { Command, CommanderError, InvalidArgumentError } from "commander";
import { assertDockerReachable } from "../backends/docker-check.js";
import { BACKEND_NAMES, createBackend } from "../backends/index.js";
import { removeLabelledContainers } from "../backends/local/backend.js";
import { ensureStyleImages } from "../images/build.js";
import { formatResults } from "../report/console.js";
import { writeReports } from "../report/write.js";
import { formatRepeatSummaries, runPool, summarizeRepeats } from "../runner/repeat.js";
import { runScenario, type ScenarioResult } from "../runner/run.js";
import { type LoadedScenario, loadScenarios, ScenarioValidationError } from "../scenario/load.js";
import { IMAGE_STYLES, type ImageStyle, scenarioJsonSchema } from "../scenario/schema.js";
import { installSignalHandlers, interruptedBy, registerCleanup } from "../util/cleanup.js";
import { PrerequisiteError, UsageError } from "../util/errors.js";
import { LABEL_RUN } from "../util/labels.js";
import { packageRoot } from "../util/paths.js";
import { register as registerBench } from "./commands/bench.js";
import { register as registerCheck } from "./commands/check.js";

const log = (line: string) => process.stderr.write(`${line}\n`);

function intOption(name: string) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
    return n;
  };
}

function positiveInt(name: string) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
    return n;
  };
}

function positiveNumber(name: string) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number`);
    return n;
  };
}

/** Local runs are timing measurements sharing this machine's cores: one per 4 cores. */
export function defaultParallelism(backend: string, cores = availableParallelism()): number {
  return backend === "local" ? Math.max(1, Math.floor(cores / 4)) : 2;
}

export function selectScenarios(all: LoadedScenario[], filter?: string, tags?: string[]): LoadedScenario[] {
  let re: RegExp | undefined;
  try {
    re = filter ? new RegExp(filter) : undefined;
  } catch (err) {
    throw new UsageError(`--filter: not a valid regular expression: ${(err as Error).message}`);
  }
  return all.filter(
    (l) =>
      (!re || re.test(l.scenario.name)) &&
      (!tags || tags.length === 0 || tags.some((t) => l.scenario.tags.includes(t))),
  );
}

async function runCommand(paths: string[], opts: Record<string, unknown>): Promise<number> {
  const backendName = String(opts.backend);
  const scenarioPaths = paths.length > 0 ? paths : [resolve(packageRoot(), "fixtures/scenarios")];
  const loaded = selectScenarios(
    await loadScenarios(scenarioPaths),
    opts.filter as string | undefined,
    opts.tag as string[],
  );
  if (loaded.length === 0) throw new UsageError("no scenario matched (check the paths, --filter and --tag)");
  for (const l of loaded) for (const w of l.warnings) log(`warning: ${l.file}: ${w}`);
  const backend = await createBackend(backendName, {
    endpointPropagationMs: opts.propagationMs as number | undefined,
    servicePort: opts.servicePort as number | undefined,
    clusterName: opts.cluster as string | undefined,
    keepCluster: Boolean(opts.keepCluster),
    context: opts.context as string | undefined,
    registry: opts.registry as string | undefined,
    allowMutations: Boolean(opts.allowMutations),
    address: opts.address as string | undefined,
    log,
  });
  await backend.preflight?.();
  installSignalHandlers(log);
  const unregisterClose = backend.close
    ? registerCleanup(`backend ${backend.name}`, async () => {
        await backend.close?.();
      })
    : () => {};
  const repeat = (opts.repeat as number | undefined) ?? 1;
  const parallel = (opts.parallel as number | undefined) ?? defaultParallelism(backendName);
  const tasks = loaded.flatMap((l) =>
    Array.from({ length: repeat }, (_, i) => async () => {
      const label = repeat > 1 ? `${l.scenario.name} (${i + 1}/${repeat})` : l.scenario.name;
      log(`▶ ${label} (${l.file})`);
      const result = await runScenario(l, {
        backend,
        resultsDir: String(opts.results),
        onProgress: log,
        timeoutScale: opts.timeoutScale as number | undefined,
        ...(repeat > 1 ? { attempt: i + 1 } : {}),
      });
      log(`${result.pass ? "✓" : "✗"} ${label}${result.error ? `: ${result.error}` : ""}`);
      return result;
    }),
  );
  const results: ScenarioResult[] = await runPool(tasks, parallel, () => interruptedBy() !== undefined);
  unregisterClose();
  await backend.close?.();
  process.stdout.write(`${formatResults(results)}\n`);
  const reports = await writeReports(results, String(opts.results));
  log(`reports: ${resolve(reports.junit)}, ${resolve(reports.html)}`);
  log(`results: ${resolve(String(opts.results))}`);
  if (repeat > 1) {
    const summaries = summarizeRepeats(results);
    process.stdout.write(`${formatRepeatSummaries(summaries)}\n`);
    // A scenario whose verdicts differ across repeats is flaky, not passed.
    return summaries.every((s) => s.status === "pass") ? 0 : 1;
  }
  return results.every((r) => r.pass) ? 0 : 1;
}

export function buildProgram(): Command {
  const program = new Command("graceful-e2e")
    .description("Proves whether an app survives pod deletion without dropping a request")
    .showHelpAfterError()
    // Throw instead of exiting, so bad arguments get exit code 2 like every other bad input.
    .exitOverride();

  program
    .command("run")
    .description("run scenario files or directories (default: fixtures/scenarios)")
    .argument("[paths...]", "scenario YAML files or directories")
    .option("-b, --backend <name>", `backend: ${BACKEND_NAMES.join(" | ")}`, "local")
    .option("-f, --filter <regex>", "only scenarios whose name matches")
    .option("-t, --tag <tag...>", "only scenarios carrying one of these tags")
    .option("-r, --results <dir>", "directory for the JSON result files", "results")
    .option(
      "--propagation-ms <ms>",
      "local backend: endpoint propagation delay for every scenario",
      intOption("--propagation-ms"),
    )
    .option(
      "--service-port <port>",
      "local: fixed port for the Service on 127.0.0.1 (default: any free port)",
      positiveInt("--service-port"),
    )
    .option(
      "--repeat <n>",
      "run each scenario n times and report the verdict distribution (flaky = runs disagree)",
      positiveInt("--repeat"),
    )
    .option(
      "--parallel <n>",
      "scenarios run at once (default: local 1 per 4 cores, at least 1 — these are timing measurements, " +
        "so on 2 cores one at a time; kind/existing: 2, each run has its own namespace)",
      positiveInt("--parallel"),
    )
    .option(
      "--timeout-scale <x>",
      "multiply the setup, scenario and teardown time limits",
      positiveNumber("--timeout-scale"),
    )
    .option("--cluster <name>", "kind: cluster name", "graceful-e2e")
    .option("--keep-cluster", "kind: keep a cluster this run created")
    .option("--context <name>", "existing: kubeconfig context")
    .option("--registry <registry>", "existing: registry to push images to")
    .option(
      "--address <host:port>",
      "existing: NodePort/LoadBalancer address reachable from here (omit: load from a Job in the cluster)",
    )
    .option("--allow-mutations", "existing: confirm that pods may be created and deleted in that cluster")
    .action(async (paths: string[], opts: Record<string, unknown>) => {
      process.exitCode = await runCommand(paths, opts);
    });

  program
    .command("validate")
    .description("validate scenario files without running anything")
    .argument("[paths...]", "scenario YAML files or directories")
    .action(async (paths: string[]) => {
      const loaded = await loadScenarios(paths.length > 0 ? paths : [resolve(packageRoot(), "fixtures/scenarios")]);
      for (const l of loaded) {
        process.stdout.write(`ok ${l.file} (${l.scenario.name})\n`);
        for (const w of l.warnings) process.stdout.write(`  warning: ${w}\n`);
      }
    });

  const images = program.command("images").description("sample images, one per entrypoint style");
  images
    .command("build")
    .description("build the sample images (rebuilt only when their context changed)")
    .argument("[styles...]", `styles (default: all): ${IMAGE_STYLES.join(", ")}`)
    .option("--force", "rebuild even when the tag exists")
    .action(async (styles: string[], opts: { force?: boolean }) => {
      const unknown = styles.filter((s) => !(IMAGE_STYLES as readonly string[]).includes(s));
      if (unknown.length > 0)
        throw new UsageError(`unknown image style(s): ${unknown.join(", ")} (known: ${IMAGE_STYLES.join(", ")})`);
      await assertDockerReachable();
      const built = await ensureStyleImages((styles.length > 0 ? styles : [...IMAGE_STYLES]) as ImageStyle[], {
        onProgress: log,
        force: Boolean(opts.force),
      });
      for (const b of built) process.stdout.write(`${b.style}\t${b.ref}\n`);
    });

  program
    .command("clean")
    .description(`remove every container a run created (label ${LABEL_RUN}), e.g. after a crash`)
    .action(async () => {
      await assertDockerReachable();
      const removed = await removeLabelledContainers([LABEL_RUN]);
      process.stdout.write(
        removed.length > 0 ? `removed ${removed.length}: ${removed.join(", ")}\n` : "nothing to remove\n",
      );
    });

  program
    .command("schema")
    .description("print the scenario JSON Schema (for editors)")
    .option("-o, --output <file>", "write it to a file instead")
    .action(async (opts: { output?: string }) => {
      const text = `${JSON.stringify(scenarioJsonSchema(), null, 2)}\n`;
      if (opts.output) await writeFile(opts.output, text);
      else process.stdout.write(text);
    });

  registerBench(program);
  registerCheck(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return Number(process.exitCode ?? 0);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander already printed the message (and the help after it).
      return err.exitCode === 0 || err.code === "commander.helpDisplayed" || err.code === "commander.version" ? 0 : 2;
    }
    if (err instanceof ScenarioValidationError) {
      log(err.message);
      return 2;
    }
    if (err instanceof UsageError || err instanceof PrerequisiteError) {
      log(`error: ${err.message}`);
      return 2;
    }
    log(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return 1;
  }
}
