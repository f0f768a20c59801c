// One cause catalogue for check and audit (issue 17 items 3 and 6): the nginx / apache2 slips of the
// two-node kind field report, replayed from what was recorded there.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { auditWorkload } from "../../src/audit/rules.js";
import type { PropagationBasis } from "../../src/audit/types.js";
import { type CheckObservation, diagnose } from "../../src/inspect/diagnose.js";
import { predict } from "../../src/inspect/predict.js";
import type { ProcessTreeInspection } from "../../src/model/process-tree.js";
import { compose, container, deployment, STYLE_TREES } from "./audit-fixtures.js";

const ctx = { propagation: { ms: 1000, source: "assumed", detail: "assumed 1000 ms" } as PropagationBasis };
const DEFAULT_STOP = { signal: "SIGTERM", from: "default (the image sets no STOPSIGNAL)" };

const recorded = JSON.parse(
  readFileSync(
    join(import.meta.dirname, "../fixtures/recordings/kind-v1.20.2-2node/check-graceful-e2e-nginx.kind.check.json"),
    "utf8",
  ),
) as { inspection: ProcessTreeInspection; observation: CheckObservation; port: number };

describe("check on the nginx sample (kind, 5 requests cut, exit code unknown)", () => {
  const pred = predict(recorded.inspection.processes, { port: recorded.port, stopSignal: DEFAULT_STOP });
  const d = diagnose(pred, recorded.observation, { graceSeconds: 30, preStopSeconds: 2, stopSignal: "SIGTERM" });

  it("predicts nginx's fast SIGTERM shutdown, never a graceful exit", () => {
    expect(pred.cause).toBe("server-fast-stop");
    expect(pred.branches).toEqual([{ outcome: "abrupt" }]);
    expect(pred.summary).not.toMatch(/expect a graceful exit/);
  });

  it("does not say the prediction held as graceful, and names the fast shutdown as the cause", () => {
    expect(d.heldWords).not.toMatch(/^held: graceful/);
    expect(d.problem).toMatch(/nginx gets SIGTERM when stopped, which is a fast shutdown/);
    expect(d.fix).toMatch(/STOPSIGNAL SIGQUIT/);
    expect(d.dropped).toBe(true);
  });
});

describe("audit of nginx and apache2 stopped with SIGTERM", () => {
  for (const style of ["nginx", "apache2"]) {
    it(`${style}: one high finding for the fast stop, no "expect a graceful exit" beside it, a prediction without repeats`, () => {
      const a = auditWorkload(compose(style, container({ processes: STYLE_TREES[style] })), ctx);
      const mismatch = a.findings.filter((x) => x.code === "stop-signal-mismatch");
      expect(mismatch).toHaveLength(1);
      expect(mismatch[0]?.severity).toBe("high");
      for (const x of a.findings) expect(x.title).not.toMatch(/expect a graceful exit/);
      expect(a.prediction.outcome).toBe("abrupt");
      const clauses = a.prediction.summary.split(/[:;] /);
      const fast = clauses.filter((c) => /gets SIGTERM/.test(c));
      expect(fast.length).toBeGreaterThan(0);
      expect(new Set(a.prediction.summary.split("; ")).size).toBe(a.prediction.summary.split("; ").length);
      expect(a.prediction.summary.match(/gets SIGTERM/g)).toHaveLength(1);
    });
  }
});

describe("one rule for the propagation window, whatever the server (kind, no preStop, a Service)", () => {
  const noPreStop = { type: "none" as const, description: "none" };
  const exposed = { exposedBy: ["app"] };
  /** nginx with STOPSIGNAL SIGQUIT (its graceful stop) and no preStop, as in the field report. */
  const nginxQuit = (o: { exposedBy: string[] }) =>
    deployment(
      "nginx-quit",
      container({
        processes: STYLE_TREES.nginx,
        stopSignal: { signal: "SIGQUIT", from: "the image's STOPSIGNAL" },
        preStop: noPreStop,
      }),
      o,
    );

  it("nginx with STOPSIGNAL SIGQUIT and no preStop gets the same no-preStop finding as exec-form", () => {
    const quit = auditWorkload(nginxQuit(exposed), ctx);
    const exec = auditWorkload(
      deployment("exec-form", container({ processes: STYLE_TREES["exec-form"], preStop: noPreStop }), exposed),
      ctx,
    );
    const noPrestop = (a: typeof quit) => a.findings.find((x) => x.code === "no-prestop")?.severity;
    expect(noPrestop(exec)).toBe("high");
    expect(noPrestop(quit)).toBe("high");
    expect(quit.prediction.drops).toBe("likely");
    expect(quit.prediction.summary).not.toMatch(/^drops nothing/);
  });

  it("without a Service the prediction says why nothing is dropped, and names the missing preStop", () => {
    const quit = auditWorkload(nginxQuit({ exposedBy: [] }), ctx);
    expect(quit.prediction.summary).toMatch(/no Service selects it.*no preStop/);
  });
});
