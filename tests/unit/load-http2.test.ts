// The HTTP/2 load (src/load/http2.ts) against real local h2c servers (127.0.0.1, port 0) that
// misbehave in controlled ways: GOAWAY with streams above its last stream id (refused → retried),
// RST_STREAM, a connection destroyed under held streams, no answer (timeout). Exact counts.
import http2, { type Http2Server, type Http2Session, type ServerHttp2Stream } from "node:http2";
import type { AddressInfo, Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { connectionFailure, h2ErrorName, pathMix } from "../../src/load/http2.js";
import { cleanupList, expectPacedThenMax, HOST, protocolLoad, waitFor } from "./load-protocol-kit.js";

const POD = "pod-h2/app";
const cleanups = cleanupList();

interface TestServer {
  server: Http2Server;
  port: number;
  sessions: Set<Http2Session>;
  /** Streams held (not answered), in arrival order. */
  held: ServerHttp2Stream[];
  answered: number;
  /** Remote ports of the sessions (the load's client ports). */
  peers: Set<number>;
  sockets: Set<Socket>;
}

/** An h2c server; `hold(stream)` true = keep the stream unanswered. */
async function h2Server(hold: (stream: ServerHttp2Stream, path: string) => boolean = () => false): Promise<TestServer> {
  const t: TestServer = {
    server: http2.createServer(),
    port: 0,
    sessions: new Set(),
    held: [],
    answered: 0,
    peers: new Set(),
    sockets: new Set(),
  };
  t.server.on("connection", (sock: Socket) => t.sockets.add(sock));
  t.server.on("session", (s) => {
    t.sessions.add(s);
    if (s.socket?.remotePort) t.peers.add(s.socket.remotePort);
    s.on("close", () => t.sessions.delete(s));
    s.on("error", () => {});
  });
  t.server.on("stream", (stream, headers) => {
    stream.on("error", () => {});
    const path = String(headers[":path"]);
    if (hold(stream, path)) {
      t.held.push(stream);
      return;
    }
    t.answered++;
    stream.respond({ ":status": 200, "x-served-by": POD });
    stream.end("ok");
  });
  await new Promise<void>((r) => t.server.listen(0, HOST, r));
  t.port = (t.server.address() as AddressInfo).port;
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const s of t.sessions) s.destroy();
        t.server.close(() => r());
      }),
  );
  return t;
}

const { load, expectSound } = protocolLoad("http2", { streamsPerConnection: 3 }, cleanups);

describe("HTTP/2 load", () => {
  it("counts every stream exactly: answered = succeeded, held = in flight at the end", async () => {
    let stopAnswering = false;
    const t = await h2Server(() => stopAnswering);
    const run = load(t.port);
    await waitFor("some answers", () => t.answered >= 200);
    stopAnswering = true;
    // Each of the 2 × 3 stream slots ends up with one held stream: nothing in transit.
    await waitFor("6 held streams", () => t.held.length === 6);
    const r = await run.stop();
    expectSound(r);
    expect(r.succeeded).toBe(t.answered);
    expect(r.inFlightAtEnd).toBe(6);
    expect(r.failed).toBe(0);
    expect(r.servedBy).toEqual([expect.objectContaining({ pod: POD, count: t.answered })]);
    // Two connections, each its own client port, which the server saw as the peer port.
    const records = run.requestRecords();
    expect(new Set(records.map((x) => x.clientPort))).toEqual(t.peers);
    expect(records.every((x) => x.pod === POD)).toBe(true);
    expect(r.connectionAttempts).toBe(2);
  });

  it("sends the slow share to /slow?ms=slowMs", async () => {
    expect(pathMix({ path: "/", slowShare: 0.25, slowMs: 300 })).toEqual(["/", "/", "/", "/slow?ms=300"]);
    const t = await h2Server();
    const run = load(t.port, { slowShare: 0.5, slowMs: 10 });
    await waitFor("answers", () => t.answered >= 40);
    const r = await run.stop();
    expectSound(r);
    expect(r.sentByPath["/slow?ms=10"]).toBeGreaterThan(0);
    expect(r.sentByPath["/"]).toBeGreaterThan(0);
  });

  describe("GOAWAY with streams above its last stream id: refused, never processed", () => {
    /** Holds the first connection's first 3 streams, then GOAWAY(last stream id 1): streams 3 and 5 are refused. */
    async function goawayAfterThree() {
      let first: Http2Session | undefined;
      const t = await h2Server((stream) => {
        if (first === undefined) first = stream.session;
        return stream.session === first;
      });
      return { t, goaway: () => first?.goaway(http2.constants.NGHTTP2_NO_ERROR, 1) };
    }

    it("retries each refused stream once on a new connection; a retry that succeeds is not a failure", async () => {
      const { t, goaway } = await goawayAfterThree();
      const run = load(t.port, { connections: 1 });
      await waitFor("3 held streams", () => t.held.length === 3);
      goaway();
      await waitFor("both retries answered", () => (run.snapshot().succeeded ?? 0) >= 2 && t.sessions.size >= 2);
      // The stream the GOAWAY accepted (id 1) is still owed an answer: answer it now.
      const accepted = t.held[0];
      accepted?.respond({ ":status": 200, "x-served-by": POD });
      accepted?.end("ok");
      await waitFor("the accepted stream answered", () => run.requestRecords().filter((x) => x.ok).length >= 3);
      const r = await run.stop();
      expectSound(r);
      expect(r.failed).toBe(0);
      expect(r.retries).toEqual(expect.objectContaining({ attempted: 2, failed: 0 }));
      expect(r.retries?.succeeded).toBe(2);
      expect(r.goaways).toEqual([expect.objectContaining({ errorCode: 0, lastStreamId: 1 })]);
      expect(r.connectionAttempts).toBe(2);
    });

    it("with retryRefused: false each refused stream is a goaway-refused failure", async () => {
      const { t, goaway } = await goawayAfterThree();
      const run = load(t.port, { connections: 1, retryRefused: false });
      await waitFor("3 held streams", () => t.held.length === 3);
      goaway();
      await waitFor("2 failures", () => run.snapshot().failed === 2);
      const r = await run.stop();
      expectSound(r);
      expect(r.failedByKind["goaway-refused"]).toBe(2);
      expect(r.retries).toEqual({ attempted: 0, succeeded: 0, failed: 0, inFlightAtEnd: 0 });
    });
  });

  it("RST_STREAM from the server: rst-stream with the HTTP/2 error code", async () => {
    let resets = 0;
    const t = await h2Server((stream) => {
      if (resets >= 3) return false;
      resets++;
      stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      return true;
    });
    const run = load(t.port, { connections: 1, streamsPerConnection: 1 });
    await waitFor("3 resets and some answers", () => run.snapshot().failed === 3 && t.answered > 10);
    const r = await run.stop();
    expectSound(r);
    expect(r.failedByKind["rst-stream"]).toBe(3);
    expect(r.failures.map((f) => f.code)).toEqual(["INTERNAL_ERROR", "INTERNAL_ERROR", "INTERNAL_ERROR"]);
  });

  it("a connection destroyed under held streams: each held stream fails (closed or reset), then it reconnects", async () => {
    let hold = true;
    const t = await h2Server(() => hold);
    const run = load(t.port, { connections: 1, streamsPerConnection: 4 });
    await waitFor("4 held streams", () => t.held.length === 4);
    hold = false;
    for (const s of t.sockets) s.destroy();
    await waitFor(
      "4 failures and answers on the next connection",
      () => run.snapshot().failed === 4 && t.answered > 10,
    );
    const r = await run.stop();
    expectSound(r);
    expect((r.failedByKind.closed ?? 0) + (r.failedByKind.reset ?? 0)).toBe(4);
    expect(r.connectionAttempts).toBe(2);
  });

  it("no answer within requestTimeoutSeconds: timeout", async () => {
    const t = await h2Server(() => true);
    const run = load(t.port, { connections: 1, streamsPerConnection: 2, requestTimeoutSeconds: 0.2 });
    await waitFor("2 timeouts", () => run.snapshot().failed >= 2);
    const r = await run.stop();
    expectSound(r);
    expect(r.failedByKind.timeout).toBe(r.failed);
  });

  it("fresh connections: one stream each on a new connection; refused when nothing listens", async () => {
    const t = await h2Server();
    const run = load(t.port, { connections: 1, streamsPerConnection: 1, freshConnectionIntervalMs: 20 });
    await waitFor("10 fresh", () => run.snapshot().sent > 50 && t.peers.size >= 11);
    const r = await run.stop();
    expectSound(r);
    expect(r.fresh.sent).toBeGreaterThanOrEqual(10);
    expect(run.requestRecords().filter((x) => x.fresh).length).toBe(r.fresh.succeeded + r.fresh.failed);

    const closed = await h2Server();
    const port = closed.port;
    await new Promise<void>((res) => closed.server.close(() => res()));
    const dead = load(port, { connections: 1, streamsPerConnection: 1, freshConnectionIntervalMs: 20 });
    await waitFor("3 refused", () => dead.snapshot().failedByKind.refused >= 3);
    const d = await dead.stop();
    expectSound(d);
    expect(d.failed).toBe(d.failedByKind.refused);
  });

  it("names HTTP/2 error codes and connection failures", () => {
    expect(h2ErrorName(7)).toBe("REFUSED_STREAM");
    expect(h2ErrorName(8)).toBe("CANCEL");
    expect(h2ErrorName(99)).toBe("0x63");
    expect(connectionFailure(undefined)).toEqual({ kind: "closed" });
    expect(connectionFailure(Object.assign(new Error("x"), { code: "ECONNRESET" }))).toEqual({
      kind: "reset",
      code: "ECONNRESET",
    });
  });

  it("paced (the default): streams handed out at the rate asked, each counted once; rate max is the closed loop", async () => {
    const t = await h2Server();
    await expectPacedThenMax(t.port, () => t.answered, load, expectSound);
  });
});
