// The trust rule (src/verdict/trust.ts) against the field report's real kind results — one at a time
// (conclusive) and four at once (the kubelet starved) — and against local-shaped timelines; and the
// saturation probe's parsers (src/observe/saturation.ts).
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { HarnessLoad } from "../../src/observe/saturation.js";
import { parsePressure, parseProcStat, startSaturationProbe } from "../../src/observe/saturation.js";
import type { ScenarioResult } from "../../src/runner/run.js";
import { parseScenario } from "../../src/scenario/load.js";
import { judgeTrust, podLateness } from "../../src/verdict/trust.js";

const FIELD = join(import.meta.dirname, "../fixtures/field-kind-2node");
const read = async (file: string) => JSON.parse(await readFile(join(FIELD, file), "utf8")) as ScenarioResult;
const judge = (r: ScenarioResult, harness?: HarnessLoad) =>
  judgeTrust(harness, r.pods, r.timeline?.entries ?? [], r.scenario);

const calm: HarnessLoad = { windowMs: 10_000, eventLoop: { maxMs: 40, p99Ms: 5, meanMs: 1, resolutionMs: 10 } };

describe("trust: the kubelet's lateness on the field report's kind runs", () => {
  it("one at a time: every step within its bound, the run stays conclusive", async () => {
    for (const file of [
      "sequential/script-prestop-sleep.kind.json",
      "sequential/no-handler-prestop-sleep.kind.json",
      "sequential/exec-form-prestop-sleep.kind.json",
      "sequential/shell-form-no-prestop.kind.json",
      "sequential/trap-no-prestop.kind.json",
    ]) {
      const t = judge(await read(file), calm);
      expect(t.saturated, `${file}: ${t.reason}`).toBe(false);
      expect(t.lateness.length, file).toBeGreaterThan(0);
    }
  });

  it("four at once: SIGKILL 5.1 s past an 8 s grace makes it INCONCLUSIVE with the figures", async () => {
    const t = judge(await read("parallel4/script-no-prestop.kind.json"), calm);
    expect(t.saturated).toBe(true);
    const kill = t.lateness.find((l) => l.step === "sigkill");
    expect(kill?.dueMs).toBe(8000);
    expect(kill?.lateMs).toBe(5142);
    expect(t.reason).toBe("harness saturated: SIGKILL at +13.1 s for a 8 s grace, due at +8.0 s (bound +1.0 s)");
  });

  it("four at once: a 2 s preStop started at +4.5 s and lasting 2.9 s is named", async () => {
    const t = judge(await read("parallel4/exec-prestop-sleep.kind.json"), calm);
    expect(t.saturated).toBe(true);
    expect(t.reason).toContain("preStop started +4.5 s after the delete (bound +1.5 s)");
    expect(t.reason).toContain("preStop sleep 2 s lasted 2.9 s (bound +0.5 s)");
  });

  it("an inferred SIGTERM is not a measurement: only the app's own line times it", async () => {
    const r = await read("parallel4/exec-form-prestop-sleep.kind.json");
    const sigterm = podLateness(r.pods[0] as never, r.timeline?.entries ?? [], r.scenario).find(
      (l) => l.step === "sigterm",
    );
    expect(sigterm?.from).toBe("the app's SIGTERM line");
    expect(sigterm?.lateMs).toBe(5203 - 4009);
  });
});

const local = parseScenario(
  "local.yaml",
  [
    "name: local",
    "image: {style: no-handler}",
    "preStop: {type: none}",
    "terminationGracePeriodSeconds: 8",
    "disruption: {action: delete, atSeconds: 1}",
  ].join("\n"),
).scenario;

describe("trust: the local runtime's harness-kubelet and the event loop", () => {
  const pod = { pod: "p", pid1Cmdline: "x", deleteAt: 1000, processes: [], notes: [], sigkilled: true, exitedAt: 9100 };
  const events = [
    { at: 1000, kind: "delete-requested" as const, source: "harness" as const, pod: "p" },
    { at: 1010, kind: "sigterm-sent" as const, source: "kubelet" as const, pod: "p" },
    { at: 9050, kind: "sigkill-sent" as const, source: "kubelet" as const, pod: "p" },
  ];

  it("a kill on time: figures reported, nothing past a bound", () => {
    const t = judgeTrust(calm, [pod], events, local);
    expect(t.saturated).toBe(false);
    expect(t.lateness.map((l) => [l.step, l.lateMs])).toEqual([
      ["sigterm", 10],
      ["sigkill", 100],
    ]);
    expect(t.harness).toEqual(calm);
  });

  it("an event loop that lagged past its bound: INCONCLUSIVE, with the lag and the CPU", () => {
    const lagged = { ...calm, eventLoop: { ...calm.eventLoop, maxMs: 840 }, cpuBusy: 1 };
    const t = judgeTrust(lagged, [pod], events, local);
    expect(t.reason).toBe("harness saturated: event loop lagged 840 ms (bound 250 ms), CPU 100 % busy");
  });

  it("an event loop thread starved of CPU: INCONCLUSIVE, with its wait; within the bound: reported only", () => {
    const starved = { ...calm, mainThread: { runFraction: 0.1, waitFraction: 0.66 } };
    expect(judgeTrust(starved, [pod], events, local).reason).toBe(
      "harness saturated: the event loop waited for a CPU 66 % of the window (bound 50 %)",
    );
    const shared = { ...calm, mainThread: { runFraction: 0.14, waitFraction: 0.4 } };
    expect(judgeTrust(shared, [pod], events, local).saturated).toBe(false);
  });

  it("a machine whose tasks waited for a CPU most of the window: INCONCLUSIVE even when the event loop kept up", () => {
    // The CI machine under two busy loops per core: lag 70 ms, the event loop waited 33 %, PSI some 89 %.
    const burned = {
      ...calm,
      cpuBusy: 1,
      cpuPressure: { someFraction: 0.89, someAvg10: 0.74 },
      mainThread: { runFraction: 0.14, waitFraction: 0.33 },
    };
    expect(judgeTrust(burned, [pod], events, local).reason).toBe(
      "harness saturated: tasks waited for a CPU 89 % of the window (CPU pressure; bound 60 %)",
    );
    // The busiest quiet run measured there (gRPC, paced): 32 % pressure, conclusive.
    const grpc = { ...calm, cpuBusy: 0.61, cpuPressure: { someFraction: 0.32, someAvg10: 0.2 } };
    expect(judgeTrust(grpc, [pod], events, local).saturated).toBe(false);
  });

  it("a late kill and a late SIGTERM from the harness itself", () => {
    const late = [...events.slice(0, 1), { ...events[1], at: 2500 }, { ...events[2], at: 12_000 }];
    const t = judgeTrust(calm, [{ ...pod, exitedAt: 12_200 }], late as never, local);
    expect(t.reason).toBe(
      "harness saturated: SIGTERM at +1.5 s, due at +0.0 s (sigterm-sent (kubelet); bound +1.0 s); " +
        "SIGKILL at +11.2 s for a 8 s grace, due at +8.0 s (bound +1.0 s)",
    );
  });
});

describe("saturation: /proc parsers and the probe", () => {
  it("/proc/stat: busy is everything but idle and iowait, over all cores", () => {
    const stat =
      "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 50 0 25 400 25 0 0 0 0 0\ncpu1 50 0 25 400 25 0 0 0 0 0\nintr 1\n";
    expect(parseProcStat(stat)).toEqual({ busy: 150, total: 1000, cores: 2 });
    expect(parseProcStat("nothing")).toBeUndefined();
  });

  it("/proc/pressure/cpu: the some line's avg10 and total", () => {
    const psi =
      "some avg10=60.75 avg60=25.54 avg300=10.30 total=42028323\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
    expect(parsePressure(psi)).toEqual({ avg10: 60.75, totalUs: 42028323 });
  });

  it("the probe: busy fraction and pressure share over the window, lag of a blocked loop", async () => {
    let tick = 0;
    const stats = ["cpu  100 0 0 900 0 0 0 0\ncpu0 1\n", "cpu  400 0 0 1000 0 0 0 0\ncpu0 1\n"];
    const psis = ["some avg10=1.00 avg60=0 avg300=0 total=0\n", "some avg10=50.00 avg60=0 avg300=0 total=1000000\n"];
    let statRead = 0;
    let psiRead = 0;
    const probe = startSaturationProbe({
      readStat: () => stats[statRead++],
      readPressure: () => psis[psiRead++],
      now: () => (tick++ === 0 ? 0 : 2000),
    });
    await new Promise((r) => setTimeout(r, 50));
    // The block starts once the probe's timer runs: 250 ms of it whatever the first sleep took on a busy machine.
    const end = Date.now() + 250;
    while (Date.now() < end); // block the loop 250 ms
    await new Promise((r) => setTimeout(r, 50));
    const h = probe.stop();
    expect(h.cpuBusy).toBeCloseTo(0.75);
    expect(h.cores).toBe(1);
    expect(h.cpuPressure).toEqual({ someFraction: 0.5, someAvg10: 0.5 });
    expect(h.eventLoop.maxMs).toBeGreaterThan(200);
  });
});

describe("trust: a multi-container pod's SIGTERM, timed on the container the load reaches", () => {
  const base = { pid1Cmdline: "nginx", processes: [], notes: [], sigkilled: false };
  const sidecarApp = { ...base, container: "app", role: "sidecar" as const, pid1Cmdline: "node", exitedAt: 1700 };
  const proxy = { ...base, pod: "p", deleteAt: 1000, container: "proxy", role: "app" as const, exitedAt: 2200 };
  const sent = (at: number, container: string, extra: Record<string, unknown> = {}) =>
    ({ at, kind: "sigterm-sent", source: "kubelet", pod: "p", detail: { container, ...extra } }) as const;
  const hook = (kind: "prestop-start" | "prestop-end", at: number, container: string) =>
    ({ at, kind, source: "kubelet", pod: "p", detail: { container } }) as const;
  const workload = (preStop: string) =>
    parseScenario("w.yaml", `name: w\nimage: {style: exec}\npreStop: ${preStop}\n`).scenario;

  it("a native sidecar in front is due when its turn came (the app exited), not at the delete", () => {
    const events = [
      sent(1010, "app"),
      { at: 1700, kind: "container-exit", source: "runtime", pod: "p", detail: { container: "app" } },
      sent(1720, "proxy", { turnEndedAt: 1705 }),
    ];
    const t = judgeTrust(calm, [{ ...proxy, sidecars: [sidecarApp] }], events as never, workload("{type: none}"));
    expect(t.lateness.find((l) => l.step === "sigterm")).toMatchObject({ dueMs: 705, seenMs: 720, lateMs: 15 });
    expect(t.saturated).toBe(false);
  });

  it("the front's own hook times it, not another container's", () => {
    // The proxy's exec sleep 2 ends at +2.0 s; the app has a 5 s hook of its own.
    const events = [
      hook("prestop-start", 1000, "proxy"),
      hook("prestop-start", 1000, "app"),
      hook("prestop-end", 3000, "proxy"),
      sent(3010, "proxy"),
      hook("prestop-end", 6000, "app"),
      sent(6010, "app"),
    ];
    const pod = { ...proxy, exitedAt: 3300, sidecars: [{ ...sidecarApp, exitedAt: 6400 }] };
    const t = judgeTrust(calm, [pod], events as never, workload("{type: exec, command: [sleep, '2']}"));
    expect(t.lateness.find((l) => l.step === "sigterm")).toMatchObject({ dueMs: 2000, seenMs: 2010 });
  });
});
