// An INCONCLUSIVE run's one-line reason comes from its own reasons (issue 18, item 6): the field
// report's script-no-prestop on kind was inconclusive for an unknown exit code, yet the last line said
// "the disrupted pod carried no traffic, or nothing could show it did".
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatResult } from "../../src/report/console.js";
import { renderHtmlReport } from "../../src/report/html.js";
import { exerciseBody, junitCases } from "../../src/report/junit.js";
import { inconclusiveLine } from "../../src/report/status.js";
import { formatRepeatSummaries, summarizeRepeats } from "../../src/runner/repeat.js";
import type { ScenarioResult } from "../../src/runner/run.js";
import { judgeTrust } from "../../src/verdict/trust.js";

const FIELD = join(import.meta.dirname, "../fixtures/field-kind-2node");
const read = async (file: string) => JSON.parse(await readFile(join(FIELD, file), "utf8")) as ScenarioResult;
const EXIT_REASON =
  "exit (app-85849474c9-g4h2l): cannot tell: the exit code is unknown and the exit may have come at the end of the grace period";

describe("an INCONCLUSIVE run says why, in every report", () => {
  it("the end-of-run line names the unknown exit code, not traffic", async () => {
    const r = await read("sequential/script-no-prestop.kind.json");
    const passed = await read("sequential/script-prestop-sleep.kind.json");
    const line = inconclusiveLine([passed, r, r]);
    expect(line).toBe(`INCONCLUSIVE (not passed): script-no-prestop — ${EXIT_REASON}`);
    expect(line).not.toContain("traffic");
    expect(inconclusiveLine([passed])).toBeUndefined();
  });

  it("several scenarios, a saturated harness among them: each with its own reasons", async () => {
    const r = await read("sequential/script-no-prestop.kind.json");
    const saturated: ScenarioResult = {
      ...(await read("parallel4/script-no-prestop.kind.json")),
      status: "inconclusive",
      inconclusive: ["harness saturated: SIGKILL at +13.1 s for a 8 s grace, due at +8.0 s (bound +1.0 s)"],
    };
    saturated.scenario = { ...saturated.scenario, name: "script-no-prestop-4" };
    expect(inconclusiveLine([r, saturated])).toBe(
      `INCONCLUSIVE (not passed): script-no-prestop — ${EXIT_REASON}; script-no-prestop-4 — harness saturated: ` +
        "SIGKILL at +13.1 s for a 8 s grace, due at +8.0 s (bound +1.0 s)",
    );
  });

  it("console, JUnit and HTML carry the reason; the HTML badge's title is the reason", async () => {
    const r = await read("sequential/script-no-prestop.kind.json");
    expect(formatResult(r)).toContain(`    - ${EXIT_REASON}`);
    expect(exerciseBody(r)).toContain(`inconclusive: ${EXIT_REASON}`);
    const exercise = junitCases(r).find((c) => c.name === "exercise");
    expect(exercise?.error?.message).toBe(`INCONCLUSIVE: ${EXIT_REASON}`);
    const html = renderHtmlReport([r]);
    expect(html).toContain(`data-status="inconclusive" title="${EXIT_REASON}"`);
    expect(html).not.toContain('title="a disrupted pod carried no traffic');
  });

  it("repeats: the note says the reasons when they are not about traffic", async () => {
    const r = await read("sequential/script-no-prestop.kind.json");
    const text = formatRepeatSummaries(summarizeRepeats([r, r]));
    expect(text).toContain(`→ INCONCLUSIVE: ${EXIT_REASON}, so this is not a pass`);
    expect(text).not.toContain("carry traffic");
  });
});

describe("the harness clock's figures in every report, within bounds or not", () => {
  const harness = {
    windowMs: 12_000,
    eventLoop: { maxMs: 86, p99Ms: 29, meanMs: 2, resolutionMs: 10 },
    cpuBusy: 1,
    cores: 2,
    cpuPressure: { someFraction: 0.3, someAvg10: 0.25 },
    mainThread: { runFraction: 0.13, waitFraction: 0.37 },
  };
  const FIGURES =
    "event loop lag max 86 ms, p99 29 ms; CPU 100 % busy (2 cores); CPU pressure (some) 30 % of the window; " +
    "event loop thread ran 13 %, waited for a CPU 37 % of the window";

  it("a conclusive run shows them too", async () => {
    const r = await read("sequential/shell-form-no-prestop.kind.json");
    r.trust = judgeTrust(harness, r.pods, r.timeline?.entries ?? [], r.scenario);
    const line = `harness clock: ${FIGURES}; ${r.pods[0]?.pod}: SIGKILL at +8.3 s for a 8 s grace, due at +8.0 s (bound +1.0 s)`;
    expect(formatResult(r)).toContain(`  ${line}`);
    expect(exerciseBody(r)).toContain(line);
    expect(renderHtmlReport([r])).toMatch(
      /class="trust" data-saturated="false" data-event-loop-max-ms="86" data-cpu-busy="1.00">harness clock: event loop lag max 86 ms/,
    );
  });

  it("a saturated one: NOT TRUSTED, and INCONCLUSIVE's reason names the figures", async () => {
    const r = await read("parallel4/script-no-prestop.kind.json");
    r.trust = judgeTrust(harness, r.pods, r.timeline?.entries ?? [], r.scenario);
    expect(formatResult(r).join("\n")).toContain("  harness clock NOT TRUSTED: event loop lag max 86 ms");
    expect(renderHtmlReport([r])).toContain('class="trust saturated" data-saturated="true"');
  });
});
