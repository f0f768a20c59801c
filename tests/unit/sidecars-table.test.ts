// scripts/sidecars-table.ts: the README's sidecar table from result files — failures and their blamed
// container aggregated over repeated runs (min–max, a run without a cause counting 0), per container
// stop signal and exit, and a scenario the CLI refused.
import { describe, expect, it } from "vitest";
import { causesCell, exitsCell, range, sidecarRow, statusCell } from "../../scripts/sidecars-table.js";
import type { ContainerFailureWindow, PodOutcome } from "../../src/model/pod-outcome.js";
import type { ScenarioResult } from "../../src/runner/run.js";

const T0 = 1_000_000;

function window(container: string, cause: ContainerFailureWindow["cause"], count: number): ContainerFailureWindow {
  const kinds: Record<string, number> =
    cause === "listener-closed-behind-proxy" ? { "non-2xx 502": count } : { reset: count };
  return {
    cause,
    container,
    ...(cause === "listener-closed-behind-proxy" ? { via: "proxy" } : {}),
    from: T0,
    to: T0,
    count,
    kinds,
    evidence: "",
  };
}

function result(failures: ContainerFailureWindow[], status: ScenarioResult["status"], proxyExit = 250): ScenarioResult {
  const pod = {
    pod: "shop-web-0",
    container: "proxy",
    role: "app",
    deleteAt: T0,
    sigterm: { at: T0 + 2000, by: "sent", inferred: false, from: "sent" },
    exitedAt: T0 + 2000 + proxyExit,
    exitCode: 0,
    sigkilled: false,
    sidecars: [
      {
        container: "app",
        role: "sidecar",
        sigterm: { at: T0 + 10, by: "sent", inferred: false, from: "sent" },
        exitedAt: T0 + 1100,
        exitCode: 0,
        sigkilled: false,
        pid1Cmdline: "",
        processes: [],
      },
    ],
    failureCauses: failures,
    pid1Cmdline: "",
    processes: [],
    notes: [],
  } as PodOutcome;
  const failed = failures.reduce((n, w) => n + w.count, 0);
  return {
    scenario: { name: "shop-web-as-shipped", description: "as shipped" },
    status,
    pass: status === "pass",
    verdicts: status === "fail" ? [{ name: "maxFailedRequests", pass: false }] : [],
    pods: [pod],
    load: { sent: 900 + failed, failed, failedByKind: failed > 0 ? { "non-2xx": failed } : {} },
  } as unknown as ScenarioResult;
}

describe("sidecars table", () => {
  it("ranges: one value once, else min–max", () => {
    expect(range([3, 3])).toBe("3");
    expect(range([151, 48, 90])).toBe("48–151");
    expect(range([])).toBe("-");
    expect(range([10, 12], (n) => (n / 1000).toFixed(2))).toBe("0.01");
  });

  it("blames per container and cause over the runs; a run without that cause counts 0", () => {
    const runs = [
      result([window("app", "listener-closed-behind-proxy", 48)], "pass"),
      result(
        [window("app", "listener-closed-behind-proxy", 151), window("proxy", "front-stopped-without-drain", 2)],
        "pass",
      ),
    ];
    expect(causesCell(runs)).toBe(
      "**app — its listener closed behind the proxy** (via proxy): 48–151 (non-2xx 502); " +
        "**proxy — stopped without draining**: 0–2 (reset)",
    );
    expect(causesCell([result([], "pass")])).toBe("—");
  });

  it("each container's stop signal and exit after the delete, over the runs", () => {
    const runs = [result([], "pass", 250), result([], "pass", 310)];
    expect(exitsCell(runs)).toBe(
      "proxy: signal +2.00 s, exit 0 at +2.25–2.31 s<br>app: signal +0.01 s, exit 0 at +1.10 s",
    );
  });

  it("statuses counted, the verdicts not met named; the whole row", () => {
    const runs = [result([window("app", "listener-closed-behind-proxy", 5)], "fail"), result([], "pass")];
    expect(statusCell(runs)).toBe("FAIL ×1, PASS ×1 (not met: maxFailedRequests)");
    expect(sidecarRow({ file: "f.yaml", results: runs })).toBe(
      "| shop-web-as-shipped — as shipped | 0–5 of 900–905; runs: 5, 0 | **app — its listener closed behind the proxy** (via proxy): 0–5 (non-2xx 502) | " +
        "proxy: signal +2.00 s, exit 0 at +2.25 s<br>app: signal +0.01 s, exit 0 at +1.10 s | FAIL ×1, PASS ×1 (not met: maxFailedRequests) |",
    );
  });

  it("a scenario the CLI refused before anything started: its exit and line", () => {
    const file = "fixtures/workloads/scenarios/before-1.29/old.yaml";
    const row = sidecarRow({ file, results: [], refused: { exitCode: 2, line: `error: ${file}: workload: no` } });
    expect(row).toBe("| before-1.29/old | not run — exit 2, nothing started: `workload: no` | | | |");
  });
});
