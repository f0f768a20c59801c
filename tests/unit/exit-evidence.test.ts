// Which exit code and time to believe, and whether SIGKILL at the end of the grace period ended the
// container: the pure decision every backend uses (src/observe/exit-evidence.ts), on the situations met
// on a real kind cluster (Kubernetes 1.20, /work/shared/recordings/kind-v1.20.2-harness-matrix).
import { describe, expect, it } from "vitest";
import { diagnose, observe } from "../../src/inspect/diagnose.js";
import type { LoadResult } from "../../src/load/types.js";
import type { PodOutcome } from "../../src/model/pod-outcome.js";
import { decideExit, placeApiExit, sigkillDeadline } from "../../src/observe/exit-evidence.js";
import { buildTimeline } from "../../src/observe/timeline.js";

const D = Date.parse("2030-01-01T00:00:10.685Z"); // the delete call
const sec = (ms: number) => Math.floor(ms / 1000) * 1000; // finishedAt's 1 s resolution
const del = { at: D, what: "the delete call" };

describe("sources by trust: runtime, then PID 1's exit line, then the API", () => {
  it("ContainerStatusUnknown 137 with the app's own exit line 143: 143, from the app, and says why", () => {
    const ev = decideExit(
      {
        app: { code: 143, at: D + 2100, pid: 1, role: "app" },
        api: { code: 137, reason: "ContainerStatusUnknown", observedAt: D + 3236 },
      },
      { lowerBounds: [del], graceDeadline: D + 8000, deleteAt: D },
    );
    expect(ev).toMatchObject({ chosen: "app", code: 143, at: D + 2100, killedAtGraceEnd: false });
    expect(ev?.disagreement).toMatch(
      /app's own exit line \(pid 1, app\) says 143, the API \(reason ContainerStatusUnknown\) says 137: using the app's own exit line/,
    );
    expect(ev?.sources.find((s) => s.source === "api")).toMatchObject({ reliable: false, code: 137 });
    expect(ev?.unknown).toBeUndefined();
  });

  it("ContainerStatusUnknown 137 with containerd's record 0: 0 at containerd's exact time", () => {
    const ev = decideExit(
      {
        runtime: { code: 0, at: D + 2123, runtime: "containerd on node n1" },
        api: { code: 137, reason: "ContainerStatusUnknown", observedAt: D + 4223 },
      },
      { lowerBounds: [del], graceDeadline: D + 8000, deleteAt: D },
    );
    expect(ev).toMatchObject({ chosen: "runtime", code: 0, at: D + 2123, killedAtGraceEnd: false });
    expect(ev?.disagreement).toMatch(/containerd on node n1's record says 0.*using containerd on node n1's record/);
  });

  it("the runtime wins over PID 1's line too; agreeing sources give no disagreement", () => {
    const ev = decideExit(
      {
        runtime: { code: 143, at: D + 500, runtime: "Docker" },
        app: { code: 0, at: D + 490, pid: 1, role: "app" },
        api: { code: 143, reason: "Error", finishedAt: sec(D + 500), observedAt: D + 1200 },
      },
      { lowerBounds: [del], deleteAt: D },
    );
    expect(ev).toMatchObject({ chosen: "runtime", code: 143 });
    expect(ev?.disagreement).toMatch(/the app's own exit line \(pid 1, app\) says 0/);
    const agree = decideExit({
      runtime: { code: 0, at: D, runtime: "Docker" },
      api: { code: 0, reason: "Completed", finishedAt: sec(D), observedAt: D + 900 },
    });
    expect(agree?.disagreement).toBeUndefined();
  });

  it("only ContainerStatusUnknown: the exit code is unknown, not 137", () => {
    // tini-prestop-sleep on kind: the status read at +3.24 s of an 8 s grace, finishedAt null.
    const ev = decideExit(
      { api: { code: 137, reason: "ContainerStatusUnknown", observedAt: D + 3236 } },
      {
        lowerBounds: [del, { at: D + 2000, what: "the end of the preStop sleep" }],
        graceDeadline: D + 8000,
        deleteAt: D,
      },
    );
    expect(ev?.code).toBeUndefined();
    expect(ev?.chosen).toBe("api");
    expect(ev?.unknown).toMatch(/only record of the exit code is the API's 137 with reason ContainerStatusUnknown/);
    // ...but the timing alone rules out the kill at the end of the grace period.
    expect(ev).toMatchObject({ killedAtGraceEnd: false, earliest: D + 2000, latest: D + 3236, at: D + 2000 });
    expect(ev?.killedWhy).toMatch(/exited by \+3\.24 s, 4\.76 s before the grace period ended \(\+8\.00 s\)/);
  });

  it("only ContainerStatusUnknown, seen after the deadline: whether SIGKILL ended it cannot be told", () => {
    const ev = decideExit(
      { api: { code: 137, reason: "ContainerStatusUnknown", observedAt: D + 9000 } },
      { lowerBounds: [del], graceDeadline: D + 8000, deleteAt: D },
    );
    expect(ev?.code).toBeUndefined();
    expect(ev?.killedAtGraceEnd).toBeUndefined();
    expect(ev?.killedWhy).toMatch(/cannot tell/);
  });

  it("nothing recorded: no evidence", () => {
    expect(decideExit({})).toBeUndefined();
  });
});

describe("placing an API exit within finishedAt's second", () => {
  it("a second that contains the delete: never before the delete (was -0.30 s)", () => {
    // tini-no-prestop on kind: finishedAt 52Z, the delete at 52.685.
    const ev = decideExit(
      { api: { code: 143, reason: "Error", finishedAt: sec(D), observedAt: D + 2697 } },
      { lowerBounds: [del], graceDeadline: D + 8000, deleteAt: D },
    );
    expect(ev?.at).toBeGreaterThanOrEqual(D);
    expect(ev).toMatchObject({ at: D, earliest: D, latest: sec(D) + 999, code: 143, killedAtGraceEnd: false });
  });

  it("respects SIGTERM and the app's last line as lower bounds", () => {
    const p = placeApiExit({ code: 0, finishedAt: sec(D + 3000), observedAt: D + 4000 }, [
      del,
      { at: D + 3100, what: "SIGTERM" },
      { at: D + 3150, what: "the app's last log line" },
    ]);
    expect(p).toMatchObject({ at: D + 3150, earliest: D + 3150 });
    expect(p.notes.join()).toMatch(/placed at the app's last log line/);
  });

  it("an image with no app lines and a preStop sleep of 2 s: the exit is not placed before +2 s (was +1.2 s)", () => {
    // Debian nginx, preStop sleep 2: finishedAt's second starts at +1.3 s.
    const ev = decideExit(
      { api: { code: 0, reason: "Completed", finishedAt: sec(D + 1500), observedAt: D + 3100 } },
      {
        lowerBounds: [del, { at: D + 2000, what: "the end of the preStop sleep (2 s after the delete)" }],
        graceDeadline: D + 30_000,
        deleteAt: D,
      },
    );
    expect(ev?.at).toBeGreaterThanOrEqual(D + 2000);
    expect(ev?.at).toBeLessThanOrEqual(sec(D + 1500) + 999);
  });

  it("a bound the second contradicts did not hold: reported, not applied", () => {
    // The container died during the preStop (the hook's 5 s never ran out).
    const p = placeApiExit(
      { code: 1, finishedAt: sec(D + 1500), observedAt: D + 2500 },
      [del, { at: D + 5000, what: "the end of the preStop sleep (5 s after the delete)" }],
      D,
    );
    expect(p.at).toBe(sec(D + 1500));
    expect(p.notes.join()).toMatch(
      /before the end of the preStop sleep \(5 s after the delete\) \(\+5\.00 s\): that bound did not hold/,
    );
  });
});

describe("SIGKILL at the end of the grace period", () => {
  it("137 five seconds before the deadline is not the kubelet's SIGKILL", () => {
    const ev = decideExit(
      { api: { code: 137, reason: "Error", finishedAt: sec(D + 3000), observedAt: D + 4500 } },
      { lowerBounds: [del], graceDeadline: D + 8000, deleteAt: D },
    );
    expect(ev).toMatchObject({ code: 137, killedAtGraceEnd: false });
    expect(ev?.killedWhy).toMatch(/before the grace period ended \(\+8\.00 s\): killed by something else/);
    const exact = decideExit(
      { runtime: { code: 137, at: D + 3000, runtime: "containerd" } },
      { graceDeadline: D + 8000, deleteAt: D },
    );
    expect(exact?.killedAtGraceEnd).toBe(false);
  });

  it("137 in the second of the deadline is, and is placed at the deadline", () => {
    const ev = decideExit(
      { api: { code: 137, reason: "Error", finishedAt: sec(D + 8100), observedAt: D + 9000 } },
      { lowerBounds: [del], graceDeadline: D + 8000, deleteAt: D },
    );
    expect(ev).toMatchObject({ code: 137, killedAtGraceEnd: true, at: D + 8000 });
    const exact = decideExit(
      { runtime: { code: 137, at: D + 8133, runtime: "containerd" } },
      { graceDeadline: D + 8000 },
    );
    expect(exact).toMatchObject({ killedAtGraceEnd: true, at: D + 8133 });
  });

  it("OOMKilled is not; SIGKILL known to be sent is, whatever the code", () => {
    const oom = decideExit(
      { api: { code: 137, reason: "OOMKilled", finishedAt: sec(D + 8000), observedAt: D + 9000 } },
      { graceDeadline: D + 8000 },
    );
    expect(oom?.killedAtGraceEnd).toBe(false);
    const sent = decideExit(
      { runtime: { code: 137, at: D + 8010, runtime: "Docker" } },
      { graceDeadline: D + 8000, sigkillSentAt: D + 8000, deleteAt: D },
    );
    expect(sent).toMatchObject({ killedAtGraceEnd: true });
    expect(sent?.killedWhy).toMatch(/SIGKILL was sent at \+8\.00 s/);
  });

  it("the kubelet grants 2 s after a preStop that ended late", () => {
    expect(sigkillDeadline(D, 8)).toBe(D + 8000);
    expect(sigkillDeadline(D, 8, D + 7500)).toBe(D + 9500);
    expect(sigkillDeadline(D, 8, D + 2000)).toBe(D + 8000);
  });
});

describe("check's diagnosis never reads a code its own report flags as unreliable", () => {
  const base: PodOutcome = {
    pod: "drainer-0",
    pid1Cmdline: "nginx -g daemon off;",
    deleteAt: D,
    exitedAt: D + 2100,
    goneAt: D + 8300,
    sigkilled: false,
    processes: [],
    notes: [],
  };
  // On kind the kubelet's SIGTERM is not seen: the timeline has the delete and the exit only.
  const timeline = buildTimeline([
    { at: D, kind: "delete-requested", source: "harness", pod: "drainer-0" },
    { at: D + 2100, kind: "container-exit", source: "api", pod: "drainer-0" },
  ]);
  const ctx = { graceSeconds: 8, preStopSeconds: 2 };

  it("a third-party image that drains and exits 0, reported 137 / ContainerStatusUnknown: not 'exited 137 0.00 s after SIGTERM'", () => {
    const exitEvidence = decideExit(
      { api: { code: 137, reason: "ContainerStatusUnknown", observedAt: D + 2300 } },
      {
        lowerBounds: [del, { at: D + 2000, what: "the end of the preStop sleep" }],
        graceDeadline: D + 8000,
        deleteAt: D,
      },
    );
    const pod: PodOutcome = {
      ...base,
      exitReason: "ContainerStatusUnknown",
      ...(exitEvidence ? { exitEvidence } : {}),
    };
    const obs = observe({ pod, timeline });
    const d = diagnose(undefined, obs, ctx);
    expect(obs.exitCodeUnknown).toMatch(/ContainerStatusUnknown/);
    expect(obs.exitCode).toBeUndefined();
    expect(obs.sigterm.received).toBe("unknown");
    expect(d.problem).toMatch(/^how the container ended cannot be told: .*ContainerStatusUnknown/);
    expect(d.problem).not.toMatch(/exited 137|shutdown path fails|0\.00 s after SIGTERM/);
    expect(d.problem).toMatch(
      /It exited 2\.10 s after the delete \(when SIGTERM was sent is not known on this backend\), consistent with graceful or abrupt\./,
    );
    expect(d.fix).toBeUndefined();
    const words = [obs.timingWords, obs.sigterm.evidence, obs.outcomeWords, d.problem].join("\n");
    expect(words).not.toMatch(/\+\?|exit \?|\? after/);
    expect(obs.timingWords).toBe(
      "2.10 s from the delete to the exit (when SIGTERM was sent is not known (this backend does not see it))",
    );
  });

  it("a known code with SIGTERM's time unknown is said in words", () => {
    const one: PodOutcome = { ...base, exitCode: 1 };
    const obs = observe({ pod: one, timeline });
    expect(diagnose(undefined, obs, ctx).problem).toBe(
      "the container exited 1 2.10 s after the delete (when SIGTERM was sent is not known on this backend): its shutdown path fails.",
    );
    const zero = observe({ pod: { ...base, exitCode: 0 }, timeline });
    expect(zero.sigterm.evidence).toBe(
      "inferred: exited 0 2.10 s after the delete (when SIGTERM was sent is not known on this backend)",
    );
  });

  it("with SIGTERM known, the timing says when it came and how long the exit took after it", () => {
    const withSigterm = buildTimeline([
      ...timeline.entries,
      { at: D + 2000, kind: "sigterm-sent", source: "kubelet", pod: "drainer-0" },
    ]);
    const obs = observe({ pod: { ...base, exitCode: 0 }, timeline: withSigterm });
    expect(obs.timingWords).toBe("2.10 s from the delete to the exit (SIGTERM at +2.00 s, exit 0.10 s after it)");
  });

  it("SIGTERM's time comes from the one rule (observe/sigterm.ts) and says when it is inferred", () => {
    const preStop = { type: "sleep" as const, seconds: 2 };
    const failures = [D + 1000, D + 2050].map((at) => ({ at, sentAt: at - 1, kind: "reset" as const, path: "/" }));
    const load = { sent: 100, failed: 2, failedByKind: { reset: 2 }, failures } as unknown as LoadResult;
    // kind: no record of the signal; the rule places it at the end of the 2 s preStop sleep.
    const obs = observe({ pod: { ...base, exitCode: 0 }, load, timeline, preStop });
    expect(obs.sigtermAfterMs).toBe(2000);
    expect(obs.sigtermInferred).toBe(true);
    expect(obs.sigtermFrom).toBe("inferred: the end of the preStop sleep (2 s after the delete)");
    expect(obs.timingWords).toBe(
      "2.10 s from the delete to the exit (SIGTERM at +2.00 s, inferred from the end of the preStop sleep (2 s after the delete), exit 0.10 s after it)",
    );
    expect(obs.sigterm.evidence).toBe("inferred: exited 0 0.10 s after SIGTERM (its time inferred)");
    // The failures are placed by that time: one before it, one at the exit.
    expect(obs.failureTiming).toMatchObject({ beforeSigterm: 1, atExit: 1 });
    // A recorded send wins over the inference; the collect step's receipt on the pod wins over both.
    const sent = buildTimeline([
      ...timeline.entries,
      { at: D + 2050, kind: "sigterm-sent", source: "kubelet", pod: "drainer-0" },
    ]);
    const recorded = observe({ pod: { ...base, exitCode: 0 }, timeline: sent, preStop });
    expect(recorded).toMatchObject({ sigtermAfterMs: 2050, sigtermFrom: "sigterm-sent (kubelet)" });
    expect(recorded.sigtermInferred).toBeUndefined();
    const receipt = { at: D + 1500, by: "app-line" as const, inferred: false, from: "the app's SIGTERM line" };
    const onPod = observe({ pod: { ...base, exitCode: 0, sigterm: receipt }, timeline: sent, preStop });
    expect(onPod).toMatchObject({ sigtermAfterMs: 1500, exitAfterSigtermMs: 600 });
  });
});
