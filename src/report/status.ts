// A run's status and the evidence behind it, in the words every report shares (console, JUnit,
// HTML, the styles table): PASS / FAIL / INCONCLUSIVE / ERROR, the exercise evidence of each
// disrupted pod (did it carry traffic when it was disrupted?) and the warm-up before the delete.
// Words: "termination" is delete → container exit; "gone" is the pod object deleted from the API
// (Kubernetes) or the container removed (local), which can come seconds after the exit.

import type { ExerciseEvidence } from "../model/exercise.js";
import type { PodOutcome } from "../model/pod-outcome.js";
import type { Timeline } from "../model/timeline.js";
import type { ScenarioResult, WarmUpReport, WarmUpStop } from "../runner/run.js";
import { type RunStatus, reportedInconclusiveReasons, runStatus, verdictUndecided } from "../runner/status.js";
import type { Verdict } from "../verdict/verdicts.js";

/** "PASS", "FAIL", "INCONCLUSIVE", "ERROR". */
export function statusWord(s: RunStatus): string {
  return s.toUpperCase();
}

/** What each status means, in one line (console footers, HTML titles, JUnit bodies). */
export const STATUS_MEANING: Record<RunStatus, string> = {
  pass: "every verdict passed and every disrupted pod was shown to carry traffic",
  fail: "a verdict failed on an exercised disruption",
  inconclusive:
    "the evidence cannot back the verdicts — a disrupted pod not shown to carry traffic, a verdict the evidence " +
    "cannot decide, or a harness too saturated to keep its clock: the verdicts back nothing",
  error: "the run could not complete",
};

/** 2 decimals in seconds: "3.15 s". */
export function secondsText(ms: number, digits = 2): string {
  return `${(ms / 1000).toFixed(digits)} s`;
}

/** Signed seconds: "+0.98 s", "−1.20 s". */
export function signedSeconds(ms: number, digits = 2): string {
  return `${ms < 0 ? "−" : "+"}${(Math.abs(ms) / 1000).toFixed(digits)} s`;
}

/**
 * Delete → the last new connection routed to the pod: "+0.98 s (3 new after the delete)", or
 * "none after the delete (the last at −1.20 s)" when the value is negative.
 */
export function lastNewConnectionText(
  e: Pick<ExerciseEvidence, "lastNewConnectionMs" | "newConnectionsAfterDelete">,
): string | undefined {
  const ms = e.lastNewConnectionMs;
  if (ms === undefined) return undefined;
  if (ms < 0) return `none after the delete (the last at ${signedSeconds(ms)})`;
  const n = e.newConnectionsAfterDelete;
  return `${signedSeconds(ms)}${n !== undefined ? ` (${n} new after the delete)` : ""}`;
}

export interface ExerciseFigure {
  /** Stable key (the ExerciseEvidence field it comes from): data-* attributes, tests. */
  key: keyof ExerciseEvidence;
  label: string;
  value: string;
  /** The raw number, when it is one. */
  raw?: number;
}

/** The evidence's figures with their labels, in reading order; absent figures are left out. */
export function exerciseFigures(e: ExerciseEvidence): ExerciseFigure[] {
  const out: ExerciseFigure[] = [];
  const count = (key: keyof ExerciseEvidence, label: string, v: number | undefined) => {
    if (v !== undefined) out.push({ key, label, value: String(v), raw: v });
  };
  count("openConnectionsAtDelete", "connections open at the delete", e.openConnectionsAtDelete);
  count("servedInSecondBeforeDelete", "requests served in the second before the delete", e.servedInSecondBeforeDelete);
  count("answeredAfterSigterm", "requests answered after SIGTERM", e.answeredAfterSigterm);
  count("socketTableAtDelete", "established connections in its own socket table at the delete", e.socketTableAtDelete);
  if (e.servedAroundDelete !== undefined) {
    out.push({
      key: "servedAroundDelete",
      label: "answered until the second before the delete or later (load summary)",
      value: e.servedAroundDelete ? "yes" : "no",
    });
  }
  const last = lastNewConnectionText(e);
  if (last !== undefined) {
    out.push({
      key: "lastNewConnectionMs",
      label: "delete → last new connection routed to it",
      value: last,
      raw: e.lastNewConnectionMs,
    });
  }
  count("servedTotal", "requests served in the window", e.servedTotal);
  count("connectionsRouted", "connections routed to it in the window", e.connectionsRouted);
  out.push({ key: "sources", label: "sources", value: e.sources.length > 0 ? e.sources.join(", ") : "none" });
  return out;
}

/** "✓", "✗", or "?" for a verdict the evidence could not decide. */
export function verdictMark(v: Verdict): string {
  return verdictUndecided(v) !== undefined ? "?" : v.pass ? "✓" : "✗";
}

/**
 * The end-of-run line naming every INCONCLUSIVE scenario with why (its own reasons, each once across
 * repeats): "INCONCLUSIVE (not passed): a — exit (pod): cannot tell: …; b — harness saturated: …";
 * undefined when no run was inconclusive.
 */
export function inconclusiveLine(results: ReadonlyArray<ScenarioResult>): string | undefined {
  const reasons = new Map<string, Set<string>>();
  for (const r of results) {
    if (runStatus(r) !== "inconclusive") continue;
    const set = reasons.get(r.scenario.name) ?? new Set<string>();
    for (const reason of reportedInconclusiveReasons(r)) set.add(reason);
    reasons.set(r.scenario.name, set);
  }
  if (reasons.size === 0) return undefined;
  const parts = [...reasons].map(([name, why]) => `${name} — ${[...why].join("; ")}`);
  return `INCONCLUSIVE (not passed): ${parts.join("; ")}`;
}

/** Why an incomplete warm-up ended, in the words of its line (the note after it gives the details). */
const WARM_UP_STOPS: Record<WarmUpStop, string> = {
  bound: "the bound ran out first",
  "no-pod-named": "stopped early: nothing names the pod that answered",
  "not-http1": "stopped early: the answers are not HTTP/1.1",
  aborted: "the run was stopped first",
};

/**
 * "2/2 pods answered through the Service in 0.35 s (12 probes), complete", or
 * "1/2 pods answered … INCOMPLETE: the bound ran out first; not answered: pod-b" (or why else it ended).
 */
export function warmUpText(w: WarmUpReport): string {
  const missing = w.pods.filter((p) => !w.answered.includes(p));
  const head =
    `${w.answered.length}/${w.pods.length} pod(s) answered through the Service in ` +
    `${secondsText(w.endedAt - w.startedAt)} (${w.probes} probe(s))`;
  // Results written before `stopped` existed: the bound was the reason they printed.
  const why = WARM_UP_STOPS[w.stopped ?? "bound"];
  const tail = w.complete
    ? ", complete"
    : `, INCOMPLETE: ${why}${missing.length > 0 ? `; not answered: ${missing.join(", ")}` : ""}`;
  const failed = warmUpFailuresText(w);
  return `${head}${tail}${failed ? `; ${failed}` : ""}${w.note ? ` — ${w.note}` : ""}`;
}

/**
 * The failed probes in one phrase, relative to the warm-up's start: "24 probe(s) FAILED (non-2xx 503
 * ×24) from +0.00 s to +1.10 s of the warm-up, on pod-a ×24"; undefined when none failed.
 */
export function warmUpFailuresText(w: WarmUpReport): string | undefined {
  const n = w.failed ?? 0;
  if (n === 0) return undefined;
  const listed = w.failures ?? [];
  const tally = (keys: string[]) => {
    const counts = new Map<string, number>();
    for (const k of keys) counts.set(k, (counts.get(k) ?? 0) + 1);
    return [...counts].map(([k, c]) => `${k} ×${c}`).join(", ");
  };
  const kinds = tally(listed.map((f) => `${f.kind}${f.code !== undefined ? ` ${f.code}` : ""}`));
  const pods = listed.filter((f) => f.pod).map((f) => f.pod as string);
  const first = listed[0];
  const last = listed[listed.length - 1];
  const span =
    first && last
      ? ` from ${signedSeconds(first.at - w.startedAt)} to ${signedSeconds(last.at - w.startedAt)} of the warm-up`
      : "";
  const listedNote = listed.length < n ? ` (the first ${listed.length} listed)` : "";
  return (
    `${n} probe(s) FAILED${kinds ? ` (${kinds})` : ""}${span}` +
    `${pods.length > 0 ? `, on ${tally(pods)}` : ""}${listedNote}`
  );
}

/**
 * When the pod's (last) container exited: `exitedAt`, else (result files written before it existed)
 * the timeline's container-exit entry for the pod.
 */
export function containerExitAt(
  pod: Pick<PodOutcome, "pod" | "exitedAt">,
  timeline?: Pick<Timeline, "entries">,
): number | undefined {
  if (pod.exitedAt !== undefined) return pod.exitedAt;
  const exits = (timeline?.entries ?? []).filter((e) => e.kind === "container-exit" && e.pod === pod.pod);
  return exits.length > 0 ? Math.max(...exits.map((e) => e.at)) : undefined;
}

/**
 * Delete → container exit ("termination"), as text. When no exit was seen, only the time the pod
 * was gone is known (an upper bound): "≤ 14.20 s (no exit seen; pod gone)".
 */
export function terminationText(
  pod: Pick<PodOutcome, "pod" | "deleteAt" | "exitedAt" | "goneAt"> | undefined,
  timeline?: Pick<Timeline, "entries">,
): string {
  if (!pod) return "-";
  const exit = containerExitAt(pod, timeline);
  if (exit !== undefined) return secondsText(exit - pod.deleteAt);
  if (pod.goneAt !== undefined) return `≤ ${secondsText(pod.goneAt - pod.deleteAt)} (no exit seen; pod gone)`;
  return "-";
}

export { goneMeaning } from "../verdict/verdicts.js";

/**
 * The exit as believed, with where it comes from: the code and its source, every source's word, and
 * any disagreement (e.g. the API's 137/ContainerStatusUnknown against containerd's 143).
 */
export function exitEvidenceText(pod: PodOutcome): string | undefined {
  const ev = pod.exitEvidence;
  if (!ev) return undefined;
  const at = (t: number | undefined) => (t === undefined ? "time unknown" : signedSeconds(t - pod.deleteAt));
  const code =
    ev.code === undefined ? `unknown (${ev.unknown ?? "no reliable source"})` : `${ev.code} from the ${ev.chosen}`;
  const sources = ev.sources
    .map(
      (s) =>
        `${s.source} ${s.code ?? "no code"}${s.reason ? ` ${s.reason}` : ""}${s.reliable ? "" : " (unreliable)"} at ${at(s.at)}`,
    )
    .join("; ");
  return `exit ${code} — sources: ${sources}${ev.disagreement ? `; ${ev.disagreement}` : ""}; ${ev.killedWhy}`;
}
