// What the long-lived protocols' load generators (http2.ts, grpc.ts, websocket.ts) share: the ledger
// (every stream / call / message settled exactly once), the per-unit records for pod attribution, the
// stream of fresh short connections, progress snapshots, the safety cap, and the result with its
// consistency checks. A protocol module only opens connections and settles units through the
// UnitContext; whatever is still open when the window closes is counted in flight, and every event
// after that is ignored.

import { performance } from "node:perf_hooks";
import type { RequestRecord } from "../model/exercise.js";
import { type LoadOptions, loadRate } from "../scenario/schema.js";
import { RequestLedger } from "./accounting.js";
import { emptyFreshReport, startFreshTicker } from "./fresh-stream.js";
import { Pacer } from "./pacer.js";
import {
  type FailureKind,
  type GoawayRecord,
  type GrpcReport,
  LOAD_UNITS,
  type LoadHooks,
  type LoadProtocol,
  type LoadRun,
  type LoadRunResult,
  type LoadSnapshot,
  type LoadTarget,
  type PacingReport,
  type RetryCounts,
  SAFETY_CAP_SECONDS,
  type WebSocketReport,
} from "./types.js";
import {
  anomalyNotes,
  checkedResult,
  ledgerSnapshot,
  loadRun,
  pacerWaitBoundMs,
  pacingReport,
  startProgress,
} from "./window.js";

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
  /** Paced (load.rate a number): new units go only when the pacer hands one over (driver.trySend). */
  readonly paced: boolean;
  /** Paced: a lane may take a unit now (a stream slot freed, a connection opened). */
  laneFree(): void;
  /** A new unit; its latency counts from intendedAt (performance.now() ms) when paced, from now otherwise. */
  open(path: string, fresh?: boolean, intendedAt?: number): Unit | undefined;
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
  /** gRPC's report (the method, Health/Check's statuses), read once the window closed. */
  grpc?(): GrpcReport;
  /**
   * Paced: sends one new unit on `lane` (0 … connections-1) now if it can take one; false when it
   * cannot (no free stream slot, reconnecting). A driver without it paces itself (websocket's clock).
   */
  trySend?(lane: number, intendedAt: number): boolean;
  /** A driver pacing itself: its own figures (units skipped count as not sent). */
  pacing?(): { late: number; notSent: number };
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
  const rate = loadRate(opts);
  const trySend = driver.trySend?.bind(driver);
  const pacer =
    rate === "max" || !trySend
      ? undefined
      : new Pacer({
          rate,
          lanes: opts.connections,
          maxWaitMs: pacerWaitBoundMs(opts),
          trySend: (lane, u) => trySend(lane, u.intendedAt),
        });
  const capSeconds = hooks.safetyCapSeconds ?? SAFETY_CAP_SECONDS;
  const records: RequestRecord[] = [];
  const openUnits = new Map<number, Unit>();
  const notes = anomalyNotes();
  let connectionAttempts = 0;
  const retries: RetryCounts = { attempted: 0, succeeded: 0, failed: 0, inFlightAtEnd: 0 };
  const goaways: GoawayRecord[] = [];
  const fresh = emptyFreshReport(opts.freshConnectionIntervalMs);
  let stopFresh: () => void = () => {};
  let closed = false;
  let endedAt: number | undefined;
  let endReason: LoadRunResult["endReason"] = "stopped";
  let progressTimer: NodeJS.Timeout | undefined;
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
    get paced() {
      return pacer !== undefined;
    },
    laneFree() {
      pacer?.laneFree();
    },
    open(path, isFresh = false, intendedAt?: number) {
      if (closed) return undefined;
      const sentAt = Date.now();
      const u: Unit = {
        id: ledger.openRequest(path, sentAt),
        path,
        sentAt,
        t0: intendedAt ?? performance.now(),
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
    anomaly: notes.add,
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
    pacer?.stop();
    clearInterval(progressTimer);
    stopFresh();
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
    pacer?.start();
  } catch (err) {
    closeWindow("stopped");
    throw err;
  }
  const freshOne = driver.fresh?.bind(driver);
  if (freshOne) {
    stopFresh = startFreshTicker(
      fresh,
      capSeconds,
      () => closed,
      () => freshOne(ctx).catch((err: unknown) => ctx.anomaly(`fresh connection: ${(err as Error).message}`)),
    );
  }

  const finish = async (): Promise<LoadRunResult> => {
    closeWindow("stopped");
    await destroyed;
    const base = ledger.result({ target: `${target.host}:${target.port}`, startedAt, endedAt: endedAt ?? Date.now() });
    const websocket = driver.websocket?.();
    // Before the anomalies are listed: it may add one.
    const grpc = driver.grpc?.();
    const result: LoadRunResult = {
      ...base,
      autocannon: { requests: 0, sent: 0, errors: 0, timeouts: 0, non2xx: 0, resets: 0 },
      endReason,
      connectionAttempts,
      sentByPath: ledger.sentByPath(),
      anomalies: notes.list(),
      fresh: { ...fresh },
      protocol,
      unit: LOAD_UNITS[protocol],
      ...(protocol === "http2" || protocol === "grpc" ? { retries: { ...retries } } : {}),
      // grpc-js does not show its connections' GOAWAYs: only HTTP/2 reports them.
      ...(protocol === "http2" ? { goaways: [...goaways] } : {}),
      ...(websocket ? { websocket } : {}),
      ...(grpc ? { grpc } : {}),
      pacing: protocolPacing(rate, pacer, driver, base.sent - fresh.sent, (endedAt ?? Date.now()) - startedAt),
    };
    return checkedResult(ledger, result);
  };

  return loadRun(startedAt, snapshot, finish, records);
}

/** The pacing figures: the pacer's, or those of a driver pacing itself (websocket). */
function protocolPacing(
  rate: number | "max",
  pacer: Pacer | undefined,
  driver: ProtocolDriver,
  sent: number,
  windowMs: number,
): PacingReport {
  const own = driver.pacing?.();
  if (pacer || rate === "max" || !own) return pacingReport(rate, pacer, sent, windowMs);
  const r = pacingReport(rate, undefined, sent, windowMs);
  return { ...r, mode: "paced", rateAsked: rate, due: sent + own.notSent, late: own.late, notSent: own.notSent };
}
