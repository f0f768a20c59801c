// The preStop sweep's pure parts: scenarios, per-run figures, aggregation, the smallest
// zero-failure delay, the marginal cost of a second of preStop, CSV and the chart.
import { describe, expect, it } from "vitest";
import { renderSvg, sweepChartSpec } from "../../src/bench/chart.js";
import { formatTable, pointsCsv, rowsCsv, sweepJson, tableRows } from "../../src/bench/output.js";
import {
  aggregate,
  type DelayRow,
  marginalCost,
  measurePoint,
  type PointMeasurement,
  SWEEP_DEFAULTS,
  type SweepConfig,
  smallestZeroFailureDelay,
  summarize,
  sweepScenario,
} from "../../src/bench/sweep.js";
import { percentile } from "../../src/load/accounting.js";
import { FAILURE_KINDS, type FailureKind, type LoadResult } from "../../src/load/types.js";
import type { TimelineEvent } from "../../src/model/events.js";
import type { PodOutcome } from "../../src/model/pod-outcome.js";
import { buildTimeline } from "../../src/observe/timeline.js";
import type { ScenarioResult } from "../../src/runner/run.js";

const CFG: SweepConfig = { ...SWEEP_DEFAULTS, image: { style: "exec-form" } };

function kinds(partial: Partial<Record<FailureKind, number>> = {}): Record<FailureKind, number> {
  return { ...(Object.fromEntries(FAILURE_KINDS.map((k) => [k, 0])) as Record<FailureKind, number>), ...partial };
}

function point(
  delay: number,
  repeat: number,
  failed: Partial<Record<FailureKind, number>>,
  terminationS: number,
  extra: Partial<PointMeasurement> = {},
): PointMeasurement {
  const byKind = kinds(failed);
  const total = Object.values(byKind).reduce((a, b) => a + b, 0);
  return {
    delaySeconds: delay,
    repeat,
    scenario: `bench-prestop-delete-d${delay}-r${repeat}`,
    runId: `run-${delay}-${repeat}`,
    sent: 1000,
    succeeded: 1000 - total,
    failed: total,
    failedByKind: byKind,
    windowLatenciesMs: [1, 2, 3, 4, 100],
    terminationMs: [terminationS * 1000],
    goneMs: [terminationS * 1000 + 80],
    sigkilled: 0,
    propagationMs: [],
    propagationSource: "parameter",
    lastServedMs: [terminationS * 1000 - 200],
    ...extra,
  };
}

describe("sweep scenarios", () => {
  it("one validated scenario per point: preStop sleep (none at 0), delete or rollout", () => {
    const s0 = sweepScenario(CFG, 0, 1);
    expect(s0.name).toBe("bench-prestop-delete-d0-r1");
    expect(s0.preStop).toEqual({ type: "none" });
    expect(s0.terminationGracePeriodSeconds).toBe(8);
    expect(s0.load.durationSeconds).toBe(6);
    expect(s0.local.endpointPropagationMs).toBe(1000);
    expect(s0.disruption).toEqual({ action: "delete", count: 1, atSeconds: 2, victims: "busiest" });
    const s1 = sweepScenario({ ...CFG, mode: "rollout" }, 0.5, 3);
    expect(s1.name).toBe("bench-prestop-rollout-d0p5-r3");
    expect(s1.preStop).toEqual({ type: "sleep", seconds: 0.5 });
    expect(s1.disruption).toEqual({ action: "rollout", atSeconds: 2 });
  });

  it("refuses what the scenario schema refuses (a :latest image)", () => {
    expect(() => sweepScenario({ ...CFG, image: { ref: "nginx:latest" } }, 1, 1)).toThrow(/latest/);
  });
});

describe("one run's figures", () => {
  function result(action: "delete" | "rollout", backend = "local"): ScenarioResult {
    const scenario = sweepScenario({ ...CFG, mode: action }, 1, 1);
    const pods: PodOutcome[] = [
      {
        pod: "a",
        pid1Cmdline: "node",
        deleteAt: 10_000,
        exitedAt: 12_000,
        goneAt: 12_100,
        exitCode: 0,
        sigkilled: false,
        processes: [],
        notes: [],
      },
      ...(action === "rollout"
        ? [
            {
              pod: "b",
              pid1Cmdline: "node",
              deleteAt: 14_000,
              exitedAt: 16_500,
              goneAt: 16_600,
              exitCode: 0,
              sigkilled: false,
              processes: [],
              notes: [],
            },
          ]
        : []),
    ];
    const events: TimelineEvent[] = [
      { at: 10_000, kind: "delete-requested", source: "harness", pod: "a" },
      { at: 10_350, kind: "endpoint-terminating", source: "api", pod: "a" },
      { at: 11_000, kind: "endpoint-removed", source: "proxy", pod: "a" },
      { at: 11_800, kind: "last-request-served", source: "load", pod: "a" },
    ];
    const load: LoadResult = {
      target: "127.0.0.1:1",
      startedAt: 8000,
      endedAt: 20_000,
      sent: 500,
      succeeded: 498,
      failed: 2,
      failedByKind: kinds({ refused: 2 }),
      inFlightAtEnd: 0,
      failures: [],
      successBuckets: [],
      latencies: [
        { at: 9_000, ms: 50 },
        { at: 10_500, ms: 1 },
        { at: 11_500, ms: 3 },
        { at: 16_000, ms: 7 },
        { at: 19_000, ms: 90 },
      ],
      servedBy: [],
      autocannon: { requests: 0, errors: 0, timeouts: 0, non2xx: 0, resets: 0 },
    };
    return {
      schemaVersion: 1,
      scenario,
      file: "x",
      backend,
      runId: "r",
      startedAt: "",
      durationMs: 0,
      platform: {},
      warnings: [],
      load,
      pods,
      timeline: buildTimeline(events),
      verdicts: [],
      status: "fail",
      pass: false,
    };
  }

  it("delete: latencies between the delete and the exit, termination, propagation as a parameter on local", () => {
    const p = measurePoint(result("delete"), 1, 1);
    expect(p.failed).toBe(2);
    expect(p.failedByKind.refused).toBe(2);
    expect(p.window).toEqual({ start: 10_000, end: 12_000 });
    expect(p.windowLatenciesMs).toEqual([1, 3]);
    expect(p.terminationMs).toEqual([2000]);
    expect(p.goneMs).toEqual([2100]);
    expect(p.propagationSource).toBe("parameter");
    expect(p.propagationMs).toEqual([]);
    expect(p.lastServedMs).toEqual([1800]);
    expect(p.rolloutMs).toBeUndefined();
  });

  it("on a cluster the propagation is measured: delete → the API's first endpoint-terminating/removed event", () => {
    const p = measurePoint(result("delete", "kind"), 1, 1);
    expect(p.propagationSource).toBe("measured");
    expect(p.propagationMs).toEqual([350]);
  });

  it("rollout: every replaced pod, and the rollout time from its start to the last pod gone", () => {
    const p = measurePoint(result("rollout"), 1, 1);
    expect(p.terminationMs).toEqual([2000, 2500]);
    expect(p.window).toEqual({ start: 10_000, end: 16_500 });
    expect(p.windowLatenciesMs).toEqual([1, 3, 7]);
    // load started at 8000, rollout at +2 s = 10 000; last pod gone at 16 600
    expect(p.rolloutMs).toBe(6600);
  });
});

describe("aggregation", () => {
  const points = [
    point(0, 1, { reset: 3, closed: 1 }, 1.2),
    point(0, 2, { reset: 5 }, 1.3),
    point(1, 1, { reset: 1 }, 2.2),
    point(1, 2, {}, 2.25),
    point(2, 1, {}, 3.2),
    point(2, 2, {}, 3.3),
    point(3, 1, {}, 4.2),
    point(3, 2, {}, 4.1, { error: "boom" }),
  ];
  const rows = aggregate(points, { propagationParameterMs: 1000 });

  it("per delay: failed requests sum/min/max over repeats, by kind", () => {
    expect(rows.map((r) => r.delaySeconds)).toEqual([0, 1, 2, 3]);
    expect(rows[0]?.failed).toMatchObject({ sum: 9, min: 4, max: 5, n: 2 });
    expect(rows[0]?.failedByKind.reset).toMatchObject({ sum: 8, min: 3, max: 5 });
    expect(rows[0]?.failedByKind.closed).toMatchObject({ sum: 1, min: 0, max: 1 });
    expect(rows[0]?.failedByKind.refused).toBeUndefined();
    expect(rows[1]?.zeroFailureRuns).toBe(1);
  });

  it("errored runs are counted but left out of the figures", () => {
    expect(rows[3]).toMatchObject({ runs: 2, errors: 1 });
    expect(rows[3]?.failed?.n).toBe(1);
  });

  it("latency percentiles pool the repeats; termination is mean/min/max in seconds; propagation a parameter", () => {
    expect(rows[0]?.latencySamples).toBe(10);
    expect(rows[0]?.latencyP50Ms).toBe(3);
    expect(rows[0]?.latencyP99Ms).toBe(100);
    expect(rows[0]?.terminationS?.min).toBeCloseTo(1.2);
    expect(rows[0]?.terminationS?.max).toBeCloseTo(1.3);
    expect(rows[0]?.terminationS?.mean).toBeCloseTo(1.25);
    expect(rows[0]?.propagation).toEqual({ source: "parameter", ms: 1000 });
  });

  it("nearest-rank percentiles", () => {
    expect(percentile([], 50)).toBeUndefined();
    expect(percentile([5], 99)).toBe(5);
    expect(percentile([4, 1, 3, 2], 50)).toBe(2);
    expect(percentile([4, 1, 3, 2], 100)).toBe(4);
  });

  it("the smallest delay with zero failures in every repeat (an errored repeat disqualifies)", () => {
    expect(smallestZeroFailureDelay(rows)).toEqual({ delaySeconds: 2, holdsForLargerDelays: false });
    const clean = aggregate(points.filter((p) => p.error === undefined));
    expect(smallestZeroFailureDelay(clean)).toEqual({ delaySeconds: 2, holdsForLargerDelays: true });
    expect(smallestZeroFailureDelay(aggregate([point(0, 1, { reset: 1 }, 1)]))).toEqual({
      holdsForLargerDelays: false,
    });
  });

  it("not monotonic: a failure above the smallest clean delay is flagged", () => {
    const r = aggregate([point(1, 1, {}, 2), point(2, 1, { closed: 1 }, 3), point(3, 1, {}, 4)]);
    expect(smallestZeroFailureDelay(r)).toEqual({ delaySeconds: 1, holdsForLargerDelays: false });
  });

  it("marginal cost: least-squares slope of termination time per second of preStop, and per step", () => {
    const cost = marginalCost(rows, (r) => r.terminationS?.mean);
    expect(cost?.slope).toBeCloseTo(1.0, 1);
    expect(cost?.points).toBe(4);
    expect(cost?.steps[0]).toMatchObject({ from: 0, to: 1 });
    expect(cost?.steps[0]?.perSecond).toBeCloseTo(0.975);
    // exact on a line
    const line = aggregate([point(0, 1, {}, 1), point(2, 1, {}, 3), point(4, 1, {}, 5)]);
    expect(marginalCost(line, (r) => r.terminationS?.mean)).toMatchObject({ slope: 1, intercept: 1 });
    expect(marginalCost(line.slice(0, 1), (r) => r.terminationS?.mean)).toBeUndefined();
  });

  it("summary lines: smallest delay, cost, and that local propagation is a parameter", () => {
    const clean = aggregate(
      points.filter((p) => p.error === undefined),
      { propagationParameterMs: 1000 },
    );
    const s = summarize(clean, CFG, "local");
    expect(s.lines[0]).toBe("smallest preStop delay with zero failed requests in every repeat: 2 s");
    expect(s.lines[1]).toMatch(
      /^each extra second of preStop adds 0\.99 s to the termination time \(delete → exit, least-squares slope over 4 delays; steps: 0→1 s: 0\.98 s\/s/,
    );
    expect(s.lines.at(-1)).toMatch(/is a parameter \(1000 ms\), not a measurement/);
    const rollout = summarize(
      aggregate([point(0, 1, {}, 1, { rolloutMs: 9000 }), point(2, 1, {}, 3, { rolloutMs: 13_000 })]),
      { ...CFG, mode: "rollout" },
      "kind",
    );
    expect(rollout.rolloutCost?.slope).toBeCloseTo(2);
    expect(rollout.lines.some((l) => /adds 2\.00 s to a rollout of 2 replicas/.test(l))).toBe(true);
    expect(rollout.lines.some((l) => /parameter/.test(l))).toBe(false);
  });
});

describe("output", () => {
  const points = [point(0, 1, { reset: 2 }, 1.2), point(0, 2, {}, 1.4), point(1, 1, {}, 2.2), point(1, 2, {}, 2.3)];
  const rows: DelayRow[] = aggregate(points, { propagationParameterMs: 1000 });

  it("CSV: one line per delay with per-kind columns, and one per run", () => {
    const csv = rowsCsv(rows).trim().split("\n");
    expect(csv).toHaveLength(3);
    const header = csv[0]?.split(",") ?? [];
    const first = csv[1]?.split(",") ?? [];
    const col = (name: string) => first[header.indexOf(name)];
    expect(col("prestop_s")).toBe("0");
    expect(col("failed_sum")).toBe("2");
    expect(col("failed_max")).toBe("2");
    expect(col("reset_sum")).toBe("2");
    expect(col("refused_sum")).toBe("0");
    expect(col("termination_mean_s")).toBe("1.3");
    expect(col("propagation_source")).toBe("parameter");
    expect(col("propagation_mean_ms")).toBe("1000");
    expect(pointsCsv(points).trim().split("\n")).toHaveLength(5);
  });

  it("console table and JSON (without raw latencies)", () => {
    const table = formatTable(tableRows(rows, "delete"));
    expect(table).toMatch(/^preStop/);
    expect(table).toMatch(/1000 ms \(parameter\)/);
    expect(table).toMatch(/2 \[0–2\] reset 2/);
    const json = sweepJson({
      config: CFG,
      backend: "local",
      startedAt: "",
      durationMs: 1,
      points,
      rows,
      summary: summarize(rows, CFG, "local"),
    }) as { points: Array<Record<string, unknown>> };
    expect(json.points[0]?.windowLatenciesMs).toBeUndefined();
    expect(json.points[0]?.windowLatencySamples).toBe(5);
  });

  it("the chart: a Vega-Lite spec rendered to SVG with the axes and the zero-failure marker", async () => {
    const spec = sweepChartSpec(rows, points, {
      title: "preStop sweep test",
      subtitle: ["sub"],
      mode: "delete",
      zeroFailureDelay: 1,
    });
    const svg = await renderSvg(spec);
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("preStop sleep (s)");
    expect(svg).toContain("failed requests");
    expect(svg).toContain("smallest zero-failure delay: 1 s");
    expect(svg).toContain("delete → container exit");
  });
});
