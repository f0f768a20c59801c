// --repeat N: each scenario runs N times; the console shows the verdict distribution.
import { describe, expect, it } from "vitest";
import { cli } from "./cli.js";

describe("graceful-e2e run --repeat", () => {
  it("runs the scenario twice and reports 2/2", async () => {
    const r = await cli([
      "run",
      "--repeat",
      "2",
      "--results",
      "results/e2e-local/repeat",
      "fixtures/scenarios/exec-form-prestop-sleep.yaml",
    ]);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toMatch(/repeats:\n\s+PASS\s+exec-form-prestop-sleep: 2\/2 passed — failed requests 2\/2/);
    expect(r.stderr).toContain("exec-form-prestop-sleep (1/2)");
    expect(r.stderr).toContain("exec-form-prestop-sleep (2/2)");
  });
});
