// The harness's own figures, measured in one run (a script, not a timed test; see docs/bench.md):
//   (a) wall time of the scenario matrix against its unavoidable floor, as a ratio, per backend (local,
//       or kind with --backend kind), one scenario at a time and, with --parallel N, N at a time, with
//       the per-phase breakdown (setup, load window, evidence, teardown, and the namespaces' end);
//   (b) load throughput through the local Service proxy vs direct to a container, as a ratio (local);
//   (c) exactness of failure counting: K injected failures (K = 1, 10, 100) against the count (local).
// Usage: npm run bench -- [--backend local|kind] [--parallel N] [--cluster NAME] [--quick] [--skip-matrix]
//                         [--matrix-only] [--seconds N] [--rounds N] [--out FILE]
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { Backend } from "../src/backends/backend.js";
import { close, drain, hasRunPool, loadsImages, preflight } from "../src/backends/capabilities.js";
import { KindBackend } from "../src/backends/kind/backend.js";
import { LocalBackend, removeLabelledContainers } from "../src/backends/local/backend.js";
import { Replica } from "../src/backends/local/replica.js";
import { ServiceProxy } from "../src/backends/local/service-proxy.js";
import { formatMachine, machineInfo } from "../src/bench/machine.js";
import { formatTable } from "../src/bench/output.js";
import { ensureStyleImages, stylesOf } from "../src/images/build.js";
import { percentile } from "../src/load/accounting.js";
import { startLoad } from "../src/load/generator.js";
import type { PodOutcome } from "../src/model/pod-outcome.js";
import { EventLog } from "../src/observe/events.js";
import { WINDOW_MARGIN_MS } from "../src/runner/load-window.js";
import { runPool } from "../src/runner/repeat.js";
import { type RunPhases, runScenario, type ScenarioResult } from "../src/runner/run.js";
import { loadScenarios } from "../src/scenario/load.js";
import { type LoadOptions, LoadSpec, type Scenario, ScenarioSpec } from "../src/scenario/schema.js";
import { newRunId } from "../src/util/labels.js";
import { packageRoot } from "../src/util/paths.js";
import { sleep } from "../src/util/sleep.js";

const { values: args } = parseArgs({
  options: {
    backend: { type: "string", default: "local" },
    parallel: { type: "string", default: "1" },
    cluster: { type: "string", default: "graceful-e2e" },
    quick: { type: "boolean", default: false },
    "skip-matrix": { type: "boolean", default: false },
    "matrix-only": { type: "boolean", default: false },
    seconds: { type: "string", default: "4" },
    rounds: { type: "string", default: "2" },
    out: { type: "string", default: "results/bench/harness.json" },
  },
});
const log = (line: string) => process.stderr.write(`${line}\n`);
const QUICK = ["exec-form-no-prestop", "exec-form-prestop-sleep", "shell-form-no-prestop", "tini-no-prestop"];
/** The runner keeps this long after the last disrupted pod ended (WINDOW_MARGIN_MS in src/runner/run.ts). */
const MARGIN_S = WINDOW_MARGIN_MS / 1000;
const BACKEND = args.backend === "kind" ? "kind" : args.backend === "local" ? "local" : undefined;
if (!BACKEND) throw new Error(`--backend: local or kind, got "${args.backend}"`);
const PARALLEL = Number(args.parallel);
if (!Number.isInteger(PARALLEL) || PARALLEL < 1 || PARALLEL > 64) throw new Error("--parallel: a whole number 1-64");

// ---------------------------------------------------------------- (a) matrix wall time vs floor

/**
 * The waits a scenario imposes by its own numbers, in seconds (docs/bench.md): on local the endpoint add
 * delay, then, from the load's start, max(atSeconds + W + margin, durationSeconds), W = what the termination must take whatever the
 * app does: a pod expected to be SIGKILLed lives until the kubelet's deadline; any other pod at
 * least through the preStop sleep and the endpoint propagation (termination waits for both).
 */
export function imposedFloorS(s: Scenario, backend: "local" | "kind" = "local"): number {
  const grace =
    s.disruption.action === "delete"
      ? (s.disruption.gracePeriodSeconds ?? s.terminationGracePeriodSeconds)
      : s.terminationGracePeriodSeconds;
  const preStop = s.preStop.type === "sleep" ? Math.min(s.preStop.seconds, grace) : 0;
  const perPod =
    s.expectations.exit === "killed"
      ? Math.max(grace, preStop + 2)
      : Math.max(preStop, s.local.endpointPropagationMs / 1000);
  const pods = s.disruption.action === "rollout" ? s.replicas : 1;
  // Local only: the first pod joins the Service's rules local.endpointAddDelayMs after it is ready (the
  // kube-proxy lag the local runtime reproduces), and the load cannot start before. On kind that lag
  // is real kube-proxy time, not a number of the scenario's.
  const addDelay = backend === "local" ? s.local.endpointAddDelayMs / 1000 : 0;
  return addDelay + Math.max(s.disruption.atSeconds + perPod * pods + MARGIN_S, s.load.durationSeconds);
}

/**
 * The same with the termination as measured (first delete → the last disrupted pod ended: local, its
 * container removed; Kubernetes, its containers' exit — what the window waits for now).
 */
function measuredFloorS(s: Scenario, pods: PodOutcome[]): number | undefined {
  const deletes = pods.map((p) => p.deleteAt);
  const gone = pods.map((p) => p.exitedAt ?? p.goneAt).filter((x): x is number => x !== undefined);
  if (deletes.length === 0 || gone.length === 0) return undefined;
  const d = (Math.max(...gone) - Math.min(...deletes)) / 1000;
  return Math.max(s.disruption.atSeconds + d + MARGIN_S, s.load.durationSeconds);
}

interface MatrixRow {
  name: string;
  wallS: number;
  imposedS: number;
  measuredS?: number;
  failed?: number;
  pass: boolean;
  status: string;
  phases?: RunPhases;
  error?: string;
}

const PHASES = ["setupMs", "loadWindowMs", "evidenceMs", "teardownMs"] as const;
/** Inside setup: the image step, the deploy until the Service answered, the warm-up (the rest: starting the load). */
const SETUP_PARTS = ["prepareMs", "deployMs", "warmUpMs"] as const;
const sec = (ms: number | undefined) => (ms !== undefined ? (ms / 1000).toFixed(2) : "-");

/** One pass over the matrix, `parallel` scenarios at a time; then the wait for what teardowns left going. */
async function matrixPass(backend: Backend, chosen: Awaited<ReturnType<typeof loadScenarios>>, parallel: number) {
  const rows: MatrixRow[] = [];
  const started = Date.now();
  const results: ScenarioResult[] = await runPool(
    chosen.map((l) => async () => {
      const t0 = Date.now();
      const r = await runScenario(l, { backend });
      const wallS = (Date.now() - t0) / 1000;
      rows.push({
        name: l.scenario.name,
        wallS,
        imposedS: imposedFloorS(l.scenario, BACKEND),
        measuredS: measuredFloorS(l.scenario, r.pods),
        failed: r.load?.failed,
        pass: r.pass,
        status: r.status,
        ...(r.phases ? { phases: r.phases } : {}),
        ...(r.error ? { error: r.error } : {}),
      });
      log(
        `  ${l.scenario.name}: ${wallS.toFixed(1)} s (floor ${imposedFloorS(l.scenario, BACKEND).toFixed(1)} s; ` +
          PHASES.map((k) => `${k.replace("Ms", "")} ${((r.phases?.[k] ?? 0) / 1000).toFixed(1)}`).join(", ") +
          ` = ${SETUP_PARTS.map((k) => `${k.replace("Ms", "")} ${sec(r.phases?.[k])}`).join(" + ")} + load start` +
          `) ${r.status.toUpperCase()}${r.error ? ` ${r.error}` : ""}`,
      );
      return r;
    }),
    parallel,
  );
  const runsEnded = Date.now();
  // kind: the last namespaces are still being deleted in the background; the matrix ends when they are gone.
  await drain(backend);
  const wallS = (Date.now() - started) / 1000;
  const drainS = (Date.now() - runsEnded) / 1000;
  rows.sort(
    (a, b) => chosen.findIndex((l) => l.scenario.name === a.name) - chosen.findIndex((l) => l.scenario.name === b.name),
  );
  const imposedS = rows.reduce((a, r) => a + r.imposedS, 0);
  const measuredS = rows.reduce((a, r) => a + (r.measuredS ?? r.imposedS), 0);
  const phaseSumS = Object.fromEntries(
    [...PHASES, ...SETUP_PARTS].map((k) => [
      k.replace("Ms", "S"),
      rows.reduce((a, r) => a + (r.phases?.[k] ?? 0), 0) / 1000,
    ]),
  ) as Record<"setupS" | "prepareS" | "deployS" | "warmUpS" | "loadWindowS" | "evidenceS" | "teardownS", number>;
  return {
    parallel,
    scenarios: rows.length,
    wallS,
    imposedFloorS: imposedS,
    measuredFloorS: measuredS,
    ratioToImposedFloor: wallS / imposedS,
    ratioToMeasuredFloor: wallS / measuredS,
    overheadPerScenarioS: (wallS - measuredS) / rows.length,
    /** Sums over the scenarios (with parallel > 1 they overlap: more than the wall time). */
    phaseSumS,
    /** After the last run: the wait for the namespaces still being deleted (kind). */
    drainS,
    verdictsPassed: rows.filter((r) => r.pass).length,
    statuses: results.map((r) => r.status),
    rows,
  };
}

async function matrix() {
  const all = await loadScenarios([join(packageRoot(), "fixtures/scenarios")]);
  const chosen = args.quick ? all.filter((l) => QUICK.includes(l.scenario.name)) : all;
  log(
    `(a) matrix on ${BACKEND}: ${chosen.length} scenarios${args.quick ? " (--quick)" : ""}, one at a time` +
      (PARALLEL > 1 ? `, then ${PARALLEL} at a time` : ""),
  );
  const backend: Backend =
    BACKEND === "kind" ? new KindBackend({ name: args.cluster, keep: true, log }) : new LocalBackend();
  // Images (and, on kind, the cluster and loading the images into it) before the timed passes, apart.
  const imagesStarted = Date.now();
  await preflight(backend);
  // Only the images these scenarios use (all of IMAGE_STYLES loaded 8 server images a matrix never uses).
  const images = await ensureStyleImages(stylesOf(chosen.map((l) => l.scenario.image)));
  if (loadsImages(backend)) await backend.prepare(images);
  const imagesMs = Date.now() - imagesStarted;
  let parallel = PARALLEL;
  if (parallel > 1 && hasRunPool(backend)) {
    const c = await backend.concurrency();
    if (c.max < parallel) {
      log(`--parallel ${parallel} lowered to ${c.max}: ${c.why}`);
      parallel = Math.max(1, c.max);
    }
  }
  try {
    log("  one at a time:");
    const sequential = await matrixPass(backend, chosen, 1);
    let concurrent: Awaited<ReturnType<typeof matrixPass>> | undefined;
    if (parallel > 1) {
      log(`  ${parallel} at a time:`);
      concurrent = await matrixPass(backend, chosen, parallel);
    }
    return { backend: BACKEND, quick: Boolean(args.quick), imageCheckMs: imagesMs, sequential, parallel: concurrent };
  } finally {
    await close(backend);
  }
}

// ---------------------------------------------------------------- (b) proxy vs direct throughput

/** The machine's CPU counters (/proc/stat, Linux) and this process's CPU time, to compare slices by. */
function cpuMark() {
  let idle: number | undefined;
  let total: number | undefined;
  try {
    const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
    idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    total = fields.reduce((x, y) => x + y, 0);
  } catch {
    // not Linux: the machine's share stays unknown
  }
  return { idle, total, usage: process.cpuUsage() };
}

/** Since a mark: the machine's busy share (0–1, all cores) and this process's CPU seconds. */
function cpuSince(mark: ReturnType<typeof cpuMark>) {
  const now = cpuMark();
  const used = process.cpuUsage(mark.usage);
  const machineBusy =
    now.total !== undefined && mark.total !== undefined && now.idle !== undefined && mark.idle !== undefined
      ? 1 - (now.idle - mark.idle) / Math.max(1, now.total - mark.total)
      : undefined;
  return { machineBusy, processCpuS: (used.user + used.system) / 1e6 };
}

type Target = { host: string; port: number };
interface Slice {
  mode: string;
  path: "direct" | "proxy";
  how: "alone" | "together";
  round: number;
  rps: number;
  p50: number;
  p99: number;
  failed: number;
  /** The machine's busy share during the slice (all cores; undefined off Linux). */
  machineBusy?: number;
  /** This process's CPU (load generator, and the proxy on the proxy path) per answered request, µs. */
  processCpuUsPerRequest?: number;
}

/** Runs the load on each target at once for `seconds`; one row per target. */
async function loadSlice(targets: Target[], opts: LoadOptions, seconds: number) {
  const mark = cpuMark();
  const runs = targets.map((t) => startLoad(t, opts));
  await sleep(seconds * 1000);
  const results = await Promise.all(runs.map((r) => r.stop()));
  const cpu = cpuSince(mark);
  const answered = results.reduce((x, r) => x + r.succeeded, 0);
  return results.map((r) => {
    const ms = r.latencies.map((l) => l.ms);
    return {
      rps: r.succeeded / ((r.endedAt - r.startedAt) / 1000),
      p50: percentile(ms, 50) ?? 0,
      p99: percentile(ms, 99) ?? 0,
      failed: r.failed,
      ...(cpu.machineBusy !== undefined ? { machineBusy: cpu.machineBusy } : {}),
      ...(targets.length === 1 && answered > 0 ? { processCpuUsPerRequest: (cpu.processCpuS * 1e6) / answered } : {}),
    };
  });
}

/**
 * One mode (keep-alive or not): after an unmeasured warm-up of both paths (the JIT of the load
 * generator, the proxy and the app), `rounds` rounds of: each path alone (order alternated per round,
 * so drift on the shared machine hits both alike), then both paths together in the same window.
 */
async function throughputMode(direct: Target, proxy: Target, keepAlive: boolean, seconds: number, rounds: number) {
  const mode = keepAlive ? "keep-alive" : "new connection per request";
  const opts = LoadSpec.parse({ rate: "max", connections: 8, durationSeconds: seconds, path: "/", keepAlive });
  for (const t of [direct, proxy]) await loadSlice([t], opts, 1);
  const slices: Slice[] = [];
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? (["direct", "proxy"] as const) : (["proxy", "direct"] as const);
    for (const path of order) {
      const [r] = await loadSlice([path === "direct" ? direct : proxy], opts, seconds);
      if (r) slices.push({ mode, path, how: "alone", round, ...r });
    }
    const [d, p] = await loadSlice([direct, proxy], opts, seconds);
    if (d) slices.push({ mode, path: "direct", how: "together", round, ...d });
    if (p) slices.push({ mode, path: "proxy", how: "together", round, ...p });
  }
  return slices;
}

function throughputSummary(mode: string, slices: Slice[]) {
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const of = (path: string, how: string) => slices.filter((r) => r.mode === mode && r.path === path && r.how === how);
  const [d, p, dt, pt] = [
    of("direct", "alone"),
    of("proxy", "alone"),
    of("direct", "together"),
    of("proxy", "together"),
  ];
  const rps = (rows: Slice[]) => mean(rows.map((r) => r.rps));
  const busy = (rows: Slice[]) => mean(rows.map((r) => r.machineBusy ?? Number.NaN));
  const cpuUs = (rows: Slice[]) => mean(rows.map((r) => r.processCpuUsPerRequest ?? Number.NaN));
  return {
    mode,
    directRps: rps(d),
    proxyRps: rps(p),
    ratio: rps(p) / rps(d),
    /** Both paths at once, 8 connections each: the same machine state for both. */
    togetherDirectRps: rps(dt),
    togetherProxyRps: rps(pt),
    togetherRatio: rps(pt) / rps(dt),
    directP50Ms: mean(d.map((r) => r.p50)),
    proxyP50Ms: mean(p.map((r) => r.p50)),
    directP99Ms: mean(d.map((r) => r.p99)),
    proxyP99Ms: mean(p.map((r) => r.p99)),
    directMachineBusy: busy(d),
    proxyMachineBusy: busy(p),
    directCpuUsPerRequest: cpuUs(d),
    proxyCpuUsPerRequest: cpuUs(p),
    failed: [...d, ...p, ...dt, ...pt].reduce((a, r) => a + r.failed, 0),
  };
}

async function throughput() {
  const seconds = Number(args.seconds);
  const rounds = Number(args.rounds);
  const [image] = await ensureStyleImages(["exec-form"]);
  if (!image) throw new Error("no exec-form image");
  const runId = newRunId();
  log(`(b) throughput: ${image.ref}, ${rounds} round(s) × ${seconds} s per path and mode, alone and together`);
  const replica = await Replica.start(
    {
      name: `ge-harness-${runId.slice(-6)}`,
      image: image.ref,
      port: 8080,
      env: {},
      runId,
      scenario: "harness-throughput",
    },
    new EventLog(),
  );
  const proxy = new ServiceProxy();
  try {
    await replica.waitForReady(30_000, "/healthz");
    const viaProxy = await proxy.listen();
    proxy.addEndpoint("replica", { host: "127.0.0.1", port: replica.hostPort });
    const direct = { host: "127.0.0.1", port: replica.hostPort };
    const runs: Slice[] = [];
    for (const keepAlive of [true, false])
      runs.push(...(await throughputMode(direct, viaProxy, keepAlive, seconds, rounds)));
    const summary = ["keep-alive", "new connection per request"].map((mode) => throughputSummary(mode, runs));
    return { seconds, rounds, connections: 8, summary, runs };
  } finally {
    await proxy.close();
    await replica.remove();
    await removeLabelledContainers([`graceful-e2e.run=${runId}`]);
  }
}

// ---------------------------------------------------------------- (c) exactness of failure counting

async function exactness() {
  const [image] = await ensureStyleImages(["exec-form"]);
  if (!image) throw new Error("no exec-form image");
  const backend = new LocalBackend();
  const rows: Array<Record<string, unknown>> = [];
  log("(c) exactness: FAIL_FIRST_N=K on one replica, load through the Service proxy, no disruption");
  for (const k of [1, 10, 100]) {
    const scenario = ScenarioSpec.parse({
      name: `harness-exact-${k}`,
      image: { ref: image.ref },
      replicas: 1,
      env: { FAIL_FIRST_N: k },
      load: { connections: 8, durationSeconds: 3, keepAlive: true },
    });
    const runId = newRunId();
    try {
      const deployment = await backend.deploy(scenario, { kind: "image", image }, new EventLog(), runId);
      const run = startLoad(deployment.target, scenario.load);
      await sleep(3000);
      const r = await run.stop();
      rows.push({
        injected: k,
        how: "1 replica, no disruption",
        counted: r.failed,
        non2xx: r.failedByKind["non-2xx"],
        sent: r.sent,
        invariant: r.sent === r.succeeded + r.failed + r.inFlightAtEnd,
        exact: r.failed === k && r.failedByKind["non-2xx"] === k,
      });
    } finally {
      await backend.teardown(undefined, runId);
    }
  }
  // Through the whole runner, with a delete in the middle: each of 2 replicas fails its first 10.
  log("(c) exactness: FAIL_FIRST_N=10 on 2 replicas, full scenario with a delete (preStop 2 s)");
  const full = ScenarioSpec.parse({
    name: "harness-exact-full",
    image: { ref: image.ref },
    replicas: 2,
    env: { FAIL_FIRST_N: 10 },
    preStop: { type: "sleep", seconds: 2 },
    terminationGracePeriodSeconds: 8,
    load: { connections: 8, durationSeconds: 6, keepAlive: true, slowShare: 0.2, slowMs: 300 },
    disruption: { action: "delete", atSeconds: 2 },
    // No replacement pod: it would fail its own first 10 too (measured: warm-up 20 + load 10 = 30).
    local: { replacementPod: false },
  });
  const r = await runScenario({ file: "harness", scenario: full, warnings: [] }, { backend });
  const load = r.load;
  // The sample app leaves the warm-up's probes (x-graceful-e2e-probe) alone, so the injected 500s start
  // after the warm-up; should a probe still meet one, warmUp.failed records it: each counted once.
  const warm = r.warmUp?.failed ?? 0;
  const warmNon2xx = (r.warmUp?.failures ?? []).filter((f) => f.kind === "non-2xx").length;
  rows.push({
    injected: 20,
    how: `2 replicas × 10, full scenario with a delete (warm-up ${warm} + load ${load?.failed ?? "-"})`,
    counted: load ? load.failed + warm : undefined,
    non2xx: load ? (load.failedByKind["non-2xx"] ?? 0) + warmNon2xx : undefined,
    sent: load ? load.sent + (r.warmUp?.probes ?? 0) : undefined,
    invariant: load ? load.sent === load.succeeded + load.failed + load.inFlightAtEnd : false,
    exact: load?.failed !== undefined && load.failed + warm === 20 && load.failedByKind["non-2xx"] + warmNon2xx === 20,
    ...(r.error ? { error: r.error } : {}),
  });
  return rows;
}

// ---------------------------------------------------------------- main

function matrixLines(a: NonNullable<Awaited<ReturnType<typeof matrix>>>): string[] {
  const lines: string[] = [];
  for (const pass of [a.sequential, a.parallel]) {
    if (!pass) continue;
    const p = pass.phaseSumS;
    const n = pass.scenarios;
    lines.push(
      `(a) ${a.backend} matrix (${n} scenarios${a.quick ? ", --quick" : ""}, ${pass.parallel === 1 ? "one at a time" : `${pass.parallel} at a time`}): ` +
        `wall ${pass.wallS.toFixed(1)} s; imposed floor ${pass.imposedFloorS.toFixed(1)} s → ratio ${pass.ratioToImposedFloor.toFixed(2)}; ` +
        `floor with measured terminations ${pass.measuredFloorS.toFixed(1)} s → ratio ${pass.ratioToMeasuredFloor.toFixed(2)}; ` +
        `${pass.verdictsPassed}/${n} passed their expectations`,
      `    per scenario (mean): setup ${(p.setupS / n).toFixed(2)} s (image ${(p.prepareS / n).toFixed(2)} s, deploy ` +
        `${(p.deployS / n).toFixed(2)} s${a.backend === "local" ? " incl. the endpoint add delay" : ""}, warm-up ` +
        `${(p.warmUpS / n).toFixed(2)} s), ` +
        `load window ${(p.loadWindowS / n).toFixed(1)} s, ` +
        `evidence ${(p.evidenceS / n).toFixed(1)} s, teardown ${(p.teardownS / n).toFixed(1)} s; after the last run, ` +
        `the namespaces' end ${pass.drainS.toFixed(1)} s`,
    );
    lines.push(
      formatTable([
        [
          "scenario",
          "wall s",
          "setup s",
          "image s",
          "deploy s",
          "warm-up s",
          "window s",
          "evidence s",
          "teardown s",
          "imposed floor s",
          "measured floor s",
          "failed",
          "status",
        ],
        ...pass.rows.map((r) => [
          r.name,
          r.wallS.toFixed(1),
          sec(r.phases?.setupMs),
          ...SETUP_PARTS.map((k) => sec(r.phases?.[k])),
          ...PHASES.slice(1).map((k) => (r.phases?.[k] !== undefined ? ((r.phases[k] ?? 0) / 1000).toFixed(1) : "-")),
          r.imposedS.toFixed(1),
          r.measuredS?.toFixed(1) ?? "-",
          String(r.failed ?? "-"),
          r.status.toUpperCase(),
        ]),
      ]),
      "",
    );
  }
  return lines;
}

function throughputLines(b: NonNullable<Awaited<ReturnType<typeof throughput>>>): string[] {
  const pct = (x: number) => (Number.isNaN(x) ? "-" : `${(100 * x).toFixed(0)}%`);
  const us = (x: number) => (Number.isNaN(x) ? "-" : x.toFixed(0));
  return [
    `(b) throughput, ${b.connections} connections, ${b.rounds} × ${b.seconds} s per path (mean of rounds):`,
    "    alone: one path at a time, the same load (closed loop), order alternated per round after a 1 s unmeasured",
    "    warm-up of both; together: both paths in the same window, 8 connections each, so the shared machine's",
    "    drift hits both alike. The load generator and the proxy share this process (one event loop); the app",
    "    and docker-proxy (on both paths) share the same cores: the proxy's cost is CPU taken from them.",
    formatTable([
      [
        "mode",
        "direct req/s",
        "via proxy req/s",
        "proxy/direct",
        "together: direct/proxy req/s",
        "together: proxy/direct",
        "p50 direct/proxy ms",
        "p99 direct/proxy ms",
        "machine busy direct/proxy",
        "this process CPU µs/req direct/proxy",
        "failed",
      ],
      ...b.summary.map((s) => [
        s.mode,
        s.directRps.toFixed(0),
        s.proxyRps.toFixed(0),
        s.ratio.toFixed(2),
        `${s.togetherDirectRps.toFixed(0)}/${s.togetherProxyRps.toFixed(0)}`,
        s.togetherRatio.toFixed(2),
        `${s.directP50Ms.toFixed(2)}/${s.proxyP50Ms.toFixed(2)}`,
        `${s.directP99Ms.toFixed(2)}/${s.proxyP99Ms.toFixed(2)}`,
        `${pct(s.directMachineBusy)}/${pct(s.proxyMachineBusy)}`,
        `${us(s.directCpuUsPerRequest)}/${us(s.proxyCpuUsPerRequest)}`,
        String(s.failed),
      ]),
    ]),
    "",
  ];
}

async function mainHarness() {
  const machine = await machineInfo();
  const started = Date.now();
  const a = args["skip-matrix"] ? undefined : await matrix();
  // (b) and (c) measure the local backend's own parts: not with --backend kind, nor --matrix-only.
  const localParts = BACKEND === "local" && !args["matrix-only"];
  const b = localParts ? await throughput() : undefined;
  const c = localParts ? await exactness() : undefined;
  const out = {
    kind: "graceful-e2e bench/harness",
    at: new Date(started).toISOString(),
    wallS: (Date.now() - started) / 1000,
    machine,
    matrix: a,
    throughput: b,
    exactness: c,
  };

  const lines: string[] = [`machine: ${formatMachine(machine)}`, ""];
  if (a) lines.push(...matrixLines(a));
  if (b) lines.push(...throughputLines(b));
  if (c) {
    lines.push("(c) exactness of failure counting:");
    lines.push(
      formatTable([
        ["injected", "how", "counted", "non-2xx", "sent", "sent = ok + failed + in flight", "exact"],
        ...c.map((r) => [
          String(r.injected),
          String(r.how),
          String(r.counted),
          String(r.non2xx),
          String(r.sent),
          String(r.invariant),
          r.exact ? "yes" : "NO",
        ]),
      ]),
    );
  }
  process.stdout.write(`${lines.join("\n")}\n`);
  const file = resolve(String(args.out));
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(out, null, 2)}\n`);
  log(`written: ${file} (harness wall time ${out.wallS.toFixed(0)} s)`);
  return (c ?? []).every((r) => r.exact) ? 0 : 1;
}

process.exitCode = await mainHarness();
