// Facts decided once for every backend (issue 17, items 1 and 5): when SIGTERM reached a pod
// (observe/sigterm.ts), the exit evidence of a local container with PID 1's own exit line
// (backends/local/observations.ts through observe/pod-evidence.ts) and the per-process reports (runner/collect.ts).
import { describe, expect, it } from "vitest";
import { type LocalObservation, localPodOutcome } from "../../src/backends/local/observations.js";
import { replayRecording } from "../../src/k8s/timeline-from-watch.js";
import type { TimelineEvent } from "../../src/model/events.js";
import { appEventsFromLine, pid1Exit, processReports } from "../../src/observe/app-log.js";
import { exerciseEvidence } from "../../src/observe/exercise.js";
import { decideExit, exitNotes } from "../../src/observe/exit-evidence.js";
import { sigtermReceipt } from "../../src/observe/sigterm.js";
import { withProcessReports } from "../../src/runner/collect.js";

const D = Date.parse("2030-01-01T00:00:10.000Z"); // the delete
const pod = { pod: "p", deleteAt: D };
const ev = (at: number, kind: TimelineEvent["kind"], detail?: Record<string, unknown>, source = "kubelet") =>
  ({ at, kind, source, pod: "p", ...(detail ? { detail } : {}) }) as TimelineEvent;
const appLine = (json: Record<string, unknown>) => appEventsFromLine(JSON.stringify(json), "p");

describe("SIGTERM's time: one rule for every backend", () => {
  const sleep3 = { type: "sleep", seconds: 3 } as const;

  it("the harness's measured send first, then the app's own line, then the hook's end, then the sleep, then the delete", () => {
    const sent = ev(D + 3010, "sigterm-sent", { signal: "SIGTERM" });
    const logged = ev(D + 3020, "app-signal", { signal: "SIGTERM", pid: 1 }, "app");
    const hookEnd = ev(D + 3005, "prestop-end", undefined, "runtime");
    expect(sigtermReceipt([logged, sent, hookEnd], pod, sleep3)).toEqual({
      at: D + 3010,
      by: "sent",
      inferred: false,
      from: "sigterm-sent (kubelet)",
    });
    expect(sigtermReceipt([logged, hookEnd], pod, sleep3)).toMatchObject({
      at: D + 3020,
      by: "app-line",
      inferred: false,
      from: "the app's SIGTERM line",
    });
    expect(sigtermReceipt([hookEnd], pod, sleep3)).toMatchObject({ at: D + 3005, by: "prestop-end", inferred: true });
    expect(sigtermReceipt([], pod, sleep3)).toMatchObject({ at: D + 3000, by: "prestop-sleep", inferred: true });
    expect(sigtermReceipt([], pod, { type: "none" })).toMatchObject({ at: D, by: "delete", inferred: true });
    expect(sigtermReceipt([], pod, { type: "exec", command: ["/drain"] })).toBeUndefined();
  });

  it("kind's SIGTERM inferred from the preStop exec's end yields to the app's own line (it is a record; the inference is not)", () => {
    // Before: any sigterm-sent came first, the inferred one included.
    const inferred = ev(D + 3000, "sigterm-sent", { inferred: true });
    const logged = ev(D + 3150, "app-signal", { signal: "SIGTERM" }, "app");
    expect(sigtermReceipt([inferred, logged], pod, sleep3)).toMatchObject({ at: D + 3150, by: "app-line" });
    expect(sigtermReceipt([inferred], pod, sleep3)).toMatchObject({ at: D + 3000, inferred: true });
  });

  it("the app's line of the pod's stop signal counts, not a SIGTERM line when the stop signal is another", () => {
    const quit = ev(D + 500, "app-signal", { signal: "SIGQUIT" }, "app");
    const term = ev(D + 900, "app-signal", { signal: "SIGTERM" }, "app");
    const nginx = { ...pod, stopSignal: { signal: "SIGQUIT" } };
    expect(sigtermReceipt([term, quit], nginx, { type: "none" })).toMatchObject({
      at: D + 500,
      from: "the app's SIGQUIT line",
    });
    // Before: collect.ts looked for "SIGTERM" whatever the stop signal, and took +0.9 s.
  });

  it("the exercise evidence says when its SIGTERM time is inferred", () => {
    const r = sigtermReceipt([], pod, sleep3);
    const requests = [
      { sentAt: D - 200, at: D - 100, ok: true, attributedPod: "p", attributedBy: "x-served-by" as const },
    ];
    const e = exerciseEvidence({
      pod: "p",
      deleteAt: D,
      ...(r ? { sigtermAt: r.at, sigtermFrom: r.from, sigtermInferred: r.inferred } : {}),
      requests,
    });
    expect(e.sigtermFrom).toBe("inferred: the end of the preStop sleep (3 s after the delete)");
    expect(e.summary).toContain("answered after SIGTERM (SIGTERM time inferred: the end of the preStop sleep");
  });
});

describe("local exit evidence: Docker's record and PID 1's own exit line, as on kind", () => {
  const termination = { deleteAt: D, sigtermAt: D + 10, exitedAt: D + 1200, exitCode: 143 };
  /** What the local backend observes of such a termination (grace 8 s), and the app events it read. */
  const localExitEvidence = (input: {
    graceSeconds: number;
    termination: typeof termination;
    appEvents: TimelineEvent[];
  }) => {
    const t = input.termination;
    const observations: LocalObservation[] = [
      { op: "pod", pod: "p", containers: [{ role: "app", preStop: { type: "none" } }] },
      { op: "delete", pod: "p", at: t.deleteAt, graceSeconds: input.graceSeconds },
      { op: "stop-signal", pod: "p", signal: "SIGTERM", from: "default", at: t.sigtermAt },
      { op: "exit", pod: "p", at: t.exitedAt, code: t.exitCode },
      { op: "app-events", pod: "p", events: input.appEvents },
    ];
    const outcome = localPodOutcome(observations, "p");
    return { exitEvidence: outcome?.exitEvidence, notes: outcome?.notes };
  };

  it("an app exit line that disagrees with Docker's record yields the disagreement note", () => {
    const appEvents = [
      ...appLine({ t: D - 5000, event: "start", pid: 1 }),
      ...appLine({ t: D + 1190, event: "exit", code: 0, pid: 1 }),
    ];
    const { exitEvidence, notes } = localExitEvidence({ graceSeconds: 8, termination, appEvents });
    // Before: local gave decideExit only Docker's record, so no disagreement could ever be seen.
    expect(exitEvidence).toMatchObject({ chosen: "runtime", code: 143 });
    expect(exitEvidence?.sources.map((s) => s.source)).toEqual(["runtime", "app"]);
    expect(exitEvidence?.disagreement).toMatch(
      /Docker's record says 143, the app's own exit line \(pid 1, app\) says 0/,
    );
    expect(notes).toEqual([`exit code: ${exitEvidence?.disagreement}`]);
  });

  it("a pid-less exit line of the app that named pid 1 is PID 1's; a child's exit line is not", () => {
    const pidless = [
      ...appLine({ t: D - 5000, event: "start", pid: 1 }),
      ...appLine({ t: D + 1190, event: "exit", code: 143 }),
    ];
    expect(pid1Exit(pidless, "p", D)).toEqual({ code: 143, at: D + 1190, pid: 1, role: "app" });
    const child = appLine({ t: D + 1190, event: "exit", code: 0, pid: 7 });
    const { exitEvidence, notes } = localExitEvidence({ graceSeconds: 8, termination, appEvents: child });
    expect(exitEvidence?.sources.map((s) => s.source)).toEqual(["runtime"]);
    expect(exitEvidence?.disagreement).toBeUndefined();
    expect(notes).toEqual([]);
  });

  it("the notes of an exit are the same words on local and kind", () => {
    const killed = decideExit({ runtime: { code: 137, at: D + 8000, runtime: "Docker" } }, { graceDeadline: D + 8000 });
    expect(exitNotes(killed, false)).toEqual([]);
    const early = decideExit({ runtime: { code: 137, at: D + 1000, runtime: "Docker" } }, { graceDeadline: D + 8000 });
    expect(exitNotes(early, false)).toEqual([early?.killedWhy]);
    expect(exitNotes(early, true)).toEqual([
      "the container was OOM-killed (exit 137), not killed at the grace deadline",
    ]);
  });
});

describe("per-process reports: computed once, by the runner, from the events", () => {
  it("the same observations give the same reports whichever backend recorded them", () => {
    const lines = [
      { t: D - 5000, event: "start", pid: 1, role: "app" },
      { t: D + 10, event: "signal", signal: "SIGTERM", pid: 1 },
      { t: D + 900, event: "exit", code: 0 },
    ].map((l) => JSON.stringify(l));
    const local = lines.flatMap((l) => appEventsFromLine(l, "p", D));
    const { events, outcomes } = replayRecording(
      lines.map((line) => ({ source: "log" as const, pod: "p", container: "app", receivedAt: D + 1000, line })),
      { deleteCalls: [{ pod: "p", at: D }], outcomesFor: ["p"] },
    );
    // The backend's outcome carries no reports of its own.
    expect(outcomes[0]).not.toHaveProperty("processes");
    const [fromKind] = withProcessReports(events, outcomes);
    expect(fromKind?.processes).toEqual(processReports(local, "p"));
    expect(fromKind?.processes).toEqual([
      { role: "app", pid: 1, signals: [{ name: "SIGTERM", at: D + 10 }], exit: { code: 0, at: D + 900 } },
    ]);
  });
});
