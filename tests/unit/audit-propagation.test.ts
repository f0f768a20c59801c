// The endpoint propagation a preStop must cover: taken from graceful-e2e's own results for the same
// target (the real kind 1.20 matrix, the local fixtures), else an assumed value the report names.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ASSUMED_PROPAGATION_MS, propagationFrom, propagationFromResults } from "../../src/audit/propagation.js";
import { UsageError } from "../../src/util/errors.js";

const FIXTURES = join(import.meta.dirname, "../fixtures");
const KIND_MATRIX = join(FIXTURES, "audit/kind-v1.20.2-matrix");

describe("propagation from results", () => {
  it("kind 1.20 (real runs): the largest API-side endpoint removal, named a lower bound", async () => {
    const p = await propagationFrom([KIND_MATRIX], { backend: "kind", cluster: "graceful-e2e" });
    expect(p.source).toBe("measured");
    expect(p.ms).toBe(58); // tini-prestop-sleep: the endpoint left the slice 58 ms after the delete
    expect(p.detail).toMatch(/16 graceful-e2e run\(s\) on kind cluster graceful-e2e/);
    expect(p.detail).toMatch(/lower bound: kube-proxy/);
    expect(p.files?.some((f) => f.endsWith("tini-prestop-sleep.kind.json"))).toBe(true);
  });

  it("another cluster's or backend's runs are not used: assumed, and said so", async () => {
    const other = await propagationFrom([KIND_MATRIX], { backend: "kind", cluster: "prod" });
    expect(other).toMatchObject({ source: "assumed", ms: ASSUMED_PROPAGATION_MS });
    expect(other.detail).toMatch(/hold no propagation measurement for kind cluster prod/);
    const local = await propagationFrom([KIND_MATRIX], { backend: "local" });
    expect(local.source).toBe("assumed");
  });

  it("the client-side measurement (last new connection) wins over the API's", () => {
    const p = propagationFromResults(
      [
        {
          file: "a.json",
          result: {
            backend: "local",
            pods: [{ pod: "p0", exercise: { lastNewConnectionMs: 981 } }],
            timeline: { entries: [{ kind: "endpoint-removed", t: 1000, pod: "p0" }] },
          },
        },
        { file: "b.json", result: { backend: "local", pods: [{ pod: "p1", exercise: { lastNewConnectionMs: -40 } }] } },
      ],
      { backend: "local" },
    );
    expect(p).toMatchObject({ ms: 981, source: "measured", files: ["a.json"] });
    expect(p.detail).toMatch(/last new connection/);
  });

  it("nothing given: assumed 1000 ms (or the value asked for)", () => {
    expect(propagationFromResults([], { backend: "local" })).toMatchObject({ ms: 1000, source: "assumed" });
    expect(propagationFromResults([], { backend: "local" }, 2500).ms).toBe(2500);
  });

  it("reads the local fixtures, skips files that are not results, refuses a missing directory", async () => {
    const dir = await mkdtemp(join(tmpdir(), "audit-prop-"));
    await writeFile(join(dir, "junk.json"), "{not json");
    await writeFile(join(dir, "other.json"), JSON.stringify({ hello: 1 }));
    const p = await propagationFrom([join(FIXTURES, "scenario-results"), dir], { backend: "local" });
    // the largest of the three fixtures: single-failure-500.local.json, endpoint removed +1001 ms
    expect(p).toMatchObject({ source: "measured", ms: 1001 });
    await expect(propagationFrom([join(dir, "missing")], { backend: "local" })).rejects.toBeInstanceOf(UsageError);
    await rm(dir, { recursive: true, force: true });
  });
});
