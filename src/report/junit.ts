// JUnit XML for CI: one <testsuite> per run, one <testcase> per verdict of each scenario
// (classname "<scenario>.<backend>", like the result file's name; name = the verdict's name). A
// failed verdict carries a <failure> naming expected, actual and evidence; a scenario that errored
// gets a testcase "run" with an <error> carrying the error message. A run with exercise evidence
// gets a testcase "exercise" (did the disrupted pod carry traffic?); an INCONCLUSIVE run's
// "exercise" carries an <error type="Inconclusive"> with the reasons — never a pass — and its
// verdicts are <skipped> (they back nothing). Escaping by hand: the text is ours, the rules are few
// (five entities, and the characters XML 1.0 cannot carry at all).

import type { ScenarioResult } from "../runner/run.js";
import { exerciseHeadline, reportedInconclusiveReasons, runStatus, verdictUndecided } from "../runner/status.js";
import { harnessClockLine } from "../verdict/trust.js";
import { containerLines, failureCauseLines } from "./containers.js";
import { replaceNonXmlChars } from "./html-markup.js";
import { exerciseFigures, statusWord, warmUpText } from "./status.js";
import { voluntaryLines } from "./voluntary.js";

/** A character XML cannot carry, made visible: U+0007 → "\\u0007". */
function visible(ch: string): string {
  return `\\u${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`;
}

/** Escapes text for element content (CR as a reference: a parser would turn it into LF). */
export function escapeXmlText(value: unknown): string {
  return replaceNonXmlChars(String(value ?? ""), visible)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/\r/g, "&#13;");
}

/**
 * Escapes text for a double-quoted attribute value; tab, LF and CR become character references
 * (a parser would otherwise normalise them to spaces).
 */
export function escapeXmlAttr(value: unknown): string {
  return escapeXmlText(value)
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;")
    .replace(/\t/g, "&#9;")
    .replace(/\n/g, "&#10;");
}

function attrs(values: Record<string, string | number | undefined>): string {
  return Object.entries(values)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${escapeXmlAttr(v)}"`)
    .join("");
}

export interface JunitCase {
  classname: string;
  name: string;
  /** Seconds. */
  time: number;
  failure?: { message: string; type: string; body: string };
  error?: { message: string; type: string; body: string };
  /** Not judged (the verdicts of an INCONCLUSIVE run). */
  skipped?: { message: string };
  systemOut?: string;
}

export interface JunitSuite {
  name: string;
  /** ISO 8601 without zone, as JUnit readers expect. */
  timestamp?: string;
  /** Seconds. */
  time: number;
  properties: Array<[string, string]>;
  cases: JunitCase[];
}

/** "exec-form-prestop-sleep.local": the scenario and the backend, as in the result file's name. */
export function junitClassname(r: Pick<ScenarioResult, "scenario" | "backend">): string {
  return `${r.scenario.name}.${r.backend}`;
}

/** The exercise evidence of a run as text lines: status, reasons, warm-up, per pod its figures. */
export function exerciseBody(r: ScenarioResult): string[] {
  const status = runStatus(r);
  const lines = [`status: ${statusWord(status)}`];
  if (status === "inconclusive")
    for (const reason of reportedInconclusiveReasons(r)) lines.push(`inconclusive: ${reason}`);
  if (r.warmUp) lines.push(`warm-up: ${warmUpText(r.warmUp)}`);
  if (r.trust) lines.push(harnessClockLine(r.trust, r.scenario));
  lines.push(...voluntaryLines(r));
  for (const pod of r.pods) {
    if (!pod.exercise) {
      lines.push(`pod ${pod.pod}: no exercise evidence`);
      continue;
    }
    lines.push(`pod ${pod.pod}${pod.node ? ` (node ${pod.node})` : ""}: ${exerciseHeadline(pod.exercise)}`);
    for (const f of exerciseFigures(pod.exercise)) lines.push(`  ${f.label}: ${f.value}`);
  }
  for (const pod of r.pods) {
    for (const line of containerLines(pod, r.scenario.port)) lines.push(`pod ${pod.pod} ${line}`);
    for (const w of failureCauseLines(pod)) {
      lines.push(`pod ${pod.pod} failures caused by ${w.says}${w.fix ? ` (fix to measure: ${w.fix})` : ""}`);
    }
  }
  return lines;
}

/**
 * Test cases of one scenario run: its verdicts (skipped when the run is INCONCLUSIVE), "exercise"
 * when there is exercise evidence or the run is inconclusive, and "run" with an <error> when it errored.
 */
export function junitCases(r: ScenarioResult): JunitCase[] {
  const classname = junitClassname(r);
  const resultFile = `${classname}.json`;
  const status = runStatus(r);
  const inconclusive = status === "inconclusive";
  const reasons = inconclusive ? reportedInconclusiveReasons(r) : [];
  const cases: JunitCase[] = r.verdicts.map((v) => {
    const body = `expected: ${v.expected}\nactual: ${v.actual}\nevidence: ${v.evidence}\nresult file: ${resultFile}`;
    const undecided = verdictUndecided(v);
    if (inconclusive || undecided !== undefined) {
      const outcome = undecided !== undefined ? `could not be decided (${undecided})` : v.pass ? "passed" : "failed";
      return {
        classname,
        name: v.name,
        time: 0,
        skipped: {
          message:
            `not judged: ${inconclusive ? `the run is INCONCLUSIVE (${reasons.join("; ")}); ` : ""}` +
            `the verdict ${outcome}: expected ${v.expected}, actual ${v.actual}`,
        },
        systemOut: body,
      };
    }
    return {
      classname,
      name: v.name,
      time: 0,
      ...(v.pass
        ? { systemOut: body }
        : {
            failure: {
              message: `expected ${v.expected}, actual ${v.actual}; evidence: ${v.evidence}`,
              type: "verdict",
              body,
            },
          }),
    };
  });
  if (inconclusive || r.warmUp !== undefined || r.pods.some((p) => p.exercise !== undefined)) {
    const body = [...exerciseBody(r), `result file: ${resultFile}`].join("\n");
    cases.push({
      classname,
      name: "exercise",
      time: 0,
      ...(inconclusive
        ? { error: { message: `INCONCLUSIVE: ${reasons.join("; ")}`, type: "Inconclusive", body } }
        : { systemOut: body }),
    });
  }
  if (r.error !== undefined) {
    cases.push({
      classname,
      name: "run",
      time: r.durationMs / 1000,
      error: {
        message: r.error,
        type: "ScenarioError",
        body: [
          `error: ${r.error}`,
          `run: ${r.runId}`,
          `scenario file: ${r.file}`,
          `result file: ${resultFile}`,
          ...r.warnings.map((w) => `warning: ${w}`),
        ].join("\n"),
      },
    });
  } else if (cases.length === 0) {
    // No expectations and no error: still one testcase, so the scenario shows up as having run.
    cases.push({
      classname,
      name: "run",
      time: r.durationMs / 1000,
      systemOut: "no expectations in this scenario",
    });
  }
  return cases;
}

/** Drops milliseconds and the zone: "2026-11-27T00:31:09.537Z" → "2026-11-27T00:31:09". */
export function junitTimestamp(iso: string): string | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})/.exec(iso);
  return m?.[1];
}

export function junitSuite(results: ScenarioResult[], name = "graceful-e2e"): JunitSuite {
  const started = results.map((r) => r.startedAt).sort()[0];
  const backends = [...new Set(results.map((r) => r.backend))];
  return {
    name: backends.length > 0 ? `${name} (${backends.join(", ")})` : name,
    timestamp: started ? junitTimestamp(started) : undefined,
    time: results.reduce((acc, r) => acc + r.durationMs, 0) / 1000,
    properties: [
      ["backends", backends.join(",")],
      ["resultSchemaVersions", [...new Set(results.map((r) => r.schemaVersion))].join(",")],
    ],
    cases: results.flatMap(junitCases),
  };
}

function caseXml(c: JunitCase): string {
  const open = `    <testcase${attrs({ classname: c.classname, name: c.name, time: c.time.toFixed(3) })}`;
  const inner: string[] = [];
  if (c.failure) {
    inner.push(
      `      <failure${attrs({ message: c.failure.message, type: c.failure.type })}>${escapeXmlText(c.failure.body)}</failure>`,
    );
  }
  if (c.skipped) inner.push(`      <skipped${attrs({ message: c.skipped.message })}/>`);
  if (c.error) {
    inner.push(
      `      <error${attrs({ message: c.error.message, type: c.error.type })}>${escapeXmlText(c.error.body)}</error>`,
    );
  }
  if (c.systemOut) inner.push(`      <system-out>${escapeXmlText(c.systemOut)}</system-out>`);
  return inner.length === 0 ? `${open}/>` : `${open}>\n${inner.join("\n")}\n    </testcase>`;
}

export function junitXml(results: ScenarioResult[], options: { name?: string } = {}): string {
  const suite = junitSuite(results, options.name);
  const tests = suite.cases.length;
  const failures = suite.cases.filter((c) => c.failure).length;
  const errors = suite.cases.filter((c) => c.error).length;
  const skipped = suite.cases.filter((c) => c.skipped).length;
  const counts = { tests, failures, errors, skipped, time: suite.time.toFixed(3) };
  const lines = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites${attrs({ name: options.name ?? "graceful-e2e", ...counts })}>`,
    `  <testsuite${attrs({ name: suite.name, ...counts, timestamp: suite.timestamp, hostname: "localhost" })}>`,
    "    <properties>",
    ...suite.properties.map(([name, value]) => `      <property${attrs({ name, value })}/>`),
    "    </properties>",
    ...suite.cases.map(caseXml),
    "  </testsuite>",
    "</testsuites>",
  ];
  return `${lines.join("\n")}\n`;
}
