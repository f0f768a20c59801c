// The preStop sweep's pure parts: the scenario for each point, what one run measured, the
// aggregation per delay, the smallest delay with no failed request, and the cost of each extra
// second of preStop.

import { percentile } from "../load/accounting.js";
import { FAILURE_KINDS, type FailureKind } from "../load/types.js";
import type { BackendName } from "../model/backend.js";
import type { ScenarioResult } from "../runner/run.js";
import { type ImageRef, type Scenario, ScenarioSpec } from "../scenario/schema.js";

export type SweepMode = "delete" | "rollout";

export const DEFAULT_DELAYS = [0, 0.5, 1, 2, 3, 5];

export interface SweepConfig {
  image: ImageRef;
  /** Container port (the sample images listen on 8080). */
  port: number;
  delays: number[];
  repeats: number;
  mode: SweepMode;
  graceSeconds: number;
  loadSeconds: number;
  atSeconds: number;
  replicas: number;
  connections: number;
  /** Share of /slow requests and their duration: in flight across the termination, as in the fixtures. */
  slowShare: number;
  slowMs: number;
  /** Local backend: endpoint propagation delay (a parameter of that backend, not a measurement). */
  propagationMs: number;
  env: Record<string, string>;
}

export const SWEEP_DEFAULTS: Omit<SweepConfig, "image"> = {
  port: 8080,
  delays: DEFAULT_DELAYS,
  repeats: 3,
  mode: "delete",
  graceSeconds: 8,
  loadSeconds: 6,
  atSeconds: 2,
  replicas: 2,
  connections: 8,
  slowShare: 0.2,
  slowMs: 300,
  propagationMs: 1000,
  env: {},
};

/** "0.5" → "0p5": scenario names allow [a-z0-9-] only. */
export function delayToken(delaySeconds: number): string {
  return String(delaySeconds).replace(".", "p");
}

export function pointName(cfg: Pick<SweepConfig, "mode">, delaySeconds: number, repeat: number): string {
  return `bench-prestop-${cfg.mode}-d${delayToken(delaySeconds)}-r${repeat}`;
}

/** One point of the sweep as a scenario, validated through ScenarioSpec. */
export function sweepScenario(cfg: SweepConfig, delaySeconds: number, repeat: number): Scenario {
  return ScenarioSpec.parse({
    name: pointName(cfg, delaySeconds, repeat),
    description: `preStop sweep (${cfg.mode}): preStop sleep ${delaySeconds} s, repeat ${repeat}`,
    image: cfg.image,
    port: cfg.port,
    replicas: cfg.replicas,
    env: cfg.env,
    preStop: delaySeconds > 0 ? { type: "sleep", seconds: delaySeconds } : { type: "none" },
    terminationGracePeriodSeconds: cfg.graceSeconds,
    load: {
      connections: cfg.connections,
      durationSeconds: cfg.loadSeconds,
      path: "/",
      keepAlive: true,
      slowShare: cfg.slowShare,
      slowMs: cfg.slowMs,
    },
    disruption:
      cfg.mode === "delete"
        ? { action: "delete", count: 1, atSeconds: cfg.atSeconds }
        : { action: "rollout", atSeconds: cfg.atSeconds },
    expectations: { maxFailedRequests: 0 },
    local: { endpointPropagationMs: cfg.propagationMs },
    tags: ["bench", "prestop-sweep"],
  });
}

export type PropagationSource = "parameter" | "measured" | "unavailable";

/** What one run (one delay, one repeat) measured. */
export interface PointMeasurement {
  delaySeconds: number;
  repeat: number;
  scenario: string;
  runId: string;
  error?: string;
  sent: number;
  succeeded: number;
  failed: number;
  failedByKind: Record<FailureKind, number>;
  /** Latencies (ms) of successful responses completed in the termination window. Not written out. */
  windowLatenciesMs: number[];
  /** The termination window: first delete → last disrupted pod's exit (epoch ms). */
  window?: { start: number; end: number };
  /** Per disrupted pod: delete → container exit, delete → pod gone (ms). */
  terminationMs: number[];
  goneMs: number[];
  sigkilled: number;
  /** Per disrupted pod: delete → the endpoint left the Service (ms). */
  propagationMs: number[];
  propagationSource: PropagationSource;
  /** Per disrupted pod: delete → the last request it served (x-served-by), ms; negative: before the delete. */
  lastServedMs: number[];
  /** Rollout: the disruption's start → the last old pod gone (ms). */
  rolloutMs?: number;
}

function emptyKinds(): Record<FailureKind, number> {
  return Object.fromEntries(FAILURE_KINDS.map((k) => [k, 0])) as Record<FailureKind, number>;
}

/** Pulls one point's figures out of a scenario result. Pure. */
export function measurePoint(
  result: ScenarioResult,
  delaySeconds: number,
  repeat: number,
  backend: BackendName | string = result.backend,
): PointMeasurement {
  const load = result.load;
  const pods = result.pods;
  const entries = result.timeline?.entries ?? [];
  const deletes = pods.map((p) => p.deleteAt);
  const exits = pods.map((p) => p.exitedAt ?? p.goneAt).filter((x): x is number => x !== undefined);
  const window =
    deletes.length > 0 && exits.length > 0 ? { start: Math.min(...deletes), end: Math.max(...exits) } : undefined;
  const windowLatenciesMs =
    load && window ? load.latencies.filter((l) => l.at >= window.start && l.at <= window.end).map((l) => l.ms) : [];

  const propagationMs: number[] = [];
  let propagationSource: PropagationSource = backend === "local" ? "parameter" : "unavailable";
  if (backend !== "local") {
    for (const pod of pods) {
      const first = entries.find(
        (e) =>
          e.pod === pod.pod &&
          e.source !== "proxy" &&
          (e.kind === "endpoint-terminating" || e.kind === "endpoint-removed") &&
          e.at >= pod.deleteAt,
      );
      if (first) propagationMs.push(first.at - pod.deleteAt);
    }
    if (propagationMs.length > 0) propagationSource = "measured";
  }

  const lastServedMs: number[] = [];
  for (const pod of pods) {
    const served = entries.filter((e) => e.kind === "last-request-served" && e.pod === pod.pod).map((e) => e.at);
    if (served.length > 0) lastServedMs.push(Math.max(...served) - pod.deleteAt);
  }

  let rolloutMs: number | undefined;
  if (result.scenario.disruption.action === "rollout" && load) {
    // The last old pod gone; on a cluster, its exit when its deletion was not observed (the runner
    // does not wait for the API to delete an exited pod).
    const gone = pods.map((p) => p.goneAt ?? p.exitedAt).filter((x): x is number => x !== undefined);
    // The runner disrupts atSeconds after the load started (the first new pod starts then).
    const start = load.startedAt + result.scenario.disruption.atSeconds * 1000;
    if (gone.length > 0) rolloutMs = Math.max(...gone) - start;
  }

  return {
    delaySeconds,
    repeat,
    scenario: result.scenario.name,
    runId: result.runId,
    ...(result.error ? { error: result.error } : {}),
    sent: load?.sent ?? 0,
    succeeded: load?.succeeded ?? 0,
    failed: load?.failed ?? 0,
    failedByKind: { ...emptyKinds(), ...(load?.failedByKind ?? {}) },
    windowLatenciesMs,
    ...(window ? { window } : {}),
    terminationMs: pods
      .map((p) => ((p.exitedAt ?? p.goneAt) !== undefined ? (p.exitedAt ?? p.goneAt ?? 0) - p.deleteAt : undefined))
      .filter((x): x is number => x !== undefined),
    goneMs: pods
      .map((p) => (p.goneAt === undefined ? undefined : p.goneAt - p.deleteAt))
      .filter((x): x is number => x !== undefined),
    sigkilled: pods.filter((p) => p.sigkilled).length,
    propagationMs,
    propagationSource,
    lastServedMs,
    ...(rolloutMs !== undefined ? { rolloutMs } : {}),
  };
}

export interface Stat {
  n: number;
  sum: number;
  min: number;
  max: number;
  mean: number;
}

export function stat(values: number[]): Stat | undefined {
  if (values.length === 0) return undefined;
  const sum = values.reduce((a, b) => a + b, 0);
  return { n: values.length, sum, min: Math.min(...values), max: Math.max(...values), mean: sum / values.length };
}

export interface DelayRow {
  delaySeconds: number;
  /** Runs at this delay, and how many of them errored (their figures are left out). */
  runs: number;
  errors: number;
  /** Failed requests per run: sum/min/max over the completed repeats. */
  failed?: Stat;
  failedByKind: Partial<Record<FailureKind, Stat>>;
  /** Completed runs with no failed request. */
  zeroFailureRuns: number;
  /** Successful-response latency during the termination window, pooled over the repeats. */
  latencyP50Ms?: number;
  latencyP99Ms?: number;
  latencySamples: number;
  /** Delete → container exit, over every disrupted pod of every run (seconds). */
  terminationS?: Stat;
  /** Delete → pod gone (seconds). */
  goneS?: Stat;
  sigkilled: number;
  propagation: { source: "parameter"; ms: number } | { source: "measured"; ms: Stat } | { source: "unavailable" };
  /** Delete → the last request the disrupted pod served (seconds). */
  lastServedS?: Stat;
  /** Rollout mode: the rollout's start → the last old pod gone (seconds). */
  rolloutS?: Stat;
}

export function aggregate(points: PointMeasurement[], opts: { propagationParameterMs?: number } = {}): DelayRow[] {
  const delays = [...new Set(points.map((p) => p.delaySeconds))].sort((a, b) => a - b);
  return delays.map((delaySeconds): DelayRow => {
    const all = points.filter((p) => p.delaySeconds === delaySeconds);
    const ok = all.filter((p) => p.error === undefined);
    const failedByKind: Partial<Record<FailureKind, Stat>> = {};
    for (const k of FAILURE_KINDS) {
      const s = stat(ok.map((p) => p.failedByKind[k] ?? 0));
      if (s && s.sum > 0) failedByKind[k] = s;
    }
    const latencies = ok.flatMap((p) => p.windowLatenciesMs);
    const toS = (ms: number[]) => stat(ms.map((x) => x / 1000));
    const measured = ok.flatMap((p) => p.propagationMs);
    const anyLocal = ok.some((p) => p.propagationSource === "parameter");
    const propagation: DelayRow["propagation"] =
      measured.length > 0
        ? { source: "measured", ms: stat(measured) as Stat }
        : anyLocal && opts.propagationParameterMs !== undefined
          ? { source: "parameter", ms: opts.propagationParameterMs }
          : { source: "unavailable" };
    const rollouts = ok.map((p) => p.rolloutMs).filter((x): x is number => x !== undefined);
    return {
      delaySeconds,
      runs: all.length,
      errors: all.length - ok.length,
      failed: stat(ok.map((p) => p.failed)),
      failedByKind,
      zeroFailureRuns: ok.filter((p) => p.failed === 0).length,
      latencyP50Ms: percentile(latencies, 50),
      latencyP99Ms: percentile(latencies, 99),
      latencySamples: latencies.length,
      terminationS: toS(ok.flatMap((p) => p.terminationMs)),
      goneS: toS(ok.flatMap((p) => p.goneMs)),
      sigkilled: ok.reduce((a, p) => a + p.sigkilled, 0),
      propagation,
      lastServedS: toS(ok.flatMap((p) => p.lastServedMs)),
      ...(rollouts.length > 0 ? { rolloutS: toS(rollouts) } : {}),
    };
  });
}

export interface ZeroFailureDelay {
  /** The smallest delay whose every completed repeat had no failed request (none: undefined). */
  delaySeconds?: number;
  /** Every larger delay had no failure either (false: the sweep is not monotonic — look closer). */
  holdsForLargerDelays: boolean;
}

export function smallestZeroFailureDelay(rows: DelayRow[]): ZeroFailureDelay {
  const sorted = [...rows].sort((a, b) => a.delaySeconds - b.delaySeconds);
  const clean = (r: DelayRow) => r.errors === 0 && r.runs > 0 && r.failed !== undefined && r.failed.max === 0;
  const index = sorted.findIndex(clean);
  if (index === -1) return { holdsForLargerDelays: false };
  return { delaySeconds: sorted[index]?.delaySeconds, holdsForLargerDelays: sorted.slice(index).every(clean) };
}

export interface MarginalCost {
  /** Least-squares slope: seconds of the metric per second of preStop. */
  slope: number;
  intercept: number;
  /** Between consecutive delays: the metric's change per second of preStop. */
  steps: Array<{ from: number; to: number; perSecond: number }>;
  points: number;
}

/** How much a metric (seconds) grows per extra second of preStop. Undefined with fewer than two points. */
export function marginalCost(
  rows: DelayRow[],
  metric: (row: DelayRow) => number | undefined,
): MarginalCost | undefined {
  const pts = [...rows]
    .sort((a, b) => a.delaySeconds - b.delaySeconds)
    .map((r) => ({ x: r.delaySeconds, y: metric(r) }))
    .filter((p): p is { x: number; y: number } => p.y !== undefined && Number.isFinite(p.y));
  if (pts.length < 2) return undefined;
  const n = pts.length;
  const mx = pts.reduce((a, p) => a + p.x, 0) / n;
  const my = pts.reduce((a, p) => a + p.y, 0) / n;
  const sxx = pts.reduce((a, p) => a + (p.x - mx) ** 2, 0);
  if (sxx === 0) return undefined;
  const slope = pts.reduce((a, p) => a + (p.x - mx) * (p.y - my), 0) / sxx;
  const steps = pts.slice(1).map((p, i) => {
    const prev = pts[i] as { x: number; y: number };
    return { from: prev.x, to: p.x, perSecond: (p.y - prev.y) / (p.x - prev.x) };
  });
  return { slope, intercept: my - slope * mx, steps, points: n };
}

export interface SweepSummary {
  zeroFailure: ZeroFailureDelay;
  /** Termination time (delete → exit, mean) per second of preStop. */
  terminationCost?: MarginalCost;
  /** Rollout mode: total rollout time per second of preStop. */
  rolloutCost?: MarginalCost;
  lines: string[];
}

export function summarize(
  rows: DelayRow[],
  cfg: Pick<SweepConfig, "mode" | "propagationMs" | "replicas">,
  backend: string,
): SweepSummary {
  const zeroFailure = smallestZeroFailureDelay(rows);
  const terminationCost = marginalCost(rows, (r) => r.terminationS?.mean);
  const rolloutCost = cfg.mode === "rollout" ? marginalCost(rows, (r) => r.rolloutS?.mean) : undefined;
  const lines: string[] = [];
  if (zeroFailure.delaySeconds === undefined) {
    lines.push("no preStop delay in the sweep gave zero failed requests in every repeat");
  } else {
    const edge =
      backend === "local" && Math.abs(zeroFailure.delaySeconds * 1000 - cfg.propagationMs) <= 100
        ? ` — equal to the endpoint propagation parameter (${cfg.propagationMs} ms): the endpoint leaves and SIGTERM ` +
          "goes out at the same moment, with no margin"
        : "";
    lines.push(
      `smallest preStop delay with zero failed requests in every repeat: ${zeroFailure.delaySeconds} s${edge}` +
        (zeroFailure.holdsForLargerDelays ? "" : " (but a larger delay had failures: not monotonic, look at the runs)"),
    );
  }
  if (terminationCost) {
    lines.push(
      `each extra second of preStop adds ${terminationCost.slope.toFixed(2)} s to the termination time (delete → exit, ` +
        `least-squares slope over ${terminationCost.points} delays; steps: ${terminationCost.steps
          .map((s) => `${s.from}→${s.to} s: ${s.perSecond.toFixed(2)} s/s`)
          .join(", ")})`,
    );
  }
  if (rolloutCost) {
    lines.push(
      `each extra second of preStop adds ${rolloutCost.slope.toFixed(2)} s to a rollout of ${cfg.replicas} replicas ` +
        `(total rollout time; steps: ${rolloutCost.steps.map((s) => `${s.from}→${s.to} s: ${s.perSecond.toFixed(2)} s/s`).join(", ")})`,
    );
  }
  if (backend === "local") {
    lines.push(
      `endpoint propagation on the local backend is a parameter (${cfg.propagationMs} ms), not a measurement: ` +
        "the smallest safe delay here follows from it; on a real cluster, measure it (--backend kind)",
    );
  }
  return { zeroFailure, terminationCost, rolloutCost, lines };
}
