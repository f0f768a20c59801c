// expectations.containers.<name> (issue 16 item 4): the schema (base and expectations.backends.*) and
// the per-container verdicts — a container judged as a pod of its own, a name no container has FAILS (a
// typo or the wrong workload is the scenario's mistake, not missing evidence), a backend that names no
// container is INCONCLUSIVE, and a stop signal only inferred cannot pass or fail "sigterm".
import { describe, expect, it } from "vitest";
import type { LoadResult } from "../../src/load/types.js";
import type { ContainerOutcome, PodOutcome } from "../../src/model/pod-outcome.js";
import { expectationsFor } from "../../src/scenario/expectations.js";
import { parseScenario, ScenarioValidationError } from "../../src/scenario/load.js";
import { evaluate } from "../../src/verdict/verdicts.js";

const T0 = 1_800_000_000_000;
const LOAD = { failures: [], failed: 0, sent: 100 } as unknown as LoadResult;

function sidecar(over: Partial<ContainerOutcome> = {}): ContainerOutcome {
  return {
    container: "proxy",
    role: "sidecar",
    pid1Cmdline: "nginx",
    sigkilled: false,
    exitCode: 0,
    exitedAt: T0 + 800,
    processes: [],
    ...over,
  };
}

function pod(over: Partial<PodOutcome> = {}): PodOutcome {
  return {
    pod: "web-1",
    deleteAt: T0,
    notes: [],
    container: "app",
    role: "app",
    pid1Cmdline: "node server.js",
    sigkilled: false,
    exitCode: 0,
    exitedAt: T0 + 2500,
    processes: [{ role: "app", pid: 1, signals: [{ name: "SIGTERM", at: T0 + 5 }], exit: { code: 0, at: T0 + 2490 } }],
    sidecars: [sidecar()],
    ...over,
  };
}

describe("expectations.containers in the scenario file", () => {
  const parse = (yaml: string) => parseScenario("x.yaml", `name: x\nimage: {style: exec}\n${yaml}`);
  it("is read in the base and under expectations.backends.*; a backend's layer replaces it", () => {
    const s = parse(
      "expectations:\n  containers:\n    proxy: {exit: graceful, sigterm: true, terminationSeconds: {maxSeconds: 5}}\n" +
        "  backends:\n    kind:\n      containers:\n        proxy: {exit: killed}\n    local:\n      containers: null\n",
    ).scenario;
    expect(expectationsFor(s.expectations, "existing").containers).toEqual({
      proxy: { exit: "graceful", sigterm: true, terminationSeconds: { maxSeconds: 5 } },
    });
    expect(expectationsFor(s.expectations, "kind").containers).toEqual({ proxy: { exit: "killed" } });
    expect(expectationsFor(s.expectations, "local").containers).toBeUndefined();
  });

  it("refuses an unknown field inside a container's expectations, naming it", () => {
    const err = (() => {
      try {
        parse("expectations:\n  containers:\n    proxy: {exitt: graceful}\n");
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ScenarioValidationError);
    expect(String((err as ScenarioValidationError).issues[0]?.field)).toMatch(/expectations\.containers\.proxy/);
  });
});

describe("per-container verdicts", () => {
  it("judges each named container on its own evidence: exit, termination, stop signal", () => {
    const p = pod({ sidecars: [sidecar({ exitCode: 137, sigkilled: true, exitedAt: T0 + 30_000 })] });
    const v = evaluate({
      expectations: {
        containers: {
          app: { exit: "graceful", sigterm: true },
          proxy: { exit: "graceful", terminationSeconds: { maxSeconds: 5 } },
        },
      },
      load: LOAD,
      pods: [p],
    });
    expect(v.map((x) => [x.name, x.pass, x.actual])).toEqual([
      ["SIGTERM (web-1/app)", true, "received"],
      ["exit (web-1/app)", true, "graceful"],
      ["exit (web-1/proxy)", false, "killed"],
      ["termination time (web-1/proxy)", false, "30.00 s"],
    ]);
  });

  it("a name no container of the pod has fails, naming the containers it has", () => {
    const [v] = evaluate({ expectations: { containers: { proxi: { exit: "graceful" } } }, load: LOAD, pods: [pod()] });
    expect(v).toMatchObject({ name: "container proxi (web-1)", pass: false, actual: "absent" });
    expect(v?.decidable).toBeUndefined();
    expect(v?.evidence).toBe('web-1 has no container named "proxi"; its containers: app, proxy');
  });

  it("a backend that names no container makes it inconclusive, never a pass", () => {
    const unnamed = pod({ container: undefined, sidecars: undefined });
    const [v] = evaluate({ expectations: { containers: { app: { exit: "graceful" } } }, load: LOAD, pods: [unnamed] });
    expect(v).toMatchObject({ pass: false, decidable: false });
    expect(v?.inconclusive).toMatch(/did not name web-1's containers/);
  });

  it("a stop signal only inferred (a silent proxy, the delete with no preStop) is undecidable; a record decides", () => {
    const inferred = sidecar({
      sigterm: { at: T0, by: "delete", inferred: true, from: "the delete (no preStop hook)" },
    });
    const [undecided] = evaluate({
      expectations: { containers: { proxy: { sigterm: true } } },
      load: LOAD,
      pods: [pod({ sidecars: [inferred] })],
    });
    expect(undecided).toMatchObject({ pass: false, decidable: false, actual: "unknown" });
    expect(undecided?.inconclusive).toMatch(/inferred at \+0\.000 s from the delete/);
    const logged = sidecar({ processes: [{ role: "proxy", pid: 1, signals: [] }] });
    const [notReceived] = evaluate({
      expectations: { containers: { proxy: { sigterm: true } } },
      load: LOAD,
      pods: [pod({ sidecars: [logged] })],
    });
    expect(notReceived).toMatchObject({ pass: false, actual: "not received" });
    expect(notReceived?.decidable).toBeUndefined();
  });

  it("a one-container pod can be named by its container (kind names it)", () => {
    const single = pod({ sidecars: undefined, role: undefined });
    const v = evaluate({ expectations: { containers: { app: { exit: "graceful" } } }, load: LOAD, pods: [single] });
    expect(v.map((x) => [x.name, x.pass])).toEqual([["exit (web-1/app)", true]]);
  });
});

describe("failed requests caused by a container (expectations.containers.<name>.min/maxFailedRequests)", () => {
  const window = (container: string | undefined, cause: string, count: number) =>
    ({
      cause,
      ...(container ? { container } : {}),
      from: T0,
      to: T0,
      count,
      kinds: { "non-2xx 502": count },
      evidence: "",
    }) as NonNullable<PodOutcome["failureCauses"]>[number];
  const judge = (windows: NonNullable<PodOutcome["failureCauses"]>, containers: Record<string, object>) =>
    evaluate({ expectations: { containers }, load: LOAD, pods: [pod({ failureCauses: windows })] });

  it("counts only the failures attributed to the named container", () => {
    const windows = [
      window("app", "listener-closed-behind-proxy", 48),
      window("proxy", "front-stopped-without-drain", 2),
    ];
    const v = judge(windows, { app: { minFailedRequests: 1 }, proxy: { maxFailedRequests: 0 } });
    expect(v.map((x) => [x.name, x.actual, x.pass])).toEqual([
      ["failed requests caused by app (web-1)", "48", true],
      ["failed requests caused by proxy (web-1)", "2", false],
    ]);
    expect(v[1]?.evidence).toBe("2 failed request(s) attributed to proxy (front-stopped-without-drain 2)");
  });

  it("unattributed failures that could change the outcome make it undecidable; those that cannot, do not", () => {
    const windows = [window("app", "listener-closed-behind-proxy", 3), window(undefined, "unattributed", 2)];
    const [undecided] = judge(windows, { proxy: { maxFailedRequests: 0 } });
    expect(undecided).toMatchObject({ actual: "0–2", pass: false, decidable: false });
    expect(undecided?.inconclusive).toMatch(/2 unattributed failure\(s\) could be proxy's/);
    const [failed] = judge(windows, { app: { maxFailedRequests: 1 } });
    expect(failed).toMatchObject({ actual: "3–5", pass: false });
    expect(failed?.decidable).toBeUndefined();
    const [passed] = judge([window(undefined, "before-stop-signal", 4)], { app: { maxFailedRequests: 0 } });
    expect(passed).toMatchObject({ actual: "0", pass: true });
  });

  it("the scenario file checks each container's min against its max", () => {
    const err = (() => {
      try {
        parseScenario(
          "x.yaml",
          "name: x\nimage: {style: exec}\nexpectations:\n  containers:\n    app: {minFailedRequests: 3, maxFailedRequests: 1}\n",
        );
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ScenarioValidationError);
    expect((err as ScenarioValidationError).issues.map((i) => `${i.field}: ${i.message}`)).toContain(
      "expectations.containers.app.minFailedRequests: minFailedRequests (3) exceeds maxFailedRequests (1)",
    );
  });
});
