// The sample app (images/app/server.js) run directly with node as a child process: no Docker.
// It is not PID 1 here, so a signal without a handler takes its default action (death).
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import http from "node:http";
import net from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { packageRoot } from "../../src/util/paths.js";

const SERVER = join(packageRoot(), "images", "app", "server.js");

interface AppLine {
  t: number;
  event: string;
  pid: number;
  ppid: number;
  role: string;
  [key: string]: unknown;
}

interface RunningApp {
  child: ChildProcess;
  port: number;
  lines: AppLine[];
  /** Resolves with the first line (already logged or future) matching the predicate. */
  waitFor(event: string, timeoutMs?: number): Promise<AppLine>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

const running: ChildProcess[] = [];

afterEach(() => {
  for (const child of running.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
});

async function startApp(env: Record<string, string> = {}): Promise<RunningApp> {
  const child = spawn(process.execPath, [SERVER], {
    env: { PATH: process.env.PATH ?? "", HOSTNAME: "unit-test", PORT: "0", HOST: "127.0.0.1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.push(child);
  const lines: AppLine[] = [];
  const waiters: Array<{ event: string; resolve: (l: AppLine) => void }> = [];
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on("exit", (code, signal) => resolve({ code, signal }));
  });
  const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  rl.on("line", (text) => {
    const line = JSON.parse(text) as AppLine; // every stdout line must be JSON: a parse error fails the test
    lines.push(line);
    for (const w of waiters.splice(0)) {
      if (w.event === line.event) w.resolve(line);
      else waiters.push(w);
    }
  });
  const waitFor = (event: string, timeoutMs = 5000) =>
    new Promise<AppLine>((resolve, reject) => {
      const seen = lines.find((l) => l.event === event);
      if (seen) return resolve(seen);
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `no "${event}" line within ${timeoutMs} ms; got: ${lines.map((l) => l.event).join(", ")}; stderr: ${stderr}`,
            ),
          ),
        timeoutMs,
      );
      waiters.push({
        event,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
    });
  const listening = await waitFor("listening");
  return { child, port: Number(listening.port), lines, waitFor, exited, stderr: () => stderr };
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  localPort: number;
}

function get(port: number, path: string, agent: http.Agent | false, timeoutMs = 5000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path, agent, timeout: timeoutMs }, (res) => {
      const localPort = res.socket.localPort ?? -1;
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        body += d;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, localPort }));
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on("error", reject);
  });
}

/** "connected" or the connect error's code (ECONNREFUSED...). */
function tryConnect(port: number, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve("timeout");
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.destroy();
      resolve("connected");
    });
    socket.once("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(err.code ?? err.message);
    });
  });
}

const withTimeout = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([
    p,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms)),
  ]);

describe("sample app (images/app/server.js)", () => {
  it("logs start/listening/signal/drain/exit as JSON lines and exits 0 on SIGTERM", async () => {
    const app = await startApp({ APP_ROLE: "app-x" });
    const start = await app.waitFor("start");
    expect(start).toMatchObject({ role: "app-x", pid: app.child.pid, ppid: process.pid, sigtermHandler: true });
    expect(start.node).toBe(process.version);
    expect(typeof start.t).toBe("number");

    const root = await get(app.port, "/", false);
    expect(root.status).toBe(200);
    expect(root.headers["x-served-by"]).toBe("unit-test/app-x");
    const healthy = await get(app.port, "/healthz", false);
    expect(healthy.status).toBe(200);

    app.child.kill("SIGTERM");
    const exit = await withTimeout(app.exited, 5000, "exit after SIGTERM");
    expect(exit).toEqual({ code: 0, signal: null });

    const events = app.lines.map((l) => l.event);
    expect(events).toEqual(["start", "listening", "signal", "drain-start", "listener-closed", "drain-end", "exit"]);
    expect(app.lines.find((l) => l.event === "signal")).toMatchObject({ signal: "SIGTERM" });
    expect(app.lines.find((l) => l.event === "drain-end")).toMatchObject({ reason: "idle", openConnections: 0 });
    expect(app.lines.find((l) => l.event === "exit")).toMatchObject({ code: 0 });
    for (const line of app.lines) expect(line).toMatchObject({ pid: app.child.pid, role: "app-x" });
  });

  it("answers a keep-alive connection opened before SIGTERM with Connection: close and refuses new connections", async () => {
    const app = await startApp({ IDLE_CLOSE_MS: "5000" });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = await get(app.port, "/", agent);
      expect(before.status).toBe(200);
      expect(before.headers.connection).toBe("keep-alive");

      app.child.kill("SIGTERM");
      await app.waitFor("listener-closed");
      expect(await tryConnect(app.port)).toBe("ECONNREFUSED");

      // The pinned connection still works: same socket, answered, told to go away.
      const health = await get(app.port, "/healthz", agent);
      expect(health.localPort).toBe(before.localPort);
      expect(health.status).toBe(503);
      expect(health.headers.connection).toBe("close");

      const exit = await withTimeout(app.exited, 5000, "exit after the last connection closed");
      expect(exit).toEqual({ code: 0, signal: null });
      expect(app.lines.find((l) => l.event === "drain-start")).toMatchObject({ openConnections: 1, inFlight: 0 });
      expect(app.lines.find((l) => l.event === "drain-end")).toMatchObject({ reason: "idle" });
    } finally {
      agent.destroy();
    }
  });

  it("finishes a request in flight at SIGTERM before exiting", async () => {
    const app = await startApp();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      await get(app.port, "/", agent); // the connection exists before the slow request
      const slow = get(app.port, "/slow?ms=1500", agent);
      // Give the request time to reach the server; drain-start's inFlight proves it did.
      await new Promise((r) => setTimeout(r, 300));
      app.child.kill("SIGTERM");
      const drain = await app.waitFor("drain-start");
      expect(drain).toMatchObject({ openConnections: 1, inFlight: 1 });
      const answer = await slow;
      expect(answer.status).toBe(200);
      expect(answer.body).toBe("slept 1500ms\n");
      expect(answer.headers.connection).toBe("close");
      const exit = await withTimeout(app.exited, 5000, "exit after the slow request");
      expect(exit).toEqual({ code: 0, signal: null });
      const end = app.lines.find((l) => l.event === "drain-end");
      expect(end).toMatchObject({ reason: "idle" });
      expect((end?.t ?? 0) - drain.t).toBeGreaterThanOrEqual(1000);
    } finally {
      agent.destroy();
    }
  });

  it("does not close an idle keep-alive connection at SIGTERM, only after IDLE_CLOSE_MS of idleness", async () => {
    const app = await startApp({ IDLE_CLOSE_MS: "700" });
    const socket = net.connect({ host: "127.0.0.1", port: app.port });
    await once(socket, "connect");
    socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    await once(socket, "data");
    const closed = new Promise<number>((resolve) => socket.on("close", () => resolve(Date.now())));
    socket.on("error", () => {});
    socket.resume();

    app.child.kill("SIGTERM");
    const drain = await app.waitFor("drain-start");
    expect(drain).toMatchObject({ openConnections: 1 });
    const closedAt = await withTimeout(closed, 5000, "server closing the idle connection");
    // Closed by the server, and not before the idle threshold (small margin for clock granularity).
    expect(closedAt - drain.t).toBeGreaterThanOrEqual(650);
    const exit = await withTimeout(app.exited, 5000, "exit");
    expect(exit).toEqual({ code: 0, signal: null });
  });

  it("keeps accepting new connections for LISTENER_CLOSE_DELAY_MS after SIGTERM, /healthz saying 503", async () => {
    const app = await startApp({ LISTENER_CLOSE_DELAY_MS: "800" });
    app.child.kill("SIGTERM");
    const signal = await app.waitFor("signal");
    expect(signal).toMatchObject({ signal: "SIGTERM" });

    // New connections during the delay: served (keep-alive still offered), health is 503.
    const during = await get(app.port, "/", false);
    expect(during.status).toBe(200);
    const health = await get(app.port, "/healthz", false);
    expect(health.status).toBe(503);
    expect(app.lines.some((l) => l.event === "listener-closed")).toBe(false);

    const closed = await app.waitFor("listener-closed", 3000);
    expect(closed.t - signal.t).toBeGreaterThanOrEqual(780);
    expect(await tryConnect(app.port)).toBe("ECONNREFUSED");
    const exit = await withTimeout(app.exited, 5000, "exit");
    expect(exit).toEqual({ code: 0, signal: null });
  });

  it("exits 0 with drain-end reason timeout when a connection outlives DRAIN_TIMEOUT_MS", async () => {
    const app = await startApp({ IDLE_CLOSE_MS: "10000", DRAIN_TIMEOUT_MS: "500" });
    const agent = new http.Agent({ keepAlive: true });
    try {
      await get(app.port, "/", agent);
      app.child.kill("SIGTERM");
      const exit = await withTimeout(app.exited, 5000, "exit after the drain timeout");
      expect(exit).toEqual({ code: 0, signal: null });
      const end = app.lines.find((l) => l.event === "drain-end");
      expect(end).toMatchObject({ reason: "timeout", openConnections: 1 });
      expect(app.lines.at(-1)).toMatchObject({ event: "exit", code: 0 });
    } finally {
      agent.destroy();
    }
  });

  it("treats SIGINT like SIGTERM and only logs other signals", async () => {
    const app = await startApp();
    app.child.kill("SIGUSR2");
    const usr2 = await app.waitFor("signal");
    expect(usr2).toMatchObject({ signal: "SIGUSR2" });
    expect((await get(app.port, "/healthz", false)).status).toBe(200);

    app.child.kill("SIGINT");
    const exit = await withTimeout(app.exited, 5000, "exit after SIGINT");
    expect(exit).toEqual({ code: 0, signal: null });
    const signals = app.lines.filter((l) => l.event === "signal").map((l) => l.signal);
    expect(signals).toEqual(["SIGUSR2", "SIGINT"]);
    expect(app.lines.some((l) => l.event === "drain-start")).toBe(true);
  });

  it("SIGTERM_HANDLER=off installs no handler: the process dies of SIGTERM without draining", async () => {
    const app = await startApp({ SIGTERM_HANDLER: "off" });
    expect(await app.waitFor("start")).toMatchObject({ sigtermHandler: false });
    expect((await get(app.port, "/", false)).status).toBe(200);
    app.child.kill("SIGTERM");
    const exit = await withTimeout(app.exited, 5000, "death by SIGTERM");
    expect(exit).toEqual({ code: null, signal: "SIGTERM" });
    expect(app.lines.map((l) => l.event)).toEqual(["start", "listening"]);
  });

  it("answers /slow after the requested time and 404 for unknown paths", async () => {
    const app = await startApp();
    const t0 = Date.now();
    const slow = await get(app.port, "/slow?ms=300", false);
    expect(slow.status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect((await get(app.port, "/nope", false)).status).toBe(404);
  });
});
