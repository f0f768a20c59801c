// `bench prestop`: the sweep's runner loop (delays × repeats through runScenario) and the files it
// writes (CSV, JSON, SVG, PNG).
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Backend } from "../backends/backend.js";
import { runScenario } from "../runner/run.js";
import { scenarioWarnings } from "../scenario/load.js";
import { interruptedBy } from "../util/cleanup.js";
import { renderPng, renderSvg, sweepChartSpec } from "./chart.js";
import { type MachineInfo, machineInfo } from "./machine.js";
import { pointsCsv, rowsCsv, sweepJson } from "./output.js";
import {
  aggregate,
  type DelayRow,
  measurePoint,
  type PointMeasurement,
  type SweepConfig,
  type SweepSummary,
  summarize,
  sweepScenario,
} from "./sweep.js";

export interface SweepHooks {
  onProgress?: (line: string) => void;
  /** Where each run's full scenario result goes (default: none). */
  runsDir?: string;
}

/** One line per point, as the sweep goes. */
function pointLine(p: PointMeasurement, index: number, total: number): string {
  const t = p.terminationMs.length > 0 ? `${(Math.max(...p.terminationMs) / 1000).toFixed(2)} s` : "?";
  return (
    `point ${index}/${total}: preStop ${p.delaySeconds} s, repeat ${p.repeat} → ` +
    (p.error
      ? `ERROR ${p.error}`
      : `${p.failed} failed of ${p.sent}, delete→exit ${t}${p.sigkilled ? " (SIGKILL)" : ""}`)
  );
}

/**
 * Runs every delay × repeat. Repeats are the outer loop, so a slow drift of the machine spreads
 * over every delay instead of biasing the last ones.
 */
export async function runPrestopSweep(
  backend: Backend,
  cfg: SweepConfig,
  hooks: SweepHooks = {},
): Promise<PointMeasurement[]> {
  const points: PointMeasurement[] = [];
  const total = cfg.delays.length * cfg.repeats;
  for (let repeat = 1; repeat <= cfg.repeats; repeat++) {
    for (const delay of cfg.delays) {
      if (interruptedBy()) return points;
      const scenario = sweepScenario(cfg, delay, repeat);
      const result = await runScenario(
        { file: `bench prestop (${cfg.mode})`, scenario, warnings: scenarioWarnings(scenario) },
        { backend, resultsDir: hooks.runsDir },
      );
      const point = measurePoint(result, delay, repeat, backend.name);
      points.push(point);
      hooks.onProgress?.(pointLine(point, points.length, total));
    }
  }
  return points;
}

export interface SweepFiles {
  csv: string;
  pointsCsv: string;
  json: string;
  svg: string;
  png?: string;
  pngNote?: string;
}

export interface SweepReport {
  rows: DelayRow[];
  summary: SweepSummary;
  files: SweepFiles;
  machine: MachineInfo;
}

export async function writeSweep(input: {
  outDir: string;
  cfg: SweepConfig;
  backend: string;
  imageLabel: string;
  points: PointMeasurement[];
  startedAt: string;
  durationMs: number;
}): Promise<SweepReport> {
  const { outDir, cfg, backend, points } = input;
  await mkdir(outDir, { recursive: true });
  const rows = aggregate(points, { propagationParameterMs: backend === "local" ? cfg.propagationMs : undefined });
  const summary = summarize(rows, cfg, backend);
  const machine = await machineInfo();
  const base = join(outDir, `prestop-${cfg.mode}`);
  const files: SweepFiles = {
    csv: `${base}.csv`,
    pointsCsv: `${base}-runs.csv`,
    json: `${base}.json`,
    svg: `${base}.svg`,
  };
  await writeFile(files.csv, rowsCsv(rows));
  await writeFile(files.pointsCsv, pointsCsv(points));
  await writeFile(
    files.json,
    `${JSON.stringify(
      sweepJson({
        config: cfg,
        backend,
        imageRef: input.imageLabel,
        machine,
        startedAt: input.startedAt,
        durationMs: input.durationMs,
        points,
        rows,
        summary,
      }),
      null,
      2,
    )}\n`,
  );
  const spec = sweepChartSpec(rows, points, {
    title: `preStop sweep: ${input.imageLabel} on ${backend} (${cfg.mode})`,
    subtitle: [
      `${cfg.repeats} repeat(s) per delay, ${cfg.replicas} replicas, grace ${cfg.graceSeconds} s, load ${cfg.loadSeconds} s × ${cfg.connections} connections`,
      ...(backend === "local"
        ? [`endpoint propagation ${cfg.propagationMs} ms: a parameter of the local backend, not a measurement`]
        : []),
      summary.zeroFailure.delaySeconds === undefined
        ? "no delay gave zero failed requests in every repeat"
        : `smallest delay with zero failed requests in every repeat: ${summary.zeroFailure.delaySeconds} s`,
      ...(summary.terminationCost
        ? [`each extra second of preStop: +${summary.terminationCost.slope.toFixed(2)} s of termination time`]
        : []),
      ...(summary.rolloutCost ? [`… and +${summary.rolloutCost.slope.toFixed(2)} s of rollout time`] : []),
    ],
    mode: cfg.mode,
    zeroFailureDelay: summary.zeroFailure.delaySeconds,
  });
  const svg = await renderSvg(spec);
  await writeFile(files.svg, svg);
  const png = await renderPng(svg);
  if (png.png) {
    files.png = `${base}.png`;
    await writeFile(files.png, png.png);
  } else files.pngNote = png.note;
  return { rows, summary, files, machine };
}
