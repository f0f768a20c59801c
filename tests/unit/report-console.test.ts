import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { ExerciseEvidence } from "../../src/model/exercise.js";
import { formatResult, formatResults, formatTimeline, summaryRows } from "../../src/report/console.js";
import { exerciseFigures, lastNewConnectionText, terminationText, warmUpText } from "../../src/report/status.js";
import { readResults } from "../../src/report/write.js";
import type { ScenarioResult, WarmUpReport } from "../../src/runner/run.js";
import { hasStatus, runStatus } from "../../src/runner/status.js";

const FIXTURES = join(import.meta.dirname, "../fixtures/scenario-results");

let fixtures: ScenarioResult[];
beforeAll(async () => {
  fixtures = await readResults(FIXTURES);
});

function fixture(name: string): ScenarioResult {
  const r = fixtures.find((x) => x.scenario.name === name);
  if (!r) throw new Error(`fixture ${name} missing`);
  return structuredClone(r);
}

const NOT_EXERCISED: Omit<ExerciseEvidence, "pod"> = {
  status: "not-exercised",
  sources: ["service-proxy", "x-served-by"],
  openConnectionsAtDelete: 0,
  servedInSecondBeforeDelete: 0,
  answeredAfterSigterm: 0,
  servedTotal: 0,
  connectionsRouted: 0,
  lastNewConnectionMs: -1250,
  newConnectionsAfterDelete: 0,
  summary: "no connection was open to it at the delete and it answered nothing in the second before it",
};

const EXERCISED: Omit<ExerciseEvidence, "pod"> = {
  status: "exercised",
  sources: ["service-proxy", "x-served-by"],
  openConnectionsAtDelete: 4,
  servedInSecondBeforeDelete: 57,
  answeredAfterSigterm: 12,
  servedTotal: 260,
  connectionsRouted: 6,
  lastNewConnectionMs: 980,
  newConnectionsAfterDelete: 2,
  summary: "4 connections open at the delete; 57 requests answered in the second before it",
};

const WARM_UP: WarmUpReport = {
  startedAt: 1000,
  endedAt: 1350,
  pods: ["pod-a", "pod-b"],
  answered: ["pod-a", "pod-b"],
  probes: 12,
  complete: true,
};

/** The exec-form fixture turned into an inconclusive run: its disrupted pod carried nothing. */
function inconclusiveRun(): ScenarioResult {
  const r = fixture("exec-form-prestop-sleep");
  const pod = r.pods[0]!;
  pod.exercise = { pod: pod.pod, ...NOT_EXERCISED };
  r.status = "inconclusive";
  r.pass = false;
  r.inconclusive = [`${pod.pod} carried no traffic when it was deleted`];
  r.warmUp = { ...WARM_UP, answered: ["pod-a"], complete: false, endedAt: 11_000, probes: 40 };
  return r;
}

describe("statuses in the console table", () => {
  it("PASS, FAIL, INCONCLUSIVE, ERROR in the verdict column", () => {
    const pass = fixture("exec-form-prestop-sleep");
    const fail = fixture("single-failure-500");
    const error: ScenarioResult = { ...fixture("shell-form-no-prestop"), status: "error", pass: false, error: "x" };
    const rows = summaryRows([pass, fail, inconclusiveRun(), error]);
    expect(rows[0]?.at(-1)).toBe("verdict");
    expect(rows.slice(1).map((r) => r.at(-1))).toEqual(["PASS", "FAIL", "INCONCLUSIVE", "ERROR"]);
  });

  it("a result file without status: derived from pass and error", () => {
    const r = fixture("exec-form-prestop-sleep") as Partial<ScenarioResult>;
    delete r.status;
    const legacy = r as ScenarioResult;
    expect(hasStatus(legacy)).toBe(false);
    expect(runStatus(legacy)).toBe("pass");
    expect(runStatus({ ...legacy, pass: false })).toBe("fail");
    expect(runStatus({ ...legacy, pass: false, error: "boom" })).toBe("error");
    expect(summaryRows([legacy])[1]?.at(-1)).toBe("PASS");
    expect(formatResult(legacy).join("\n")).toContain("(no exercise evidence: result written before");
  });
});

describe("an inconclusive run's block", () => {
  it("says why, then the warm-up and each disrupted pod's exercise evidence", () => {
    const r = inconclusiveRun();
    const pod = r.pods[0]!;
    const text = formatResult(r).join("\n");
    expect(text.split("\n")[0]).toBe(`INCONCLUSIVE exec-form-prestop-sleep (local, ${r.platform.runtime})`);
    expect(text).toContain(
      `  inconclusive: the verdicts below back nothing, because\n    - ${pod.pod} carried no traffic when it was deleted`,
    );
    expect(text).toContain(
      "  warm-up: 1/2 pod(s) answered through the Service in 10.00 s (40 probe(s)), INCOMPLETE: the bound ran out first; not answered: pod-b",
    );
    expect(text).toContain(`    exercise: not-exercised — ${NOT_EXERCISED.summary}`);
    for (const line of [
      "      connections open at the delete: 0",
      "      requests served in the second before the delete: 0",
      "      requests answered after SIGTERM: 0",
      "      delete → last new connection routed to it: none after the delete (the last at −1.25 s)",
      "      sources: service-proxy, x-served-by",
    ]) {
      expect(text).toContain(line);
    }
    // The verdicts are still listed (they are in the JSON), after the reasons.
    expect(text.indexOf("✓ failed requests")).toBeGreaterThan(text.indexOf("inconclusive:"));
  });

  it("an exercised pod's figures", () => {
    const r = fixture("exec-form-prestop-sleep");
    r.pods[0]!.exercise = { pod: r.pods[0]!.pod, ...EXERCISED };
    r.warmUp = WARM_UP;
    const text = formatResults([r]);
    expect(text).toContain("PASS exec-form-prestop-sleep");
    expect(text).toContain("  warm-up: 2/2 pod(s) answered through the Service in 0.35 s (12 probe(s)), complete");
    expect(text).toContain(`    exercise: exercised — ${EXERCISED.summary}`);
    expect(text).toContain("      connections open at the delete: 4");
    expect(text).toContain("      requests served in the second before the delete: 57");
    expect(text).toContain("      requests answered after SIGTERM: 12");
    expect(text).toContain("      delete → last new connection routed to it: +0.98 s (2 new after the delete)");
    expect(text).not.toContain("inconclusive");
  });

  it("a verdict the evidence could not decide is marked '?', with why", () => {
    const r = inconclusiveRun();
    Object.assign(r.verdicts[2]!, {
      pass: false,
      decidable: false,
      inconclusive: "only the API's made-up 137 was recorded",
    });
    const text = formatResult(r).join("\n");
    expect(text).toMatch(
      /\n {2}\? exit \([^)]*\): expected graceful, .* \(undecided: only the API's made-up 137 was recorded\)/,
    );
  });

  it("an errored run says ERROR, not FAIL", () => {
    const r: ScenarioResult = { ...fixture("single-failure-500"), status: "error", pass: false, error: "teardown x" };
    expect(formatResult(r).slice(0, 2)).toEqual([
      `ERROR single-failure-500 (local, ${r.platform.runtime})`,
      "  error: teardown x",
    ]);
  });
});

describe("termination and gone", () => {
  it("termination is delete → container exit; gone is reported separately, in the backend's words", () => {
    const r = fixture("exec-form-prestop-sleep");
    const pod = r.pods[0]!;
    // This (older) file has no exitedAt: the timeline's container exit is used, not the pod gone.
    const exit = r.timeline?.entries.find((e) => e.kind === "container-exit" && e.pod === pod.pod);
    expect(pod.exitedAt).toBeUndefined();
    expect(terminationText(pod, r.timeline)).toBe(`${((exit!.at - pod.deleteAt) / 1000).toFixed(2)} s`);
    const text = formatResult(r).join("\n");
    expect(text).toMatch(
      /termination \(delete → container exit\): 3\.17 s; gone \(container removed\) at \+3\.1[78] s/,
    );
    expect(formatTimeline(r).join("\n")).toMatch(/gone \(container removed\)/);
    const kind = { ...r, backend: "kind" };
    expect(formatResult(kind).join("\n")).toContain("gone (pod object deleted) at +3.17 s");
  });

  it("without any exit, only an upper bound from the pod gone", () => {
    expect(terminationText({ pod: "p", deleteAt: 1000, goneAt: 15_200 })).toBe("≤ 14.20 s (no exit seen; pod gone)");
    expect(terminationText({ pod: "p", deleteAt: 1000, exitedAt: 4150, goneAt: 15_200 })).toBe("3.15 s");
    expect(terminationText({ pod: "p", deleteAt: 1000 })).toBe("-");
    expect(terminationText(undefined)).toBe("-");
  });
});

describe("evidence words", () => {
  it("last new connection: after the delete, or none after it", () => {
    expect(lastNewConnectionText({ lastNewConnectionMs: 980, newConnectionsAfterDelete: 3 })).toBe(
      "+0.98 s (3 new after the delete)",
    );
    expect(lastNewConnectionText({ lastNewConnectionMs: -40 })).toBe("none after the delete (the last at −0.04 s)");
    expect(lastNewConnectionText({})).toBeUndefined();
  });

  it("figures leave out what was not measured", () => {
    const figures = exerciseFigures({ pod: "p", status: "unproven", sources: [], summary: "no node access" });
    expect(figures).toEqual([{ key: "sources", label: "sources", value: "none" }]);
  });

  it("warm-up with a note", () => {
    expect(warmUpText({ ...WARM_UP, note: "x-served-by missing" })).toBe(
      "2/2 pod(s) answered through the Service in 0.35 s (12 probe(s)), complete — x-served-by missing",
    );
  });
});

describe("what a run changed in the cluster", () => {
  it("lists the mutations (a running target's deleted pod) and says nothing when there are none", () => {
    const r = fixture("exec-form-prestop-sleep");
    expect(formatResult(r).join("\n")).not.toContain("changed in the cluster");
    r.mutations = ["deleted pod shop/web-7d9c-abcde at +0.00 s"];
    expect(formatResult(r)).toContain("  changed in the cluster: deleted pod shop/web-7d9c-abcde at +0.00 s");
  });
});
