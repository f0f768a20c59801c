// Real servers with their own signal semantics (nginx, Apache httpd, gunicorn, uvicorn, Go net/http),
// each deleted under load with and without a preStop sleep, on the local runtime. The servers write
// no JSON lifecycle lines: what they did is read from the stop signal the harness sent, the exit
// code, when the container exited relative to that signal, and which requests failed (in flight at
// the signal, or sent after it). Every assertion states behaviour measured on this backend; the
// README's "Servers, measured" table comes from the same fixtures (fixtures/scenarios/servers).
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { ensureStyleImages } from "../../../src/images/build.js";
import type { ScenarioResult } from "../../../src/runner/run.js";
import { LABEL_RUN } from "../../../src/util/labels.js";
import { at, entries, failures, runFixture, runInline } from "./helpers.js";

interface Case {
  server: string;
  /** The stop signal the harness sent, and where it came from (the image's STOPSIGNAL or the default). */
  signal: string;
  from: "image" | "default";
  exitCode: number;
  /** The server closes connections with requests in flight at the signal (fast shutdown). */
  killsInFlight: boolean;
  /**
   * With the preStop sleep, requests still fail: always; never; or "race": a keep-alive connection the
   * server closes at the signal loses the request the client sent on it at that instant, or not
   * (measured both ways on the same fixture).
   */
  dropsWithPreStop: "always" | "never" | "race";
  /** Signal → container exit, at most (ms). */
  exitWithinMs: number;
}

const CASES: Case[] = [
  {
    server: "nginx",
    signal: "SIGTERM",
    from: "default",
    exitCode: 0,
    killsInFlight: true,
    dropsWithPreStop: "always",
    exitWithinMs: 1000,
  },
  {
    server: "nginx-quit",
    signal: "SIGQUIT",
    from: "image",
    exitCode: 0,
    killsInFlight: false,
    dropsWithPreStop: "race",
    exitWithinMs: 2000,
  },
  {
    server: "apache2",
    signal: "SIGTERM",
    from: "default",
    exitCode: 0,
    killsInFlight: true,
    dropsWithPreStop: "always",
    exitWithinMs: 1500,
  },
  {
    server: "apache2-winch",
    signal: "SIGWINCH",
    from: "image",
    exitCode: 0,
    killsInFlight: false,
    dropsWithPreStop: "race",
    exitWithinMs: 3000,
  },
  {
    server: "gunicorn",
    signal: "SIGTERM",
    from: "default",
    exitCode: 0,
    killsInFlight: false,
    dropsWithPreStop: "always",
    exitWithinMs: 3000,
  },
  {
    server: "uvicorn",
    signal: "SIGTERM",
    from: "default",
    exitCode: 0,
    killsInFlight: false,
    dropsWithPreStop: "always",
    exitWithinMs: 2000,
  },
  {
    server: "go",
    signal: "SIGTERM",
    from: "default",
    exitCode: 2,
    killsInFlight: true,
    dropsWithPreStop: "always",
    exitWithinMs: 1000,
  },
  {
    server: "go-graceful",
    signal: "SIGTERM",
    from: "default",
    exitCode: 0,
    killsInFlight: false,
    // Server.Shutdown closes idle keep-alive connections at once: nginx-quit's race, rarer under the
    // paced load (0 in most runs; 1 "closed" of 720 in one clean CI run, sent after the signal).
    dropsWithPreStop: "race",
    exitWithinMs: 2000,
  },
];

/** The run completed, its own verdicts hold, every request is accounted for, the victim carried traffic. */
function expectMeasured(r: ScenarioResult, c: Pick<Case, "signal" | "exitCode" | "exitWithinMs">, from: string) {
  expect(r.error, r.error).toBeUndefined();
  expect(r.verdicts.filter((v) => !v.pass)).toEqual([]);
  expect(r.status).toBe("pass");
  const load = r.load!;
  expect(load.sent).toBe(load.succeeded + load.failed + load.inFlightAtEnd);
  expect(r.pods).toHaveLength(1);
  const pod = r.pods[0]!;
  expect(pod.exercise?.status).toBe("exercised");
  // The stop signal: which one, and from where (the timeline event keeps the name sigterm-sent).
  const sent = entries(r, "sigterm-sent");
  expect(sent).toHaveLength(1);
  expect(sent[0]!.detail).toMatchObject({ signal: c.signal, from });
  const signalAt = sent[0]!.t;
  // The event is placed when the runtime's kill call started; the signal was delivered before it returned.
  const deliveredBy = signalAt + Number(sent[0]!.detail?.deliveredWithinMs ?? 0);
  // Exit on its own, soon after the signal: never SIGKILLed at the end of the 8 s grace period.
  expect(pod.sigkilled).toBe(false);
  expect(pod.exitCode).toBe(c.exitCode);
  const exitAt = at(r, "container-exit")!;
  expect(exitAt - signalAt).toBeGreaterThanOrEqual(0);
  expect(exitAt - signalAt).toBeLessThan(c.exitWithinMs);
  // The servers log no JSON lifecycle lines.
  expect(pod.processes).toEqual([]);
  return { signalAt, deliveredBy, lost: failures(r) };
}

/**
 * Failed requests sent before the signal was surely delivered (deliveredBy): in flight when it
 * arrived. Any path: the load's connections run in step (each sends 4 × / then 1 × /slow), so at
 * times (1 run in 5 seen) the signal meets only / requests in flight, no /slow.
 */
function lostInFlight(r: ScenarioResult, deliveredBy: number) {
  const origin = r.timeline?.origin ?? 0;
  return (r.load?.failures ?? []).filter((f) => f.sentAt - origin < deliveredBy);
}

/**
 * Failed /slow requests sent more than 50 ms before the kill call started: certainly in flight at the
 * signal (each takes 300 ms), and not a new connection opened just before it that met the closed
 * listener. A graceful server loses none.
 */
function lostSlowInFlight(r: ScenarioResult, signalAt: number) {
  const origin = r.timeline?.origin ?? 0;
  return (r.load?.failures ?? []).filter((f) => f.path?.startsWith("/slow") && f.sentAt - origin < signalAt - 50);
}

/**
 * Failed requests sent at the signal or after it (50 ms of slack: a request that left the client just
 * before the signal can reach a connection the server closes at it).
 */
function sentAtOrAfterSignal(r: ScenarioResult, signalAt: number) {
  const origin = r.timeline?.origin ?? 0;
  return (r.load?.failures ?? []).filter((f) => f.sentAt - origin >= signalAt - 50);
}

describe.each(CASES)("$server", (c) => {
  it("with a preStop sleep longer than the endpoint propagation", async () => {
    const r = await runFixture(`servers/${c.server}-prestop-sleep`);
    const { signalAt, deliveredBy, lost } = expectMeasured(r, c, c.from);
    // The stop signal comes after the 2 s hook, and after the endpoint left the Service.
    expect(signalAt).toBeGreaterThanOrEqual(1950);
    expect(at(r, "endpoint-removed")!).toBeLessThan(signalAt);
    if (c.dropsWithPreStop === "never") {
      expect(r.load!.failed).toBe(0);
      return;
    }
    if (c.dropsWithPreStop === "always") expect(lost.length).toBeGreaterThan(0);
    // Nothing failed before the signal: every loss is the server's shutdown, not the Service.
    for (const f of lost) {
      expect(f.t).toBeGreaterThanOrEqual(signalAt - 5);
      expect(f.t).toBeLessThan(signalAt + c.exitWithinMs);
    }
    if (c.killsInFlight) {
      // Fast shutdown: the requests in flight at the signal are cut off.
      expect(lostInFlight(r, deliveredBy).length).toBeGreaterThan(0);
    } else {
      // Graceful: every request in flight is answered; what fails is a request the client sent after
      // the signal on a keep-alive connection the server closed.
      expect(lostSlowInFlight(r, signalAt)).toEqual([]);
      expect(sentAtOrAfterSignal(r, signalAt)).toHaveLength(lost.length);
    }
  });

  it("without preStop: new connections during the endpoint propagation fail as well", async () => {
    const r = await runFixture(`servers/${c.server}-no-prestop`);
    const { signalAt, deliveredBy, lost } = expectMeasured(r, c, c.from);
    expect(signalAt).toBeLessThan(100);
    expect(lost.length).toBeGreaterThan(0);
    const removed = at(r, "endpoint-removed")!;
    // New connections routed to the pod after its listener closed, until the endpoint left the Service.
    const refused = lost.filter((f) => f.kind === "reset" || f.kind === "refused");
    expect(refused.length).toBeGreaterThan(0);
    for (const f of refused) expect(f.t).toBeLessThan(removed + 300);
    for (const f of lost) expect(f.t).toBeGreaterThanOrEqual(signalAt - 5);
    if (c.killsInFlight) expect(lostInFlight(r, deliveredBy).length).toBeGreaterThan(0);
    else expect(lostSlowInFlight(r, signalAt)).toEqual([]);
  });
});

describe("stopSignal in the scenario overrides the image's STOPSIGNAL", () => {
  it("nginx (no STOPSIGNAL) with stopSignal SIGQUIT drains like nginx-quit: the requests in flight are answered", async () => {
    const r = await runInline(`
name: nginx-stopsignal-quit
image: { style: nginx }
stopSignal: SIGQUIT
replicas: 2
preStop: { type: sleep, seconds: 2 }
terminationGracePeriodSeconds: 8
load: { connections: 8, durationSeconds: 6, path: /, keepAlive: true, slowShare: 0.2, slowMs: 300 }
disruption: { action: delete, count: 1, atSeconds: 2 }
expectations: { exit: graceful }
`);
    const { signalAt } = expectMeasured(r, { signal: "SIGQUIT", exitCode: 0, exitWithinMs: 2000 }, "scenario");
    // As nginx-quit: no request in flight at the signal is lost (only, at times, one sent on a
    // keep-alive connection at the instant nginx closes it).
    expect(lostSlowInFlight(r, signalAt)).toEqual([]);
    expect(sentAtOrAfterSignal(r, signalAt)).toHaveLength(r.load!.failed);
  });
});

describe("Docker's own stop honours the image's STOPSIGNAL", () => {
  const run = `servers-stopsignal-${process.pid}`;
  const docker = (args: string[], input?: string) =>
    execa("docker", args, { reject: false, ...(input !== undefined ? { input } : { stdin: "ignore" }) });

  /** docker run -d, docker stop, then the container's logs and exit code. */
  async function stopAndRead(image: string, name: string): Promise<{ logs: string; exitCode: string }> {
    try {
      const started = await docker(["run", "-d", "--name", name, "--label", `${LABEL_RUN}=${run}`, image]);
      expect(started.exitCode, String(started.stderr)).toBe(0);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const stopped = await docker(["stop", "--time", "5", name]);
      expect(stopped.exitCode, String(stopped.stderr)).toBe(0);
      const logs = await docker(["logs", name]);
      const code = await docker(["inspect", "--format", "{{.State.ExitCode}}", name]);
      return { logs: `${logs.stdout}\n${logs.stderr}`, exitCode: String(code.stdout).trim() };
    } finally {
      await docker(["rm", "-f", name]);
    }
  }

  it("nginx-quit: docker stop sends SIGQUIT (nginx logs it) and nginx exits 0", async () => {
    const [image] = await ensureStyleImages(["nginx-quit"]);
    const inspected = await docker(["image", "inspect", "--format", "{{.Config.StopSignal}}", image!.ref]);
    expect(String(inspected.stdout).trim()).toBe("SIGQUIT");
    const { logs, exitCode } = await stopAndRead(image!.ref, `ge-${run}-nginx-quit`);
    expect(logs).toMatch(/signal 3 \(SIGQUIT\) received/);
    expect(logs).not.toMatch(/signal 15 \(SIGTERM\)/);
    expect(exitCode).toBe("0");
  });

  it("a signal-logging app with STOPSIGNAL SIGHUP: docker stop sends SIGHUP", async () => {
    const [app] = await ensureStyleImages(["exec-form"]);
    const tag = `graceful-e2e/stopsignal-probe:${process.pid}`;
    const built = await docker(["build", "-q", "-t", tag, "-"], `FROM ${app!.ref}\nSTOPSIGNAL SIGHUP\n`);
    expect(built.exitCode, String(built.stderr)).toBe(0);
    try {
      const { logs, exitCode } = await stopAndRead(tag, `ge-${run}-probe`);
      const signals = logs
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as { event: string; signal?: string })
        .filter((e) => e.event === "signal")
        .map((e) => e.signal);
      expect(signals).toEqual(["SIGHUP"]);
      expect(exitCode).toBe("0");
    } finally {
      await docker(["rmi", "-f", tag]);
    }
  });
});
