// runScenario's early ends with a fake backend (no Docker): a named time limit or a signal stops
// the current step at once, stops the load, and still tears down — twice when a step was still in
// flight, so what it created after the first sweep is removed too.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type Backend,
  type Deployment,
  type DisruptionOutcome,
  imagePod,
  runningWorkload,
} from "../../src/backends/backend.js";
import type { InClusterLoad } from "../../src/backends/capabilities.js";
import { startLoad } from "../../src/load/generator.js";
import type { VoluntaryDisruptionRecord } from "../../src/model/disruption.js";
import { IN_FLIGHT_SETTLE_MS } from "../../src/runner/context.js";
import { timeLimits } from "../../src/runner/limits.js";
import { settleOutstanding, WINDOW_MARGIN_MS } from "../../src/runner/load-window.js";
import { runScenario } from "../../src/runner/run.js";
import { parseScenario } from "../../src/scenario/load.js";
import { handleInterrupt, resetInterruptForTests } from "../../src/util/cleanup.js";

const loaded = parseScenario(
  "limits.yaml",
  [
    "name: limits",
    "image: {ref: 'example/app:1'}",
    "replicas: 2",
    "preStop: {type: sleep, seconds: 2}",
    "terminationGracePeriodSeconds: 8",
    "load: {connections: 1, durationSeconds: 1}",
    "disruption: {action: delete, atSeconds: 0}",
  ].join("\n"),
);
const resolveImage = async () => ({ style: "custom", ref: "example/app:1" });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const never = <T>() => new Promise<T>(() => {});

let server: Server;
let port: number;
beforeAll(async () => {
  server = createServer((_req, res) => res.end("ok"));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
afterEach(() => resetInterruptForTests());

/** A backend whose "containers" are strings labelled with the run id; teardown removes a run's. */
class FakeBackend implements Backend {
  readonly name = "local" as const;
  readonly containers = new Set<string>();
  teardowns = 0;
  deployImpl: (...args: Parameters<Backend["deploy"]>) => Promise<Deployment> = async (
    scenario,
    _image,
    _sink,
    runId,
  ) => this.deployment(scenario, runId);
  deploy: Backend["deploy"] = async (...args) => runningWorkload(await this.deployImpl(...args), this);
  disrupt: (d: Deployment) => Promise<DisruptionOutcome> = async () => ({ pods: [] });
  /** evict/drain/rollout: the record so far (absent: a backend without one). */
  voluntaryRecord?: (d: Deployment) => VoluntaryDisruptionRecord | undefined;
  teardownImpl: (runId: string) => Promise<void> = async (runId) => {
    for (const c of this.containers) if (c.startsWith(`${runId}/`)) this.containers.delete(c);
  };
  async prepare(): Promise<void> {}
  sweep(runId: string): Promise<void> {
    return this.teardown(undefined, runId);
  }
  async teardown(_d: Deployment | undefined, runId: string): Promise<void> {
    this.teardowns++;
    await this.teardownImpl(runId);
  }
  deployment(scenario: Deployment["scenario"], runId: string): Deployment {
    return {
      scenario,
      runId,
      target: { host: "127.0.0.1", port },
      trafficPath: "test",
      pods: ["p0", "p1"],
      pod: imagePod(scenario, "test", "app"),
      platform: {},
    };
  }
}

describe("time limits (pure)", () => {
  it("Kubernetes backends get longer setup and teardown limits than local", () => {
    const local = timeLimits(loaded.scenario, 1, "local");
    const kind = timeLimits(loaded.scenario, 1, "kind");
    expect(kind.setup).toBeGreaterThan(local.setup);
    expect(kind.teardown).toBeGreaterThan(local.teardown);
    expect(kind.scenario).toBe(local.scenario);
    expect(timeLimits(loaded.scenario)).toEqual(local);
  });
});

describe("runScenario: named limits and interruptions", () => {
  it("setup limit: names the limit, and sweeps again for what the deploy in flight created later", async () => {
    const backend = new FakeBackend();
    backend.deployImpl = async (_s, _i, _sink, runId) => {
      backend.containers.add(`${runId}/replica-0`);
      await sleep(300); // the limit (100 ms) fires here; the first sweep runs
      backend.containers.add(`${runId}/replica-1`); // created after the first sweep
      throw new Error("container removed while starting");
    };
    const lines: string[] = [];
    const r = await runScenario(loaded, {
      backend,
      resolveImage,
      limits: { setup: 100 },
      onProgress: (l) => lines.push(l),
    });
    expect(r.error).toBe(
      "setup (image and deploy) timed out after 0.1 s (limit: setup; raise it with --timeout-scale)",
    );
    expect(r.pass).toBe(false);
    expect(backend.teardowns).toBe(2);
    expect([...backend.containers]).toEqual([]);
    expect(lines.join("\n")).toMatch(/waiting for the deploy still in flight, then sweeping by run label again/);
  });

  it("scenario limit: stops the load window and the disruption wait, keeps the load counts, tears down", async () => {
    const backend = new FakeBackend();
    backend.disrupt = () => never();
    const started = Date.now();
    const r = await runScenario(loaded, { backend, resolveImage, limits: { scenario: 400 } });
    expect(r.error).toBe(
      "the scenario (load and delete) timed out after 0.4 s (limit: scenario; raise it with --timeout-scale)",
    );
    expect(r.load?.sent).toBeGreaterThan(0);
    expect(r.load?.failed).toBe(0);
    expect(backend.teardowns).toBeGreaterThanOrEqual(1);
    // Not the disruption's own budget (tens of seconds): the limit plus the bounded wait for the step.
    expect(Date.now() - started).toBeLessThan(400 + IN_FLIGHT_SETTLE_MS + 2000);
  });

  it("a run ended mid-drain keeps the backend's record so far, with what its teardown adds", async () => {
    const backend = new FakeBackend();
    const record: VoluntaryDisruptionRecord = {
      evictions: [{ pod: "p0", at: 1, attempt: 1, result: "refused", status: 429, message: "budget" }],
      drain: { node: "n1", chosenBecause: "busiest pod p0", cordonedAt: 1, pods: ["p0"], timedOut: false },
    };
    backend.disrupt = () => never();
    backend.voluntaryRecord = () => record;
    backend.teardownImpl = async () => {
      if (record.drain) record.drain.uncordonedAt = 2; // the backend's uncordon, after the run's end
    };
    const r = await runScenario(loaded, { backend, resolveImage, limits: { scenario: 300 } });
    expect(r.error).toMatch(/^the scenario \(load and delete\) timed out after 0\.3 s/);
    expect(r.voluntary).toBe(record);
    expect(r.voluntary?.drain?.uncordonedAt).toBe(2);
    // A backend without a record: nothing made up.
    const plain = new FakeBackend();
    plain.disrupt = () => never();
    expect(
      (await runScenario(loaded, { backend: plain, resolveImage, limits: { scenario: 300 } })).voluntary,
    ).toBeUndefined();
  });

  it("teardown limit: recorded in the result with what to do, never thrown", async () => {
    const backend = new FakeBackend();
    backend.deployImpl = async () => {
      throw new Error("no such image");
    };
    backend.teardownImpl = () => never();
    const r = await runScenario(loaded, { backend, resolveImage, limits: { teardown: 100 } });
    expect(r.error).toMatch(/^no such image; teardown incomplete: teardown timed out after 0\.1 s \(limit: teardown;/);
    expect(r.error).toMatch(/label graceful-e2e\.run=\S+: remove it with 'graceful-e2e clean'/);
  });

  it("the caller's AbortSignal ends the run at once and tears down", async () => {
    const backend = new FakeBackend();
    backend.deployImpl = async (s, _i, _sink, runId) => {
      backend.containers.add(`${runId}/replica-0`);
      await sleep(50);
      return backend.deployment(s, runId);
    };
    const ctl = new AbortController();
    const run = runScenario(loaded, { backend, resolveImage, signal: ctl.signal });
    await sleep(400); // under load, before the disruption (atSeconds 0 → disruption runs, resolves at once)
    ctl.abort(new Error("stopped by the caller"));
    const r = await run;
    // Either the window sleep or the margin after the disruption was cut short.
    expect(r.error).toBe("stopped by the caller");
    expect([...backend.containers]).toEqual([]);
  });

  it("SIGINT: the registered cleanup stops the run where it is and resolves once it is torn down", async () => {
    const backend = new FakeBackend();
    let deployStarted = () => {};
    const inDeploy = new Promise<void>((r) => {
      deployStarted = r;
    });
    backend.deployImpl = async (_s, _i, _sink, runId) => {
      backend.containers.add(`${runId}/replica-0`);
      deployStarted();
      return never();
    };
    const run = runScenario(loaded, { backend, resolveImage });
    await inDeploy;
    const log: string[] = [];
    await handleInterrupt("SIGINT", (l) => log.push(l));
    // By the time the signal's cleanup is done, the run has torn down.
    expect([...backend.containers]).toEqual([]);
    expect(log[0]).toBe("SIGINT received: tearing down what this run started...");
    expect(log).toContain("cleaned up after SIGINT: everything this run started is torn down");
    const r = await run;
    expect(r.error).toBe("interrupted by SIGINT");
  });

  it("a run that starts after SIGINT does nothing but report it", async () => {
    await handleInterrupt("SIGINT", () => {});
    const backend = new FakeBackend();
    const r = await runScenario(loaded, { backend, resolveImage });
    expect(r.error).toBe("interrupted by SIGINT");
    expect(r.image).toBeUndefined();
  });
});

describe("runScenario: the window closes on the disruption's end, late evidence after it, phases", () => {
  it("keeps the settle margin after disrupt() resolves, then asks the backend for the final outcomes before judging", async () => {
    const backend = new FakeBackend();
    const pod = (notes: string[]) => ({
      pod: "p0",
      pid1Cmdline: "node /app/server.js",
      deleteAt: Date.now(),
      sigkilled: false,
      processes: [],
      notes,
    });
    let disruptEnded = 0;
    let finalAt = 0;
    backend.disrupt = async () => {
      disruptEnded = Date.now();
      return {
        pods: [pod(["early"])],
        final: async () => {
          finalAt = Date.now();
          return [{ ...pod(["final"]), goneAt: Date.now() }];
        },
      };
    };
    const lines: string[] = [];
    const started = Date.now();
    const r = await runScenario(loaded, { backend, resolveImage, onProgress: (l) => lines.push(l) });
    expect(r.load?.endedAt).toBeGreaterThanOrEqual(disruptEnded + WINDOW_MARGIN_MS - 5);
    expect(finalAt).toBeGreaterThanOrEqual(r.load?.endedAt ?? Number.POSITIVE_INFINITY);
    expect(r.pods.map((p) => p.notes)).toEqual([["final"]]);
    expect(lines.some((l) => l.includes("disrupted pod(s) ended (containers exited, or gone): p0"))).toBe(true);
    // Every phase measured, and together they are the run.
    const ph = r.phases ?? {};
    for (const k of ["setupMs", "loadWindowMs", "evidenceMs", "teardownMs"] as const)
      expect(ph[k]).toBeGreaterThanOrEqual(0);
    const sum = (ph.setupMs ?? 0) + (ph.loadWindowMs ?? 0) + (ph.evidenceMs ?? 0) + (ph.teardownMs ?? 0);
    expect(Math.abs(r.durationMs - sum)).toBeLessThan(100);
    expect(Date.now() - started).toBeGreaterThanOrEqual(r.durationMs);
  });
});

describe("settleOutstanding: requests sent before the settle margin ended are counted, not left in flight", () => {
  const rec = (sentAt: number, at: number) => ({ sentAt, at, ok: false });
  it("returns at once when every request sent by then has settled", async () => {
    const records = [rec(1, 2), rec(5, 9), rec(12, 13)];
    const t0 = Date.now();
    const r = await settleOutstanding(() => records, 10, 2, Date.now() + 5000, new AbortController().signal);
    expect(r).toEqual({ left: 0 });
    expect(Date.now() - t0).toBeLessThan(50);
  });

  it("waits for one that fails late (a connection routed to a pod whose network was gone times out)", async () => {
    const records = [rec(1, 2)];
    setTimeout(() => records.push(rec(8, Date.now())), 300);
    const t0 = Date.now();
    const r = await settleOutstanding(() => records, 10, 2, Date.now() + 5000, new AbortController().signal, 20);
    expect(r).toEqual({ left: 0 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it("gives up at the deadline (the request timeout), saying how many are still unanswered", async () => {
    const t0 = Date.now();
    const r = await settleOutstanding(() => [rec(1, 2)], 10, 3, Date.now() + 200, new AbortController().signal, 20);
    expect(r).toEqual({ left: 2 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(195);
  });
});

/** A backend that can run the load in the cluster (existing): whether it does is its loadsInCluster. */
class InClusterCapable extends FakeBackend implements InClusterLoad {
  startLoadCalls = 0;
  constructor(readonly loadsInCluster: boolean) {
    super();
  }
  async startLoad(d: Deployment, load: Deployment["scenario"]["load"]) {
    this.startLoadCalls++;
    const run = startLoad(d.target, load);
    return { stop: () => run.stop() };
  }
}

describe("the warm-up runs whenever the load comes from this machine", () => {
  const warm = parseScenario(
    "warm.yaml",
    [
      "name: warm",
      "image: {ref: 'example/app:1'}",
      "replicas: 2",
      "load: {connections: 1, durationSeconds: 1, warmUpSeconds: 1}",
      "disruption: {action: delete, atSeconds: 0}",
    ].join("\n"),
  );

  it("an existing-cluster run with load from this machine (--address) warms up, and runs the load here", async () => {
    const backend = new InClusterCapable(false);
    const r = await runScenario(warm, { backend, resolveImage });
    expect(r.error, r.error).toBeUndefined();
    expect(r.warmUp).toBeDefined();
    expect(r.warmUp?.pods).toEqual(["p0", "p1"]);
    expect(backend.startLoadCalls).toBe(0);
  });

  it("a load Job in the cluster: no warm-up from here, the backend starts the load", async () => {
    const backend = new InClusterCapable(true);
    const r = await runScenario(warm, { backend, resolveImage });
    expect(r.error, r.error).toBeUndefined();
    expect(r.warmUp).toBeUndefined();
    expect(backend.startLoadCalls).toBe(1);
  });
});
