// load.websocket: a text of yours (send) answered by its echo or by any message (expect any), and a
// server that only pushes (expect none): nothing sent, each tick's unit settled by the next push; a
// goodbye (1001) is not a failure (the socket reconnects, its waiting units settle on the new
// socket's first push), a cut connection (1006) fails the waiting units, silence is a timeout.
// Real local ws servers (127.0.0.1, port 0); no x-served-by: the client port is what attributes.
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import { answeredBy, type Outstanding, PUSH_PATH } from "../../src/load/websocket.js";
import { LoadSpec } from "../../src/scenario/schema.js";
import { cleanupList, HOST, protocolLoad, waitFor } from "./load-protocol-kit.js";

const cleanups = cleanupList();
const { load, expectSound } = protocolLoad("websocket", { messageIntervalMs: 10 }, cleanups);

interface Server {
  port: number;
  sockets: Set<WebSocket>;
  received: string[];
  opened: number;
}

/** A ws server: `onMessage` answers (or not); `onOpen` may start pushing. */
async function server(
  onMessage: (ws: WebSocket, text: string) => void,
  onOpen: (ws: WebSocket) => void = () => {},
): Promise<Server> {
  const wss = new WebSocketServer({ host: HOST, port: 0 });
  await new Promise<void>((r) => wss.once("listening", () => r()));
  const s: Server = { port: (wss.address() as AddressInfo).port, sockets: new Set(), received: [], opened: 0 };
  wss.on("connection", (ws) => {
    s.opened++;
    s.sockets.add(ws);
    ws.on("close", () => s.sockets.delete(ws));
    ws.on("message", (d) => {
      s.received.push(d.toString());
      onMessage(ws, d.toString());
    });
    onOpen(ws);
  });
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const ws of s.sockets) ws.terminate();
        wss.close(() => r());
      }),
  );
  return s;
}

/** Pushes "tick" every `ms` on each socket while `on()` says so. */
function pusher(ms: number, on: () => boolean = () => true) {
  return (ws: WebSocket) => {
    const timer = setInterval(() => {
      if (on() && ws.readyState === WebSocket.OPEN) ws.send("tick");
    }, ms);
    ws.on("close", () => clearInterval(timer));
  };
}

describe("load.websocket", () => {
  it("send + expect any: your text goes out; each answer settles the oldest message", async () => {
    const s = await server((ws) => ws.send("pong"));
    const run = load(s.port, { websocket: { send: "ping", expect: "any" } });
    await waitFor("30 answers", () => run.snapshot().succeeded >= 30);
    const r = await run.stop();
    expectSound(r);
    expect(r.failed).toBe(0);
    expect(new Set(s.received)).toEqual(new Set(["ping"]));
  });

  it("send + expect echo: only an equal text answers (a different one is an anomaly, the message times out)", async () => {
    const s = await server((ws, text) => ws.send(s.received.length > 20 ? "other" : text));
    const run = load(s.port, { connections: 1, requestTimeoutSeconds: 0.2, websocket: { send: "hello" } });
    await waitFor("timeouts", () => run.snapshot().failed >= 3);
    const r = await run.stop();
    expectSound(r);
    expect(r.succeeded).toBeGreaterThanOrEqual(20);
    expect(r.failedByKind.timeout).toBe(r.failed);
    expect(r.anomalies.join()).toMatch(/an answer nobody waits for.*other/);
  });

  it("expect none: nothing is sent; pushes settle the waiting units; a 1001 goodbye is no failure, the units move to the new socket", async () => {
    const s = await server(() => {}, pusher(20));
    const run = load(s.port, { connections: 2, websocket: { expect: "none" } });
    await waitFor("30 pushes counted", () => run.snapshot().succeeded >= 30);
    for (const ws of s.sockets) ws.close(1001, "going away");
    await waitFor("both sockets reopened", () => s.opened >= 4);
    const before = run.snapshot().succeeded;
    await waitFor("pushes on the new sockets", () => run.snapshot().succeeded >= before + 20);
    const r = await run.stop();
    expectSound(r);
    expect(s.received).toEqual([]);
    expect(r.failed).toBe(0);
    expect(r.sentByPath[PUSH_PATH]).toBe(r.sent);
    expect(r.websocket?.closesByCode).toEqual({ 1001: 2 });
    expect(r.websocket?.closes.every((c) => c.lost === 0 && c.reconnectGapMs !== undefined)).toBe(true);
    expect(new Set(run.requestRecords().map((x) => x.clientPort)).size).toBe(4);
  });

  it("expect none: a cut connection (1006) fails the units waiting on it; silence is a timeout", async () => {
    let pushing = true;
    const s = await server(
      () => {},
      pusher(100, () => pushing),
    );
    const run = load(s.port, { connections: 1, requestTimeoutSeconds: 0.5, websocket: { expect: "none" } });
    await waitFor("pushes counted", () => run.snapshot().succeeded >= 10);
    await waitFor("units waiting for the next push", () => run.snapshot().inFlight >= 3);
    for (const ws of s.sockets) ws.terminate();
    await waitFor("the units waiting at the cut failed", () => run.snapshot().failed > 0);
    const cut = run.snapshot().failedByKind["ws-abnormal"];
    expect(cut).toBeGreaterThan(0);
    pushing = false;
    await waitFor("timeouts", () => run.snapshot().failedByKind.timeout > 0, 3000);
    const r = await run.stop();
    expectSound(r);
    expect(r.failedByKind["ws-abnormal"]).toBe(cut);
    expect(r.websocket?.closesByCode).toEqual({ 1006: 1 });
  });

  it("what answers what", () => {
    const o = (id: number): Outstanding => ({ unit: { id } as Outstanding["unit"], sentAtMs: 0 });
    const waiting = new Map([
      [1, o(1)],
      [2, o(2)],
    ]);
    const ids = (x: Outstanding[]) => x.map((y) => y.unit.id);
    expect(ids(answeredBy(waiting, Buffer.from('{"id":2}'), "echo", undefined))).toEqual([2]);
    expect(ids(answeredBy(waiting, Buffer.from('{"id":3}'), "echo", undefined))).toEqual([]);
    expect(ids(answeredBy(waiting, Buffer.from("hi"), "echo", "hi"))).toEqual([1]);
    expect(ids(answeredBy(waiting, Buffer.from("ho"), "echo", "hi"))).toEqual([]);
    expect(ids(answeredBy(waiting, Buffer.from("x"), "any", "hi"))).toEqual([1]);
    expect(ids(answeredBy(waiting, Buffer.from("x"), "none", undefined))).toEqual([1, 2]);
  });

  it("refuses send with expect none, and the slow share with a message of yours", () => {
    const issues = (o: Record<string, unknown>) =>
      LoadSpec.safeParse({ protocol: "websocket", ...o }).error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    expect(issues({ websocket: { send: "x", expect: "none" } })).toEqual([
      "websocket.send: expect none sends nothing: remove send",
    ]);
    expect(issues({ slowShare: 0.2, websocket: { send: "x" } })?.[0]).toMatch(/^slowShare: needs the default message/);
    expect(issues({ slowShare: 0.2, websocket: { expect: "any" } })).toBeUndefined();
  });
});
