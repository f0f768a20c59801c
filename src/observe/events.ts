// Where a run collects what the backends observe, in arrival order.
import type { EventSink, TimelineEvent } from "../model/events.js";

/** An EventSink that keeps everything in arrival order. */
export class EventLog implements EventSink {
  readonly events: TimelineEvent[] = [];
  record(event: TimelineEvent): void {
    this.events.push(event);
  }
}
