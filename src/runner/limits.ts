// The three named time limits of a run (setup, scenario, teardown) and how a limit ends a wait.
import type { BackendName } from "../model/backend.js";
import { disruptionBudgetSeconds } from "../scenario/disruption-time.js";
import type { Scenario } from "../scenario/schema.js";

/** The longest a disruption may take before the harness gives up waiting (disruptionBudgetSeconds). */
export function disruptionBudgetMs(s: Scenario): number {
  return disruptionBudgetSeconds(s) * 1000;
}

export type LimitName = "setup" | "scenario" | "teardown";

/**
 * Named time limits, scaled by the scenario's own waits. Pure.
 * - setup: image (found, or built) + deploy until every replica is ready. Kubernetes backends get
 *   more: the first run may create the kind cluster and load or push images, and pods may pull.
 * - scenario: the load window — the disruption at atSeconds, then the wait for the disrupted pods
 *   (grace period, preStop, 2 s minimum, API lag: disruptionBudgetMs), at least the load duration.
 * - teardown: removing what the run made; Kubernetes waits (bounded) for the namespace to go.
 * `scale` stretches all three (--timeout-scale).
 */
export function timeLimits(s: Scenario, scale = 1, backend: BackendName = "local"): Record<LimitName, number> {
  const preStop = s.preStop.type === "sleep" ? s.preStop.seconds * 1000 : 0;
  const kubernetes = backend !== "local";
  return {
    setup: Math.round(((kubernetes ? 600_000 : 120_000) + 15_000 * s.replicas) * scale),
    scenario: Math.round(
      (s.disruption.atSeconds * 1000 +
        Math.max(s.load.durationSeconds * 1000, disruptionBudgetMs(s) + preStop) +
        10_000) *
        scale,
    ),
    teardown: Math.round(((kubernetes ? 120_000 : 30_000) + 5_000 * s.replicas) * scale),
  };
}

export function seconds(ms: number): string {
  return ms < 10_000 ? (ms / 1000).toFixed(1) : (ms / 1000).toFixed(0);
}

export class LimitExceeded extends Error {
  constructor(
    readonly limit: LimitName,
    readonly ms: number,
    what: string,
  ) {
    super(`${what} timed out after ${seconds(ms)} s (limit: ${limit}; raise it with --timeout-scale)`);
    this.name = "LimitExceeded";
  }
}

/** Resolves with p, or rejects with the signal's reason as soon as it aborts (p keeps running). */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    p.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}
