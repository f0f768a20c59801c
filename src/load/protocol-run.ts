// What the long-lived protocols' load generators (http2.ts, grpc.ts, websocket.ts) share: the ledger
// (every stream / call / message settled exactly once), the per-unit records for pod attribution, the
// stream of fresh short connections, progress snapshots, the safety cap, and the result with its
// consistency checks. A protocol module only opens connections and settles units through the
// UnitContext; whatever is still open when the window closes is counted in flight, and every event
// after that is ignored.

import { performance } from "node:perf_hooks";
import type { RequestRecord } from "../model/exercise.js";
import { DEFAULT_STREAMS_PER_CONNECTION, type LoadOptions, loadRate } from "../scenario/schema.js";
import { RequestLedger } from "./accounting.js";
import { type BackoffPolicy, backoffDelayMs, DEFAULT_BACKOFF } from "./backoff.js";
import { emptyFreshReport, startFreshTicker } from "./fresh-stream.js";
import type { Pacer } from "./pacer.js";
import {
  type FailureKind,
  type FreshStreamReport,
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
  lanePacer,
  ledgerSnapshot,
  loadRun,
  pacingReport,
  startProgress,
  warnSafetyCap,
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

/** A protocol's connections, made with the window's UnitContext (startProtocolLoad's makeDriver). */
export interface ProtocolDriver {
  /** Opens the long-lived connections. */
  start(): void;
  /** One unit on a brand-new connection (load.freshConnectionIntervalMs); resolves once it settled or was abandoned. */
  fresh?(): Promise<void>;
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

/**
 * What the multiplexed protocols (HTTP/2 streams, gRPC calls) read of the load alike: units at once per
 * connection, whether a refused stream is sent once more, and the reconnect backoff.
 */
export interface MultiplexOptions {
  perConnection: number;
  retryRefused: boolean;
  backoff: BackoffPolicy;
}

export function multiplexOptions(opts: LoadOptions, hooks: LoadHooks): MultiplexOptions {
  return {
    perConnection: opts.streamsPerConnection ?? DEFAULT_STREAMS_PER_CONNECTION,
    retryRefused: opts.retryRefused ?? true,
    backoff: hooks.backoff ?? DEFAULT_BACKOFF,
  };
}

/** The pod an answer names in its x-served-by header (the first, when repeated). */
export function servedByHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Runs `fn` once the backoff for `streak` failures in a row has passed: at once for none, else on a
 * timer, which is returned (for clearing when the window closes).
 */
export function afterBackoff(streak: number, backoff: BackoffPolicy, fn: () => void): NodeJS.Timeout | undefined {
  const delay = backoffDelayMs(streak, backoff);
  if (delay > 0) return setTimeout(fn, delay);
  fn();
  return undefined;
}

/** One protocol load window: its ledger and everything counted beside it, until it closes. */
interface ProtocolWindow {
  readonly startedAt: number;
  readonly ledger: RequestLedger;
  readonly records: RequestRecord[];
  /** Units sent and not yet settled. */
  readonly openUnits: Map<number, Unit>;
  readonly retries: RetryCounts;
  readonly goaways: GoawayRecord[];
  readonly fresh: FreshStreamReport;
  readonly notes: ReturnType<typeof anomalyNotes>;
  pacer?: Pacer;
  connectionAttempts: number;
  closed: boolean;
  endedAt?: number;
  endReason: LoadRunResult["endReason"];
}

/** The UnitContext of a window: every unit opened and settled once in its ledger, nothing after it closed. */
function unitContext(w: ProtocolWindow, target: LoadTarget, opts: LoadOptions): UnitContext {
  const settle = (u: Unit): boolean => {
    if (w.closed || u.settled) return false;
    u.settled = true;
    w.openUnits.delete(u.id);
    return true;
  };
  const record = (u: Unit, at: number, ok: boolean, d: SettleDetail) => {
    w.records.push(
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
  return {
    opts,
    target,
    timeoutMs: opts.requestTimeoutSeconds * 1000,
    get closed() {
      return w.closed;
    },
    get paced() {
      return w.pacer !== undefined;
    },
    laneFree() {
      w.pacer?.laneFree();
    },
    open(path, isFresh = false, intendedAt?: number) {
      if (w.closed) return undefined;
      const sentAt = Date.now();
      const u: Unit = {
        id: w.ledger.openRequest(path, sentAt),
        path,
        sentAt,
        t0: intendedAt ?? performance.now(),
        fresh: isFresh,
        retried: false,
        settled: false,
      };
      w.openUnits.set(u.id, u);
      if (isFresh) w.fresh.sent++;
      return u;
    },
    succeed(u, d = {}) {
      if (!settle(u)) return;
      const at = Date.now();
      w.ledger.succeed(u.id, at, performance.now() - u.t0, d.pod);
      record(u, at, true, d);
      if (u.fresh) w.fresh.succeeded++;
      if (u.retried) w.retries.succeeded++;
    },
    fail(u, kind, d = {}) {
      if (!settle(u)) return;
      const at = Date.now();
      w.ledger.fail(u.id, at, kind, { code: d.code, pod: d.pod, retried: u.retried });
      record(u, at, false, d);
      if (u.fresh) w.fresh.failed++;
      if (u.retried) w.retries.failed++;
    },
    retry(u) {
      if (w.closed || u.settled || u.retried) return;
      u.retried = true;
      w.retries.attempted++;
    },
    connectionAttempt() {
      if (!w.closed) w.connectionAttempts++;
    },
    goaway(g) {
      if (!w.closed) w.goaways.push(noUndefined(g));
    },
    anomaly: w.notes.add,
  };
}

/** Closes the window: everything still open is in flight at the end; from here on events are ignored. */
function closeUnits(w: ProtocolWindow, reason: LoadRunResult["endReason"]): void {
  w.endedAt = Date.now();
  w.endReason = reason;
  for (const u of w.openUnits.values()) {
    u.settled = true;
    w.ledger.endInFlight(u.id);
    if (u.retried) w.retries.inFlightAtEnd++;
  }
  w.openUnits.clear();
  w.closed = true;
  w.pacer?.stop();
}

/** The result of a closed window, with what the driver reports of its own, once its accounting holds. */
function protocolResult(
  protocol: Exclude<LoadProtocol, "http1">,
  w: ProtocolWindow,
  target: LoadTarget,
  rate: number | "max",
  driver: ProtocolDriver,
): LoadRunResult {
  const endedAt = w.endedAt ?? Date.now();
  const base = w.ledger.result({ target: `${target.host}:${target.port}`, startedAt: w.startedAt, endedAt });
  const websocket = driver.websocket?.();
  // Before the anomalies are listed: it may add one.
  const grpc = driver.grpc?.();
  const result: LoadRunResult = {
    ...base,
    autocannon: { requests: 0, sent: 0, errors: 0, timeouts: 0, non2xx: 0, resets: 0 },
    endReason: w.endReason,
    connectionAttempts: w.connectionAttempts,
    sentByPath: w.ledger.sentByPath(),
    anomalies: w.notes.list(),
    fresh: { ...w.fresh },
    protocol,
    unit: LOAD_UNITS[protocol],
    ...(protocol === "http2" || protocol === "grpc" ? { retries: { ...w.retries } } : {}),
    // grpc-js does not show its connections' GOAWAYs: only HTTP/2 reports them.
    ...(protocol === "http2" ? { goaways: [...w.goaways] } : {}),
    ...(websocket ? { websocket } : {}),
    ...(grpc ? { grpc } : {}),
    pacing: protocolPacing(rate, w.pacer, driver, base.sent - w.fresh.sent, endedAt - w.startedAt),
  };
  return checkedResult(w.ledger, result);
}

/**
 * Runs a long-lived protocol's load: `makeDriver` gets the window's UnitContext and opens the
 * connections on start(); the window closes on stop() or at the safety cap.
 */
export function startProtocolLoad(
  protocol: Exclude<LoadProtocol, "http1">,
  target: LoadTarget,
  opts: LoadOptions,
  makeDriver: (ctx: UnitContext) => ProtocolDriver,
  hooks: LoadHooks = {},
): LoadRun {
  const w: ProtocolWindow = {
    startedAt: Date.now(),
    ledger: new RequestLedger(),
    records: [],
    openUnits: new Map(),
    retries: { attempted: 0, succeeded: 0, failed: 0, inFlightAtEnd: 0 },
    goaways: [],
    fresh: emptyFreshReport(opts.freshConnectionIntervalMs),
    notes: anomalyNotes(),
    connectionAttempts: 0,
    closed: false,
    endReason: "stopped",
  };
  const rate = loadRate(opts);
  const capSeconds = hooks.safetyCapSeconds ?? SAFETY_CAP_SECONDS;
  const ctx = unitContext(w, target, opts);
  const driver = makeDriver(ctx);
  const pacer = lanePacer(opts, rate, driver.trySend?.bind(driver));
  if (pacer) w.pacer = pacer;
  let stopFresh: () => void = () => {};
  let destroyed: Promise<void> | undefined;
  const snapshot = (): LoadSnapshot => ledgerSnapshot(w.ledger, w.startedAt, w.endedAt, w.connectionAttempts);

  const closeWindow = (reason: LoadRunResult["endReason"]) => {
    if (w.closed) return;
    closeUnits(w, reason);
    clearInterval(progressTimer);
    stopFresh();
    clearTimeout(capTimer);
    if (reason === "safety-cap") warnSafetyCap(capSeconds);
    destroyed = Promise.resolve()
      .then(() => driver.destroy())
      .catch((err: unknown) => ctx.anomaly(`closing the connections: ${(err as Error).message}`));
  };
  const capTimer = setTimeout(() => closeWindow("safety-cap"), capSeconds * 1000);
  capTimer.unref();
  const progressTimer = startProgress(hooks, snapshot);

  try {
    driver.start();
    pacer?.start();
  } catch (err) {
    closeWindow("stopped");
    throw err;
  }
  const freshOne = driver.fresh?.bind(driver);
  if (freshOne) {
    stopFresh = startFreshTicker(
      w.fresh,
      capSeconds,
      () => w.closed,
      () => freshOne().catch((err: unknown) => ctx.anomaly(`fresh connection: ${(err as Error).message}`)),
    );
  }

  const finish = async (): Promise<LoadRunResult> => {
    closeWindow("stopped");
    await destroyed;
    return protocolResult(protocol, w, target, rate, driver);
  };
  return loadRun(w.startedAt, snapshot, finish, w.records);
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
