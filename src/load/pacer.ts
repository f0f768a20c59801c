// The paced (open-loop, constant-arrival-rate) schedule of a load, like k6's constant-arrival-rate
// executor or wrk2: unit k is due at start + k / rate whatever the answers do, and goes out on the
// next free lane (a connection, or a connection's stream slot), round robin so consecutive units
// spread over the connections. A unit that finds no free lane at its intended time waits in a
// backlog and is sent as soon as a lane frees up — counted `late`, with its wait inside its latency
// (the caller measures from `intendedAt`: no coordinated omission); one that waited longer than
// maxWaitMs, or was still waiting when the window closed, is never sent — counted `notSent`. Nothing
// is dropped silently: due = on time + late + notSent + waiting.
//
// No sockets here: lanes are callbacks, and the clock is injectable (tests drive it by hand).
import { performance } from "node:perf_hooks";

export interface PacerClock {
  /** Milliseconds, monotonic. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: PacerClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** One unit of the schedule. */
export interface DueUnit {
  /** Clock ms at which it was due. */
  readonly intendedAt: number;
  /** No lane was free at its intended time. */
  late: boolean;
}

export interface PacerOptions {
  /** Units per second, over all lanes. */
  rate: number;
  lanes: number;
  /** Sends `unit` on `lane` now; false when that lane cannot take a unit (busy, reconnecting). */
  trySend(lane: number, unit: DueUnit): boolean;
  /** A unit that found no free lane for longer than this is not sent (notSent). */
  maxWaitMs: number;
  clock?: PacerClock;
}

export interface PacerCounts {
  /** Units whose intended time has come. */
  due: number;
  /** Sent (on time or late). */
  sent: number;
  /** Sent after waiting for a free lane. */
  late: number;
  /** Given up (waited past maxWaitMs, or waiting when the window closed). */
  notSent: number;
  /** Waiting for a free lane right now. */
  waiting: number;
  /** The longest wait of a late unit (ms). */
  maxLateMs: number;
}

export class Pacer {
  private readonly clock: PacerClock;
  private readonly periodMs: number;
  private readonly backlog: DueUnit[] = [];
  private startAt = 0;
  private next = 0;
  private cursor = 0;
  private timer: unknown;
  private running = false;
  private dispatching = false;
  private again = false;
  private readonly c: Omit<PacerCounts, "waiting"> = { due: 0, sent: 0, late: 0, notSent: 0, maxLateMs: 0 };

  constructor(private readonly o: PacerOptions) {
    if (!(o.rate > 0) || !Number.isFinite(o.rate)) throw new RangeError(`pacer rate must be > 0, got ${o.rate}`);
    if (!(o.lanes >= 1)) throw new RangeError(`pacer needs at least one lane, got ${o.lanes}`);
    this.clock = o.clock ?? realClock;
    this.periodMs = 1000 / o.rate;
  }

  /** Starts the schedule: unit 0 is due now. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.startAt = this.clock.now();
    this.tick();
  }

  /** A lane may have become free (an answer came, a connection opened): the oldest waiting unit goes. */
  laneFree(): void {
    if (this.running) this.dispatch();
  }

  /** Ends the schedule; units still waiting are notSent. Idempotent. */
  stop(): PacerCounts {
    if (this.running) {
      this.running = false;
      this.clock.clearTimeout(this.timer);
      this.c.notSent += this.backlog.length;
      this.backlog.length = 0;
    }
    return this.counts();
  }

  counts(): PacerCounts {
    return { ...this.c, waiting: this.backlog.length };
  }

  private tick(): void {
    if (!this.running) return;
    const now = this.clock.now();
    // Every unit due by now joins the backlog (several at once when the timer fired late).
    while (this.startAt + this.next * this.periodMs <= now) {
      this.backlog.push({ intendedAt: this.startAt + this.next * this.periodMs, late: false });
      this.next++;
      this.c.due++;
    }
    this.expire(now);
    this.dispatch();
    const wait = Math.max(0, this.startAt + this.next * this.periodMs - this.clock.now());
    this.timer = this.clock.setTimeout(() => this.tick(), wait);
  }

  /** Gives up on units that waited too long: their moment has passed. */
  private expire(now: number): void {
    while (this.backlog.length > 0 && now - (this.backlog[0] as DueUnit).intendedAt > this.o.maxWaitMs) {
      this.backlog.shift();
      this.c.notSent++;
    }
  }

  private dispatch(): void {
    // A send may settle synchronously and free a lane (laneFree → here): loop instead of recursing.
    if (this.dispatching) {
      this.again = true;
      return;
    }
    this.dispatching = true;
    try {
      do {
        this.again = false;
        this.sendWaiting();
      } while (this.again && this.running);
    } finally {
      this.dispatching = false;
    }
  }

  private sendWaiting(): void {
    while (this.running && this.backlog.length > 0) {
      const unit = this.backlog[0] as DueUnit;
      const lane = this.freeLane(unit);
      if (lane === undefined) {
        // No lane free at its intended time (or since): it waits, and is late whenever it goes.
        for (const u of this.backlog) u.late = true;
        return;
      }
      this.backlog.shift();
      this.cursor = (lane + 1) % this.o.lanes;
      this.c.sent++;
      if (unit.late) {
        this.c.late++;
        this.c.maxLateMs = Math.max(this.c.maxLateMs, this.clock.now() - unit.intendedAt);
      }
    }
  }

  /** The first lane from the cursor on that took the unit. */
  private freeLane(unit: DueUnit): number | undefined {
    for (let i = 0; i < this.o.lanes; i++) {
      const lane = (this.cursor + i) % this.o.lanes;
      if (this.o.trySend(lane, unit)) return lane;
    }
    return undefined;
  }
}
