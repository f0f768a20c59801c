// One reading of the app's log lines for every backend: the same raw lines through the local path
// (what src/backends/local/replica.ts does with a container's log lines) and the kind path
// (TimelineBuilder.push with RecordedLogLine entries, with and without the kubelet's timestamp prefix)
// give the same timeline events and the same per-process reports.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { recordLogLine } from "../../src/backends/local/replica.js";
import { type RecordedLogLine, TimelineBuilder } from "../../src/k8s/timeline-from-watch.js";
import type { TimelineEvent } from "../../src/model/events.js";
import { appEventsFromLine, parseAppLine, processReports } from "../../src/observe/app-log.js";
import { EventLog } from "../../src/observe/events.js";

const T = Date.parse("2030-01-01T00:00:00Z");

/** A line exactly as images/app/server.js writes it: JSON.stringify({t, event, pid, ppid, role, ...fields}). */
const appLine = (t: number, event: string, pid: number, role: string, fields: Record<string, unknown> = {}) =>
  JSON.stringify({ t, event, pid, ppid: pid === 1 ? 0 : 1, role, ...fields });

const START = { host: "0.0.0.0", node: "v18.20.4", sigtermHandler: true, listenerCloseDelayMs: 0, idleCloseMs: 1000 };

/** The trap image: bash (PID 1) starts app-1 and app-2 and forwards SIGTERM; stderr lines in between. */
const TRAP_LINES = [
  appLine(T, "start", 7, "app-1", { port: 8080, ...START, drainTimeoutMs: 20000 }),
  appLine(T + 1, "start", 8, "app-2", { port: 8081, ...START, drainTimeoutMs: 20000 }),
  "[entrypoint] bash pid 1 started app-1 (7) and app-2 (8), forwarding SIGTERM",
  appLine(T + 30, "listening", 7, "app-1", { port: 8080, host: "0.0.0.0" }),
  appLine(T + 31, "listening", 8, "app-2", { port: 8081, host: "0.0.0.0" }),
  "[entrypoint] got SIGTERM, forwarding to 7 8",
  appLine(T + 2000, "signal", 7, "app-1", { signal: "SIGTERM", phase: "serving" }),
  appLine(T + 2000, "drain-start", 7, "app-1", { openConnections: 3, inFlight: 1 }),
  appLine(T + 2000, "listener-closed", 7, "app-1", { openConnections: 3, inFlight: 1 }),
  appLine(T + 2001, "signal", 8, "app-2", { signal: "SIGTERM", phase: "serving" }),
  appLine(T + 2001, "drain-start", 8, "app-2", { openConnections: 0, inFlight: 0 }),
  appLine(T + 2001, "listener-closed", 8, "app-2", { openConnections: 0, inFlight: 0 }),
  appLine(T + 2002, "drain-end", 8, "app-2", { reason: "idle", openConnections: 0, inFlight: 0 }),
  appLine(T + 2002, "exit", 8, "app-2", { code: 0 }),
  appLine(T + 2050, "fault-injected", 7, "app-1", { fault: "reset" }),
  appLine(T + 3204, "drain-end", 7, "app-1", { reason: "idle", openConnections: 0, inFlight: 0 }),
  appLine(T + 3205, "exit", 7, "app-1", { code: 0 }),
];

/** The older text format, from the kind v1.20.2 recording (kubelet prefix included, as `kubectl logs --timestamps`). */
const RECORDING = join(
  import.meta.dirname,
  "..",
  "fixtures",
  "recordings",
  "kind-v1.20.2",
  "exec-form-prestop-sleep-3",
  "logs-app-f89594555-6t5mk.txt",
);
const RECORDED_TEXT = existsSync(RECORDING)
  ? readFileSync(RECORDING, "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "")
  : [
      "2026-11-26T19:52:07.705329775Z 2026-11-26T19:52:07.701Z pid=1 app:3000 listening on 3000",
      "2026-11-26T19:53:15.537202414Z 2026-11-26T19:53:15.535Z pid=1 app:3000 received SIGTERM",
      "2026-11-26T19:53:15.543192523Z 2026-11-26T19:53:15.542Z pid=1 app:3000 server closed (all connections done) err=none; exit 0",
      'rpc error: code = NotFound desc = an error occurred when try to find container "a9b4": not found',
    ];
const PREFIX = /^\d{4}-\d\d-\d\dT\S+Z (?=\d{4}-)/;
/** The recorded lines as the container wrote them (Docker's stream has no prefix). */
const TEXT_LINES = RECORDED_TEXT.map((l) => l.replace(PREFIX, ""));

/** A kubelet timestamp a few ms after the app's own time (or a fixed one for lines without a time). */
function kubeletPrefix(line: string, i: number): string {
  const parsed = parseAppLine(line)[0];
  const at = (parsed?.at ?? T) + 3 + i;
  return `${new Date(at).toISOString().replace("Z", "123456Z")} ${line}`;
}

/** Through the local backend: each container log line into the run's sink (replica.ts). */
function localPath(lines: string[], pod: string): TimelineEvent[] {
  const sink = new EventLog();
  for (const line of lines) recordLogLine(sink, pod, line, T - 1);
  return sink.events;
}

/** Through the kind backend: each line a RecordedLogLine pushed into the TimelineBuilder. */
function kindPath(lines: string[], pod: string, prefixed: boolean) {
  const b = new TimelineBuilder({ container: "app" });
  const events: TimelineEvent[] = [];
  lines.forEach((line, i) => {
    const entry: RecordedLogLine = {
      source: "log",
      pod,
      container: "app",
      receivedAt: T - 1,
      line: prefixed ? kubeletPrefix(line, i) : line,
    };
    events.push(...b.push(entry));
  });
  // The runner derives the reports from the events for every backend (runner/collect.ts).
  return { events, processes: processReports(events, pod) };
}

/** Without the transport-only facts (which container, the kubelet's timestamp). */
function comparable(events: TimelineEvent[]) {
  return events.map(({ kind, at, process, pod, source, detail }) => {
    const { loggedAt: _l, container: _c, ...rest } = detail ?? {};
    return { kind, at, process, pod, source, detail: rest };
  });
}

describe.each([
  { format: "JSON lines (trap image: two app processes)", lines: TRAP_LINES, pod: "app-trap-0" },
  { format: "the 1.20 recording's text lines", lines: TEXT_LINES, pod: "app-f89594555-6t5mk" },
])("$format: local and kind read them alike", ({ lines, pod }) => {
  const local = localPath(lines, pod);

  it.each([
    { prefixed: false, how: "without a timestamp prefix" },
    { prefixed: true, how: "with the kubelet's RFC3339Nano prefix" },
  ])("kind path $how: identical TimelineEvents and ProcessReports", ({ prefixed }) => {
    const kind = kindPath(lines, pod, prefixed);
    expect(local.length).toBeGreaterThan(0);
    expect(comparable(kind.events)).toEqual(comparable(local));
    expect(kind.processes).toEqual(processReports(local, pod));
    // The transport facts are there on kind, and only there.
    for (const e of kind.events) {
      expect(e.detail?.container).toBe("app");
      expect(e.detail?.loggedAt !== undefined).toBe(prefixed);
    }
    for (const e of local) expect(e.detail).not.toHaveProperty("container");
  });
});

describe("what the events carry", () => {
  it("JSON: every event-specific field in detail, under the app's names (drain details survive on kind)", () => {
    const { events } = kindPath(TRAP_LINES, "p", true);
    const drain = events.find((e) => e.kind === "app-drain-start" && e.process === "app-1");
    expect(drain).toMatchObject({
      at: T + 2000,
      source: "app",
      pod: "p",
      process: "app-1",
      detail: { pid: 7, ppid: 1, openConnections: 3, inFlight: 1, format: "json", container: "app" },
    });
    expect(drain?.detail?.loggedAt).toBe(T + 2000 + 3 + 7);
    expect(events.find((e) => e.kind === "app-drain-end" && e.process === "app-1")?.detail).toMatchObject({
      reason: "idle",
      openConnections: 0,
      inFlight: 0,
    });
    expect(events.find((e) => e.kind === "app-signal")?.detail).toMatchObject({ signal: "SIGTERM", phase: "serving" });
    expect(events.find((e) => e.kind === "app-exit")?.detail).toMatchObject({ code: 0, pid: 8 });
    expect(events.find((e) => e.kind === "app-start")?.detail).toMatchObject({
      port: 8080,
      node: "v18.20.4",
      sigtermHandler: true,
    });
    // listening, listener-closed, fault-injected and stderr lines are not timeline events
    expect(events.map((e) => `${e.kind}:${e.process}`)).toEqual([
      "app-start:app-1",
      "app-start:app-2",
      "app-signal:app-1",
      "app-drain-start:app-1",
      "app-signal:app-2",
      "app-drain-start:app-2",
      "app-drain-end:app-2",
      "app-exit:app-2",
      "app-drain-end:app-1",
      "app-exit:app-1",
    ]);
  });

  it("the per-process reports (one function for every backend)", () => {
    const reports = processReports(localPath(TRAP_LINES, "p"), "p");
    expect(reports).toEqual([
      {
        role: "app-1",
        pid: 7,
        signals: [{ name: "SIGTERM", at: T + 2000 }],
        drainStart: T + 2000,
        drainEnd: T + 3204,
        exit: { code: 0, at: T + 3205 },
      },
      {
        role: "app-2",
        pid: 8,
        signals: [{ name: "SIGTERM", at: T + 2001 }],
        drainStart: T + 2001,
        drainEnd: T + 2002,
        exit: { code: 0, at: T + 2002 },
      },
    ]);
  });

  it("text format: listening stands for the start; received SIG…; server closed …; exit n", () => {
    const events = localPath(TEXT_LINES, "p");
    expect(events.map((e) => [e.kind, e.at, e.detail])).toEqual([
      ["app-start", Date.parse("2026-11-26T19:52:07.701Z"), { pid: 1, port: 3000, event: "listening", format: "text" }],
      ["app-signal", Date.parse("2026-11-26T19:53:15.535Z"), { pid: 1, signal: "SIGTERM", format: "text" }],
      [
        "app-drain-end",
        Date.parse("2026-11-26T19:53:15.542Z"),
        { pid: 1, reason: "all connections done", format: "text" },
      ],
      ["app-exit", Date.parse("2026-11-26T19:53:15.542Z"), { pid: 1, code: 0, format: "text" }],
    ]);
    expect(processReports(events, "p")).toEqual([
      {
        role: "app",
        pid: 1,
        signals: [{ name: "SIGTERM", at: Date.parse("2026-11-26T19:53:15.535Z") }],
        drainEnd: Date.parse("2026-11-26T19:53:15.542Z"),
        exit: { code: 0, at: Date.parse("2026-11-26T19:53:15.542Z") },
      },
    ]);
  });
});

describe("parseAppLine", () => {
  it("ignores what is not an app line", () => {
    expect(parseAppLine("")).toEqual([]);
    expect(parseAppLine("rpc error: code = NotFound desc = an error occurred")).toEqual([]);
    expect(parseAppLine('2026-11-26T19:53:15.537202414Z {"not":"ours"}')).toEqual([]);
    expect(parseAppLine("2026-11-26T19:53:15.537202414Z {broken json")).toEqual([]);
    expect(parseAppLine("[1,2,3]")).toEqual([]);
    expect(appEventsFromLine("[entrypoint] bash pid 1 exec'ing node", "p")).toEqual([]);
  });

  it("the app's own time wins; the kubelet's prefix is kept as loggedAt; the caller's fallback comes last", () => {
    const line = JSON.stringify({ t: T, event: "exit", pid: 1, role: "app", code: 143 });
    expect(parseAppLine(`2030-01-01T00:00:00.250000001Z ${line}`)[0]).toMatchObject({
      at: T,
      loggedAt: T + 250,
      fields: { code: 143 },
    });
    const untimed = JSON.stringify({ event: "exit", pid: 1, role: "app", code: 0 });
    expect(parseAppLine(`2030-01-01T00:00:01.5Z ${untimed}`)[0]?.at).toBe(T + 1500);
    expect(parseAppLine(untimed, T + 9)[0]?.at).toBe(T + 9);
    expect(parseAppLine(untimed)).toEqual([]);
    // epoch seconds and ISO strings for t
    expect(parseAppLine(JSON.stringify({ t: T / 1000, event: "start", pid: 1 }))[0]?.at).toBe(T);
    expect(parseAppLine(JSON.stringify({ t: "2030-01-01T00:00:02.000Z", event: "start", pid: 1 }))[0]?.at).toBe(
      T + 2000,
    );
  });

  it("a text line without a prefix is not mistaken for one (its first word is the app's own time)", () => {
    const [l] = parseAppLine("2026-11-26T19:53:15.535Z pid=1 app:3000 received SIGTERM");
    expect(l).toMatchObject({ event: "signal", pid: 1, role: "app", fields: { signal: "SIGTERM" }, format: "text" });
    expect(l?.loggedAt).toBeUndefined();
  });

  it("a stderr fragment merged before a JSON line (Docker's combined stream) does not hide it", () => {
    const line = `[entrypoint] bash pid 1 ${JSON.stringify({ t: T, event: "signal", pid: 7, role: "app-1", signal: "SIGTERM" })}`;
    expect(appEventsFromLine(line, "p").map((e) => [e.kind, e.process, e.detail?.signal])).toEqual([
      ["app-signal", "app-1", "SIGTERM"],
    ]);
  });

  it("no role means the app; a missing pid is 0 in the report", () => {
    const events = appEventsFromLine(JSON.stringify({ t: T, event: "signal", signal: "SIGINT" }), "p");
    expect(events[0]?.process).toBe("app");
    expect(processReports(events, "p")).toEqual([{ role: "app", pid: 0, signals: [{ name: "SIGINT", at: T }] }]);
  });
});

describe("processReports", () => {
  const ev = (at: number, kind: TimelineEvent["kind"], detail: Record<string, unknown>, pod = "p"): TimelineEvent => ({
    at,
    kind,
    source: "app",
    pod,
    process: "app",
    detail,
  });

  it("takes events in time order whatever the input order, and only the pod's app events", () => {
    const events = [
      ev(T + 300, "app-exit", { pid: 1, code: 0 }),
      ev(T + 100, "app-signal", { pid: 1, signal: "SIGTERM" }),
      ev(T, "app-start", { pid: 1 }),
      ev(T + 200, "app-drain-end", { pid: 1 }),
      ev(T + 150, "app-drain-start", { pid: 1 }),
      ev(T + 120, "app-signal", { pid: 1, signal: "SIGTERM" }, "other"),
      { at: T + 50, kind: "sigterm-sent", source: "kubelet", pod: "p", process: "pid1" } as TimelineEvent,
    ];
    expect(processReports(events, "p")).toEqual([
      {
        role: "app",
        pid: 1,
        signals: [{ name: "SIGTERM", at: T + 100 }],
        drainStart: T + 150,
        drainEnd: T + 200,
        exit: { code: 0, at: T + 300 },
      },
    ]);
  });

  it("a process restarted with the same role and pid (a container restart) gets its own report", () => {
    const events = [
      ev(T, "app-start", { pid: 1 }),
      ev(T + 100, "app-exit", { pid: 1, code: 1 }),
      ev(T + 1000, "app-start", { pid: 1 }),
      ev(T + 2000, "app-signal", { pid: 1, signal: "SIGTERM" }),
    ];
    expect(processReports(events, "p")).toEqual([
      { role: "app", pid: 1, signals: [], exit: { code: 1, at: T + 100 } },
      { role: "app", pid: 1, signals: [{ name: "SIGTERM", at: T + 2000 }] },
    ]);
  });
});

describe("process identity: lines from one container are one process unless they say otherwise", () => {
  // The lines of a small correct Node server, PID 1: its signal line names its pid, its exit line does not.
  const SERVER_LINES = [
    JSON.stringify({ t: T + 2400, event: "signal", signal: "SIGTERM", pid: 1 }),
    JSON.stringify({ t: T + 2850, event: "exit", code: 0 }),
  ];

  it("a line without pid belongs to the only identified process of its role (here PID 1)", () => {
    const events = SERVER_LINES.flatMap((l) => appEventsFromLine(l, "p"));
    expect(processReports(events, "p")).toEqual([
      { role: "app", pid: 1, signals: [{ name: "SIGTERM", at: T + 2400 }], exit: { code: 0, at: T + 2850 } },
    ]);
  });

  it("the same when the pid-less line comes first", () => {
    const events = [
      ...appEventsFromLine(JSON.stringify({ t: T, event: "start" }), "p"),
      ...SERVER_LINES.flatMap((l) => appEventsFromLine(l, "p")),
    ];
    expect(processReports(events, "p")).toEqual([
      { role: "app", pid: 1, signals: [{ name: "SIGTERM", at: T + 2400 }], exit: { code: 0, at: T + 2850 } },
    ]);
  });

  it.each([false, true])(
    "local and kind (prefixed: %s) both report one process, PID 1, that logged its exit",
    (prefixed) => {
      const one = [
        { role: "app", pid: 1, signals: [{ name: "SIGTERM", at: T + 2400 }], exit: { code: 0, at: T + 2850 } },
      ];
      expect(processReports(localPath(SERVER_LINES, "p"), "p")).toEqual(one);
      expect(kindPath(SERVER_LINES, "p", prefixed).processes).toEqual(one);
    },
  );

  it("with two identified processes of the role a pid-less line stays its own (it cannot be told whose)", () => {
    const events = [
      ...appEventsFromLine(JSON.stringify({ t: T, event: "signal", signal: "SIGTERM", pid: 1 }), "p"),
      ...appEventsFromLine(JSON.stringify({ t: T, event: "signal", signal: "SIGTERM", pid: 7 }), "p"),
      ...appEventsFromLine(JSON.stringify({ t: T + 5, event: "exit", code: 0 }), "p"),
    ];
    expect(processReports(events, "p").map((r) => r.pid)).toEqual([1, 7, 0]);
  });
});
