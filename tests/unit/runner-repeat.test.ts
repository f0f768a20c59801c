import { describe, expect, it } from "vitest";
import { defaultParallelism } from "../../src/cli/main.js";
import { disruptionBudgetMs, timeLimits } from "../../src/runner/limits.js";
import {
  EXIT_FAIL,
  EXIT_INCONCLUSIVE,
  EXIT_PASS,
  formatRepeatSummaries,
  runExitCode,
  runPool,
  summarizeRepeats,
} from "../../src/runner/repeat.js";
import type { ScenarioResult } from "../../src/runner/run.js";
import type { RunStatus } from "../../src/runner/status.js";
import { parseScenario } from "../../src/scenario/load.js";

const scenario = parseScenario(
  "s.yaml",
  "name: s\nimage: {style: exec-form}\npreStop: {type: sleep, seconds: 2}\nterminationGracePeriodSeconds: 8\n",
).scenario;

function result(pass: boolean, verdictPasses: boolean[], error?: string): ScenarioResult {
  return {
    schemaVersion: 1,
    scenario,
    file: "s.yaml",
    backend: "local",
    runId: "r",
    startedAt: "",
    durationMs: 0,
    platform: {},
    warnings: [],
    pods: [],
    verdicts: verdictPasses.map((p, i) => ({
      name: i === 0 ? "failed requests" : `exit (pod-${i})`,
      expected: "",
      actual: "",
      pass: p,
      evidence: "",
    })),
    status: error ? "error" : pass ? "pass" : "fail",
    pass,
    ...(error ? { error } : {}),
  };
}

/** A run whose disrupted pod carried no traffic: its verdicts (passed or not) back nothing. */
function inconclusive(verdictPasses: boolean[] = [true]): ScenarioResult {
  return {
    ...result(false, verdictPasses),
    status: "inconclusive",
    inconclusive: ["pod-1 carried no traffic: 0 connections open at the delete, 0 requests in the second before it"],
  };
}

/** A result file written before `status` existed. */
function legacy(pass: boolean, error?: string): ScenarioResult {
  const r = result(pass, [pass], error) as Partial<ScenarioResult>;
  delete r.status;
  return r as ScenarioResult;
}

describe("repeats", () => {
  it("verdicts that differ across repeats make the scenario flaky, not passed", () => {
    const [s] = summarizeRepeats([
      result(true, [true, true]),
      result(false, [false, true]),
      result(true, [true, true]),
    ]);
    expect(s).toMatchObject({ runs: 3, passed: 2, failed: 1, status: "flaky" });
    // Per-pod verdict names are grouped without the pod: pods differ from run to run.
    expect(s?.verdicts).toEqual({ "failed requests": "2/3", exit: "3/3" });
    expect(formatRepeatSummaries(summarizeRepeats([result(true, [true]), result(false, [false])]))).toMatch(
      /FLAKY s: 1\/2 pass, 1 fail → FLAKY: the verdicts differ across repeats, so this is not a pass — failed requests 1\/2/,
    );
  });

  it("all passing is pass, all failing is fail, errors are counted", () => {
    const [p] = summarizeRepeats([result(true, [true]), result(true, [true]), result(true, [true])]);
    expect(p).toMatchObject({ status: "pass", runs: 3, passed: 3 });
    expect(formatRepeatSummaries([p!])).toBe(
      "repeats (verdict distribution per scenario):\n  PASS  s: 3/3 pass — failed requests 3/3",
    );
    const [f] = summarizeRepeats([result(false, [], "setup timed out"), result(false, [false])]);
    expect(f).toMatchObject({ status: "fail", failed: 1, errored: 1, inconclusive: 0 });
  });

  it("inconclusive runs are counted on their own, never as passes or failures", () => {
    const [all] = summarizeRepeats([inconclusive(), inconclusive([false]), inconclusive()]);
    expect(all).toMatchObject({ runs: 3, passed: 0, failed: 0, inconclusive: 3, errored: 0, status: "inconclusive" });
    expect(formatRepeatSummaries([all!])).toBe(
      "repeats (verdict distribution per scenario):\n" +
        "  INCONCLUSIVE s: 0/3 pass, 3 inconclusive → INCONCLUSIVE: in no run did the disrupted pod carry traffic, " +
        "so nothing is proven — failed requests 2/3",
    );
    // Passes next to an inconclusive run: not every run was exercised, so not a pass either.
    const [some] = summarizeRepeats([result(true, [true]), inconclusive(), result(true, [true])]);
    expect(some).toMatchObject({ passed: 2, inconclusive: 1, status: "inconclusive" });
    expect(formatRepeatSummaries([some!])).toMatch(
      /INCONCLUSIVE s: 2\/3 pass, 1 inconclusive → INCONCLUSIVE: not every run's disrupted pod carried traffic/,
    );
    // FLAKY stays for pass/fail disagreement; an inconclusive run does not hide it.
    const [flaky] = summarizeRepeats([result(true, [true]), result(false, [false]), inconclusive()]);
    expect(flaky).toMatchObject({ passed: 1, failed: 1, inconclusive: 1, status: "flaky" });
    // A failure on an exercised run is a failure, whatever the inconclusive runs say.
    expect(summarizeRepeats([result(false, [false]), inconclusive()])[0]?.status).toBe("fail");
    // A run that could not complete outranks inconclusive: nothing is proven either way.
    expect(summarizeRepeats([inconclusive(), result(false, [], "time limit")])[0]?.status).toBe("error");
  });

  it("verdicts that could not be decided are counted apart in the distribution", () => {
    const undecided = inconclusive([true, false]);
    Object.assign(undecided.verdicts[1]!, { decidable: false, inconclusive: "exit code unknown" });
    const [s] = summarizeRepeats([result(true, [true, true]), undecided]);
    expect(s?.verdicts).toEqual({ "failed requests": "2/2", exit: "1/2 (1 undecided)" });
  });

  it("result files without status: derived from pass and error", () => {
    const [s] = summarizeRepeats([legacy(true), legacy(false), legacy(false, "setup timed out")]);
    expect(s).toMatchObject({ passed: 1, failed: 1, errored: 1, inconclusive: 0, status: "flaky" });
  });

  it("passes plus a run that could not complete is an error, not a pass and not flaky", () => {
    const [e] = summarizeRepeats([result(true, [true]), result(false, [], "setup timed out after 150 s")]);
    expect(e).toMatchObject({ status: "error", passed: 1, errored: 1 });
    expect(formatRepeatSummaries([e!])).toMatch(/ERROR s: 1\/2 pass, 1 errored → ERROR: not every run completed/);
  });

  it("scenarios are summarised separately, in first-seen order", () => {
    const other = { ...result(false, [false]), scenario: { ...scenario, name: "t" } };
    const summaries = summarizeRepeats([result(true, [true]), other, result(true, [true]), other]);
    expect(summaries.map((s) => [s.scenario, s.status])).toEqual([
      ["s", "pass"],
      ["t", "fail"],
    ]);
  });

  it("run's exit code: 0 all passed, 1 a failure or an error, 3 none failed but some inconclusive", () => {
    const of = (...statuses: RunStatus[]) =>
      runExitCode(
        statuses.map((s) =>
          s === "inconclusive"
            ? inconclusive()
            : s === "error"
              ? result(false, [], "deploy timed out")
              : result(s === "pass", [s === "pass"]),
        ),
      );
    expect([EXIT_PASS, EXIT_FAIL, EXIT_INCONCLUSIVE]).toEqual([0, 1, 3]);
    expect(of("pass", "pass")).toBe(0);
    expect(of("pass", "fail")).toBe(1);
    expect(of("pass", "error")).toBe(1);
    expect(of("inconclusive", "error")).toBe(1);
    expect(of("inconclusive", "fail")).toBe(1);
    expect(of("pass", "inconclusive")).toBe(3);
    expect(of("inconclusive")).toBe(3);
    // An inconclusive run whose verdicts "failed" is still inconclusive: nothing was exercised.
    expect(runExitCode([inconclusive([false])])).toBe(3);
    // --repeat: a flaky scenario has a failed run.
    expect(runExitCode([result(true, [true]), result(false, [false])])).toBe(1);
    expect(runExitCode([legacy(true), legacy(true)])).toBe(0);
    expect(runExitCode([legacy(true), legacy(false, "x")])).toBe(1);
  });

  it("runPool keeps order and never runs more than the limit at once", async () => {
    let running = 0;
    let peak = 0;
    const tasks = [30, 10, 20, 5].map((ms, i) => async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, ms));
      running--;
      return i;
    });
    expect(await runPool(tasks, 2)).toEqual([0, 1, 2, 3]);
    expect(peak).toBe(2);
  });

  it("runPool stops taking new tasks once told to stop", async () => {
    let stop = false;
    const tasks = [0, 1, 2].map((i) => async () => {
      stop = true;
      return i;
    });
    expect(await runPool(tasks, 1, () => stop)).toEqual([0]);
  });

  it("local runs one at a time on this 2-core machine", () => {
    expect(defaultParallelism("local", 2)).toBe(1);
    expect(defaultParallelism("local", 8)).toBe(2);
    // Every run's Service claims the same NodePort: one at a time, whatever the cores.
    expect(defaultParallelism("kind", 16)).toBe(1);
    expect(defaultParallelism("existing", 16)).toBe(1);
  });
});

describe("time limits", () => {
  it("scale with the scenario's own grace, preStop and load, and with --timeout-scale", () => {
    const l = timeLimits(scenario);
    expect(l.scenario).toBeGreaterThan(scenario.disruption.atSeconds * 1000 + disruptionBudgetMs(scenario));
    const longer = parseScenario(
      "s.yaml",
      "name: s\nimage: {style: exec-form}\nterminationGracePeriodSeconds: 60\n",
    ).scenario;
    expect(timeLimits(longer).scenario).toBe(l.scenario + 52_000 - 2_000); // +52 s of grace, -2 s of preStop
    const doubled = timeLimits(scenario, 2);
    for (const k of ["setup", "scenario", "teardown"] as const)
      expect(Math.abs(doubled[k] - 2 * l[k])).toBeLessThanOrEqual(1);
  });
});
