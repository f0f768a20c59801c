// How long a scenario's disruption may legitimately take, decided once for the runner's limit, the
// in-cluster load Job's window and the trust judgement: the grace period each disrupted pod gets, and
// the pods one after another (rollout) or after the evictions' own timeout (evict, drain).
import type { Scenario } from "./schema.js";

/** The grace period a disrupted pod gets: a delete's own override, else the pod's. */
export function disruptionGraceSeconds(s: Pick<Scenario, "disruption" | "terminationGracePeriodSeconds">): number {
  return s.disruption.action === "delete"
    ? (s.disruption.gracePeriodSeconds ?? s.terminationGracePeriodSeconds)
    : s.terminationGracePeriodSeconds;
}

/**
 * The longest the disruption may take (s): per pod its grace + the 2 s minimum + 30 s for the API to
 * report it gone (14 s seen on 1.20); a rollout replaces every replica (+30 s each for the new one to
 * start); evict and drain may retry refused evictions for timeoutSeconds before the last pod goes.
 */
export function disruptionBudgetSeconds(
  s: Pick<Scenario, "disruption" | "terminationGracePeriodSeconds" | "replicas">,
): number {
  const perPod = disruptionGraceSeconds(s) + 2 + 30;
  const d = s.disruption;
  if (d.action === "rollout") return (perPod + 30) * s.replicas;
  if (d.action === "evict" || d.action === "drain") return d.timeoutSeconds + perPod;
  return perPod;
}
