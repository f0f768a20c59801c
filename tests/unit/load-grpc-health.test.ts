// The gRPC load's default method, grpc.health.v1.Health/Check, against a real local grpc-js server that
// implements only the health service and sends no x-served-by (as third-party servers do): exact
// counts, NOT_SERVING counted apart (or as failures with notServing "failure"), every call joinable to
// its connection by client port — so a server that names no pod is still attributed (and its pod
// exercised) through the Service proxy's connection records. Also a user's own .proto + method + JSON
// request, encoded as the server decodes it.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { describe, expect, it } from "vitest";
import { healthPackageDefinition } from "../../src/load/grpc-proto.js";
import { attributeRequests, exerciseEvidence } from "../../src/observe/exercise.js";
import { HEALTH_PROTO } from "../../src/scenario/grpc-protos.js";
import { cleanupList, HOST, protocolLoad, waitFor } from "./load-protocol-kit.js";

const cleanups = cleanupList();
const { load, expectSound } = protocolLoad("grpc", { streamsPerConnection: 2 }, cleanups);

interface HealthServer {
  port: number;
  status: string;
  checks: number;
  services: string[];
  peers: Set<number>;
  server: grpc.Server;
}

async function bind(server: grpc.Server): Promise<number> {
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync(`${HOST}:0`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? rej(err) : res(p))),
  );
  cleanups.push(() => server.forceShutdown());
  return port;
}

/** A server with grpc.health.v1.Health only (Check answers `status`), no x-served-by. */
async function healthServer(): Promise<HealthServer> {
  const server = new grpc.Server();
  const h: HealthServer = { port: 0, status: "SERVING", checks: 0, services: [], peers: new Set(), server };
  const pkg = grpc.loadPackageDefinition(healthPackageDefinition()) as unknown as {
    grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
  };
  server.addService(pkg.grpc.health.v1.Health.service, {
    Check(call: grpc.ServerUnaryCall<{ service: string }, unknown>, cb: grpc.sendUnaryData<unknown>) {
      h.checks++;
      h.peers.add(Number(call.getPeer().split(":").pop()));
      if (!h.services.includes(call.request.service)) h.services.push(call.request.service);
      cb(null, { status: h.status });
    },
  });
  h.port = await bind(server);
  return h;
}

describe("gRPC load, default method grpc.health.v1.Health/Check", () => {
  it("the embedded health.proto is fixtures/proto/health.proto", async () => {
    const { readFile } = await import("node:fs/promises");
    const file = join(import.meta.dirname, "../../fixtures/proto/health.proto");
    expect(HEALTH_PROTO).toBe(await readFile(file, "utf8"));
  });

  it('counts every Check, service ""; NOT_SERVING answers are answers, counted apart', async () => {
    const h = await healthServer();
    const run = load(h.port);
    await waitFor("30 SERVING", () => run.snapshot().succeeded >= 30);
    h.status = "NOT_SERVING";
    const before = run.snapshot().succeeded;
    // At most 4 calls (2 channels × 2) were outstanding, answered SERVING, at the switch.
    await waitFor("24 more answers", () => run.snapshot().succeeded >= before + 24);
    const r = await run.stop();
    expectSound(r);
    expect(h.services).toEqual([""]);
    expect(r.failed).toBe(0);
    expect(r.grpc?.method).toBe("grpc.health.v1.Health/Check");
    const health = r.grpc?.health;
    expect(health?.serving).toBeGreaterThanOrEqual(30);
    expect(health?.notServing).toBeGreaterThanOrEqual(20);
    expect((health?.serving ?? 0) + (health?.notServing ?? 0)).toBe(r.succeeded);
    expect(r.sentByPath["/grpc.health.v1.Health/Check"]).toBe(r.sent);
  });

  it('notServing "failure": each NOT_SERVING answer is a grpc-not-serving failure with the status', async () => {
    const h = await healthServer();
    h.status = "NOT_SERVING";
    const run = load(h.port, { grpc: { notServing: "failure" } });
    await waitFor("10 checks", () => h.checks >= 10);
    const r = await run.stop();
    expectSound(r);
    expect(r.succeeded).toBe(0);
    expect(r.failedByKind["grpc-not-serving"]).toBe(r.failed);
    expect(r.grpc?.health?.notServing).toBe(r.failed);
    expect(new Set(r.failures.map((f) => f.code))).toEqual(new Set(["NOT_SERVING"]));
    // Never SERVING: said in the result, since a run like this passes with notServing "answer".
    expect(r.anomalies.join()).toMatch(/no grpc.health.v1.Health\/Check answer was SERVING/);
  });

  it("a server that names no pod: every call carries its client port, so the Service proxy's records attribute it", async () => {
    const h = await healthServer();
    const run = load(h.port, { connections: 2 });
    await waitFor("40 checks", () => h.checks >= 40);
    const deleteAt = Date.now();
    await waitFor("10 more", () => h.checks >= 50);
    await run.stop();
    const records = run.requestRecords();
    expect(records.every((x) => x.pod === undefined)).toBe(true);
    expect(new Set(records.map((x) => x.clientPort))).toEqual(h.peers);
    // What the local Service proxy records: each accepted connection (the client's port) → its pod.
    const attribution = {
      source: "service-proxy" as const,
      joinableByClientPort: true,
      connections: [...h.peers].map((clientPort) => ({ clientPort, pod: "health-pod", openedAt: 0 })),
    };
    const attributed = attributeRequests(records, attribution);
    expect(attributed.every((x) => x.attributedPod === "health-pod" && x.attributedBy === "service-proxy")).toBe(true);
    const e = exerciseEvidence({ pod: "health-pod", deleteAt, attribution, requests: attributed });
    expect(e.status).toBe("exercised");
    expect(e.servedInSecondBeforeDelete).toBeGreaterThan(0);
  });

  it("a user's .proto, method and JSON request: the server decodes exactly that request", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ge-proto-"));
    const proto = join(dir, "shop.proto");
    writeFileSync(
      proto,
      [
        'syntax = "proto3";',
        "package shop.v1;",
        "message Item { string sku = 1; int64 count = 2; Kind kind = 3; repeated string tags = 4; }",
        "enum Kind { KIND_UNSPECIFIED = 0; BOOK = 1; }",
        "message Ack { bool ok = 1; }",
        "service Cart { rpc Add(Item) returns (Ack); }",
      ].join("\n"),
    );
    const seen: unknown[] = [];
    const server = new grpc.Server();
    const def = protoLoader.loadSync(proto, { keepCase: true, longs: String, enums: String });
    const Cart = (
      grpc.loadPackageDefinition(def) as unknown as { shop: { v1: { Cart: grpc.ServiceClientConstructor } } }
    ).shop.v1.Cart;
    server.addService(Cart.service, {
      Add(call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) {
        seen.push(call.request);
        cb(null, { ok: true });
      },
    });
    const port = await bind(server);
    const request = { sku: "b-1", count: "12", kind: "BOOK", tags: ["a", "b"] };
    const run = load(port, { grpc: { proto, method: "shop.v1.Cart/Add", request } });
    await waitFor("5 calls", () => seen.length >= 5);
    const r = await run.stop();
    expectSound(r);
    expect(r.grpc).toEqual({ method: "shop.v1.Cart/Add" });
    expect(seen[0]).toEqual(request);
    expect(r.sentByPath["/shop.v1.Cart/Add"]).toBe(r.sent);
  });
});
