// The driver's waits (readiness, reachability, a disruption's end, late evidence), with the clock and
// the "something changed" signal injected: event-driven where the watch already tells (every entry it
// delivers wakes the wait at once), a short poll otherwise. Tests count the checks with a fake clock.

/** Time as the waits see it; tests pass a fake one. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms))),
};

/** Between checks of something only a request can tell (an HTTP probe): ~100 ms. */
export const POLL_MS = 100;

/** Wakes every waiter when something arrives (a watch entry, a runtime event). */
export class Wakeup {
  private pending?: { promise: Promise<void>; resolve: () => void };

  notify(): void {
    const p = this.pending;
    this.pending = undefined;
    p?.resolve();
  }

  /** Resolves at the next notify() (one shared promise per notification: waiting never piles up). */
  next(): Promise<void> {
    if (!this.pending) {
      let resolve: () => void = () => {};
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      this.pending = { promise, resolve };
    }
    return this.pending.promise;
  }
}

export interface PollOptions {
  clock?: Clock;
  /** Longest pause between two checks (ms). */
  pollMs?: number;
  /** Give up after this long (ms from the first check). */
  timeoutMs: number;
  /** Resolves when something changed that may make check() succeed: checked again at once. */
  changed?: () => Promise<void>;
}

export interface PollResult<T> {
  value?: T;
  timedOut: boolean;
  /** How many times check() ran. */
  checks: number;
  /** ms from the first check to the last. */
  elapsedMs: number;
}

/**
 * Runs check() until it returns something other than undefined, or the time runs out (the last check
 * happens at or after the deadline). Between checks: the next change, or pollMs, whichever comes first.
 */
export async function pollUntil<T>(
  check: () => T | undefined | Promise<T | undefined>,
  o: PollOptions,
): Promise<PollResult<T>> {
  const clock = o.clock ?? realClock;
  const pollMs = o.pollMs ?? POLL_MS;
  const started = clock.now();
  const deadline = started + o.timeoutMs;
  let checks = 0;
  for (;;) {
    checks++;
    const value = await check();
    const now = clock.now();
    if (value !== undefined) return { value, timedOut: false, checks, elapsedMs: now - started };
    if (now >= deadline) return { timedOut: true, checks, elapsedMs: now - started };
    const pause = Math.min(pollMs, deadline - now);
    await (o.changed ? Promise.race([o.changed(), clock.sleep(pause)]) : clock.sleep(pause));
  }
}
