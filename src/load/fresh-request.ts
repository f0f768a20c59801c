// One request on a fresh connection (Connection: close), classified like every other request.
// Used by the load's stream of fresh short connections and by the warm-up before the disruption:
// both need "a NEW connection through the Service, which pod took it, and did it get an answer".
import http from "node:http";
import type { LoadOptions } from "../scenario/schema.js";
import { classifyRequestError, headerValue } from "./accounting.js";
import type { FailureKind } from "./types.js";

/**
 * The header the harness's own probes carry (the warm-up): not load. The sample app's FAIL_FIRST_N
 * leaves requests carrying it alone, so its injected failures start after the warm-up and land in
 * the load's counts, where the bench's exactness part looks for them.
 */
export const PROBE_HEADER = "x-graceful-e2e-probe";

export interface FreshRequestTarget {
  host: string;
  port: number;
}

export interface FreshRequestOutcome {
  /** Epoch ms when written / settled. */
  sentAt: number;
  at: number;
  ok: boolean;
  status?: number;
  failure?: { kind: FailureKind; code?: string | number };
  /** The load generator's local port of the connection (undefined when it never connected). */
  clientPort?: number;
  /** x-served-by of the answer, when the app sends one. */
  pod?: string;
  latencyMs?: number;
}

export interface FreshRequest {
  readonly done: Promise<FreshRequestOutcome>;
  /** Ends the request now; `done` then resolves with ok false and no failure: in flight when the window closed. */
  abort(): void;
  readonly aborted: boolean;
}

/** What an HTTP request of the load is besides its path (load.http, filled: httpRequestOf). */
export interface HttpRequestShape {
  method: string;
  /** As the scenario gives them (Host included). */
  headers: Record<string, string>;
  body?: string;
}

/** load.http with its defaults: GET, no header of its own, no body. */
export function httpRequestOf(opts: Pick<LoadOptions, "http">): HttpRequestShape {
  const h = opts.http;
  return {
    method: h?.method ?? "GET",
    headers: { ...(h?.headers ?? {}) },
    ...(h?.body !== undefined ? { body: h.body } : {}),
  };
}

export function freshRequest(
  target: FreshRequestTarget,
  path: string,
  timeoutMs: number,
  /** A probe (PROBE_HEADER: what for), not load. */
  probe?: string,
  /** The load's method, headers and body (default: a GET without any). */
  shape: HttpRequestShape = { method: "GET", headers: {} },
): FreshRequest {
  const sentAt = Date.now();
  const t0 = performance.now();
  let clientPort: number | undefined;
  let aborted = false;
  let settle: (o: FreshRequestOutcome) => void = () => {};
  let settled = false;
  const done = new Promise<FreshRequestOutcome>((resolve) => {
    settle = (o) => {
      if (settled) return;
      settled = true;
      resolve(o);
    };
  });
  const req = http.request({
    host: target.host,
    port: target.port,
    path,
    method: shape.method,
    agent: false,
    headers: {
      ...shape.headers,
      connection: "close",
      ...(shape.body !== undefined ? { "content-length": Buffer.byteLength(shape.body) } : {}),
      ...(probe ? { [PROBE_HEADER]: probe } : {}),
    },
  });
  req.on("socket", (sock) => {
    sock.once("connect", () => {
      clientPort = sock.localPort;
    });
  });
  req.setTimeout(timeoutMs, () => {
    settle({ sentAt, at: Date.now(), ok: false, failure: { kind: "timeout" }, clientPort });
    req.destroy();
  });
  req.on("response", (res) => {
    const status = res.statusCode ?? 0;
    const pod = headerValue(res.rawHeaders, "x-served-by");
    res.on("data", () => {});
    res.on("end", () => {
      const ok = status >= 200 && status < 300;
      settle({
        sentAt,
        at: Date.now(),
        ok,
        status,
        clientPort,
        pod,
        latencyMs: performance.now() - t0,
        ...(ok ? {} : { failure: { kind: "non-2xx" as const, code: status } }),
      });
    });
    res.on("error", (err: NodeJS.ErrnoException) => {
      settle({ sentAt, at: Date.now(), ok: false, status, clientPort, pod, failure: classifyRequestError(err) });
    });
  });
  req.on("error", (err: NodeJS.ErrnoException) => {
    settle({ sentAt, at: Date.now(), ok: false, clientPort, failure: classifyRequestError(err) });
  });
  req.end(shape.body);
  return {
    done,
    get aborted() {
      return aborted;
    },
    abort() {
      if (settled) return;
      aborted = true;
      settle({ sentAt, at: Date.now(), ok: false, clientPort });
      req.destroy();
    },
  };
}
