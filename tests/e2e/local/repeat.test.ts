// --repeat N: each scenario runs N times; the console shows the verdict distribution. Short: one
// scenario whose runs take ~10 s each, run one after the other (the 2-core default).
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cli, ROOT } from "./cli.js";

const RESULTS = "results/e2e-local/repeat";

describe("graceful-e2e run --repeat", () => {
  it("runs the scenario twice and reports 2/2 pass with each verdict's distribution", async () => {
    await rm(join(ROOT, RESULTS), { recursive: true, force: true });
    const r = await cli([
      "run",
      "--repeat",
      "2",
      "--parallel",
      "1",
      "--results",
      RESULTS,
      "fixtures/scenarios/exec-form-prestop-sleep.yaml",
    ]);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toMatch(
      /repeats \(verdict distribution per scenario\):\n {2}PASS {2}exec-form-prestop-sleep: 2\/2 pass — failed requests 2\/2;/,
    );
    expect(r.stderr).toContain("1 scenario(s) × 2 runs on local, 1 at a time");
    expect(r.stderr).toContain("▶ exec-form-prestop-sleep #1 (run 1 of 2)");
    expect(r.stderr).toContain("▶ exec-form-prestop-sleep #2 (run 2 of 2)");
    // Progress lines say which run they belong to; each run has its own id.
    expect(r.stderr).toMatch(/\[exec-form-prestop-sleep #2\] run \d{14}-[0-9a-f]{6} on local; limits: setup/);
    const ids = new Set([...r.stderr.matchAll(/\] run (\d{14}-[0-9a-f]{6}) on local/g)].map((m) => m[1]));
    expect(ids.size).toBe(2);
    // One result file per run.
    const files = (await readdir(join(ROOT, RESULTS))).filter((f) => f.endsWith(".json")).sort();
    expect(files).toEqual(["exec-form-prestop-sleep.local.1.json", "exec-form-prestop-sleep.local.2.json"]);
  });
});
