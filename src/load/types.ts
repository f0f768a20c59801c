// The load's shared types: what a load reports (every request accounted for), what it is started
// with, and the handle the runner holds. Imports nothing from the load modules: every load module
// (the dispatcher, HTTP/1.1, the long-lived protocols, the window) imports from here, never upward.
import type { RequestRecord } from "../model/exercise.js";
import type { BackoffPolicy } from "./backoff.js";

export type FailureKind =
  /** The connection was reset (RST) while a request was outstanding or being sent. */
  | "reset"
  /** The connection was refused (nothing listening / no endpoint). */
  | "refused"
  /** No answer within the request timeout. */
  | "timeout"
  /** A complete answer with a status outside 2xx. */
  | "non-2xx"
  /** The server closed the connection (FIN) with the request outstanding and no answer. */
  | "closed"
  /** Any other socket error (code in the record). */
  | "error"
  /**
   * HTTP/2, gRPC: a stream the server refused (REFUSED_STREAM) after its GOAWAY, i.e. never processed,
   * and not retried (or its one retry was refused too). A refused stream whose retry succeeded is a
   * success, counted in LoadResult.retries.
   */
  | "goaway-refused"
  /** HTTP/2, gRPC: the server reset the stream (RST_STREAM; the HTTP/2 error code in `code`). */
  | "rst-stream"
  /** gRPC: the call ended with status UNAVAILABLE (14). */
  | "grpc-unavailable"
  /** gRPC: the call ended with another status than OK and UNAVAILABLE (the status code in `code`). */
  | "grpc-other"
  /**
   * gRPC Health/Check with load.grpc.notServing "failure": the call was answered, with a status other
   * than SERVING (the status name in `code`). By default such answers are answers (LoadResult.grpc.health).
   */
  | "grpc-not-serving"
  /** WebSocket: a message unanswered when its socket closed abnormally (1006: no close frame, cut off). */
  | "ws-abnormal"
  /** WebSocket: a message unanswered when its socket closed with a close frame (e.g. 1001 going away). */
  | "ws-lost";

/** The kinds every result has counted since the first version (HTTP/1.1). */
export type Http1FailureKind = "reset" | "refused" | "timeout" | "non-2xx" | "closed" | "error";
/** The kinds of the long-lived protocols: absent from results written before they existed. */
export type ProtocolFailureKind = Exclude<FailureKind, Http1FailureKind>;

export const FAILURE_KINDS: readonly FailureKind[] = [
  "reset",
  "refused",
  "timeout",
  "non-2xx",
  "closed",
  "error",
  "goaway-refused",
  "rst-stream",
  "grpc-unavailable",
  "grpc-other",
  "grpc-not-serving",
  "ws-abnormal",
  "ws-lost",
];

/**
 * Failed units per kind. Results written before the protocol kinds existed lack them: read a count
 * as `failedByKind[k] ?? 0`.
 */
export type FailureCounts = Record<Http1FailureKind, number> & Partial<Record<ProtocolFailureKind, number>>;

/** Which protocol the load spoke (scenario load.protocol). */
export type LoadProtocol = "http1" | "http2" | "grpc" | "websocket";

/** What one counted unit is, per protocol: an HTTP/1.1 request, an HTTP/2 stream, a gRPC call, a WebSocket message. */
export const LOAD_UNITS: Record<LoadProtocol, "requests" | "streams" | "calls" | "messages"> = {
  http1: "requests",
  http2: "streams",
  grpc: "calls",
  websocket: "messages",
};

export interface FailedRequest {
  /** Epoch ms when the request was sent. */
  sentAt: number;
  /** Epoch ms when the failure was seen. */
  at: number;
  kind: FailureKind;
  /**
   * Status code for non-2xx, socket error code otherwise; the HTTP/2 error code for rst-stream (e.g.
   * "CANCEL"), the gRPC status code for grpc-* (with grpc-js's details for UNAVAILABLE: "14 Connection
   * dropped"), the close code for ws-*.
   */
  code?: string | number;
  /** Which pod answered (non-2xx only; from the x-served-by header). */
  pod?: string;
  path: string;
  /** HTTP/2, gRPC: the unit was retried once after a refused stream, and this is how the retry ended. */
  retried?: boolean;
}

export interface ServedBy {
  pod: string;
  count: number;
  /** Epoch ms of the first / last successful response from this pod. */
  first: number;
  last: number;
}

export interface LoadResult {
  target: string;
  startedAt: number;
  endedAt: number;
  /** sent = succeeded + failed + inFlightAtEnd, always. */
  sent: number;
  succeeded: number;
  failed: number;
  failedByKind: FailureCounts;
  /** Requests still outstanding when the window closed (not failures: the window ended). */
  inFlightAtEnd: number;
  failures: FailedRequest[];
  /** Successful responses per 100 ms bucket, keyed by bucket start (epoch ms). */
  successBuckets: Array<{ at: number; count: number }>;
  /** Latencies in ms of successful responses with their completion time, for percentiles. */
  latencies: Array<{ at: number; ms: number }>;
  servedBy: ServedBy[];
  /** autocannon's own summary figures, kept to show how they differ from ours (all 0 unless protocol is http1). */
  autocannon: { requests: number; errors: number; timeouts: number; non2xx: number; resets: number };
  /** The protocol spoken; absent = http1 (results written before protocols existed). */
  protocol?: LoadProtocol;
  /** What sent / failed count: requests (http1), streams (http2), calls (grpc), messages (websocket). */
  unit?: (typeof LOAD_UNITS)[LoadProtocol];
  /**
   * HTTP/2, gRPC: streams refused by the server (REFUSED_STREAM, after a GOAWAY) and retried once on a
   * new stream, as HTTP/2 allows for a stream the server never processed. A retried unit is counted
   * once in sent, and as what its retry became.
   */
  retries?: RetryCounts;
  /** WebSocket: per-socket closes and reconnect gaps. */
  websocket?: WebSocketReport;
  /** gRPC: the method called, and for Health/Check the serving statuses answered. */
  grpc?: GrpcReport;
  /** HTTP/2: GOAWAY frames received (the first per connection, with the last stream id). grpc-js does not expose them. */
  goaways?: GoawayRecord[];
  /** How the long-lived connections were driven (load.rate); absent in results written before pacing existed (closed loop). */
  pacing?: PacingReport;
}

/**
 * The pacing of the long-lived connections (the fresh-connection stream is paced on its own and not
 * part of these figures). Paced (load.rate a number): units are due at fixed intended times, spread
 * over the connections; a unit is sent on a free connection at its intended time, or later when none
 * was free (late), or never when it waited too long (notSent: not in `sent`). Latencies are measured
 * from the intended time, so a late unit's wait is in its latency (no coordinated omission).
 */
export interface PacingReport {
  /** "paced": open loop at rateAsked; "max": closed loop, each connection sends again as soon as it is answered. */
  mode: "paced" | "max";
  /** Units per second asked for (paced only). */
  rateAsked?: number;
  /** Units sent on the long-lived connections per second of window. */
  rateAchieved: number;
  /** Units due in the window (paced: sent on time + late + notSent). */
  due?: number;
  /** Units sent after their intended time because no connection was free then (counted in sent). */
  late: number;
  /** Units never sent: no connection was free for longer than the bound, or the window closed first (not in sent). */
  notSent: number;
  /** The longest wait of a late unit (ms), when there was one. */
  maxLateMs?: number;
}

export interface GrpcReport {
  /** package.Service/Method (load.grpc.method). */
  method: string;
  /**
   * Health/Check: answers per serving status, counted with the calls they settled (a call still open
   * when the window closed is in none). Statuses other than SERVING are answers (load.grpc.notServing
   * "answer", the default: in succeeded) or failures (grpc-not-serving).
   */
  health?: { serving: number; notServing: number; serviceUnknown: number; unknown: number };
}

export interface RetryCounts {
  /** Refused streams retried. */
  attempted: number;
  /** Retries that then succeeded (not failures). */
  succeeded: number;
  /** Retries that failed (counted as failures, with retried: true). */
  failed: number;
  /** Retries still outstanding when the window closed. */
  inFlightAtEnd: number;
}

export interface GoawayRecord {
  /** Epoch ms when the client saw it. */
  at: number;
  /** The client's local port of the connection. */
  clientPort?: number;
  /** The HTTP/2 error code (0 = NO_ERROR: a graceful GOAWAY). */
  errorCode: number;
  lastStreamId?: number;
  pod?: string;
}

export interface WebSocketClose {
  /** Epoch ms of the close. */
  at: number;
  /** The close code the client saw: 1000 normal, 1001 going away, 1006 abnormal (no close frame). */
  code: number;
  /** Messages outstanding on the socket when it closed (each one failed: ws-lost or ws-abnormal). */
  lost: number;
  /** Close → the next open of this socket slot (ms); undefined when it never reopened in the window. */
  reconnectGapMs?: number;
  pod?: string;
  clientPort?: number;
}

export interface WebSocketReport {
  /** Sockets kept open (load.connections). */
  sockets: number;
  /** Every close seen on the long-lived sockets, in time order. */
  closes: WebSocketClose[];
  /** Close codes → how many. */
  closesByCode: Record<string, number>;
  /** Message ticks skipped because the socket was not open (reconnecting). */
  skippedTicks: number;
  /** Failed upgrade attempts while reconnecting (refused, reset, non-101). */
  failedOpens: number;
}

export interface LoadTarget {
  host: string;
  port: number;
}

export interface LoadSnapshot {
  /** Epoch ms of the snapshot. */
  at: number;
  elapsedMs: number;
  sent: number;
  succeeded: number;
  failed: number;
  /** Outstanding right now. */
  inFlight: number;
  failedByKind: Record<FailureKind, number>;
  connectionAttempts: number;
}

export interface LoadHooks {
  onProgress?(snapshot: LoadSnapshot): void;
  /** How often onProgress is called (default 1000 ms). */
  progressIntervalMs?: number;
  /** Hard cap on the run (default SAFETY_CAP_SECONDS); lowered by tests. */
  safetyCapSeconds?: number;
  /** Reconnect pacing after connections that died without a response (default 20 ms doubling to 500 ms). */
  backoff?: BackoffPolicy;
  /**
   * gRPC: load.grpc.proto already compiled (a protobufjs descriptor, scenario/grpc-method.ts): the
   * in-cluster load Job gets it in its environment, having no copy of the user's file.
   */
  grpcDescriptor?: unknown;
}

/** The load stops on its own after this long, whatever the caller does: a forgotten run can't loop forever. */
export const SAFETY_CAP_SECONDS = 15 * 60;

export interface LoadRunResult extends LoadResult {
  /** "safety-cap": nobody called stop() in time and the hard duration ended the run. */
  endReason: "stopped" | "safety-cap";
  /** TCP connections opened (each reconnect counts). */
  connectionAttempts: number;
  /** Requests written per path (the path / slow-path mix). */
  sentByPath: Record<string, number>;
  autocannon: LoadResult["autocannon"] & {
    /** autocannon's own count of requests sent (requests.sent). */
    sent: number;
  };
  /** Unexpected situations the generator handled (unsolicited responses, parse errors...). */
  anomalies: string[];
  /** The stream of fresh short connections (load.freshConnectionIntervalMs); part of every count above. */
  fresh: FreshStreamReport;
}

export interface FreshStreamReport {
  intervalMs: number;
  sent: number;
  succeeded: number;
  failed: number;
  skippedTicks: number;
}

export interface LoadRun {
  readonly startedAt: number;
  /** Live counts, for progress output. */
  snapshot(): LoadSnapshot;
  /**
   * Ends the window: destroys every connection; requests outstanding at that moment are counted
   * as inFlightAtEnd (not failures). Idempotent. Rejects with LoadAccountingError if the
   * accounting invariant (sent = succeeded + failed + inFlightAtEnd, each request settled once)
   * is violated.
   */
  stop(): Promise<LoadRunResult>;
  /**
   * Every request settled so far with where it went (client port, x-served-by): the raw material of
   * per-pod attribution. In memory only; never written to result files.
   */
  requestRecords(): RequestRecord[];
}

/** The generator could not vouch for its own counts: a bug, never a property of the app. */
export class LoadAccountingError extends Error {
  override name = "LoadAccountingError";
  constructor(
    message: string,
    readonly result: LoadRunResult,
  ) {
    super(message);
  }
}
