// Repeated runs of one scenario: the distribution of outcomes, and whether it is flaky; and the
// exit code of `run` for a list of results.
import type { ScenarioResult } from "./run.js";
import { reportedInconclusiveReasons, runStatus, verdictUndecided } from "./status.js";

export type RepeatStatus = "pass" | "fail" | "flaky" | "inconclusive" | "error";

export interface RepeatSummary {
  scenario: string;
  runs: number;
  /** Runs by status; they add up to `runs`. */
  passed: number;
  /** Runs that failed a verdict on an exercised disruption (status fail). */
  failed: number;
  /** Runs whose evidence cannot back their verdicts (no traffic shown, an undecidable verdict, a saturated harness). */
  inconclusive: number;
  /** Why those runs were inconclusive: each distinct reason once. */
  inconclusiveReasons: string[];
  /** True when every one of those reasons is a disrupted pod not shown to carry traffic. */
  onlyTraffic: boolean;
  errored: number;
  /**
   * pass: every run passed. flaky: some runs passed and some failed a verdict — not a pass.
   * fail: runs failed a verdict and none passed. error: no run failed, but at least one could not
   * complete (setup failure, time limit): nothing proven either way. inconclusive: no run failed or
   * errored, but at least one was inconclusive (all of them: nothing was exercised at all) — not a pass.
   */
  status: RepeatStatus;
  /** How often each verdict passed, e.g. "failed requests": "2/3", "exit": "1/3 (2 undecided)". */
  verdicts: Record<string, string>;
}

/** Groups results by scenario (in first-seen order) and summarises each group. Pure. */
export function summarizeRepeats(results: ScenarioResult[]): RepeatSummary[] {
  const groups = new Map<string, ScenarioResult[]>();
  for (const r of results) {
    const list = groups.get(r.scenario.name) ?? [];
    list.push(r);
    groups.set(r.scenario.name, list);
  }
  return [...groups.entries()].map(([scenario, runs]) => {
    const count = (status: string) => runs.filter((r) => runStatus(r) === status).length;
    const passed = count("pass");
    const failed = count("fail");
    const inconclusive = count("inconclusive");
    const errored = count("error");
    const tally = new Map<string, { pass: number; total: number; undecided: number }>();
    for (const r of runs) {
      for (const v of r.verdicts) {
        // Per-pod verdict names carry the pod name; the pods differ from run to run.
        const name = v.name.replace(/ \([^)]*\)$/, "");
        const t = tally.get(name) ?? { pass: 0, total: 0, undecided: 0 };
        t.total++;
        if (verdictUndecided(v) !== undefined) t.undecided++;
        else if (v.pass) t.pass++;
        tally.set(name, t);
      }
    }
    const unexercised = runs.flatMap((r) =>
      r.pods.filter((p) => p.exercise && p.exercise.status !== "exercised").map((p) => p.exercise?.summary),
    );
    const reasons = [
      ...new Set(runs.filter((r) => runStatus(r) === "inconclusive").flatMap(reportedInconclusiveReasons)),
    ];
    const status: RepeatStatus =
      failed > 0 ? (passed > 0 ? "flaky" : "fail") : errored > 0 ? "error" : inconclusive > 0 ? "inconclusive" : "pass";
    return {
      scenario,
      runs: runs.length,
      passed,
      failed,
      inconclusive,
      inconclusiveReasons: reasons,
      onlyTraffic: reasons.every((why) => unexercised.includes(why) || / carried no traffic/.test(why)),
      errored,
      status,
      verdicts: Object.fromEntries(
        [...tally.entries()].map(([k, t]) => [
          k,
          `${t.pass}/${t.total}${t.undecided > 0 ? ` (${t.undecided} undecided)` : ""}`,
        ]),
      ),
    };
  });
}

function statusNote(s: RepeatSummary): string {
  switch (s.status) {
    case "flaky":
      return " → FLAKY: the verdicts differ across repeats, so this is not a pass";
    case "error":
      return " → ERROR: not every run completed, so this is not a pass";
    case "inconclusive":
      if (!s.onlyTraffic) return ` → INCONCLUSIVE: ${s.inconclusiveReasons.join("; ")}, so this is not a pass`;
      return s.inconclusive === s.runs
        ? " → INCONCLUSIVE: in no run did the disrupted pod carry traffic, so nothing is proven"
        : " → INCONCLUSIVE: not every run's disrupted pod carried traffic, so this is not a pass";
    default:
      return "";
  }
}

/**
 * e.g. "PASS  a: 3/3 pass — failed requests 3/3", "FLAKY b: 2/3 pass, 1 fail → FLAKY: ... — failed requests 2/3",
 * "INCONCLUSIVE c: 0/3 pass, 3 inconclusive → INCONCLUSIVE: ...".
 */
export function formatRepeatSummaries(summaries: RepeatSummary[]): string {
  const lines = ["repeats (verdict distribution per scenario):"];
  for (const s of summaries) {
    const verdicts = Object.entries(s.verdicts)
      .map(([k, v]) => `${k} ${v}`)
      .join("; ");
    const others = [
      s.failed ? `${s.failed} fail` : "",
      s.inconclusive ? `${s.inconclusive} inconclusive` : "",
      s.errored ? `${s.errored} errored` : "",
    ].filter(Boolean);
    lines.push(
      `  ${s.status.toUpperCase().padEnd(5)} ${s.scenario}: ${s.passed}/${s.runs} pass` +
        `${others.map((o) => `, ${o}`).join("")}${statusNote(s)}` +
        (verdicts ? ` — ${verdicts}` : ""),
    );
  }
  return lines.join("\n");
}

/** `run`'s exit codes for the runs' outcomes (2 for bad input and 130/143 are decided elsewhere). */
export const EXIT_PASS = 0;
export const EXIT_FAIL = 1;
export const EXIT_INCONCLUSIVE = 3;

/**
 * 0 when every run passed; 1 when any run failed a verdict or errored (with --repeat: any scenario
 * FAIL, FLAKY or ERROR); 3 when none did but some run was inconclusive. Pure.
 */
export function runExitCode(results: ScenarioResult[]): number {
  const statuses = new Set(results.map(runStatus));
  if (statuses.has("fail") || statuses.has("error")) return EXIT_FAIL;
  if (statuses.has("inconclusive")) return EXIT_INCONCLUSIVE;
  return EXIT_PASS;
}

/** Runs tasks with at most `limit` at a time; results keep the tasks' order. */
export async function runPool<T>(tasks: Array<() => Promise<T>>, limit: number, stop?: () => boolean): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length && !stop?.()) {
      const index = next++;
      const task = tasks[index];
      if (task) results[index] = await task();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, tasks.length)) }, worker));
  return results.filter((r) => r !== undefined);
}
