// A run on a machine loaded on purpose — CPU burners on every core, started just before — must end
// INCONCLUSIVE for saturation, never FAIL (issue 18, item 2). The burners are bounded (a timeout on
// each, and killed once the run ends).
import { type ChildProcess, spawn } from "node:child_process";
import { availableParallelism } from "node:os";
import { afterEach, describe, expect, it } from "vitest";
import { runFixture } from "./helpers.js";

/** Busy loops, BURNERS_PER_CORE per core; each ends itself after 120 s whatever happens, and is killed after the test. */
const BURNERS_PER_CORE = 2;
let burners: ChildProcess[] = [];

function startBurners(): void {
  const n = availableParallelism() * BURNERS_PER_CORE;
  burners = Array.from({ length: n }, () =>
    spawn(process.execPath, ["-e", "const end = Date.now() + 120000; while (Date.now() < end);"], { stdio: "ignore" }),
  );
}

afterEach(() => {
  for (const b of burners) b.kill("SIGKILL");
  burners = [];
});

describe("saturation: a machine loaded on purpose", () => {
  it("a run under CPU burners on every core is INCONCLUSIVE for saturation, with the figures", async () => {
    startBurners();
    const r = await runFixture("no-handler-no-prestop", "saturation");
    expect(r.error, r.error).toBeUndefined();
    expect(r.trust?.harness).toBeDefined();
    expect(r.status, JSON.stringify(r.trust)).toBe("inconclusive");
    expect(r.trust?.saturated).toBe(true);
    expect(r.inconclusive?.some((why) => why.startsWith("harness saturated: "))).toBe(true);
    expect(r.trust?.harness?.mainThread?.waitFraction).toBeGreaterThan(0);
  }, 120_000);
});
