// `graceful-e2e check --image IMAGE --port P`: no scenario file. Reads the container's process
// tree and SIGTERM dispositions before any signal, predicts, runs a delete under load, and
// diagnoses. Exit status: 0 a clean drain, nothing dropped; 1 requests dropped, or a shutdown with something to
// fix (killed at the grace end, abrupt), or the run failed; 2 bad input.

import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { close, isClosable, preflight } from "../../backends/capabilities.js";
import { CHECK_DEFAULTS } from "../../check/defaults.js";
import type { CheckOptions } from "../../check/run.js";
import { BACKEND_NAMES } from "../../model/backend.js";
import { LOAD_PROTOCOLS, type LoadProtocolName } from "../../scenario/schema.js";
import { installSignalHandlers, registerCleanup } from "../../util/cleanup.js";
import { addClusterOptions, backendOptionsFrom } from "../backend-options.js";

const log = (line: string) => process.stderr.write(`${line}\n`);

function numberOption(name: string, { integer = false, min = 0 } = {}) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
      throw new InvalidArgumentError(`${name} must be ${integer ? "an integer" : "a number"} ≥ ${min}`);
    }
    return n;
  };
}

function protocolOption(value: string): LoadProtocolName {
  if (!(LOAD_PROTOCOLS as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`--protocol must be one of ${LOAD_PROTOCOLS.join(", ")}, got "${value}"`);
  }
  return value as LoadProtocolName;
}

function envOption(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf("=");
  if (eq <= 0) throw new InvalidArgumentError(`--env expects KEY=VALUE, got "${value}"`);
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

export function register(program: Command): void {
  addClusterOptions(program.command("check"))
    .description(
      "start an image, read its process tree and SIGTERM handling before any signal, predict, then delete a pod under load and diagnose",
    )
    .requiredOption("-i, --image <ref>", "image reference (present locally for the local backend; not :latest)")
    .requiredOption(
      "-p, --port <port>",
      "port the app listens on in the container",
      numberOption("--port", { integer: true, min: 1 }),
    )
    .option("--path <path>", "path the load requests (websocket: the path it connects to)", CHECK_DEFAULTS.path)
    .option(
      "--protocol <name>",
      "what the load speaks: http1 (keep-alive HTTP/1.1), http2 (h2c, prior knowledge), grpc (grpc.health.v1.Health/Check, " +
        "the standard health service), websocket (echo); readiness is still an HTTP/1.1 GET of --ready-path",
      protocolOption,
      "http1",
    )
    .option("--ready-path <path>", "path polled until a replica answers 2xx (default: --path)")
    .option("-b, --backend <name>", `backend: ${BACKEND_NAMES.join(" | ")}`, "local")
    .option("--grace <s>", "terminationGracePeriodSeconds", numberOption("--grace"), CHECK_DEFAULTS.graceSeconds)
    .option(
      "--prestop <s>",
      "preStop sleep in seconds, 0 for none (default 2: longer than the local endpoint propagation, so drops come from signal handling)",
      numberOption("--prestop"),
      CHECK_DEFAULTS.preStopSeconds,
    )
    .option(
      "--propagation-ms <ms>",
      "local backend: endpoint propagation delay (a parameter, not a measurement)",
      numberOption("--propagation-ms", { integer: true }),
      CHECK_DEFAULTS.propagationMs,
    )
    .option(
      "--replicas <n>",
      "replicas (one is deleted)",
      numberOption("--replicas", { integer: true, min: 1 }),
      CHECK_DEFAULTS.replicas,
    )
    .option(
      "--connections <n>",
      "load connections",
      numberOption("--connections", { integer: true, min: 1 }),
      CHECK_DEFAULTS.connections,
    )
    .option("--load-seconds <s>", "minimum load duration", numberOption("--load-seconds"), CHECK_DEFAULTS.loadSeconds)
    .option("--at <s>", "delete this long after the load started", numberOption("--at"), CHECK_DEFAULTS.atSeconds)
    .option("-e, --env <KEY=VALUE>", "environment variable for the container (repeatable)", envOption)
    .option("-r, --results <dir>", "directory for the result and check-report JSON files", "results/check")
    .option("--json", "print the report as JSON instead of text")
    .action(async (opts: Record<string, unknown>) => {
      // Loaded only when check runs: the backend, the runner and the inspection.
      const { createBackend } = await import("../../backends/index.js");
      const { formatCheckReport, formatInspection } = await import("../../check/report.js");
      const { checkExitCode, runCheck } = await import("../../check/run.js");
      const backendName = String(opts.backend);
      const backend = await createBackend(backendName, backendOptionsFrom(opts, log));
      await preflight(backend);
      installSignalHandlers(log);
      const unregisterClose = isClosable(backend)
        ? registerCleanup(`backend ${backend.name}`, async () => {
            await close(backend);
          })
        : () => {};
      const options: CheckOptions = {
        image: String(opts.image),
        port: opts.port as number,
        path: String(opts.path),
        readyPath: opts.readyPath as string | undefined,
        graceSeconds: opts.grace as number,
        preStopSeconds: opts.prestop as number,
        propagationMs: opts.propagationMs as number,
        replicas: opts.replicas as number,
        connections: opts.connections as number,
        loadSeconds: opts.loadSeconds as number,
        atSeconds: opts.at as number,
        env: opts.env as Record<string, string> | undefined,
        protocol: opts.protocol as LoadProtocolName,
      };
      const resultsDir = String(opts.results);
      let report: Awaited<ReturnType<typeof runCheck>>;
      try {
        report = await runCheck(backend, options, {
          resultsDir,
          onProgress: log,
          onPrediction: (inspection, prediction) => log(`\n${formatInspection(inspection, prediction)}\n`),
        });
      } finally {
        unregisterClose();
        await close(backend);
      }
      await mkdir(resultsDir, { recursive: true });
      const file = join(resultsDir, `${report.scenario.name}.${report.backend}.check.json`);
      const { result: _result, ...rest } = report;
      await writeFile(file, `${JSON.stringify(rest, null, 2)}\n`);
      process.stdout.write(opts.json ? `${JSON.stringify(rest, null, 2)}\n` : `${formatCheckReport(report)}\n`);
      log(`check report: ${resolve(file)} (scenario result next to it)`);
      process.exitCode = checkExitCode(report);
    });
}
