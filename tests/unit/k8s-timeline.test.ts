// The watch-stream → timeline code, run on REAL streams recorded on a kind cluster (Kubernetes v1.20.2,
// tests/fixtures/recordings/kind-v1.20.2, a copy of shared/recordings), then on synthetic objects of the
// shapes newer servers produce (EndpointSlice v1 terminating conditions, the app's JSON lines,
// ContainerStatusUnknown).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  parseTime,
  type RecordedEntry,
  replayRecording,
  TimelineBuilder,
  type TimelineOptions,
  type WatchResource,
} from "../../src/k8s/timeline-from-watch.js";
import type { TimelineEvent } from "../../src/model/events.js";
import type { PodOutcome } from "../../src/model/pod-outcome.js";
import { parseAppLine, processReports } from "../../src/observe/app-log.js";
import { withProcessReports } from "../../src/runner/collect.js";
import { readFieldEntries } from "../../src/runner/recordings-folder.js";
import { evaluate, terminationMs } from "../../src/verdict/verdicts.js";

const CANDIDATES = [
  join(import.meta.dirname, "..", "fixtures", "recordings", "kind-v1.20.2"),
  "/work/shared/recordings/kind-v1.20.2",
];
const ROOT = CANDIDATES.find((d) => existsSync(d));
if (!ROOT) console.warn(`recorded-stream tests skipped: no recordings at ${CANDIDATES.join(" or ")}`);

interface Recording {
  entries: RecordedEntry[];
  meta: {
    deleted: { pod: string; containerID: string; deleteCmdStartedAt: string };
    otherPod: { pod: string };
    loadStartedAt: string;
    loadEndedAt: string;
  };
  t0: number;
  /** Exact container exit from containerd's task events (ns precision, not visible through the API). */
  containerdExitAt: number;
  containerdExitStatus: number;
  /** containerd-events.txt through the kind backend's parser (RecordedEntry source "runtime"). */
  runtime: RecordedEntry[];
}

function loadRecording(name: string, endpointFile: "endpointslices" | "endpoints" = "endpointslices"): Recording {
  const dir = join(ROOT ?? "", name);
  // The folder format is read by the replay's adapter (one parser for tests and `graceful-e2e replay`).
  const { entries, runtime } = readFieldEntries(dir, endpointFile);
  const meta = JSON.parse(readFileSync(join(dir, "meta.json"), "utf8")) as Recording["meta"];
  let containerdExitAt = Number.NaN;
  let containerdExitStatus = 0;
  for (const line of readFileSync(join(dir, "containerd-events.txt"), "utf8").split("\n")) {
    if (!line.includes("/tasks/exit")) continue;
    const ev = JSON.parse(line.slice(line.indexOf("{"))) as {
      container_id: string;
      id: string;
      exit_status?: number;
      exited_at: string;
    };
    if (ev.container_id === meta.deleted.containerID && ev.id === ev.container_id) {
      containerdExitAt = parseTime(ev.exited_at) ?? Number.NaN;
      containerdExitStatus = ev.exit_status ?? 0;
    }
  }
  return {
    entries,
    meta,
    t0: Date.parse(meta.deleted.deleteCmdStartedAt),
    containerdExitAt,
    containerdExitStatus,
    runtime,
  };
}

function run(rec: Recording, options: TimelineOptions & { withDeleteCall?: boolean; withRuntime?: boolean } = {}) {
  const replayed = replayRecording(options.withRuntime ? [...rec.entries, ...rec.runtime] : rec.entries, {
    eventsSince: Date.parse(rec.meta.loadStartedAt) - 10_000,
    container: "app",
    ...options,
    ...(options.withDeleteCall === false ? {} : { deleteCalls: [{ pod: rec.meta.deleted.pod, at: rec.t0 }] }),
  });
  // The pods' outcomes as the runner completes them (per-process reports from the events).
  return { events: replayed.events, outcomes: withProcessReports(replayed.events, replayed.outcomes) };
}

const rel = (e: TimelineEvent | undefined, t0: number) => {
  if (!e) throw new Error("event missing");
  return (e.at - t0) / 1000;
};
const find = (events: TimelineEvent[], kind: string, pod: string, pred: (e: TimelineEvent) => boolean = () => true) =>
  events.find((e) => e.kind === kind && e.pod === pod && pred(e));

describe.skipIf(!ROOT)("recorded on kind v1.20.2: exec-form image, preStop exec sleep 3", () => {
  const rec = ROOT ? loadRecording("exec-form-prestop-sleep-3") : (undefined as unknown as Recording);
  const victim = rec?.meta.deleted.pod;

  it("SIGTERM reaches the app ~3.2 s after the delete (preStop sleep 3 first); it exits 0", () => {
    const { events, outcomes } = run(rec);
    const sigterm = find(events, "app-signal", victim, (e) => e.detail?.signal === "SIGTERM");
    expect(rel(sigterm, rec.t0)).toBeGreaterThan(3.0);
    expect(rel(sigterm, rec.t0)).toBeLessThan(3.5);
    expect(sigterm?.process).toBe("app");
    expect(sigterm?.detail?.pid).toBe(1);
    expect(find(events, "app-exit", victim)?.detail?.code).toBe(0);
    const exit = find(events, "container-exit", victim);
    expect(exit?.detail).toMatchObject({ exitCode: 0, reason: "Completed" });
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).toMatchObject({
      pod: victim,
      exitCode: 0,
      exitReason: "Completed",
      sigkilled: false,
      notes: [],
    });
    // Per-process reports: derived from the events by the runner for every backend (runner/collect.ts).
    expect(processReports(events, victim)).toEqual([
      expect.objectContaining({ role: "app", pid: 1, signals: [expect.objectContaining({ name: "SIGTERM" })] }),
    ]);
  });

  it("the container exit is placed within 0.3 s of containerd's exact exit time (finishedAt has 1 s resolution)", () => {
    const { events } = run(rec);
    const exit = find(events, "container-exit", victim);
    expect(rec.containerdExitStatus).toBe(0);
    expect(Math.abs((exit?.at ?? 0) - rec.containerdExitAt)).toBeLessThan(300);
    // ...and after the app's own exit line, never before it.
    expect(exit?.at ?? 0).toBeGreaterThanOrEqual(find(events, "app-exit", victim)?.at ?? Number.POSITIVE_INFINITY);
    // ...and never before the preStop exec ["sleep", "3"] (from the pod spec) could have ended.
    expect((exit?.at ?? 0) - rec.t0).toBeGreaterThanOrEqual(3000);
  });

  it("with containerd's task events: the exact exit, the preStop exec from its own task, SIGTERM when it returned", () => {
    const { events, outcomes } = run(rec, { withRuntime: true });
    const exits = events.filter((e) => e.kind === "container-exit" && e.pod === victim);
    expect(exits).toHaveLength(1);
    expect(exits[0]).toMatchObject({
      source: "runtime",
      at: rec.containerdExitAt,
      detail: { exitCode: 0, codeFrom: "runtime", runtime: "containerd on node kind-control-plane" },
    });
    // The preStop exec task (id != container_id): started right after the delete, exited 3.16 s later.
    const start = find(events, "prestop-start", victim);
    const end = find(events, "prestop-end", victim);
    expect(rel(start, rec.t0)).toBeCloseTo(0.108, 2);
    expect(start?.detail).toMatchObject({ command: ["sleep", "3"], execId: expect.stringMatching(/^c784a948/) });
    expect(rel(end, rec.t0)).toBeCloseTo(3.161, 2);
    expect(end?.detail?.exitStatus).toBe(0);
    // The kubelet sends SIGTERM when the hook returns: the app logged it 21 ms later.
    const sigterm = find(events, "sigterm-sent", victim);
    expect(sigterm).toMatchObject({ at: end?.at, source: "kubelet", detail: { inferred: true } });
    const logged = find(events, "app-signal", victim, (e) => e.detail?.signal === "SIGTERM");
    expect((logged?.at ?? 0) - (sigterm?.at ?? 0)).toBeGreaterThanOrEqual(0);
    expect((logged?.at ?? 0) - (sigterm?.at ?? 0)).toBeLessThan(100);
    expect(outcomes[0]).toMatchObject({
      exitCode: 0,
      exitReason: "Completed",
      exitedAt: rec.containerdExitAt,
      sigkilled: false,
      notes: [],
      exitEvidence: { chosen: "runtime", code: 0, killedAtGraceEnd: false },
    });
    expect(outcomes[0]?.exitEvidence?.sources.map((x) => [x.source, x.code])).toEqual([
      ["runtime", 0],
      ["app", 0],
      ["api", 0],
    ]);
    expect(outcomes[0]?.exitEvidence?.disagreement).toBeUndefined();
    // Termination is delete → exit (3.21 s), not delete → pod gone (14 s).
    const [v] = evaluate({
      expectations: { terminationSeconds: { maxSeconds: 4 } },
      load: undefined as never,
      pods: outcomes,
    });
    expect(v).toMatchObject({ pass: true, actual: "3.21 s" });
    expect(v?.evidence).toMatch(/^delete → container exit in 3\.206 s; gone \(pod object deleted\) at \+14\.047 s$/);
  });

  it("the endpoint leaves the EndpointSlice ~0.12 s after the delete, long before SIGTERM (no terminating condition on 1.20)", () => {
    const { events } = run(rec);
    const removed = find(events, "endpoint-removed", victim);
    expect(rel(removed, rec.t0)).toBeGreaterThan(0);
    expect(rel(removed, rec.t0)).toBeLessThan(0.5);
    expect(removed?.detail).toMatchObject({ resource: "EndpointSlice", via: "address-gone", was: "ready" });
    expect(find(events, "endpoint-terminating", victim)).toBeUndefined();
    // The other pod never left; the replacement joined ~1.8 s after the delete.
    expect(find(events, "endpoint-removed", rec.meta.otherPod.pod)).toBeUndefined();
    const joined = events.filter((e) => e.kind === "endpoint-ready" && e.at > rec.t0);
    expect(joined).toHaveLength(1);
    expect(rel(joined[0], rec.t0)).toBeLessThan(3);
  });

  it("the core v1 Endpoints stream tells the same removal time", () => {
    const { events } = run(loadRecording("exec-form-prestop-sleep-3", "endpoints"), { endpointSource: "endpoints" });
    const removed = find(events, "endpoint-removed", victim);
    expect(removed?.detail?.resource).toBe("Endpoints");
    expect(rel(removed, rec.t0)).toBeGreaterThan(0);
    expect(rel(removed, rec.t0)).toBeLessThan(0.5);
  });

  it("the kubelet's Killing event arrives right after the delete; the pod object is gone ~14 s later", () => {
    const { events, outcomes } = run(rec);
    const killing = find(events, "k8s-event", victim, (e) => e.detail?.reason === "Killing");
    expect(killing?.source).toBe("kubelet");
    expect(killing?.detail?.message).toBe("Stopping container app");
    expect(rel(killing, rec.t0)).toBeGreaterThanOrEqual(0);
    expect(rel(killing, rec.t0)).toBeLessThan(0.5);
    const gone = find(events, "pod-gone", victim);
    expect(rel(gone, rec.t0)).toBeCloseTo(14.05, 1);
    expect(outcomes[0]?.goneAt).toBe(gone?.at);
  });

  it("without the harness's delete call, deletionTimestamp gives the delete: seen at the watch, requested = timestamp - grace", () => {
    const { events, outcomes } = run(rec, { withDeleteCall: false });
    const del = find(events, "delete-requested", victim);
    expect(del?.source).toBe("api");
    expect(rel(del, rec.t0)).toBeGreaterThan(0);
    expect(rel(del, rec.t0)).toBeLessThan(0.2);
    // deletionTimestamp 19:53:22Z with grace 10 → the delete at 19:53:12 (1 s resolution).
    expect(del?.detail).toMatchObject({ deletionTimestamp: "2026-11-26T19:53:22.000Z", gracePeriodSeconds: 10 });
    expect(del?.detail?.requestedAt).toBe(Math.floor(rec.t0 / 1000) * 1000);
    expect(outcomes.map((o) => o.pod)).toEqual([victim]);
    // Only one delete-requested per pod, also when the grace-0 confirmation rewrites deletionTimestamp.
    expect(events.filter((e) => e.kind === "delete-requested")).toHaveLength(1);
  });

  it("Events from before the run are ignored; the initial list's old events are placed at their own time", () => {
    const { events } = run(rec);
    const early = events.filter((e) => e.kind === "k8s-event" && e.at < Date.parse(rec.meta.loadStartedAt) - 10_000);
    expect(early).toEqual([]);
  });
});

describe.skipIf(!ROOT)("recorded on kind v1.20.2: shell-form image, no preStop", () => {
  const rec = ROOT ? loadRecording("shell-form-no-prestop") : (undefined as unknown as Recording);
  const victim = rec?.meta.deleted.pod;

  it("no SIGTERM reaches the app (PID 1 is /bin/sh); SIGKILL at the end of the 10 s grace period, exit 137", () => {
    const { events, outcomes } = run(rec);
    expect(events.filter((e) => e.kind === "app-signal")).toEqual([]);
    const exit = find(events, "container-exit", victim);
    expect(exit?.detail).toMatchObject({ exitCode: 137, reason: "Error" });
    expect(rel(exit, rec.t0)).toBeGreaterThanOrEqual(9.9);
    expect(rel(exit, rec.t0)).toBeLessThan(10.5);
    expect(rec.containerdExitStatus).toBe(137);
    expect(Math.abs((exit?.at ?? 0) - rec.containerdExitAt)).toBeLessThan(300);
    const kill = find(events, "sigkill-sent", victim);
    expect(kill?.detail?.inferred).toBe(true);
    expect(rel(kill, rec.t0)).toBeCloseTo(10, 1);
    expect(outcomes[0]).toMatchObject({ pod: victim, exitCode: 137, exitReason: "Error", sigkilled: true });
  });

  it("with containerd's task events: exit 137 exactly at +10.13 s; SIGKILL inferred at the grace deadline", () => {
    const { events, outcomes } = run(rec, { withRuntime: true });
    const exits = events.filter((e) => e.kind === "container-exit" && e.pod === victim);
    expect(exits).toEqual([
      expect.objectContaining({
        source: "runtime",
        at: rec.containerdExitAt,
        detail: expect.objectContaining({ exitCode: 137 }),
      }),
    ]);
    const kill = find(events, "sigkill-sent", victim);
    expect(kill?.at).toBe(rec.t0 + 10_000);
    expect(String(kill?.detail?.from)).toMatch(/exit 137 at \+10\.13 s, at the end of the grace period \(\+10\.00 s\)/);
    expect(outcomes[0]).toMatchObject({
      exitCode: 137,
      sigkilled: true,
      exitedAt: rec.containerdExitAt,
      exitEvidence: { chosen: "runtime", killedAtGraceEnd: true },
    });
    // No preStop: no exec task, no inferred SIGTERM.
    expect(find(events, "prestop-end", victim)).toBeUndefined();
    expect(find(events, "sigterm-sent", victim)).toBeUndefined();
  });

  it("the app is not PID 1: its only line comes from pid 10, and it never logs an exit", () => {
    const { events } = run(rec);
    expect(processReports(events, victim)).toEqual([{ role: "app", pid: 10, signals: [] }]);
  });

  it("endpoint removed ~0.13 s after the delete, Killing event, pod gone ~14 s", () => {
    const { events } = run(rec);
    expect(rel(find(events, "endpoint-removed", victim), rec.t0)).toBeLessThan(0.5);
    const killing = find(events, "k8s-event", victim, (e) => e.detail?.reason === "Killing");
    expect(rel(killing, rec.t0)).toBeLessThan(0.5);
    expect(rel(find(events, "pod-gone", victim), rec.t0)).toBeCloseTo(14.03, 1);
  });

  it("the 12 s load window ended before the SIGKILL (a lesson for scenario design)", () => {
    const { events } = run(rec);
    expect(Date.parse(rec.meta.loadEndedAt)).toBeLessThan(find(events, "sigkill-sent", victim)?.at ?? 0);
  });
});

describe.skipIf(!ROOT)(
  "recorded on kind v1.20.2: when the disruption's wait may end (the window closes on evidence)",
  () => {
    /** Replays the entries in arrival order; the first arrival time at which `ended(builder)` holds. */
    function firstWhen(
      rec: Recording,
      withRuntime: boolean,
      ended: (b: TimelineBuilder, events: readonly TimelineEvent[]) => boolean,
    ): number | undefined {
      const b = new TimelineBuilder({ container: "app", eventsSince: Date.parse(rec.meta.loadStartedAt) - 10_000 });
      const entries = [...rec.entries, ...(withRuntime ? rec.runtime : [])].sort((a, z) => a.receivedAt - z.receivedAt);
      let called = false;
      const seen: TimelineEvent[] = [];
      for (const e of entries) {
        if (!called && e.receivedAt >= rec.t0) {
          seen.push(...b.deleteCalled(rec.meta.deleted.pod, rec.t0));
          called = true;
        }
        seen.push(...b.push(e));
        if (called && ended(b, seen)) return e.receivedAt;
      }
      return undefined;
    }

    for (const name of ["exec-form-prestop-sleep-3", "shell-form-no-prestop"]) {
      it(`${name}: at containerd's exit record (or the API's terminated state), ~10 s before the pod object goes`, () => {
        const rec = loadRecording(name);
        const pod = rec.meta.deleted.pod;
        const exitSeen = firstWhen(rec, true, (b) => b.hasExited(pod)) ?? Number.NaN;
        const apiSeen = firstWhen(rec, false, (b) => b.hasExited(pod)) ?? Number.NaN;
        const gone = firstWhen(rec, true, (b) => b.isGone(pod)) ?? Number.NaN;
        // containerd's record arrives within ~0.1 s of the exit itself.
        expect(exitSeen - rec.containerdExitAt).toBeGreaterThanOrEqual(0);
        expect(exitSeen - rec.containerdExitAt).toBeLessThan(150);
        // Without it, the API's terminated state (the kubelet's next status sync) ends the wait, within ~1 s.
        expect(apiSeen - rec.containerdExitAt).toBeGreaterThan(0);
        expect(apiSeen - rec.containerdExitAt).toBeLessThan(1500);
        // The pod object's deletion: ~10 s later on 1.20 — what every run used to wait for.
        expect((gone - exitSeen) / 1000).toBeGreaterThan(3.5);
        // The app's own exit line never ends the wait by itself (the container may outlive it): where the app
        // logs one (exec-form), it arrived before the API's word, and the wait went on until that.
        const appExit = firstWhen(rec, false, (_b, seen) => processReports(seen, pod).some((p) => p.exit));
        if (name.startsWith("exec-form")) expect(appExit).toBeLessThan(apiSeen);
        else expect(appExit).toBeUndefined();
        // The evidence final() waits for (the API's report) is in by then.
        expect(firstWhen(rec, true, (b) => b.apiReportedExit(pod))).toBe(apiSeen);
      });
    }

    it("readiness from the pod watch: both pods Ready before the delete; the victim drops out at the delete", () => {
      const rec = loadRecording("exec-form-prestop-sleep-3");
      const b = new TimelineBuilder({ container: "app" });
      const before = rec.entries.filter((e) => e.receivedAt < rec.t0).sort((a, z) => a.receivedAt - z.receivedAt);
      for (const e of before) b.push(e);
      expect(b.readyPods().sort()).toEqual([rec.meta.deleted.pod, rec.meta.otherPod.pod].sort());
      b.deleteCalled(rec.meta.deleted.pod, rec.t0);
      expect(b.readyPods()).toEqual([rec.meta.otherPod.pod]);
    });
  },
);

// ---------------------------------------------------------------------------------------------
// Shapes of newer servers and of the current sample app.

const T = Date.parse("2030-01-01T00:00:00Z");
const iso = (ms: number) => new Date(ms).toISOString();
const secIso = (ms: number) => `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)}Z`;

const slice = (eps: Array<{ pod: string; ready: boolean; serving?: boolean; terminating?: boolean }>) => ({
  apiVersion: "discovery.k8s.io/v1",
  kind: "EndpointSlice",
  metadata: { name: "app-abcde" },
  endpoints: eps.map((e) => ({
    addresses: [`10.0.0.${e.pod.length}`],
    conditions: { ready: e.ready, serving: e.serving ?? e.ready, terminating: e.terminating ?? false },
    targetRef: { kind: "Pod", name: e.pod },
  })),
});

const pod = (
  name: string,
  extra: {
    deletion?: number;
    grace?: number;
    /** at: null = no finishedAt and no containerID (what ContainerStatusUnknown statuses look like). */
    terminated?: { exitCode: number; reason: string; at: number | null };
    preStop?: Record<string, unknown>;
  } = {},
) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: {
    name,
    uid: `uid-${name}`,
    ...(extra.deletion !== undefined
      ? {
          deletionTimestamp: secIso(extra.deletion + (extra.grace ?? 30) * 1000),
          deletionGracePeriodSeconds: extra.grace ?? 30,
        }
      : {}),
  },
  spec: {
    terminationGracePeriodSeconds: extra.grace ?? 30,
    nodeName: "kind-worker",
    containers: [{ name: "app", ...(extra.preStop ? { lifecycle: { preStop: extra.preStop } } : {}) }],
  },
  status: {
    podIP: "10.0.0.9",
    containerStatuses: [
      {
        name: "app",
        containerID: `containerd://${name}`,
        state: extra.terminated
          ? {
              terminated:
                extra.terminated.at === null
                  ? { exitCode: extra.terminated.exitCode, reason: extra.terminated.reason, finishedAt: null }
                  : {
                      exitCode: extra.terminated.exitCode,
                      reason: extra.terminated.reason,
                      finishedAt: secIso(extra.terminated.at),
                      containerID: `containerd://${name}`,
                    },
            }
          : { running: { startedAt: secIso(T - 60_000) } },
      },
    ],
  },
});

const w = (resource: WatchResource, at: number, type: string, object: unknown): RecordedEntry => ({
  source: "watch",
  resource,
  receivedAt: at,
  type,
  object,
});
const log = (p: string, at: number, data: Record<string, unknown>): RecordedEntry => ({
  source: "log",
  pod: p,
  container: "app",
  receivedAt: at + 2,
  line: `${iso(at).replace("Z", "123456Z")} ${JSON.stringify({ t: at, ...data })}`,
});

describe("newer servers: EndpointSlice v1 with serving/terminating", () => {
  it("ready → terminating (serving while draining) → gone", () => {
    const b = new TimelineBuilder();
    const out = [
      ...b.push(
        w(
          "endpointslices",
          T,
          "ADDED",
          slice([
            { pod: "p1", ready: true },
            { pod: "p2", ready: true },
          ]),
        ),
      ),
      ...b.deleteCalled("p1", T + 1000),
      ...b.push(
        w(
          "endpointslices",
          T + 1100,
          "MODIFIED",
          slice([
            { pod: "p1", ready: false, serving: true, terminating: true },
            { pod: "p2", ready: true },
          ]),
        ),
      ),
      // serving flips when the app fails its readiness probe while terminating: still terminating, no event
      ...b.push(
        w(
          "endpointslices",
          T + 3000,
          "MODIFIED",
          slice([
            { pod: "p1", ready: false, serving: false, terminating: true },
            { pod: "p2", ready: true },
          ]),
        ),
      ),
      ...b.push(w("endpointslices", T + 9000, "MODIFIED", slice([{ pod: "p2", ready: true }]))),
    ];
    expect(out.map((e) => `${e.kind}:${e.pod}@${e.at - T}`)).toEqual([
      "endpoint-ready:p1@0",
      "endpoint-ready:p2@0",
      "delete-requested:p1@1000",
      "endpoint-terminating:p1@1100",
      "endpoint-removed:p1@9000",
    ]);
    expect(out[3]?.detail).toMatchObject({ ready: false, terminating: true, serving: true });
    expect(out[4]?.detail).toMatchObject({ via: "address-gone", was: "terminating" });
    expect(b.readyEndpoints()).toEqual(["p2"]);
  });

  it("a readiness failure (not ready, not terminating) takes the endpoint out of rotation once", () => {
    const b = new TimelineBuilder();
    b.push(w("endpointslices", T, "ADDED", slice([{ pod: "p1", ready: true }])));
    const notReady = b.push(w("endpointslices", T + 500, "MODIFIED", slice([{ pod: "p1", ready: false }])));
    const gone = b.push(w("endpointslices", T + 900, "MODIFIED", slice([])));
    expect(notReady.map((e) => [e.kind, e.detail?.via])).toEqual([["endpoint-removed", "not-ready"]]);
    expect(gone).toEqual([]);
  });

  it("an endpoint that moves between two slices of the same Service is not reported as removed", () => {
    const b = new TimelineBuilder();
    b.push(w("endpointslices", T, "ADDED", { ...slice([{ pod: "p1", ready: true }]), metadata: { name: "a" } }));
    const moved = [
      ...b.push(
        w("endpointslices", T + 10, "ADDED", { ...slice([{ pod: "p1", ready: true }]), metadata: { name: "b" } }),
      ),
      ...b.push(
        w("endpointslices", T + 20, "DELETED", { ...slice([{ pod: "p1", ready: true }]), metadata: { name: "a" } }),
      ),
    ];
    expect(moved).toEqual([]);
  });
});

describe("the sample app's JSON lines", () => {
  it("parses the kubelet timestamp prefix and the app's own time; one app-start per process", () => {
    const b = new TimelineBuilder();
    const out = [
      log("p1", T, { event: "start", pid: 7, ppid: 1, role: "app" }),
      log("p1", T + 5, { event: "listening", pid: 7, ppid: 1, role: "app", port: 8080 }),
      log("p1", T + 2000, { event: "signal", pid: 7, ppid: 1, role: "app", signal: "SIGTERM" }),
      log("p1", T + 2001, { event: "drain-start", pid: 7, ppid: 1, role: "app" }),
      log("p1", T + 2002, { event: "listener-closed", pid: 7, ppid: 1, role: "app" }),
      log("p1", T + 2500, { event: "drain-end", pid: 7, ppid: 1, role: "app" }),
      log("p1", T + 2501, { event: "exit", pid: 7, ppid: 1, role: "app", code: 0 }),
    ].flatMap((e) => b.push(e));
    expect(out.map((e) => `${e.kind}@${e.at - T}`)).toEqual([
      "app-start@0",
      "app-signal@2000",
      "app-drain-start@2001",
      "app-drain-end@2500",
      "app-exit@2501",
    ]);
    expect(out[1]).toMatchObject({
      source: "app",
      pod: "p1",
      process: "app",
      detail: { pid: 7, ppid: 1, signal: "SIGTERM" },
    });
    expect(out[4]?.detail?.code).toBe(0);
  });

  it("ignores what is not an app line, and reads the older text format", () => {
    expect(parseAppLine("rpc error: code = NotFound desc = an error occurred")).toEqual([]);
    expect(parseAppLine('2026-11-26T19:53:15.537202414Z {"not":"ours"}')).toEqual([]);
    expect(parseAppLine("2026-11-26T19:53:15.537202414Z {broken json")).toEqual([]);
    const old = parseAppLine(
      "2026-11-26T19:53:15.543192523Z 2026-11-26T19:53:15.542Z pid=1 app:3000 server closed (all connections done) err=none; exit 0",
    );
    expect(old.map((l) => [l.event, l.fields, l.role, l.pid, l.at])).toEqual([
      ["drain-end", { reason: "all connections done" }, "app", 1, Date.parse("2026-11-26T19:53:15.542Z")],
      ["exit", { code: 0 }, "app", 1, Date.parse("2026-11-26T19:53:15.542Z")],
    ]);
    expect(old[0]?.loggedAt).toBe(Date.parse("2026-11-26T19:53:15.543Z"));
  });
});

/** One containerd task event of the node (the kind backend's parser gives these). */
const rt = (
  containerId: string,
  at: number,
  o: { event?: "exit" | "exec-started" | "start"; taskId?: string; exitStatus?: number } = {},
): RecordedEntry => ({
  source: "runtime",
  receivedAt: at + 3,
  origin: "containerd on node kind-worker",
  event: o.event ?? "exit",
  at,
  containerId,
  taskId: o.taskId ?? containerId,
  ...((o.event ?? "exit") === "exit" ? { exitStatus: o.exitStatus ?? 0 } : {}),
});

/** A deleted pod (grace 8 s) whose container ends with `terminated`, observed at `observedAt`, gone 100 ms later. */
function deletedPod(o: {
  deleteAt: number;
  terminated: { exitCode: number; reason: string; at: number | null };
  observedAt: number;
  preStop?: Record<string, unknown>;
  before?: RecordedEntry[];
  grace?: number;
}) {
  const b = new TimelineBuilder({ container: "app" });
  const grace = o.grace ?? 8;
  const events: TimelineEvent[] = [];
  events.push(...b.push(w("pods", T, "ADDED", pod("p1", { grace, preStop: o.preStop }))));
  events.push(...b.deleteCalled("p1", o.deleteAt));
  events.push(
    ...b.push(w("pods", o.deleteAt + 30, "MODIFIED", pod("p1", { grace, preStop: o.preStop, deletion: o.deleteAt }))),
  );
  for (const e of o.before ?? []) events.push(...b.push(e));
  const done = pod("p1", { grace, preStop: o.preStop, deletion: o.deleteAt, terminated: o.terminated });
  events.push(...b.push(w("pods", o.observedAt, "MODIFIED", done)));
  events.push(...b.push(w("pods", o.observedAt + 100, "DELETED", done)));
  events.push(...b.settle());
  const [outcome] = withProcessReports(events, b.outcomes());
  if (!outcome) throw new Error("no outcome");
  return { b, events, outcome };
}

const CSU = "ContainerStatusUnknown";
const exitVerdict = (expected: "graceful" | "killed" | "abrupt", o: PodOutcome) =>
  evaluate({ expectations: { exit: expected }, load: undefined as never, pods: [o] })[0];

describe("exit codes the API gets wrong (problem 1: ContainerStatusUnknown)", () => {
  it("137/ContainerStatusUnknown after PID 1 logged exit 143: 143 from the app's own line, graceful, not SIGKILLed", () => {
    const { events, outcome } = deletedPod({
      deleteAt: T + 1000,
      before: [
        log("p1", T + 1200, { event: "signal", pid: 1, ppid: 0, role: "app", signal: "SIGTERM" }),
        log("p1", T + 1300, { event: "exit", pid: 1, ppid: 0, role: "app", code: 143 }),
      ],
      terminated: { exitCode: 137, reason: CSU, at: null },
      observedAt: T + 1500,
    });
    expect(outcome).toMatchObject({ pod: "p1", exitCode: 143, sigkilled: false, exitedAt: T + 1300 });
    expect(outcome.exitReason).toBeUndefined();
    expect(outcome.exitEvidence).toMatchObject({ chosen: "app", code: 143, killedAtGraceEnd: false });
    expect(outcome.notes.join("\n")).toMatch(
      /the API \(reason ContainerStatusUnknown\) says 137: using the app's own exit line/,
    );
    expect(outcome.deleteAt).toBe(T + 1000);
    expect(outcome.goneAt).toBe(T + 1600);
    const exit = events.find((e) => e.kind === "container-exit");
    expect(exit).toMatchObject({
      source: "api",
      at: T + 1300,
      detail: { exitCode: 143, codeFrom: "app", apiExitCode: 137, reason: CSU },
    });
    expect(events.some((e) => e.kind === "sigkill-sent")).toBe(false);
    expect(exitVerdict("graceful", outcome)).toMatchObject({ pass: true, actual: "graceful" });
  });

  it("trap-like (PID 1 logs nothing, both apps exit 0): containerd's exit 0 beats the API's 137", () => {
    const { events, outcome } = deletedPod({
      deleteAt: T + 1000,
      preStop: { exec: { command: ["sleep", "2"] } },
      before: [
        log("p1", T + 3050, { event: "exit", pid: 11, ppid: 1, role: "app-1", code: 0 }),
        log("p1", T + 3080, { event: "exit", pid: 12, ppid: 1, role: "app-2", code: 0 }),
        rt("p1", T + 3101),
      ],
      terminated: { exitCode: 137, reason: CSU, at: null },
      observedAt: T + 5200,
    });
    expect(outcome).toMatchObject({ exitCode: 0, exitedAt: T + 3101, sigkilled: false });
    expect(outcome.exitEvidence?.chosen).toBe("runtime");
    expect(outcome.exitEvidence?.disagreement).toMatch(
      /containerd on node kind-worker's record says 0, the API \(reason ContainerStatusUnknown\) says 137/,
    );
    expect(events.filter((e) => e.kind === "container-exit")).toEqual([
      expect.objectContaining({ source: "runtime", at: T + 3101, detail: expect.objectContaining({ exitCode: 0 }) }),
    ]);
    expect(exitVerdict("graceful", outcome)?.pass).toBe(true);
  });

  it("tini-like (apps never log an exit): containerd's 143 with the API's 137 is abrupt, not killed", () => {
    const { outcome } = deletedPod({
      deleteAt: T + 1000,
      before: [
        log("p1", T - 5000, { event: "start", pid: 11, ppid: 10, role: "app-1" }),
        log("p1", T - 5000, { event: "start", pid: 12, ppid: 10, role: "app-2" }),
        rt("p1", T + 3236, { exitStatus: 143 }),
      ],
      terminated: { exitCode: 137, reason: CSU, at: null },
      observedAt: T + 4236,
    });
    expect(outcome).toMatchObject({ exitCode: 143, sigkilled: false });
    expect(exitVerdict("abrupt", outcome)).toMatchObject({ pass: true });
    expect(exitVerdict("killed", outcome)).toMatchObject({ pass: false });
    expect(exitVerdict("killed", outcome)?.inconclusive).toBeUndefined();
  });

  it("only ContainerStatusUnknown: the code is unknown (not 137); the timing still rules out the kill at the grace end", () => {
    // tini-prestop-sleep as reported on kind: "SIGKILL at the end of the grace period" at +3.24 s of 8 s.
    const { events, outcome } = deletedPod({
      deleteAt: T + 1000,
      preStop: { exec: { command: ["sleep", "2"] } },
      before: [
        log("p1", T - 5000, { event: "start", pid: 11, ppid: 10, role: "app-1" }),
        log("p1", T - 5000, { event: "start", pid: 12, ppid: 10, role: "app-2" }),
      ],
      terminated: { exitCode: 137, reason: CSU, at: null },
      observedAt: T + 4236,
    });
    expect(outcome.exitCode).toBeUndefined();
    expect(outcome.sigkilled).toBe(false);
    expect(outcome.exitReason).toBe(CSU);
    expect(outcome.exitEvidence).toMatchObject({
      chosen: "api",
      killedAtGraceEnd: false,
      earliest: T + 3000,
      latest: T + 4236,
    });
    expect(outcome.notes.join("\n")).toMatch(/the real exit code is unknown/);
    expect(events.find((e) => e.kind === "container-exit")?.detail).toMatchObject({
      exitCode: "unknown",
      apiExitCode: 137,
    });
    expect(events.some((e) => e.kind === "sigkill-sent")).toBe(false);
    // abrupt is decided on the apps' missing exit lines and the timing, not on the code.
    expect(exitVerdict("abrupt", outcome)).toMatchObject({ pass: true });
    const killed = exitVerdict("killed", outcome);
    expect(killed).toMatchObject({ pass: false, actual: "abrupt (app-1, app-2 never logged an exit)" });
    expect(killed?.inconclusive).toBeUndefined();
  });

  it("only ContainerStatusUnknown, apps exited 0 but PID 1 logs nothing: the exit verdict is not decidable", () => {
    const { outcome } = deletedPod({
      deleteAt: T + 1000,
      before: [
        log("p1", T + 1100, { event: "exit", pid: 11, ppid: 1, role: "app-1", code: 0 }),
        log("p1", T + 1150, { event: "exit", pid: 12, ppid: 1, role: "app-2", code: 0 }),
      ],
      terminated: { exitCode: 137, reason: CSU, at: null },
      observedAt: T + 2500,
    });
    const v = exitVerdict("graceful", outcome);
    expect(v).toMatchObject({ pass: false, decidable: false, actual: "exit code unknown" });
    expect(v?.inconclusive).toMatch(/ContainerStatusUnknown.*the real exit code is unknown/);
    expect(v?.evidence).toMatch(/^exit code unknown; no SIGKILL at the end of the grace period/);
  });

  it("only ContainerStatusUnknown, read after the grace deadline: killed or not cannot be told", () => {
    const { outcome } = deletedPod({
      deleteAt: T + 1000,
      terminated: { exitCode: 137, reason: CSU, at: null },
      observedAt: T + 9500,
    });
    expect(outcome.exitEvidence?.killedAtGraceEnd).toBeUndefined();
    for (const expected of ["killed", "graceful"] as const) {
      expect(exitVerdict(expected, outcome)).toMatchObject({ pass: false, decidable: false });
    }
  });
});

/**
 * The pod status Kubernetes 1.20's kubelet writes when a deleted pod's container can no longer be found
 * (kubelet_pods.go convertToAPIContainerStatuses): a fresh status with no containerID, the default waiting
 * state, and the ContainerStatusUnknown record in lastState (no containerID, no finishedAt).
 */
const vanished = (name: string, deleteAt: number) => {
  const p = pod(name, { grace: 8, deletion: deleteAt });
  return {
    ...p,
    status: {
      ...p.status,
      containerStatuses: [
        {
          name: "app",
          ready: false,
          restartCount: 0,
          state: { waiting: { reason: "ContainerCreating" } },
          lastState: {
            terminated: {
              exitCode: 137,
              reason: CSU,
              message: "The container could not be located when the pod was deleted.  The container used to be Running",
            },
          },
        },
      ],
    },
  };
};

describe("ContainerStatusUnknown as Kubernetes 1.20 writes it (lastState, no containerID)", () => {
  // Every missed exit of the field report (e2e-kind-suite/tini-no-prestop.kind.json and 31 others): the
  // timeline has containerd's exit of the pod's container, the outcome only the API's 137.
  const run = (order: "runtime first" | "api first") => {
    const b = new TimelineBuilder({ container: "app" });
    const events: TimelineEvent[] = [];
    events.push(...b.push(w("pods", T, "ADDED", pod("p1", { grace: 8 }))));
    events.push(...b.deleteCalled("p1", T + 1000));
    events.push(...b.push(w("pods", T + 1030, "MODIFIED", pod("p1", { grace: 8, deletion: T + 1000 }))));
    const exit = rt("p1", T + 1400, { exitStatus: 143 });
    const status = w("pods", T + 3500, "MODIFIED", vanished("p1", T + 1000));
    for (const e of order === "runtime first" ? [exit, status] : [status, exit]) events.push(...b.push(e));
    return { b, events };
  };

  for (const order of ["runtime first", "api first"] as const) {
    it(`${order}: the runtime's exit of that container is the pod's exit; the API has reported it`, () => {
      const { b, events } = run(order);
      expect(b.hasExited("p1")).toBe(true);
      // The driver's evidence wait ends here instead of running to its bound.
      expect(b.apiReportedExit("p1")).toBe(true);
      events.push(...b.settle());
      const [outcome] = withProcessReports(events, b.outcomes());
      expect(outcome).toMatchObject({ pod: "p1", exitCode: 143, exitedAt: T + 1400, sigkilled: false });
      expect(outcome?.exitEvidence?.chosen).toBe("runtime");
      expect(outcome?.exitEvidence?.sources.map((s) => s.source)).toEqual(["runtime", "api"]);
      expect(outcome?.exitEvidence?.disagreement).toMatch(
        /says 143, the API \(reason ContainerStatusUnknown\) says 137/,
      );
      const exits = events.filter((e) => e.kind === "container-exit");
      expect(exits).toEqual([expect.objectContaining({ source: "runtime", at: T + 1400 })]);
    });
  }

  it("a restarted container's lastState record (the pod not being deleted, a new container running) stays apart", () => {
    const b = new TimelineBuilder({ container: "app" });
    b.push(w("pods", T, "ADDED", pod("p1", { grace: 8 })));
    const restarted = vanished("p1", T);
    const p = pod("p2", { grace: 8 });
    const cs = {
      ...restarted.status.containerStatuses[0],
      containerID: "containerd://p1-second",
      state: p.status.containerStatuses[0]?.state,
    };
    b.push(
      w("pods", T + 100, "MODIFIED", {
        ...p,
        metadata: { name: "p1", uid: "uid-p1" },
        status: { ...p.status, containerStatuses: [cs] },
      }),
    );
    expect(b.hasExited("p1")).toBe(false);
  });
});

describe("where an exit is placed within finishedAt's second", () => {
  it("problem 2: a second that contains the delete: the exit is not before the delete, termination ≥ 0", () => {
    // tini-no-prestop on kind: finishedAt 52Z, the delete at 52.685, reported -0.30 s.
    const { events, outcome } = deletedPod({
      deleteAt: T + 10_685,
      terminated: { exitCode: 143, reason: "Error", at: T + 10_685 },
      observedAt: T + 12_697,
    });
    expect(outcome.exitedAt).toBeGreaterThanOrEqual(T + 10_685);
    expect(terminationMs(outcome)).toBeGreaterThanOrEqual(0);
    expect(events.find((e) => e.kind === "container-exit")?.at).toBeGreaterThanOrEqual(T + 10_685);
    expect(outcome.exitEvidence).toMatchObject({ earliest: T + 10_685, latest: T + 10_999 });
  });

  for (const [shape, preStop] of [
    ["exec sleep 2 (1.20)", { exec: { command: ["sleep", "2"] } }],
    ["the sleep action", { sleep: { seconds: 2 } }],
    ["sh -c 'sleep 2'", { exec: { command: ["/bin/sh", "-c", "sleep 2"] } }],
  ] as const) {
    it(`problem 4: nginx-like image (no app lines), preStop ${shape}: the exit is not before +2 s`, () => {
      const { events, outcome } = deletedPod({
        deleteAt: T + 1300,
        preStop,
        terminated: { exitCode: 0, reason: "Completed", at: T + 3000 },
        observedAt: T + 4100,
      });
      expect((outcome.exitedAt ?? 0) - outcome.deleteAt).toBeGreaterThanOrEqual(2000);
      expect(outcome.exitedAt).toBeLessThanOrEqual(T + 3999);
      expect(events.find((e) => e.kind === "container-exit")?.at).toBe(outcome.exitedAt);
    });
  }

  it("a failed preStop hook (FailedPreStopHook) is no lower bound", () => {
    const failed = {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: "p1.hook", uid: "u-hook" },
      involvedObject: { kind: "Pod", name: "p1" },
      reason: "FailedPreStopHook",
      message: 'exec: "sleep": executable file not found',
      type: "Warning",
      count: 1,
      source: { component: "kubelet" },
      lastTimestamp: secIso(T + 1400),
    };
    const { outcome } = deletedPod({
      deleteAt: T + 1300,
      preStop: { exec: { command: ["sleep", "2"] } },
      before: [w("events", T + 1450, "ADDED", failed)],
      terminated: { exitCode: 0, reason: "Completed", at: T + 1300 },
      observedAt: T + 2100,
    });
    expect(outcome.exitedAt).toBe(T + 1300);
  });
});

describe("SIGKILL at the end of the grace period needs an exit at the end of the grace period", () => {
  it("137 five seconds before the deadline: not killed at the grace end, no inferred SIGKILL", () => {
    const { events, outcome } = deletedPod({
      deleteAt: T + 1000,
      terminated: { exitCode: 137, reason: "Error", at: T + 4000 },
      observedAt: T + 4500,
    });
    expect(outcome).toMatchObject({ exitCode: 137, sigkilled: false });
    expect(outcome.notes.join("\n")).toMatch(
      /exit 137 at \+3\.00 s, 4\.50 s before the grace period ended \(\+8\.00 s\)/,
    );
    expect(events.some((e) => e.kind === "sigkill-sent")).toBe(false);
    expect(exitVerdict("killed", outcome)).toMatchObject({ pass: false, actual: "exited 137" });
  });

  it("137 in the deadline's second is; the exit is placed at the deadline and SIGKILL inferred there", () => {
    const { events, outcome } = deletedPod({
      deleteAt: T + 1000,
      terminated: { exitCode: 137, reason: "Error", at: T + 9000 },
      observedAt: T + 9800,
    });
    expect(outcome).toMatchObject({ exitCode: 137, sigkilled: true, exitedAt: T + 9000 });
    expect(events.find((e) => e.kind === "sigkill-sent")).toMatchObject({ at: T + 9000, detail: { inferred: true } });
    expect(exitVerdict("killed", outcome)?.pass).toBe(true);
  });

  it("OOMKilled 137 is not a grace-period SIGKILL", () => {
    const b = new TimelineBuilder();
    b.deleteCalled("p1", T);
    const live = b.push(
      w("pods", T + 100, "MODIFIED", pod("p1", { terminated: { exitCode: 137, reason: "OOMKilled", at: T } })),
    );
    // API-only exits wait for every bound; settle() emits them.
    expect(live).toEqual([]);
    expect(b.settle().map((e) => e.kind)).toEqual(["container-exit"]);
    expect(b.outcomes()[0]).toMatchObject({ sigkilled: false, exitCode: 137, exitReason: "OOMKilled" });
    // After settle(), a late status is emitted as it comes.
    const late = b.push(
      w("pods", T + 200, "MODIFIED", { ...pod("p2", { terminated: { exitCode: 0, reason: "Completed", at: T } }) }),
    );
    expect(late.map((e) => e.kind)).toEqual(["container-exit"]);
  });
});

describe("the node's runtime events", () => {
  it("an event that comes before any status names its container is applied once one does; others are ignored", () => {
    const b = new TimelineBuilder({ container: "app" });
    expect(b.push(rt("p1", T + 10, { exitStatus: 1 }))).toEqual([]);
    expect(b.push(rt("someone-else", T + 20, { exitStatus: 137 }))).toEqual([]);
    const out = b.push(w("pods", T + 50, "ADDED", pod("p1")));
    expect(out.filter((e) => e.kind === "container-exit")).toEqual([
      expect.objectContaining({
        at: T + 10,
        source: "runtime",
        pod: "p1",
        detail: expect.objectContaining({ exitCode: 1 }),
      }),
    ]);
  });

  it("a preStop exec that overran the grace period: SIGTERM at the deadline, SIGKILL 2 s later (kubelet minimum)", () => {
    const b = new TimelineBuilder({ container: "app" });
    const preStop = { exec: { command: ["sleep", "30"] } };
    b.push(w("pods", T, "ADDED", pod("p1", { preStop, grace: 8 })));
    b.deleteCalled("p1", T + 1000);
    b.push(rt("p1", T + 1040, { event: "exec-started", taskId: "hook" }));
    // Both die with the container when the kubelet's SIGKILL comes at delete + 8 s + 2 s.
    const ended = b.push(rt("p1", T + 11_050, { taskId: "hook", exitStatus: 137 }));
    expect(ended.map((e) => e.kind)).toEqual(["prestop-end"]);
    expect(ended[0]?.detail).toMatchObject({ overran: true, exitStatus: 137 });
    b.push(rt("p1", T + 11_060, { exitStatus: 137 }));
    const settled = b.settle();
    expect(settled.map((e) => `${e.kind}@${e.at - T}`)).toEqual(["sigkill-sent@11000"]);
    expect(b.outcomes()[0]).toMatchObject({ exitCode: 137, sigkilled: true, exitedAt: T + 11_060 });
  });

  it("exec tasks before the delete (the harness's own) are not the preStop; the first one after it is", () => {
    const b = new TimelineBuilder({ container: "app" });
    const preStop = { exec: { command: ["sleep", "2"] } };
    b.push(w("pods", T, "ADDED", pod("p1", { preStop })));
    expect(b.push(rt("p1", T + 100, { event: "exec-started", taskId: "ps" }))).toEqual([]);
    expect(b.push(rt("p1", T + 150, { taskId: "ps" }))).toEqual([]);
    b.deleteCalled("p1", T + 1000);
    const started = b.push(rt("p1", T + 1040, { event: "exec-started", taskId: "hook" }));
    const ended = b.push(rt("p1", T + 3050, { taskId: "hook", exitStatus: 0 }));
    expect(started.map((e) => e.kind)).toEqual(["prestop-start"]);
    expect(ended.map((e) => `${e.kind}@${e.at - T}`)).toEqual(["prestop-end@3050", "sigterm-sent@3050"]);
    const exit = b.push(rt("p1", T + 3400, { exitStatus: 143 }));
    expect(exit.map((e) => `${e.kind}@${e.at - T}`)).toEqual(["container-exit@3400"]);
  });
});

describe("Kubernetes Events", () => {
  const ev = (reason: string, count: number, at: number, message = "m") => ({
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: `p1.${reason}`, uid: `u-${reason}` },
    involvedObject: { kind: "Pod", name: "p1" },
    reason,
    message,
    type: "Warning",
    count,
    source: { component: "kubelet" },
    firstTimestamp: secIso(at),
    lastTimestamp: secIso(at),
  });

  it("FailedPreStopHook adds prestop-failed; repeats are counted once per count; old events are dropped", () => {
    const b = new TimelineBuilder({ eventsSince: T });
    const out = [
      ...b.push(w("events", T + 100, "ADDED", ev("Unhealthy", 3, T - 60_000))),
      ...b.push(w("events", T + 500, "ADDED", ev("FailedPreStopHook", 1, T + 400, "exec: sleep: not found"))),
      ...b.push(w("events", T + 600, "MODIFIED", ev("FailedPreStopHook", 1, T + 400))),
      ...b.push(w("events", T + 900, "MODIFIED", ev("FailedPreStopHook", 2, T + 800))),
    ];
    expect(out.map((e) => `${e.kind}:${e.detail?.reason ?? ""}@${e.at - T}`)).toEqual([
      "k8s-event:FailedPreStopHook@500",
      "prestop-failed:@500",
      "k8s-event:FailedPreStopHook@900",
      "prestop-failed:@900",
    ]);
    expect(out[1]?.detail?.message).toBe("exec: sleep: not found");
  });
});
