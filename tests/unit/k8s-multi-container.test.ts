// Multi-container pods in the kind/existing evidence (issue 16 item 4). There are no multi-container
// recordings: these fixtures are the REAL single-container stream recorded on kind v1.20.2
// (tests/fixtures/recordings/kind-v1.20.2/exec-form-prestop-sleep-3: app container "app", preStop exec
// sleep 3, exit 0 at ~+3.2 s) with a second container added to the deleted pod's objects — a "proxy"
// regular container (or a native sidecar: an initContainer with restartPolicy Always), its status,
// its containerd task exit and its log lines — shaped as the recorded ones are.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { type Pid1Request, readOtherContainers } from "../../src/k8s/driver.js";
import { attachReadings } from "../../src/k8s/observations.js";
import { type RecordedEntry, replayRecording, TimelineBuilder } from "../../src/k8s/timeline-from-watch.js";
import type { LoadResult } from "../../src/load/types.js";
import type { PodOutcome } from "../../src/model/pod-outcome.js";
import type { ProcessTreeInspection } from "../../src/model/process-tree.js";
import { collectEvidence, withProcessReports } from "../../src/runner/collect.js";
import { readFieldEntries } from "../../src/runner/recordings-folder.js";
import type { Scenario } from "../../src/scenario/schema.js";
import { attributeFailures } from "../../src/verdict/container-attribution.js";
import { evaluate } from "../../src/verdict/verdicts.js";
import { parseManifests, selectManifestSet } from "../../src/workload/index.js";

const DIR = join(import.meta.dirname, "..", "fixtures", "recordings", "kind-v1.20.2", "exec-form-prestop-sleep-3");
const VICTIM = "app-f89594555-6t5mk";
const T0 = Date.parse("2026-11-26T19:53:12.353Z");
const PROXY_ID = "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0";
const ORIGIN = "containerd on node kind-control-plane";

type Obj = {
  metadata?: { name?: string };
  spec?: { containers?: unknown[]; initContainers?: unknown[] };
  status?: { containerStatuses?: unknown[]; initContainerStatuses?: unknown[] };
};

/** The proxy's status as the API would list it at `receivedAt` (terminated once it exited). */
function proxyStatus(receivedAt: number, exitAt: number, code: number) {
  const exited = receivedAt >= exitAt + 700; // the kubelet's next status sync, as measured on 1.20
  const finishedAt = new Date(Math.floor(exitAt / 1000) * 1000).toISOString().replace(".000", "");
  return {
    name: "proxy",
    containerID: `containerd://${PROXY_ID}`,
    state: exited
      ? {
          terminated: {
            exitCode: code,
            reason: code === 0 ? "Completed" : "Error",
            finishedAt,
            containerID: `containerd://${PROXY_ID}`,
          },
        }
      : { running: { startedAt: "2026-11-26T19:52:50Z" } },
  };
}

/**
 * The recorded stream with a proxy container added to the victim: `native` puts it under
 * initContainers (restartPolicy Always); the proxy exits `exitAfterMs` after the delete with `code`.
 */
function withProxy(opts: {
  native?: boolean;
  exitAfterMs: number;
  code?: number;
  runtime?: boolean;
  preStopSleep?: number;
}) {
  const { entries, runtime } = readFieldEntries(DIR, "endpointslices");
  const exitAt = T0 + opts.exitAfterMs;
  const code = opts.code ?? 0;
  const spec = {
    name: "proxy",
    ...(opts.native ? { restartPolicy: "Always" } : {}),
    ...(opts.preStopSleep !== undefined ? { lifecycle: { preStop: { sleep: { seconds: opts.preStopSleep } } } } : {}),
  };
  const out: RecordedEntry[] = entries.map((e) => {
    if (e.source !== "watch" || e.resource !== "pods") return e;
    const pod = structuredClone(e.object) as Obj;
    if (pod.metadata?.name !== VICTIM || !pod.spec || !pod.status) return e;
    const status = proxyStatus(e.receivedAt, exitAt, code);
    if (opts.native) {
      pod.spec.initContainers = [...(pod.spec.initContainers ?? []), spec];
      pod.status.initContainerStatuses = [...(pod.status.initContainerStatuses ?? []), status];
    } else {
      pod.spec.containers = [...(pod.spec.containers ?? []), spec];
      pod.status.containerStatuses = [...(pod.status.containerStatuses ?? []), status];
    }
    return { ...e, object: pod };
  });
  // nginx's own lines are no app lines; a JSON line from the proxy says it got SIGQUIT (its stop signal).
  out.push(
    {
      source: "log",
      pod: VICTIM,
      container: "proxy",
      receivedAt: T0 + 50,
      line: `2026-11-26T19:53:12.380Z 10.244.0.1 - - "GET / HTTP/1.1" 200`,
    },
    {
      source: "log",
      pod: VICTIM,
      container: "proxy",
      receivedAt: exitAt - 10,
      line: `${new Date(exitAt - 20).toISOString()} {"t":${exitAt - 20},"event":"signal","signal":"SIGQUIT","pid":1,"role":"proxy"}`,
    },
  );
  if (opts.runtime !== false) {
    out.push(...runtime, {
      source: "runtime",
      receivedAt: exitAt + 5,
      origin: ORIGIN,
      event: "exit",
      at: exitAt,
      containerId: PROXY_ID,
      taskId: PROXY_ID,
      pid: 4242,
      ...(code !== 0 ? { exitStatus: code } : {}),
    });
  }
  return out;
}

/** One JSON line of the "app" container, with the kubelet's timestamp prefix, read 5 ms later. */
function appLine(pod: string, at: number, json: string): RecordedEntry {
  return { source: "log", pod, container: "app", receivedAt: at + 5, line: `${new Date(at).toISOString()} ${json}` };
}

function run(entries: RecordedEntry[]) {
  const replayed = replayRecording(entries, {
    container: "app",
    eventsSince: T0 - 13_000,
    deleteCalls: [{ pod: VICTIM, at: T0 }],
    outcomesFor: [VICTIM],
  });
  return { events: replayed.events, pods: withProcessReports(replayed.events, replayed.outcomes) };
}

describe.skipIf(!existsSync(DIR))(
  "a pod with an app and a proxy container (recorded stream + a second container)",
  () => {
    it("each container gets its own outcome: the app's fields as before, the proxy's from its own exit", () => {
      const { pods, events } = run(withProxy({ exitAfterMs: 300 }));
      const pod = pods[0] as PodOutcome;
      // The app container: unchanged evidence (preStop sleep 3, exit 0 at ~+3.2 s from containerd).
      expect(pod).toMatchObject({ container: "app", role: "app", exitCode: 0, sigkilled: false });
      expect((pod.exitedAt ?? 0) - T0).toBeGreaterThan(3000);
      expect(pod.preStop).toMatchObject({ type: "exec", seconds: 3 });
      expect(pod.sidecars).toHaveLength(1);
      const proxy = pod.sidecars?.[0];
      expect(proxy).toMatchObject({
        container: "proxy",
        role: "sidecar",
        exitCode: 0,
        exitedAt: T0 + 300,
        sigkilled: false,
        preStop: { type: "none" },
        exitEvidence: { chosen: "runtime" },
      });
      // Its exit is its own container-exit event, not the app's.
      const exits = events.filter((e) => e.kind === "container-exit" && e.pod === VICTIM);
      expect(exits.map((e) => e.detail?.container).sort()).toEqual(["app", "proxy"]);
    });

    it("per-container SIGTERM receipt and processes: the proxy's own line, the app's own line; lines never cross", () => {
      const { pods } = run(withProxy({ exitAfterMs: 300 }));
      const pod = pods[0] as PodOutcome;
      const proxy = pod.sidecars?.[0];
      expect(proxy?.processes).toEqual([expect.objectContaining({ role: "proxy", pid: 1 })]);
      expect(pod.processes.map((p) => p.role)).toEqual(["app"]);
      // The proxy logged SIGQUIT, not SIGTERM: without its stop signal known, its receipt is the kubelet's rule.
      expect(proxy?.sigterm).toMatchObject({ by: "delete", inferred: true, at: T0 });
      expect((pod.sigterm?.at ?? 0) - T0).toBeGreaterThan(3000);
      expect(pod.sigterm).toMatchObject({ by: "app-line", inferred: false });
    });

    it("a proxy known to stop on SIGQUIT: its own line is the receipt", () => {
      const { pods } = run(withProxy({ exitAfterMs: 300 }));
      const pod = pods[0] as PodOutcome;
      const proxy = { ...(pod.sidecars?.[0] as NonNullable<PodOutcome["sidecars"]>[number]) };
      proxy.stopSignal = { signal: "SIGQUIT", from: "image" };
      const { events } = run(withProxy({ exitAfterMs: 300 }));
      const [again] = withProcessReports(events, [{ ...pod, sidecars: [{ ...proxy, sigterm: undefined }] }]);
      expect(again?.sidecars?.[0]?.sigterm).toMatchObject({ by: "app-line", inferred: false, at: T0 + 280 });
    });

    it("a native sidecar (initContainers, restartPolicy Always) is one of the pod's containers, stopped after the app", () => {
      const { pods } = run(withProxy({ native: true, exitAfterMs: 3600 }));
      const proxy = pods[0]?.sidecars?.[0];
      expect(proxy).toMatchObject({ container: "proxy", role: "native-sidecar", exitCode: 0, exitedAt: T0 + 3600 });
      expect((proxy?.exitedAt ?? 0) - (pods[0]?.exitedAt ?? 0)).toBeGreaterThan(0);
      // Its stop signal, only inferred (no preStop; its SIGQUIT line is not its known stop signal), comes
      // after the app's exit, not at the delete.
      expect(proxy?.sigterm).toMatchObject({ at: pods[0]?.exitedAt, inferred: true });
      expect(proxy?.sigterm?.from).toMatch(/^after the regular containers exited \(native sidecar/);
    });

    it("without the runtime's record, the proxy's API exit is placed within finishedAt's second after its preStop", () => {
      const { pods } = run(withProxy({ exitAfterMs: 2400, runtime: false, preStopSleep: 2 }));
      const proxy = pods[0]?.sidecars?.[0];
      expect(proxy?.exitEvidence?.chosen).toBe("api");
      // finishedAt is +2 s's second: the earliest the bounds allow is the end of its own preStop sleep (2 s).
      expect((proxy?.exitedAt ?? 0) - T0).toBeGreaterThanOrEqual(2000);
      expect((proxy?.exitedAt ?? 0) - T0).toBeLessThan(3000);
      expect(proxy?.preStop).toMatchObject({ type: "sleep", seconds: 2 });
    });

    it("a proxy killed at the grace deadline (10 s in the recording) is SIGKILLed, and the per-container verdicts say so", () => {
      const { pods } = run(withProxy({ exitAfterMs: 10_050, code: 137 }));
      const proxy = pods[0]?.sidecars?.[0];
      expect(proxy).toMatchObject({ exitCode: 137, sigkilled: true });
      const verdicts = evaluate({
        expectations: { containers: { app: { exit: "graceful" }, proxy: { exit: "graceful" } } },
        load: { failures: [] } as never,
        pods,
      });
      expect(verdicts.map((v) => [v.name, v.pass])).toEqual([
        [`exit (${VICTIM}/app)`, true],
        [`exit (${VICTIM}/proxy)`, false],
      ]);
    });

    it("the one-container recording is unchanged: no sidecars, no role, the container named", () => {
      const { entries } = readFieldEntries(DIR, "endpointslices");
      const { pods } = run(entries);
      expect(pods[0]?.sidecars).toBeUndefined();
      expect(pods[0]?.role).toBeUndefined();
      expect(pods[0]?.sigterm).toBeUndefined();
      expect(pods[0]?.container).toBe("app");
    });
  },
);

describe("the driver reads every other container of a victim before any signal", () => {
  const kc = new KubeConfig();
  const req: Pid1Request = { namespace: "ns", pod: "web-1", container: "app", containerID: "containerd://aaa" };
  const pod = {
    metadata: { name: "web-1" },
    spec: {
      containers: [{ name: "app" }, { name: "proxy" }],
      initContainers: [{ name: "migrate" }, { name: "mesh", restartPolicy: "Always" }],
    },
    status: {
      containerStatuses: [
        { name: "app", containerID: "containerd://aaa" },
        { name: "proxy", containerID: "containerd://bbb" },
      ],
      initContainerStatuses: [
        { name: "migrate", containerID: "containerd://ccc" },
        { name: "mesh", containerID: "containerd://ddd" },
      ],
    },
  } as unknown as V1Pod;
  const inspection = (id: string): ProcessTreeInspection => ({
    containerId: id,
    at: 0,
    source: "kube-exec",
    sourceDetail: "fake",
    processes: [],
    notes: [],
  });

  it("PID 1 and /proc of the proxy and the native sidecar (not the finished init container), onto their outcomes", async () => {
    const asked: string[] = [];
    const options = {
      kc,
      readPid1: async (r: Pid1Request) => {
        asked.push(`${r.container} ${r.containerID}`);
        return r.container === "proxy" ? "nginx: master process nginx" : { cmdline: "envoy -c /etc/envoy.yaml" };
      },
      inspectProcesses: async (r: Pid1Request) => inspection(r.containerID ?? "?"),
    };
    const builder = new TimelineBuilder({ container: "app" });
    const containers = await readOtherContainers(options, req, pod, builder);
    expect(asked).toEqual(["proxy containerd://bbb", "mesh containerd://ddd"]);
    expect(Object.keys(containers)).toEqual(["proxy", "mesh"]);
    builder.push({ source: "watch", resource: "pods", receivedAt: 1, type: "MODIFIED", object: pod });
    builder.deleteCalled("web-1", 2);
    const outcomes = builder.outcomes(["web-1"]);
    attachReadings(outcomes, new Map([["web-1", { notes: [], containers }]]));
    const sidecars = outcomes[0]?.sidecars ?? [];
    expect(sidecars.map((c) => [c.container, c.role, c.pid1Cmdline, c.inspection?.containerId])).toEqual([
      ["proxy", "sidecar", "nginx: master process nginx", "containerd://bbb"],
      ["mesh", "native-sidecar", "envoy -c /etc/envoy.yaml", "containerd://ddd"],
    ]);
  });

  it("a container that cannot be read is logged, the others still are", async () => {
    const logged: string[] = [];
    const options = {
      kc,
      log: (l: string) => logged.push(l),
      readPid1: async (r: Pid1Request) => {
        if (r.container === "proxy") throw new Error("container not running");
        return "envoy";
      },
      inspectProcesses: async (r: Pid1Request) => inspection(r.containerID ?? "?"),
    };
    const containers = await readOtherContainers(options, req, pod, new TimelineBuilder({ container: "app" }));
    expect(Object.keys(containers)).toEqual(["proxy", "mesh"]);
    expect(logged).toEqual(["could not read PID 1 of web-1/proxy: container not running"]);
  });
});

describe.skipIf(!existsSync(DIR))("the collect step on the recorded stream with a proxy in front", () => {
  // The proxy (the container the load reaches) keeps serving until +1.2 s. The app behind it logs SIGTERM
  // at +0.01 s (its recorded lines are replaced by these: a receipt from its own line outranks the
  // recorded spec's preStop rule), so it closed its listener long before the proxy stopped.
  function proxiedStream(): RecordedEntry[] {
    const entries = withProxy({ exitAfterMs: 1200 }).filter((e) => !(e.source === "log" && e.container === "app"));
    const line = (t: number, json: string) => appLine(VICTIM, t, json);
    entries.push(
      line(T0 - 5000, `{"t":${T0 - 5000},"event":"start","pid":1,"role":"app"}`),
      line(T0 + 10, `{"t":${T0 + 10},"event":"signal","signal":"SIGTERM","pid":1,"role":"app"}`),
      line(T0 + 140, `{"t":${T0 + 140},"event":"exit","code":0,"pid":1,"role":"app"}`),
    );
    return entries;
  }

  it("the proxy's 502s after the app's SIGTERM are the app's listener; the resets at the proxy's exit are the proxy's", () => {
    const replayed = replayRecording(proxiedStream(), {
      container: "proxy",
      eventsSince: T0 - 13_000,
      deleteCalls: [{ pod: VICTIM, at: T0 }],
      outcomesFor: [VICTIM],
    });
    const failures = [
      ...Array.from({ length: 8 }, (_, i) => ({ at: T0 + 50 + i * 100, kind: "non-2xx" as const, code: 502 })),
      { at: T0 + 1205, kind: "reset" as const, code: "ECONNRESET" },
    ];
    const load = {
      target: "127.0.0.1:30080",
      startedAt: T0 - 3000,
      endedAt: T0 + 9000,
      sent: 900,
      succeeded: 891,
      failed: failures.length,
      failedByKind: { "non-2xx": 8, reset: 1 },
      inFlightAtEnd: 0,
      failures: failures.map((f) => ({ ...f, sentAt: f.at - 2, path: "/" })),
      successBuckets: [],
      latencies: [],
      servedBy: [],
      autocannon: { requests: 0, errors: 0, timeouts: 0, non2xx: 0, resets: 0 },
    } as unknown as LoadResult;
    const scenario = { preStop: { type: "none" } } as unknown as Scenario;
    const { pods } = collectEvidence({
      scenario,
      events: replayed.events,
      pods: replayed.outcomes,
      load,
      records: [],
      attribution: undefined,
    });
    const pod = pods[0] as PodOutcome;
    // The proxy is the pod's "app" container here: the load reaches it; the app is its sidecar.
    expect(pod).toMatchObject({ container: "proxy", role: "app", exitedAt: T0 + 1200 });
    expect(pod.sidecars?.[0]).toMatchObject({
      container: "app",
      role: "sidecar",
      sigterm: { at: T0 + 10, by: "app-line" },
    });
    expect(pod.failureCauses?.map((w) => [w.cause, w.container, w.count])).toEqual([
      ["listener-closed-behind-proxy", "app", 8],
      ["front-stopped-without-drain", "proxy", 1],
    ]);
  });
});

describe("the shop-web fixture (app on localhost behind an nginx proxy with preStop sleep 2): who dropped what", () => {
  // The pod spec is the fixture's own template (fixtures/workloads/shop-web/rendered.yaml); the statuses,
  // runtime events and lines are synthetic, shaped as the kind v1.20.2 recordings have them.
  const text = readFileSync(join(import.meta.dirname, "../../fixtures/workloads/shop-web/rendered.yaml"), "utf8");
  const set = selectManifestSet(parseManifests(text, "rendered.yaml"), { namespace: "ge-x" });
  const template = (set.workload.entry.object as unknown as { spec: { template: { spec: unknown } } }).spec.template;
  const POD = "shop-web-5d8f9-q7k2x";
  const ID = { app: "a".repeat(64), proxy: "c".repeat(64) };
  const status = (name: "app" | "proxy", exitedAt?: number) => ({
    name,
    containerID: `containerd://${ID[name]}`,
    state:
      exitedAt === undefined
        ? { running: { startedAt: "2026-12-07T18:59:00Z" } }
        : {
            terminated: {
              exitCode: 0,
              reason: "Completed",
              finishedAt: new Date(Math.floor(exitedAt / 1000) * 1000).toISOString(),
              containerID: `containerd://${ID[name]}`,
            },
          },
  });
  const podAt = (receivedAt: number, exits: { app?: number; proxy?: number }, deleted: boolean): RecordedEntry => ({
    source: "watch",
    resource: "pods",
    receivedAt,
    type: "MODIFIED",
    object: {
      metadata: {
        name: POD,
        uid: "u-1",
        ...(deleted ? { deletionTimestamp: new Date(T0 + 20_000).toISOString(), deletionGracePeriodSeconds: 20 } : {}),
      },
      spec: { ...(template.spec as object), nodeName: "kind-control-plane" },
      status: { podIP: "10.244.0.7", containerStatuses: [status("app", exits.app), status("proxy", exits.proxy)] },
    },
  });
  const rt = (
    at: number,
    event: "exit" | "exec-started",
    container: "app" | "proxy",
    taskId?: string,
  ): RecordedEntry => ({
    source: "runtime",
    receivedAt: at + 3,
    origin: ORIGIN,
    event,
    at,
    containerId: ID[container],
    taskId: taskId ?? ID[container],
  });
  const line = (at: number, json: string) => appLine(POD, at, json);
  const entries: RecordedEntry[] = [
    podAt(T0 - 8000, {}, false),
    line(T0 - 7000, `{"t":${T0 - 7000},"event":"start","pid":1,"role":"app"}`),
    podAt(T0 + 40, {}, true),
    rt(T0 + 30, "exec-started", "proxy", "prestop-1"),
    line(T0 + 6, `{"t":${T0 + 6},"event":"signal","signal":"SIGTERM","pid":1,"role":"app"}`),
    line(T0 + 90, `{"t":${T0 + 90},"event":"exit","code":0,"pid":1,"role":"app"}`),
    rt(T0 + 95, "exit", "app"),
    podAt(T0 + 900, { app: T0 + 95 }, true),
    rt(T0 + 2035, "exit", "proxy", "prestop-1"),
    rt(T0 + 2140, "exit", "proxy"),
    podAt(T0 + 2900, { app: T0 + 95, proxy: T0 + 2140 }, true),
  ];

  it("the Service's port is the proxy's: it is the pod's app container, the app its sidecar", () => {
    expect(set.port.container).toBe("proxy");
    const { outcomes } = replayRecording(entries, {
      container: set.port.container,
      deleteCalls: [{ pod: POD, at: T0 }],
    });
    expect(outcomes[0]).toMatchObject({
      container: "proxy",
      role: "app",
      exitedAt: T0 + 2140,
      preStop: { type: "exec", seconds: 2 },
    });
    expect(outcomes[0]?.sidecars?.[0]).toMatchObject({
      container: "app",
      role: "sidecar",
      exitedAt: T0 + 95,
      preStop: { type: "none" },
    });
  });

  it("the 502s while the proxy's preStop ran are the app's; the reset at the proxy's exit is the proxy's", () => {
    const replayed = replayRecording(entries, { container: set.port.container, deleteCalls: [{ pod: POD, at: T0 }] });
    const [pod] = withProcessReports(replayed.events, replayed.outcomes);
    // The proxy's SIGTERM: the kubelet's, when its preStop exec task returned (+2.035 s).
    expect(pod?.sigterm).toMatchObject({ at: T0 + 2035, by: "prestop-end", inferred: true });
    expect(pod?.sidecars?.[0]?.sigterm).toMatchObject({ at: T0 + 6, by: "app-line", inferred: false });
    const failures = [
      ...Array.from({ length: 19 }, (_, i) => ({
        at: T0 + 100 + i * 100,
        kind: "non-2xx" as const,
        code: 502,
        sentAt: 0,
        path: "/",
      })),
      { at: T0 + 2140, kind: "reset" as const, code: "ECONNRESET", sentAt: 0, path: "/" },
    ];
    const windows = attributeFailures([pod as PodOutcome], failures).get(POD);
    expect(windows?.map((w) => [w.cause, w.container, w.via, w.count])).toEqual([
      ["listener-closed-behind-proxy", "app", "proxy", 19],
      ["front-stopped-without-drain", "proxy", undefined, 1],
    ]);
    expect(windows?.[0]?.evidence).toMatch(
      /answered by proxy after app got its stop signal at \+0\.006 s \(the app's SIGTERM line\), before proxy exited at \+2\.140 s/,
    );
  });
});
