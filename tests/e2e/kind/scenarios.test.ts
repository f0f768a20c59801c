// The kind e2e suite: every scenario in fixtures/scenarios (and its servers/ and protocols/), run through the harness runner on a real
// kind cluster (created from kind-config.yaml unless one of that name is already running; deleted at
// the end only if this suite created it and GRACEFUL_E2E_KIND_KEEP is not set).
// Skipped, with the reason printed, where `kind` is not installed or another backend was asked for.
import { resolve } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { KindBackend } from "../../../src/backends/kind/backend.js";
import { runScenario } from "../../../src/runner/run.js";
import { loadScenarios } from "../../../src/scenario/load.js";

const ROOT = resolve(import.meta.dirname, "../../..");
const requested = process.env.GRACEFUL_E2E_BACKEND;
const kindFound = (await execa("kind", ["version"], { reject: false, stdin: "ignore" })).exitCode === 0;

let skipReason: string | undefined;
if (requested && requested !== "kind") skipReason = `kind e2e skipped: GRACEFUL_E2E_BACKEND=${requested}`;
else if (!kindFound) skipReason = "kind e2e skipped: `kind` not found on PATH";
if (skipReason) console.warn(skipReason);
const kindAvailable = skipReason === undefined;

// The style matrix, the server images and the long-lived protocols: every fixture, unchanged.
const loaded = await loadScenarios(
  ["fixtures/scenarios", "fixtures/scenarios/servers", "fixtures/scenarios/protocols"].map((d) => resolve(ROOT, d)),
);
const filter = process.env.GRACEFUL_E2E_FILTER ? new RegExp(process.env.GRACEFUL_E2E_FILTER) : undefined;
const scenarios = loaded.filter((l) => !filter || filter.test(l.scenario.name));

describe.skipIf(!kindAvailable)("kind backend: every scenario in fixtures/scenarios", () => {
  const backend = new KindBackend({
    name: process.env.GRACEFUL_E2E_KIND_CLUSTER ?? "graceful-e2e",
    keep: process.env.GRACEFUL_E2E_KIND_KEEP === "1",
    ...(process.env.GRACEFUL_E2E_KIND_NODE_IMAGE ? { nodeImage: process.env.GRACEFUL_E2E_KIND_NODE_IMAGE } : {}),
    log: (line) => console.log(line),
  });

  afterAll(async () => {
    const closed = await backend.close();
    console.log(`kind: ${closed.reason}`);
  });

  it("has scenarios to run", () => {
    expect(scenarios.length).toBeGreaterThan(0);
  });

  for (const l of scenarios) {
    it(l.scenario.name, async () => {
      const result = await runScenario(l, {
        backend,
        resultsDir: resolve(ROOT, "results/kind"),
        onProgress: (line) => console.log(line),
      });
      expect(result.error).toBeUndefined();
      const failed = result.verdicts.filter((v) => !v.pass).map((v) => `${v.name}: ${v.evidence}`);
      expect(failed).toEqual([]);
      // A run whose disrupted pod carried no traffic is INCONCLUSIVE: never a pass.
      expect(result.inconclusive ?? []).toEqual([]);
      expect(result.status).toBe("pass");
    });
  }
});
