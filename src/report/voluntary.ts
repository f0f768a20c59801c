// A voluntary disruption's figures in words, for every report (console, JUnit, HTML): the drain's
// course, the evictions by answer, the Service's ready endpoints over the load window.
import type { ScenarioResult } from "../runner/run.js";
import { evictionSummary, minReadyOver } from "../verdict/voluntary.js";

const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** The ready endpoints' minimum over the load window, with the count before the disruption. */
export function readyEndpointsText(r: Pick<ScenarioResult, "readyEndpoints" | "load">): string | undefined {
  const series = r.readyEndpoints;
  const load = r.load;
  if (!series || series.length === 0 || !load) return undefined;
  const found = minReadyOver(series, load.startedAt, load.endedAt);
  if (!found) return undefined;
  const max = Math.max(...series.filter((s) => s.at <= load.endedAt).map((s) => s.ready));
  return (
    `min ${found.min} ready (of up to ${max}) over the load window, first at ${sec(found.at - load.startedAt)} ` +
    `into it; ${series.length} change(s) followed`
  );
}

/** The lines of a voluntary disruption: drain, evictions, ready endpoints (none when there is nothing). */
export function voluntaryLines(r: Pick<ScenarioResult, "voluntary" | "readyEndpoints" | "load">): string[] {
  const out: string[] = [];
  const v = r.voluntary;
  const d = v?.drain;
  if (d) {
    const end =
      d.finishedAt !== undefined
        ? `its ${d.pods.length} pod(s) gone in ${sec(d.finishedAt - d.cordonedAt)}`
        : `${d.timedOut ? "TIMED OUT" : d.interrupted ? "INTERRUPTED" : "STOPPED SHORT"}: ${d.timeoutReason ?? "?"}`;
    const uncordoned =
      d.uncordonedAt !== undefined
        ? `; uncordoned ${sec(d.uncordonedAt - d.cordonedAt)} after the cordon`
        : d.uncordonError !== undefined
          ? `; UNCORDON FAILED (${d.uncordonError}): the node is still cordoned, 'graceful-e2e clean' uncordons it`
          : "";
    out.push(`drain: node ${d.node} (${d.chosenBecause}) cordoned; ${end}${uncordoned}`);
  }
  if (v && (v.evictions.length > 0 || d)) {
    out.push(`evictions: ${evictionSummary(v)}${v.pdb ? ` under PodDisruptionBudget ${v.pdb.name}` : ""}`);
  }
  const ready = readyEndpointsText(r);
  if (ready) out.push(`ready endpoints: ${ready}`);
  return out;
}
