// The load generator: autocannon drives the connections, and every autocannon Client is
// instrumented so that EVERY request it writes is accounted for exactly once — a success, a
// failure of a named kind, or in flight when the window closed.
//
// Why instrument rather than read autocannon's summary: its `errors` lumps everything together and
// it loses requests silently — when the server closes its side (FIN) with a request outstanding,
// the Client's 'end' handler just reconnects (no event; the stale entry even stays queued), and a
// response carrying `Connection: close` is ignored (the next request is written on the socket the
// server is closing, which then dies: a failure caused by the load generator, not by the app).
//
// How (autocannon 8 lib/httpClient.js): in setupClient we wrap the instance's _connect,
// _doRequest, _destroyConnection and destroy, replace its parser with a fresh one per socket, and
// put our own listeners in front of autocannon's socket handlers (ours run first, then autocannon's
// — only while that socket is still the client's current one, so a dead socket can never trigger a
// second reconnect or feed the next socket's parser).
import type { Socket } from "node:net";
import { performance } from "node:perf_hooks";
import autocannon from "autocannon";
import type { RequestRecord } from "../model/exercise.js";
import type { LoadOptions } from "../scenario/schema.js";
import { classifySocketError, headerValue, RequestLedger, slowPattern } from "./accounting.js";
import { type BackoffPolicy, backoffDelayMs, DEFAULT_BACKOFF } from "./backoff.js";
import { type FreshRequest, freshRequest } from "./fresh-request.js";
import { startGrpcLoad } from "./grpc.js";
import { startHttp2Load } from "./http2.js";
import type { FailureKind, LoadResult } from "./types.js";
import { startWebSocketLoad } from "./websocket.js";
import { checkedResult, ledgerSnapshot, loadRun, startProgress } from "./window.js";

/** autocannon stops on its own after this long, whatever the caller does: a forgotten run can't loop forever. */
export const SAFETY_CAP_SECONDS = 15 * 60;

/** How long stop() waits for autocannon's own summary before giving up on it. */
const AUTOCANNON_RESULT_WAIT_MS = 5_000;

/** At most this many anomaly notes are kept (they are diagnostics, not data). */
const MAX_ANOMALIES = 50;

/** Fresh short connections outstanding at once; a tick is skipped beyond (a hanging target). */
const MAX_FRESH_OUTSTANDING = 32;

export interface LoadTarget {
  host: string;
  port: number;
}

export interface LoadSnapshot {
  /** Epoch ms of the snapshot. */
  at: number;
  elapsedMs: number;
  sent: number;
  succeeded: number;
  failed: number;
  /** Outstanding right now. */
  inFlight: number;
  failedByKind: Record<FailureKind, number>;
  connectionAttempts: number;
}

export interface LoadHooks {
  onProgress?(snapshot: LoadSnapshot): void;
  /** How often onProgress is called (default 1000 ms). */
  progressIntervalMs?: number;
  /** Hard cap on the run (default SAFETY_CAP_SECONDS); lowered by tests. */
  safetyCapSeconds?: number;
  /** Reconnect pacing after connections that died without a response (default 20 ms doubling to 500 ms). */
  backoff?: BackoffPolicy;
}

export interface LoadRunResult extends LoadResult {
  /** "safety-cap": nobody called stop() in time and autocannon's hard duration ended the run. */
  endReason: "stopped" | "safety-cap";
  /** TCP connections opened (each reconnect counts). */
  connectionAttempts: number;
  /** Requests written per path (the path / slow-path mix). */
  sentByPath: Record<string, number>;
  autocannon: LoadResult["autocannon"] & {
    /** autocannon's own count of requests sent (requests.sent). */
    sent: number;
  };
  /** Unexpected situations the generator handled (unsolicited responses, parse errors...). */
  anomalies: string[];
  /** The stream of fresh short connections (load.freshConnectionIntervalMs); part of every count above. */
  fresh: { intervalMs: number; sent: number; succeeded: number; failed: number; skippedTicks: number };
}

export interface LoadRun {
  readonly startedAt: number;
  /** Live counts, for progress output. */
  snapshot(): LoadSnapshot;
  /**
   * Ends the window: destroys every connection; requests outstanding at that moment are counted
   * as inFlightAtEnd (not failures). Idempotent. Rejects with LoadAccountingError if the
   * accounting invariant (sent = succeeded + failed + inFlightAtEnd, each request settled once)
   * is violated.
   */
  stop(): Promise<LoadRunResult>;
  /**
   * Every request settled so far with where it went (client port, x-served-by): the raw material of
   * per-pod attribution. In memory only; never written to result files.
   */
  requestRecords(): RequestRecord[];
}

/** The generator could not vouch for its own counts: a bug, never a property of the app. */
export class LoadAccountingError extends Error {
  override name = "LoadAccountingError";
  constructor(
    message: string,
    readonly result: LoadRunResult,
  ) {
    super(message);
  }
}

// ---- autocannon internals we rely on (autocannon 8.0.0, http-parser-js 0.5) ----

type ParserCallback = (...args: unknown[]) => unknown;

interface HttpParser {
  execute(chunk: Buffer, start?: number, length?: number): number | Error;
  finish(): Error | undefined;
  [slot: number]: ParserCallback;
}

interface HttpParserClass {
  new (type: string): HttpParser;
  RESPONSE: string;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
}

interface HeadersInfo {
  statusCode?: number;
  headers?: string[];
  shouldKeepAlive?: boolean;
}

interface IteratorRequest {
  path?: string;
  requestBuffer?: Buffer;
}

interface InternalClient {
  conn: Socket;
  parser: HttpParser;
  pipelinedRequests: { clear(): void; size(): number };
  requestIterator: { currentRequest?: IteratorRequest; requests: IteratorRequest[] };
  reqsMade: number;
  destroyed: boolean;
  timeout: number;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  _connect(): void;
  _doRequest(...args: unknown[]): void;
  _destroyConnection(): void;
  destroy(): void;
}

type Listener = (...args: unknown[]) => void;

/** One TCP connection of one client. */
interface SocketState {
  sock: Socket;
  /** Complete responses received on it. */
  responses: number;
  /** We are done with it (destroyed, listeners removed). */
  retired: boolean;
  /** The server closed its side (FIN). */
  ended: boolean;
  /** The connection's local port once connected (kept: a destroyed socket forgets it). */
  localPort?: number;
  /** Status of the last response head seen on it. */
  lastStatus?: number;
  parser?: HttpParser;
}

/** The (single: pipelining 1) request outstanding on a client. */
interface Outstanding {
  id: number;
  ss: SocketState;
  /** performance.now() when written. */
  t0: number;
  /** Epoch ms when written. */
  sentAtMs: number;
  status?: number;
  pod?: string;
  keepAlive: boolean;
}

function noop(): void {}

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

function urlHost(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

export function startLoad(target: LoadTarget, opts: LoadOptions, hooks: LoadHooks = {}): LoadRun {
  // The long-lived protocols (load.protocol) have their own modules; http1 is autocannon, below.
  if (opts.protocol === "http2") return startHttp2Load(target, opts, hooks);
  if (opts.protocol === "grpc") return startGrpcLoad(target, opts, hooks);
  if (opts.protocol === "websocket") return startWebSocketLoad(target, opts, hooks);
  const startedAt = Date.now();
  const ledger = new RequestLedger();
  const backoff = hooks.backoff ?? DEFAULT_BACKOFF;
  const capSeconds = hooks.safetyCapSeconds ?? SAFETY_CAP_SECONDS;
  const timeoutMs = opts.requestTimeoutSeconds * 1000;
  const slowPath = `/slow?ms=${opts.slowMs}`;
  const requests = slowPattern(opts.slowShare).map((slow) => ({
    method: "GET" as const,
    path: slow ? slowPath : opts.path,
  }));

  const clients: InternalClient[] = [];
  const records: RequestRecord[] = [];
  const record = (r: { sentAtMs: number; ss?: SocketState; pod?: string }, at: number, ok: boolean) => {
    records.push({ sentAt: r.sentAtMs, at, ok, clientPort: r.ss?.localPort, ...(r.pod ? { pod: r.pod } : {}) });
  };
  const anomalies: string[] = [];
  let anomalyCount = 0;
  let connectionAttempts = 0;
  let requestEvents = 0;
  /** The window is closed: every event from here on is ignored. */
  let closed = false;
  let endedAt: number | undefined;
  let endReason: LoadRunResult["endReason"] = "stopped";
  let progressTimer: NodeJS.Timeout | undefined;

  const anomaly = (what: string) => {
    anomalyCount++;
    if (anomalies.length < MAX_ANOMALIES) anomalies.push(what);
  };

  const closeWindow = (reason: LoadRunResult["endReason"]) => {
    if (closed) return;
    closed = true;
    endedAt = Date.now();
    endReason = reason;
    clearInterval(progressTimer);
    if (reason === "safety-cap") {
      console.warn(
        `graceful-e2e load generator: safety cap of ${capSeconds} s reached without stop(); the load window was closed`,
      );
    }
  };

  function instrument(client: InternalClient): void {
    clients.push(client);
    // autocannon refuses timeout < 1 s in its options; the client's own value is what its timer uses.
    client.timeout = timeoutMs;
    client.on("request", () => {
      requestEvents++;
    });
    if (!opts.keepAlive) {
      // autocannon always writes "Connection: keep-alive"; adding a header would send both.
      for (const r of client.requestIterator.requests) {
        if (!r.requestBuffer) continue;
        const text = r.requestBuffer.toString("latin1");
        const replaced = text.replace("\r\nConnection: keep-alive\r\n", "\r\nConnection: close\r\n");
        if (replaced === text) throw new Error("autocannon request has no Connection: keep-alive line to replace");
        r.requestBuffer = Buffer.from(replaced, "latin1");
      }
    }

    const Parser = client.parser.constructor as unknown as HttpParserClass;
    const k = {
      headers: Parser.kOnHeaders,
      headersComplete: Parser.kOnHeadersComplete,
      body: Parser.kOnBody,
      complete: Parser.kOnMessageComplete,
    };
    /** autocannon's parser callbacks (set in its constructor, after setupClient): captured on the first connect. */
    let ac: Record<keyof typeof k, ParserCallback> | undefined;

    const origConnect = client._connect;
    const origDoRequest = client._doRequest;
    const origDestroyConnection = client._destroyConnection;
    const origDestroy = client.destroy;

    const st = {
      sock: undefined as SocketState | undefined,
      req: undefined as Outstanding | undefined,
      /** Connections in a row that died without a single response. */
      deadStreak: 0,
      reconnectTimer: undefined as NodeJS.Timeout | undefined,
      /** Don't write the next request on this socket (Connection: close, keepAlive=false). */
      reconnectBeforeNext: false,
      /** autocannon's timer fired while idle on a healthy socket: ignore the reconnect it asks for. */
      skipNextConnect: false,
      /** Inside autocannon's _connect: the socket it just created has no state yet. */
      connecting: false,
    };

    const live = () => !closed && !client.destroyed;
    const isCurrent = (ss: SocketState) => st.sock === ss && !ss.retired;

    const settleFailure = (kind: FailureKind, code?: string | number) => {
      const r = st.req;
      if (!r) return;
      st.req = undefined;
      const at = Date.now();
      ledger.fail(r.id, at, kind, { code, pod: r.pod });
      record(r, at, false);
    };

    const retire = (ss: SocketState) => {
      if (ss.retired) return;
      ss.retired = true;
      const s = ss.sock;
      s.removeAllListeners("data");
      s.removeAllListeners("end");
      s.removeAllListeners("error");
      s.on("error", noop);
      s.destroy();
    };

    const makeParser = (ss: SocketState): HttpParser => {
      const cbs = ac;
      if (!cbs) throw new Error("autocannon parser callbacks not captured");
      const p = new Parser(Parser.RESPONSE);
      const current = () => live() && isCurrent(ss) && client.parser === p;
      p[k.headers] = cbs.headers;
      p[k.headersComplete] = (info: unknown) => {
        if (!current()) return undefined;
        const r = st.req;
        const h = info as HeadersInfo;
        ss.lastStatus = h.statusCode;
        if (r && r.ss === ss) {
          r.status = h.statusCode;
          r.pod = headerValue(h.headers, "x-served-by");
          r.keepAlive = h.shouldKeepAlive !== false;
        }
        return cbs.headersComplete(info);
      };
      p[k.body] = (...args: unknown[]) => (current() ? cbs.body(...args) : undefined);
      p[k.complete] = () => {
        if (!current()) return undefined;
        const r = st.req;
        if (!r || r.ss !== ss) {
          // A response nobody asked for (e.g. a 408 before an idle close): never count it, and
          // don't trust this connection for the next request.
          anomaly(`unsolicited response (status ${ss.lastStatus ?? "?"}) ignored`);
          st.reconnectBeforeNext = true;
          return undefined;
        }
        st.req = undefined;
        ss.responses++;
        st.deadStreak = 0;
        const at = Date.now();
        const status = r.status ?? 0;
        if (status >= 200 && status < 300) ledger.succeed(r.id, at, performance.now() - r.t0, r.pod);
        else ledger.fail(r.id, at, "non-2xx", { code: status, pod: r.pod });
        record(r, at, status >= 200 && status < 300);
        if (!r.keepAlive || !opts.keepAlive) st.reconnectBeforeNext = true;
        if (client.pipelinedRequests.size() === 0) {
          // autocannon's handler would dereference an empty queue; go on without its stats.
          anomaly("response with autocannon's request queue empty");
          client._doRequest();
          return undefined;
        }
        // autocannon's handler: its stats, then _doRequest (ours: reconnects first if asked to).
        return cbs.complete();
      };
      const execute = p.execute.bind(p);
      p.execute = (chunk: Buffer, start?: number, length?: number) => {
        const ret = execute(chunk, start, length);
        if (ret instanceof Error && current()) {
          // Garbage on the wire: the parser is stuck; fail the request now rather than by timeout.
          anomaly(`unparseable response: ${ret.message}`);
          if (st.req?.ss === ss) settleFailure("error", errorCode(ret) ?? "HPE_INVALID");
          client._connect();
        }
        return ret;
      };
      return p;
    };

    /** Take over the socket autocannon just created: fresh parser, our listeners in front of its. */
    const adopt = (sock: Socket): SocketState => {
      const ss: SocketState = { sock, responses: 0, retired: false, ended: false, localPort: sock.localPort };
      if (ss.localPort === undefined) {
        sock.once("connect", () => {
          ss.localPort = sock.localPort;
        });
      }
      st.sock = ss;
      ss.parser = makeParser(ss);
      client.parser = ss.parser;
      const acError = sock.listeners("error") as Listener[];
      const acData = sock.listeners("data") as Listener[];
      const acEnd = sock.listeners("end") as Listener[];
      sock.removeAllListeners("error");
      sock.removeAllListeners("data");
      sock.removeAllListeners("end");
      sock.on("error", (err: Error) => {
        if (!live() || !isCurrent(ss)) return;
        if (st.req?.ss === ss) {
          const c = classifySocketError(errorCode(err));
          settleFailure(c.kind, c.code);
        }
        // autocannon: counts a connError, reconnects (through our _connect: backoff).
        for (const l of acError) l.call(sock, err);
      });
      sock.on("data", (chunk: Buffer) => {
        if (!live() || !isCurrent(ss)) return;
        for (const l of acData) l.call(sock, chunk);
      });
      sock.on("end", () => {
        if (!live() || !isCurrent(ss)) return;
        ss.ended = true;
        if (st.req?.ss === ss) {
          // A body delimited by the close completes here (reconnecting from its completion).
          try {
            ss.parser?.finish();
          } catch (err) {
            anomaly(`finishing a response at EOF: ${(err as Error).message}`);
          }
          if (st.req?.ss === ss) settleFailure("closed");
        }
        // autocannon: reconnects (skipped if the completion above already did).
        if (isCurrent(ss)) for (const l of acEnd) l.call(sock);
      });
      sock.on("close", () => {
        if (!live() || !isCurrent(ss)) return;
        // Closed without 'end' or 'error' having reached us.
        if (st.req?.ss === ss) settleFailure("closed");
        client._connect();
      });
      return ss;
    };

    const connectNow = () => {
      if (!live()) return;
      ac ??= {
        headers: client.parser[k.headers] ?? noop,
        headersComplete: client.parser[k.headersComplete] ?? noop,
        body: client.parser[k.body] ?? noop,
        complete: client.parser[k.complete] ?? noop,
      };
      st.reconnectBeforeNext = false;
      // Never match a response on the new socket to a request of the old one.
      client.pipelinedRequests.clear();
      connectionAttempts++;
      st.connecting = true;
      try {
        origConnect.call(client);
      } finally {
        st.connecting = false;
      }
      // The first request was normally written (and the socket adopted) inside autocannon's
      // _connect; not when the rate limit held it back.
      if (st.sock?.sock !== client.conn) adopt(client.conn);
    };

    client._connect = () => {
      if (!live()) return;
      if (st.skipNextConnect) {
        st.skipNextConnect = false;
        return;
      }
      if (st.reconnectTimer) return; // a reconnect is already scheduled
      const prev = st.sock;
      if (prev) {
        st.sock = undefined;
        if (st.req?.ss === prev) {
          anomaly("reconnect with a request outstanding and no socket event: counted as closed");
          const r = st.req;
          st.req = undefined;
          const at = Date.now();
          ledger.fail(r.id, at, "closed", { pod: r.pod });
          record(r, at, false);
        }
        if (prev.responses === 0) st.deadStreak++;
        retire(prev);
      }
      const delay = backoffDelayMs(st.deadStreak, backoff);
      if (delay > 0) {
        st.reconnectTimer = setTimeout(() => {
          st.reconnectTimer = undefined;
          connectNow();
        }, delay);
        return;
      }
      connectNow();
    };

    client._doRequest = (...args: unknown[]) => {
      if (!live() || st.reconnectTimer) return;
      let ss = st.sock;
      if (st.connecting && ss?.sock !== client.conn) ss = adopt(client.conn);
      if (!ss) return;
      if (st.reconnectBeforeNext || ss.ended || ss.retired || ss.sock.destroyed) {
        if (st.connecting) {
          anomaly("fresh connection unusable before its first request");
          return;
        }
        // Honour Connection: close (and keepAlive=false): the next request goes on a new connection.
        st.reconnectBeforeNext = false;
        client._connect();
        return;
      }
      if (st.req) {
        ledger.violation(`a request was written while request #${st.req.id} was still outstanding`);
        return;
      }
      const before = client.reqsMade;
      origDoRequest.apply(client, args);
      if (client.reqsMade !== before) {
        const path = client.requestIterator.currentRequest?.path ?? opts.path;
        const sentAtMs = Date.now();
        st.req = { id: ledger.openRequest(path, sentAtMs), ss, t0: performance.now(), sentAtMs, keepAlive: true };
      }
    };

    client._destroyConnection = () => {
      if (live()) {
        // While running, only autocannon's request timer calls this (reconnectRate is not used),
        // followed by _connect() and a 'timeout' event.
        const ss = st.sock;
        if (st.req && ss && st.req.ss === ss) {
          settleFailure("timeout");
          retire(ss);
        } else if (!st.req && ss && !ss.retired && !ss.ended && !ss.sock.destroyed) {
          // Idle (rate limit pause): the timer is not about any request; keep the connection.
          st.skipNextConnect = true;
          queueMicrotask(() => {
            st.skipNextConnect = false;
          });
          return;
        }
      }
      origDestroyConnection.call(client);
    };

    client.destroy = () => {
      if (!client.destroyed) {
        // autocannon destroying its clients without stop(): its duration (the safety cap) ran out.
        if (!closed) closeWindow("safety-cap");
        if (st.req) {
          ledger.endInFlight(st.req.id);
          st.req = undefined;
        }
        if (st.reconnectTimer) {
          clearTimeout(st.reconnectTimer);
          st.reconnectTimer = undefined;
        }
      }
      origDestroy.call(client);
    };
  }

  const acOptions: autocannon.Options = {
    url: `http://${urlHost(target.host)}:${target.port}`,
    connections: opts.connections,
    pipelining: 1,
    duration: capSeconds,
    // autocannon rejects timeout < 1; each client gets the real value in setupClient.
    timeout: Math.max(1, Math.ceil(opts.requestTimeoutSeconds)),
    requests,
    sampleInt: 200,
    setupClient: (c) => instrument(c as unknown as InternalClient),
    ...(opts.ratePerConnection > 0 ? { connectionRate: opts.ratePerConnection } : {}),
  };

  let acResult: autocannon.Result | undefined;
  let acError: unknown;
  let stopAutocannon: () => void = noop;
  const acDone = new Promise<void>((resolve) => {
    const instance = autocannon(acOptions, (err, result) => {
      if (err) acError = err;
      else acResult = result;
      resolve();
    });
    stopAutocannon = () => instance.stop();
  });

  // The stream of fresh short connections: one request each, Connection: close. Every new
  // connection is balanced anew by the Service, so it shows when a terminating pod stops receiving
  // new connections (the effective endpoint propagation), whatever the keep-alive connections do.
  const freshIntervalMs = opts.freshConnectionIntervalMs;
  const fresh = { intervalMs: freshIntervalMs, sent: 0, succeeded: 0, failed: 0, skippedTicks: 0 };
  const freshOutstanding = new Map<FreshRequest, number>();
  let freshTimer: NodeJS.Timeout | undefined;
  const fireFresh = () => {
    if (closed) return;
    if (freshOutstanding.size >= MAX_FRESH_OUTSTANDING) {
      fresh.skippedTicks++;
      return;
    }
    const sentAt = Date.now();
    const id = ledger.openRequest(opts.path, sentAt);
    fresh.sent++;
    const req = freshRequest(target, opts.path, timeoutMs);
    freshOutstanding.set(req, id);
    void req.done.then((o) => {
      freshOutstanding.delete(req);
      if (req.aborted || (!o.ok && !o.failure)) return; // the window closed first: counted in flight
      if (o.ok) {
        ledger.succeed(id, o.at, o.latencyMs ?? o.at - sentAt, o.pod);
        fresh.succeeded++;
      } else {
        ledger.fail(id, o.at, o.failure?.kind ?? "error", { code: o.failure?.code, pod: o.pod });
        fresh.failed++;
      }
      records.push({
        sentAt,
        at: o.at,
        ok: o.ok,
        fresh: true,
        ...(o.clientPort !== undefined ? { clientPort: o.clientPort } : {}),
        ...(o.pod ? { pod: o.pod } : {}),
      });
    });
  };
  if (freshIntervalMs > 0) {
    freshTimer = setInterval(fireFresh, freshIntervalMs);
    // The safety cap bounds it like autocannon's duration.
    setTimeout(() => clearInterval(freshTimer), capSeconds * 1000).unref();
  }
  const stopFresh = () => {
    clearInterval(freshTimer);
    for (const [req, id] of freshOutstanding) {
      ledger.endInFlight(id);
      req.abort();
    }
    freshOutstanding.clear();
  };

  const snapshot = (): LoadSnapshot => ledgerSnapshot(ledger, startedAt, endedAt, connectionAttempts);
  progressTimer = startProgress(hooks, snapshot);

  const finish = async (): Promise<LoadRunResult> => {
    if (!closed) {
      closeWindow("stopped");
      stopFresh();
      for (const c of clients) c.destroy();
      stopAutocannon();
    }
    stopFresh();
    let waitTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      acDone,
      new Promise<void>((r) => {
        waitTimer = setTimeout(r, AUTOCANNON_RESULT_WAIT_MS);
      }),
    ]);
    clearTimeout(waitTimer);
    if (acError !== undefined) {
      throw acError instanceof Error ? acError : new Error(`autocannon failed: ${String(acError)}`);
    }
    if (!acResult) anomaly(`autocannon reported no summary within ${AUTOCANNON_RESULT_WAIT_MS} ms`);

    const base = ledger.result({ target: `${target.host}:${target.port}`, startedAt, endedAt: endedAt ?? Date.now() });
    if (anomalyCount > anomalies.length) anomalies.push(`… ${anomalyCount - anomalies.length} more anomalies`);
    const result: LoadRunResult = {
      ...base,
      autocannon: {
        requests: acResult?.requests.total ?? 0,
        sent: acResult?.requests.sent ?? 0,
        errors: acResult?.errors ?? 0,
        timeouts: acResult?.timeouts ?? 0,
        non2xx: acResult?.non2xx ?? 0,
        resets: acResult?.resets ?? 0,
      },
      endReason,
      connectionAttempts,
      sentByPath: ledger.sentByPath(),
      anomalies,
      fresh: { ...fresh },
    };
    const extra =
      requestEvents + fresh.sent !== result.sent
        ? [
            `autocannon emitted ${requestEvents} 'request' events and ${fresh.sent} fresh requests were sent, ` +
              `the ledger opened ${result.sent}`,
          ]
        : [];
    return checkedResult(ledger, result, extra);
  };

  return loadRun(startedAt, snapshot, finish, records);
}
