import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backendTable, defaultTable, parseArgs, readBackendResults, statusText } from "../../scripts/styles-table.js";
import { readResults } from "../../src/report/write.js";
import type { ScenarioResult } from "../../src/runner/run.js";

const FIXTURES = join(import.meta.dirname, "../fixtures/scenario-results");

let local: ScenarioResult[];
beforeAll(async () => {
  local = await readResults(FIXTURES);
});

/** A fixture as another backend would have written it before `status` existed. */
function olderKindResult(name: string, servedByDeleted: number): ScenarioResult {
  const r = structuredClone(local.find((x) => x.scenario.name === name)!) as Partial<ScenarioResult>;
  delete r.status;
  const pod = r.pods![0]!;
  r.backend = "kind";
  r.pods![0] = { ...pod, pid1Cmdline: "/app/entrypoint.sh", exitedAt: pod.deleteAt + 3084 };
  r.load = {
    ...r.load!,
    servedBy: [
      { pod: `${pod.pod}/app`, count: servedByDeleted, first: 0, last: 0 },
      { pod: "other/app", count: 99, first: 0, last: 0 },
    ],
  };
  return r as ScenarioResult;
}

describe("styles table arguments", () => {
  it("directories, --write, --backends (both spellings); the list is not taken for a directory", () => {
    expect(parseArgs([])).toEqual({ dirs: ["results"], write: false });
    expect(parseArgs(["r", "--write"])).toEqual({ dirs: ["r"], write: true });
    expect(parseArgs(["--backends", "local,kind", "a", "b"])).toEqual({
      dirs: ["a", "b"],
      write: false,
      backends: ["local", "kind"],
    });
    expect(parseArgs(["a", "--backends=kind"]).backends).toEqual(["kind"]);
    expect(() => parseArgs(["--backends"])).toThrow(/comma-separated/);
  });
});

describe("styles table", () => {
  it("the default table is the README's: one row per matrix result, unchanged columns", () => {
    const table = defaultTable(local).split("\n");
    expect(table[0]).toBe(
      "| style | PID 1 (live, before the delete) | preStop | SIGTERM received by the app | exit | delete → exit | failed requests |",
    );
    expect(table.slice(2)).toEqual([
      "| exec-form | `node /app/server.js` | sleep 2 | app: +2.0 s | 0, graceful | 3.17 s | **0** of 800 |",
      "| shell-form | `/bin/sh -c node /app/server.js` | none | no | 137, killed | 8.15 s | 4 of 1440 (closed 4) |",
    ]);
  });

  it("--backends: per style × preStop, each backend's figures and status side by side", () => {
    const kind = olderKindResult("exec-form-prestop-sleep", 0);
    const table = backendTable([...local, kind], ["local", "kind"]).split("\n");
    expect(table[0]).toBe(
      "| style | PID 1 (live, before the delete) | preStop | local: SIGTERM received by the app | local: exit | " +
        "local: delete → exit | local: failed requests | local: status | kind: SIGTERM received by the app | kind: exit | " +
        "kind: delete → exit | kind: failed requests | kind: status |",
    );
    expect(table[1]).toBe(`|${"---|".repeat(13)}`);
    expect(table.slice(2)).toEqual([
      "| exec-form | local: `node /app/server.js`; kind: `/app/entrypoint.sh` | sleep 2 | app: +2.0 s | 0, graceful | 3.17 s | " +
        "**0** of 800 | PASS | app: +2.0 s | 0, graceful | 3.08 s | **0** of 800 | PASS (no exercise evidence; the deleted pod served 0) |",
      "| shell-form | `/bin/sh -c node /app/server.js` | none | no | 137, killed | 8.15 s | 4 of 1440 (closed 4) | PASS | " +
        "- | - | - | - | not run |",
    ]);
  });

  it("status cells: the file's status; derived from pass (and marked) when the file has none", () => {
    const inconclusive = { ...local[0]!, status: "inconclusive" as const, pass: false };
    expect(statusText(inconclusive)).toBe("INCONCLUSIVE");
    expect(statusText(olderKindResult("exec-form-prestop-sleep", 105))).toBe(
      "PASS (no exercise evidence; the deleted pod served 105)",
    );
    const noServedBy = olderKindResult("exec-form-prestop-sleep", 1);
    noServedBy.load!.servedBy = [];
    noServedBy.pass = false;
    expect(statusText(noServedBy)).toBe("FAIL (no exercise evidence)");
  });

  describe("reading directories", () => {
    let a: string;
    let b: string;
    beforeAll(async () => {
      a = await mkdtemp(join(tmpdir(), "ge-styles-a-"));
      b = await mkdtemp(join(tmpdir(), "ge-styles-b-"));
      const exec = local.find((x) => x.scenario.name === "exec-form-prestop-sleep")!;
      await writeFile(join(a, "exec-form-prestop-sleep.local.json"), JSON.stringify(exec));
      // Named kind, but the JSON says local: not taken for kind.
      await writeFile(join(a, "exec-form-prestop-sleep.kind.json"), JSON.stringify(exec));
      await writeFile(join(a, "junit.json"), "{}");
      await writeFile(
        join(b, "exec-form-prestop-sleep.kind.json"),
        JSON.stringify(olderKindResult(exec.scenario.name, 3)),
      );
    });
    afterAll(async () => {
      await rm(a, { recursive: true, force: true });
      await rm(b, { recursive: true, force: true });
    });

    it("takes <scenario>.<backend>.json of the listed backends whose JSON agrees, from every directory", () => {
      const found = readBackendResults([a, b], ["local", "kind"]);
      expect(found.map((r) => r.backend).sort()).toEqual(["kind", "local"]);
      expect(readBackendResults([a], ["kind"])).toEqual([]);
    });
  });
});
