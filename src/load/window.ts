// What every load (HTTP/1.1 through autocannon, and the long-lived protocols) shares around its
// ledger: live snapshots, the progress timer, the accounting check at the end, and the LoadRun it
// hands the runner. Each load keeps only what is its own: how it opens connections and settles units.
import type { RequestRecord } from "../model/exercise.js";
import type { LoadOptions } from "../scenario/schema.js";
import { type RequestLedger, resultProblems } from "./accounting.js";
import { Pacer } from "./pacer.js";
import {
  LoadAccountingError,
  type LoadHooks,
  type LoadRun,
  type LoadRunResult,
  type LoadSnapshot,
  type PacingReport,
} from "./types.js";

/** At most this many anomaly notes are kept (they are diagnostics, not data). */
const MAX_ANOMALIES = 50;

/** A paced unit that found no free connection for this long is not sent (nor longer than the request timeout). */
export const PACED_WAIT_BOUND_MS = 1000;

/** Unexpected situations a load handled, bounded: add() each, list() once at the end. */
export function anomalyNotes(): { add(what: string): void; list(): string[] } {
  const kept: string[] = [];
  let count = 0;
  return {
    add(what: string) {
      count++;
      if (kept.length < MAX_ANOMALIES) kept.push(what);
    },
    list() {
      return count > kept.length ? [...kept, `… ${count - kept.length} more anomalies`] : [...kept];
    },
  };
}

/**
 * How long a paced unit may wait for a free connection before it is given up (notSent): its moment
 * has passed, and sending a backlog of them at once after an outage would be a burst, not a rate.
 */
export function pacerWaitBoundMs(opts: Pick<LoadOptions, "requestTimeoutSeconds">): number {
  return Math.min(PACED_WAIT_BOUND_MS, opts.requestTimeoutSeconds * 1000);
}

/** An IPv6 literal in brackets for a URL ("[::1]"), any other host as it is. */
export function urlHost(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

/**
 * The pacer of a paced load (load.rate a number) handing due units to `trySend` (lane, intended time);
 * undefined with load.rate "max", or without `trySend` (a driver pacing itself).
 */
export function lanePacer(
  opts: Pick<LoadOptions, "connections" | "requestTimeoutSeconds">,
  rate: number | "max",
  trySend: ((lane: number, intendedAt: number) => boolean) | undefined,
): Pacer | undefined {
  if (rate === "max" || !trySend) return undefined;
  return new Pacer({
    rate,
    lanes: opts.connections,
    maxWaitMs: pacerWaitBoundMs(opts),
    trySend: (lane, unit) => trySend(lane, unit.intendedAt),
  });
}

/** Said when the safety cap closed a window stop() never closed. */
export function warnSafetyCap(capSeconds: number): void {
  console.warn(
    `graceful-e2e load generator: safety cap of ${capSeconds} s reached without stop(); the load window was closed`,
  );
}

/** The pacing figures of a finished window; `sent` counts the long-lived connections' units only. */
export function pacingReport(
  rate: number | "max",
  pacer: Pacer | undefined,
  sent: number,
  windowMs: number,
): PacingReport {
  const rateAchieved = windowMs > 0 ? Math.round((sent / windowMs) * 10_000) / 10 : 0;
  if (rate === "max" || !pacer) return { mode: "max", rateAchieved, late: 0, notSent: 0 };
  const c = pacer.stop();
  return {
    mode: "paced",
    rateAsked: rate,
    rateAchieved,
    due: c.due,
    late: c.late,
    notSent: c.notSent,
    ...(c.late > 0 ? { maxLateMs: Math.round(c.maxLateMs) } : {}),
  };
}

/** A snapshot of the ledger's live counts. */
export function ledgerSnapshot(
  ledger: RequestLedger,
  startedAt: number,
  endedAt: number | undefined,
  connectionAttempts: number,
): LoadSnapshot {
  const c = ledger.counts();
  const now = Date.now();
  return {
    at: now,
    elapsedMs: (endedAt ?? now) - startedAt,
    sent: c.sent,
    succeeded: c.succeeded,
    failed: c.failed,
    inFlight: c.outstanding,
    failedByKind: c.failedByKind,
    connectionAttempts,
  };
}

/** Calls hooks.onProgress every progressIntervalMs (default 1 s); a throwing printer never breaks the load. */
export function startProgress(hooks: LoadHooks, snapshot: () => LoadSnapshot): NodeJS.Timeout | undefined {
  if (!hooks.onProgress) return undefined;
  const timer = setInterval(() => {
    try {
      hooks.onProgress?.(snapshot());
    } catch {
      // a progress printer must not break the load
    }
  }, hooks.progressIntervalMs ?? 1000);
  timer.unref();
  return timer;
}

/**
 * The result, once its accounting holds (sent = succeeded + failed + in flight, every unit settled
 * once); otherwise a LoadAccountingError: a bug of the generator, never a property of the app.
 */
export function checkedResult(
  ledger: RequestLedger,
  result: LoadRunResult,
  extraProblems: string[] = [],
): LoadRunResult {
  const problems = [...ledger.problems(), ...resultProblems(result), ...extraProblems];
  if (problems.length > 0) {
    const message = `load accounting invariant violated: ${problems.join("; ")}`;
    console.error(`graceful-e2e load generator: ${message}`);
    throw new LoadAccountingError(message, result);
  }
  return result;
}

/** The LoadRun handed to the runner: stop() is idempotent; records are copies. */
export function loadRun(
  startedAt: number,
  snapshot: () => LoadSnapshot,
  finish: () => Promise<LoadRunResult>,
  records: readonly RequestRecord[],
): LoadRun {
  let stopped: Promise<LoadRunResult> | undefined;
  return {
    startedAt,
    snapshot,
    stop: () => {
      stopped ??= finish();
      return stopped;
    },
    requestRecords: () => records.map((r) => ({ ...r })),
  };
}
