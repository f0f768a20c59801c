// Opens report.html (made from real result files) in Debian's Chromium through playwright-core and
// checks what a person would see against the JSON: the page loads nothing and logs no error, each
// scenario has its picture with the right markers, and the figures on the page are the JSON's.
// Also parses junit.xml with the browser's XML parser (a real one, independent of our writer).
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAILURE_KINDS } from "../../src/load/types.js";
import { sectionId } from "../../src/report/html.js";
import { readResults, writeReports } from "../../src/report/write.js";
import type { ScenarioResult } from "../../src/runner/run.js";
import { ScenarioSpec } from "../../src/scenario/schema.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ROOT = join(import.meta.dirname, "../..");
const FIXTURES = join(ROOT, "tests/fixtures/scenario-results");
/** Kept after the run for a person to look at. */
const SCREENSHOT = join(ROOT, "results/report.browser.png");

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  console.warn(
    `report browser test skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`,
  );
}

/** A run that failed before any load, with text that needs escaping everywhere. */
const NASTY = `deploy failed: "<script>alert(1)</script>" & ]]> 'quoted'\n\tnext line`;
function erroredResult(): ScenarioResult {
  return {
    schemaVersion: 1,
    scenario: ScenarioSpec.parse({ name: "errored-early", image: { ref: "example.invalid/app:1" } }),
    file: "inline.yaml",
    backend: "local",
    runId: "20261127000000-abcdef",
    startedAt: "2026-11-27T23:59:59.000Z",
    durationMs: 321,
    platform: {},
    warnings: [],
    error: NASTY,
    pods: [],
    verdicts: [],
    status: "error",
    pass: false,
  };
}

/** A real run's figures, its disrupted pod shown to have carried nothing: INCONCLUSIVE. */
function inconclusiveResult(from: ScenarioResult[]): ScenarioResult {
  const source = from.find((r) => r.scenario.name === "exec-form-prestop-sleep");
  if (!source) throw new Error("fixture exec-form-prestop-sleep missing");
  const r = structuredClone(source);
  r.scenario = { ...r.scenario, name: "exec-form-unexercised" };
  const pod = r.pods[0]!;
  pod.exercise = {
    pod: pod.pod,
    status: "not-exercised",
    sources: ["service-proxy", "x-served-by"],
    openConnectionsAtDelete: 0,
    servedInSecondBeforeDelete: 0,
    answeredAfterSigterm: 0,
    lastNewConnectionMs: -1200,
    newConnectionsAfterDelete: 0,
    summary: "no connection open at the delete; nothing served in the second before it",
  };
  r.status = "inconclusive";
  r.pass = false;
  r.inconclusive = [`${pod.pod} carried no traffic when it was deleted`];
  r.warmUp = { startedAt: 0, endedAt: 800, pods: ["a", "b"], answered: ["a", "b"], probes: 6, complete: true };
  return r;
}

type Attrs = Record<string, string | null>;

/** Given attributes (and the text) of every element matching a selector, in document order. */
async function collect(page: Page, selector: string, names: string[]): Promise<Attrs[]> {
  return page.evaluate(
    `Array.from(document.querySelectorAll(${JSON.stringify(selector)}), (e) =>
       Object.fromEntries([...${JSON.stringify(names)}.map((n) => [n, e.getAttribute(n)]), ["text", e.textContent]]))`,
  );
}

const total = (xs: Attrs[], name = "data-count") => xs.reduce((acc, x) => acc + Number(x[name]), 0);

describe.skipIf(!haveChromium)("HTML report in Chromium", () => {
  let dir: string;
  let profile: string;
  let context: BrowserContext;
  let page: Page;
  let results: ScenarioResult[];
  let reportUrl: string;
  let junit: string;
  const consoleProblems: string[] = [];
  const requested: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ge-report-"));
    profile = await mkdtemp(join(tmpdir(), "ge-chromium-"));
    const fixtures = await readResults(FIXTURES);
    results = [...fixtures, inconclusiveResult(fixtures), erroredResult()];
    const written = await writeReports(results, dir, { generatedAt: "2026-11-27T12:00:00.000Z" });
    reportUrl = pathToFileURL(written.html).href;
    junit = await readFile(written.junit, "utf8");
    // Never a Playwright-downloaded browser: Debian's, started the way this machine needs.
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1100, height: 900 },
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") consoleProblems.push(`${m.type()}: ${m.text()}`);
    });
    page.on("pageerror", (e) => consoleProblems.push(`pageerror: ${e.message}`));
    page.on("request", (r) => requested.push(r.url()));
    await page.goto(reportUrl, { waitUntil: "load" });
  });

  afterAll(async () => {
    await context?.close();
    await rm(profile, { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
  });

  it("renders without console errors and loads nothing but itself", async () => {
    expect(await page.title()).toBe("graceful-e2e report");
    expect(consoleProblems).toEqual([]);
    expect(requested).toEqual([reportUrl]);
    await mkdir(join(ROOT, "results"), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  });

  it("the summary table has the JSON's failed/sent per scenario", async () => {
    const rows = await collect(page, "#summary tr.summary-row", ["data-scenario", "data-backend"]);
    expect(rows.map((r) => r["data-scenario"])).toEqual(results.map((r) => r.scenario.name));
    const cells = await collect(page, "#summary td.failed-sent", ["data-failed", "data-sent"]);
    expect(cells).toHaveLength(results.length);
    results.forEach((r, i) => {
      const cell = cells[i]!;
      if (!r.load) {
        expect(cell).toMatchObject({ "data-failed": null, "data-sent": null, text: "-" });
        return;
      }
      expect(cell["data-failed"]).toBe(String(r.load.failed));
      expect(cell["data-sent"]).toBe(String(r.load.sent));
      expect(cell.text?.startsWith(`${r.load.failed}/${r.load.sent}`)).toBe(true);
    });
  });

  it("each measured scenario has its picture with the right markers", async () => {
    for (const r of results.filter((x) => x.load)) {
      const sec = `#${sectionId(r)}`;
      expect(await page.locator(`${sec} svg.timeline`).count(), r.scenario.name).toBe(1);
      const markers = await collect(page, `${sec} svg [data-marker]`, ["data-marker", "data-t", "data-process"]);
      const kinds = markers.map((m) => m["data-marker"]);
      const received = (r.timeline?.entries ?? []).filter(
        (e) => e.kind === "app-signal" && e.detail?.signal === "SIGTERM",
      );
      const sigterms = markers.filter((m) => m["data-marker"] === "sigterm");
      expect(sigterms.map((m) => [m["data-t"], m["data-process"]])).toEqual(
        received.map((e) => [String(e.t), e.process]),
      );
      expect(markers.find((m) => m["data-marker"] === "delete")?.["data-t"]).toBe("0");
      expect(kinds).toContain("endpoint-removed");
      expect(kinds).toContain("exit");
      expect(kinds.includes("sigkill")).toBe(r.pods.some((p) => p.sigkilled));
      // Drawn, not just present: the marker's line has a height on screen.
      const box = await page.locator(`${sec} svg [data-marker="delete"] line`).boundingBox();
      expect(box?.height ?? 0).toBeGreaterThan(100);
    }
    const exec = `#${sectionId(results.find((r) => r.scenario.name === "exec-form-prestop-sleep")!)}`;
    expect(await page.locator(`${exec} svg [data-marker="sigterm"]`).count()).toBe(1);
    expect(await page.locator(`${exec} svg [data-marker="sigkill"]`).count()).toBe(0);
    expect(await page.locator(`${exec} svg [data-marker^="prestop-"]`).count()).toBe(2);
    const shell = `#${sectionId(results.find((r) => r.scenario.name === "shell-form-no-prestop")!)}`;
    expect(await page.locator(`${shell} svg [data-marker="sigterm"]`).count()).toBe(0);
    expect(await page.locator(`${shell} svg [data-marker="sigkill"]`).count()).toBe(1);
    expect(await page.locator(`${shell} svg [data-marker^="prestop-"]`).count()).toBe(0);
  });

  it("bars and per-kind failure counts equal the JSON's", async () => {
    for (const r of results.filter((x) => x.load)) {
      const load = r.load!;
      const sec = `#${sectionId(r)}`;
      const successes = await collect(page, `${sec} svg rect[data-series="success"]`, ["data-count"]);
      expect(total(successes), r.scenario.name).toBe(load.successBuckets.reduce((acc, b) => acc + b.count, 0));
      expect(total(successes)).toBe(load.succeeded);
      for (const kind of FAILURE_KINDS) {
        const rects = await collect(page, `${sec} svg rect[data-series="failure"][data-kind="${kind}"]`, [
          "data-count",
        ]);
        expect(total(rects), `${r.scenario.name} ${kind}`).toBe(load.failedByKind[kind] ?? 0);
        const legend = await collect(page, `${sec} li.legend-failure[data-kind="${kind}"]`, ["data-count"]);
        expect(legend.map((l) => Number(l["data-count"]))).toEqual(
          (load.failedByKind[kind] ?? 0) > 0 ? [load.failedByKind[kind]] : [],
        );
      }
      const [summary] = await collect(page, `${sec} p.load-summary`, [
        "data-sent",
        "data-succeeded",
        "data-failed",
        "data-in-flight",
      ]);
      expect(summary).toMatchObject({
        "data-sent": String(load.sent),
        "data-succeeded": String(load.succeeded),
        "data-failed": String(load.failed),
        "data-in-flight": String(load.inFlightAtEnd),
      });
      expect(summary?.text).toContain(`${load.sent} sent: ${load.succeeded} succeeded, ${load.failed} failed`);
    }
  });

  it("the verdict rows are the JSON's verdicts", async () => {
    for (const r of results) {
      const sec = `#${sectionId(r)}`;
      const rows = await collect(page, `${sec} tr.verdict`, ["data-verdict", "data-pass"]);
      expect(rows.map((x) => [x["data-verdict"], x["data-pass"]])).toEqual(
        r.verdicts.map((v) => [v.name, String(v.pass)]),
      );
      for (const [i, v] of r.verdicts.entries()) {
        const cells = await page.locator(`${sec} tr.verdict`).nth(i).locator("td").allTextContents();
        expect(cells).toEqual([v.name, v.expected, v.actual, v.pass ? "✓ pass" : "✗ fail", v.evidence]);
      }
    }
    expect(await page.locator("tr.verdict-fail").count()).toBe(
      results.reduce((acc, r) => acc + r.verdicts.filter((v) => !v.pass).length, 0),
    );
  });

  it("a run that failed early shows its error verbatim and no picture", async () => {
    const sec = `#${sectionId(erroredResult())}`;
    expect(await page.locator(sec).getAttribute("data-status")).toBe("error");
    expect(await page.locator(`${sec} .error`).getAttribute("data-error")).toBe(NASTY);
    expect(await page.locator(`${sec} .error`).textContent()).toBe(`error: ${NASTY}`);
    expect(await page.locator(`${sec} svg`).count()).toBe(0);
    expect(await page.locator(`${sec} tr.verdict`).count()).toBe(0);
  });

  it("an INCONCLUSIVE run: its badge, reasons, exercise evidence and the last new connection in the picture", async () => {
    const r = results.find((x) => x.status === "inconclusive")!;
    const e = r.pods[0]!.exercise!;
    const sec = `#${sectionId(r)}`;
    expect(await page.locator(sec).getAttribute("data-status")).toBe("inconclusive");
    expect(await page.locator(`${sec} h2 .status`).textContent()).toBe("INCONCLUSIVE");
    expect(await page.locator(`#summary tr[data-scenario="${r.scenario.name}"] .status`).textContent()).toBe(
      "INCONCLUSIVE",
    );
    expect(await page.locator(`${sec} .inconclusive li.reason`).allTextContents()).toEqual(r.inconclusive);
    const [row] = await collect(page, `${sec} tr.exercise`, [
      "data-pod",
      "data-exercise",
      "data-open-connections-at-delete",
      "data-served-in-second-before-delete",
      "data-answered-after-sigterm",
      "data-last-new-connection-ms",
    ]);
    expect(row).toMatchObject({
      "data-pod": e.pod,
      "data-exercise": e.status,
      "data-open-connections-at-delete": String(e.openConnectionsAtDelete),
      "data-served-in-second-before-delete": String(e.servedInSecondBeforeDelete),
      "data-answered-after-sigterm": String(e.answeredAfterSigterm),
      "data-last-new-connection-ms": String(e.lastNewConnectionMs),
    });
    expect(await page.locator(`${sec} .warm-up`).getAttribute("data-complete")).toBe("true");
    const marker = page.locator(`${sec} svg [data-marker="last-connection"]`);
    expect(await marker.getAttribute("data-t")).toBe(
      String(r.pods[0]!.deleteAt + e.lastNewConnectionMs! - r.timeline!.origin),
    );
    expect((await marker.locator("line").boundingBox())?.height ?? 0).toBeGreaterThan(100);
    expect(await page.locator(".totals").getAttribute("data-inconclusive")).toBe("1");
  });

  it("junit.xml parses as XML and says what the JSON says", async () => {
    const parsed = (await page.evaluate(
      `(() => {
        const doc = new DOMParser().parseFromString(${JSON.stringify(junit)}, "application/xml");
        const err = doc.querySelector("parsererror");
        const suites = doc.documentElement;
        return {
          error: err ? err.textContent : null,
          root: suites.nodeName,
          suites: doc.querySelectorAll("testsuite").length,
          tests: suites.getAttribute("tests"),
          failures: suites.getAttribute("failures"),
          errors: suites.getAttribute("errors"),
          cases: Array.from(doc.querySelectorAll("testcase"), (c) => ({
            classname: c.getAttribute("classname"),
            name: c.getAttribute("name"),
            failure: c.querySelector("failure")?.getAttribute("message") ?? null,
            error: c.querySelector("error")?.getAttribute("message") ?? null,
            skipped: c.querySelector("skipped") ? true : null,
          })),
        };
      })()`,
    )) as {
      error: string | null;
      root: string;
      suites: number;
      tests: string;
      failures: string;
      errors: string;
      cases: Array<{
        classname: string;
        name: string;
        failure: string | null;
        error: string | null;
        skipped: boolean | null;
      }>;
    };
    expect(parsed.error).toBeNull();
    expect(parsed.root).toBe("testsuites");
    expect(parsed.suites).toBe(1);
    const expected = results.flatMap((r) => {
      const classname = `${r.scenario.name}.${r.backend}`;
      const inconclusive = r.status === "inconclusive";
      return [
        // An inconclusive run's verdicts are skipped: they back nothing.
        ...r.verdicts.map((v) => ({
          classname,
          name: v.name,
          failure:
            v.pass || inconclusive ? null : `expected ${v.expected}, actual ${v.actual}; evidence: ${v.evidence}`,
          error: null,
          skipped: inconclusive ? true : null,
        })),
        ...(inconclusive
          ? [
              {
                classname,
                name: "exercise",
                failure: null,
                error: `INCONCLUSIVE: ${r.inconclusive?.join("; ")}`,
                skipped: null,
              },
            ]
          : []),
        ...(r.error ? [{ classname, name: "run", failure: null, error: r.error, skipped: null }] : []),
      ];
    });
    // The error message, tab and newline included, survives the round trip exactly.
    expect(parsed.cases).toEqual(expected);
    expect(parsed.tests).toBe(String(expected.length));
    expect(parsed.failures).toBe(String(expected.filter((c) => c.failure).length));
    expect(parsed.errors).toBe("2");
  });
});
