// A rollout's strategy, one rule for every backend: the scenario's `disruption.strategy` fields are
// overrides — only what the scenario sets changes; every other field stays as the workload as deployed
// says (graceful-e2e's own Deployment: IMAGE_ROLLING_UPDATE; a user's manifests: their own values), and
// Kubernetes' defaults apply where neither says (25 % / 25 %, minReadySeconds 0: the rollout's own).
import type { RolloutStrategy } from "../scenario/schema.js";
import type { Workload } from "./types.js";

/** The given fields only (a key present with undefined would override a value with nothing). */
function given(s: RolloutStrategy | undefined): RolloutStrategy {
  return Object.fromEntries(Object.entries(s ?? {}).filter(([, v]) => v !== undefined)) as RolloutStrategy;
}

/**
 * The workload's own rolling update as its object says it (only the fields it sets). A Deployment whose
 * strategy is Recreate has no rolling fields; a StatefulSet has only minReadySeconds of them.
 */
export function ownRolloutStrategy(workload: Workload): RolloutStrategy {
  const spec = workload.spec;
  const deployment = workload.kind === "Deployment" ? (spec as { strategy?: DeploymentStrategy }) : undefined;
  const rolling = deployment?.strategy?.type === "Recreate" ? undefined : deployment?.strategy?.rollingUpdate;
  const progress = (spec as { progressDeadlineSeconds?: number } | undefined)?.progressDeadlineSeconds;
  return given({
    maxSurge: rolling?.maxSurge,
    maxUnavailable: rolling?.maxUnavailable,
    minReadySeconds: spec?.minReadySeconds,
    progressDeadlineSeconds: deployment ? progress : undefined,
  });
}

interface DeploymentStrategy {
  type?: string;
  rollingUpdate?: { maxSurge?: number | string; maxUnavailable?: number | string };
}

/** The rollout's strategy: the scenario's fields over the workload's own (absent: Kubernetes' defaults). */
export function rolloutStrategy(scenario: RolloutStrategy | undefined, own: RolloutStrategy): RolloutStrategy {
  return { ...given(own), ...given(scenario) };
}
