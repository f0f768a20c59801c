// What the long-lived protocols' load generators (http2.ts, grpc.ts, websocket.ts) share: the ledger
// (every stream / call / message settled exactly once), the per-unit records for pod attribution, the
// stream of fresh short connections, progress snapshots, the safety cap, and the result with its
// consistency checks. A protocol module only opens connections and settles units through the
// UnitContext; whatever is still open when the window closes is counted in flight, and every event
// after that is ignored.

import { performance } from "node:perf_hooks";
import type { RequestRecord } from "../model/exercise.js";
import type { LoadOptions } from "../scenario/schema.js";
import { RequestLedger } from "./accounting.js";
import {
  type LoadHooks,
  type LoadRun,
  type LoadRunResult,
  type LoadSnapshot,
  type LoadTarget,
  SAFETY_CAP_SECONDS,
} from "./generator.js";
import {
  type FailureKind,
  type GoawayRecord,
  LOAD_UNITS,
  type LoadProtocol,
  type RetryCounts,
  type WebSocketReport,
} from "./types.js";
import { checkedResult, ledgerSnapshot, loadRun, startProgress } from "./window.js";

/** At most this many anomaly notes are kept (they are diagnostics, not data). */
const MAX_ANOMALIES = 50;
/** Fresh short connections outstanding at once; a tick is skipped beyond (a hanging target). */
const MAX_FRESH_OUTSTANDING = 32;

/** One counted unit (an HTTP/2 stream, a gRPC call, a WebSocket message) while it is open. */
export interface Unit {
  readonly id: number;
  readonly path: string;
  /** Epoch ms when first sent. */
  readonly sentAt: number;
  /** performance.now() when first sent. */
  readonly t0: number;
  readonly fresh: boolean;
  /** Sent again after a refused stream (at most once). */
  retried: boolean;
  /** Settled (success, failure or in flight at the end). */
  settled: boolean;
}

export interface SettleDetail {
  /** The answering pod (x-served-by), when known. */
  pod?: string;
  /** The client's local port of the connection the unit went on, when known. */
  clientPort?: number;
  code?: string | number;
}

/** What a protocol module uses to count. Every method is a no-op once the window closed. */
export interface UnitContext {
  readonly opts: LoadOptions;
  readonly target: LoadTarget;
  readonly timeoutMs: number;
  /** The window is closed: open nothing, settle nothing. */
  readonly closed: boolean;
  open(path: string, fresh?: boolean): Unit | undefined;
  succeed(u: Unit, d?: SettleDetail): void;
  fail(u: Unit, kind: FailureKind, d?: SettleDetail): void;
  /** A refused stream is being sent again (counted once per unit). */
  retry(u: Unit): void;
  connectionAttempt(): void;
  goaway(g: GoawayRecord): void;
  anomaly(what: string): void;
}

export interface ProtocolDriver {
  /** Opens the long-lived connections. */
  start(ctx: UnitContext): void;
  /** One unit on a brand-new connection (load.freshConnectionIntervalMs); resolves once it settled or was abandoned. */
  fresh?(ctx: UnitContext): Promise<void>;
  /** Closes everything now (the window is already closed). */
  destroy(): void | Promise<void>;
  /** Protocol-specific report, read once the window closed. */
  websocket?(): WebSocketReport;
}

function noUndefined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as Array<keyof T>) if (o[k] === undefined) delete o[k];
  return o;
}

export function startProtocolLoad(
  protocol: Exclude<LoadProtocol, "http1">,
  target: LoadTarget,
  opts: LoadOptions,
  driver: ProtocolDriver,
  hooks: LoadHooks = {},
): LoadRun {
  const startedAt = Date.now();
  const ledger = new RequestLedger();
  const capSeconds = hooks.safetyCapSeconds ?? SAFETY_CAP_SECONDS;
  const records: RequestRecord[] = [];
  const openUnits = new Map<number, Unit>();
  const anomalies: string[] = [];
  let anomalyCount = 0;
  let connectionAttempts = 0;
  const retries: RetryCounts = { attempted: 0, succeeded: 0, failed: 0, inFlightAtEnd: 0 };
  const goaways: GoawayRecord[] = [];
  const fresh = { intervalMs: opts.freshConnectionIntervalMs, sent: 0, succeeded: 0, failed: 0, skippedTicks: 0 };
  let freshOutstanding = 0;
  let closed = false;
  let endedAt: number | undefined;
  let endReason: LoadRunResult["endReason"] = "stopped";
  let progressTimer: NodeJS.Timeout | undefined;
  let freshTimer: NodeJS.Timeout | undefined;
  let destroyed: Promise<void> | undefined;

  const settle = (u: Unit): boolean => {
    if (closed || u.settled) return false;
    u.settled = true;
    openUnits.delete(u.id);
    return true;
  };
  const record = (u: Unit, at: number, ok: boolean, d: SettleDetail) => {
    records.push(
      noUndefined({
        sentAt: u.sentAt,
        at,
        ok,
        clientPort: d.clientPort,
        pod: d.pod,
        fresh: u.fresh ? true : undefined,
      }),
    );
  };

  const ctx: UnitContext = {
    opts,
    target,
    timeoutMs: opts.requestTimeoutSeconds * 1000,
    get closed() {
      return closed;
    },
    open(path, isFresh = false) {
      if (closed) return undefined;
      const sentAt = Date.now();
      const u: Unit = {
        id: ledger.openRequest(path, sentAt),
        path,
        sentAt,
        t0: performance.now(),
        fresh: isFresh,
        retried: false,
        settled: false,
      };
      openUnits.set(u.id, u);
      if (isFresh) fresh.sent++;
      return u;
    },
    succeed(u, d = {}) {
      if (!settle(u)) return;
      const at = Date.now();
      ledger.succeed(u.id, at, performance.now() - u.t0, d.pod);
      record(u, at, true, d);
      if (u.fresh) fresh.succeeded++;
      if (u.retried) retries.succeeded++;
    },
    fail(u, kind, d = {}) {
      if (!settle(u)) return;
      const at = Date.now();
      ledger.fail(u.id, at, kind, { code: d.code, pod: d.pod, retried: u.retried });
      record(u, at, false, d);
      if (u.fresh) fresh.failed++;
      if (u.retried) retries.failed++;
    },
    retry(u) {
      if (closed || u.settled || u.retried) return;
      u.retried = true;
      retries.attempted++;
    },
    connectionAttempt() {
      if (!closed) connectionAttempts++;
    },
    goaway(g) {
      if (!closed) goaways.push(noUndefined(g));
    },
    anomaly(what) {
      anomalyCount++;
      if (anomalies.length < MAX_ANOMALIES) anomalies.push(what);
    },
  };

  const snapshot = (): LoadSnapshot => ledgerSnapshot(ledger, startedAt, endedAt, connectionAttempts);

  const closeWindow = (reason: LoadRunResult["endReason"]) => {
    if (closed) return;
    endedAt = Date.now();
    endReason = reason;
    // Everything still open is in flight at the end; from here on events are ignored.
    for (const u of openUnits.values()) {
      u.settled = true;
      ledger.endInFlight(u.id);
      if (u.retried) retries.inFlightAtEnd++;
    }
    openUnits.clear();
    closed = true;
    clearInterval(progressTimer);
    clearInterval(freshTimer);
    clearTimeout(capTimer);
    if (reason === "safety-cap") {
      console.warn(
        `graceful-e2e load generator: safety cap of ${capSeconds} s reached without stop(); the load window was closed`,
      );
    }
    destroyed = Promise.resolve()
      .then(() => driver.destroy())
      .catch((err: unknown) => ctx.anomaly(`closing the connections: ${(err as Error).message}`));
  };

  const capTimer = setTimeout(() => closeWindow("safety-cap"), capSeconds * 1000);
  capTimer.unref();

  progressTimer = startProgress(hooks, snapshot);

  try {
    driver.start(ctx);
  } catch (err) {
    closeWindow("stopped");
    throw err;
  }
  const freshOne = driver.fresh?.bind(driver);
  if (opts.freshConnectionIntervalMs > 0 && freshOne) {
    freshTimer = setInterval(() => {
      if (closed) return;
      if (freshOutstanding >= MAX_FRESH_OUTSTANDING) {
        fresh.skippedTicks++;
        return;
      }
      freshOutstanding++;
      void freshOne(ctx)
        .catch((err: unknown) => ctx.anomaly(`fresh connection: ${(err as Error).message}`))
        .finally(() => {
          freshOutstanding--;
        });
    }, opts.freshConnectionIntervalMs);
  }

  const finish = async (): Promise<LoadRunResult> => {
    closeWindow("stopped");
    await destroyed;
    const base = ledger.result({ target: `${target.host}:${target.port}`, startedAt, endedAt: endedAt ?? Date.now() });
    if (anomalyCount > anomalies.length) anomalies.push(`… ${anomalyCount - anomalies.length} more anomalies`);
    const websocket = driver.websocket?.();
    const result: LoadRunResult = {
      ...base,
      autocannon: { requests: 0, sent: 0, errors: 0, timeouts: 0, non2xx: 0, resets: 0 },
      endReason,
      connectionAttempts,
      sentByPath: ledger.sentByPath(),
      anomalies,
      fresh: { ...fresh },
      protocol,
      unit: LOAD_UNITS[protocol],
      ...(protocol === "http2" || protocol === "grpc" ? { retries: { ...retries } } : {}),
      // grpc-js does not show its connections' GOAWAYs: only HTTP/2 reports them.
      ...(protocol === "http2" ? { goaways: [...goaways] } : {}),
      ...(websocket ? { websocket } : {}),
    };
    return checkedResult(ledger, result);
  };

  return loadRun(startedAt, snapshot, finish, records);
}
