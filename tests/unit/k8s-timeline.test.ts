// The watch-stream → timeline code, run on REAL streams recorded on a kind cluster (Kubernetes v1.20.2,
// tests/fixtures/recordings/kind-v1.20.2, a copy of shared/recordings), then on synthetic objects of the
// shapes newer servers produce (EndpointSlice v1 terminating conditions, the app's JSON lines,
// ContainerStatusUnknown).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  buildTimeline,
  parseAppLine,
  parseTime,
  type RecordedEntry,
  TimelineBuilder,
  type TimelineOptions,
  type WatchResource,
} from "../../src/k8s/timeline-from-watch.js";
import type { TimelineEvent } from "../../src/observe/events.js";

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
}

function loadRecording(name: string, endpointFile: "endpointslices" | "endpoints" = "endpointslices"): Recording {
  const dir = join(ROOT ?? "", name);
  const entries: RecordedEntry[] = [];
  for (const resource of ["pods", endpointFile, "events"] as WatchResource[]) {
    for (const line of readFileSync(join(dir, `${resource}.jsonl`), "utf8").split("\n")) {
      if (line.trim() === "") continue;
      const j = JSON.parse(line) as { receivedAt: string; type: string; object: unknown };
      entries.push({ source: "watch", resource, receivedAt: Date.parse(j.receivedAt), type: j.type, object: j.object });
    }
  }
  for (const file of readdirSync(dir).filter((f) => f.startsWith("logs-") && f.endsWith(".txt"))) {
    const pod = file.slice("logs-".length, -".txt".length);
    let last = 0;
    for (const line of readFileSync(join(dir, file), "utf8").split("\n")) {
      if (line.trim() === "") continue;
      // The kubelet's timestamp stands in for the arrival time (the recording has no other).
      const at = parseTime(line.split(" ")[0]) ?? last + 1;
      last = at;
      entries.push({ source: "log", pod, container: "app", receivedAt: at, line });
    }
  }
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
  return { entries, meta, t0: Date.parse(meta.deleted.deleteCmdStartedAt), containerdExitAt, containerdExitStatus };
}

function run(rec: Recording, options: TimelineOptions & { withDeleteCall?: boolean } = {}) {
  return buildTimeline(rec.entries, {
    eventsSince: Date.parse(rec.meta.loadStartedAt) - 10_000,
    container: "app",
    ...options,
    ...(options.withDeleteCall === false ? {} : { deleteCalls: [{ pod: rec.meta.deleted.pod, at: rec.t0 }] }),
  });
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
    expect(outcomes[0]?.processes).toEqual([
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

  it("the app is not PID 1: its only line comes from pid 10, and it never logs an exit", () => {
    const { outcomes } = run(rec);
    expect(outcomes[0]?.processes).toEqual([{ role: "app", pid: 10, signals: [] }]);
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
  extra: { deletion?: number; grace?: number; terminated?: { exitCode: number; reason: string; at: number } } = {},
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
  spec: { terminationGracePeriodSeconds: extra.grace ?? 30, nodeName: "kind-worker" },
  status: {
    podIP: "10.0.0.9",
    containerStatuses: [
      {
        name: "app",
        containerID: `containerd://${name}`,
        state: extra.terminated
          ? {
              terminated: {
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
    expect(old.map((l) => [l.event, l.code, l.role, l.pid, l.at])).toEqual([
      ["drain-end", undefined, "app", 1, Date.parse("2026-11-26T19:53:15.542Z")],
      ["exit", 0, "app", 1, Date.parse("2026-11-26T19:53:15.542Z")],
    ]);
    expect(old[0]?.loggedAt).toBe(Date.parse("2026-11-26T19:53:15.543Z"));
  });
});

describe("exit codes the API gets wrong", () => {
  it("137/ContainerStatusUnknown after the app exited 143 on its own: not SIGKILLed, with notes", () => {
    const b = new TimelineBuilder({ container: "app" });
    b.push(w("pods", T, "ADDED", pod("p1")));
    b.deleteCalled("p1", T + 1000);
    b.push(w("pods", T + 1050, "MODIFIED", pod("p1", { deletion: T + 1000 })));
    b.push(log("p1", T + 1200, { event: "signal", pid: 1, ppid: 0, role: "app", signal: "SIGTERM" }));
    b.push(log("p1", T + 1300, { event: "exit", pid: 1, ppid: 0, role: "app", code: 143 }));
    const unknown = pod("p1", {
      deletion: T + 1000,
      terminated: { exitCode: 137, reason: "ContainerStatusUnknown", at: T + 1400 },
    });
    b.push(w("pods", T + 1500, "MODIFIED", unknown));
    const gone = b.push(w("pods", T + 1600, "DELETED", unknown));
    expect(gone.map((e) => e.kind)).toEqual(["pod-gone"]);
    const [o] = b.outcomes();
    expect(o).toMatchObject({ pod: "p1", exitCode: 137, exitReason: "ContainerStatusUnknown", sigkilled: false });
    expect(o?.notes.join("\n")).toMatch(/ContainerStatusUnknown.*not the real one/);
    expect(o?.notes.join("\n")).toMatch(
      /API exit code 137 .* disagrees with the app's own exit line \(pid 1 logged exit 143\)/,
    );
    expect(o?.deleteAt).toBe(T + 1000);
    expect(o?.goneAt).toBe(T + 1600);
  });

  it("OOMKilled 137 is not a grace-period SIGKILL", () => {
    const b = new TimelineBuilder();
    b.deleteCalled("p1", T);
    const events = b.push(
      w("pods", T + 100, "MODIFIED", pod("p1", { terminated: { exitCode: 137, reason: "OOMKilled", at: T } })),
    );
    expect(events.map((e) => e.kind)).toEqual(["container-exit"]);
    expect(b.outcomes()[0]).toMatchObject({ sigkilled: false });
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
