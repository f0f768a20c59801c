// The gRPC load (src/load/grpc.ts) against a real local grpc-js server implementing graceful.Echo
// (127.0.0.1, port 0): exact counts, x-served-by from the initial metadata, the client port of
// every call (the tapped socket) equal to the peer port the server saw, status codes by kind,
// tryShutdown (GOAWAY: the calls in flight finish) and forceShutdown (they fail).
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { classifyGrpcStatus, portDuring } from "../../src/load/grpc.js";
import { echoPackageDefinition, type SayReply, type SayRequest } from "../../src/load/grpc-proto.js";
import { ECHO_SAY_METHOD } from "../../src/scenario/grpc-method.js";
import { GRACEFUL_PROTO } from "../../src/scenario/grpc-protos.js";
import { packageRoot } from "../../src/util/paths.js";
import { cleanupList, expectPacedThenMax, HOST, protocolLoad, waitFor } from "./load-protocol-kit.js";

const POD = "pod-grpc/app";
const cleanups = cleanupList();

type Call = grpc.ServerUnaryCall<SayRequest, SayReply>;
type Callback = grpc.sendUnaryData<SayReply>;

interface TestServer {
  server: grpc.Server;
  port: number;
  answered: number;
  held: Array<{ call: Call; cb: Callback }>;
  peers: Set<number>;
}

/** graceful.Echo; `behave` returns "answer" (default), "hold", or a status to fail with. */
async function echoServer(
  behave: (req: SayRequest) => "answer" | "hold" | grpc.status = () => "answer",
): Promise<TestServer> {
  const server = new grpc.Server();
  const t: TestServer = { server, port: 0, answered: 0, held: [], peers: new Set() };
  const Echo = (grpc.loadPackageDefinition(echoPackageDefinition()).graceful as grpc.GrpcObject)
    .Echo as grpc.ServiceClientConstructor;
  server.addService(Echo.service, {
    Say(call: Call, cb: Callback) {
      t.peers.add(Number(call.getPeer().split(":").pop()));
      const md = new grpc.Metadata();
      md.set("x-served-by", POD);
      call.sendMetadata(md);
      const what = behave(call.request);
      if (what === "hold") t.held.push({ call, cb });
      else if (what === "answer") {
        t.answered++;
        cb(null, { message: call.request.message, served_by: POD });
      } else cb({ code: what, details: "injected" });
    },
  });
  t.port = await new Promise<number>((res, rej) =>
    server.bindAsync(`${HOST}:0`, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? rej(err) : res(port))),
  );
  cleanups.push(() => server.forceShutdown());
  return t;
}

// The sample app's method (the slow share needs its delay_ms); Health/Check, the default, is tested below.
const { load, expectSound } = protocolLoad(
  "grpc",
  { streamsPerConnection: 3, grpc: { method: ECHO_SAY_METHOD } },
  cleanups,
);

describe("gRPC load", () => {
  it("the embedded proto is fixtures/proto/graceful.proto", async () => {
    expect(GRACEFUL_PROTO).toBe(await readFile(join(packageRoot(), "fixtures", "proto", "graceful.proto"), "utf8"));
  });

  it("counts every call exactly; pods from the initial metadata; one connection per channel, its client port per call", async () => {
    let stop = false;
    const t = await echoServer(() => (stop ? "hold" : "answer"));
    const run = load(t.port, { slowShare: 0.25, slowMs: 5 });
    await waitFor("answers", () => t.answered >= 200);
    stop = true;
    await waitFor("6 held calls", () => t.held.length === 6);
    const r = await run.stop();
    expectSound(r);
    expect(r.succeeded).toBe(t.answered);
    expect(r.inFlightAtEnd).toBe(6);
    expect(r.failed).toBe(0);
    expect(r.servedBy).toEqual([expect.objectContaining({ pod: POD, count: t.answered })]);
    expect(r.sentByPath["/graceful.Echo/Say (delay_ms 5)"]).toBeGreaterThan(0);
    // Two channels → two connections (grpc-js would share one without the local subchannel pool).
    expect(t.peers.size).toBe(2);
    expect(r.connectionAttempts).toBe(2);
    const records = run.requestRecords();
    expect(new Set(records.map((x) => x.clientPort))).toEqual(t.peers);
    expect(records.every((x) => x.pod === POD)).toBe(true);
  });

  it("statuses by kind: UNAVAILABLE → grpc-unavailable, others → grpc-other with the code", async () => {
    let n = 0;
    const t = await echoServer(() => {
      n++;
      if (n === 5) return grpc.status.UNAVAILABLE;
      if (n === 6 || n === 7) return grpc.status.INTERNAL;
      return "answer";
    });
    const run = load(t.port, { connections: 1, streamsPerConnection: 1 });
    await waitFor("3 failures and more answers", () => run.snapshot().failed === 3 && t.answered > 20);
    const r = await run.stop();
    expectSound(r);
    expect(r.failedByKind["grpc-unavailable"]).toBe(1);
    expect(r.failedByKind["grpc-other"]).toBe(2);
    // UNAVAILABLE carries grpc-js's details (they tell a dropped connection from a refused one).
    expect(r.failures.map((f) => f.code)).toEqual(["14 injected", grpc.status.INTERNAL, grpc.status.INTERNAL]);
  });

  it("tryShutdown: the held calls are answered after the GOAWAY; new calls find no server (grpc-unavailable)", async () => {
    let hold = true;
    const t = await echoServer(() => (hold ? "hold" : "answer"));
    const run = load(t.port, { connections: 1, streamsPerConnection: 2 });
    await waitFor("2 held", () => t.held.length === 2);
    let shutdown = false;
    t.server.tryShutdown(() => {
      shutdown = true;
    });
    hold = false;
    for (const h of t.held) h.cb(null, { message: h.call.request.message, served_by: POD });
    await waitFor("shut down", () => shutdown);
    await waitFor(
      "2 answered and new calls failing",
      () => run.snapshot().succeeded === 2 && run.snapshot().failed >= 2,
    );
    const r = await run.stop();
    expectSound(r);
    expect(r.succeeded).toBe(2);
    expect(r.failed).toBe(r.failedByKind["grpc-unavailable"]);
  });

  it("forceShutdown: every call in flight fails", async () => {
    const t = await echoServer(() => "hold");
    const run = load(t.port, { connections: 2, streamsPerConnection: 2 });
    await waitFor("4 held", () => t.held.length === 4);
    t.server.forceShutdown();
    await waitFor("4 failed", () => run.snapshot().failed >= 4);
    const r = await run.stop();
    expectSound(r);
    expect(r.succeeded).toBe(0);
    // Cancelled or unavailable, depending on how the connection went down.
    expect((r.failedByKind["grpc-other"] ?? 0) + (r.failedByKind["grpc-unavailable"] ?? 0)).toBe(r.failed);
  });

  it("deadline: no answer within requestTimeoutSeconds is a timeout", async () => {
    const t = await echoServer(() => "hold");
    const run = load(t.port, { connections: 1, streamsPerConnection: 2, requestTimeoutSeconds: 0.2 });
    await waitFor("2 timeouts", () => run.snapshot().failed >= 2);
    const r = await run.stop();
    expectSound(r);
    expect(r.failedByKind.timeout).toBe(r.failed);
  });

  it("fresh channels: one call each on a new connection", async () => {
    const t = await echoServer();
    const run = load(t.port, { connections: 1, streamsPerConnection: 1, freshConnectionIntervalMs: 20 });
    await waitFor("10 fresh connections", () => t.peers.size >= 11);
    const r = await run.stop();
    expectSound(r);
    expect(r.fresh.sent).toBeGreaterThanOrEqual(10);
    expect(run.requestRecords().filter((x) => x.fresh).length).toBe(r.fresh.succeeded + r.fresh.failed);
  });

  it("classifies statuses the way grpc-js reports refused and never-started streams", () => {
    expect(classifyGrpcStatus({ code: 0 })).toEqual({ outcome: "ok" });
    expect(classifyGrpcStatus({ code: 14, details: "Stream refused by server" })).toEqual({
      outcome: "refused",
      kind: "goaway-refused",
    });
    expect(classifyGrpcStatus({ code: 13, details: "Failed to start HTTP/2 stream with error x" }).outcome).toBe(
      "not-started",
    );
    expect(classifyGrpcStatus({ code: 14, details: "Connection dropped" }).kind).toBe("grpc-unavailable");
    expect(classifyGrpcStatus({ code: 4 }).kind).toBe("timeout");
    expect(classifyGrpcStatus({ code: 1 }).kind).toBe("grpc-other");
  });

  it("a call's client port only when one socket of its channel was open the whole time", () => {
    const sockets = [
      { port: 1, openedAt: 0, closedAt: 100 },
      { port: 2, openedAt: 90 },
    ];
    expect(portDuring(sockets, 10, 50)).toBe(1);
    expect(portDuring(sockets, 95, 98)).toBeUndefined();
    expect(portDuring(sockets, 120, 130)).toBe(2);
  });

  it("paced (the default): calls handed out at the rate asked, each counted once; rate max is the closed loop", async () => {
    const t = await echoServer();
    await expectPacedThenMax(t.port, () => t.answered, load, expectSound);
  });
});
