// Repeated runs of one scenario: the distribution of outcomes, and whether it is flaky.
import type { ScenarioResult } from "./run.js";

export type RepeatStatus = "pass" | "fail" | "flaky" | "error";

export interface RepeatSummary {
  scenario: string;
  runs: number;
  passed: number;
  failed: number;
  errored: number;
  /**
   * pass: every run passed. flaky: some runs passed and some failed a verdict — not a pass.
   * fail: no run passed. error: the runs that completed passed, but at least one could not
   * complete (setup failure, time limit): nothing proven either way.
   */
  status: RepeatStatus;
  /** How often each verdict passed, e.g. "failed requests": "2/3". */
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
    const passed = runs.filter((r) => r.pass).length;
    const errored = runs.filter((r) => r.error !== undefined).length;
    const tally = new Map<string, { pass: number; total: number }>();
    for (const r of runs) {
      for (const v of r.verdicts) {
        // Per-pod verdict names carry the pod name; the pods differ from run to run.
        const name = v.name.replace(/ \([^)]*\)$/, "");
        const t = tally.get(name) ?? { pass: 0, total: 0 };
        t.total++;
        if (v.pass) t.pass++;
        tally.set(name, t);
      }
    }
    const failedVerdicts = runs.filter((r) => !r.pass && r.error === undefined).length;
    const status: RepeatStatus =
      passed === runs.length ? "pass" : passed === 0 ? "fail" : failedVerdicts > 0 ? "flaky" : "error";
    return {
      scenario,
      runs: runs.length,
      passed,
      failed: runs.length - passed,
      errored,
      status,
      verdicts: Object.fromEntries([...tally.entries()].map(([k, t]) => [k, `${t.pass}/${t.total}`])),
    };
  });
}

const STATUS_NOTE: Record<RepeatStatus, string> = {
  pass: "",
  fail: "",
  flaky: " → FLAKY: the verdicts differ across repeats, so this is not a pass",
  error: " → ERROR: not every run completed, so this is not a pass",
};

/** e.g. "PASS  a: 3/3 pass — failed requests 3/3", "FLAKY b: 2/3 pass → FLAKY: ... — failed requests 2/3". */
export function formatRepeatSummaries(summaries: RepeatSummary[]): string {
  const lines = ["repeats (verdict distribution per scenario):"];
  for (const s of summaries) {
    const verdicts = Object.entries(s.verdicts)
      .map(([k, v]) => `${k} ${v}`)
      .join("; ");
    lines.push(
      `  ${s.status.toUpperCase().padEnd(5)} ${s.scenario}: ${s.passed}/${s.runs} pass` +
        `${s.errored ? `, ${s.errored} errored` : ""}${STATUS_NOTE[s.status]}` +
        (verdicts ? ` — ${verdicts}` : ""),
    );
  }
  return lines.join("\n");
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
