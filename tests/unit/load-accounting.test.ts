import { describe, expect, it } from "vitest";
import {
  BUCKET_MS,
  bucketStart,
  classifyRequestError,
  classifySocketError,
  countFailuresByKind,
  emptyFailureCounts,
  fillBuckets,
  headerValue,
  latencyStats,
  mergeLoadResults,
  percentile,
  RequestLedger,
  resultProblems,
  slowPattern,
  toBuckets,
  UNKNOWN_POD,
} from "../../src/load/accounting.js";
import { backoffDelayMs } from "../../src/load/backoff.js";
import type { LoadResult } from "../../src/load/types.js";

const T0 = 1_700_000_000_000; // a multiple of 100

describe("failure kinds", () => {
  it("classifies socket errors by code", () => {
    expect(classifySocketError("ECONNRESET")).toEqual({ kind: "reset", code: "ECONNRESET" });
    expect(classifySocketError("EPIPE")).toEqual({ kind: "reset", code: "EPIPE" });
    expect(classifySocketError("ECONNREFUSED")).toEqual({ kind: "refused", code: "ECONNREFUSED" });
    expect(classifySocketError("EHOSTUNREACH")).toEqual({ kind: "error", code: "EHOSTUNREACH" });
    expect(classifySocketError(undefined)).toEqual({ kind: "error", code: "UNKNOWN" });
  });

  it("an error on a request's own connection: 'socket hang up' (a FIN before the answer) is a close, the rest by code", () => {
    const hangUp = Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
    expect(classifyRequestError(hangUp)).toEqual({ kind: "closed", code: "ECONNRESET" });
    const rst = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
    expect(classifyRequestError(rst)).toEqual({ kind: "reset", code: "ECONNRESET" });
    const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    expect(classifyRequestError(refused)).toEqual({ kind: "refused", code: "ECONNREFUSED" });
    expect(classifyRequestError(undefined)).toEqual({ kind: "error", code: "UNKNOWN" });
  });

  it("counts failures by kind, every kind present", () => {
    const counts = countFailuresByKind([{ kind: "reset" }, { kind: "closed" }, { kind: "reset" }]);
    expect(counts).toEqual({ ...emptyFailureCounts(), reset: 2, closed: 1 });
    // The HTTP/1.1 kinds and the long-lived protocols' (goaway-refused … ws-lost, grpc-not-serving): 13.
    expect(Object.values(emptyFailureCounts())).toEqual(new Array(13).fill(0));
  });
});

describe("headerValue", () => {
  it("reads http-parser-js's flat [name, value, ...] list case-insensitively", () => {
    const flat = ["Content-Length", "2", "X-Served-By", "pod-a/app", "x-served-by", "second"];
    expect(headerValue(flat, "x-served-by")).toBe("pod-a/app");
    expect(headerValue(flat, "connection")).toBeUndefined();
    expect(headerValue(undefined, "x")).toBeUndefined();
  });
});

describe("buckets", () => {
  it("keys a time by the start of its 100 ms bucket", () => {
    expect(BUCKET_MS).toBe(100);
    expect(bucketStart(T0)).toBe(T0);
    expect(bucketStart(T0 + 99)).toBe(T0);
    expect(bucketStart(T0 + 100)).toBe(T0 + 100);
  });

  it("fills gaps with zero buckets so a pause in successes is visible", () => {
    const counts = toBuckets([T0 + 5, T0 + 50, T0 + 310]);
    expect(fillBuckets(counts, T0, T0 + 450)).toEqual([
      { at: T0, count: 2 },
      { at: T0 + 100, count: 0 },
      { at: T0 + 200, count: 0 },
      { at: T0 + 300, count: 1 },
      { at: T0 + 400, count: 0 },
    ]);
  });

  it("extends the range to counts outside it", () => {
    expect(fillBuckets(new Map([[T0 + 200, 3]]), T0, T0).map((b) => b.at)).toEqual([T0, T0 + 100, T0 + 200]);
  });
});

describe("percentiles", () => {
  it("uses the nearest rank", () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 100)).toBe(100);
    expect(percentile(values, 0)).toBe(1);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeUndefined();
    expect(() => percentile([1], 101)).toThrow(RangeError);
  });

  it("computes p50/p99 over a time window of completions", () => {
    const latencies = [
      ...Array.from({ length: 100 }, (_, i) => ({ at: T0 + i, ms: 1 })),
      ...Array.from({ length: 100 }, (_, i) => ({ at: T0 + 1000 + i, ms: i + 1 })),
    ];
    expect(latencyStats(latencies, { to: T0 + 1000 })).toEqual({ count: 100, p50: 1, p99: 1, max: 1 });
    expect(latencyStats(latencies, { from: T0 + 1000 })).toEqual({ count: 100, p50: 50, p99: 99, max: 100 });
    expect(latencyStats(latencies).count).toBe(200);
    expect(latencyStats(latencies, { from: T0 + 5000 })).toEqual({ count: 0 });
  });
});

describe("slowPattern", () => {
  it("interleaves deterministically with the exact share", () => {
    expect(slowPattern(0)).toEqual([false]);
    expect(slowPattern(1)).toEqual([true]);
    expect(slowPattern(0.25)).toEqual([false, false, false, true]);
    expect(slowPattern(0.5)).toEqual([false, true]);
    const p = slowPattern(0.3);
    expect(p).toHaveLength(10);
    expect(p.filter(Boolean)).toHaveLength(3);
    expect(slowPattern(0.123).filter(Boolean).length / slowPattern(0.123).length).toBe(0.12);
    expect(() => slowPattern(1.5)).toThrow(RangeError);
  });
});

describe("backoff", () => {
  it("waits 20 ms after the first dead connection, doubling up to 500 ms", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 100].map((n) => backoffDelayMs(n))).toEqual([
      0, 20, 40, 80, 160, 320, 500, 500, 500,
    ]);
    expect(backoffDelayMs(3, { initialMs: 1, maxMs: 3 })).toBe(3);
  });
});

describe("RequestLedger", () => {
  function sample() {
    const l = new RequestLedger();
    const a = l.openRequest("/", T0);
    const b = l.openRequest("/", T0 + 1);
    const c = l.openRequest("/slow?ms=5", T0 + 2);
    const d = l.openRequest("/", T0 + 3);
    const e = l.openRequest("/", T0 + 4);
    l.succeed(a, T0 + 10, 10, "pod-a/app");
    l.succeed(b, T0 + 150, 149, "pod-b/app");
    l.succeed(c, T0 + 160, 158, "pod-a/app");
    l.fail(d, T0 + 170, "non-2xx", { code: 503, pod: "pod-b/app" });
    l.endInFlight(e);
    return l;
  }

  it("settles every request exactly once and keeps the invariant", () => {
    const l = sample();
    const r = l.result({ target: "t", startedAt: T0, endedAt: T0 + 200 });
    expect(l.problems()).toEqual([]);
    expect(resultProblems(r)).toEqual([]);
    expect([r.sent, r.succeeded, r.failed, r.inFlightAtEnd]).toEqual([5, 3, 1, 1]);
    expect(r.failedByKind["non-2xx"]).toBe(1);
    expect(r.failures).toEqual([
      { sentAt: T0 + 3, at: T0 + 170, kind: "non-2xx", code: 503, pod: "pod-b/app", path: "/" },
    ]);
    expect(r.successBuckets).toEqual([
      { at: T0, count: 1 },
      { at: T0 + 100, count: 2 },
      { at: T0 + 200, count: 0 },
    ]);
    expect(r.latencies).toEqual([
      { at: T0 + 10, ms: 10 },
      { at: T0 + 150, ms: 149 },
      { at: T0 + 160, ms: 158 },
    ]);
    expect(r.servedBy).toEqual([
      { pod: "pod-a/app", count: 2, first: T0 + 10, last: T0 + 160 },
      { pod: "pod-b/app", count: 1, first: T0 + 150, last: T0 + 150 },
    ]);
    expect(l.sentByPath()).toEqual({ "/": 4, "/slow?ms=5": 1 });
  });

  it("counts successes without x-served-by under a placeholder pod", () => {
    const l = new RequestLedger();
    l.succeed(l.openRequest("/", T0), T0 + 1, 1);
    expect(l.result({ target: "t", startedAt: T0, endedAt: T0 + 1 }).servedBy[0]?.pod).toBe(UNKNOWN_POD);
  });

  it("reports a request settled twice, and one never settled", () => {
    const l = new RequestLedger();
    const a = l.openRequest("/", T0);
    l.openRequest("/", T0);
    expect(l.succeed(a, T0 + 1, 1)).toBe(true);
    expect(l.fail(a, T0 + 2, "reset")).toBe(false);
    expect(l.counts()).toMatchObject({ sent: 2, succeeded: 1, failed: 0, outstanding: 1 });
    const problems = l.problems();
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/settled as failure \(reset\) but it is not outstanding/);
    expect(problems[1]).toMatch(/1 request\(s\) were never settled/);
  });

  it("resultProblems catches every inconsistency", () => {
    const r = sample().result({ target: "t", startedAt: T0, endedAt: T0 + 200 });
    expect(resultProblems({ ...r, sent: r.sent + 1 })[0]).toMatch(
      /sent \(6\) ≠ succeeded \(3\) \+ failed \(1\) \+ in flight at end \(1\)/,
    );
    expect(resultProblems({ ...r, failures: [] })).not.toEqual([]);
    expect(resultProblems({ ...r, failedByKind: { ...r.failedByKind, reset: 1 } })).not.toEqual([]);
    expect(resultProblems({ ...r, latencies: r.latencies.slice(1) })).not.toEqual([]);
    expect(resultProblems({ ...r, servedBy: r.servedBy.slice(1) })).not.toEqual([]);
    expect(resultProblems({ ...r, successBuckets: [] })).not.toEqual([]);
  });
});

describe("mergeLoadResults", () => {
  it("sums counts, merges buckets and pods, keeps the invariant", () => {
    const autocannon = { requests: 3, errors: 1, timeouts: 0, non2xx: 1, resets: 0 };
    const a: LoadResult = { ...sampleResult(T0), autocannon };
    const b: LoadResult = { ...sampleResult(T0 + 100), autocannon };
    const m = mergeLoadResults([a, b]);
    expect(resultProblems(m)).toEqual([]);
    expect([m.sent, m.succeeded, m.failed, m.inFlightAtEnd]).toEqual([10, 6, 2, 2]);
    expect(m.startedAt).toBe(T0);
    expect(m.endedAt).toBe(T0 + 300);
    expect(m.successBuckets.find((x) => x.at === T0 + 100)?.count).toBe(3);
    expect(m.servedBy.find((s) => s.pod === "pod-a/app")).toEqual({
      pod: "pod-a/app",
      count: 4,
      first: T0 + 10,
      last: T0 + 260,
    });
    expect(m.autocannon).toEqual({ requests: 6, errors: 2, timeouts: 0, non2xx: 2, resets: 0 });
    expect(() => mergeLoadResults([])).toThrow();
  });
});

function sampleResult(t: number): Omit<LoadResult, "autocannon"> {
  const l = new RequestLedger();
  const ids = [0, 1, 2, 3, 4].map((i) => l.openRequest("/", t + i));
  l.succeed(ids[0] ?? 0, t + 10, 10, "pod-a/app");
  l.succeed(ids[1] ?? 0, t + 150, 149, "pod-b/app");
  l.succeed(ids[2] ?? 0, t + 160, 158, "pod-a/app");
  l.fail(ids[3] ?? 0, t + 170, "reset", { code: "ECONNRESET" });
  l.endInFlight(ids[4] ?? 0);
  return l.result({ target: "t", startedAt: t, endedAt: t + 200 });
}
