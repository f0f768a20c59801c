// Which container caused each failure of a multi-container pod (issue 16 item 4): the attribution
// (verdict/container-attribution.ts), its words and fixes (inspect/causes.ts), and how check's diagnosis
// and every report format tell it. The pods are an app behind a reverse proxy on the pod's port (the
// proxy is the container the load reaches: the pod's "app" fields); the failures are shaped as the load
// records them (FailedRequest: sentAt, at, kind, code; a proxy's 502 carries no x-served-by, so no pod).

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { auditWorkload } from "../../src/audit/rules.js";
import type { ContainerFacts as AuditContainer, PropagationBasis } from "../../src/audit/types.js";
import { failureWindowWords } from "../../src/inspect/causes.js";
import { diagnose, observe } from "../../src/inspect/diagnose.js";
import type { FailedRequest, LoadResult } from "../../src/load/types.js";
import type { ContainerOutcome, PodOutcome } from "../../src/model/pod-outcome.js";
import { formatPod } from "../../src/report/console.js";
import { renderHtmlReport } from "../../src/report/html.js";
import { exerciseBody } from "../../src/report/junit.js";
import type { ScenarioResult } from "../../src/runner/run.js";
import { attributeFailures, blameFailure } from "../../src/verdict/container-attribution.js";

import { container as auditContainer, deployment } from "./audit-fixtures.js";

const T0 = Date.parse("2026-12-07T19:00:00.000Z");
const AUDIT_CTX = { propagation: { ms: 1000, source: "assumed", detail: "assumed 1000 ms" } as PropagationBasis };

function container(over: Partial<ContainerOutcome> & { container: string }): ContainerOutcome {
  return { pid1Cmdline: "", sigkilled: false, processes: [], role: "sidecar", ...over };
}

/** nginx in front (graceful stop: keeps serving ~1.2 s), the app behind it closing its listener at SIGTERM. */
function proxiedPod(
  over: { front?: Partial<ContainerOutcome>; behind?: Partial<ContainerOutcome>; pod?: string } = {},
): PodOutcome {
  return {
    pod: over.pod ?? "web-7d9c-abcde",
    deleteAt: T0,
    notes: [],
    container: "proxy",
    role: "app",
    pid1Cmdline: "nginx: master process nginx -g daemon off;",
    sigkilled: false,
    exitCode: 0,
    exitedAt: T0 + 1200,
    processes: [],
    sigterm: { at: T0, by: "delete", inferred: true, from: "the delete (no preStop hook)" },
    ...over.front,
    sidecars: [
      container({
        container: "app",
        pid1Cmdline: "node /srv/server.mjs",
        exitCode: 0,
        exitedAt: T0 + 150,
        sigterm: { at: T0 + 2, by: "app-line", inferred: false, from: "the app's SIGTERM line" },
        ...over.behind,
      }),
    ],
  };
}

function failure(afterMs: number, kind: FailedRequest["kind"], code?: number | string, pod?: string): FailedRequest {
  return {
    sentAt: T0 + afterMs - 3,
    at: T0 + afterMs,
    kind,
    ...(code !== undefined ? { code } : {}),
    path: "/",
    ...(pod ? { pod } : {}),
  };
}

describe("blameFailure: one failure → its cause and container", () => {
  const pod = proxiedPod();
  it("a 502 answered by the proxy after the app's SIGTERM, before the proxy exited, is the app's listener", () => {
    expect(blameFailure(pod, failure(40, "non-2xx", 502))).toMatchObject({
      cause: "listener-closed-behind-proxy",
      container: "app",
      via: "proxy",
    });
  });

  it("resets and refusals from the proxy's stop on are the proxy stopping without draining", () => {
    for (const f of [
      failure(1190, "reset", "ECONNRESET"),
      failure(1300, "refused", "ECONNREFUSED"),
      failure(1200, "closed"),
    ]) {
      expect(blameFailure(pod, f)).toMatchObject({ cause: "front-stopped-without-drain", container: "proxy" });
    }
  });

  it("a failure before any container's stop signal belongs to no container; a timeout is not placed", () => {
    const hooked = proxiedPod({
      front: {
        sigterm: { at: T0 + 5000, by: "prestop-sleep", inferred: true, from: "preStop sleep 5" },
        exitedAt: T0 + 5300,
      },
      behind: { sigterm: { at: T0 + 5000, by: "app-line", inferred: false, from: "line" }, exitedAt: T0 + 5100 },
    });
    expect(blameFailure(hooked, failure(800, "reset"))).toMatchObject({ cause: "before-stop-signal" });
    expect(blameFailure(pod, failure(700, "timeout"))).toMatchObject({ cause: "unattributed" });
    expect(blameFailure(hooked, failure(800, "reset")).container).toBeUndefined();
  });

  it("a 502 after the proxy itself exited is not the app's (the proxy is gone: nothing answered it)", () => {
    expect(blameFailure(pod, failure(1500, "non-2xx", 502))).toMatchObject({
      cause: "front-stopped-without-drain",
      container: "proxy",
    });
  });

  it("with no container's stop or exit known, nothing is placed (never 'before the stop signal')", () => {
    const blind = proxiedPod({
      front: { sigterm: undefined, exitedAt: undefined },
      behind: { sigterm: undefined, exitedAt: undefined },
    });
    expect(blameFailure(blind, failure(40, "non-2xx", 502))).toMatchObject({ cause: "unattributed" });
  });

  it("a sidecar whose stop signal is unknown is placed by its exit", () => {
    const p = proxiedPod({ behind: { sigterm: undefined, exitedAt: T0 + 400 } });
    expect(blameFailure(p, failure(300, "non-2xx", 503)).cause).toBe("front-stopped-without-drain");
    expect(blameFailure(p, failure(500, "non-2xx", 503))).toMatchObject({
      cause: "listener-closed-behind-proxy",
      container: "app",
    });
  });
});

describe("attributeFailures: the failure windows of every multi-container pod", () => {
  // The shutdown-order drop: 502s for every request the Service still routed (~0.9 s), then the proxy's exit.
  const failures: FailedRequest[] = [
    ...Array.from({ length: 12 }, (_, i) => failure(30 + i * 75, "non-2xx", 502)),
    failure(1195, "reset", "ECONNRESET"),
    failure(1201, "closed"),
    failure(-500, "timeout"),
  ];

  it("groups by cause and container, in time order, counting kinds; the words carry the times", () => {
    const windows = attributeFailures([proxiedPod()], failures).get("web-7d9c-abcde") ?? [];
    expect(windows.map((w) => [w.cause, w.container, w.count])).toEqual([
      ["listener-closed-behind-proxy", "app", 12],
      ["front-stopped-without-drain", "proxy", 2],
    ]);
    expect(windows[0]).toMatchObject({ from: T0 + 30, to: T0 + 855, kinds: { "non-2xx 502": 12 }, via: "proxy" });
    expect(windows[0]?.evidence).toMatch(
      /^12 failed \(non-2xx 502 ×12\) at \+0\.030 s … \+0\.855 s: answered by proxy after app got its stop signal at \+0\.002 s/,
    );
    expect(windows[1]?.kinds).toEqual({ reset: 1, closed: 1 });
  });

  it("a one-container pod gets no attribution; a failure no single pod was terminating at is left out", () => {
    const single: PodOutcome = { ...proxiedPod({ pod: "solo" }), sidecars: undefined };
    expect(attributeFailures([single], failures).size).toBe(0);
    const a = proxiedPod({ pod: "a" });
    const b = proxiedPod({ pod: "b" });
    expect(attributeFailures([a, b], [failure(40, "non-2xx", 502)]).size).toBe(0);
    // …unless the failure names the pod that answered it (x-served-by "<pod>/<role>").
    expect(attributeFailures([a, b], [failure(40, "non-2xx", 502, "b/proxy")]).get("b")?.[0]?.container).toBe("app");
  });
});

describe("the catalogue's words and fixes, in check's diagnosis and the console", () => {
  const pod = proxiedPod();
  pod.failureCauses = attributeFailures([pod], [failure(40, "non-2xx", 502), failure(1300, "refused")]).get(pod.pod);

  it("names the container, says why, and gives the fixes to measure (preStop on both, the proxy's graceful stop)", () => {
    const [closed, stopped] = (pod.failureCauses ?? []).map(failureWindowWords);
    expect(closed?.says).toMatch(/^app: the app's listener closed behind its proxy/);
    expect(closed?.says).toMatch(/not the proxy's/);
    expect(closed?.fix).toMatch(/preStop sleep on app/);
    expect(closed?.fix).toMatch(/preStop on proxy/);
    expect(stopped?.says).toMatch(/^proxy: proxy stopped without draining/);
    expect(stopped?.fix).toMatch(/graceful stop \(nginx: SIGQUIT/);
    // Measured (README "Sidecars, measured"): a native sidecar in front keeps the proxy up after the app
    // stopped, and its 502s are the app's: never offered as the fix for a front proxy.
    expect(stopped?.fix).toMatch(/Not a native sidecar for a proxy in front/);
    expect(closed?.says).not.toMatch(/same moment/);
  });

  it("check's diagnosis says which container caused the failures", () => {
    const load = {
      sent: 500,
      failed: 2,
      failedByKind: { "non-2xx": 1, refused: 1 },
      failures: [],
    } as unknown as LoadResult;
    const d = diagnose(undefined, observe({ pod, load }), { graceSeconds: 30, preStopSeconds: 0 });
    expect(d.problem).toMatch(/Which container: app: the app's listener closed behind its proxy/);
    expect(d.fix).toMatch(/preStop sleep on app/);
  });

  it("the console shows every container and each failure window", () => {
    const lines = formatPod(pod, "kind").join("\n");
    expect(lines).toMatch(/container proxy \(app\): PID 1 nginx: master process/);
    expect(lines).toMatch(/container app \(sidecar\): PID 1 node \/srv\/server\.mjs/);
    expect(lines).toMatch(/failures caused by app: the app's listener closed behind its proxy/);
    expect(lines).toMatch(/fix to measure: keep app serving/);
  });
});

describe("every report format carries the containers and the failure windows", () => {
  const base = JSON.parse(
    readFileSync(join(import.meta.dirname, "../fixtures/scenario-results/exec-form-prestop-sleep.local.json"), "utf8"),
  ) as ScenarioResult;
  const pod = proxiedPod();
  pod.failureCauses = attributeFailures([pod], [failure(40, "non-2xx", 502)]).get(pod.pod);
  const result: ScenarioResult = { ...base, pods: [pod] };

  it("JUnit: each container's line and the window with its fix", () => {
    const body = exerciseBody(result).join("\n");
    expect(body).toMatch(/pod web-7d9c-abcde container app \(sidecar\): PID 1 node/);
    expect(body).toMatch(
      /pod web-7d9c-abcde failures caused by app: the app's listener closed behind its proxy.*fix to measure: keep app serving/,
    );
  });

  it("HTML: the same lines, escaped", () => {
    const html = renderHtmlReport([result]);
    expect(html).toMatch(/<span class="container-evidence">container proxy \(app\): PID 1 nginx: master process/);
    expect(html).toMatch(
      /<span class="failure-cause">failures caused by app: the app&#39;s listener closed behind its proxy/,
    );
  });

  it("a one-container result shows none of it", () => {
    expect(exerciseBody(base).join("\n")).not.toMatch(/failures caused by|container .* \(app\)/);
  });
});

describe("audit: two listening containers in one pod, one without a preStop", () => {
  const proxy = auditContainer({ name: "proxy", ports: [80], preStop: { type: "none" } });
  const app = auditContainer({
    name: "app",
    ports: [8080],
    preStop: { type: "sleep", seconds: 5, description: "sleep action, 5 s" },
  });
  const facts = (containers: AuditContainer[]) => deployment("web", containers[0] as AuditContainer, { containers });

  it("flags the container without a hook, with the catalogue's fix", () => {
    const audit = auditWorkload(facts([proxy, app]), AUDIT_CTX);
    const order = audit.findings.filter((f) => f.code === "sidecar-shutdown-order");
    expect(order).toHaveLength(1);
    expect(order[0]).toMatchObject({ container: "proxy", severity: "high" });
    expect(order[0]?.title).toMatch(/shares its pod with app/);
    expect(order[0]?.fix).toBe(
      failureWindowWords({
        cause: "listener-closed-behind-proxy",
        container: "proxy",
        via: "app",
        from: 0,
        to: 0,
        count: 1,
        kinds: {},
        evidence: "",
      }).fix,
    );
  });

  it("says nothing when every listening container has a hook, or the pod has one container", () => {
    const hooked = { ...proxy, preStop: { type: "sleep" as const, seconds: 5, description: "sleep action, 5 s" } };
    expect(auditWorkload(facts([hooked, app]), AUDIT_CTX).findings.map((f) => f.code)).not.toContain(
      "sidecar-shutdown-order",
    );
    expect(auditWorkload(facts([proxy]), AUDIT_CTX).findings.map((f) => f.code)).not.toContain(
      "sidecar-shutdown-order",
    );
  });
});
