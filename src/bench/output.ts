// The sweep's console table, CSV files and JSON document. Pure.
import { FAILURE_KINDS } from "../load/types.js";
import type { DelayRow, PointMeasurement, Stat, SweepConfig, SweepSummary } from "./sweep.js";

const f = (x: number | undefined, digits = 2) => (x === undefined || !Number.isFinite(x) ? "" : x.toFixed(digits));

function range(s: Stat | undefined, digits = 2): string {
  if (!s) return "-";
  return s.min === s.max
    ? `${s.mean.toFixed(digits)}`
    : `${s.mean.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
}

function failedCell(r: DelayRow): string {
  if (!r.failed) return r.errors > 0 ? "error" : "-";
  const kinds = Object.entries(r.failedByKind)
    .map(([k, s]) => `${k} ${s.sum}`)
    .join(", ");
  return `${r.failed.sum} [${r.failed.min}–${r.failed.max}]${kinds ? ` ${kinds}` : ""}`;
}

export function propagationCell(r: DelayRow): string {
  switch (r.propagation.source) {
    case "parameter":
      return `${r.propagation.ms} ms (parameter)`;
    case "measured":
      return `${range({ ...r.propagation.ms, mean: r.propagation.ms.mean / 1000, min: r.propagation.ms.min / 1000, max: r.propagation.ms.max / 1000 })} s (measured)`;
    default:
      return "not observed";
  }
}

export function tableRows(rows: DelayRow[], mode: SweepConfig["mode"]): string[][] {
  const head = [
    "preStop",
    "runs",
    "failed: sum [min–max] by kind",
    "latency p50/p99 in window",
    "delete→exit s",
    "delete→gone s",
    "SIGKILL",
    "endpoint propagation",
    "last served s",
  ];
  if (mode === "rollout") head.push("rollout s");
  const out = [head];
  for (const r of rows) {
    const row = [
      `${r.delaySeconds} s`,
      `${r.runs}${r.errors > 0 ? ` (${r.errors} err)` : ""}`,
      failedCell(r),
      r.latencySamples > 0 ? `${f(r.latencyP50Ms, 1)}/${f(r.latencyP99Ms, 1)} ms (n=${r.latencySamples})` : "-",
      range(r.terminationS),
      range(r.goneS),
      String(r.sigkilled),
      propagationCell(r),
      range(r.lastServedS),
    ];
    if (mode === "rollout") row.push(range(r.rolloutS));
    out.push(row);
  }
  return out;
}

export function formatTable(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  const [head, ...body] = rows;
  return [line(head ?? []), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

function csvCell(v: string | number | undefined): string {
  if (v === undefined) return "";
  const s = typeof v === "number" ? (Number.isFinite(v) ? String(Math.round(v * 1000) / 1000) : "") : v;
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function csv(header: string[], rows: Array<Array<string | number | undefined>>): string {
  return `${[header.join(","), ...rows.map((r) => r.map(csvCell).join(","))].join("\n")}\n`;
}

/** One line per delay. */
export function rowsCsv(rows: DelayRow[]): string {
  const header = [
    "prestop_s",
    "runs",
    "errors",
    "failed_sum",
    "failed_min",
    "failed_max",
    ...FAILURE_KINDS.flatMap((k) => [`${k}_sum`, `${k}_min`, `${k}_max`]),
    "zero_failure_runs",
    "latency_p50_ms",
    "latency_p99_ms",
    "latency_samples",
    "termination_mean_s",
    "termination_min_s",
    "termination_max_s",
    "gone_mean_s",
    "gone_min_s",
    "gone_max_s",
    "sigkilled",
    "propagation_source",
    "propagation_mean_ms",
    "propagation_min_ms",
    "propagation_max_ms",
    "last_served_mean_s",
    "rollout_mean_s",
    "rollout_min_s",
    "rollout_max_s",
  ];
  return csv(
    header,
    rows.map((r) => {
      const p = r.propagation;
      const pm =
        p.source === "measured" ? p.ms : p.source === "parameter" ? { mean: p.ms, min: p.ms, max: p.ms } : undefined;
      return [
        r.delaySeconds,
        r.runs,
        r.errors,
        r.failed?.sum,
        r.failed?.min,
        r.failed?.max,
        ...FAILURE_KINDS.flatMap((k) => {
          const s = r.failedByKind[k];
          return r.failed ? [s?.sum ?? 0, s?.min ?? 0, s?.max ?? 0] : [undefined, undefined, undefined];
        }),
        r.zeroFailureRuns,
        r.latencyP50Ms,
        r.latencyP99Ms,
        r.latencySamples,
        r.terminationS?.mean,
        r.terminationS?.min,
        r.terminationS?.max,
        r.goneS?.mean,
        r.goneS?.min,
        r.goneS?.max,
        r.sigkilled,
        p.source,
        pm?.mean,
        pm?.min,
        pm?.max,
        r.lastServedS?.mean,
        r.rolloutS?.mean,
        r.rolloutS?.min,
        r.rolloutS?.max,
      ];
    }),
  );
}

/** One line per run. */
export function pointsCsv(points: PointMeasurement[]): string {
  const header = [
    "prestop_s",
    "repeat",
    "scenario",
    "run_id",
    "error",
    "sent",
    "succeeded",
    "failed",
    ...FAILURE_KINDS,
    "window_latency_samples",
    "termination_s",
    "gone_s",
    "sigkilled",
    "propagation_source",
    "propagation_ms",
    "last_served_s",
    "rollout_s",
  ];
  const mean = (xs: number[]) => (xs.length === 0 ? undefined : xs.reduce((a, b) => a + b, 0) / xs.length);
  return csv(
    header,
    points.map((p) => [
      p.delaySeconds,
      p.repeat,
      p.scenario,
      p.runId,
      p.error,
      p.sent,
      p.succeeded,
      p.failed,
      ...FAILURE_KINDS.map((k) => p.failedByKind[k]),
      p.windowLatenciesMs.length,
      mean(p.terminationMs.map((x) => x / 1000)),
      mean(p.goneMs.map((x) => x / 1000)),
      p.sigkilled,
      p.propagationSource,
      mean(p.propagationMs),
      mean(p.lastServedMs.map((x) => x / 1000)),
      p.rolloutMs === undefined ? undefined : p.rolloutMs / 1000,
    ]),
  );
}

/** The JSON document: configuration, per-run figures (without raw latencies), per-delay rows, summary. */
export function sweepJson(input: {
  config: SweepConfig;
  backend: string;
  imageRef?: string;
  machine?: unknown;
  startedAt: string;
  durationMs: number;
  points: PointMeasurement[];
  rows: DelayRow[];
  summary: SweepSummary;
}): unknown {
  return {
    kind: "graceful-e2e bench prestop",
    ...input,
    points: input.points.map(({ windowLatenciesMs, ...rest }) => ({
      ...rest,
      windowLatencySamples: windowLatenciesMs.length,
    })),
  };
}
