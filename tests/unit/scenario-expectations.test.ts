// Per-backend expectations: expectationsFor's merge, the schema around it, and what the shipped
// fixtures state on each backend.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { expectationsFor, SCENARIO_BACKENDS } from "../../src/scenario/expectations.js";
import { loadScenarios, parseScenario, ScenarioValidationError } from "../../src/scenario/load.js";
import { type ScenarioExpectations, ScenarioSpec } from "../../src/scenario/schema.js";

const BASE: ScenarioExpectations = {
  minFailedRequests: 1,
  sigterm: { "*": true },
  exit: "graceful",
  terminationSeconds: { maxSeconds: 4 },
};

function issuesOf(yaml: string): Array<{ field: string; message: string }> {
  try {
    parseScenario("x.yaml", `name: x\nimage: {style: exec}\n${yaml}`);
  } catch (e) {
    if (e instanceof ScenarioValidationError) return e.issues.map(({ field, message }) => ({ field, message }));
    throw e;
  }
  return [];
}

describe("expectationsFor", () => {
  it("without backends: the base, on every backend", () => {
    for (const b of SCENARIO_BACKENDS) expect(expectationsFor(BASE, b)).toEqual(BASE);
  });

  it("never returns the backends part", () => {
    const e = { ...BASE, backends: { local: { exit: "killed" as const } } };
    for (const b of SCENARIO_BACKENDS) expect(expectationsFor(e, b)).not.toHaveProperty("backends");
  });

  it("kubernetes applies to kind and existing, not to local", () => {
    const e = { ...BASE, backends: { kubernetes: { minFailedRequests: null, maxFailedRequests: 0 } } };
    expect(expectationsFor(e, "local")).toEqual(BASE);
    const { minFailedRequests: _, ...rest } = BASE;
    expect(expectationsFor(e, "kind")).toEqual({ ...rest, maxFailedRequests: 0 });
    expect(expectationsFor(e, "existing")).toEqual({ ...rest, maxFailedRequests: 0 });
  });

  it("precedence: the backend's own key, then kubernetes, then the base", () => {
    const e: ScenarioExpectations = {
      ...BASE,
      backends: { kubernetes: { exit: "killed", minFailedRequests: 2 }, kind: { exit: "abrupt" } },
    };
    expect(expectationsFor(e, "kind")).toMatchObject({ exit: "abrupt", minFailedRequests: 2 });
    expect(expectationsFor(e, "existing")).toMatchObject({ exit: "killed", minFailedRequests: 2 });
    expect(expectationsFor(e, "local")).toMatchObject({ exit: "graceful", minFailedRequests: 1 });
  });

  it("null removes the expectation, also one that kubernetes set; a field left out keeps the layer below", () => {
    const e: ScenarioExpectations = {
      ...BASE,
      backends: { kubernetes: { maxFailedRequests: 3 }, existing: { maxFailedRequests: null, exit: null } },
    };
    expect(expectationsFor(e, "existing")).toEqual({
      minFailedRequests: 1,
      sigterm: { "*": true },
      terminationSeconds: { maxSeconds: 4 },
    });
    expect(expectationsFor(e, "kind")).toEqual({ ...BASE, maxFailedRequests: 3 });
  });

  it("replaces a whole field (terminationSeconds, sigterm), it does not merge inside it", () => {
    const e: ScenarioExpectations = {
      terminationSeconds: { minSeconds: 2, maxSeconds: 6 },
      sigterm: { app: true, "app-1": true },
      backends: { local: { terminationSeconds: { maxSeconds: 9 }, sigterm: { app: false } } },
    };
    expect(expectationsFor(e, "local")).toEqual({ terminationSeconds: { maxSeconds: 9 }, sigterm: { app: false } });
  });

  it("is pure: the input is left as it was", () => {
    const e: ScenarioExpectations = { ...BASE, backends: { kubernetes: { minFailedRequests: null } } };
    const copy = structuredClone(e);
    expectationsFor(e, "kind");
    expectationsFor(e, "local");
    expect(e).toEqual(copy);
  });

  it("works on what the schema parsed (empty expectations: nothing to check)", () => {
    const s = ScenarioSpec.parse({ name: "x", image: { style: "exec" } });
    for (const b of SCENARIO_BACKENDS) expect(expectationsFor(s.expectations, b)).toEqual({});
  });
});

describe("expectations.backends in the schema", () => {
  it("accepts null only under backends", () => {
    expect(issuesOf("expectations: {backends: {kind: {minFailedRequests: null}}}")).toEqual([]);
    expect(issuesOf("expectations: {minFailedRequests: null}")[0]?.field).toBe("expectations.minFailedRequests");
  });

  it("refuses unknown backends and a nested backends", () => {
    expect(issuesOf("expectations: {backends: {minikube: {}}}")).toEqual([
      { field: "expectations.backends.minikube", message: expect.stringMatching(/unknown field/) },
    ]);
    expect(issuesOf("expectations: {backends: {kind: {backends: {}}}}")[0]?.field).toBe(
      "expectations.backends.kind.backends",
    );
  });

  it("validates each backend's fields like the base's", () => {
    expect(issuesOf("expectations: {backends: {local: {terminationSeconds: {minSeconds: 3, maxSeconds: 1}}}}")).toEqual(
      [{ field: "expectations.backends.local.terminationSeconds", message: "minSeconds must not exceed maxSeconds" }],
    );
    expect(issuesOf("expectations: {backends: {kubernetes: {minFailedRequests: 0}}}")[0]?.field).toBe(
      "expectations.backends.kubernetes.minFailedRequests",
    );
  });

  it("checks min ≤ max on every backend's merged result, naming the key that broke it", () => {
    expect(issuesOf("expectations: {maxFailedRequests: 0, backends: {local: {minFailedRequests: 2}}}")).toEqual([
      {
        field: "expectations.backends.local",
        message: "on local, merged with the base expectations: minFailedRequests (2) exceeds maxFailedRequests (0)",
      },
    ]);
    // kind's own key sets nothing involved: kubernetes is to blame, for kind only (existing fixes it).
    expect(
      issuesOf(
        "expectations: {minFailedRequests: 1, backends: {kubernetes: {maxFailedRequests: 0}, kind: {exit: killed}, existing: {minFailedRequests: null}}}",
      ),
    ).toEqual([
      {
        field: "expectations.backends.kubernetes",
        message: "on kind, merged with the base expectations: minFailedRequests (1) exceeds maxFailedRequests (0)",
      },
    ]);
  });

  it("a base that is wrong is reported once, not again for every backend that inherits it", () => {
    const issues = issuesOf(
      "expectations: {minFailedRequests: 2, maxFailedRequests: 1, backends: {kind: {exit: killed}}}",
    );
    expect(issues).toEqual([
      { field: "expectations.minFailedRequests", message: "minFailedRequests (2) exceeds maxFailedRequests (1)" },
    ]);
  });

  it("a backend that repairs a wrong base: the base is still reported (it must hold too)", () => {
    const issues = issuesOf(
      "expectations: {minFailedRequests: 2, maxFailedRequests: 1, backends: {local: {minFailedRequests: null}, kubernetes: {maxFailedRequests: null}}}",
    );
    expect(issues.map((i) => i.field)).toEqual(["expectations.minFailedRequests"]);
  });
});

describe("the shipped fixtures on each backend", () => {
  const FIXTURES = join(import.meta.dirname, "../../fixtures/scenarios");

  it("graceful styles without preStop expect a drop only on local (kind 1.20 lost none)", async () => {
    const loaded = await loadScenarios([FIXTURES]);
    for (const style of ["exec-form", "exec", "trap"]) {
      const s = loaded.find((l) => l.scenario.name === `${style}-no-prestop`)?.scenario;
      expect(s, style).toBeDefined();
      if (!s) continue;
      expect(expectationsFor(s.expectations, "local")).toEqual({
        minFailedRequests: 1,
        sigterm: { "*": true },
        exit: "graceful",
        terminationSeconds: { maxSeconds: 4 },
      });
      for (const b of ["kind", "existing"] as const) {
        expect(expectationsFor(s.expectations, b), `${style} on ${b}`).toEqual({
          sigterm: { "*": true },
          exit: "graceful",
          terminationSeconds: { maxSeconds: 4 },
        });
      }
    }
  });

  it("every other fixture expects the same on every backend", async () => {
    const loaded = await loadScenarios([FIXTURES]);
    const others = loaded.filter((l) => !/^(exec-form|exec|trap)-no-prestop$/.test(l.scenario.name));
    expect(others).toHaveLength(13);
    for (const { scenario } of others) {
      expect(scenario.expectations.backends, scenario.name).toBeUndefined();
      const local = expectationsFor(scenario.expectations, "local");
      for (const b of SCENARIO_BACKENDS) expect(expectationsFor(scenario.expectations, b)).toEqual(local);
    }
  });

  it("the failure-mode styles keep minFailedRequests everywhere", async () => {
    const loaded = await loadScenarios([FIXTURES]);
    const failureModes = loaded.filter((l) => /^(shell-form|script|no-handler|tini|tini-group)-/.test(l.scenario.name));
    expect(failureModes).toHaveLength(10);
    for (const { scenario } of failureModes) {
      for (const b of SCENARIO_BACKENDS) {
        expect(expectationsFor(scenario.expectations, b).minFailedRequests, `${scenario.name} on ${b}`).toBe(1);
      }
    }
  });
});
