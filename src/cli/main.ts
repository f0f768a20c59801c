// graceful-e2e command line. Exit codes of `run`: 0 every run passed, 1 a verdict failed or a run
// errored (or a repeated scenario was flaky), 3 none failed but some run was INCONCLUSIVE (the
// evidence cannot back its verdicts: see inconclusiveLine), 2 bad input or a missing prerequisite (nothing was started),
// 130/143 interrupted.

import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { Command, CommanderError, InvalidArgumentError } from "commander";
import { formatPorts, KIND_NODE_PORTS } from "../k8s/node-ports.js";
import { BACKEND_NAMES } from "../model/backend.js";
import { IMAGE_STYLES, type ImageStyle, scenarioJsonSchema } from "../scenario/schema.js";
import { PrerequisiteError, UsageError } from "../util/errors.js";
import { LABEL_RUN } from "../util/labels.js";
import { packageRoot } from "../util/paths.js";
import { addClusterOptions } from "./backend-options.js";
import { register as registerAudit } from "./commands/audit.js";
import { register as registerBench } from "./commands/bench.js";
import { register as registerCheck } from "./commands/check.js";
import { register as registerReplay } from "./commands/replay.js";
import { defaultParallelism } from "./run-plan.js";

// What the tests and other callers import from here; the modules behind are loaded by the commands
// that need them (every import here is paid by every `graceful-e2e` process, even `--help`).
export { registerBackendCleanup } from "./backend-cleanup.js";
export { defaultParallelism, type RunPlan, runPlan, selectScenarios } from "./run-plan.js";

const log = (line: string) => process.stderr.write(`${line}\n`);

function intOption(name: string) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
    return n;
  };
}

function intInRange(name: string, min: number, max: number) {
  return (value: string) => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}`);
    return n;
  };
}

function positiveNumber(name: string, max: number) {
  return (value: string) => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n) || n <= 0 || n > max)
      throw new InvalidArgumentError(`${name} must be a number above 0 and at most ${max}`);
    return n;
  };
}

export function buildProgram(): Command {
  const program = new Command("graceful-e2e")
    .description("Proves whether an app survives pod deletion without dropping a request")
    .showHelpAfterError()
    // Throw instead of exiting, so bad arguments get exit code 2 like every other bad input.
    .exitOverride();

  addClusterOptions(program.command("run"))
    .description("run scenario files or directories (default: fixtures/scenarios)")
    .argument("[paths...]", "scenario YAML files or directories")
    .option("-b, --backend <name>", `backend: ${BACKEND_NAMES.join(" | ")}`, "local")
    .option("-f, --filter <regex>", "only scenarios whose name matches")
    .option(
      "--target <kind/name>",
      "kind/existing: test a workload already running (deployment/<name> or statefulset/<name>) instead of " +
        "scenario files: nothing is deployed, only the pods the disruption deletes change",
    )
    .option("-n, --namespace <ns>", "with --target: the workload's namespace")
    .option(
      "--service <name>",
      "with --target: the Service the load goes through (default: the one selecting its pods)",
    )
    .option("-t, --tag <tag...>", "only scenarios carrying one of these tags")
    .option("-r, --results <dir>", "directory for the JSON result files", "results")
    .option(
      "--record",
      "write each run's raw observations next to its result (<scenario>.<backend>.observations.jsonl.gz, for " +
        "`graceful-e2e replay` and bug reports); on by default for kind and existing",
    )
    .option("--no-record", "kind/existing: do not write the runs' observations")
    .option(
      "--propagation-ms <ms>",
      "local backend: endpoint propagation delay for every scenario",
      intOption("--propagation-ms"),
    )
    .option(
      "--service-port <port>",
      "local: fixed port for the Service on 127.0.0.1 (default: any free port; checked free before anything " +
        "starts; implies --parallel 1)",
      intInRange("--service-port", 1, 65535),
    )
    .option(
      "--repeat <n>",
      "run each scenario n times and report the verdict distribution, e.g. '3/3 pass'; a scenario whose " +
        "runs disagree is FLAKY, which is not a pass (exit code 1)",
      intInRange("--repeat", 1, 1000),
    )
    .option(
      "--parallel <n>",
      `runs at once (default here: ${defaultParallelism("local")} for local). Local runs are timing ` +
        "measurements sharing this process and the machine's cores, so the default is one per 4 cores, at " +
        "least 1 (1 on 2 cores); each run has its own Service port and containers. kind/existing: default 1, " +
        `at most one per NodePort (kind: ${KIND_NODE_PORTS.length}, ${formatPorts(KIND_NODE_PORTS)}; existing: ` +
        "--node-ports), since every run's Service claims one; runs at once share the cluster's CPU",
      intInRange("--parallel", 1, 64),
    )
    .option(
      "--timeout-scale <x>",
      "multiply the named time limits — setup (image + deploy until ready), scenario (load window: the " +
        "disruption and the wait for the disrupted pods, from the scenario's grace/preStop times), teardown",
      positiveNumber("--timeout-scale", 100),
    )
    // A bad option: commander's one line, a one-line pointer (not the whole help), exit code 2.
    .showHelpAfterError("(graceful-e2e run --help lists the options)")
    .addHelpText(
      "after",
      "\nExit codes: 0 every run passed; 1 a verdict failed, a run errored, or a repeated scenario was flaky;\n" +
        "3 nothing failed but some run was INCONCLUSIVE (a disrupted pod not shown to carry traffic, a verdict\n" +
        "the evidence cannot decide, or a harness too saturated to keep its clock); 2 bad input or a missing prerequisite (nothing was started); 130/143 interrupted\n" +
        "(everything torn down).",
    )
    .action(async (paths: string[], opts: Record<string, unknown>) => {
      const { runCommand } = await import("./commands/run.js");
      process.exitCode = await runCommand(paths, opts);
    });

  program
    .command("validate")
    .description("validate scenario files without running anything")
    .argument("[paths...]", "scenario YAML files or directories")
    .action(async (paths: string[]) => {
      const { loadScenarios } = await import("../scenario/load.js");
      const { readWorkloads } = await import("./workloads.js");
      const all = await loadScenarios(paths.length > 0 ? paths : [resolve(packageRoot(), "fixtures/scenarios")]);
      // The manifests too: what `run` would refuse before anything starts, validate refuses.
      const loaded = await readWorkloads(all, undefined);
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
      const { assertDockerReachable } = await import("../backends/docker-check.js");
      const { ensureStyleImages } = await import("../images/build.js");
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
    .option("--run <id>", "only the containers of this run (its id is in the run's first progress line)")
    .option(
      "--context <name>",
      "also uncordon the nodes a drain left cordoned in this kubeconfig context (kind: kind-graceful-e2e)",
    )
    .action(async (opts: { run?: string; context?: string }) => {
      if (opts.context) {
        const { uncordonLeftNodes } = await import("./commands/clean-nodes.js");
        process.stdout.write(`${await uncordonLeftNodes(opts.context, opts.run)}\n`);
      }
      const { assertDockerReachable } = await import("../backends/docker-check.js");
      const { removeLabelledContainers } = await import("../backends/local/backend.js");
      const { removeLeftoverVolumes } = await import("../backends/local/workload-run.js");
      await assertDockerReachable();
      const removed = await removeLabelledContainers([opts.run ? `${LABEL_RUN}=${opts.run}` : LABEL_RUN]);
      // The volume folders of workload runs on the local runtime (ConfigMap/Secret files) go with them.
      const folders = await removeLeftoverVolumes(opts.run);
      const all = [...removed, ...folders];
      process.stdout.write(all.length > 0 ? `removed ${all.length}: ${all.join(", ")}\n` : "nothing to remove\n");
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
  registerAudit(program);
  registerReplay(program);
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
    // Loaded already when it is the one thrown (a scenario file was read).
    const { ScenarioValidationError } = await import("../scenario/load.js");
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
