// load.http (method, headers with Host, body) on every HTTP request the load makes: HTTP/1.1's
// keep-alive connections (autocannon) and its fresh connections, HTTP/2's streams (Host as
// :authority) — each checked on a real local server that records what arrived.
import http, { type IncomingHttpHeaders } from "node:http";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { httpRequestOf } from "../../src/load/fresh-request.js";
import { startLoad } from "../../src/load/generator.js";
import { requestHeaders } from "../../src/load/http2.js";
import { LoadSpec } from "../../src/scenario/schema.js";
import { cleanupList, HOST, waitFor } from "./load-protocol-kit.js";

const cleanups = cleanupList();

interface Seen {
  method: string;
  path: string;
  host?: string;
  headers: IncomingHttpHeaders | http2.IncomingHttpHeaders;
  body: string;
  connectionClose: boolean;
}

const HTTP = { method: "POST", headers: { Host: "shop.example", "X-Tenant": "t-1" }, body: '{"sku":"b-1"}' };

function load(protocol: "http1" | "http2", port: number, o: Record<string, unknown> = {}) {
  const opts = LoadSpec.parse({ protocol, connections: 2, freshConnectionIntervalMs: 0, http: HTTP, ...o });
  const run = startLoad({ host: HOST, port }, opts);
  cleanups.push(async () => {
    await run.stop().catch(() => {});
  });
  return run;
}

async function http1Server(): Promise<{ port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString();
    });
    req.on("end", () => {
      seen.push({
        method: req.method ?? "",
        path: req.url ?? "",
        host: req.headers.host,
        headers: req.headers,
        body,
        connectionClose: req.headers.connection === "close",
      });
      res.end("ok");
    });
  });
  await new Promise<void>((r) => server.listen(0, HOST, r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  cleanups.push(() => server.closeAllConnections());
  return { port: (server.address() as AddressInfo).port, seen };
}

describe("load.http", () => {
  it("defaults: GET, no header of the load's own, no body", () => {
    expect(httpRequestOf(LoadSpec.parse({}))).toEqual({ method: "GET", headers: {} });
    expect(requestHeaders(httpRequestOf(LoadSpec.parse({})), "/x")).toEqual({ ":method": "GET", ":path": "/x" });
  });

  it("HTTP/2: Host becomes :authority, names lower-case", () => {
    expect(requestHeaders(httpRequestOf(LoadSpec.parse({ http: HTTP })), "/")).toEqual({
      ":method": "POST",
      ":path": "/",
      ":authority": "shop.example",
      "x-tenant": "t-1",
    });
  });

  it("HTTP/1.1: the keep-alive connections and the fresh ones send the method, headers (Host) and body", async () => {
    const s = await http1Server();
    const run = load("http1", s.port, { freshConnectionIntervalMs: 20 });
    await waitFor("keep-alive and fresh requests", () => s.seen.filter((x) => x.connectionClose).length >= 3);
    await waitFor("20 requests", () => s.seen.length >= 20);
    const r = await run.stop();
    expect(r.failed).toBe(0);
    for (const x of s.seen) {
      expect({ method: x.method, host: x.host, tenant: x.headers["x-tenant"], body: x.body }).toEqual({
        method: "POST",
        host: "shop.example",
        tenant: "t-1",
        body: HTTP.body,
      });
    }
    // One Host header only (autocannon adds its own unless one is given).
    expect(s.seen.every((x) => !String(x.host).includes(","))).toBe(true);
  });

  it("HTTP/2: every stream carries the method, :authority and body", async () => {
    const seen: Seen[] = [];
    const server = http2.createServer();
    const sessions = new Set<http2.Http2Session>();
    server.on("session", (x) => sessions.add(x));
    server.on("stream", (stream, headers) => {
      let body = "";
      stream.on("data", (c: Buffer) => {
        body += c.toString();
      });
      stream.on("end", () => {
        seen.push({
          method: String(headers[":method"]),
          path: String(headers[":path"]),
          host: String(headers[":authority"]),
          headers,
          body,
          connectionClose: false,
        });
        stream.respond({ ":status": 200 });
        stream.end("ok");
      });
    });
    await new Promise<void>((r) => server.listen(0, HOST, r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    cleanups.push(() => {
      for (const x of sessions) x.destroy();
    });
    const run = load("http2", (server.address() as AddressInfo).port, { freshConnectionIntervalMs: 30 });
    await waitFor("20 streams", () => seen.length >= 20);
    const r = await run.stop();
    expect(r.failed).toBe(0);
    expect(r.fresh.sent).toBeGreaterThan(0);
    for (const x of seen) {
      expect([x.method, x.host, x.headers["x-tenant"], x.body]).toEqual(["POST", "shop.example", "t-1", HTTP.body]);
    }
  });

  it("refuses the connection's own headers, a header given twice, and load.http with grpc", () => {
    const issues = (o: Record<string, unknown>) =>
      LoadSpec.safeParse(o).error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`) ?? [];
    expect(issues({ http: { headers: { "Transfer-Encoding": "chunked" } } })).toEqual([
      "http.headers.Transfer-Encoding: a header of the connection: the load sets it",
    ]);
    expect(issues({ http: { headers: { host: "a", Host: "b" } } })).toEqual([
      "http.headers.Host: given twice (header names ignore case)",
    ]);
    expect(issues({ http: { headers: { "x-a": "1\r\nx-b: 2" } } })).toEqual([
      "http.headers.x-a: a header value cannot hold CR, LF or NUL",
    ]);
    expect(issues({ protocol: "grpc", http: { method: "POST" } })).toEqual([
      "http: only for protocol http1 or http2 (protocol is grpc)",
    ]);
    expect(issues({ http: { method: "HEAD" } })[0]).toMatch(/^http.method: /);
  });
});
