// The audit's rules on the sample images' process trees and on workload specs: findings with
// severity, evidence and fix, and the predicted outcome of a delete under load, held against what the
// README's styles table measured. Pure: no Docker, no cluster.
import { describe, expect, it } from "vitest";
import { auditWorkload, forStopSignal, runtimeAmbiguity } from "../../src/audit/rules.js";
import type { PropagationBasis, WorkloadFacts } from "../../src/audit/types.js";
import { compose, container, deployment, MASKS, MEASURED_EXIT, proc, STYLE_TREES } from "./audit-fixtures.js";

const ASSUMED: PropagationBasis = { ms: 1000, source: "assumed", detail: "assumed 1000 ms" };
const MEASURED_SMALL: PropagationBasis = { ms: 300, source: "measured", detail: "kind run" };
const ctx = { propagation: ASSUMED };

const codes = (f: WorkloadFacts, c = ctx) => auditWorkload(f, c).findings.map((x) => `${x.code}:${x.severity}`);
const styleWorkload = (style: string) => compose(style, container({ processes: STYLE_TREES[style] }));

describe("the signal path, from the live process tree", () => {
  it.each(Object.entries(MEASURED_EXIT))("%s: the prediction agrees with the measured exit (%s)", (style, measured) => {
    const a = auditWorkload(styleWorkload(style), ctx);
    const { outcome, branches } = a.prediction;
    if (outcome === "conditional") expect(branches?.map((b) => b.outcome)).toContain(measured);
    else expect(outcome).toBe(measured);
  });

  it("the broken styles are firm and critical, each with check's fix", () => {
    const shell = auditWorkload(styleWorkload("shell-form"), ctx);
    expect(shell.findings[0]).toMatchObject({
      code: "pid1-shell-no-forward",
      severity: "critical",
      certainty: "certain",
    });
    expect(shell.findings[0]?.fix).toMatch(/exec form in the Dockerfile, e\.g\. CMD \["node", "\/app\/server\.js"\]/);
    expect(shell.findings[0]?.evidence.join("\n")).toMatch(
      /pid 1 .*\/bin\/sh -c node \/app\/server\.js — SIGTERM: default → ignored as PID 1/,
    );
    expect(shell.prediction).toMatchObject({ drops: "yes", outcome: "killed", cause: "shell-form-pid1" });

    const script = auditWorkload(styleWorkload("script"), ctx);
    expect(script.findings[0]).toMatchObject({ code: "pid1-shell-no-forward", severity: "critical" });
    expect(script.findings[0]?.fix).toMatch(/exec node \/app\/server\.js/);

    for (const style of ["tini", "tini-group"]) {
      const a = auditWorkload(styleWorkload(style), ctx);
      expect(a.findings[0]).toMatchObject({ code: "pid1-exits-abruptly", severity: "critical" });
      expect(a.prediction).toMatchObject({ drops: "yes", outcome: "abrupt" });
    }
    expect(auditWorkload(styleWorkload("tini"), ctx).findings[0]?.fix).toMatch(/exec it from the script/);
    expect(auditWorkload(styleWorkload("tini-group"), ctx).findings[0]?.fix).toMatch(/wait for the apps/);
  });

  it("node as PID 1 cannot be told from outside: medium, unverified, both branches named", () => {
    for (const style of ["exec-form", "exec", "no-handler"]) {
      const a = auditWorkload(styleWorkload(style), ctx);
      const f = a.findings.find((x) => x.code === "sigterm-handling-unverified");
      expect(f).toMatchObject({ severity: "medium", certainty: "possible" });
      expect(f?.fix).toMatch(/process\.on\('SIGTERM'/);
      expect(a.prediction.outcome).toBe("conditional");
      expect(a.prediction.drops).toBe("likely"); // no stop delay on Docker, whatever the handler does
    }
  });

  it("trap: the entrypoint script, read without exec, shows it forwards and waits: low", () => {
    const text =
      'trap "forward TERM" TERM\nforward() { kill -TERM "$p1" "$p2"; }\nnode a & p1=$!\nnode b & p2=$!\nwait "$p1"\nwait "$p2"\n';
    const withScript = compose(
      "trap",
      container({ processes: STYLE_TREES.trap, script: { path: "/app/entrypoint.sh", text } }),
    );
    const f = auditWorkload(withScript, ctx).findings.find((x) => x.code === "sigterm-handling-unverified");
    expect(f).toMatchObject({ severity: "low", certainty: "likely" });
    expect(f?.title).toMatch(/read from \/app\/entrypoint\.sh, a heuristic/);
    const without = auditWorkload(styleWorkload("trap"), ctx).findings.find(
      (x) => x.code === "sigterm-handling-unverified",
    );
    expect(without?.severity).toBe("medium");
  });

  it("a Go runtime catches every signal: caught does not mean drained", () => {
    const go = STYLE_TREES.go?.[0];
    expect(go && runtimeAmbiguity(go)?.runtime).toBe("a Go-style runtime");
    const a = auditWorkload(compose("go", container({ processes: STYLE_TREES.go })), ctx);
    expect(a.findings.find((x) => x.code === "sigterm-handling-unverified")?.fix).toMatch(/signal\.Notify/);
    expect(a.prediction.branches?.map((b) => b.outcome)).toEqual(["graceful", "abrupt"]);
    expect(a.findings.some((x) => x.code === "sigterm-path-ok")).toBe(false);
    // uvicorn catches SIGTERM for real (2 signals caught): no ambiguity
    const uv = auditWorkload(compose("uvicorn", container({ processes: STYLE_TREES.uvicorn })), ctx);
    expect(uv.findings.some((x) => x.code === "sigterm-path-ok")).toBe(true);
    expect(uv.prediction.outcome).toBe("graceful");
  });

  it("an app started with SIGTERM ignored is named even when a trap forwards to it", () => {
    const tree = [
      proc(1, 0, ["/bin/bash", "/app/run.sh"], MASKS.bashTrap),
      proc(7, 1, ["nohup", "node", "x"], { ...MASKS.node, ignored: "0000000001005000" }, { listens: [8080] }),
    ];
    const f = auditWorkload(compose("x", container({ processes: tree })), ctx).findings.find(
      (x) => x.code === "sigterm-ignored",
    );
    expect(f).toMatchObject({ severity: "high", certainty: "certain" });
  });
});

describe("the signal path, from configuration only (no live tree)", () => {
  it("shell-form CMD in the image: critical, likely (dash does not exec)", () => {
    const c = container({
      command: { argv: ["/bin/sh", "-c", "node /app/server.js"], from: "image config" },
      inspectionSkipped: "read-only",
    });
    const a = auditWorkload(compose("web", c), ctx);
    expect(a.findings[0]).toMatchObject({ code: "pid1-shell-no-forward", severity: "critical", certainty: "likely" });
    expect(a.prediction.outcome).toBe("killed");
    expect(a.findings.find((x) => x.code === "not-inspected")?.title).toMatch(/read-only/);
  });

  it("command: [sh, -c, …] in a pod spec without exec; with exec it is fine", () => {
    const bad = container({
      command: { argv: ["sh", "-c", "cd /app && node server.js"], from: "pod spec command/args" },
    });
    const a = auditWorkload(deployment("web", bad), ctx);
    expect(a.findings[0]).toMatchObject({ code: "pid1-shell-no-forward", source: "pod-spec" });
    expect(a.findings[0]?.fix).toMatch(/pod template's command\/args/);
    const good = container({ command: { argv: ["sh", "-c", "exec node server.js"], from: "pod spec command/args" } });
    expect(codes(deployment("web", good))).not.toContain("pid1-shell-no-forward:critical");
  });

  it("an init running a script, a script, node: medium and possible", () => {
    const tini = container({ command: { argv: ["tini", "--", "/app/entrypoint.sh"], from: "image config" } });
    expect(auditWorkload(compose("t", tini), ctx).findings[0]).toMatchObject({
      code: "sigterm-handling-unverified",
      severity: "medium",
    });
    const script = container({ command: { argv: ["/app/entrypoint.sh"], from: "image config" } });
    expect(auditWorkload(compose("s", script), ctx).findings[0]?.title).toMatch(/PID 1 will be the script/);
  });
});

describe("stop signal of recognised servers", () => {
  it("nginx stopped with SIGTERM: high, fix STOPSIGNAL SIGQUIT; with SIGQUIT: fine", () => {
    const bad = auditWorkload(compose("nginx", container({ processes: STYLE_TREES.nginx })), ctx);
    const f = bad.findings.find((x) => x.code === "stop-signal-mismatch");
    expect(f).toMatchObject({ severity: "high" });
    expect(f?.title).toMatch(/fast shutdown/);
    expect(f?.fix).toMatch(/STOPSIGNAL SIGQUIT/);
    expect(bad.prediction.drops).toBe("yes");
    const good = auditWorkload(
      compose(
        "nginx-quit",
        container({ processes: STYLE_TREES.nginx, stopSignal: { signal: "SIGQUIT", from: "the image's STOPSIGNAL" } }),
      ),
      ctx,
    );
    expect(good.findings.some((x) => x.code === "stop-signal-mismatch")).toBe(false);
    expect(good.prediction.outcome).toBe("graceful");
  });

  it("apache2 with SIGWINCH: the dispositions followed are SIGWINCH's (caught)", () => {
    const tree = STYLE_TREES.apache2 ?? [];
    expect(forStopSignal(tree, "SIGWINCH")[0]?.sigterm.disposition).toBe("caught");
    const a = auditWorkload(
      compose(
        "apache2-winch",
        container({ processes: tree, stopSignal: { signal: "SIGWINCH", from: "the image's STOPSIGNAL" } }),
      ),
      ctx,
    );
    expect(a.findings.some((x) => x.code === "stop-signal-mismatch")).toBe(false);
    expect(a.prediction.outcome).toBe("graceful");
    expect(codes(compose("apache2", container({ processes: tree })))).toContain("stop-signal-mismatch:high");
  });

  it("gunicorn: its drain bound (--graceful-timeout) is held against the grace period", () => {
    const tree = [proc(1, 0, ["gunicorn", "--graceful-timeout", "30", "app:app"], MASKS.gunicorn, { listens: [8080] })];
    const a = auditWorkload(deployment("api", container({ processes: tree })), ctx);
    const g = a.findings.find((x) => x.code === "grace-too-short");
    expect(g).toMatchObject({ severity: "medium" });
    expect(g?.title).toMatch(/preStop \(5 s\) \+ the app's drain \(30 s/);
  });
});

describe("preStop, propagation, grace and readiness", () => {
  const handles = () => container({ processes: STYLE_TREES.uvicorn });

  it("no preStop behind a Service: high with an assumed propagation, medium when a short one was measured", () => {
    const f = deployment("web", { ...handles(), preStop: { type: "none" } });
    expect(codes(f)).toContain("no-prestop:high");
    expect(codes(f, { propagation: MEASURED_SMALL })).toContain("no-prestop:medium");
    const a = auditWorkload(f, ctx);
    expect(a.prediction.drops).toBe("likely");
    expect(a.findings.find((x) => x.code === "no-prestop")?.evidence.join(" ")).toMatch(/1000 ms \(assumed/);
  });

  it("a preStop shorter than the propagation; an unreadable hook; none needed without a Service", () => {
    expect(
      codes(deployment("w", { ...handles(), preStop: { type: "sleep", seconds: 0.5, description: "sleep 0.5" } })),
    ).toContain("prestop-shorter-than-propagation:high");
    expect(
      codes(deployment("w", { ...handles(), preStop: { type: "httpGet", description: "httpGet /drain" } })),
    ).toContain("prestop-duration-unknown:low");
    const internal = deployment("w", { ...handles(), preStop: { type: "none" } }, { exposedBy: [] });
    expect(codes(internal).some((c) => c.startsWith("no-prestop"))).toBe(false);
  });

  it("a preStop as long as the grace period leaves no time to drain", () => {
    const f = deployment("w", { ...handles(), preStop: { type: "sleep", seconds: 30, description: "sleep 30" } });
    expect(codes(f)).toContain("grace-too-short:high");
  });

  it("no readinessProbe behind a Service: medium; no HEALTHCHECK on Docker: low", () => {
    expect(
      codes(
        deployment("w", handles(), {
          containers: [{ ...handles(), preStop: { type: "sleep", seconds: 5, description: "s" }, readiness: null }],
        }),
      ),
    ).toContain("no-readiness-probe:medium");
    expect(codes(compose("w", handles()))).toContain("no-readiness-probe:low");
  });

  it("a healthy workload: info only, drops nothing", () => {
    const a = auditWorkload(deployment("w", handles()), ctx);
    expect(a.findings.every((x) => x.severity === "info")).toBe(true);
    expect(a.prediction).toMatchObject({ drops: "no", outcome: "graceful" });
  });
});

describe("rollouts and disruption budgets", () => {
  const ok = container({ processes: STYLE_TREES.uvicorn });
  it("Recreate, maxUnavailable 100%, one replica, no PDB, a PDB that allows all", () => {
    expect(codes(deployment("w", ok, { strategy: { type: "Recreate" } }))).toContain("rollout-all-at-once:high");
    expect(codes(deployment("w", ok, { strategy: { type: "RollingUpdate", maxUnavailable: "100%" } }))).toContain(
      "rollout-all-at-once:high",
    );
    expect(codes(deployment("w", ok, { strategy: { type: "RollingUpdate", maxUnavailable: "25%" } }))).not.toContain(
      "rollout-all-at-once:high",
    );
    expect(codes(deployment("w", ok, { replicas: 1 }))).toContain("single-replica:medium");
    expect(codes(deployment("w", ok, { pdbs: [] }))).toContain("no-disruption-budget:low");
    expect(codes(deployment("w", ok, { pdbs: [{ name: "p", minAvailable: 0 }] }))).toContain(
      "disruption-budget-allows-all:medium",
    );
    expect(codes(deployment("w", ok, { pdbs: undefined }))).not.toContain("no-disruption-budget:low");
  });

  it("a one-replica StatefulSet rolls without surge; a DaemonSet on one node takes every pod", () => {
    expect(
      codes(deployment("db", ok, { kind: "StatefulSet", replicas: 1, strategy: { type: "RollingUpdate" } })),
    ).toContain("rollout-all-at-once:high");
    expect(
      codes(
        deployment("agent", ok, {
          kind: "DaemonSet",
          replicas: 1,
          strategy: { type: "RollingUpdate", desiredScheduled: 1 },
        }),
      ),
    ).toContain("rollout-all-at-once:high");
    expect(
      codes(
        deployment("agent", ok, {
          kind: "DaemonSet",
          replicas: 1,
          strategy: { type: "RollingUpdate", maxSurge: 1, maxUnavailable: 0, desiredScheduled: 1 },
        }),
      ),
    ).not.toContain("rollout-all-at-once:high");
  });

  it("nothing selects it: availability findings are only informational", () => {
    expect(codes(deployment("w", ok, { strategy: { type: "Recreate" }, exposedBy: [] }))).toContain(
      "rollout-all-at-once:info",
    );
  });
});

describe("audit --verify refines the verdict", () => {
  it("a verified drop is critical when the copy was killed; a verified drain turns the unknown handler into info", () => {
    const f = styleWorkload("no-handler");
    const killed = auditWorkload(f, ctx, {
      image: "x",
      port: 8080,
      where: "local copy",
      setup: "s",
      sent: 1000,
      failed: 4,
      failureSummary: "closed 4",
      observedOutcomes: ["killed"],
      outcome: "SIGKILLed at the end of the grace period (exit 137)",
      problem: "node is PID 1 and does not act on SIGTERM",
      fix: "handle SIGTERM",
    });
    expect(killed.findings[0]).toMatchObject({ code: "verified-drops", severity: "critical", fix: "handle SIGTERM" });
    expect(killed.prediction).toMatchObject({ drops: "yes", outcome: "killed" });

    const graceful = auditWorkload(styleWorkload("exec-form"), ctx, {
      image: "x",
      port: 8080,
      where: "local copy",
      setup: "s",
      sent: 1000,
      failed: 0,
      observedOutcomes: ["graceful"],
      sigtermToExitMs: 1200,
    });
    expect(graceful.findings.find((x) => x.code === "sigterm-handling-unverified")?.severity).toBe("info");
    expect(graceful.findings.some((x) => x.code === "verified-no-drops")).toBe(true);
    expect(graceful.prediction.outcome).toBe("graceful");
  });

  it("a check that could not run is only noted", () => {
    const a = auditWorkload(styleWorkload("exec-form"), ctx, {
      image: "x",
      port: 0,
      where: "-",
      setup: "-",
      error: "no port",
    });
    expect(a.findings.find((x) => x.code === "verify-failed")?.severity).toBe("info");
  });
});

describe("sidecars", () => {
  it("a second container without a port (a log shipper) is not held to preStop or readiness", () => {
    const app = container({ processes: STYLE_TREES.uvicorn });
    const sidecar = container({ name: "logs", ports: [], preStop: { type: "none" }, readiness: null });
    const f = deployment("w", app);
    f.containers.push(sidecar);
    const found = auditWorkload(f, ctx).findings.filter((x) => x.container === "logs");
    expect(found.filter((x) => x.severity !== "info")).toEqual([]);
  });
});
