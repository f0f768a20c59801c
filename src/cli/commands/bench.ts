// `graceful-e2e bench prestop`: sweeps preStop delays × repeats for one image on one backend and
// writes a table, CSV, JSON and a chart.

import { resolve } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { close, isClosable, preflight } from "../../backends/capabilities.js";
import { DEFAULT_DELAYS, SWEEP_DEFAULTS, type SweepConfig, type SweepMode } from "../../bench/sweep.js";
import { BACKEND_NAMES } from "../../model/backend.js";
import { IMAGE_STYLES, type ImageRef, type ImageStyle } from "../../scenario/schema.js";
import { installSignalHandlers, registerCleanup } from "../../util/cleanup.js";
import { UsageError } from "../../util/errors.js";
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

/** "0,0.5,1" → [0, 0.5, 1] (sorted, unique). */
export function parseDelays(value: string): number[] {
  const parts = value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  const delays = parts.map(Number);
  if (delays.length === 0 || delays.some((d) => !Number.isFinite(d) || d < 0 || d > 600)) {
    throw new InvalidArgumentError(`--delays expects comma-separated seconds between 0 and 600, got "${value}"`);
  }
  return [...new Set(delays)].sort((a, b) => a - b);
}

export function register(program: Command): void {
  const bench = program.command("bench").description("measurements that sweep a parameter over many runs");
  addClusterOptions(bench.command("prestop"))
    .description(
      "sweep preStop delays × repeats: failed requests, latency during termination, termination time; CSV, JSON and a chart",
    )
    .option("-s, --style <style>", `sample image style: ${IMAGE_STYLES.join(", ")}`)
    .option(
      "-i, --image <ref>",
      "any image instead of a style (fixed tag; must answer 2xx on /healthz on the local backend)",
    )
    .option(
      "-p, --port <port>",
      "container port",
      numberOption("--port", { integer: true, min: 1 }),
      SWEEP_DEFAULTS.port,
    )
    .option(
      "--delays <list>",
      `preStop sleep seconds, comma-separated (default ${DEFAULT_DELAYS.join(",")})`,
      parseDelays,
    )
    .option(
      "-n, --repeats <n>",
      "runs per delay",
      numberOption("--repeats", { integer: true, min: 1 }),
      SWEEP_DEFAULTS.repeats,
    )
    .option("-m, --mode <mode>", "delete (one pod) | rollout (every replica replaced one by one)", "delete")
    .option("-b, --backend <name>", `backend: ${BACKEND_NAMES.join(" | ")}`, "local")
    .option(
      "--propagation-ms <ms>",
      "local backend: endpoint propagation delay (a parameter, not a measurement)",
      numberOption("--propagation-ms", { integer: true }),
      SWEEP_DEFAULTS.propagationMs,
    )
    .option("--grace <s>", "terminationGracePeriodSeconds", numberOption("--grace"), SWEEP_DEFAULTS.graceSeconds)
    .option(
      "--load-seconds <s>",
      "minimum load duration per run",
      numberOption("--load-seconds"),
      SWEEP_DEFAULTS.loadSeconds,
    )
    .option(
      "--replicas <n>",
      "replicas",
      numberOption("--replicas", { integer: true, min: 1 }),
      SWEEP_DEFAULTS.replicas,
    )
    .option(
      "--connections <n>",
      "load connections",
      numberOption("--connections", { integer: true, min: 1 }),
      SWEEP_DEFAULTS.connections,
    )
    .option("-o, --out <dir>", "output directory", "results/bench")
    .action(async (opts: Record<string, unknown>) => {
      const mode = String(opts.mode) as SweepMode;
      if (mode !== "delete" && mode !== "rollout")
        throw new UsageError(`--mode: expected delete or rollout, got "${mode}"`);
      if (opts.style && opts.image) throw new UsageError("give --style or --image, not both");
      const style = (opts.style as string | undefined) ?? (opts.image ? undefined : "exec-form");
      if (style && !(IMAGE_STYLES as readonly string[]).includes(style)) {
        throw new UsageError(`--style: unknown style "${style}" (known: ${IMAGE_STYLES.join(", ")})`);
      }
      // Loaded only when the sweep runs: the backend, the runner, the chart.
      const { createBackend } = await import("../../backends/index.js");
      const { formatTable, tableRows } = await import("../../bench/output.js");
      const { runPrestopSweep, writeSweep } = await import("../../bench/prestop.js");
      const { resolveFixedRef } = await import("../../check/run.js");
      const backendName = String(opts.backend);
      const backend = await createBackend(backendName, backendOptionsFrom(opts, log));
      await preflight(backend);
      let image: ImageRef;
      let imageLabel: string;
      if (style) {
        image = { style: style as ImageStyle };
        imageLabel = style;
      } else {
        const ref = backendName === "local" ? (await resolveFixedRef(String(opts.image))).ref : String(opts.image);
        image = { ref };
        imageLabel = ref;
      }
      const cfg: SweepConfig = {
        ...SWEEP_DEFAULTS,
        image,
        port: opts.port as number,
        delays: (opts.delays as number[] | undefined) ?? DEFAULT_DELAYS,
        repeats: opts.repeats as number,
        mode,
        graceSeconds: opts.grace as number,
        loadSeconds: opts.loadSeconds as number,
        replicas: opts.replicas as number,
        connections: opts.connections as number,
        propagationMs: opts.propagationMs as number,
      };
      const tooLong = cfg.delays.filter((d) => d >= cfg.graceSeconds);
      if (tooLong.length > 0) {
        log(
          `warning: preStop ${tooLong.join(", ")} s ≥ grace ${cfg.graceSeconds} s: the kubelet then sends SIGTERM with only 2 s left`,
        );
      }
      const outDir = resolve(String(opts.out));
      installSignalHandlers(log);
      const unregisterClose = isClosable(backend)
        ? registerCleanup(`backend ${backend.name}`, async () => {
            await close(backend);
          })
        : () => {};
      const started = Date.now();
      log(
        `bench prestop: ${imageLabel} on ${backend.name}, mode ${mode}, delays ${cfg.delays.join(", ")} s × ${cfg.repeats} repeat(s) = ${
          cfg.delays.length * cfg.repeats
        } runs`,
      );
      let points: Awaited<ReturnType<typeof runPrestopSweep>>;
      try {
        points = await runPrestopSweep(backend, cfg, { onProgress: log, runsDir: resolve(outDir, "runs") });
      } finally {
        unregisterClose();
        await close(backend);
      }
      const report = await writeSweep({
        outDir,
        cfg,
        backend: backend.name,
        imageLabel,
        points,
        startedAt: new Date(started).toISOString(),
        durationMs: Date.now() - started,
      });
      process.stdout.write(`${formatTable(tableRows(report.rows, mode))}\n\n`);
      for (const line of report.summary.lines) process.stdout.write(`${line}\n`);
      process.stdout.write(
        `\nwall time ${((Date.now() - started) / 1000).toFixed(0)} s; files: ${[
          report.files.csv,
          report.files.pointsCsv,
          report.files.json,
          report.files.svg,
          report.files.png,
        ]
          .filter(Boolean)
          .join(", ")}${report.files.pngNote ? ` (${report.files.pngNote})` : ""}\n`,
      );
      process.exitCode = points.some((p) => p.error !== undefined) ? 1 : 0;
    });
}
