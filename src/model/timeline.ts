// One run's events in order, relative to the (first) delete.
import type { TimelineEvent } from "./events.js";

export interface TimelineEntry extends TimelineEvent {
  /** Milliseconds relative to the origin (the first delete); negative = before it. */
  t: number;
}

export interface Timeline {
  /** Epoch ms of the first delete (or of the first event when nothing was deleted). */
  origin: number;
  entries: TimelineEntry[];
}
