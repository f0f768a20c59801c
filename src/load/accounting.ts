// Pure bookkeeping for the load generator: no sockets, no timers; every time is passed in.
// The RequestLedger is where "every request is accounted for exactly once" is enforced: a request
// is opened when it is written, and settled exactly once as a success, a failure, or in flight when
// the window closed. Settling twice, or never, is recorded as a violation.
import { FAILURE_KINDS, type FailedRequest, type FailureKind, type LoadResult, type ServedBy } from "./types.js";

/** Width of a success bucket. */
export const BUCKET_MS = 100;

/** servedBy key for successful responses that carried no x-served-by header. */
export const UNKNOWN_POD = "(unknown)";

export function emptyFailureCounts(): Record<FailureKind, number> {
  const counts = {} as Record<FailureKind, number>;
  for (const k of FAILURE_KINDS) counts[k] = 0;
  return counts;
}

export function countFailuresByKind(failures: ReadonlyArray<Pick<FailedRequest, "kind">>): Record<FailureKind, number> {
  const counts = emptyFailureCounts();
  for (const f of failures) counts[f.kind]++;
  return counts;
}

/** Failure kind of a socket error with a request outstanding. */
export function classifySocketError(code: string | undefined): { kind: FailureKind; code: string } {
  switch (code) {
    case "ECONNRESET":
    case "EPIPE":
      return { kind: "reset", code };
    case "ECONNREFUSED":
      return { kind: "refused", code };
    default:
      return { kind: "error", code: code ?? "UNKNOWN" };
  }
}

/**
 * Failure kind of an error that ended a request on its own connection (Node's http, http2, ws): Node
 * reports a server that closed the connection (FIN) before answering as "socket hang up" with code
 * ECONNRESET — that is a close, not a reset. Everything else by its socket error code.
 */
export function classifyRequestError(err: { code?: unknown; message?: string } | undefined): {
  kind: FailureKind;
  code?: string;
} {
  const code = typeof err?.code === "string" ? err.code : undefined;
  if (err?.message === "socket hang up") return { kind: "closed", ...(code ? { code } : {}) };
  return classifySocketError(code);
}

/** Value of a header in http-parser-js's flat [name, value, name, value, ...] list (first match). */
export function headerValue(flat: readonly string[] | undefined, name: string): string | undefined {
  if (!flat) return undefined;
  const wanted = name.toLowerCase();
  for (let i = 0; i + 1 < flat.length; i += 2) {
    if (flat[i]?.toLowerCase() === wanted) return flat[i + 1];
  }
  return undefined;
}

export function bucketStart(at: number, size = BUCKET_MS): number {
  return Math.floor(at / size) * size;
}

/** Counts per bucket start. */
export function toBuckets(times: Iterable<number>, size = BUCKET_MS): Map<number, number> {
  const buckets = new Map<number, number>();
  for (const t of times) {
    const b = bucketStart(t, size);
    buckets.set(b, (buckets.get(b) ?? 0) + 1);
  }
  return buckets;
}

/**
 * Contiguous buckets from the one holding `from` to the one holding `to`, zeros included (a gap in
 * successes must show as zero buckets, not as missing ones). Counts outside the range extend it.
 */
export function fillBuckets(
  counts: ReadonlyMap<number, number>,
  from: number,
  to: number,
  size = BUCKET_MS,
): Array<{ at: number; count: number }> {
  let first = bucketStart(Math.min(from, to), size);
  let last = bucketStart(Math.max(from, to), size);
  for (const k of counts.keys()) {
    if (k < first) first = k;
    if (k > last) last = k;
  }
  const out: Array<{ at: number; count: number }> = [];
  for (let at = first; at <= last; at += size) out.push({ at, count: counts.get(at) ?? 0 });
  return out;
}

/** Nearest-rank percentile (p in 0..100) of unsorted values; undefined when there are none. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100, got ${p}`);
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

export interface TimeWindow {
  /** Inclusive epoch ms. */
  from?: number;
  /** Exclusive epoch ms. */
  to?: number;
}

export interface LatencyStats {
  count: number;
  p50?: number;
  p99?: number;
  max?: number;
}

/** p50 / p99 / max of the latencies completed within the window (all of them without one). */
export function latencyStats(
  latencies: ReadonlyArray<{ at: number; ms: number }>,
  window: TimeWindow = {},
): LatencyStats {
  const ms = latencies
    .filter((l) => (window.from === undefined || l.at >= window.from) && (window.to === undefined || l.at < window.to))
    .map((l) => l.ms);
  if (ms.length === 0) return { count: 0 };
  return { count: ms.length, p50: percentile(ms, 50), p99: percentile(ms, 99), max: Math.max(...ms) };
}

/**
 * Which requests of a repeating sequence go to the slow path: a deterministic interleave with
 * `share` rounded to 1/resolution. 0.25 → [false, false, false, true]; 0 → [false]; 1 → [true].
 */
export function slowPattern(share: number, resolution = 100): boolean[] {
  if (!(share >= 0 && share <= 1)) throw new RangeError(`slow share must be within 0..1, got ${share}`);
  let slow = Math.round(share * resolution);
  let period = resolution;
  if (slow === 0) return [false];
  if (slow === period) return [true];
  const g = gcd(slow, period);
  slow /= g;
  period /= g;
  const out: boolean[] = [];
  for (let i = 0; i < period; i++) out.push(Math.floor(((i + 1) * slow) / period) > Math.floor((i * slow) / period));
  return out;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

export function mergeServedBy(lists: ReadonlyArray<readonly ServedBy[]>): ServedBy[] {
  const byPod = new Map<string, ServedBy>();
  for (const list of lists) {
    for (const s of list) {
      const seen = byPod.get(s.pod);
      if (!seen) byPod.set(s.pod, { ...s });
      else {
        seen.count += s.count;
        seen.first = Math.min(seen.first, s.first);
        seen.last = Math.max(seen.last, s.last);
      }
    }
  }
  return [...byPod.values()].sort((a, b) => a.first - b.first || a.pod.localeCompare(b.pod));
}

export function mergeBuckets(
  lists: ReadonlyArray<ReadonlyArray<{ at: number; count: number }>>,
): Array<{ at: number; count: number }> {
  const sums = new Map<number, number>();
  for (const list of lists) for (const b of list) sums.set(b.at, (sums.get(b.at) ?? 0) + b.count);
  return [...sums.entries()].sort((a, b) => a[0] - b[0]).map(([at, count]) => ({ at, count }));
}

/** One result for several load runs over the same window (e.g. one per target). */
export function mergeLoadResults(results: readonly LoadResult[]): LoadResult {
  if (results.length === 0) throw new Error("nothing to merge");
  const failures = results.flatMap((r) => r.failures).sort((a, b) => a.at - b.at);
  const failedByKind = emptyFailureCounts();
  for (const r of results) for (const k of FAILURE_KINDS) failedByKind[k] += r.failedByKind[k] ?? 0;
  const sum = (f: (r: LoadResult) => number) => results.reduce((acc, r) => acc + f(r), 0);
  return {
    target: results.map((r) => r.target).join(","),
    startedAt: Math.min(...results.map((r) => r.startedAt)),
    endedAt: Math.max(...results.map((r) => r.endedAt)),
    sent: sum((r) => r.sent),
    succeeded: sum((r) => r.succeeded),
    failed: sum((r) => r.failed),
    failedByKind,
    inFlightAtEnd: sum((r) => r.inFlightAtEnd),
    failures,
    successBuckets: mergeBuckets(results.map((r) => r.successBuckets)),
    latencies: results.flatMap((r) => r.latencies).sort((a, b) => a.at - b.at),
    servedBy: mergeServedBy(results.map((r) => r.servedBy)),
    autocannon: {
      requests: sum((r) => r.autocannon.requests),
      errors: sum((r) => r.autocannon.errors),
      timeouts: sum((r) => r.autocannon.timeouts),
      non2xx: sum((r) => r.autocannon.non2xx),
      resets: sum((r) => r.autocannon.resets),
    },
  };
}

/**
 * Every consistency rule a LoadResult must satisfy; empty when it is sound.
 * The central one: sent = succeeded + failed + inFlightAtEnd.
 */
export function resultProblems(r: Omit<LoadResult, "autocannon">): string[] {
  const problems: string[] = [];
  const check = (ok: boolean, what: string) => {
    if (!ok) problems.push(what);
  };
  check(
    r.sent === r.succeeded + r.failed + r.inFlightAtEnd,
    `sent (${r.sent}) ≠ succeeded (${r.succeeded}) + failed (${r.failed}) + in flight at end (${r.inFlightAtEnd})`,
  );
  check(r.failures.length === r.failed, `${r.failures.length} failure records for ${r.failed} failed`);
  // A kind a result does not list (written before that kind existed) counts 0.
  const byKind = FAILURE_KINDS.reduce((acc, k) => acc + (r.failedByKind[k] ?? 0), 0);
  check(byKind === r.failed, `failedByKind sums to ${byKind}, failed is ${r.failed}`);
  const counted = countFailuresByKind(r.failures);
  for (const k of FAILURE_KINDS) {
    const listed = r.failedByKind[k] ?? 0;
    check(counted[k] === listed, `failedByKind.${k} is ${listed}, records say ${counted[k]}`);
  }
  if (r.retries) {
    const { attempted, succeeded, failed, inFlightAtEnd } = r.retries;
    check(
      attempted === succeeded + failed + inFlightAtEnd,
      `retries attempted (${attempted}) ≠ succeeded (${succeeded}) + failed (${failed}) + in flight at end (${inFlightAtEnd})`,
    );
    const retriedFailures = r.failures.filter((f) => f.retried).length;
    check(retriedFailures === failed, `${retriedFailures} failure records marked retried for ${failed} failed retries`);
  }
  const inBuckets = r.successBuckets.reduce((acc, b) => acc + b.count, 0);
  check(inBuckets === r.succeeded, `success buckets hold ${inBuckets}, succeeded is ${r.succeeded}`);
  check(r.latencies.length === r.succeeded, `${r.latencies.length} latencies for ${r.succeeded} successes`);
  const served = r.servedBy.reduce((acc, s) => acc + s.count, 0);
  check(served === r.succeeded, `servedBy sums to ${served}, succeeded is ${r.succeeded}`);
  return problems;
}

interface OpenRequest {
  path: string;
  sentAt: number;
}

export interface LedgerCounts {
  sent: number;
  succeeded: number;
  failed: number;
  /** Outstanding right now (while running) — becomes inFlightAtEnd when the window closes. */
  outstanding: number;
  inFlightAtEnd: number;
  failedByKind: Record<FailureKind, number>;
}

/** The request ledger: one entry per request written, settled exactly once. */
export class RequestLedger {
  private nextId = 0;
  private readonly open = new Map<number, OpenRequest>();
  private sentCount = 0;
  private succeededCount = 0;
  private failedCount = 0;
  private inFlightCount = 0;
  private readonly byKind = emptyFailureCounts();
  private readonly failureList: FailedRequest[] = [];
  private readonly buckets = new Map<number, number>();
  // Two flat arrays rather than one object per success: long windows at high rates stay compact.
  private readonly latencyAt: number[] = [];
  private readonly latencyMs: number[] = [];
  private readonly served = new Map<string, ServedBy>();
  private readonly byPath = new Map<string, number>();
  private readonly violationList: string[] = [];

  constructor(private readonly bucketMs = BUCKET_MS) {}

  /** A request was written; returns its id. */
  openRequest(path: string, sentAt: number): number {
    const id = ++this.nextId;
    this.open.set(id, { path, sentAt });
    this.sentCount++;
    this.byPath.set(path, (this.byPath.get(path) ?? 0) + 1);
    return id;
  }

  isOpen(id: number): boolean {
    return this.open.has(id);
  }

  succeed(id: number, at: number, latencyMs: number, pod?: string): boolean {
    if (!this.take(id, "success")) return false;
    this.succeededCount++;
    const b = bucketStart(at, this.bucketMs);
    this.buckets.set(b, (this.buckets.get(b) ?? 0) + 1);
    this.latencyAt.push(at);
    this.latencyMs.push(latencyMs);
    const key = pod ?? UNKNOWN_POD;
    const s = this.served.get(key);
    if (!s) this.served.set(key, { pod: key, count: 1, first: at, last: at });
    else {
      s.count++;
      if (at < s.first) s.first = at;
      if (at > s.last) s.last = at;
    }
    return true;
  }

  fail(
    id: number,
    at: number,
    kind: FailureKind,
    detail: { code?: string | number; pod?: string; retried?: boolean } = {},
  ): boolean {
    const req = this.take(id, `failure (${kind})`);
    if (!req) return false;
    this.failedCount++;
    this.byKind[kind]++;
    const f: FailedRequest = { sentAt: req.sentAt, at, kind, path: req.path };
    if (detail.code !== undefined) f.code = detail.code;
    if (detail.pod !== undefined) f.pod = detail.pod;
    if (detail.retried) f.retried = true;
    this.failureList.push(f);
    return true;
  }

  /** The window closed with this request outstanding: not a failure. */
  endInFlight(id: number): boolean {
    if (!this.take(id, "in flight at end")) return false;
    this.inFlightCount++;
    return true;
  }

  /** Something the accounting cannot vouch for; reported by problems(). */
  violation(what: string): void {
    this.violationList.push(what);
  }

  counts(): LedgerCounts {
    return {
      sent: this.sentCount,
      succeeded: this.succeededCount,
      failed: this.failedCount,
      outstanding: this.open.size,
      inFlightAtEnd: this.inFlightCount,
      failedByKind: { ...this.byKind },
    };
  }

  sentByPath(): Record<string, number> {
    return Object.fromEntries(this.byPath);
  }

  /** Violations, requests never settled, and any broken consistency rule of the result. */
  problems(): string[] {
    const problems = [...this.violationList];
    if (this.open.size > 0) problems.push(`${this.open.size} request(s) were never settled`);
    return problems;
  }

  result(meta: { target: string; startedAt: number; endedAt: number }): Omit<LoadResult, "autocannon"> {
    const latencies: Array<{ at: number; ms: number }> = new Array(this.latencyAt.length);
    for (let i = 0; i < this.latencyAt.length; i++) {
      latencies[i] = { at: this.latencyAt[i] as number, ms: this.latencyMs[i] as number };
    }
    return {
      target: meta.target,
      startedAt: meta.startedAt,
      endedAt: meta.endedAt,
      sent: this.sentCount,
      succeeded: this.succeededCount,
      failed: this.failedCount,
      failedByKind: { ...this.byKind },
      inFlightAtEnd: this.inFlightCount,
      failures: [...this.failureList],
      successBuckets: fillBuckets(this.buckets, meta.startedAt, meta.endedAt, this.bucketMs),
      latencies,
      servedBy: [...this.served.values()].map((s) => ({ ...s })).sort((a, b) => a.first - b.first),
    };
  }

  private take(id: number, as: string): OpenRequest | undefined {
    const req = this.open.get(id);
    if (!req) {
      this.violation(`request #${id} settled as ${as} but it is not outstanding (settled twice or never sent)`);
      return undefined;
    }
    this.open.delete(id);
    return req;
  }
}
