// The load generator against real local servers (127.0.0.1, port 0) that misbehave in controlled
// ways. Every test asserts exact counts. Load runs are bounded: each waits for a server-side count
// with a deadline, then stops.
//
// "Freeze": to compare our counts with the server's exactly, the server stops answering (holds
// every new request) and we wait until each connection has one held request; then nothing is in
// transit, so succeeded = answered exactly and inFlightAtEnd = held.
import http from "node:http";
import net from "node:net";
import autocannon from "autocannon";
import { afterEach, describe, expect, it, vi } from "vitest";
import { resultProblems } from "../../src/load/accounting.js";
import { startLoad } from "../../src/load/generator.js";
import type { LoadHooks, LoadRun, LoadRunResult } from "../../src/load/types.js";
import { type LoadOptions, LoadSpec } from "../../src/scenario/schema.js";

const HOST = "127.0.0.1";
const POD = "pod-a/app";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

async function waitFor(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function loadOptions(o: Partial<LoadOptions> = {}): LoadOptions {
  // The fresh-connection stream is off unless a test asks for it: exact per-connection counts below.
  // Closed loop (rate max) unless a test asks for pacing: these tests are about the instrumentation
  // (one request per connection attempt, counts against the server's); the pacing has its own file.
  return LoadSpec.parse({
    rate: "max",
    connections: 2,
    durationSeconds: 0,
    requestTimeoutSeconds: 5,
    freshConnectionIntervalMs: 0,
    ...o,
  });
}

function load(port: number, o: Partial<LoadOptions> = {}, hooks?: LoadHooks): LoadRun {
  const run = startLoad({ host: HOST, port }, loadOptions(o), hooks);
  cleanups.push(async () => {
    await run.stop().catch(() => {});
  });
  return run;
}

/** The checks every result must pass, whatever the server did. */
function expectSound(r: LoadRunResult) {
  expect(resultProblems(r)).toEqual([]);
  expect(r.sent).toBe(r.succeeded + r.failed + r.inFlightAtEnd);
  expect(r.anomalies).toEqual([]);
  expect(r.endReason).toBe("stopped");
}

interface HttpServerOptions {
  /** Status for the n-th request (1-based); 200 by default. */
  status?: (n: number) => number;
  /** Answer every response with Connection: close. */
  connectionClose?: boolean;
}

/** A Node http server counting what it received and answered; freeze() makes it hold new requests. */
async function httpServer(o: HttpServerOptions = {}) {
  const stats = {
    received: 0,
    answered: 0,
    answeredNon2xx: 0,
    held: 0,
    connections: 0,
    /** Most requests seen on one connection. */
    maxPerConnection: 0,
    /** Requests whose Connection header was not exactly "close". */
    notConnectionClose: 0,
    slow: 0,
    fast: 0,
    frozen: false,
  };
  const perSocket = new WeakMap<net.Socket, number>();
  const server = http.createServer((req, res) => {
    const n = ++stats.received;
    const onSocket = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, onSocket);
    stats.maxPerConnection = Math.max(stats.maxPerConnection, onSocket);
    if (req.headers.connection !== "close") stats.notConnectionClose++;
    const slow = req.url?.startsWith("/slow?ms=") ?? false;
    if (slow) stats.slow++;
    else stats.fast++;
    if (stats.frozen) {
      stats.held++;
      return;
    }
    const answer = () => {
      const status = o.status?.(n) ?? 200;
      res.statusCode = status;
      res.setHeader("x-served-by", POD);
      if (o.connectionClose) res.setHeader("Connection", "close");
      res.end("ok");
      stats.answered++;
      if (status < 200 || status > 299) stats.answeredNon2xx++;
    };
    if (slow) setTimeout(answer, Number(req.url?.slice("/slow?ms=".length)));
    else answer();
  });
  server.on("connection", () => {
    stats.connections++;
  });
  await new Promise<void>((r) => server.listen(0, HOST, () => r()));
  const port = (server.address() as net.AddressInfo).port;
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { port, stats };
}

type RawAction = "answer" | "reset" | "fin" | "hold" | "partial-then-fin" | "close-delimited";

interface RawServerOptions {
  /** After a connection served a response and then sat idle this long: send a 408 nobody asked for, then FIN. */
  idle408Ms?: number;
}

/** A raw TCP server speaking just enough HTTP/1.1; decide(n) picks what happens to the n-th request. */
async function rawServer(decide: (n: number) => RawAction, o: RawServerOptions = {}) {
  const stats = { received: 0, answered: 0, held: 0, connections: 0, frozen: false, unsolicited: 0 };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    stats.connections++;
    sockets.add(sock);
    sock.on("close", () => sockets.delete(sock));
    sock.on("error", () => {});
    let buf = "";
    let idle: NodeJS.Timeout | undefined;
    sock.on("close", () => clearTimeout(idle));
    const armIdle = () => {
      if (o.idle408Ms === undefined) return;
      idle = setTimeout(() => {
        stats.unsolicited++;
        sock.end("HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      }, o.idle408Ms);
    };
    sock.on("data", (d) => {
      clearTimeout(idle);
      buf += d.toString("latin1");
      for (let i = buf.indexOf("\r\n\r\n"); i >= 0; i = buf.indexOf("\r\n\r\n")) {
        buf = buf.slice(i + 4);
        const n = ++stats.received;
        const action = stats.frozen ? "hold" : decide(n);
        switch (action) {
          case "answer":
            sock.write(`HTTP/1.1 200 OK\r\nContent-Length: 2\r\nx-served-by: ${POD}\r\n\r\nok`);
            stats.answered++;
            clearTimeout(idle);
            armIdle();
            break;
          case "hold":
            stats.held++;
            break;
          case "reset":
            sock.resetAndDestroy();
            return;
          case "fin":
            sock.end();
            return;
          case "partial-then-fin":
            // headers and 3 of 10 body bytes, then FIN: the client's parser is mid-body
            sock.end(`HTTP/1.1 200 OK\r\nContent-Length: 10\r\nx-served-by: ${POD}\r\n\r\nabc`);
            return;
          case "close-delimited":
            // HTTP/1.0 style: no Content-Length, the close ends the body
            sock.end(`HTTP/1.1 200 OK\r\nx-served-by: ${POD}\r\n\r\nok`);
            stats.answered++;
            return;
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, HOST, () => r()));
  const port = (server.address() as net.AddressInfo).port;
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { port, stats };
}

/** Freeze the server and stop once every connection holds one request (nothing in transit). */
async function freezeAndStop(run: LoadRun, stats: { frozen: boolean; held: number }, connections: number) {
  stats.frozen = true;
  await waitFor(
    `${connections} held request(s)`,
    () => stats.held === connections && run.snapshot().inFlight === connections,
  );
  return run.stop();
}

describe("startLoad against a healthy server", () => {
  it("counts every request: no failures, servedBy equals the server's own count", async () => {
    const { port, stats } = await httpServer();
    const progress: number[] = [];
    const run = load(port, { connections: 3 }, { onProgress: (s) => progress.push(s.sent), progressIntervalMs: 20 });
    await waitFor("300 answers", () => stats.answered >= 300);
    await sleep(60);
    const r = await freezeAndStop(run, stats, 3);

    expectSound(r);
    expect(r.failed).toBe(0);
    expect(r.succeeded).toBe(stats.answered);
    expect(r.inFlightAtEnd).toBe(3);
    expect(r.inFlightAtEnd).toBe(stats.held);
    expect(r.sent).toBe(stats.received);
    expect(r.servedBy).toEqual([
      { pod: POD, count: stats.answered, first: expect.any(Number), last: expect.any(Number) },
    ]);
    expect(r.latencies).toHaveLength(stats.answered);
    expect(r.connectionAttempts).toBe(3);
    expect(stats.connections).toBe(3);
    // autocannon's own figures agree on a healthy server
    expect(r.autocannon.requests).toBe(stats.answered);
    expect(r.autocannon.errors).toBe(0);
    // progress snapshots arrived and grew
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.at(-1)).toBeGreaterThan(progress[0] ?? 0);
    // stop() is idempotent
    expect(await run.stop()).toBe(r);
  });

  it("interleaves the slow path deterministically (slowShare 0.25 → every 4th request)", async () => {
    const { port, stats } = await httpServer();
    const run = load(port, { connections: 1, slowShare: 0.25, slowMs: 2 });
    await waitFor("40 answers", () => stats.answered >= 40);
    const r = await freezeAndStop(run, stats, 1);

    expectSound(r);
    expect(r.failed).toBe(0);
    expect(r.sentByPath["/slow?ms=2"]).toBe(stats.slow);
    expect(r.sentByPath["/"]).toBe(stats.fast);
    expect(stats.slow).toBe(Math.floor(r.sent / 4));
  });
});

describe("startLoad's stream of fresh short connections", () => {
  it("opens a new connection per request at the interval, each counted once and recorded with its client port", async () => {
    const { port, stats } = await httpServer();
    // No keep-alive traffic to speak of: one connection held on the slow path.
    const run = load(port, { connections: 1, slowShare: 1, slowMs: 60_000, freshConnectionIntervalMs: 20 });
    await waitFor("10 fresh answers", () => stats.answered >= 10);
    const r = await run.stop();
    expectSound(r);
    expect(r.fresh.intervalMs).toBe(20);
    expect(r.fresh.sent).toBeGreaterThanOrEqual(10);
    expect(r.fresh.failed).toBe(0);
    // the held slow request, plus fresh ones outstanding at the stop
    expect(r.sent).toBe(r.fresh.sent + 1);
    expect(r.succeeded).toBe(r.fresh.succeeded);
    // every fresh request went on its own connection, with Connection: close
    expect(stats.connections).toBe(1 + r.fresh.sent);
    const records = run.requestRecords().filter((x) => x.fresh);
    expect(records).toHaveLength(r.fresh.succeeded + r.fresh.failed);
    expect(new Set(records.map((x) => x.clientPort)).size).toBe(records.length);
    for (const x of records) {
      expect(x).toMatchObject({ ok: true, pod: POD });
      expect(x.clientPort).toBeGreaterThan(0);
      expect(x.at).toBeGreaterThanOrEqual(x.sentAt);
    }
  });

  it("a refused fresh connection is a failure of kind 'refused'", async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, HOST, () => r()));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const run = load(port, { connections: 1, freshConnectionIntervalMs: 20 });
    // Until three fresh connections were refused (~60 ms at 20 ms apart; a fixed wait fell short on a
    // saturated machine).
    await waitFor(
      "3 refused fresh connections",
      () => run.requestRecords().filter((x) => x.fresh && !x.ok).length >= 3,
    );
    const r = await run.stop();
    expect(resultProblems(r)).toEqual([]);
    expect(r.fresh.failed).toBeGreaterThanOrEqual(3);
    expect(r.failedByKind.refused).toBe(r.failed);
  });

  it("keep-alive requests carry their connection's local port", async () => {
    const { port, stats } = await httpServer();
    const run = load(port, { connections: 2 });
    await waitFor("50 answers", () => stats.answered >= 50);
    await run.stop();
    const ports = new Set(run.requestRecords().map((x) => x.clientPort));
    expect(ports.size).toBe(2);
    expect([...ports].every((p) => typeof p === "number" && p > 0)).toBe(true);
  });
});

describe("startLoad counts non-2xx answers exactly", () => {
  for (const K of [1, 7]) {
    it(`K = ${K} answers of 500 → failedByKind["non-2xx"] = ${K}`, async () => {
      let failedSoFar = 0;
      const { port, stats } = await httpServer({
        status: (n) => (n > 20 && n % 3 === 0 && failedSoFar++ < K ? 500 : 200),
      });
      const run = load(port, { connections: 2 });
      await waitFor("200 answers", () => stats.answered >= 200);
      const r = await freezeAndStop(run, stats, 2);

      expectSound(r);
      expect(stats.answeredNon2xx).toBe(K);
      expect(r.failedByKind["non-2xx"]).toBe(K);
      expect(r.failed).toBe(K);
      expect(r.failures.map((f) => [f.kind, f.code, f.pod])).toEqual(Array(K).fill(["non-2xx", 500, POD]));
      expect(r.succeeded).toBe(stats.answered - K);
      expect(r.autocannon.non2xx).toBe(K);
    });
  }
});

describe("startLoad attributes lost connections", () => {
  it("an RST on exactly one request → exactly one 'reset'", async () => {
    const { port, stats } = await rawServer((n) => (n === 20 ? "reset" : "answer"));
    const run = load(port, { connections: 2 });
    await waitFor("150 requests", () => stats.received >= 150);
    const r = await freezeAndStop(run, stats, 2);

    expectSound(r);
    expect(r.failedByKind.reset).toBe(1);
    expect(r.failed).toBe(1);
    expect(r.failures[0]).toMatchObject({ kind: "reset", code: "ECONNRESET", path: "/" });
    expect(r.succeeded).toBe(stats.answered);
    expect(r.sent).toBe(stats.received);
  });

  it("a FIN without an answer on exactly one request → exactly one 'closed' (autocannon alone sees nothing)", async () => {
    const { port, stats } = await rawServer((n) => (n === 20 ? "fin" : "answer"));
    const run = load(port, { connections: 2 });
    await waitFor("150 requests", () => stats.received >= 150);
    const r = await freezeAndStop(run, stats, 2);

    expectSound(r);
    expect(r.failedByKind.closed).toBe(1);
    expect(r.failed).toBe(1);
    expect(r.succeeded).toBe(stats.answered);
    expect(r.sent).toBe(stats.received);
    // autocannon's own figures, gathered in the same run: no error, no timeout
    expect(r.autocannon.errors).toBe(0);
    expect(r.autocannon.timeouts).toBe(0);

    // And plain autocannon, uninstrumented, against the same misbehaviour: a request vanishes.
    const plain = await rawServer((n) => (n === 20 ? "fin" : "answer"));
    const vanilla = await autocannon({ url: `http://${HOST}:${plain.port}`, connections: 1, amount: 60, timeout: 2 });
    expect(plain.stats.received).toBe(60);
    expect(plain.stats.answered).toBe(59);
    expect(vanilla.errors).toBe(0);
    expect(vanilla.timeouts).toBe(0);
  });

  it("a FIN in the middle of a response → one 'closed'; the next connection parses cleanly", async () => {
    const { port, stats } = await rawServer((n) => (n === 20 ? "partial-then-fin" : "answer"));
    const run = load(port, { connections: 2 });
    await waitFor("150 requests", () => stats.received >= 150);
    const r = await freezeAndStop(run, stats, 2);

    expectSound(r);
    expect(r.failed).toBe(1);
    // the headers had arrived: the failure names the pod
    expect(r.failures[0]).toMatchObject({ kind: "closed", pod: POD });
    expect(r.succeeded).toBe(stats.answered);
  });

  it("a response delimited by the close (no Content-Length) is a success, not a failure", async () => {
    const { port, stats } = await rawServer(() => "close-delimited");
    const run = load(port, { connections: 2 });
    await waitFor("50 answers", () => stats.answered >= 50);
    const r = await freezeAndStop(run, stats, 2);

    expectSound(r);
    expect(r.failed).toBe(0);
    expect(r.succeeded).toBe(stats.answered);
    expect(stats.connections).toBe(stats.received);
  });

  it("no answer to exactly one request → exactly one 'timeout'", async () => {
    const { port, stats } = await rawServer((n) => (n === 20 ? "hold" : "answer"));
    const run = load(port, { connections: 2, requestTimeoutSeconds: 0.5 });
    await waitFor("the timeout", () => run.snapshot().failedByKind.timeout === 1, 5000);
    await waitFor("50 more requests", () => stats.received >= 70);
    const r = await run.stop();

    expectSound(r);
    expect(r.failedByKind.timeout).toBe(1);
    expect(r.failed).toBe(1);
    const f = r.failures[0];
    expect(f?.kind).toBe("timeout");
    expect((f?.at ?? 0) - (f?.sentAt ?? 0)).toBeGreaterThanOrEqual(490);
    expect((f?.at ?? 0) - (f?.sentAt ?? 0)).toBeLessThan(1500);
    expect(r.autocannon.timeouts).toBe(1);
    expect(stats.held).toBe(1);
  });

  it("a closed port → only 'refused', and reconnects stay bounded by the backoff", async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, HOST, () => r()));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));

    const run = load(port, { connections: 2 });
    await sleep(2000);
    const r = await run.stop();

    expectSound(r);
    expect(r.succeeded).toBe(0);
    expect(r.failedByKind.refused).toBe(r.failed);
    expect(r.failed).toBeGreaterThanOrEqual(2);
    expect(r.failures.every((f) => f.kind === "refused" && f.code === "ECONNREFUSED")).toBe(true);
    // one request written per connection attempt; 20 ms doubling to 500 ms → about 8 per connection in 2 s
    expect(r.sent).toBe(r.connectionAttempts);
    expect(r.connectionAttempts).toBeLessThan(100);
    expect(r.autocannon.errors).toBe(r.failed);
  });
});

describe("startLoad honours Connection: close", () => {
  it("a server closing after every response → zero failures, one request per connection", async () => {
    const { port, stats } = await httpServer({ connectionClose: true });
    const run = load(port, { connections: 2 });
    await waitFor("100 answers", () => stats.answered >= 100);
    const r = await freezeAndStop(run, stats, 2);

    expectSound(r);
    expect(r.failed).toBe(0);
    expect(r.succeeded).toBe(stats.answered);
    expect(stats.maxPerConnection).toBe(1);
    expect(stats.connections).toBe(stats.received);
    expect(r.connectionAttempts).toBe(r.sent);
  });

  it("keepAlive=false → Connection: close on every request, a new connection each, zero failures", async () => {
    const { port, stats } = await httpServer();
    const run = load(port, { connections: 2, keepAlive: false });
    await waitFor("100 answers", () => stats.answered >= 100);
    const r = await freezeAndStop(run, stats, 2);

    expectSound(r);
    expect(r.failed).toBe(0);
    expect(r.succeeded).toBe(stats.answered);
    expect(stats.notConnectionClose).toBe(0);
    expect(stats.maxPerConnection).toBe(1);
    expect(stats.connections).toBe(stats.received);
  });
});

describe("startLoad rate limit", () => {
  it("ratePerConnection bounds the rate; autocannon's idle timer ticks are neither timeouts nor reconnects", async () => {
    const { port, stats } = await httpServer();
    const run = load(port, { connections: 2, ratePerConnection: 5, requestTimeoutSeconds: 0.2 });
    await sleep(1500);
    const r = await run.stop();

    expectSound(r);
    expect(r.failed).toBe(0);
    // 5 per connection at once, 5 more after each second: 2 × 5 × 2 within 1.5 s
    expect(r.sent).toBe(20);
    expect(stats.received).toBe(20);
    expect(r.connectionAttempts).toBe(2);
    expect(stats.connections).toBe(2);
    // autocannon itself counts its idle ticks as timeouts
    expect(r.autocannon.timeouts).toBeGreaterThan(0);
  });
});

describe("startLoad and responses nobody asked for", () => {
  it("a 408 sent on an idle connection before closing it is not counted, and the load goes on", async () => {
    const { port, stats } = await rawServer(() => "answer", { idle408Ms: 150 });
    const run = load(port, { connections: 1, ratePerConnection: 5 });
    await sleep(1500);
    const r = await run.stop();

    expect(resultProblems(r)).toEqual([]);
    expect(stats.unsolicited).toBe(2);
    expect(r.failed).toBe(0);
    expect(r.sent).toBe(10);
    expect(r.succeeded).toBe(10);
    expect(r.connectionAttempts).toBe(3);
    expect(r.anomalies).toEqual(Array(2).fill("unsolicited response (status 408) ignored"));
  });
});

describe("startLoad safety cap", () => {
  it("ends the run on its own when stop() never comes, and says so", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    cleanups.push(async () => warn.mockRestore());
    const { port } = await httpServer();
    const run = load(port, { connections: 1 }, { safetyCapSeconds: 0.3 });
    await sleep(1000);
    const before = run.snapshot().sent;
    await sleep(200);
    expect(run.snapshot().sent).toBe(before);
    const r = await run.stop();

    expect(r.endReason).toBe("safety-cap");
    expect(resultProblems(r)).toEqual([]);
    expect(r.sent).toBe(before);
    expect(r.endedAt - r.startedAt).toBeLessThan(900);
    expect(warn).toHaveBeenCalledOnce();
  });
});
