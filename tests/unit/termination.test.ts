import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  type ContainerRuntime,
  chooseStopSignal,
  type PodRuntime,
  terminatePod,
  terminatePodContainers,
} from "../../src/backends/local/termination.js";
import { EventLog } from "../../src/observe/events.js";
import { MINIMUM_GRACE_AFTER_PRESTOP_MS, sigkillDeadline } from "../../src/observe/exit-evidence.js";
import type { PreStop } from "../../src/scenario/schema.js";
import { signalName } from "../../src/util/signals.js";

describe("sigkillDeadline", () => {
  it("is the end of the grace period, counted from the delete", () => {
    expect(sigkillDeadline(1000, 30, 4000)).toBe(31_000);
  });
  it("grants at least 2 s after SIGTERM when preStop used up the grace period", () => {
    expect(sigkillDeadline(0, 5, 5000)).toBe(5000 + MINIMUM_GRACE_AFTER_PRESTOP_MS);
    expect(sigkillDeadline(0, 5, 4000)).toBe(6000);
  });
});

/**
 * A fake container: exits `exitAfterTermMs` after its stop signal (never, if undefined), 137 on SIGKILL.
 * `imageStopSignal`: what the runtime reports as the image's STOPSIGNAL.
 */
function fakeRuntime(opts: {
  exitAfterTermMs?: number;
  preStopMs?: number;
  preStopFails?: boolean;
  imageStopSignal?: string;
}) {
  const calls: Array<{ what: string; at: number }> = [];
  let resolveExit: (code: number) => void = () => {};
  const exited = new Promise<number>((r) => {
    resolveExit = r;
  });
  const runtime: PodRuntime = {
    runPreStop: async (_hook, signal) => {
      calls.push({ what: "preStop", at: Date.now() });
      await new Promise<void>((r) => {
        const t = setTimeout(r, opts.preStopMs ?? 0);
        signal.addEventListener("abort", () => {
          clearTimeout(t);
          r();
        });
      });
      if (opts.preStopFails) throw new Error("hook exited 1");
    },
    sendSignal: async (signal) => {
      calls.push({ what: signal, at: Date.now() });
      if (signal === "SIGKILL") resolveExit(137);
      else if (opts.exitAfterTermMs !== undefined) setTimeout(() => resolveExit(0), opts.exitAfterTermMs);
    },
    waitForExit: () => exited,
    removeEndpoint: () => calls.push({ what: "removeEndpoint", at: Date.now() }),
    ...(opts.imageStopSignal !== undefined ? { imageStopSignal: async () => opts.imageStopSignal } : {}),
  };
  return { runtime, calls };
}

/**
 * The sequences below wait out preStop hooks and grace periods of seconds: on a fake clock (timers and
 * Date together), run until nothing is left to wait for, so a 3 s grace period takes no real time and
 * every interval is exact.
 */
async function settled<T>(p: Promise<T>): Promise<T> {
  await vi.runAllTimersAsync();
  return p;
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

async function run(
  preStop: PreStop,
  graceSeconds: number,
  rt: ReturnType<typeof fakeRuntime>,
  propagationMs = 50,
  stopSignal?: string,
) {
  const sink = new EventLog();
  const outcome = await settled(
    terminatePod({
      pod: "p",
      graceSeconds,
      preStop,
      endpointPropagationMs: propagationMs,
      runtime: rt.runtime,
      sink,
      ...(stopSignal !== undefined ? { stopSignal } : {}),
    }),
  );
  return { outcome, kinds: sink.events.map((e) => e.kind), events: sink.events };
}

describe("terminatePod (the kubelet's sequence)", () => {
  it("runs preStop, then SIGTERM; a cooperative container exits without SIGKILL", async () => {
    const rt = fakeRuntime({ preStopMs: 200, exitAfterTermMs: 50 });
    const { outcome, kinds } = await run({ type: "sleep", seconds: 0.2 }, 5, rt);
    expect(rt.calls.map((c) => c.what)).toEqual(["preStop", "removeEndpoint", "SIGTERM"]);
    expect(outcome.sigkillAt).toBeUndefined();
    expect(outcome.exitCode).toBe(0);
    expect(outcome.sigtermAt! - outcome.deleteAt).toBeGreaterThanOrEqual(195);
    expect(kinds).toEqual([
      "delete-requested",
      "prestop-start",
      "endpoint-removed",
      "prestop-end",
      "sigterm-sent",
      "container-exit",
    ]);
  });

  it("removes the endpoint concurrently with preStop, after the propagation delay", async () => {
    const rt = fakeRuntime({ preStopMs: 300, exitAfterTermMs: 10 });
    const { outcome } = await run({ type: "sleep", seconds: 0.3 }, 5, rt, 100);
    expect(outcome.endpointRemovedAt! - outcome.deleteAt).toBeGreaterThanOrEqual(95);
    expect(outcome.endpointRemovedAt!).toBeLessThan(outcome.sigtermAt!);
  });

  it("sends SIGKILL when the grace period (counted from the delete) runs out", async () => {
    const rt = fakeRuntime({ preStopMs: 300 });
    const { outcome } = await run({ type: "sleep", seconds: 0.3 }, 3, rt);
    expect(outcome.exitCode).toBe(137);
    expect(outcome.sigkillAt! - outcome.deleteAt).toBeGreaterThanOrEqual(2990);
    expect(outcome.sigkillAt! - outcome.deleteAt).toBeLessThan(3250);
  });

  it("never leaves less than 2 s between SIGTERM and SIGKILL, even inside the grace period", async () => {
    // grace 2 s, preStop 0.3 s: 1.7 s would remain; the kubelet rounds up to 2 s.
    const rt = fakeRuntime({ preStopMs: 300 });
    const { outcome } = await run({ type: "sleep", seconds: 0.3 }, 2, rt);
    expect(outcome.sigkillAt! - outcome.sigtermAt!).toBeGreaterThanOrEqual(MINIMUM_GRACE_AFTER_PRESTOP_MS - 10);
  });

  it("gives the 2 s minimum after SIGTERM when preStop overruns the grace period", async () => {
    const rt = fakeRuntime({ preStopMs: 10_000 });
    const { outcome, events } = await run({ type: "sleep", seconds: 10 }, 1, rt);
    expect(outcome.preStop?.overran).toBe(true);
    expect(outcome.sigtermAt! - outcome.deleteAt).toBeGreaterThanOrEqual(990);
    expect(outcome.sigkillAt! - outcome.sigtermAt!).toBeGreaterThanOrEqual(MINIMUM_GRACE_AFTER_PRESTOP_MS - 10);
    expect(events.find((e) => e.kind === "prestop-end")?.detail).toMatchObject({ overran: true });
  });

  it("records a failed preStop hook (FailedPreStopHook) and still sends SIGTERM", async () => {
    const rt = fakeRuntime({ preStopMs: 10, preStopFails: true, exitAfterTermMs: 10 });
    const { kinds, events, outcome } = await run({ type: "exec", command: ["false"] }, 5, rt);
    expect(kinds).toContain("prestop-failed");
    expect(events.find((e) => e.kind === "prestop-failed")?.detail).toMatchObject({ reason: "FailedPreStopHook" });
    expect(outcome.sigtermAt).toBeDefined();
    expect(outcome.exitCode).toBe(0);
  });

  it("without preStop, SIGTERM goes out at once", async () => {
    const rt = fakeRuntime({ exitAfterTermMs: 10 });
    const { outcome } = await run({ type: "none" }, 5, rt);
    expect(outcome.sigtermAt! - outcome.deleteAt).toBeLessThan(50);
  });
});

describe("the stop signal (what the runtime's stop sends)", () => {
  it("normalizes the forms Docker stores a STOPSIGNAL in", () => {
    expect(signalName("SIGQUIT")).toBe("SIGQUIT");
    expect(signalName("QUIT")).toBe("SIGQUIT");
    expect(signalName("sigwinch")).toBe("SIGWINCH");
    expect(signalName("3")).toBe("SIGQUIT");
    expect(signalName("28")).toBe("SIGWINCH");
    expect(signalName("37")).toBe("37");
    expect(signalName("")).toBeUndefined();
    expect(signalName(undefined)).toBeUndefined();
  });

  it("the scenario's wins over the image's, which wins over SIGTERM", () => {
    expect(chooseStopSignal("SIGWINCH", "SIGQUIT")).toEqual({ signal: "SIGWINCH", from: "scenario" });
    expect(chooseStopSignal(undefined, "QUIT")).toEqual({ signal: "SIGQUIT", from: "image" });
    expect(chooseStopSignal(undefined, "")).toEqual({ signal: "SIGTERM", from: "default" });
    expect(chooseStopSignal(undefined, undefined)).toEqual({ signal: "SIGTERM", from: "default" });
  });

  it("sends the image's STOPSIGNAL and records it on the sigterm-sent event", async () => {
    const rt = fakeRuntime({ exitAfterTermMs: 10, imageStopSignal: "SIGQUIT" });
    const { outcome, events } = await run({ type: "none" }, 5, rt);
    expect(rt.calls.map((c) => c.what)).toContain("SIGQUIT");
    expect(rt.calls.map((c) => c.what)).not.toContain("SIGTERM");
    expect(outcome.stopSignal).toEqual({ signal: "SIGQUIT", from: "image" });
    const detail = events.find((e) => e.kind === "sigterm-sent")?.detail;
    // How long the runtime's kill call took: the signal reached PID 1 within it.
    expect(detail?.deliveredWithinMs).toEqual(expect.any(Number));
    expect(detail?.deliveredWithinMs as number).toBeGreaterThanOrEqual(0);
    expect(events.find((e) => e.kind === "sigterm-sent")?.detail).toMatchObject({ signal: "SIGQUIT", from: "image" });
  });

  it("the scenario's stopSignal overrides the image's", async () => {
    const rt = fakeRuntime({ exitAfterTermMs: 10, imageStopSignal: "SIGQUIT" });
    const { events } = await run({ type: "none" }, 5, rt, 50, "SIGWINCH");
    expect(rt.calls.map((c) => c.what)).toEqual(expect.arrayContaining(["SIGWINCH"]));
    expect(rt.calls.map((c) => c.what)).not.toContain("SIGQUIT");
    expect(events.find((e) => e.kind === "sigterm-sent")?.detail).toMatchObject({
      signal: "SIGWINCH",
      from: "scenario",
    });
  });

  it("SIGTERM when the image has none; SIGKILL stays SIGKILL", async () => {
    const rt = fakeRuntime({ preStopMs: 100 });
    const { outcome, events } = await run({ type: "sleep", seconds: 0.1 }, 1, rt);
    expect(rt.calls.map((c) => c.what).filter((w) => w.startsWith("SIG"))).toEqual(["SIGTERM", "SIGKILL"]);
    expect(outcome.exitCode).toBe(137);
    expect(events.find((e) => e.kind === "sigterm-sent")?.detail).toMatchObject({ signal: "SIGTERM", from: "default" });
  });
});

describe("terminatePodContainers (a pod of several containers)", () => {
  /** A container that exits `exitAfterTermMs` after its stop signal, recording when things happened. */
  function container(name: string, exitAfterTermMs: number | undefined, log: Array<{ what: string; at: number }>) {
    let resolveExit: (code: number) => void = () => {};
    const exited = new Promise<number>((r) => {
      resolveExit = (code) => {
        log.push({ what: `${name} exit`, at: Date.now() });
        r(code);
      };
    });
    const runtime: ContainerRuntime = {
      runPreStop: async (hook) => {
        log.push({ what: `${name} preStop`, at: Date.now() });
        if (hook.type === "sleep") await new Promise((r) => setTimeout(r, hook.seconds * 1000));
      },
      sendSignal: async (signal) => {
        log.push({ what: `${name} ${signal}`, at: Date.now() });
        if (signal === "SIGKILL") resolveExit(137);
        else if (exitAfterTermMs !== undefined) setTimeout(() => resolveExit(0), exitAfterTermMs);
      },
      waitForExit: () => exited,
    };
    return runtime;
  }

  it("runs every preStop at the delete; native sidecars get their signal after the regular containers exited, in reverse order", async () => {
    const log: Array<{ what: string; at: number }> = [];
    const sink = new EventLog();
    const outcome = await settled(
      terminatePodContainers({
        pod: "p",
        graceSeconds: 5,
        endpointPropagationMs: 10,
        removeEndpoint: () => {},
        sink,
        containers: [
          { name: "first-sidecar", preStop: { type: "none" }, nativeSidecar: true, runtime: container("s1", 10, log) },
          {
            name: "second-sidecar",
            preStop: { type: "sleep", seconds: 0.05 },
            nativeSidecar: true,
            runtime: container("s2", 10, log),
          },
          { name: "app", preStop: { type: "sleep", seconds: 0.2 }, runtime: container("app", 100, log) },
          { name: "proxy", preStop: { type: "none" }, runtime: container("proxy", 10, log) },
        ],
      }),
    );
    const when = (what: string) => log.find((l) => l.what === what)?.at ?? Number.NaN;
    // Every hook at once (the sidecar's too), the regular containers' signals without waiting for each other.
    expect(when("s2 preStop") - when("app preStop")).toBeLessThan(30);
    expect(when("proxy SIGTERM")).toBeLessThan(when("app SIGTERM"));
    // Sidecars: after every regular container exited; the later-started one first.
    expect(when("s2 SIGTERM")).toBeGreaterThanOrEqual(when("app exit"));
    expect(when("s2 SIGTERM")).toBeGreaterThanOrEqual(when("proxy exit"));
    expect(when("s1 SIGTERM")).toBeGreaterThanOrEqual(when("s2 exit"));
    expect(outcome.containers.map((c) => c.exitCode)).toEqual([0, 0, 0, 0]);
    const signals = sink.events.filter((e) => e.kind === "sigterm-sent").map((e) => e.detail?.container);
    expect(signals).toEqual(["proxy", "app", "second-sidecar", "first-sidecar"]);
    // A native sidecar's send records when its turn came (what its lateness counts from); a regular one's not.
    const sent = (c: string) => sink.events.find((e) => e.kind === "sigterm-sent" && e.detail?.container === c);
    expect(Number(sent("second-sidecar")?.detail?.turnEndedAt)).toBeGreaterThanOrEqual(
      // The same instant as the app's exit, read by another callback of a ms clock.
      (outcome.containers[2]?.exitedAt ?? Number.NaN) - 1,
    );
    expect(sent("app")?.detail?.turnEndedAt).toBeUndefined();
  });

  it("SIGKILLs a sidecar still running at the pod's grace deadline (counted from the delete)", async () => {
    const log: Array<{ what: string; at: number }> = [];
    const outcome = await settled(
      terminatePodContainers({
        pod: "p",
        graceSeconds: 3,
        endpointPropagationMs: 10,
        removeEndpoint: () => {},
        sink: new EventLog(),
        containers: [
          { name: "sidecar", preStop: { type: "none" }, nativeSidecar: true, runtime: container("s", undefined, log) },
          { name: "app", preStop: { type: "none" }, runtime: container("app", 500, log) },
        ],
      }),
    );
    const [sidecar, app] = outcome.containers;
    expect(app?.sigkillAt).toBeUndefined();
    const killedAfter = (sidecar?.sigkillAt ?? Number.NaN) - outcome.deleteAt;
    expect(killedAfter).toBeGreaterThanOrEqual(2990);
    expect(killedAfter).toBeLessThan(3300);
    expect(sidecar?.exitCode).toBe(137);
  });
});
