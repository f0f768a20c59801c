// What every load (HTTP/1.1 through autocannon, and the long-lived protocols) shares around its
// ledger: live snapshots, the progress timer, the accounting check at the end, and the LoadRun it
// hands the runner. Each load keeps only what is its own: how it opens connections and settles units.
import type { RequestRecord } from "../model/exercise.js";
import { type RequestLedger, resultProblems } from "./accounting.js";
import {
  LoadAccountingError,
  type LoadHooks,
  type LoadRun,
  type LoadRunResult,
  type LoadSnapshot,
} from "./generator.js";

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
