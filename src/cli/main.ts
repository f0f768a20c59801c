// graceful-e2e command line. Exit codes of `run`: 0 every run passed, 1 a verdict failed or a run
// errored (or a repeated scenario was flaky), 3 none failed but some run was INCONCLUSIVE (the
// evidence cannot back its verdicts: see inconclusiveLine), 2 bad input or a missing prerequisite (nothing was started),
// 130/143 interrupted.

import { writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { Command, CommanderError, InvalidArgumentError } from "commander";
import type { Backend } from "../backends/backend.js";
import {
  checksTargets,
  close,
  drain,
  drainsInBackground,
  hasRunPool,
  isClosable,
  preflight,
  preflightScenarios,
} from "../backends/capabilities.js";
import { assertDockerReachable } from "../backends/docker-check.js";
import { createBackend } from "../backends/index.js";
import { removeLabelledContainers } from "../backends/local/backend.js";
import { localScenarioProblem } from "../backends/local/nodes.js";
import { removeLeftoverVolumes } from "../backends/local/workload-run.js";
import { ensureStyleImages } from "../images/build.js";
import { DEFAULT_NODE_PORT } from "../k8s/manifests.js";
import { formatPorts, KIND_NODE_PORTS, parseNodePortRange } from "../k8s/node-ports.js";
import type { BackendName } from "../model/backend.js";
import { BACKEND_NAMES } from "../model/backend.js";
import { formatResults } from "../report/console.js";
import { inconclusiveLine, statusWord } from "../report/status.js";
import { writeReports } from "../report/write.js";
import { formatRepeatSummaries, runExitCode, runPool, summarizeRepeats } from "../runner/repeat.js";
import { runScenario, type ScenarioResult } from "../runner/run.js";
import { runStatus } from "../runner/status.js";
import { type LoadedScenario, loadScenarios, ScenarioValidationError } from "../scenario/load.js";
import { IMAGE_STYLES, type ImageStyle, scenarioJsonSchema } from "../scenario/schema.js";
import {
  exitCodeFor,
  installSignalHandlers,
  interruptCleanupDone,
  interruptedBy,
  registerCleanup,
} from "../util/cleanup.js";
import { PrerequisiteError, UsageError } from "../util/errors.js";
import { LABEL_RUN } from "../util/labels.js";
import { packageRoot } from "../util/paths.js";
import { addClusterOptions, backendOptionsFrom } from "./backend-options.js";
import { register as registerAudit } from "./commands/audit.js";
import { register as registerBench } from "./commands/bench.js";
import { register as registerCheck } from "./commands/check.js";
import { uncordonLeftNodes } from "./commands/clean-nodes.js";
import { register as registerReplay } from "./commands/replay.js";
import { readWorkloads, type TargetFlags, targetScenario } from "./workloads.js";

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

/**
 * Runs at once by default. Local runs are timing measurements, and every run's load generator,
 * Service proxy and clocks share this one Node process and the machine's cores: one run per 4
 * cores, at least 1 (so 1 on 2 cores). kind and existing: 1 — runs at once share the cluster's CPU
 * (kubelet, kube-proxy, the apps) and this machine's, which stretches what they measure; up to one
 * per NodePort on request (--parallel).
 */
export function defaultParallelism(backend: string, cores = availableParallelism()): number {
  return backend === "local" ? Math.max(1, Math.floor(cores / 4)) : 1;
}

export interface RunPlan {
  backend: BackendName;
  repeat: number;
  parallel: number;
  timeoutScale: number;
  servicePort?: number;
}

/** Checks the run options against each other (commander checked each one); throws UsageError. Pure. */
export function runPlan(opts: Record<string, unknown>, cores = availableParallelism()): RunPlan {
  const backend = String(opts.backend ?? "local");
  if (!(BACKEND_NAMES as readonly string[]).includes(backend))
    throw new UsageError(`--backend: unknown backend "${backend}" (expected one of ${BACKEND_NAMES.join(", ")})`);
  const servicePort = opts.servicePort as number | undefined;
  const explicit = opts.parallel as number | undefined;
  if (opts.nodePorts !== undefined && backend !== "existing") {
    throw new UsageError(
      `--node-ports is for the existing backend; ${
        backend === "kind"
          ? `kind uses the NodePorts kind-config.yaml publishes (${formatPorts(KIND_NODE_PORTS)})`
          : "the local backend's Service is a port on 127.0.0.1 (--service-port)"
      }`,
    );
  }
  const nodePorts =
    backend === "kind"
      ? [...KIND_NODE_PORTS]
      : backend === "existing"
        ? opts.nodePorts !== undefined
          ? parseNodePortRange(String(opts.nodePorts))
          : [DEFAULT_NODE_PORT]
        : undefined;
  if (servicePort !== undefined && nodePorts) {
    throw new UsageError(
      `--service-port is for the local backend; the ${backend} backend's Service listens on a NodePort (${formatPorts(nodePorts)})`,
    );
  }
  // One NodePort per run at once (a NodePort is cluster-wide).
  if (nodePorts && explicit !== undefined && explicit > nodePorts.length) {
    throw new UsageError(
      backend === "kind"
        ? `--parallel ${explicit}: the kind backend runs at most ${nodePorts.length} scenarios at once (one NodePort ` +
            `each: ${formatPorts(nodePorts)}, as kind-config.yaml publishes them)`
        : `--parallel ${explicit}: the existing backend runs one scenario per NodePort and has ${nodePorts.length} ` +
            `(${formatPorts(nodePorts)}): give one per scenario with --node-ports, e.g. --node-ports ` +
            `${nodePorts[0]}-${(nodePorts[0] as number) + explicit - 1}`,
    );
  }
  if (servicePort !== undefined && explicit !== undefined && explicit > 1) {
    throw new UsageError(
      `--parallel ${explicit} with --service-port ${servicePort}: runs at the same time cannot share one Service ` +
        "port; drop one of the two",
    );
  }
  return {
    backend: backend as BackendName,
    repeat: (opts.repeat as number | undefined) ?? 1,
    parallel: servicePort !== undefined ? 1 : (explicit ?? defaultParallelism(backend, cores)),
    timeoutScale: (opts.timeoutScale as number | undefined) ?? 1,
    ...(servicePort !== undefined ? { servicePort } : {}),
  };
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
  // Everything is checked before anything starts: options, every scenario file, the backend's
  // prerequisites (Docker, kind, the Service port). Any problem there exits 2 with nothing started.
  const plan = runPlan(opts);
  const backendName = plan.backend;
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
  const backend = await createBackend(backendName, { ...backendOptionsFrom(opts, log), servicePort: plan.servicePort });
  installSignalHandlers(log);
  await preflight(backend);
  await checkTargets(backend, loaded);
  await preflightScenarios(
    backend,
    loaded.map((l) => l.scenario),
  );
  if (interruptedBy()) return interrupted(0);
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

/**
 * Registers what Ctrl-C must do for the backend once every run's own teardown is done (cleanups run most
 * recent first, and the runs register after this): wait for whatever their teardowns left finishing in
 * the background (kind/existing: the namespaces being deleted), then close the backend.
 */
export function registerBackendCleanup(backend: Backend): () => void {
  if (!drainsInBackground(backend) && !isClosable(backend)) return () => {};
  return registerCleanup(`backend ${backend.name}`, async () => {
    await drain(backend);
    await close(backend);
  });
}

/** After SIGINT/SIGTERM: wait for the teardown the signal started, then report 130/143. */
async function interrupted(completedRuns: number): Promise<number> {
  const signal = interruptedBy() ?? "SIGTERM";
  await interruptCleanupDone();
  log(`interrupted by ${signal} after ${completedRuns} run(s); no report written`);
  return exitCodeFor(signal);
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
      process.exitCode = await runCommand(paths, opts);
    });

  program
    .command("validate")
    .description("validate scenario files without running anything")
    .argument("[paths...]", "scenario YAML files or directories")
    .action(async (paths: string[]) => {
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
      if (opts.context) process.stdout.write(`${await uncordonLeftNodes(opts.context, opts.run)}\n`);
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
