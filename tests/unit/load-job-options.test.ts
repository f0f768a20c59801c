// The in-cluster load Job carries the same protocol options as the load from here: load.http,
// load.websocket and load.grpc travel in GRACEFUL_E2E_LOAD, and the user's .proto (a file the Job
// does not have) compiled in GRACEFUL_E2E_GRPC_DESCRIPTOR. The program itself (runJob) against a
// local gRPC server that implements only grpc.health.v1 and speaks no HTTP/1.1: its readiness
// check is one call of the load's method, then the window, then a result counting the calls.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { describe, expect, it } from "vitest";
import { buildLoadJob, loadJobTiming } from "../../src/k8s/load-job.js";
import { healthPackageDefinition } from "../../src/load/grpc-proto.js";
import { JOB_ENV, jobConfigFromEnv, RESULT_MARKER, runJob, STARTED_MARKER } from "../../src/load/job-main.js";
import type { LoadRunResult } from "../../src/load/types.js";
import { parseScenario } from "../../src/scenario/load.js";
import { cleanupList, HOST } from "./load-protocol-kit.js";

const cleanups = cleanupList();

function writeProto(): string {
  const dir = mkdtempSync(join(tmpdir(), "ge-job-proto-"));
  const proto = join(dir, "shop.proto");
  writeFileSync(
    proto,
    [
      'syntax = "proto3";',
      "package shop.v1;",
      "message Item { string sku = 1; }",
      "message Ack { bool ok = 1; }",
      "service Cart { rpc Add(Item) returns (Ack); }",
    ].join("\n"),
  );
  return dir;
}

function jobEnv(yaml: string, dir: string): Record<string, string> {
  const { scenario } = parseScenario(join(dir, "s.yaml"), yaml);
  const m = buildLoadJob({
    scenario,
    runId: "20261207190000-a1b2c3",
    image: "loadgen:0123456789ab",
    target: { host: "app.ns.svc", port: 80 },
    load: scenario.load,
    timing: loadJobTiming(scenario),
  });
  const env = m.job.spec?.template.spec?.containers[0]?.env ?? [];
  return Object.fromEntries(env.map((e) => [e.name, e.value ?? ""]));
}

describe("the load Job's environment", () => {
  it("carries load.http and load.websocket as the scenario gives them", () => {
    const dir = writeProto();
    const http = jobEnv(
      "name: h\nimage: { style: exec-form }\nload: { http: { method: POST, headers: { Host: shop.example }, body: x } }\n",
      dir,
    );
    expect(jobConfigFromEnv(http).load.http).toEqual({ method: "POST", headers: { Host: "shop.example" }, body: "x" });
    expect(http[JOB_ENV.grpcDescriptor]).toBeUndefined();
    const ws = jobEnv(
      "name: w\nimage: { style: exec-form }\nload: { protocol: websocket, websocket: { expect: none } }\n",
      dir,
    );
    expect(jobConfigFromEnv(ws).load.websocket).toEqual({ expect: "none" });
  });

  it("carries the user's proto compiled: the Job resolves the method and request without the file", () => {
    const dir = writeProto();
    const env = jobEnv(
      "name: g\nimage: { style: exec-form }\n" +
        "load: { protocol: grpc, grpc: { proto: shop.proto, method: shop.v1.Cart/Add, request: { sku: b-1 } } }\n",
      dir,
    );
    const config = jobConfigFromEnv(env);
    expect(config.load.grpc).toMatchObject({ proto: join(dir, "shop.proto"), method: "shop.v1.Cart/Add" });
    expect(JSON.stringify(config.grpcDescriptor)).toContain('"Cart"');
    const { [JOB_ENV.grpcDescriptor]: _, ...without } = env;
    expect(() => jobConfigFromEnv(without)).toThrow(/GRACEFUL_E2E_GRPC_DESCRIPTOR is required with load.grpc.proto/);
  });
});

describe("runJob against a server with grpc.health.v1 only", () => {
  it("ready after one Check answered; the window's calls counted; stopped by its signal", async () => {
    const server = new grpc.Server();
    let checks = 0;
    const pkg = grpc.loadPackageDefinition(healthPackageDefinition()) as unknown as {
      grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
    };
    server.addService(pkg.grpc.health.v1.Health.service, {
      Check(_call: unknown, cb: grpc.sendUnaryData<unknown>) {
        checks++;
        cb(null, { status: "SERVING" });
      },
    });
    const port = await new Promise<number>((res, rej) =>
      server.bindAsync(`${HOST}:0`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
    );
    cleanups.push(() => server.forceShutdown());
    const lines: string[] = [];
    let stop: (why: string) => void = () => {};
    const stopRequested = new Promise<string>((r) => {
      stop = r;
    });
    const code = runJob(
      {
        [JOB_ENV.target]: `${HOST}:${port}`,
        [JOB_ENV.load]: JSON.stringify({ protocol: "grpc", connections: 2, rate: 100, freshConnectionIntervalMs: 0 }),
        [JOB_ENV.runSeconds]: "30",
        [JOB_ENV.readyTimeoutSeconds]: "5",
      },
      {
        stdout: async (line) => {
          lines.push(line);
          if (line.startsWith(STARTED_MARKER)) setTimeout(() => stop("SIGTERM"), 500);
        },
        stderr: () => {},
        stopRequested,
      },
    );
    expect(await code).toBe(0);
    const result = JSON.parse(
      (lines.find((l) => l.startsWith(RESULT_MARKER)) ?? "").slice(RESULT_MARKER.length + 1),
    ) as LoadRunResult;
    expect(result.protocol).toBe("grpc");
    expect(result.grpc?.method).toBe("grpc.health.v1.Health/Check");
    expect(result.succeeded).toBeGreaterThan(20);
    // Every Check the server answered is a call of the window, but the readiness probe's: received
    // (succeeded), or answered as the window closed (in flight at the end).
    expect(checks - 1).toBeGreaterThanOrEqual(result.succeeded);
    expect(checks - 1).toBeLessThanOrEqual(result.succeeded + result.inFlightAtEnd);
    expect(result.grpc?.health?.serving).toBe(result.succeeded);
  });

  it("a user's proto through the Job's descriptor: the calls reach the server as the request says", async () => {
    const dir = writeProto();
    const env = jobEnv(
      "name: g\nimage: { style: exec-form }\n" +
        "load: { protocol: grpc, connections: 1, rate: 50, freshConnectionIntervalMs: 0, " +
        "grpc: { proto: shop.proto, method: shop.v1.Cart/Add, request: { sku: b-1 } } }\n",
      dir,
    );
    const def = protoLoader.loadSync(join(dir, "shop.proto"), { keepCase: true });
    const Cart = (
      grpc.loadPackageDefinition(def) as unknown as { shop: { v1: { Cart: grpc.ServiceClientConstructor } } }
    ).shop.v1.Cart;
    const seen: unknown[] = [];
    const server = new grpc.Server();
    server.addService(Cart.service, {
      Add(call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) {
        seen.push(call.request);
        cb(null, { ok: true });
      },
    });
    const port = await new Promise<number>((res, rej) =>
      server.bindAsync(`${HOST}:0`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
    );
    cleanups.push(() => server.forceShutdown());
    const lines: string[] = [];
    const code = await runJob(
      { ...env, [JOB_ENV.target]: `${HOST}:${port}`, [JOB_ENV.runSeconds]: "1" },
      { stdout: async (l) => void lines.push(l), stderr: () => {}, stopRequested: new Promise(() => {}) },
    );
    expect(code).toBe(0);
    expect(seen.length).toBeGreaterThan(5);
    expect(seen.every((r) => JSON.stringify(r) === JSON.stringify({ sku: "b-1" }))).toBe(true);
    expect(lines.some((l) => l.startsWith(RESULT_MARKER))).toBe(true);
  });
});
