// The Service's ready endpoints over the whole run, as a step function sampled from the watch: one sample
// each time the count of ready (or terminating) endpoints changes. What a PodDisruptionBudget promises
// (never fewer than minAvailable ready pods) is then measured, not assumed. Pure.
import type { ReadyEndpointsSample } from "../model/disruption.js";

export class ReadyEndpointsSeries {
  private readonly samples: ReadyEndpointsSample[] = [];

  /**
   * @param reportsTerminating whether the server publishes terminating endpoints (EndpointSlice
   * conditions from 1.22; on 1.20/1.21 the gate is off and an endpoint simply disappears): the samples
   * carry `terminating` only then.
   */
  constructor(private readonly reportsTerminating: boolean) {}

  /** Records the counts at `at` when they differ from the last sample. */
  sample(at: number, ready: number, terminating: number): void {
    const last = this.samples.at(-1);
    const t = this.reportsTerminating ? terminating : undefined;
    if (last && last.ready === ready && last.terminating === t) return;
    this.samples.push({ at, ready, ...(t !== undefined ? { terminating: t } : {}) });
  }

  all(): ReadyEndpointsSample[] {
    return this.samples.map((s) => ({ ...s }));
  }
}
