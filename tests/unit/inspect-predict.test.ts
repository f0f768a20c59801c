// Prediction and diagnosis wording for the process trees that matter: shell PID 1 with a child
// app, exec'd node catching TERM, node PID 1 without a handler, tini with a bash child, tini -g,
// a bash trap, an app without handler as PID 1 or under tini.
import { describe, expect, it } from "vitest";
import { execFormOf } from "../../src/inspect/causes.js";
import { diagnose, observe } from "../../src/inspect/diagnose.js";
import { branchWords, initForwarding, predict } from "../../src/inspect/predict.js";
import { FAILURE_KINDS, type FailureKind, type LoadResult } from "../../src/load/types.js";
import type { TimelineEvent } from "../../src/model/events.js";
import type { PodOutcome } from "../../src/model/pod-outcome.js";
import type { InspectedProcess } from "../../src/model/process-tree.js";
import { appEventsFromLine, processReports } from "../../src/observe/app-log.js";
import { buildTimeline } from "../../src/observe/timeline.js";

type Disp = "caught" | "ignored" | "blocked" | "default";

function proc(
  pid: number,
  ppid: number,
  command: string,
  term: Disp,
  extra: Partial<InspectedProcess> = {},
): InspectedProcess {
  const argv = command.split(" ");
  return {
    pid,
    ppid,
    argv,
    command,
    name: (argv[0] ?? "").split("/").pop() ?? "",
    sigterm: { disposition: term, caught: term === "caught", ignored: term === "ignored", blocked: term === "blocked" },
    masks: { caught: "", ignored: "", blocked: "" },
    waitsForSignals: false,
    listens: [],
    pgid: pid,
    ...extra,
  };
}

const TREES = {
  shellForm: [
    proc(1, 0, "/bin/sh -c node /app/server.js", "default"),
    proc(7, 1, "node /app/server.js", "caught", { listens: [8080] }),
  ],
  execForm: [proc(1, 0, "node /app/server.js", "caught", { listens: [8080] })],
  script: [
    proc(1, 0, "/bin/bash /app/entrypoint.sh", "default"),
    proc(6, 1, "node /app/server.js", "caught", { listens: [8080] }),
  ],
  tini: [
    proc(1, 0, "tini -- /app/entrypoint.sh", "default", { waitsForSignals: true, wchan: "do_sigtimedwait" }),
    proc(7, 1, "/bin/bash /app/entrypoint.sh", "default", { pgid: 7 }),
    proc(8, 7, "node /app/server.js", "caught", { listens: [8080], pgid: 7 }),
    proc(9, 7, "node /app/server.js", "caught", { listens: [8081], pgid: 7 }),
  ],
  tiniGroup: [
    proc(1, 0, "tini -g -- /app/entrypoint.sh", "default", { waitsForSignals: true }),
    proc(6, 1, "/bin/bash /app/entrypoint.sh", "default", { pgid: 6 }),
    proc(7, 6, "node /app/server.js", "caught", { listens: [8080], pgid: 6 }),
    proc(8, 6, "node /app/server.js", "caught", { listens: [8081], pgid: 6 }),
  ],
  trap: [
    proc(1, 0, "/bin/bash /app/entrypoint.sh", "caught"),
    proc(7, 1, "node /app/server.js", "caught", { listens: [8080] }),
    proc(8, 1, "node /app/server.js", "caught", { listens: [8081] }),
  ],
  pythonPid1: [proc(1, 0, "python3 app.py", "default", { listens: [8000] })],
  pythonUnderTini: [
    proc(1, 0, "tini -- python3 app.py", "default", { waitsForSignals: true }),
    proc(7, 1, "python3 app.py", "default", { listens: [8000] }),
  ],
  goUnderTini: [
    proc(1, 0, "/tini -- /server", "default", { waitsForSignals: true }),
    proc(6, 1, "/server", "caught", { listens: [8080] }),
  ],
  npm: [
    proc(1, 0, "npm start", "caught"),
    proc(18, 1, "sh -c node server.js", "default"),
    proc(19, 18, "node server.js", "caught", { listens: [3000] }),
  ],
  ignoring: [proc(1, 0, "/usr/bin/myapp", "ignored", { listens: [8080] })],
};

describe("prediction", () => {
  it("shell PID 1 with a child app: SIGTERM lost at PID 1, expect SIGKILL", () => {
    const p = predict(TREES.shellForm, { port: 8080 });
    expect(p.cause).toBe("shell-form-pid1");
    expect(p.branches).toEqual([{ outcome: "killed" }]);
    expect(p.summary).toBe(
      "PID 1 is /bin/sh -c node /app/server.js (SIGTERM default → ignored as PID 1); node /app/server.js (pid 7) " +
        "catches SIGTERM but is not PID 1 and nothing forwards the signal: expect SIGKILL at the end of the grace period.",
    );
    expect(p.apps).toEqual([{ pid: 7, command: "node /app/server.js" }]);
    expect(p.processLines[0]).toMatch(
      /pid 1 \(parent 0\) \/bin\/sh -c node \/app\/server\.js — SIGTERM: default → ignored as PID 1/,
    );
    expect(p.processLines[1]).toMatch(/listens on :8080/);
  });

  it("a script (bash) PID 1 without a trap: same outcome, another cause", () => {
    const p = predict(TREES.script, { port: 8080 });
    expect(p.cause).toBe("script-pid1");
    expect(p.branches).toEqual([{ outcome: "killed" }]);
  });

  it("exec'd node catching TERM: graceful if the app handles it in JavaScript — /proc cannot tell", () => {
    const p = predict(TREES.execForm, { port: 8080 });
    expect(p.cause).toBe("node-pid1");
    expect(p.branches.map((b) => b.outcome)).toEqual(["graceful", "killed"]);
    expect(p.summary).toMatch(
      /^PID 1 is node \/app\/server\.js \(SIGTERM caught\): it is the app itself \(listening on :8080\)/,
    );
    expect(p.summary).toMatch(/process\.on\('SIGTERM'\)/);
    expect(branchWords(p.branches)).toMatch(/^graceful \(if the app handles SIGTERM in JavaScript/);
  });

  it("an app without handler as PID 1 (not node): SIGTERM ignored by the kernel", () => {
    const p = predict(TREES.pythonPid1, { port: 8000 });
    expect(p.cause).toBe("app-pid1-default");
    expect(p.branches).toEqual([{ outcome: "killed" }]);
    expect(p.summary).toMatch(
      /installs no SIGTERM handler, and the kernel does not deliver default-action signals to PID 1/,
    );
  });

  it("an app ignoring SIGTERM", () => {
    expect(predict(TREES.ignoring, { port: 8080 }).cause).toBe("app-pid1-ignores");
  });

  it("tini with a bash child: tini receives (sigtimedwait), forwards to bash only, bash dies, the apps are killed", () => {
    const p = predict(TREES.tini, { port: 8080 });
    expect(p.cause).toBe("init-child-dies");
    expect(p.branches).toEqual([{ outcome: "abrupt" }]);
    expect(p.summary).toMatch(/^PID 1 is tini -- \/app\/entrypoint\.sh \(SIGTERM default, waits for signals\)/);
    expect(p.summary).toMatch(/forwards SIGTERM to its child only, \/bin\/bash \/app\/entrypoint\.sh \(pid 7\)/);
    expect(p.summary).toMatch(
      /SIGKILLs node \/app\/server\.js \(pid 8\), node \/app\/server\.js \(pid 9\) without a drain/,
    );
    expect(p.steps[1]).toMatch(/forwards SIGTERM to its child only/);
  });

  it("tini -g: the group gets SIGTERM, but the shell dies and takes the apps down", () => {
    expect(initForwarding(TREES.tiniGroup[0] as InspectedProcess)).toBe("group");
    const p = predict(TREES.tiniGroup, { port: 8080 });
    expect(p.cause).toBe("init-group-child-dies");
    expect(p.branches).toEqual([{ outcome: "abrupt" }]);
    expect(p.steps[1]).toMatch(/process group: \/bin\/bash .* \(pid 6\), node .* \(pid 7\), node .* \(pid 8\)/);
  });

  it("an app without handler under tini dies at once (abrupt); a handler (not node) makes it graceful", () => {
    expect(predict(TREES.pythonUnderTini, { port: 8000 })).toMatchObject({
      cause: "init-to-app-dies",
      branches: [{ outcome: "abrupt" }],
    });
    expect(predict(TREES.goUnderTini, { port: 8080 })).toMatchObject({
      cause: "init-to-app",
      branches: [{ outcome: "graceful" }],
    });
  });

  it("a bash trap as PID 1: depends on the trap", () => {
    const p = predict(TREES.trap, { port: 8080 });
    expect(p.cause).toBe("shell-trap-pid1");
    expect(p.branches.map((b) => b.outcome)).toEqual(["graceful", "abrupt"]);
    expect(p.branches[0]?.condition).toMatch(
      /forwards SIGTERM to node \/app\/server\.js \(pid 7\), node \/app\/server\.js \(pid 8\)/,
    );
  });

  it("another program as PID 1 that catches SIGTERM (npm): depends on whether it forwards", () => {
    const p = predict(TREES.npm, { port: 3000 });
    expect(p.cause).toBe("intermediary-pid1");
    expect(p.branches.map((b) => b.outcome)).toEqual(["graceful", "killed"]);
  });

  it("the apps are every listening process, the checked port first", () => {
    expect(predict(TREES.tini, { port: 8081 }).apps.map((a) => a.pid)).toEqual([9, 8]);
    expect(predict(TREES.tini, { port: 8081 }).appsFrom).toBe("listening on :8080, :8081");
  });

  it("without any process read there is no prediction", () => {
    expect(predict([]).cause).toBe("nothing-read");
  });
});

// ---- observation + diagnosis ----

const DELETE = 10_000;

function loadResult(failures: Array<{ at: number; kind: FailureKind }>): LoadResult {
  const failedByKind = Object.fromEntries(FAILURE_KINDS.map((k) => [k, 0])) as Record<FailureKind, number>;
  for (const f of failures) failedByKind[f.kind]++;
  return {
    target: "127.0.0.1:1",
    startedAt: 8000,
    endedAt: 20_000,
    sent: 10_000,
    succeeded: 10_000 - failures.length,
    failed: failures.length,
    failedByKind,
    inFlightAtEnd: 0,
    failures: failures.map((f) => ({ ...f, sentAt: f.at - 1, path: "/" })),
    successBuckets: [],
    latencies: [],
    servedBy: [],
    autocannon: { requests: 0, errors: 0, timeouts: 0, non2xx: 0, resets: 0 },
  };
}

interface RunShape {
  sigtermAfter: number;
  exitAfter: number;
  exitCode: number;
  sigkilled?: boolean;
  processes?: PodOutcome["processes"];
  failures?: Array<{ at: number; kind: FailureKind }>;
  endpointAfter?: number;
}

function run(shape: RunShape) {
  const exitAt = DELETE + shape.exitAfter;
  const pod: PodOutcome = {
    pod: "pod-a",
    pid1Cmdline: "x",
    deleteAt: DELETE,
    exitedAt: exitAt,
    goneAt: exitAt + 50,
    exitCode: shape.exitCode,
    sigkilled: shape.sigkilled ?? false,
    processes: shape.processes ?? [],
    notes: [],
  };
  const events: TimelineEvent[] = [
    { at: DELETE, kind: "delete-requested", source: "harness", pod: "pod-a" },
    { at: DELETE + (shape.endpointAfter ?? 1000), kind: "endpoint-removed", source: "proxy", pod: "pod-a" },
    { at: DELETE + shape.sigtermAfter, kind: "sigterm-sent", source: "kubelet", pod: "pod-a" },
    { at: exitAt, kind: "container-exit", source: "runtime", pod: "pod-a" },
  ];
  if (shape.sigkilled) events.push({ at: exitAt - 5, kind: "sigkill-sent", source: "kubelet", pod: "pod-a" });
  return { pod, load: loadResult(shape.failures ?? []), timeline: buildTimeline(events) };
}

const CTX = { graceSeconds: 8, preStopSeconds: 2, propagationMs: 1000 };

describe("observation", () => {
  it("from the app's log lines when it writes them", () => {
    const o = observe(
      run({
        sigtermAfter: 2000,
        exitAfter: 3200,
        exitCode: 0,
        processes: [
          {
            role: "app",
            pid: 1,
            signals: [{ name: "SIGTERM", at: DELETE + 2010 }],
            exit: { code: 0, at: DELETE + 3190 },
          },
        ],
      }),
    );
    expect(o.compatible).toEqual(["graceful"]);
    expect(o.sigterm).toMatchObject({ received: "yes", inferred: false });
    expect(o.sigterm.evidence).toBe("app log lines: app logged SIGTERM +2.01 s");
    expect(o.terminationMs).toBe(3200);
    expect(o.exitAfterSigtermMs).toBe(1200);
  });

  it("inferred from exit timing and code for an image that logs nothing", () => {
    const killed = observe(run({ sigtermAfter: 2000, exitAfter: 8010, exitCode: 137, sigkilled: true }));
    expect(killed.compatible).toEqual(["killed"]);
    expect(killed.sigterm).toMatchObject({ received: "no", inferred: true });
    expect(killed.sigterm.evidence).toMatch(/^inferred: still running .* SIGKILLed at the end of the grace period/);
    const quick = observe(run({ sigtermAfter: 0, exitAfter: 150, exitCode: 143 }));
    expect(quick.compatible).toEqual(["graceful", "abrupt"]);
    expect(quick.sigterm).toMatchObject({ received: "yes", inferred: true });
    expect(quick.sigterm.evidence).toMatch(/exited 143 0\.15 s after SIGTERM \(143 = 128 \+ 15/);
  });

  it("classifies failures by when they happened", () => {
    const o = observe(
      run({
        sigtermAfter: 0,
        exitAfter: 3000,
        exitCode: 0,
        endpointAfter: 1000,
        failures: [
          { at: DELETE - 500, kind: "non-2xx" },
          { at: DELETE + 400, kind: "reset" },
          { at: DELETE + 900, kind: "refused" },
          { at: DELETE + 2000, kind: "closed" },
        ],
      }),
    );
    expect(o.failureTiming).toEqual({
      beforeSigterm: 1,
      whileEndpointListed: 2,
      duringDrain: 1,
      atSigkill: 0,
      atExit: 0,
    });
  });
});

describe("diagnosis", () => {
  it("shell-form PID 1 SIGKILLed: mentions exec-form and the exec-form command", () => {
    const pred = predict(TREES.shellForm, { port: 8080 });
    const obs = observe(
      run({
        sigtermAfter: 2000,
        exitAfter: 8010,
        exitCode: 137,
        sigkilled: true,
        processes: [{ role: "app", pid: 7, signals: [] }],
        failures: [{ at: DELETE + 8006, kind: "closed" }],
      }),
    );
    const d = diagnose(pred, obs, CTX);
    expect(d.held).toBe(true);
    expect(d.heldWords).toBe("held: killed");
    expect(d.dropped).toBe(true);
    expect(d.problem).toMatch(/^PID 1 is \/bin\/sh -c node \/app\/server\.js, a shell-form CMD\/ENTRYPOINT/);
    expect(d.problem).toMatch(/does not catch SIGTERM: as PID 1 the kernel ignores it/);
    expect(d.problem).toMatch(/1 request in flight then was lost/);
    expect(d.fix).toBe(
      'use the exec form, e.g. CMD ["node", "/app/server.js"], so the app is PID 1 and receives SIGTERM itself ' +
        "(or prefix the command with exec: CMD exec node /app/server.js).",
    );
  });

  it("exec-form CMD from a shell command", () => {
    expect(execFormOf("node /app/server.js --port 8080")).toBe('CMD ["node", "/app/server.js", "--port", "8080"]');
    expect(execFormOf("exec npm start")).toBe('CMD ["npm", "start"]');
  });

  it("exec'd node that drained: the graceful branch held, nothing to fix", () => {
    const pred = predict(TREES.execForm, { port: 8080 });
    const obs = observe(
      run({
        sigtermAfter: 2000,
        exitAfter: 3210,
        exitCode: 0,
        processes: [
          {
            role: "app",
            pid: 1,
            signals: [{ name: "SIGTERM", at: DELETE + 2010 }],
            exit: { code: 0, at: DELETE + 3200 },
          },
        ],
      }),
    );
    const d = diagnose(pred, obs, CTX);
    expect(d).toMatchObject({ held: true, dropped: false, fix: undefined });
    expect(d.matchedBranch?.outcome).toBe("graceful");
    expect(d.heldWords).toMatch(/^held: graceful — the branch if the app handles SIGTERM in JavaScript/);
    expect(d.problem).toBe(
      "nothing: SIGTERM reached the app, it drained and exited 0 3.21 s after the delete; no request failed.",
    );
  });

  it("node PID 1 without a handler: the killed branch held, the fix is a SIGTERM handler", () => {
    const pred = predict(TREES.execForm, { port: 8080 });
    const obs = observe(run({ sigtermAfter: 2000, exitAfter: 8010, exitCode: 137, sigkilled: true }));
    const d = diagnose(pred, obs, CTX);
    expect(d.held).toBe(true);
    expect(d.matchedBranch?.outcome).toBe("killed");
    expect(d.problem).toMatch(
      /Node's built-in handler re-raises SIGTERM with its default action, which the kernel discards for PID 1/,
    );
    expect(d.fix).toMatch(
      /^handle SIGTERM in the app: stop accepting new connections, finish the requests in flight, then exit/,
    );
  });

  it("tini with a bash child: abrupt, the apps killed mid-request, fix names exec and a trap that waits", () => {
    const pred = predict(TREES.tini, { port: 8080 });
    const obs = observe(
      run({
        sigtermAfter: 2000,
        exitAfter: 2200,
        exitCode: 143,
        processes: [
          { role: "app-1", pid: 8, signals: [] },
          { role: "app-2", pid: 9, signals: [] },
        ],
        failures: [{ at: DELETE + 2195, kind: "closed" }],
      }),
    );
    expect(obs.compatible).toEqual(["abrupt"]);
    expect(obs.sigterm.received).toBe("no");
    const d = diagnose(pred, obs, CTX);
    expect(d.held).toBe(true);
    expect(d.problem).toMatch(
      /^tini \(PID 1: tini -- \/app\/entrypoint\.sh\) forwards SIGTERM only to its direct child, which has no trap/,
    );
    // One catalogue for check and audit: the cause is told in the present tense, the run's facts after it.
    expect(d.problem).toMatch(
      /the kernel kills your app, node \/app\/server\.js \(pid 8\), node \/app\/server\.js \(pid 9\), mid-request .*It exited 0\.20 s after SIGTERM \(exit 143\)\. 1 request failed/,
    );
    expect(d.fix).toMatch(/exec it from the script \(exec node …\)/);
  });

  it("a graceful app that still dropped new connections before the endpoint left: preStop advice", () => {
    const pred = predict(TREES.execForm, { port: 8080 });
    const obs = observe(
      run({
        sigtermAfter: 0,
        exitAfter: 1200,
        exitCode: 0,
        processes: [
          { role: "app", pid: 1, signals: [{ name: "SIGTERM", at: DELETE + 5 }], exit: { code: 0, at: DELETE + 1190 } },
        ],
        failures: [
          { at: DELETE + 300, kind: "closed" },
          { at: DELETE + 600, kind: "closed" },
        ],
      }),
    );
    const d = diagnose(pred, obs, { ...CTX, preStopSeconds: 0 });
    expect(d.held).toBe(true);
    expect(d.dropped).toBe(true);
    expect(d.problem).toMatch(/2 requests failed between SIGTERM and the endpoint leaving the Service/);
    expect(d.fix).toMatch(/preStop sleep longer than your cluster's endpoint propagation/);
  });

  it("a prediction that did not hold says both sides", () => {
    const pred = predict(TREES.shellForm, { port: 8080 });
    const obs = observe(
      run({
        sigtermAfter: 2000,
        exitAfter: 3000,
        exitCode: 0,
        processes: [
          {
            role: "app",
            pid: 7,
            signals: [{ name: "SIGTERM", at: DELETE + 2001 }],
            exit: { code: 0, at: DELETE + 2990 },
          },
        ],
      }),
    );
    const d = diagnose(pred, obs, CTX);
    expect(d.held).toBe(false);
    expect(d.heldWords).toMatch(/^did not hold: predicted killed, observed graceful/);
  });
});

describe("predict: servers with their own graceful signal", () => {
  // Debian's nginx as PID 1: the master catches TERM (fast shutdown) and QUIT (graceful).
  const nginx = [
    proc(1, 0, "nginx: master process nginx -g daemon off;", "caught", { listens: [8080], name: "nginx" }),
    proc(7, 1, "nginx: worker process", "caught", { listens: [8080], name: "nginx" }),
  ];

  it("names the server's graceful signal and says SIGTERM (no STOPSIGNAL) is not it", () => {
    const p = predict(nginx, { port: 8080, stopSignal: { signal: "SIGTERM", from: "default" } });
    expect(p.server).toEqual({
      server: "nginx",
      graceful: "SIGQUIT",
      stopSignal: "SIGTERM",
      stopsGracefully: false,
      what: "a fast shutdown: the workers exit at once and open connections are closed mid-request",
    });
    expect(p.summary).toContain("is nginx: it is stopped with SIGTERM (default)");
    expect(p.summary).toContain("its graceful shutdown is SIGQUIT (STOPSIGNAL SIGQUIT in the image)");
  });

  it("says so when the image's STOPSIGNAL is the graceful one", () => {
    const p = predict(nginx, { port: 8080, stopSignal: { signal: "QUIT", from: "image" } });
    expect(p.server).toMatchObject({ stopSignal: "SIGQUIT", stopsGracefully: true });
    expect(p.summary).toContain("is nginx and is stopped with SIGQUIT (image), its graceful shutdown");
  });

  it("without a known stop signal, names the graceful one and the runtimes' default", () => {
    const p = predict(nginx, { port: 8080 });
    expect(p.server).toEqual({ server: "nginx", graceful: "SIGQUIT" });
    expect(p.summary).toContain("a runtime sends the image's STOPSIGNAL, SIGTERM when it sets none");
  });

  it("an app that is no known server gets no server words", () => {
    expect(predict(TREES.execForm, { port: 8080 }).server).toBeUndefined();
  });
});

describe("process identity (issue 17 item 6): a correct Node server as PID 1 whose exit line names no pid", () => {
  const events: TimelineEvent[] = [
    { at: DELETE, kind: "delete-requested", source: "harness", pod: "pod-a" },
    { at: DELETE + 2400, kind: "sigterm-sent", source: "kubelet", pod: "pod-a" },
    ...appEventsFromLine(JSON.stringify({ event: "signal", signal: "SIGTERM", pid: 1 }), "pod-a", DELETE + 2400),
    ...appEventsFromLine(JSON.stringify({ event: "exit", code: 0 }), "pod-a", DELETE + 2840),
    { at: DELETE + 2850, kind: "container-exit", source: "runtime", pod: "pod-a" },
  ];
  const pod: PodOutcome = {
    pod: "pod-a",
    pid1Cmdline: "node /srv/server.mjs",
    deleteAt: DELETE,
    exitedAt: DELETE + 2850,
    goneAt: DELETE + 2900,
    exitCode: 0,
    sigkilled: false,
    processes: processReports(events, "pod-a"),
    notes: [],
  };
  const tree = [proc(1, 0, "node /srv/server.mjs", "caught", { listens: [8080] })];

  it("SIGTERM received: yes; graceful; the diagnosis does not say PID 1 left the app running", () => {
    const obs = observe({ pod, load: loadResult([]), timeline: buildTimeline(events) });
    expect(obs.sigterm.received).toBe("yes");
    expect(obs.sigterm.evidence).toBe("app log lines: app logged SIGTERM +2.40 s");
    expect(obs.outcomeWords).not.toMatch(/never logged an exit|killed when PID 1 exited/);
    expect(obs.compatible).toEqual(["graceful"]);
    const d = diagnose(predict(tree, { port: 8080 }), obs, CTX);
    expect(d.problem).not.toMatch(/while your app.*was still running/);
    expect(d.problem).toMatch(/^nothing: SIGTERM reached the app/);
    expect(d.held).toBe(true);
  });

  it("an abrupt diagnosis never says PID 1 left running an app that is PID 1", () => {
    const obs = observe(
      run({
        sigtermAfter: 2000,
        exitAfter: 2450,
        exitCode: 0,
        processes: [
          { role: "app", pid: 1, signals: [{ name: "SIGTERM", at: DELETE + 2000 }] },
          { role: "worker", pid: 0, signals: [] },
        ],
      }),
    );
    expect(obs.compatible).toEqual(["abrupt"]);
    const d = diagnose(predict(tree, { port: 8080 }), obs, CTX);
    expect(d.problem).not.toMatch(/while your app, node \/srv\/server\.mjs \(pid 1\), was still running/);
  });
});
