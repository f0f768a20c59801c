// load.protocol across the harness: the scenario schema's per-protocol fields (one error line naming
// the field), the protocol fixtures, `check --protocol`, and how reports show the unit and what the
// long-lived protocols add (retries, GOAWAYs, WebSocket closes).
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CHECK_DEFAULTS, checkScenario } from "../../src/check/run.js";
import { emptyFailureCounts, resultProblems } from "../../src/load/accounting.js";
import { FAILURE_KINDS, type LoadResult } from "../../src/load/types.js";
import { summaryRows } from "../../src/report/console.js";
import type { ScenarioResult } from "../../src/runner/run.js";
import { expectationsFor } from "../../src/scenario/expectations.js";
import { loadScenarios, parseScenario } from "../../src/scenario/load.js";
import { LoadSpec } from "../../src/scenario/schema.js";
import { evaluate, failureSummary, protocolNotes, unitSuffix } from "../../src/verdict/verdicts.js";

const issues = (load: unknown) => {
  const r = LoadSpec.safeParse(load);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
};

describe("load.protocol in the scenario schema", () => {
  it("defaults to http1 and leaves the protocol fields unset", () => {
    const l = LoadSpec.parse({});
    expect(l.protocol).toBe("http1");
    expect(l.streamsPerConnection).toBeUndefined();
    expect(l.messageIntervalMs).toBeUndefined();
  });

  it("accepts each protocol with its own fields", () => {
    expect(issues({ protocol: "http2", streamsPerConnection: 8, retryRefused: false })).toEqual([]);
    expect(issues({ protocol: "grpc", streamsPerConnection: 2 })).toEqual([]);
    expect(issues({ protocol: "websocket", messageIntervalMs: 100 })).toEqual([]);
  });

  it("refuses a field of another protocol with one line naming it", () => {
    expect(issues({ streamsPerConnection: 3 })).toEqual([
      "streamsPerConnection: only for protocol http2 or grpc (protocol is http1)",
    ]);
    expect(issues({ protocol: "grpc", messageIntervalMs: 10 })).toEqual([
      "messageIntervalMs: only for protocol websocket (protocol is grpc)",
    ]);
    expect(issues({ protocol: "websocket", retryRefused: true })).toEqual([
      "retryRefused: only for protocol http2 or grpc (protocol is websocket)",
    ]);
    expect(issues({ protocol: "http2", keepAlive: false })).toEqual([
      "keepAlive: false only for protocol http1 (protocol is http2): the other protocols' connections are long-lived and unpaced by design",
    ]);
    expect(issues({ protocol: "http3" })[0]).toMatch(/^protocol: /);
  });

  it("reports it with the file and the field path, like every field", () => {
    expect(() =>
      parseScenario(
        "bad.yaml",
        "name: bad\nimage: { style: exec-form }\nload: { protocol: grpc, messageIntervalMs: 5 }\n",
      ),
    ).toThrow(/load\.messageIntervalMs: only for protocol websocket \(protocol is grpc\)/);
  });
});

describe("the protocol fixtures", () => {
  it("one per protocol × variant × preStop, the app told which protocol to speak", async () => {
    const loaded = await loadScenarios([join(import.meta.dirname, "../../fixtures/scenarios/protocols")]);
    expect(loaded).toHaveLength(14);
    for (const { scenario } of loaded) {
      expect(scenario.env.APP_PROTOCOL, scenario.name).toBe(scenario.load.protocol);
      expect(scenario.name.startsWith(scenario.load.protocol)).toBe(true);
      const local = expectationsFor(scenario.expectations, "local");
      // Graceful with a preStop: nothing lost (HTTP/2, gRPC, a push-only WebSocket); the rest demonstrate a loss.
      if (/^(http2|grpc|websocket-push)-prestop-sleep$/.test(scenario.name)) expect(local.maxFailedRequests).toBe(0);
      else expect(local.minFailedRequests, scenario.name).toBe(1);
    }
  });
});

describe("check --protocol", () => {
  const opts = { ...CHECK_DEFAULTS, image: "a/b:1", port: 50051 };
  it("selects the load's protocol (http1 by default)", () => {
    expect(checkScenario("a/b:1", opts).load.protocol).toBe("http1");
    expect(checkScenario("a/b:1", { ...opts, protocol: "grpc" }).load.protocol).toBe("grpc");
    expect(checkScenario("a/b:1", { ...opts, protocol: "websocket" }).load.protocol).toBe("websocket");
  });
});

function grpcLoad(over: Partial<LoadResult> = {}): LoadResult {
  const failedByKind = emptyFailureCounts();
  failedByKind["grpc-other"] = 2;
  return {
    target: "127.0.0.1:1",
    startedAt: 0,
    endedAt: 1000,
    sent: 800,
    succeeded: 796,
    failed: 2,
    failedByKind,
    inFlightAtEnd: 2,
    failures: [
      { sentAt: 10, at: 20, kind: "grpc-other", code: 1, path: "/graceful.Echo/Say" },
      { sentAt: 10, at: 20, kind: "grpc-other", code: 1, path: "/graceful.Echo/Say" },
    ],
    successBuckets: [{ at: 0, count: 796 }],
    latencies: Array.from({ length: 796 }, () => ({ at: 5, ms: 1 })),
    servedBy: [{ pod: "p/app", count: 796, first: 1, last: 900 }],
    autocannon: { requests: 0, errors: 0, timeouts: 0, non2xx: 0, resets: 0 },
    protocol: "grpc",
    unit: "calls",
    retries: { attempted: 3, succeeded: 3, failed: 0, inFlightAtEnd: 0 },
    ...over,
  };
}

describe("reports: the unit and the protocols' own figures", () => {
  it("a sound result with retries", () => {
    expect(resultProblems(grpcLoad())).toEqual([]);
    expect(resultProblems(grpcLoad({ retries: { attempted: 3, succeeded: 1, failed: 0, inFlightAtEnd: 0 } }))).toEqual([
      "retries attempted (3) ≠ succeeded (1) + failed (0) + in flight at end (0)",
    ]);
  });

  it("results written before the protocol kinds existed read as 0 of each", () => {
    const old = grpcLoad({ protocol: undefined, unit: undefined, retries: undefined });
    old.failedByKind = { reset: 0, refused: 0, timeout: 0, "non-2xx": 0, closed: 0, error: 0 };
    old.failed = 0;
    old.failures = [];
    old.sent = 798;
    expect(resultProblems(old)).toEqual([]);
    expect(failureSummary(old)).toBe("none");
    expect(unitSuffix(old)).toBe("");
  });

  it("the console's failed-requests column and the verdict name the unit; new kinds are listed by name", () => {
    const load = grpcLoad();
    const result = {
      scenario: { name: "grpc-x" },
      backend: "local",
      pods: [],
      load,
      verdicts: [],
      status: "pass",
      pass: true,
    } as unknown as ScenarioResult;
    expect(summaryRows([result])[1]?.[7]).toBe("2/800 calls (grpc-other 2)");
    const [v] = evaluate({ expectations: { maxFailedRequests: 0 }, load, pods: [] });
    expect(v?.evidence).toMatch(/^2 failed of 800 calls sent \(grpc-other 2\)/);
    expect(v?.evidence).toContain("3 refused stream(s) retried: 3 then succeeded, 0 failed");
    expect(FAILURE_KINDS).toContain("ws-abnormal");
  });

  it("WebSocket closes: codes and reconnect gaps", () => {
    const load = grpcLoad({
      protocol: "websocket",
      unit: "messages",
      retries: undefined,
      websocket: {
        sockets: 8,
        closes: [
          { at: 1, code: 1001, lost: 1, reconnectGapMs: 3 },
          { at: 2, code: 1001, lost: 0, reconnectGapMs: 9 },
          { at: 3, code: 1006, lost: 2 },
        ],
        closesByCode: { "1001": 2, "1006": 1 },
        skippedTicks: 0,
        failedOpens: 0,
      },
    });
    expect(protocolNotes(load)).toEqual([
      "socket closes: 1001 ×2, 1006 ×1, reopened after 3–9 ms, 1 not reopened in the window",
    ]);
  });
});
