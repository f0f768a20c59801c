// The judge step's rule, pure: the verdicts, the trust judgement and the run's status from the collected
// evidence. The runner (steps.ts judgeStep) and the replay of a recording (replay.ts) both call it, so a
// run is judged one way whether it is live or replayed.
import type { LoadResult } from "../load/types.js";
import type { BackendName } from "../model/backend.js";
import type { ReadyEndpointsSample, VoluntaryDisruptionRecord } from "../model/disruption.js";
import type { TimelineEvent } from "../model/events.js";
import type { PodOutcome } from "../model/pod-outcome.js";
import type { HarnessLoad } from "../observe/saturation.js";
import { expectationsFor } from "../scenario/expectations.js";
import type { Scenario } from "../scenario/schema.js";
import { judgeTrust } from "../verdict/trust.js";
import { evaluate } from "../verdict/verdicts.js";
import type { ScenarioResult } from "./run.js";
import { inconclusiveReasons } from "./status.js";

export interface JudgeInput {
  scenario: Scenario;
  backend: BackendName;
  load: LoadResult;
  /** The collected outcomes (collectEvidence). */
  pods: PodOutcome[];
  /** Every event the run recorded. */
  events: readonly TimelineEvent[];
  /** The saturation probe's figures over the load window (absent: the window never ran). */
  harnessLoad: HarnessLoad | undefined;
  /** evict/drain/rollout: what the disruption recorded beside the pods. */
  voluntary?: VoluntaryDisruptionRecord;
  /** The Service's ready endpoints over the run, when the backend followed them. */
  readyEndpoints?: ReadyEndpointsSample[];
}

export type Judgement = Pick<ScenarioResult, "verdicts" | "trust" | "status" | "inconclusive" | "pass">;

/** The verdicts, and the run's status (never PASS on a disruption nothing showed was exercised). */
export function judgeRun(input: JudgeInput): Judgement {
  const verdicts = evaluate({
    expectations: expectationsFor(input.scenario.expectations, input.backend),
    load: input.load,
    pods: input.pods,
    backend: input.backend,
    ...(input.voluntary ? { voluntary: input.voluntary } : {}),
    ...(input.readyEndpoints ? { readyEndpoints: input.readyEndpoints } : {}),
  });
  const trust = judgeTrust(input.harnessLoad, input.pods, input.events, input.scenario);
  const inconclusive = inconclusiveReasons(input.pods, verdicts);
  if (trust.reason) inconclusive.push(trust.reason);
  const status = inconclusive.length > 0 ? "inconclusive" : verdicts.every((v) => v.pass) ? "pass" : "fail";
  return {
    verdicts,
    trust,
    status,
    ...(inconclusive.length > 0 ? { inconclusive } : {}),
    pass: status === "pass",
  };
}
