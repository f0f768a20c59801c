import { describe, expect, it } from "vitest";
import { FAILURE_KINDS, type FailureKind, type LoadResult } from "../../src/load/types.js";
import type { TimelineEvent } from "../../src/model/events.js";
import type { PodOutcome } from "../../src/model/pod-outcome.js";
import { processReports } from "../../src/observe/app-log.js";
import { buildTimeline } from "../../src/observe/timeline.js";
import { loadEvents } from "../../src/runner/collect.js";
import { evaluate } from "../../src/verdict/verdicts.js";

function load(failures: FailureKind[], sent = 1000): LoadResult {
  const failedByKind = Object.fromEntries(FAILURE_KINDS.map((k) => [k, 0])) as Record<FailureKind, number>;
  for (const f of failures) failedByKind[f]++;
  return {
    target: "127.0.0.1:1",
    startedAt: 0,
    endedAt: 10_000,
    sent,
    succeeded: sent - failures.length - 2,
    failed: failures.length,
    failedByKind,
    inFlightAtEnd: 2,
    failures: failures.map((kind, i) => ({ kind, sentAt: 5000 + i, at: 5001 + i, path: "/" })),
    successBuckets: [],
    latencies: [],
    servedBy: [{ pod: "pod-a/app", count: 10, first: 100, last: 7000 }],
    autocannon: { requests: sent, errors: 0, timeouts: 0, non2xx: 0, resets: 0 },
  };
}

function pod(overrides: Partial<PodOutcome> = {}): PodOutcome {
  return {
    pod: "pod-a",
    pid1Cmdline: "node /app/server.js",
    deleteAt: 3000,
    goneAt: 6500,
    exitCode: 0,
    sigkilled: false,
    processes: [{ role: "app", pid: 1, signals: [{ name: "SIGTERM", at: 3100 }], exit: { code: 0, at: 6400 } }],
    notes: [],
    ...overrides,
  };
}

describe("verdicts", () => {
  it("a single failed request fails a zero-tolerance expectation, and says how it failed", () => {
    const [v] = evaluate({ expectations: { maxFailedRequests: 0 }, load: load(["reset"]), pods: [pod()] });
    expect(v).toMatchObject({ name: "failed requests", pass: false, actual: "1" });
    expect(v?.evidence).toMatch(/reset 1/);
    expect(v?.evidence).toMatch(/2 in flight when the window closed/);
  });

  it("zero failures pass", () => {
    const [v] = evaluate({ expectations: { maxFailedRequests: 0 }, load: load([]), pods: [pod()] });
    expect(v?.pass).toBe(true);
  });

  it("SIGTERM expected but the app never logged it", () => {
    const silent = pod({ processes: [{ role: "app", pid: 7, signals: [] }], sigkilled: true, exitCode: 137 });
    const verdicts = evaluate({
      expectations: { sigterm: { app: true }, exit: "graceful" },
      load: load([]),
      pods: [silent],
    });
    expect(verdicts.map((v) => [v.name, v.pass, v.actual])).toEqual([
      ["SIGTERM app (pod-a)", false, "not received"],
      ["exit (pod-a)", false, "killed"],
    ]);
  });

  it('"*" means every process of the pod; one missing makes it partial', () => {
    const two = pod({
      processes: [
        { role: "app-1", pid: 8, signals: [{ name: "SIGTERM", at: 3200 }] },
        { role: "app-2", pid: 9, signals: [] },
      ],
    });
    const [yes] = evaluate({ expectations: { sigterm: { "*": true } }, load: load([]), pods: [two] });
    const [no] = evaluate({ expectations: { sigterm: { "*": false } }, load: load([]), pods: [two] });
    expect(yes).toMatchObject({ pass: false, actual: "received by some" });
    expect(no).toMatchObject({ pass: false, actual: "received by some" });
    expect(yes?.evidence).toMatch(/app-1: SIGTERM at \+0\.200 s; app-2: no SIGTERM logged/);
  });

  it("a role that never logged anything fails rather than passing silently", () => {
    const [v] = evaluate({ expectations: { sigterm: { worker: false } }, load: load([]), pods: [pod()] });
    expect(v).toMatchObject({ pass: false, actual: "process never seen" });
  });

  it("exit 143 without SIGKILL is graceful; SIGKILL is killed", () => {
    const [g] = evaluate({ expectations: { exit: "graceful" }, load: load([]), pods: [pod({ exitCode: 143 })] });
    const [k] = evaluate({
      expectations: { exit: "killed" },
      load: load([]),
      pods: [pod({ exitCode: 137, sigkilled: true })],
    });
    const [notKilled] = evaluate({ expectations: { exit: "killed" }, load: load([]), pods: [pod({ exitCode: 143 })] });
    expect([g?.pass, k?.pass, notKilled?.pass]).toEqual([true, true, false]);
  });

  it("termination is delete → container exit; the pod object's removal is only reported", () => {
    const exited = pod({ exitedAt: 5000, goneAt: 14_000 });
    const [ok] = evaluate({ expectations: { terminationSeconds: { maxSeconds: 4 } }, load: load([]), pods: [exited] });
    const [slow] = evaluate({
      expectations: { terminationSeconds: { maxSeconds: 1 } },
      load: load([]),
      pods: [exited],
    });
    expect([ok?.pass, ok?.actual, slow?.pass, slow?.inconclusive]).toEqual([true, "2.00 s", false, undefined]);
    expect(ok?.evidence).toBe("delete → container exit in 2.000 s; gone (pod object deleted) at +11.000 s");
  });

  it("without an observed exit, the pod's removal is only an upper bound: a max can pass, nothing can fail on it", () => {
    const goneOnly = pod({ goneAt: 6500 });
    const check = (b: { minSeconds?: number; maxSeconds?: number }) =>
      evaluate({ expectations: { terminationSeconds: b }, load: load([]), pods: [goneOnly] })[0];
    expect(check({ maxSeconds: 4 })).toMatchObject({ pass: true, actual: "≤ 3.50 s" });
    expect(check({ maxSeconds: 3 })).toMatchObject({ pass: false, decidable: false });
    expect(check({ minSeconds: 1 })?.inconclusive).toMatch(/only an upper bound/);
    expect(check({ maxSeconds: 4 })?.evidence).toMatch(
      /exit was not observed; the pod was gone 3\.50 s after the delete/,
    );
    const [none] = evaluate({
      expectations: { terminationSeconds: { maxSeconds: 3 } },
      load: load([]),
      pods: [pod({ goneAt: undefined })],
    });
    expect([none?.pass, none?.actual, none?.inconclusive]).toEqual([false, "no exit observed", undefined]);
  });

  it("an exit known only within finishedAt's second: a bound inside that window is not decidable", () => {
    const windowed = pod({
      exitedAt: 5200,
      exitEvidence: {
        chosen: "api",
        code: 0,
        at: 5200,
        earliest: 5200,
        latest: 5999,
        sources: [{ source: "api", code: 0, at: 5200, earliest: 5200, latest: 5999, reliable: true, note: "" }],
        killedAtGraceEnd: false,
        killedWhy: "exit code 0 is not SIGKILL's 137",
      },
    });
    const check = (maxSeconds: number) =>
      evaluate({ expectations: { terminationSeconds: { maxSeconds } }, load: load([]), pods: [windowed] })[0];
    expect(check(3)).toMatchObject({ pass: true, actual: "2.20 s" });
    expect(check(2.5)).toMatchObject({ pass: false, decidable: false });
    expect(check(2.5)?.inconclusive).toMatch(/known only within 2\.20 s … 3\.00 s/);
    expect(check(2)).toMatchObject({ pass: false });
    expect(check(2)?.inconclusive).toBeUndefined();
  });

  it("expectations without any disrupted pod fail", () => {
    const verdicts = evaluate({ expectations: { exit: "graceful" }, load: load([]), pods: [] });
    expect(verdicts.some((v) => v.name === "disruption" && !v.pass)).toBe(true);
  });
});

describe("timeline", () => {
  const events: TimelineEvent[] = [
    { at: 5000, kind: "sigterm-sent", source: "kubelet", pod: "pod-a" },
    { at: 3000, kind: "delete-requested", source: "harness", pod: "pod-a" },
    { at: 1000, kind: "app-start", source: "app", pod: "pod-a", process: "app", detail: { pid: 1 } },
    {
      at: 5100,
      kind: "app-signal",
      source: "app",
      pod: "pod-a",
      process: "app",
      detail: { signal: "SIGTERM", pid: 1 },
    },
    { at: 6000, kind: "app-exit", source: "app", pod: "pod-a", process: "app", detail: { code: 0, pid: 1 } },
  ];

  it("is sorted and relative to the delete", () => {
    const tl = buildTimeline(events);
    expect(tl.origin).toBe(3000);
    expect(tl.entries.map((e) => [e.kind, e.t])).toEqual([
      ["app-start", -2000],
      ["delete-requested", 0],
      ["sigterm-sent", 2000],
      ["app-signal", 2100],
      ["app-exit", 3000],
    ]);
  });

  it("adds failed requests and the last request each disrupted pod served", () => {
    const extra = loadEvents(load(["closed"]), ["pod-a"]);
    expect(extra.map((e) => e.kind)).toEqual(["request-failed", "last-request-served"]);
    expect(extra[1]).toMatchObject({ pod: "pod-a", at: 7000 });
  });

  it("groups app lines per process", () => {
    const [p] = processReports(events, "pod-a");
    expect(p).toMatchObject({
      role: "app",
      pid: 1,
      signals: [{ name: "SIGTERM", at: 5100 }],
      exit: { code: 0, at: 6000 },
    });
  });
});

describe("exit verdicts that look at every process", () => {
  const abrupt = pod({
    exitCode: 143,
    processes: [
      { role: "app-1", pid: 8, signals: [] },
      { role: "app-2", pid: 9, signals: [] },
    ],
  });

  it("an init exiting 143 while its children die without an exit line is abrupt, not graceful", () => {
    const [g] = evaluate({ expectations: { exit: "graceful" }, load: load([]), pods: [abrupt] });
    const [a] = evaluate({ expectations: { exit: "abrupt" }, load: load([]), pods: [abrupt] });
    expect(g).toMatchObject({ pass: false, actual: "abrupt (app-1, app-2 never logged an exit)" });
    expect(a?.pass).toBe(true);
  });

  it("minFailedRequests: a drop that goes unseen fails the run", () => {
    const [none] = evaluate({ expectations: { minFailedRequests: 1 }, load: load([]), pods: [pod()] });
    const [one] = evaluate({ expectations: { minFailedRequests: 1 }, load: load(["closed"]), pods: [pod()] });
    expect([none?.pass, none?.expected, one?.pass]).toEqual([false, "≥ 1", true]);
  });
});

describe("exit verdicts on the exit's evidence", () => {
  const unknown = pod({
    exitCode: undefined,
    exitReason: "ContainerStatusUnknown",
    exitedAt: 5000,
    processes: [
      { role: "app-1", pid: 11, signals: [], exit: { code: 0, at: 4900 } },
      { role: "app-2", pid: 12, signals: [], exit: { code: 0, at: 4950 } },
    ],
    exitEvidence: {
      chosen: "api",
      at: 5000,
      sources: [
        { source: "api", code: 137, reason: "ContainerStatusUnknown", at: 5000, reliable: false, note: "made up" },
      ],
      unknown: "the only record of the exit code is the API's 137 with reason ContainerStatusUnknown",
      killedAtGraceEnd: false,
      killedWhy: "the container had exited by +2.00 s, 6.00 s before the grace period ended",
    },
  });

  it("a made-up code (ContainerStatusUnknown alone) decides nothing: INCONCLUSIVE, never pass", () => {
    const [g] = evaluate({ expectations: { exit: "graceful" }, load: load([]), pods: [unknown] });
    expect(g).toMatchObject({ pass: false, decidable: false, actual: "exit code unknown" });
    expect(g?.inconclusive).toMatch(/ContainerStatusUnknown/);
    // ...but what the timing shows is decided: not killed at the end of the grace period.
    const [k] = evaluate({ expectations: { exit: "killed" }, load: load([]), pods: [unknown] });
    expect(k).toMatchObject({ pass: false });
    expect(k?.inconclusive).toBeUndefined();
    expect(k?.evidence).toMatch(
      /^exit code unknown; no SIGKILL at the end of the grace period \(the container had exited by/,
    );
  });

  it("the evidence names the source of the code and the disagreement", () => {
    const fromRuntime = pod({
      exitCode: 143,
      exitEvidence: {
        chosen: "runtime",
        code: 143,
        at: 6400,
        sources: [
          { source: "runtime", code: 143, at: 6400, reliable: true, note: "containerd on node n1: exact" },
          { source: "api", code: 137, reason: "ContainerStatusUnknown", at: 6400, reliable: false, note: "" },
        ],
        disagreement: "containerd on node n1's record says 143, the API says 137: using containerd's",
        killedAtGraceEnd: false,
        killedWhy: "exit code 143 is not SIGKILL's 137",
      },
    });
    const [v] = evaluate({ expectations: { exit: "graceful" }, load: load([]), pods: [fromRuntime] });
    expect(v?.pass).toBe(true);
    expect(v?.evidence).toMatch(
      /^exit code 143, from containerd on node n1; no SIGKILL at the end of the grace period/,
    );
    expect(v?.evidence).toMatch(/sources disagree: containerd on node n1's record says 143, the API says 137/);
  });
});
