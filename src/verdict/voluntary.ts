// The verdicts of a voluntary disruption (evict, drain, rollout), backend-agnostic: the Service's ready
// endpoints over the load window (a PodDisruptionBudget's promise, measured), the drain's duration and
// the evictions the budget refused. Pure: every verdict carries the evidence it was decided on.
import type { ReadyEndpointsSample, VoluntaryDisruptionRecord } from "../model/disruption.js";
import type { Verdict } from "./verdicts.js";

/** The lowest value of the ready-endpoints step function over [from, to], and when it was first reached. */
export function minReadyOver(
  series: readonly ReadyEndpointsSample[],
  from: number,
  to: number,
): { min: number; at: number; knownFrom: number } | undefined {
  const sorted = [...series].sort((a, b) => a.at - b.at);
  // The value in force at `from`: the last sample at or before it (none: known from the first sample on).
  const before = sorted.filter((s) => s.at <= from).pop();
  const inside = sorted.filter((s) => s.at > from && s.at <= to);
  const steps = before ? [{ ...before, at: from }, ...inside] : inside;
  if (steps.length === 0) return undefined;
  let best = steps[0] as ReadyEndpointsSample;
  for (const s of steps) if (s.ready < best.ready) best = s;
  return { min: best.ready, at: best.at, knownFrom: (steps[0] as ReadyEndpointsSample).at };
}

export function checkMinReadyEndpoints(
  expected: number,
  series: readonly ReadyEndpointsSample[] | undefined,
  window: { from: number; to: number },
): Verdict {
  const name = "ready endpoints";
  const found = series && series.length > 0 ? minReadyOver(series, window.from, window.to) : undefined;
  if (!found) {
    return {
      name,
      expected: `≥ ${expected}`,
      actual: "not followed",
      pass: false,
      evidence: "the backend reported no ready-endpoints series for the load window",
      decidable: false,
      inconclusive: "the Service's ready endpoints were not followed over the load window",
    };
  }
  const s = (ms: number) => `${((ms - window.from) / 1000).toFixed(2)} s`;
  const partial = found.knownFrom > window.from ? `; known only from ${s(found.knownFrom)} into the window` : "";
  return {
    name,
    expected: `≥ ${expected}`,
    actual: String(found.min),
    pass: found.min >= expected,
    evidence:
      `minimum ${found.min} ready endpoint(s), first at ${s(found.at)} into the load window ` +
      `(${series?.length} change(s) followed)${partial}`,
  };
}

export function checkMaxDrainSeconds(max: number, voluntary: VoluntaryDisruptionRecord | undefined): Verdict {
  const name = "drain time";
  const drain = voluntary?.drain;
  if (!drain) {
    return {
      name,
      expected: `≤ ${max} s`,
      actual: "no drain",
      pass: false,
      evidence: "no drain was carried out (the disruption is not a drain, or it never started)",
      decidable: false,
      inconclusive: "maxDrainSeconds needs a drain",
    };
  }
  if (drain.finishedAt === undefined) {
    return {
      name,
      expected: `≤ ${max} s`,
      actual: drain.timedOut ? "timed out" : "did not finish",
      pass: false,
      evidence: `node ${drain.node} cordoned; ${drain.timeoutReason ?? "the evicted pods were not all gone"}`,
    };
  }
  const seconds = (drain.finishedAt - drain.cordonedAt) / 1000;
  return {
    name,
    expected: `≤ ${max} s`,
    actual: `${seconds.toFixed(2)} s`,
    pass: seconds <= max,
    evidence: `node ${drain.node} (${drain.chosenBecause}) cordoned → its ${drain.pods.length} pod(s) gone in ${seconds.toFixed(3)} s`,
  };
}

/** Evictions by answer: "3 accepted, 2 refused (429), 0 errors". */
export function evictionSummary(v: VoluntaryDisruptionRecord): string {
  const n = (r: string) => v.evictions.filter((e) => e.result === r).length;
  return `${n("accepted")} accepted, ${n("refused")} refused (429), ${n("error")} error(s)`;
}

export function checkMaxEvictionRefusals(max: number, voluntary: VoluntaryDisruptionRecord | undefined): Verdict {
  const name = "eviction refusals";
  if (!voluntary) {
    return {
      name,
      expected: `≤ ${max}`,
      actual: "no evictions recorded",
      pass: false,
      evidence: "the backend recorded no eviction (the disruption is not an evict or drain)",
      decidable: false,
      inconclusive: "maxEvictionRefusals needs the evictions of an evict or a drain",
    };
  }
  const refused = voluntary.evictions.filter((e) => e.result === "refused");
  const first = refused[0];
  return {
    name,
    expected: `≤ ${max}`,
    actual: String(refused.length),
    pass: refused.length <= max,
    evidence:
      `${evictionSummary(voluntary)}${voluntary.pdb ? ` under ${voluntary.pdb.name}` : ", no PodDisruptionBudget"}` +
      (first ? `; first refusal: ${first.pod}: ${first.message}` : ""),
  };
}

/** Every drain is judged on finishing: one that timed out or failed never passes, expectations or not. */
export function checkDrainFinished(voluntary: VoluntaryDisruptionRecord | undefined): Verdict | undefined {
  const drain = voluntary?.drain;
  if (!drain) return undefined;
  const done = drain.finishedAt !== undefined;
  return {
    name: `drain of ${drain.node}`,
    expected: "every pod on the node evicted and gone",
    actual: done ? "finished" : drain.timedOut ? "timed out" : "stopped short",
    pass: done,
    evidence: done
      ? `${drain.pods.length} pod(s) (${drain.pods.join(", ")}) evicted and gone`
      : (drain.timeoutReason ?? "the drain did not finish"),
  };
}
