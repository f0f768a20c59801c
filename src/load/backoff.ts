// Reconnect pacing for the load generator. autocannon reconnects in a tight loop after every socket
// error; against a target that is gone (no endpoint, port closed) that is thousands of attempts a
// second. Here a connection that died without delivering a single response makes the next connect
// wait: initialMs, doubling up to maxMs; any complete response resets the streak.

export interface BackoffPolicy {
  /** Delay after the first dead connection. */
  initialMs: number;
  /** Upper bound of the delay. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: Readonly<BackoffPolicy> = { initialMs: 20, maxMs: 500 };

/**
 * Delay before the next connect, given how many connections in a row died without a response.
 * 0 dead connections → connect at once.
 */
export function backoffDelayMs(consecutiveDead: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  if (!(consecutiveDead > 0)) return 0;
  const exponent = Math.min(consecutiveDead - 1, 30);
  return Math.min(policy.maxMs, policy.initialMs * 2 ** exponent);
}
