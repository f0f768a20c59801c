// The sample app's other protocols (images/app/server.js, APP_PROTOCOL=http2|grpc|websocket) run
// directly with node: no Docker. HTTP/1.1 /healthz on the same port, x-served-by everywhere, and
// what each variant does on SIGTERM: GOAWAY or not, tryShutdown or forceShutdown, 1001 or 1006.
import { type ChildProcess, spawn } from "node:child_process";
import http2 from "node:http2";
import { join } from "node:path";
import { createInterface } from "node:readline";
import * as grpc from "@grpc/grpc-js";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { ensureAppVendor } from "../../src/images/app-vendor.js";
import { echoPackageDefinition, healthPackageDefinition, type SayReply } from "../../src/load/grpc-proto.js";
import { packageRoot } from "../../src/util/paths.js";

const SERVER = join(packageRoot(), "images", "app", "server.js");
const SERVED_BY = "unit-test/app";
const running: ChildProcess[] = [];

beforeAll(async () => {
  // The bundle the images carry (vendor/protocols.cjs): grpc-js and ws for the app.
  await ensureAppVendor();
}, 60_000);

afterEach(() => {
  for (const child of running.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

interface App {
  child: ChildProcess;
  port: number;
  events: string[];
  exited: Promise<number | null>;
}

async function startApp(env: Record<string, string>): Promise<App> {
  const child = spawn(process.execPath, [SERVER], {
    env: { PATH: process.env.PATH ?? "", HOSTNAME: "unit-test", PORT: "0", HOST: "127.0.0.1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.push(child);
  const events: string[] = [];
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (text) => {
      const line = JSON.parse(text) as { event: string; port?: number };
      events.push(line.event);
      if (line.event === "listening") resolve(line.port as number);
    });
    void exited.then((code) => reject(new Error(`app exited ${code} before listening`)));
  });
  return { child, port, events, exited };
}

const healthz = async (port: number) => (await fetch(`http://127.0.0.1:${port}/healthz`)).status;

function h2get(
  session: http2.ClientHttp2Session,
  path: string,
): Promise<{ status?: number; servedBy?: string; error?: string }> {
  return new Promise((resolve) => {
    const req = session.request({ ":path": path });
    let status: number | undefined;
    let servedBy: string | undefined;
    req.on("response", (h) => {
      status = Number(h[":status"]);
      servedBy = String(h["x-served-by"]);
    });
    req.on("data", () => {});
    req.on("end", () => resolve({ status, servedBy }));
    req.on("error", (e: NodeJS.ErrnoException) => resolve({ error: e.code }));
    req.end();
  });
}

describe("APP_PROTOCOL=http2", () => {
  it("h2c and HTTP/1.1 on one port; on SIGTERM a GOAWAY, the accepted slow stream answered, exit 0", async () => {
    const app = await startApp({ APP_PROTOCOL: "http2" });
    expect(await healthz(app.port)).toBe(200);
    const session = http2.connect(`http://127.0.0.1:${app.port}`);
    let goaway: number | undefined;
    session.on("goaway", (code) => {
      goaway ??= code;
    });
    expect(await h2get(session, "/")).toEqual({ status: 200, servedBy: SERVED_BY });
    const slow = h2get(session, "/slow?ms=300");
    await new Promise((r) => setTimeout(r, 50));
    app.child.kill("SIGTERM");
    expect(await slow).toEqual({ status: 200, servedBy: SERVED_BY });
    expect(goaway).toBe(0);
    expect(await app.exited).toBe(0);
    expect(app.events).toContain("goaway-sent");
  });

  it("H2_GOAWAY=off: no GOAWAY, the connection keeps taking new streams until the drain timeout", async () => {
    const app = await startApp({ APP_PROTOCOL: "http2", H2_GOAWAY: "off", DRAIN_TIMEOUT_MS: "500" });
    const session = http2.connect(`http://127.0.0.1:${app.port}`);
    session.on("error", () => {});
    let goaways = 0;
    session.on("goaway", () => goaways++);
    expect((await h2get(session, "/")).status).toBe(200);
    app.child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 200));
    // After SIGTERM, on the old connection: still served.
    expect((await h2get(session, "/")).status).toBe(200);
    const cut = h2get(session, "/slow?ms=2000");
    expect(await app.exited).toBe(0);
    // Cut by the exit: no answer (the load counts it as closed).
    expect((await cut).status).toBeUndefined();
    expect(goaways).toBe(0);
    expect(app.events).toContain("goaway-skipped");
  });
});

describe("APP_PROTOCOL=grpc", () => {
  const Echo = (grpc.loadPackageDefinition(echoPackageDefinition()).graceful as grpc.GrpcObject)
    .Echo as grpc.ServiceClientConstructor;
  const say = (client: grpc.Client, delayMs: number) =>
    new Promise<{ reply?: SayReply; code?: number; servedBy?: string }>((resolve) => {
      let servedBy: string | undefined;
      const call = (client as unknown as Record<string, (...a: unknown[]) => grpc.ClientUnaryCall>).Say?.(
        { message: "hi", delay_ms: delayMs },
        (err: grpc.ServiceError | null, reply: SayReply) =>
          resolve(err ? { code: err.code, servedBy } : { reply, servedBy }),
      );
      call?.on("metadata", (md: grpc.Metadata) => {
        servedBy = String(md.get("x-served-by")[0]);
      });
    });

  for (const [mode, expected] of [
    ["graceful", "answered"],
    ["force", "cancelled"],
  ] as const) {
    it(`GRPC_SHUTDOWN=${mode}: the call in flight at SIGTERM is ${expected}`, async () => {
      const app = await startApp({ APP_PROTOCOL: "grpc", GRPC_SHUTDOWN: mode });
      expect(await healthz(app.port)).toBe(200);
      const client = new Echo(`127.0.0.1:${app.port}`, grpc.credentials.createInsecure());
      const first = await say(client, 0);
      expect(first).toEqual({ reply: { message: "hi", served_by: SERVED_BY }, servedBy: SERVED_BY });
      const slow = say(client, 300);
      await new Promise((r) => setTimeout(r, 50));
      app.child.kill("SIGTERM");
      const r = await slow;
      if (expected === "answered") expect(r.reply?.served_by).toBe(SERVED_BY);
      else expect(r.code).toBe(grpc.status.CANCELLED);
      expect(await app.exited).toBe(0);
      client.close();
    });
  }

  it("grpc.health.v1.Health/Check: SERVING with x-served-by; an unknown service is NOT_FOUND", async () => {
    const app = await startApp({ APP_PROTOCOL: "grpc" });
    const Health = (
      grpc.loadPackageDefinition(healthPackageDefinition()) as unknown as {
        grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
      }
    ).grpc.health.v1.Health;
    const client = new Health(`127.0.0.1:${app.port}`, grpc.credentials.createInsecure()) as unknown as {
      Check(req: { service: string }, cb: (err: grpc.ServiceError | null, res?: unknown) => void): grpc.ClientUnaryCall;
      close(): void;
    };
    const check = (service: string) =>
      new Promise<{ res?: unknown; code?: number; servedBy?: string }>((resolve) => {
        let servedBy: string | undefined;
        const call = client.Check({ service }, (err, res) =>
          resolve(err ? { code: err.code, servedBy } : { res, servedBy }),
        );
        call.on("metadata", (md: grpc.Metadata) => {
          servedBy = String(md.get("x-served-by")[0]);
        });
      });
    expect(await check("")).toEqual({ res: { status: "SERVING" }, servedBy: SERVED_BY });
    expect((await check("shop.v1.Cart")).code).toBe(grpc.status.NOT_FOUND);
    client.close();
  });
});

describe("APP_PROTOCOL=websocket", () => {
  for (const [mode, code] of [
    ["going-away", 1001],
    ["abrupt", 1006],
  ] as const) {
    it(`WS_CLOSE=${mode}: the socket closes with ${code} on SIGTERM`, async () => {
      const app = await startApp({ APP_PROTOCOL: "websocket", WS_CLOSE: mode });
      expect(await healthz(app.port)).toBe(200);
      const ws = new WebSocket(`ws://127.0.0.1:${app.port}/`);
      let servedBy: string | undefined;
      ws.on("upgrade", (res) => {
        servedBy = String(res.headers["x-served-by"]);
      });
      const echoes: string[] = [];
      ws.on("message", (m) => echoes.push(m.toString()));
      await new Promise((r) => ws.once("open", r));
      expect(servedBy).toBe(SERVED_BY);
      ws.send(JSON.stringify({ id: 1, delayMs: 200 }));
      await new Promise((r) => setTimeout(r, 50));
      const closed = new Promise<number>((r) => ws.once("close", (c) => r(c)));
      app.child.kill("SIGTERM");
      expect(await closed).toBe(code);
      // going-away answers what it had received before closing; abrupt does not.
      expect(echoes).toEqual(mode === "going-away" ? ['{"id":1,"delayMs":200}'] : []);
      expect(await app.exited).toBe(0);
    });
  }

  it("WS_PUSH_MS: pushes to every socket on its own until the 1001 at SIGTERM", async () => {
    const app = await startApp({ APP_PROTOCOL: "websocket", WS_PUSH_MS: "20" });
    const ws = new WebSocket(`ws://127.0.0.1:${app.port}/`);
    const pushes: string[] = [];
    ws.on("message", (m) => pushes.push(m.toString()));
    await new Promise((r) => ws.once("open", r));
    await new Promise((r) => setTimeout(r, 200));
    expect(pushes.length).toBeGreaterThanOrEqual(5);
    expect(pushes.slice(0, 3)).toEqual(['{"push":1}', '{"push":2}', '{"push":3}']);
    const closed = new Promise<number>((r) => ws.once("close", (c) => r(c)));
    app.child.kill("SIGTERM");
    expect(await closed).toBe(1001);
    expect(await app.exited).toBe(0);
  });
});

it("refuses an unknown APP_PROTOCOL", async () => {
  await expect(startApp({ APP_PROTOCOL: "http3" })).rejects.toThrow(/exited 1/);
});
