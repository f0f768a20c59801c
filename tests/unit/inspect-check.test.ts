// The pure parts of `graceful-e2e check`: the scenario it runs, its name, floating references,
// and the exit status.
import { describe, expect, it } from "vitest";
import { CHECK_DEFAULTS, checkScenario, checkScenarioName, isFloatingRef } from "../../src/inspect/check.js";

describe("check scenario", () => {
  const opts = { ...CHECK_DEFAULTS, image: "my/app:1.4", port: 3000 };

  it("a validated scenario: image by ref, 2 replicas, preStop sleep, one delete under load, zero drops expected", () => {
    const s = checkScenario("registry.local:5000/my/app:1.4", opts);
    expect(s.name).toBe("check-registry-local-5000-my-app");
    expect(s.image).toEqual({ ref: "registry.local:5000/my/app:1.4" });
    expect(s.port).toBe(3000);
    expect(s.replicas).toBe(2);
    expect(s.preStop).toEqual({ type: "sleep", seconds: 2 });
    expect(s.terminationGracePeriodSeconds).toBe(30);
    expect(s.disruption).toEqual({ action: "delete", count: 1, atSeconds: 2 });
    expect(s.expectations).toEqual({ maxFailedRequests: 0 });
    expect(s.local.endpointPropagationMs).toBe(1000);
    expect(s.load).toMatchObject({ connections: 8, durationSeconds: 6, path: "/", keepAlive: true });
  });

  it("--prestop 0 means no hook; a :latest ref is refused by the schema", () => {
    expect(checkScenario("a/b:1", { ...opts, preStopSeconds: 0 }).preStop).toEqual({ type: "none" });
    expect(() => checkScenario("a/b:latest", opts)).toThrow(/latest/);
  });

  it("names fit the scenario name rules", () => {
    expect(checkScenarioName("graceful-e2e/shell-form:773840994a92")).toBe("check-graceful-e2e-shell-form");
    expect(checkScenarioName("x@sha256:abc")).toBe("check-x");
    expect(checkScenarioName(`a/${"b".repeat(80)}:1`)).toMatch(/^check-a-b+$/);
    expect(checkScenarioName(`a/${"b".repeat(80)}:1`).length).toBeLessThanOrEqual(52);
  });

  it("floating references: no tag or :latest (a registry port is not a tag; a digest is fixed)", () => {
    expect(isFloatingRef("nginx")).toBe(true);
    expect(isFloatingRef("nginx:latest")).toBe(true);
    expect(isFloatingRef("localhost:5000/nginx")).toBe(true);
    expect(isFloatingRef("localhost:5000/nginx:1.27")).toBe(false);
    expect(isFloatingRef("nginx@sha256:0123")).toBe(false);
  });
});
