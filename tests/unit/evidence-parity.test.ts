// One pipeline for every backend (issue 17, "observations in, evidence out"): the SAME facts of one pod
// deletion — the delete at D, the stop signal at D + x, the app's lines, the runtime's exit record —
// fed once as the local backend observes them (backends/local/observations.ts) and once as the kind
// driver does (k8s/observations.ts: watch objects, log lines, containerd's task exit) give the same
// evidence: exit code, the source it comes from, SIGKILL at the grace end, the termination, when the
// stop signal reached the app, and the per-process reports after the collect step. Both go through the
// one builder (observe/pod-evidence.ts); only the parsing of what each backend saw differs.
import { describe, expect, it } from "vitest";
import { type LocalObservation, localPodOutcome } from "../../src/backends/local/observations.js";
import { type DriverObservation, replayObservations } from "../../src/k8s/observations.js";
import type { TimelineEvent } from "../../src/model/events.js";
import type { ObservedPodOutcome, PodOutcome } from "../../src/model/pod-outcome.js";
import { appEventsFromLine } from "../../src/observe/app-log.js";
import { sigtermReceipt } from "../../src/observe/sigterm.js";
import { withProcessReports } from "../../src/runner/collect.js";

const D = Date.parse("2030-01-01T00:00:10.000Z");
const POD = "web-7d9f-x2k4q";
const NODE = "kind-worker";
const CMD = "node /app/server.js";

/** The facts of one pod's deletion, whichever backend saw them. */
interface Facts {
  grace: number;
  /** When the stop signal was sent (and the app logged it: same ms). */
  sigtermAt: number;
  /** The harness's (local) or the kubelet's (kind) SIGKILL at the grace end, when it came to that. */
  sigkillAt?: number;
  exit: { code: number; at: number };
  /** The app's own JSON lines (its `t` is its clock). */
  lines: Array<Record<string, unknown>>;
  goneAt: number;
}

const graceful: Facts = {
  grace: 10,
  sigtermAt: D + 40,
  exit: { code: 0, at: D + 960 },
  lines: [
    { t: D - 5000, event: "start", pid: 1, role: "app" },
    { t: D + 40, event: "signal", signal: "SIGTERM", pid: 1 },
    { t: D + 60, event: "drain-start", pid: 1 },
    { t: D + 900, event: "drain-end", pid: 1, reason: "idle" },
    { t: D + 950, event: "exit", code: 0, pid: 1 },
  ],
  goneAt: D + 1500,
};

/** The app logs SIGTERM and never exits: SIGKILL at the end of the 10 s grace period, exit 137. */
const killed: Facts = {
  grace: 10,
  sigtermAt: D + 40,
  sigkillAt: D + 10_000,
  exit: { code: 137, at: D + 10_012 },
  lines: [
    { t: D - 5000, event: "start", pid: 1, role: "app" },
    { t: D + 40, event: "signal", signal: "SIGTERM", pid: 1 },
  ],
  goneAt: D + 10_400,
};

// --- the local backend's view: its own kubelet's actions, Docker's records, the app's lines as read ------

function asLocal(f: Facts): { outcome?: ObservedPodOutcome; events: TimelineEvent[] } {
  const of = { pod: POD, container: "app" };
  const appEvents = f.lines.flatMap((l) => appEventsFromLine(JSON.stringify(l), POD, (l.t as number) + 1));
  const observations: LocalObservation[] = [
    { op: "pod", pod: POD, node: NODE, containers: [{ container: "app", role: "app", preStop: { type: "none" } }] },
    { op: "read-before-signal", ...of, pid1Cmdline: CMD },
    { op: "delete", pod: POD, at: D, graceSeconds: f.grace },
    { op: "stop-signal", ...of, signal: "SIGTERM", from: "default", at: f.sigtermAt },
    ...(f.sigkillAt !== undefined ? [{ op: "sigkill" as const, ...of, at: f.sigkillAt }] : []),
    { op: "exit", ...of, at: f.exit.at, code: f.exit.code },
    { op: "inspected", ...of, oomKilled: false, finishedAt: new Date(f.exit.at).toISOString() },
    { op: "app-events", ...of, events: appEvents },
    { op: "gone", pod: POD, at: f.goneAt },
  ];
  // The events the local sink recorded (termination.ts, the log follower), in their order.
  const container = { container: "app" };
  const events: TimelineEvent[] = [
    { at: D, kind: "delete-requested", source: "harness", pod: POD, detail: { graceSeconds: f.grace } },
    {
      at: f.sigtermAt,
      kind: "sigterm-sent",
      source: "kubelet",
      pod: POD,
      process: "pid1",
      detail: { signal: "SIGTERM", from: "default", deliveredWithinMs: 1, ...container },
    },
    ...(f.sigkillAt !== undefined
      ? [
          {
            at: f.sigkillAt,
            kind: "sigkill-sent",
            source: "kubelet",
            pod: POD,
            process: "pid1",
            detail: container,
          } as const,
        ]
      : []),
    ...appEvents,
    {
      at: f.exit.at,
      kind: "container-exit",
      source: "runtime",
      pod: POD,
      detail: { exitCode: f.exit.code, ...container },
    },
    { at: f.goneAt, kind: "pod-gone", source: "runtime", pod: POD },
  ];
  const outcome = localPodOutcome(observations, POD);
  return { ...(outcome ? { outcome } : {}), events };
}

// --- the kind driver's view: the watch, the kubelet's log stream, containerd's task events ------------

const sec = (ms: number) => `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)}Z`;

function podObject(f: Facts, state: "running" | "deleting" | "terminated") {
  const terminated = {
    exitCode: f.exit.code,
    reason: f.exit.code === 0 ? "Completed" : "Error",
    finishedAt: sec(f.exit.at),
    containerID: "containerd://c0ffee",
  };
  return {
    metadata: {
      name: POD,
      uid: "uid-1",
      ...(state !== "running"
        ? { deletionTimestamp: sec(D + f.grace * 1000), deletionGracePeriodSeconds: f.grace }
        : {}),
    },
    spec: { terminationGracePeriodSeconds: f.grace, nodeName: NODE, containers: [{ name: "app" }] },
    status: {
      podIP: "10.244.1.7",
      containerStatuses: [
        {
          name: "app",
          containerID: "containerd://c0ffee",
          state: state === "terminated" ? { terminated } : { running: { startedAt: sec(D - 6000) } },
        },
      ],
    },
  };
}

function asKind(f: Facts): { outcome?: ObservedPodOutcome; events: TimelineEvent[] } {
  const watch = (at: number, type: string, object: unknown): DriverObservation => ({
    op: "entry",
    entry: { source: "watch", resource: "pods", receivedAt: at, type, object },
  });
  const logs = f.lines.map(
    (l): DriverObservation => ({
      op: "entry",
      entry: {
        source: "log",
        pod: POD,
        container: "app",
        receivedAt: (l.t as number) + 2,
        line: `${new Date(l.t as number).toISOString().replace("Z", "123456Z")} ${JSON.stringify(l)}`,
      },
    }),
  );
  const observations: DriverObservation[] = [
    { op: "options", options: { container: "app" } },
    watch(D - 6000, "ADDED", podObject(f, "running")),
    { op: "pid1", pod: POD, cmdline: CMD },
    { op: "delete-called", pod: POD, at: D },
    watch(D + 20, "MODIFIED", podObject(f, "deleting")),
    ...logs.filter((o) => o.op === "entry" && o.entry.receivedAt < f.exit.at),
    {
      op: "entry",
      entry: {
        source: "runtime",
        receivedAt: f.exit.at + 3,
        origin: `containerd on node ${NODE}`,
        event: "exit",
        at: f.exit.at,
        containerId: "c0ffee",
        taskId: "c0ffee",
        ...(f.exit.code !== 0 ? { exitStatus: f.exit.code } : {}),
      },
    },
    watch(f.exit.at + 300, "MODIFIED", podObject(f, "terminated")),
    watch(f.goneAt, "DELETED", podObject(f, "terminated")),
    { op: "settle" },
    { op: "outcomes", pods: [POD], readings: {}, notes: [] },
  ];
  const { steps, outcomes } = replayObservations(observations);
  const events = steps.flatMap((s) => s.events);
  const [outcome] = outcomes ?? [];
  return { ...(outcome ? { outcome } : {}), events };
}

// --- the evidence compared ---------------------------------------------------------------------------

/** What the verdicts read of a disrupted pod, after the collect step (processes from the events). */
function evidence(view: { outcome?: ObservedPodOutcome; events: TimelineEvent[] }) {
  if (!view.outcome) throw new Error("no outcome was built");
  const [pod] = withProcessReports(view.events, [view.outcome]) as [PodOutcome];
  const receipt = sigtermReceipt(view.events, pod, { type: "none" });
  return {
    pod: pod.pod,
    node: pod.node,
    container: pod.container,
    pid1Cmdline: pod.pid1Cmdline,
    deleteAt: pod.deleteAt,
    goneAt: pod.goneAt,
    exitCode: pod.exitCode,
    exitedAt: pod.exitedAt,
    exitSource: pod.exitEvidence?.chosen,
    appExitLine: pod.exitEvidence?.sources.find((s) => s.source === "app")?.code,
    disagreement: pod.exitEvidence?.disagreement,
    killedAtGraceEnd: pod.exitEvidence?.killedAtGraceEnd,
    sigkilled: pod.sigkilled,
    terminationMs: (pod.exitedAt ?? Number.NaN) - pod.deleteAt,
    sigtermAt: receipt?.at,
    sigtermInferred: receipt?.inferred,
    processes: pod.processes,
    notes: pod.notes,
  };
}

describe("the same facts as local and as kind observations give the same evidence", () => {
  it("a graceful exit: exit 0 from the runtime's record, 0.96 s after the delete, SIGTERM at +0.04 s, one drained process", () => {
    const local = evidence(asLocal(graceful));
    const kind = evidence(asKind(graceful));
    expect(local).toEqual(kind);
    expect(local).toMatchObject({
      exitCode: 0,
      exitSource: "runtime",
      appExitLine: 0,
      killedAtGraceEnd: false,
      sigkilled: false,
      terminationMs: 960,
      sigtermAt: D + 40,
      sigtermInferred: false,
      notes: [],
    });
    expect(local.processes).toEqual([
      {
        role: "app",
        pid: 1,
        signals: [{ name: "SIGTERM", at: D + 40 }],
        drainStart: D + 60,
        drainEnd: D + 900,
        exit: { code: 0, at: D + 950 },
      },
    ]);
  });

  it("SIGKILL at the end of the grace period: local knows it sent it, kind infers it from 137 at the deadline — the same verdict", () => {
    const local = evidence(asLocal(killed));
    const kind = evidence(asKind(killed));
    expect(local).toEqual(kind);
    expect(local).toMatchObject({
      exitCode: 137,
      exitSource: "runtime",
      killedAtGraceEnd: true,
      sigkilled: true,
      terminationMs: 10_012,
    });
    expect(local.processes[0]?.exit).toBeUndefined();
  });

  it("the comparison sees a difference: one side's runtime exit 0.3 s later, or its app's exit line with another code", () => {
    const later = { ...graceful, exit: { ...graceful.exit, at: graceful.exit.at + 300 } };
    expect(evidence(asLocal(later))).not.toEqual(evidence(asKind(graceful)));
    const lines = graceful.lines.map((l) => (l.event === "exit" ? { ...l, code: 143 } : l));
    const local = evidence(asLocal({ ...graceful, lines }));
    expect(local).not.toEqual(evidence(asKind(graceful)));
    // Docker's record is still believed; the app's line is reported as a disagreement, as on kind.
    expect(local.exitCode).toBe(0);
    expect(local.disagreement).toMatch(/Docker's record says 0, the app's own exit line \(pid 1, app\) says 143/);
  });
});
