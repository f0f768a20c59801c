// `graceful-e2e audit --backend local` on a stack of the sample images started as a plain Docker
// "Compose" stack (containers carrying the com.docker.compose.* labels Compose puts on its
// containers; no compose binary needed): every entrypoint style and every server image. The audit
// must rank the broken styles first with the right fix, in seconds, touching nothing (no exec, no
// signal, no restart: Docker's own event stream shows only `top`), and its predictions must agree
// with what the styles table measured; --verify proves, on copies, what /proc cannot tell.
// The containers carry graceful-e2e.run=<id>: removed after the suite, and by `graceful-e2e clean`
// after a crash or Ctrl-C.
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runAudit } from "../../../src/audit/audit.js";
import { TIGHT_DRAIN_SECONDS } from "../../../src/audit/rules.js";
import type { AuditReport, WorkloadReport } from "../../../src/audit/types.js";
import { removeLabelledContainers } from "../../../src/backends/local/backend.js";
import { ensureStyleImages } from "../../../src/images/build.js";
import { inspectProcessTreeFromHost } from "../../../src/observe/process-tree.js";
import { IMAGE_STYLES, type ImageStyle } from "../../../src/scenario/schema.js";
import { LABEL_RUN, newRunId } from "../../../src/util/labels.js";
import { cli, ROOT } from "./cli.js";

/** The entrypoint styles and what the styles table (README) measured for each one's exit. */
const MEASURED: Record<string, { exit: "graceful" | "killed" | "abrupt"; row: string }> = {
  "shell-form": { exit: "killed", row: "137, killed; 4 of 1480 failed (no preStop), 4 of 1460 (sleep 2)" },
  script: { exit: "killed", row: "137, killed; 4 of 1460 (no preStop), 4 of 1450 (sleep 2)" },
  "no-handler": { exit: "killed", row: "137, killed; 4 of 1440 (no preStop), 4 of 1445 (sleep 2)" },
  tini: { exit: "abrupt", row: "143, abrupt; 7 of 808 (no preStop), 4 of 800 (sleep 2)" },
  "tini-group": { exit: "abrupt", row: "143, abrupt; 7 of 813 (no preStop), 4 of 820 (sleep 2)" },
  "exec-form": { exit: "graceful", row: "0, graceful; 4 of 760 (no preStop), 0 of 805 (sleep 2)" },
  exec: { exit: "graceful", row: "0, graceful; 4 of 760 (no preStop), 0 of 800 (sleep 2)" },
  trap: { exit: "graceful", row: "0, graceful; 4 of 765 (no preStop), 0 of 805 (sleep 2)" },
};
const STYLES = Object.keys(MEASURED);
/** The server images, where this checkout has them (README "Servers, measured"). */
const SERVERS = ["nginx", "nginx-quit", "apache2", "apache2-winch", "gunicorn", "uvicorn", "go", "go-graceful"].filter(
  (s) => (IMAGE_STYLES as readonly string[]).includes(s),
);
const BROKEN_FIX: Record<string, RegExp> = {
  "shell-form": /use the exec form in the Dockerfile, e\.g\. CMD \["node", "\/app\/server\.js"\]/,
  script: /start the app with exec as the script's last command \(exec node \/app\/server\.js\)/,
  tini: /exec it from the script/,
  "tini-group": /make the script wait for the apps/,
};

const RUN_ID = newRunId();
const PROJECT = `ge-audit-${RUN_ID.slice(-6)}`;
const RESULTS = join(ROOT, "results/e2e-local/audit");
const containers = new Map<string, string>();
const table = new Map<string, { predicted: string; verified?: string; pid1: string; fix: string }>();

interface Snapshot {
  startedAt: string;
  pid: number;
  restarts: number;
  execIds: unknown;
}

async function snapshot(): Promise<Map<string, Snapshot>> {
  const out = new Map<string, Snapshot>();
  const { stdout } = await execa("docker", [
    "inspect",
    "--format",
    "{{.Name}}|{{.State.StartedAt}}|{{.State.Pid}}|{{.RestartCount}}|{{json .ExecIDs}}",
    ...containers.values(),
  ]);
  for (const line of stdout.split("\n").filter(Boolean)) {
    const [name, startedAt, pid, restarts, execIds] = line.split("|");
    out.set(String(name), {
      startedAt: String(startedAt),
      pid: Number(pid),
      restarts: Number(restarts),
      execIds: JSON.parse(String(execIds)),
    });
  }
  return out;
}

/** Docker's own record of what happened to the stack's containers between two times. */
async function events(since: number, until: number): Promise<string[]> {
  const { stdout } = await execa("docker", [
    "events",
    "--since",
    String(Math.floor(since / 1000)),
    "--until",
    String(Math.ceil(until / 1000) + 1),
    "--filter",
    `label=${LABEL_RUN}=${RUN_ID}`,
    "--format",
    "{{.TimeNano}} {{.Action}} {{.Actor.Attributes.name}}",
  ]);
  return stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => l.split(" "))
    .filter(([nanos]) => Number(BigInt(nanos ?? "0") / 1_000_000n) >= since)
    .map((parts) => parts.slice(1).join(" "));
}

const byName = (r: AuditReport, style: string) => r.workloads.find((w) => w.name === style) as WorkloadReport;

/** The fix's first clause, for the README table. */
function shortFix(fix: string | undefined): string {
  const first = (fix ?? "").split(/; |(?<!e\.g)\. (?=[A-Za-z(])| \((?!exec|tini)/)[0] ?? "";
  return first.length > 110 ? `${first.slice(0, first.lastIndexOf(" ", 108))} …` : first;
}

function predictedWords(w: WorkloadReport): string {
  const p = w.prediction;
  return p.outcome === "conditional" ? (p.branches ?? []).map((b) => b.outcome).join(" or ") : p.outcome;
}

/**
 * A compose stop_grace_period of 5 s (docker run --stop-timeout) for the styles that ignore SIGTERM: their
 * --verify copies (preStop 2 s + the stop timeout) are SIGKILLed at its end, so they wait it out; 5 s
 * instead of Docker's 10 s default proves the same kill 5 s sooner each. 5 s, not less: below
 * TIGHT_DRAIN_SECONDS the audit adds a "grace too short" finding of its own.
 */
function stopTimeout(style: string): string[] {
  return MEASURED[style]?.exit === "killed" ? ["--stop-timeout", String(TIGHT_DRAIN_SECONDS)] : [];
}

beforeAll(async () => {
  const images = await ensureStyleImages([...STYLES, ...SERVERS] as ImageStyle[]);
  await rm(RESULTS, { recursive: true, force: true });
  await mkdir(RESULTS, { recursive: true });
  for (const { style, ref } of images) {
    const name = `${PROJECT}-${style}-1`;
    await execa("docker", [
      "run",
      "-d",
      ...stopTimeout(style),
      "--name",
      name,
      "--label",
      `${LABEL_RUN}=${RUN_ID}`,
      "--label",
      `com.docker.compose.project=${PROJECT}`,
      "--label",
      `com.docker.compose.service=${style}`,
      "--label",
      "com.docker.compose.container-number=1",
      ref,
    ]);
    containers.set(style, name);
  }
  // Ready = every app process listens (the tini and trap scripts start theirs after bash).
  const deadline = Date.now() + 60_000;
  for (const name of containers.values()) {
    for (;;) {
      const t = await inspectProcessTreeFromHost(name).catch(() => undefined);
      const listening = (t?.processes ?? []).filter((p) => p.listens.length > 0).length;
      if (listening >= (/tini|trap/.test(name) ? 2 : 1)) break;
      if (Date.now() > deadline) throw new Error(`${name} did not start listening`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
});

afterAll(async () => {
  await removeLabelledContainers([`${LABEL_RUN}=${RUN_ID}`]);
  // The predicted-vs-measured table of this run (README "Auditing running workloads").
  const rows = STYLES.map((s) => {
    const t = table.get(s);
    return `| ${s} | \`${t?.pid1 ?? "?"}\` | ${t?.predicted ?? "?"} | ${t?.fix ?? ""} | ${t?.verified ?? "—"} | ${MEASURED[s]?.row} |`;
  });
  await writeFile(
    join(RESULTS, "predicted-vs-measured.md"),
    [
      "| style | PID 1 (live, read from the host's /proc) | audit's prediction (read-only) | top finding → fix | --verify (check on a copy) | measured (styles table) |",
      "|---|---|---|---|---|---|",
      ...rows,
      "",
    ].join("\n"),
  );
});

describe("graceful-e2e audit --backend local", () => {
  it("ranks the broken styles first with the right fix, in seconds, and touches nothing", async () => {
    const before = await snapshot();
    const started = Date.now();
    const run = await cli(["audit", "--compose-project", PROJECT, "--results", RESULTS]);
    const ended = Date.now();
    expect(run.exitCode, run.all).toBe(1); // critical findings, --fail-on high
    // Seconds: the whole CLI (tsx start included); the audit's own reading is in the report.
    expect(ended - started).toBeLessThan(30_000);
    const report = JSON.parse(await readFile(join(RESULTS, "audit.json"), "utf8")) as AuditReport;
    expect(report.durationMs).toBeLessThan(10_000);
    expect(report.access).toMatchObject({ readOnly: true, refused: [] });
    expect(report.access.used.join("\n")).not.toMatch(/exec/);

    // Nothing touched: same processes, no exec session, no restart; Docker saw only reads (top).
    expect(await snapshot()).toEqual(before);
    for (const s of before.values()) expect(s.execIds).toBeNull();
    const seen = await events(started, ended);
    expect(seen.filter((e) => !e.startsWith("top "))).toEqual([]);

    expect(report.workloads).toHaveLength(STYLES.length + SERVERS.length);
    const first = report.workloads.slice(0, 4).map((w) => w.name);
    expect(new Set(first)).toEqual(new Set(Object.keys(BROKEN_FIX)));
    for (const [style, fix] of Object.entries(BROKEN_FIX)) {
      const w = byName(report, style);
      expect(w.severity, style).toBe("critical");
      expect(w.findings[0]?.fix, style).toMatch(fix);
      expect(w.prediction.drops, style).toBe("yes");
    }
    // Every style's prediction agrees with its measured exit: firm, or a condition naming it.
    for (const style of STYLES) {
      const w = byName(report, style);
      const measured = MEASURED[style]?.exit;
      if (w.prediction.outcome === "conditional")
        expect(
          w.prediction.branches?.map((b) => b.outcome),
          style,
        ).toContain(measured);
      else expect(w.prediction.outcome, style).toBe(measured);
      expect(w.containers[0]?.processTree?.source, style).toBe("host-proc");
      const top = w.findings.find((f) => f.severity === w.severity && f.fix);
      table.set(style, {
        pid1: w.containers[0]?.pid1 ?? "?",
        predicted: `${w.severity}: ${predictedWords(w)}${w.prediction.outcome === "conditional" ? " (can't be told from /proc)" : ""}, drops ${w.prediction.drops}`,
        fix: shortFix(top?.fix),
      });
    }
    // no-handler cannot be told from exec-form by /proc (Node catches SIGTERM in every process): the
    // audit says so instead of guessing; --verify tells them apart (next test).
    expect(byName(report, "no-handler").findings.find((f) => f.code === "sigterm-handling-unverified")?.severity).toBe(
      "medium",
    );

    // Servers: the stop signal against each server's graceful one.
    if (SERVERS.includes("nginx")) {
      const nginx = byName(report, "nginx");
      expect(nginx.findings[0]).toMatchObject({ code: "stop-signal-mismatch", severity: "high" });
      expect(nginx.findings[0]?.fix).toMatch(/STOPSIGNAL SIGQUIT/);
      expect(byName(report, "nginx-quit").findings.some((f) => f.code === "stop-signal-mismatch")).toBe(false);
    }
    if (SERVERS.includes("apache2")) {
      expect(byName(report, "apache2").findings[0]?.fix).toMatch(/STOPSIGNAL SIGWINCH/);
      expect(byName(report, "apache2-winch").findings.some((f) => f.code === "stop-signal-mismatch")).toBe(false);
    }
    if (SERVERS.includes("go")) {
      // The Go runtime catches every signal: caught is not drained.
      expect(byName(report, "go").prediction.branches?.map((b) => b.outcome)).toEqual(["graceful", "abrupt"]);
    }
    if (SERVERS.includes("gunicorn")) expect(byName(report, "gunicorn").prediction.outcome).toBe("graceful");

    // The other outputs.
    const text = String(run.stdout);
    expect(text).toMatch(/^#\s+severity\s+workload\s+PID 1\s+prediction\s+fix \(top finding\)$/m);
    expect(text).toMatch(new RegExp(`^1\\s+CRITICAL\\s+compose/${PROJECT}/`, "m"));
    const junit = await readFile(join(RESULTS, "junit.xml"), "utf8");
    expect(junit.match(/<testcase /g)).toHaveLength(report.workloads.length);
    expect(junit.match(/<failure /g)).toHaveLength(report.summary.failing);
    const html = await readFile(join(RESULTS, "report.html"), "utf8");
    expect(html).toContain(`data-workload="compose/${PROJECT}/shell-form"`);
  });

  it("--verify on copies tells what /proc cannot: no-handler is killed, exec-form drains (the containers are untouched)", async () => {
    const before = await snapshot();
    const { report, verifyResults } = await runAudit({
      backend: "local",
      composeProject: PROJECT,
      failOn: "high",
      verify: true,
      verifyMax: 4,
      verifyOnly: "/(exec-form|exec|no-handler|trap)$",
      resultsDir: join(RESULTS, "verify-conditional"),
    });
    expect(await snapshot()).toEqual(before);
    expect(verifyResults).toHaveLength(4);
    for (const r of verifyResults) {
      const { stdout } = await execa("docker", ["ps", "-aq", "--filter", `label=${LABEL_RUN}=${r.runId}`]);
      expect(stdout.trim(), `copies of ${r.runId} removed`).toBe("");
    }
    const noHandler = byName(report, "no-handler");
    expect(noHandler.verify?.observedOutcomes).toEqual(["killed"]);
    expect(noHandler.verify?.failed).toBeGreaterThan(0);
    expect(noHandler.verify?.predictionHeld).toBe(true);
    expect(noHandler.findings[0]).toMatchObject({ code: "verified-drops", severity: "critical" });
    expect(noHandler.findings[0]?.fix).toMatch(/process\.on\('SIGTERM'/);
    expect(noHandler.rank).toBeLessThanOrEqual(5);
    for (const style of ["exec-form", "exec", "trap"]) {
      const w = byName(report, style);
      expect(w.verify?.failed, style).toBe(0);
      expect(w.verify?.observedOutcomes, style).toEqual(["graceful"]);
      expect(w.findings.find((f) => f.code === "sigterm-handling-unverified")?.severity, style).toBe("info");
    }
    for (const style of ["exec-form", "exec", "no-handler", "trap"]) {
      const w = byName(report, style);
      const row = table.get(style);
      if (row)
        row.verified = `${w.verify?.observedOutcomes?.join("/") ?? "?"}, ${w.verify?.failed} of ${w.verify?.sent} failed`;
      expect(w.verify?.observedOutcomes, style).toEqual([MEASURED[style]?.exit]);
    }
  });

  it("--verify on the firm predictions: each copy ends as predicted; those that exit at once drop requests", async () => {
    const { report } = await runAudit({
      backend: "local",
      composeProject: PROJECT,
      failOn: "high",
      verify: true,
      verifyMax: 4,
      verifyOnly: "/(shell-form|script|tini|tini-group)$",
      resultsDir: join(RESULTS, "verify-firm"),
    });
    for (const style of ["shell-form", "script", "tini", "tini-group"]) {
      const w = byName(report, style);
      expect(w.verify?.error, style).toBeUndefined();
      // tini and tini-group exit at once: new connections still routed to the copy during the endpoint
      // propagation are refused. shell-form and script are killed at the grace end, long after the
      // endpoint left: a kill drops only what is in flight at that instant, and with the paced load on
      // the app's fast "/" that was nothing (measured in CI: 0 failed for shell-form), so no count is
      // asserted for them — their outcome (killed) is, and check fails on it (checkExitCode).
      if (style.startsWith("tini")) expect(w.verify?.failed, style).toBeGreaterThan(0);
      expect(w.verify?.predictionHeld, style).toBe(true);
      expect(w.verify?.observedOutcomes, style).toContain(MEASURED[style]?.exit);
      const row = table.get(style);
      if (row)
        row.verified = `${w.verify?.observedOutcomes?.join("/") ?? "?"}, ${w.verify?.failed} of ${w.verify?.sent} failed`;
    }
  });

  it("bad input and missing prerequisites exit 2 before reading anything; below --fail-on exits 0", async () => {
    // Four independent CLI processes, started together (each spends its first seconds loading the CLI).
    const [bad, severity, kind, ok] = await Promise.all([
      cli(["audit", "--namespace", "shop"]),
      cli(["audit", "--fail-on", "urgent"]),
      cli(["audit", "--backend", "kind", "--cluster", `ge-audit-none-${RUN_ID.slice(-6)}`]),
      cli([
        "audit",
        "--compose-project",
        PROJECT,
        "--filter",
        "label=com.docker.compose.service=exec-form",
        "--fail-on",
        "critical",
        "--json",
        "--results",
        join(RESULTS, "only-exec-form"),
      ]),
    ]);
    expect(bad.exitCode).toBe(2);
    expect(bad.all).toMatch(/--namespace\/--all-namespaces are for --backend kind\|existing/);
    expect(severity.exitCode).toBe(2);
    expect(severity.all).toMatch(/--fail-on must be one of info, low, medium, high, critical/);
    expect(kind.exitCode).toBe(2);
    expect(kind.all).toMatch(/`kind` not found on PATH|no kind cluster named/);
    expect(ok.exitCode, ok.all).toBe(0);
    const json = JSON.parse(String(ok.stdout)) as AuditReport;
    expect(json.workloads.map((w) => w.name)).toEqual(["exec-form"]);
  });
});
