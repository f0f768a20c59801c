// What the load generator reports: every request accounted for.

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
  | "error";

export const FAILURE_KINDS: readonly FailureKind[] = ["reset", "refused", "timeout", "non-2xx", "closed", "error"];

export interface FailedRequest {
  /** Epoch ms when the request was sent. */
  sentAt: number;
  /** Epoch ms when the failure was seen. */
  at: number;
  kind: FailureKind;
  /** Status code for non-2xx, socket error code otherwise. */
  code?: string | number;
  /** Which pod answered (non-2xx only; from the x-served-by header). */
  pod?: string;
  path: string;
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
  failedByKind: Record<FailureKind, number>;
  /** Requests still outstanding when the window closed (not failures: the window ended). */
  inFlightAtEnd: number;
  failures: FailedRequest[];
  /** Successful responses per 100 ms bucket, keyed by bucket start (epoch ms). */
  successBuckets: Array<{ at: number; count: number }>;
  /** Latencies in ms of successful responses with their completion time, for percentiles. */
  latencies: Array<{ at: number; ms: number }>;
  servedBy: ServedBy[];
  /** autocannon's own summary figures, kept to show how they differ from ours. */
  autocannon: { requests: number; errors: number; timeouts: number; non2xx: number; resets: number };
}
