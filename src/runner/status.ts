// A run's status and why: decided once at the end of a run (judge step), read back by the reports and
// by --repeat's summary.
import type { ExerciseEvidence } from "../model/exercise.js";
import type { PodOutcome } from "../model/pod-outcome.js";
import type { Verdict } from "../verdict/verdicts.js";
import type { ScenarioResult } from "./run.js";

/**
 * pass: every verdict passed and every disrupted pod was proven to carry traffic.
 * fail: a verdict failed on an exercised disruption.
 * inconclusive: a disrupted pod carried no traffic, or nothing could show that it did (the verdicts
 *   are reported but back nothing): never a pass.
 * error: the run could not complete (setup failure, time limit, interruption, failed teardown).
 */
export type RunStatus = "pass" | "fail" | "inconclusive" | "error";

export const RUN_STATUSES: readonly RunStatus[] = ["pass", "fail", "inconclusive", "error"];

/** True when the file says its status (result files written before `status` existed do not). */
export function hasStatus(r: Pick<ScenarioResult, "status">): boolean {
  return (RUN_STATUSES as readonly unknown[]).includes((r as { status?: unknown }).status);
}

/**
 * The run's status. Result files written before `status` existed carry only `pass` and `error`:
 * their status is derived from those (and they carry no exercise evidence: see hasStatus).
 */
export function runStatus(r: Pick<ScenarioResult, "status" | "error" | "pass">): RunStatus {
  if (hasStatus(r)) return r.status;
  return r.error !== undefined ? "error" : r.pass ? "pass" : "fail";
}

/**
 * Why a verdict could not be decided either way (`decidable: false`, e.g. an exit code the API made
 * up), or undefined when it was decided. Such a verdict neither passes nor fails; the run is INCONCLUSIVE.
 */
export function verdictUndecided(v: Verdict): string | undefined {
  const x = v as Verdict & { decidable?: boolean; inconclusive?: string };
  return x.decidable === false ? (x.inconclusive ?? "the evidence cannot decide it") : undefined;
}

/** The reasons a result file gives for being inconclusive (older files: derived); one generic reason when none. */
export function reportedInconclusiveReasons(r: Pick<ScenarioResult, "inconclusive" | "pods">): string[] {
  if (r.inconclusive && r.inconclusive.length > 0) return r.inconclusive;
  const unexercised = r.pods.filter((p) => p.exercise && p.exercise.status !== "exercised");
  if (unexercised.length > 0)
    return unexercised.map((p) => `${p.pod}: ${exerciseHeadline(p.exercise as ExerciseEvidence)}`);
  return ["no disrupted pod was shown to carry traffic"];
}

/** One line: "exercised — <summary>". */
export function exerciseHeadline(e: ExerciseEvidence): string {
  return `${e.status}${e.summary ? ` — ${e.summary}` : ""}`;
}

/** Why a run's verdicts back nothing: a disrupted pod that carried no traffic, or an undecidable verdict. */
export function inconclusiveReasons(pods: readonly PodOutcome[], verdicts: readonly Verdict[]): string[] {
  const reasons: string[] = [];
  for (const pod of pods) {
    if (pod.exercise && pod.exercise.status !== "exercised") reasons.push(pod.exercise.summary);
  }
  for (const v of verdicts) {
    if (v.inconclusive) reasons.push(`${v.name}: ${v.inconclusive}`);
  }
  return reasons;
}
