// The WebSocket load (src/load/websocket.ts) against a real local ws echo server (127.0.0.1, port 0):
// exact counts, x-served-by from the upgrade response, the client port, a clean close (1001) with
// pending echoes (ws-lost), an abrupt one (1006: ws-abnormal), reconnect gaps, failed opens.
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import type WebSocket from "ws";
import { WebSocketServer } from "ws";
import { classifyOpenFailure } from "../../src/load/websocket.js";
import { cleanupList, HOST, protocolLoad, waitFor } from "./load-protocol-kit.js";

const POD = "pod-ws/app";
const cleanups = cleanupList();

interface TestServer {
  wss: WebSocketServer;
  port: number;
  sockets: Set<WebSocket>;
  echoed: number;
  /** Messages received and never echoed (held). */
  held: number;
  peers: Set<number>;
}

/** An echo server; `hold` true = receive but never echo. */
async function wsServer(hold: () => boolean = () => false): Promise<TestServer> {
  const wss = new WebSocketServer({ host: HOST, port: 0 });
  await new Promise<void>((r) => wss.once("listening", () => r()));
  const t: TestServer = {
    wss,
    port: (wss.address() as AddressInfo).port,
    sockets: new Set(),
    echoed: 0,
    held: 0,
    peers: new Set(),
  };
  wss.on("headers", (headers) => headers.push(`x-served-by: ${POD}`));
  wss.on("connection", (ws, req) => {
    t.sockets.add(ws);
    if (req.socket.remotePort) t.peers.add(req.socket.remotePort);
    ws.on("close", () => t.sockets.delete(ws));
    ws.on("message", (data) => {
      if (hold()) {
        t.held++;
        return;
      }
      t.echoed++;
      ws.send(data);
    });
  });
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const ws of t.sockets) ws.terminate();
        wss.close(() => r());
      }),
  );
  return t;
}

const { load, expectSound } = protocolLoad("websocket", { messageIntervalMs: 5 }, cleanups);

describe("WebSocket load", () => {
  it("counts every message exactly; pod from the upgrade response, client port per socket", async () => {
    let stop = false;
    const t = await wsServer(() => stop);
    const run = load(t.port);
    await waitFor("echoes", () => t.echoed >= 100);
    stop = true;
    await waitFor("held messages", () => t.held >= 10);
    const r = await run.stop();
    expectSound(r);
    expect(r.succeeded).toBe(t.echoed);
    expect(r.failed).toBe(0);
    // What was sent and not echoed is in flight (some may still have been on the wire).
    expect(r.inFlightAtEnd).toBeGreaterThanOrEqual(t.held);
    expect(r.servedBy).toEqual([expect.objectContaining({ pod: POD, count: t.echoed })]);
    expect(new Set(run.requestRecords().map((x) => x.clientPort))).toEqual(t.peers);
    expect(r.websocket).toEqual(expect.objectContaining({ sockets: 2, closes: [], failedOpens: 0 }));
  });

  it("a clean close (1001) with messages pending: ws-lost, per socket; the socket reopens (reconnect gap)", async () => {
    let hold = true;
    const t = await wsServer(() => hold);
    const run = load(t.port, { connections: 1 });
    await waitFor("3 held", () => t.held >= 3);
    hold = false;
    for (const ws of t.sockets) ws.close(1001, "going away");
    await waitFor("reopened and echoing", () => run.snapshot().succeeded > 5);
    const r = await run.stop();
    expectSound(r);
    expect(r.failed).toBeGreaterThanOrEqual(3);
    expect(r.failedByKind["ws-lost"]).toBe(r.failed);
    expect(r.failures.every((f) => f.code === 1001)).toBe(true);
    const closes = r.websocket?.closes ?? [];
    expect(closes).toHaveLength(1);
    expect(closes[0]).toEqual(expect.objectContaining({ code: 1001, lost: r.failed, pod: POD }));
    expect(closes[0]?.reconnectGapMs).toBeGreaterThanOrEqual(0);
    expect(r.websocket?.closesByCode).toEqual({ "1001": 1 });
  });

  it("an abrupt close (socket destroyed): 1006, the pending messages fail as ws-abnormal", async () => {
    let hold = true;
    const t = await wsServer(() => hold);
    const run = load(t.port, { connections: 2 });
    await waitFor("4 held", () => t.held >= 4);
    hold = false;
    for (const ws of t.sockets) ws.terminate();
    await waitFor("reopened and echoing", () => run.snapshot().succeeded > 5);
    const r = await run.stop();
    expectSound(r);
    expect(r.failedByKind["ws-abnormal"]).toBe(r.failed);
    expect(r.failed).toBeGreaterThanOrEqual(4);
    expect(r.websocket?.closesByCode).toEqual({ "1006": 2 });
  });

  it("nothing listening: no message is sent on a socket that never opened; failed opens are reported", async () => {
    const t = await wsServer();
    const port = t.port;
    await new Promise<void>((r) => t.wss.close(() => r()));
    const run = load(port, { connections: 1, freshConnectionIntervalMs: 20 });
    await waitFor("refused fresh sockets", () => run.snapshot().failedByKind.refused >= 3);
    const r = await run.stop();
    expectSound(r);
    // Only the fresh sockets count (one message each, sent when they open): refused.
    expect(r.failed).toBe(r.failedByKind.refused);
    expect(r.fresh.failed).toBe(r.failed);
    expect(r.websocket?.failedOpens).toBeGreaterThan(0);
    expect(r.websocket?.skippedTicks).toBeGreaterThan(0);
  });

  it("classifies a socket that never opened", () => {
    expect(classifyOpenFailure(undefined, 503)).toEqual({ kind: "non-2xx", code: 503 });
    expect(classifyOpenFailure(Object.assign(new Error("x"), { code: "ECONNREFUSED" }), undefined).kind).toBe(
      "refused",
    );
    expect(
      classifyOpenFailure(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }), undefined).kind,
    ).toBe("closed");
  });
});
