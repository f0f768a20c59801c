import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { FAILURE_KINDS } from "../../src/load/types.js";
import type { TimelineEntry } from "../../src/model/timeline.js";
import { renderHtmlReport, sectionId, statusOf } from "../../src/report/html.js";
import { attrs, esc, num } from "../../src/report/html-markup.js";
import { renderTimelineSvg, secondsLabel } from "../../src/report/html-svg.js";
import {
  bucketFailures,
  extractMarkers,
  failureKindCounts,
  lastConnectionMarkers,
  layoutLabels,
  shortPod,
  timelineData,
} from "../../src/report/html-timeline.js";
import { readResults } from "../../src/report/write.js";
import type { ScenarioResult } from "../../src/runner/run.js";
import { ScenarioSpec } from "../../src/scenario/schema.js";

const ROOT = join(import.meta.dirname, "../..");
const FIXTURES = join(ROOT, "tests/fixtures/scenario-results");

function entry(t: number, kind: TimelineEntry["kind"], extra: Partial<TimelineEntry> = {}): TimelineEntry {
  return { at: 1_000_000 + t, t, kind, source: "harness", pod: "pod-1", ...extra };
}

function byName(results: ScenarioResult[], name: string): ScenarioResult {
  const r = results.find((x) => x.scenario.name === name);
  if (!r) throw new Error(`fixture ${name} missing`);
  return r;
}

/** data-* values of every element matching `<tag ... data-x="...">` in our own markup. */
function dataOf(markup: string, attr: string, where: RegExp): string[] {
  const out: string[] = [];
  for (const m of markup.matchAll(/<(?:rect|g|li|td|tr|p|section)\b[^>]*>/g)) {
    if (!where.test(m[0])) continue;
    const v = new RegExp(`\\s${attr}="([^"]*)"`).exec(m[0])?.[1];
    if (v !== undefined) out.push(v);
  }
  return out;
}

const sum = (xs: string[]) => xs.reduce((acc, x) => acc + Number(x), 0);

describe("failures bucketed for the picture", () => {
  it("uses the success buckets' 100 ms grid and counts per kind", () => {
    const buckets = bucketFailures([
      { at: 1099, kind: "reset" },
      { at: 1000, kind: "closed" },
      { at: 1100, kind: "reset" },
      { at: 1050, kind: "reset" },
      { at: 900, kind: "timeout" },
    ]);
    expect(buckets).toEqual([
      { at: 900, byKind: { timeout: 1 }, total: 1 },
      { at: 1000, byKind: { closed: 1, reset: 2 }, total: 3 },
      { at: 1100, byKind: { reset: 1 }, total: 1 },
    ]);
  });

  it("takes another bucket size and nothing from nothing", () => {
    expect(bucketFailures([{ at: 2499, kind: "non-2xx" }], 1000)).toEqual([
      { at: 2000, byKind: { "non-2xx": 1 }, total: 1 },
    ]);
    expect(bucketFailures([])).toEqual([]);
  });
});

describe("markers", () => {
  it("picks delete, endpoint, preStop, SIGTERM received (not other signals), exits and SIGKILL", () => {
    const markers = extractMarkers([
      entry(-2000, "app-start", { process: "app" }),
      entry(0, "delete-requested"),
      entry(0, "prestop-start"),
      entry(1000, "endpoint-removed"),
      entry(2000, "prestop-end"),
      entry(2000, "sigterm-sent", { process: "pid1" }),
      entry(2010, "app-signal", { process: "app-2", detail: { signal: "SIGTERM" } }),
      entry(2011, "app-signal", { process: "app-1", detail: { signal: "SIGINT" } }),
      entry(2500, "request-failed", { detail: { kind: "reset" } }),
      entry(3000, "app-exit", { process: "app-2", detail: { code: 0 } }),
      entry(8000, "sigkill-sent", { process: "pid1" }),
      entry(8100, "container-exit", { detail: { exitCode: 137 } }),
      entry(8110, "pod-gone"),
    ]);
    expect(markers.map((m) => [m.kind, m.t, m.label])).toEqual([
      ["delete", 0, "delete"],
      ["prestop-start", 0, "preStop start"],
      ["endpoint-removed", 1000, "endpoint removed"],
      ["prestop-end", 2000, "preStop end"],
      ["sigterm-sent", 2000, "SIGTERM sent"],
      ["sigterm", 2010, "SIGTERM app-2"],
      ["exit", 3000, "exit app-2 (0)"],
      ["sigkill", 8000, "SIGKILL"],
      ["exit", 8100, "container exit (137)"],
    ]);
    expect(markers.find((m) => m.kind === "sigterm")).toMatchObject({ process: "app-2", event: "app-signal" });
  });

  it("names the pod in labels only when markers come from several pods", () => {
    const markers = extractMarkers([
      entry(0, "delete-requested", { pod: "web-7d9f-a" }),
      entry(5000, "delete-requested", { pod: "web-7d9f-b" }),
    ]);
    expect(markers.map((m) => m.label)).toEqual(["delete @a", "delete @b"]);
    expect(shortPod("ge-x-d629ad-1")).toBe("1");
  });

  it("real results: SIGTERM markers for exec-form, none but SIGKILL for shell-form", async () => {
    const results = await readResults(FIXTURES);
    const exec = extractMarkers(byName(results, "exec-form-prestop-sleep").timeline?.entries ?? []);
    expect(exec.filter((m) => m.kind === "sigterm").map((m) => m.label)).toEqual(["SIGTERM app"]);
    expect(exec.some((m) => m.kind === "sigkill")).toBe(false);
    expect(exec.map((m) => m.kind)).toEqual(
      expect.arrayContaining(["delete", "endpoint-removed", "prestop-start", "prestop-end", "exit"]),
    );
    const shell = extractMarkers(byName(results, "shell-form-no-prestop").timeline?.entries ?? []);
    expect(shell.filter((m) => m.kind === "sigterm")).toEqual([]);
    expect(shell.filter((m) => m.kind === "sigkill")).toHaveLength(1);
    expect(shell.find((m) => m.kind === "delete")?.t).toBe(0);
  });
});

describe("label layout", () => {
  it("puts overlapping labels on separate rows and reuses rows when there is room", () => {
    const placed = layoutLabels(
      [
        { x: 100, width: 50 },
        { x: 120, width: 50 },
        { x: 300, width: 50 },
        { x: 160, width: 50 },
      ],
      1000,
    );
    expect(placed).toEqual([
      { row: 0, x: 100 },
      { row: 1, x: 120 },
      { row: 0, x: 300 },
      { row: 0, x: 160 },
    ]);
  });

  it("moves a label left when it would run past the right edge", () => {
    expect(layoutLabels([{ x: 980, width: 60 }], 1000)).toEqual([{ row: 0, x: 940 }]);
  });

  it("never lets two labels on one row overlap", () => {
    const boxes = Array.from({ length: 40 }, (_, i) => ({ x: (i * 37) % 500, width: 20 + (i % 7) * 9 }));
    const placed = layoutLabels(boxes, 600);
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const a = placed[i]!;
        const b = placed[j]!;
        if (a.row !== b.row) continue;
        const overlap = a.x < b.x + boxes[j]!.width && b.x < a.x + boxes[i]!.width;
        expect(overlap, `labels ${i} and ${j}`).toBe(false);
      }
    }
  });
});

describe("timeline data and picture from real results", () => {
  let results: ScenarioResult[];
  beforeAll(async () => {
    results = await readResults(FIXTURES);
  });

  it("relative to the delete, covering the load window, the bars summing to the JSON's counts", () => {
    for (const r of results) {
      const data = timelineData(r);
      const load = r.load!;
      expect(data?.origin).toBe(r.timeline?.origin);
      expect(data?.domain[0]).toBeLessThanOrEqual(load.startedAt - r.timeline!.origin);
      expect(data?.domain[1]).toBeGreaterThanOrEqual(load.endedAt - r.timeline!.origin);
      expect(data?.successes.reduce((acc, b) => acc + b.count, 0)).toBe(load.succeeded);
      for (const kind of FAILURE_KINDS) {
        expect(data?.failures.reduce((acc, b) => acc + (b.byKind[kind] ?? 0), 0)).toBe(load.failedByKind[kind] ?? 0);
      }
    }
  });

  it("the SVG's rects and markers carry the same numbers", () => {
    const r = byName(results, "single-failure-500");
    const data = timelineData(r)!;
    const svg = renderTimelineSvg(data, { title: "t", scenario: r.scenario.name, graceMs: 8000 });
    expect(svg.startsWith("<svg")).toBe(true);
    expect(sum(dataOf(svg, "data-count", /data-series="success"/))).toBe(r.load?.succeeded);
    expect(dataOf(svg, "data-count", /data-kind="non-2xx"/)).toEqual(["1"]);
    const failureAt = bucketFailures(r.load!.failures)[0]!.at - data.origin;
    expect(dataOf(svg, "data-t", /data-series="failure"/)).toEqual([String(failureAt)]);
    expect(dataOf(svg, "data-marker", /data-marker=/)).toEqual(data.markers.map((m) => m.kind));
    expect(dataOf(svg, "data-process", /data-marker="sigterm"/)).toEqual(["app"]);
    expect(svg).toContain('data-grace-ms="8000"');
  });

  it("a run that ended before the load reported: markers only, and says so", () => {
    const data = timelineData({
      pods: [],
      timeline: { origin: 1_000_000, entries: [entry(0, "delete-requested"), entry(2000, "sigkill-sent")] },
    });
    expect(data).toMatchObject({ loadMeasured: false, successes: [], failures: [] });
    expect(data?.domain).toEqual([0, 2000]);
    const svg = renderTimelineSvg(data!, { title: "t" });
    expect(dataOf(svg, "data-marker", /data-marker=/)).toEqual(["delete", "sigkill"]);
    expect(svg).toContain("no load measured");
    expect(svg).not.toContain("no failed requests");
    expect(timelineData({ pods: [] })).toBeUndefined();
  });

  it("x-axis ticks read in seconds since the delete", () => {
    expect([secondsLabel(-1.5), secondsLabel(0), secondsLabel(2), secondsLabel(0.30000000000000004)]).toEqual([
      "−1.5 s",
      "0 s",
      "+2 s",
      "+0.3 s",
    ]);
  });

  it("failure kinds keep their fixed order and leave zeros out", () => {
    const counts = failureKindCounts({
      failedByKind: { reset: 3, refused: 0, timeout: 0, "non-2xx": 0, closed: 1, error: 0 },
    });
    expect(counts).toEqual([
      { kind: "reset", count: 3 },
      { kind: "closed", count: 1 },
    ]);
  });
});

describe("markup helpers", () => {
  it("escapes text and attributes, drops absent attributes", () => {
    expect(esc(`<script>alert("x" & 'y')</script>`)).toBe(
      "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;",
    );
    expect(esc("a\u0000b")).toBe("a\uFFFDb");
    expect(attrs({ a: 1, b: undefined, c: false, d: true, e: 'q"' })).toBe(' a="1" d e="q&quot;"');
    expect([num(1.005), num(-0.001), num(12)]).toEqual(["1", "0", "12"]);
  });
});

describe("HTML report", () => {
  let results: ScenarioResult[];
  let html: string;
  beforeAll(async () => {
    results = await readResults(FIXTURES);
    html = renderHtmlReport(results, { generatedAt: "2026-11-27T00:00:00.000Z" });
  });

  it("stands alone: no script, nothing loaded from anywhere, a CSP that forbids it", () => {
    expect(html).not.toMatch(/<script|<link|<img|<iframe|@import|url\(/i);
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"`);
    // The only URL is the SVG namespace (an identifier, never fetched); every href is in-page.
    const urls = [...html.matchAll(/(?:https?|ftp):\/\/[^\s"'<>]+/g)].map((m) => m[0]);
    expect(new Set(urls)).toEqual(new Set(["http://www.w3.org/2000/svg"]));
    for (const m of html.matchAll(/\s(?:href|src)="([^"]*)"/g)) expect(m[1]).toMatch(/^#/);
  });

  it("one section and one picture per scenario, with the JSON's figures", () => {
    for (const r of results) {
      const id = sectionId(r);
      const start = html.indexOf(`<section class="scenario scenario-${statusOf(r)}" id="${id}"`);
      expect(start, id).toBeGreaterThan(0);
      const end = html.indexOf("</section>", start);
      const section = html.slice(start, end);
      expect(section.match(/<svg /g)).toHaveLength(1);
      expect(dataOf(section, "data-failed", /class="load-summary"/)).toEqual([String(r.load?.failed)]);
      expect(dataOf(section, "data-sent", /class="load-summary"/)).toEqual([String(r.load?.sent)]);
      expect(dataOf(section, "data-verdict", /class="verdict /)).toEqual(r.verdicts.map((v) => esc(v.name)));
      for (const { kind, count } of failureKindCounts(r.load!)) {
        expect(dataOf(section, "data-count", new RegExp(`class="legend-failure" data-kind="${kind}"`))).toEqual([
          String(count),
        ]);
      }
    }
    expect(dataOf(html, "data-failed", /class="failed-sent/)).toEqual(results.map((r) => String(r.load?.failed)));
    expect(html).toContain('data-total="3" data-pass="2" data-fail="1" data-error="0"');
  });

  it("an errored run without load: its error, no picture, no verdicts, escaped", () => {
    const r: ScenarioResult = {
      schemaVersion: 1,
      scenario: ScenarioSpec.parse({ name: "broken", image: { ref: "x/y:1" }, description: "<b>bold</b> & co" }),
      file: "broken.yaml",
      backend: "kind",
      runId: "r1",
      startedAt: "2026-11-27T00:00:00.000Z",
      durationMs: 5,
      platform: {},
      warnings: ["preStop <longer> than grace"],
      error: 'kind create cluster failed: "exit 1" <stderr>',
      pods: [],
      verdicts: [],
      status: "error",
      pass: false,
    };
    const page = renderHtmlReport([r]);
    expect(page).toContain('data-error="kind create cluster failed: &quot;exit 1&quot; &lt;stderr&gt;"');
    expect(page).toContain("error: kind create cluster failed: &quot;exit 1&quot; &lt;stderr&gt;");
    expect(page).toContain("&lt;b&gt;bold&lt;/b&gt; &amp; co");
    expect(page).toContain("warning: preStop &lt;longer&gt; than grace");
    expect(page).not.toContain("<svg");
    expect(page).toContain("no timeline: nothing was measured");
    expect(page).toContain("no verdicts: the run did not complete");
    expect(page).toContain('data-status="error"');
    expect(page).toMatch(/<td class="failed-sent">-<\/td>/);
  });

  it("an empty run is still a page", () => {
    expect(renderHtmlReport([])).toContain("no scenario was run");
  });
});

/** The exec-form fixture, its disrupted pod unexercised: an INCONCLUSIVE run with a warm-up. */
function inconclusiveRun(results: ScenarioResult[]): ScenarioResult {
  const r = structuredClone(byName(results, "exec-form-prestop-sleep"));
  const pod = r.pods[0]!;
  pod.exercise = {
    pod: pod.pod,
    status: "not-exercised",
    sources: ["service-proxy", "x-served-by"],
    openConnectionsAtDelete: 0,
    servedInSecondBeforeDelete: 0,
    answeredAfterSigterm: 0,
    servedTotal: 0,
    connectionsRouted: 1,
    lastNewConnectionMs: -1500,
    newConnectionsAfterDelete: 0,
    summary: "nothing open at the delete, <nothing> served",
  };
  r.status = "inconclusive";
  r.pass = false;
  r.inconclusive = [`${pod.pod} carried no traffic`, "warm-up incomplete"];
  r.warmUp = {
    startedAt: 1000,
    endedAt: 3500,
    pods: ["a", "b"],
    answered: ["a"],
    probes: 20,
    complete: false,
  };
  return r;
}

describe("HTML report: statuses and exercise evidence", () => {
  let results: ScenarioResult[];
  beforeAll(async () => {
    results = await readResults(FIXTURES);
  });

  it("an INCONCLUSIVE run: its badge, its reasons, the warm-up, the evidence table and verdicts marked not judged", () => {
    const r = inconclusiveRun(results);
    const pod = r.pods[0]!;
    const page = renderHtmlReport([...results, r]);
    expect(statusOf(r)).toBe("inconclusive");
    expect(page).toContain('data-total="4" data-pass="2" data-fail="1" data-error="0" data-inconclusive="1"');
    expect(page).toContain("4 scenario run(s): 2 passed, 1 failed, 1 inconclusive, 0 errored.");
    const start = page.indexOf(`<section class="scenario scenario-inconclusive" id="${sectionId(r)}"`);
    expect(start).toBeGreaterThan(0);
    const section = page.slice(start, page.indexOf("</section>", start));
    expect(section).toMatch(
      /<span class="status status-inconclusive" data-status="inconclusive"[^>]*>INCONCLUSIVE<\/span>/,
    );
    expect(section).toContain(`<li class="reason">${esc(pod.pod)} carried no traffic</li>`);
    expect(section).toContain('data-reasons="2"');
    expect(section).toMatch(
      /class="warm-up" data-pods="2" data-answered="1" data-complete="false" data-duration-ms="2500">1\/2 pod\(s\) answered/,
    );
    const row = /<tr class="exercise exercise-not-exercised"[^>]*>/.exec(section)?.[0] ?? "";
    expect(row).toContain(`data-pod="${pod.pod}"`);
    expect(row).toContain('data-exercise="not-exercised"');
    expect(row).toContain('data-open-connections-at-delete="0"');
    expect(row).toContain('data-served-in-second-before-delete="0"');
    expect(row).toContain('data-answered-after-sigterm="0"');
    expect(row).toContain('data-last-new-connection-ms="-1500"');
    expect(section).toContain("none after the delete (the last at −1.50 s)");
    expect(section).toContain("nothing open at the delete, &lt;nothing&gt; served");
    expect(section).toContain('<table class="verdicts not-judged">');
    // The picture marks the last new connection routed to the disrupted pod.
    expect(dataOf(section, "data-t", /data-marker="last-connection"/)).toEqual(["-1500"]);
    expect(section).toContain('data-legend-marker="last-connection"');
    // The summary row says INCONCLUSIVE too.
    const summary = page.slice(
      page.indexOf('<table id="summary">'),
      page.indexOf("</table>", page.indexOf('<table id="summary">')),
    );
    expect(summary).toContain('class="summary-row summary-inconclusive"');
  });

  it("an undecidable verdict: '? undecided' with why, not a failure", () => {
    const r = inconclusiveRun(results);
    Object.assign(r.verdicts[2]!, { pass: false, decidable: false, inconclusive: "only the API's <made-up> 137" });
    const page = renderHtmlReport([r]);
    expect(dataOf(page, "data-undecided", /class="verdict verdict-undecided"/)).toEqual([
      "only the API&#39;s &lt;made-up&gt; 137",
    ]);
    expect(page).toContain('<td class="v-pass">? undecided</td>');
    expect(page).not.toContain('class="verdict verdict-fail"');
  });

  it("PASS / FAIL / ERROR badges and a file written before status existed", () => {
    const page = renderHtmlReport(results);
    expect(page.match(/class="status status-pass"/g)?.length).toBe(4); // 2 in the table, 2 in the sections
    expect(page.match(/class="status status-fail"/g)?.length).toBe(2);
    const legacy = structuredClone(byName(results, "exec-form-prestop-sleep")) as Partial<ScenarioResult>;
    delete legacy.status;
    const old = renderHtmlReport([legacy as ScenarioResult]);
    expect(old).toContain('data-status="pass"');
    expect(old).toContain("no exercise evidence: this result was written before");
  });

  it("termination is delete → container exit; gone is said apart", () => {
    const r = byName(results, "shell-form-no-prestop");
    const page = renderHtmlReport([r]);
    expect(page).toContain('<th title="delete → container exit">termination</th>');
    expect(page).toMatch(/termination \(delete → container exit\) 8\.15 s; gone \(container removed\) at \+8\.16 s/);
  });

  it("last-connection markers: at delete + lastNewConnectionMs, relative to the origin; pods named when several", () => {
    const pods = [
      { pod: "web-a", deleteAt: 10_000, exercise: { lastNewConnectionMs: 900 } },
      { pod: "web-b", deleteAt: 12_000, exercise: { lastNewConnectionMs: -200 } },
      { pod: "web-c", deleteAt: 12_000 },
    ] as unknown as ScenarioResult["pods"];
    expect(lastConnectionMarkers(pods, 10_000).map((m) => [m.kind, m.t, m.label, m.event])).toEqual([
      ["last-connection", 900, "last new connection @a", "exercise"],
      ["last-connection", 1800, "last new connection @b", "exercise"],
    ]);
    expect(lastConnectionMarkers(pods.slice(0, 1), 10_000)[0]?.label).toBe("last new connection");
  });
});

describe("docs/results-schema.md", () => {
  /** Object keys in a result, skipping free-form maps (env, platform, per-kind/path counts, details). */
  function keys(value: unknown, path: string, out: Set<string>): void {
    if (Array.isArray(value)) {
      for (const v of value) keys(v, `${path}[]`, out);
      return;
    }
    if (typeof value !== "object" || value === null) return;
    if (/(\.env|\.platform|\.failedByKind|\.sentByPath|\.detail|\.scenario)$/.test(path)) return;
    for (const [k, v] of Object.entries(value)) {
      out.add(k);
      keys(v, `${path}.${k}`, out);
    }
  }

  it("documents every field found in the real result files", async () => {
    const doc = await readFile(join(ROOT, "docs/results-schema.md"), "utf8");
    const found = new Set<string>();
    const results = await readResults(FIXTURES);
    for (const r of [...results, inconclusiveRun(results)]) keys(r, "", found);
    const missing = [...found].filter((k) => !doc.includes(`\`${k}\``)).sort();
    expect(missing).toEqual([]);
  });
});
