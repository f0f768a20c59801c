// Ranking, the exit code, and the four outputs (console table, JSON, JUnit, the HTML section) of an
// audit of the sample styles, built from their process trees. Also the options checked before
// anything is read (exit code 2).
import { describe, expect, it } from "vitest";
import { validateAuditOptions } from "../../src/audit/audit.js";
import { formatAudit, formatAuditTable } from "../../src/audit/console.js";
import { auditHtmlSection } from "../../src/audit/html.js";
import { auditJunitXml } from "../../src/audit/junit.js";
import { auditHtml, auditJson } from "../../src/audit/output.js";
import { auditExitCode, parseSeverity, rankWorkloads, summarize } from "../../src/audit/rank.js";
import { auditWorkload } from "../../src/audit/rules.js";
import { AUDIT_SCHEMA_VERSION, type AuditReport, type Severity } from "../../src/audit/types.js";
import { UsageError } from "../../src/util/errors.js";
import { compose, container, STYLE_TREES } from "./audit-fixtures.js";

const propagation = { ms: 1000, source: "assumed" as const, detail: "assumed 1000 ms" };

function report(failOn: Severity = "high"): AuditReport {
  const styles = ["exec-form", "shell-form", "trap", "tini", "no-handler", "script", "tini-group", "exec"];
  const workloads = rankWorkloads(
    styles.map((s) => {
      const f = compose(s, container({ name: s, image: `graceful-e2e/${s}:1`, processes: STYLE_TREES[s] }));
      const a = auditWorkload(f, { propagation });
      return {
        id: f.id,
        kind: f.kind,
        namespace: "shop",
        name: s,
        replicas: 1,
        instances: f.instances,
        grace: f.grace,
        prediction: a.prediction,
        findings: a.findings,
        containers: a.containers,
        notes: [],
      };
    }),
    failOn,
  );
  return {
    schemaVersion: AUDIT_SCHEMA_VERSION,
    tool: "graceful-e2e audit",
    generatedAt: "2030-01-01T00:00:00.000Z",
    durationMs: 412,
    backend: "local",
    target: {
      description: "Compose project shop on the local Docker engine",
      platform: { runtime: "Docker 20.10" },
      composeProject: "shop",
    },
    access: { readOnly: true, used: ["Docker API, read-only"], refused: [] },
    propagation,
    failOn,
    summary: summarize(workloads),
    workloads,
    skipped: [],
    notes: [],
  };
}

describe("ranking", () => {
  it("the broken styles first (critical), then the ones that cannot be told from outside", () => {
    const r = report();
    const order = r.workloads.map((w) => w.name);
    expect(new Set(order.slice(0, 4))).toEqual(new Set(["shell-form", "script", "tini", "tini-group"]));
    expect(r.workloads.slice(0, 4).every((w) => w.severity === "critical" && w.failing)).toBe(true);
    expect(r.workloads.slice(4).every((w) => w.severity === "medium" && !w.failing)).toBe(true);
    expect(r.workloads.map((w) => w.rank)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(r.summary).toMatchObject({ workloads: 8, failing: 4, bySeverity: { critical: 4, medium: 4 } });
  });

  it("exit 1 at or above --fail-on, else 0", () => {
    expect(auditExitCode(report("high"))).toBe(1);
    expect(auditExitCode(report("medium"))).toBe(1);
    const lenient = report("critical");
    expect(auditExitCode({ workloads: lenient.workloads.filter((w) => w.severity !== "critical") })).toBe(0);
    expect(parseSeverity("HIGH")).toBe("high");
    expect(parseSeverity("urgent")).toBeUndefined();
  });
});

describe("outputs", () => {
  it("console: a ranked table, then each workload with evidence and fix", () => {
    const r = report();
    const table = formatAuditTable(r).split("\n");
    expect(table[0]).toMatch(/^#\s+severity\s+workload\s+PID 1\s+prediction\s+fix \(top finding\)$/);
    expect(table[1]).toMatch(/^1\s+CRITICAL\s+compose\/shop\//);
    const text = formatAudit(r);
    expect(text).toMatch(/endpoint propagation: 1000 ms, assumed/);
    expect(text).toMatch(/fix: use the exec form in the Dockerfile, e\.g\. CMD \["node", "\/app\/server\.js"\]/);
    expect(text).toMatch(/4 of 8 workload\(s\) at or above --fail-on high/);
  });

  it("JSON: the documented top-level fields", () => {
    const j = JSON.parse(auditJson(report()));
    expect(Object.keys(j)).toEqual([
      "schemaVersion",
      "tool",
      "generatedAt",
      "durationMs",
      "backend",
      "target",
      "access",
      "propagation",
      "failOn",
      "summary",
      "workloads",
      "skipped",
      "notes",
    ]);
    const w = j.workloads[0];
    for (const k of ["rank", "id", "kind", "severity", "failing", "prediction", "findings", "containers"])
      expect(w).toHaveProperty(k);
    expect(w.findings[0]).toHaveProperty("fix");
    expect(w.containers[0].processTree.processes[0]).toHaveProperty("effect");
  });

  it("JUnit: one testcase per workload, failing at or above the threshold", () => {
    const xml = auditJunitXml(report());
    expect(xml.match(/<testcase /g)).toHaveLength(8);
    expect(xml).toMatch(/<testsuite name="graceful-e2e audit \(local\)" tests="8" failures="4" errors="0"/);
    expect(xml).toMatch(
      /<testcase classname="audit\.local\.shop" name="compose\/shop\/shell-form" time="0\.000">\n\s+<failure message="critical: PID 1 is \/bin\/sh -c [^,]*, a shell-form CMD\/ENTRYPOINT/,
    );
    expect(xml).toMatch(/name="compose\/shop\/exec-form"[^>]*>\n\s+<system-out>/);
    expect(xml).not.toMatch(
      /<(?!\/?(testsuites|testsuite|testcase|failure|system-out|properties|property|\?xml))[a-z]/,
    );
  });

  it("HTML: a section of the report, figures in data-* attributes, nothing loaded", () => {
    const r = report();
    const section = auditHtmlSection(r);
    expect(section).toMatch(
      /<section class="audit" id="audit" data-workloads="8" data-failing="4" data-fail-on="high" data-read-only="true">/,
    );
    expect(section.match(/<tr class="audit-workload failing"/g)).toHaveLength(4);
    expect(section).toMatch(
      /data-workload="compose\/shop\/shell-form" data-rank="\d" data-severity="critical" data-drops="yes"/,
    );
    const page = auditHtml(r, []);
    expect(page).toMatch(/Content-Security-Policy/);
    expect(page.indexOf('<section class="audit"')).toBeLessThan(page.indexOf('class="totals"'));
    expect(page).not.toMatch(/<script|https?:\/\//);
  });
});

describe("options checked before anything is read (exit code 2)", () => {
  const base = { backend: "local" as const, failOn: "high" as const, resultsDir: "r" };
  it.each([
    [{ ...base, backend: "nomad" as never }, /unknown backend/],
    [{ ...base, namespace: "x" }, /--namespace\/--all-namespaces are for --backend kind\|existing/],
    [{ ...base, nodeAccess: true }, /--node-access is for --backend kind/],
    [{ ...base, filters: ["status=running"] }, /--filter status=running: expected label=/],
    [{ ...base, composeProject: "Bad Name" }, /not a Compose project name/],
    [{ ...base, backend: "kind" as const, composeProject: "x" }, /are for --backend local/],
    [{ ...base, backend: "kind" as const, namespace: "a", allNamespaces: true }, /give one of the two/],
    [{ ...base, backend: "kind" as const, namespace: "Not_A_Namespace" }, /not a namespace name/],
    [{ ...base, backend: "existing" as const }, /needs --context/],
    [{ ...base, backend: "kind" as const, verify: true }, /confirm with --allow-mutations/],
    [{ ...base, backend: "existing" as const, context: "c", verify: true, allowMutations: true }, /needs --registry/],
    [{ ...base, backend: "existing" as const, context: "c", nodeAccess: true }, /--node-access is for --backend kind/],
    [{ ...base, verifyOnly: "(" }, /--verify-only: not a regular expression/],
    [{ ...base, backend: "kind" as const, selector: "app=web; rm -rf /" }, /not a label selector/],
  ])("%#: %s", (options, message) => {
    expect(() => validateAuditOptions(options)).toThrow(UsageError);
    expect(() => validateAuditOptions(options)).toThrow(message);
  });

  it("valid combinations pass", () => {
    expect(() =>
      validateAuditOptions({ ...base, filters: ["label=tier=web", "name=shop"], composeProject: "shop", verify: true }),
    ).not.toThrow();
    expect(() =>
      validateAuditOptions({
        ...base,
        backend: "kind",
        allNamespaces: true,
        selector: "app in (web,api),tier!=batch",
        nodeAccess: true,
      }),
    ).not.toThrow();
    expect(() => validateAuditOptions({ ...base, backend: "existing", context: "prod", exec: true })).not.toThrow();
  });
});
