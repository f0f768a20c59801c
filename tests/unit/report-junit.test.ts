import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { escapeXmlAttr, escapeXmlText, junitCases, junitTimestamp, junitXml } from "../../src/report/junit.js";
import { readResults, writeReports } from "../../src/report/write.js";
import type { ScenarioResult } from "../../src/runner/run.js";
import { writeResult } from "../../src/runner/steps.js";
import { ScenarioSpec } from "../../src/scenario/schema.js";

const FIXTURES = join(import.meta.dirname, "../fixtures/scenario-results");

/** A run that failed before any load: error set, no load, no timeline, nothing verdicted. */
function erroredResult(error: string, name = "broken-image"): ScenarioResult {
  return {
    schemaVersion: 1,
    scenario: ScenarioSpec.parse({ name, image: { ref: "example.invalid/app:1" } }),
    file: "fixtures/scenarios/broken.yaml",
    backend: "local",
    runId: "20261127000000-abcdef",
    startedAt: "2026-11-27T00:00:00.000Z",
    durationMs: 1234,
    platform: {},
    warnings: [],
    error,
    pods: [],
    verdicts: [],
    status: "error",
    pass: false,
  };
}

/** Attribute values of every `<tag ...>` in document order (a reader for our own output only). */
function tags(xml: string, tag: string): Array<Record<string, string>> {
  const out: Array<Record<string, string>> = [];
  for (const m of xml.matchAll(new RegExp(`<${tag}((?:\\s+[\\w:-]+="[^"]*")*)\\s*/?>`, "g"))) {
    out.push(Object.fromEntries([...(m[1] ?? "").matchAll(/([\w:-]+)="([^"]*)"/g)].map((a) => [a[1], a[2]])));
  }
  return out;
}

describe("XML escaping", () => {
  it("escapes the markup characters in text", () => {
    expect(escapeXmlText(`a < b && c > "d" 'e'`)).toBe(`a &lt; b &amp;&amp; c &gt; "d" 'e'`);
    expect(escapeXmlText("]]>")).toBe("]]&gt;");
    expect(escapeXmlText("&amp;")).toBe("&amp;amp;");
  });

  it("escapes quotes and keeps tab, newline and CR through attribute normalisation", () => {
    expect(escapeXmlAttr(`say "hi" & 'bye' <now>`)).toBe("say &quot;hi&quot; &amp; &apos;bye&apos; &lt;now&gt;");
    expect(escapeXmlAttr("a\tb\nc\r\nd")).toBe("a&#9;b&#10;c&#13;&#10;d");
    expect(escapeXmlText("a\r\nb")).toBe("a&#13;\nb");
  });

  it("replaces characters XML 1.0 cannot carry with a visible escape, keeps the rest of Unicode", () => {
    expect(escapeXmlText("bell\u0007 nul\u0000 esc\u001b")).toBe("bell\\u0007 nul\\u0000 esc\\u001B");
    expect(escapeXmlText("x\uFFFEy\uFFFF")).toBe("x\\uFFFEy\\uFFFF");
    // A lone surrogate is not a character; a proper pair is.
    expect(escapeXmlText("lone \uD800 end")).toBe("lone \\uD800 end");
    expect(escapeXmlText("ok 🚀 ≤ 0 — é")).toBe("ok 🚀 ≤ 0 — é");
  });

  it("writes nothing for undefined and stringifies numbers", () => {
    expect(escapeXmlText(undefined)).toBe("");
    expect(escapeXmlAttr(143)).toBe("143");
  });
});

describe("junit timestamp", () => {
  it("drops milliseconds and the zone", () => {
    expect(junitTimestamp("2026-11-27T00:31:09.537Z")).toBe("2026-11-27T00:31:09");
    expect(junitTimestamp("not a date")).toBeUndefined();
  });
});

describe("JUnit XML from real results", () => {
  let results: ScenarioResult[];
  let xml: string;
  beforeAll(async () => {
    results = await readResults(FIXTURES);
    xml = junitXml(results);
  });

  it("has one suite for the run and one test case per verdict", () => {
    expect(results.length).toBeGreaterThanOrEqual(3);
    expect(xml.startsWith(`<?xml version="1.0" encoding="UTF-8"?>\n<testsuites`)).toBe(true);
    const verdicts = results.reduce((acc, r) => acc + r.verdicts.length, 0);
    const failed = results.reduce((acc, r) => acc + r.verdicts.filter((v) => !v.pass).length, 0);
    const [suites] = tags(xml, "testsuites");
    const suite = tags(xml, "testsuite");
    expect(suite).toHaveLength(1);
    for (const s of [suites, suite[0]]) {
      expect(s).toMatchObject({ tests: String(verdicts), failures: String(failed), errors: "0", skipped: "0" });
    }
    expect(suite[0]?.name).toBe("graceful-e2e (local)");
    const cases = tags(xml, "testcase");
    expect(cases).toHaveLength(verdicts);
    expect(cases.map((c) => `${c.classname} / ${c.name}`)).toEqual(
      results.flatMap((r) => r.verdicts.map((v) => `${r.scenario.name}.${r.backend} / ${escapeXmlAttr(v.name)}`)),
    );
  });

  it("a failed verdict's failure names expected, actual and evidence", () => {
    const single = results.find((r) => r.scenario.name === "single-failure-500");
    const v = single?.verdicts.find((x) => !x.pass);
    expect(v).toBeDefined();
    const failures = tags(xml, "failure");
    expect(failures).toHaveLength(1);
    expect(failures[0]?.type).toBe("verdict");
    expect(failures[0]?.message).toBe(
      escapeXmlAttr(`expected ${v?.expected}, actual ${v?.actual}; evidence: ${v?.evidence}`),
    );
    expect(xml).toContain(
      `>${escapeXmlText(`expected: ${v?.expected}\nactual: ${v?.actual}\nevidence: ${v?.evidence}`)}`,
    );
  });

  it("passed verdicts carry their evidence in system-out", () => {
    const exec = results.find((r) => r.scenario.name === "exec-form-prestop-sleep");
    for (const c of junitCases(exec as ScenarioResult)) {
      expect(c.failure).toBeUndefined();
      expect(c.systemOut).toMatch(
        /^expected: .*\nactual: .*\nevidence: .*\nresult file: exec-form-prestop-sleep\.local\.json$/,
      );
    }
  });
});

describe("JUnit XML for a run that failed early", () => {
  it("gives the errored scenario one test case with an <error> carrying the message, escaped", () => {
    const message = `image "a<b>&c" not found\n\tat build\u0007`;
    const xml = junitXml([erroredResult(message)]);
    const cases = tags(xml, "testcase");
    expect(cases).toEqual([{ classname: "broken-image.local", name: "run", time: "1.234" }]);
    const errors = tags(xml, "error");
    expect(errors).toEqual([
      { message: "image &quot;a&lt;b&gt;&amp;c&quot; not found&#10;&#9;at build\\u0007", type: "ScenarioError" },
    ]);
    expect(tags(xml, "testsuites")[0]).toMatchObject({ tests: "1", failures: "0", errors: "1" });
    // The text body never carries a raw markup character from the message.
    const body = /<error [^>]*>([^<]*)<\/error>/.exec(xml)?.[1];
    expect(body).toContain('error: image "a&lt;b&gt;&amp;c" not found\n\tat build\\u0007');
    expect(body).toContain("result file: broken-image.local.json");
  });

  it("keeps the verdicts of an errored scenario, if any, next to the error", () => {
    const r = erroredResult("teardown failed");
    r.verdicts = [
      { name: "failed requests", expected: "≤ 0", actual: "0", pass: true, evidence: "0 failed of 10 sent" },
    ];
    expect(junitCases(r).map((c) => [c.name, c.error !== undefined])).toEqual([
      ["failed requests", false],
      ["run", true],
    ]);
  });

  it("a scenario with no expectations still appears, as a passing test case", () => {
    const r = erroredResult("x");
    delete r.error;
    r.pass = true;
    expect(junitCases(r)).toEqual([
      { classname: "broken-image.local", name: "run", time: 1.234, systemOut: "no expectations in this scenario" },
    ]);
  });

  it("an empty run is still a valid document", () => {
    const xml = junitXml([]);
    expect(tags(xml, "testsuites")[0]).toMatchObject({ tests: "0", failures: "0", errors: "0" });
    expect(tags(xml, "testcase")).toHaveLength(0);
  });
});

describe("writing reports", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ge-junit-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("writes junit.xml and report.html for an errored run without load, next to its JSON", async () => {
    const r = erroredResult("deploy timed out after 120 s");
    const json = await writeResult(dir, r);
    const written = await writeReports(await readResults(dir), dir);
    expect(JSON.parse(await readFile(json, "utf8"))).toEqual(r);
    expect(await readFile(written.junit, "utf8")).toContain(`<error message="deploy timed out after 120 s"`);
    expect(await readFile(written.html, "utf8")).toContain("deploy timed out after 120 s");
  });
});

describe("JUnit XML: exercise and INCONCLUSIVE", () => {
  let fixtures: ScenarioResult[];
  beforeAll(async () => {
    fixtures = await readResults(FIXTURES);
  });
  const exec = () => structuredClone(fixtures.find((r) => r.scenario.name === "exec-form-prestop-sleep")!);

  function inconclusive(): ScenarioResult {
    const r = exec();
    const pod = r.pods[0]!;
    pod.exercise = {
      pod: pod.pod,
      status: "not-exercised",
      sources: ["service-proxy"],
      openConnectionsAtDelete: 0,
      servedInSecondBeforeDelete: 0,
      lastNewConnectionMs: -800,
      summary: "nothing open, nothing served",
    };
    r.verdicts[1]!.pass = false;
    r.status = "inconclusive";
    r.pass = false;
    r.inconclusive = [`${pod.pod} carried no traffic <at all>`];
    r.warmUp = { startedAt: 0, endedAt: 500, pods: ["a", "b"], answered: ["a"], probes: 9, complete: false };
    return r;
  }

  it("an inconclusive run is an <error> testcase 'exercise' with the reasons; its verdicts are skipped, never passed", () => {
    const r = inconclusive();
    const pod = r.pods[0]!.pod;
    const cases = junitCases(r);
    expect(
      cases.map((c) => [c.name, c.skipped ? "skipped" : c.error ? "error" : c.failure ? "failure" : "pass"]),
    ).toEqual([...r.verdicts.map((v) => [v.name, "skipped"]), ["exercise", "error"]]);
    const exercise = cases.at(-1)!;
    expect(exercise.error?.type).toBe("Inconclusive");
    expect(exercise.error?.message).toBe(`INCONCLUSIVE: ${pod} carried no traffic <at all>`);
    expect(exercise.error?.body.split("\n")).toEqual([
      "status: INCONCLUSIVE",
      `inconclusive: ${pod} carried no traffic <at all>`,
      "warm-up: 1/2 pod(s) answered through the Service in 0.50 s (9 probe(s)), INCOMPLETE: the bound ran out first; not answered: b",
      `pod ${pod}: not-exercised — nothing open, nothing served`,
      "  connections open at the delete: 0",
      "  requests served in the second before the delete: 0",
      "  delete → last new connection routed to it: none after the delete (the last at −0.80 s)",
      "  sources: service-proxy",
      "result file: exec-form-prestop-sleep.local.json",
    ]);
    // A verdict that failed on an unexercised run is not a failure either: it backs nothing.
    expect(cases[1]?.skipped?.message).toMatch(
      /^not judged: the run is INCONCLUSIVE \(.*\); the verdict failed: expected /,
    );
    expect(cases[0]?.skipped?.message).toMatch(/the verdict passed: expected ≤ 0, actual 0$/);
    const xml = junitXml([r]);
    expect(tags(xml, "testsuites")[0]).toMatchObject({
      tests: String(r.verdicts.length + 1),
      failures: "0",
      errors: "1",
      skipped: String(r.verdicts.length),
    });
    expect(tags(xml, "error")).toEqual([
      { message: escapeXmlAttr(`INCONCLUSIVE: ${pod} carried no traffic <at all>`), type: "Inconclusive" },
    ]);
    expect(tags(xml, "skipped")).toHaveLength(r.verdicts.length);
    expect(xml).toContain("carried no traffic &lt;at all&gt;");
  });

  it("an exercised run gets a passing 'exercise' testcase with its figures next to the verdicts", () => {
    const r = exec();
    const pod = r.pods[0]!;
    pod.exercise = {
      pod: pod.pod,
      status: "exercised",
      sources: ["service-proxy", "x-served-by"],
      openConnectionsAtDelete: 5,
      servedInSecondBeforeDelete: 61,
      answeredAfterSigterm: 4,
      lastNewConnectionMs: 990,
      newConnectionsAfterDelete: 1,
      summary: "5 connections open at the delete",
    };
    const cases = junitCases(r);
    expect(cases.map((c) => c.name)).toEqual([...r.verdicts.map((v) => v.name), "exercise"]);
    expect(cases.every((c) => !c.error && !c.failure && !c.skipped)).toBe(true);
    expect(cases.at(-1)?.systemOut).toContain("status: PASS\n");
    expect(cases.at(-1)?.systemOut).toContain("  requests answered after SIGTERM: 4\n");
    expect(cases.at(-1)?.systemOut).toContain(
      "  delete → last new connection routed to it: +0.99 s (1 new after the delete)\n",
    );
    expect(tags(junitXml([r]), "testsuites")[0]).toMatchObject({ errors: "0", failures: "0", skipped: "0" });
  });

  it("an undecidable verdict is skipped with why, never a pass or a failure", () => {
    const r = inconclusive();
    Object.assign(r.verdicts[2]!, { pass: false, decidable: false, inconclusive: "exit code unknown" });
    const c = junitCases(r)[2]!;
    expect(c.failure).toBeUndefined();
    expect(c.skipped?.message).toMatch(/the verdict could not be decided \(exit code unknown\): expected graceful/);
  });

  it("a failed run on an exercised pod keeps its <failure>", () => {
    const r = structuredClone(fixtures.find((x) => x.scenario.name === "single-failure-500")!);
    r.pods[0]!.exercise = { pod: r.pods[0]!.pod, status: "exercised", sources: ["x-served-by"], summary: "served" };
    const xml = junitXml([r]);
    expect(tags(xml, "failure")).toHaveLength(1);
    expect(tags(xml, "testsuites")[0]).toMatchObject({ failures: "1", errors: "0", skipped: "0" });
  });
});
