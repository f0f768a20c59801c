// One autocannon Client, instrumented so that EVERY request it writes is accounted for exactly once —
// a success, a failure of a named kind, or in flight when the window closed.
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
//
// Paced (load.rate a number): autocannon's own rate options (connectionRate / overallRate) are not
// used: they let a client send back to back until its per-second budget is spent, then pause until
// the next whole second (httpClient.js: reqsMadeThisSecond, a 1 s setInterval) — bursts, not a
// constant arrival rate — and its latencies count from the actual write, so a request held back
// by a slow answer hides the wait (coordinated omission). Instead the client writes only when the
// Pacer hands it a unit (trySend), and the latency counts from that unit's intended time.
import type { Socket } from "node:net";
import { performance } from "node:perf_hooks";
import type { LoadOptions } from "../scenario/schema.js";
import { classifySocketError, headerValue, type RequestLedger } from "./accounting.js";
import { type BackoffPolicy, backoffDelayMs } from "./backoff.js";
import type { FailureKind } from "./types.js";

/** What an instrumented client needs from its load window. */
export interface Http1Window {
  readonly opts: LoadOptions;
  readonly ledger: RequestLedger;
  readonly timeoutMs: number;
  readonly backoff: BackoffPolicy;
  /** Paced: requests go only when the pacer hands one over (trySend). */
  readonly paced: boolean;
  isClosed(): boolean;
  /** autocannon destroyed a client on its own: its duration (the safety cap) ran out. */
  capReached(): void;
  record(r: { sentAtMs: number; ss?: { localPort?: number }; pod?: string }, at: number, ok: boolean): void;
  anomaly(what: string): void;
  connectionAttempt(): void;
  /** autocannon emitted a 'request' event. */
  requestEvent(): void;
  /** Paced: this client's connection is free for the next unit. */
  laneFree(): void;
}

/** A client as a lane of the pacer. */
export interface PacedLane {
  /** Writes one request now if the client can take it (connected or connecting, nothing outstanding). */
  trySend(intendedAt: number): boolean;
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

export interface InternalClient {
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
  /** performance.now() its latency counts from: when written (closed loop), its intended time (paced). */
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

/** What the pieces of one instrumented client share. */
interface ClientCx {
  client: InternalClient;
  w: Http1Window;
  Parser: HttpParserClass;
  k: { headers: number; headersComplete: number; body: number; complete: number };
  /** autocannon's parser callbacks (set in its constructor, after setupClient): captured on the first connect. */
  ac?: Record<"headers" | "headersComplete" | "body" | "complete", ParserCallback>;
  orig: Pick<InternalClient, "_connect" | "_doRequest" | "_destroyConnection" | "destroy">;
  st: {
    sock?: SocketState;
    req?: Outstanding;
    /** Connections in a row that died without a single response. */
    deadStreak: number;
    reconnectTimer?: NodeJS.Timeout;
    /** Don't write the next request on this socket (Connection: close, keepAlive=false). */
    reconnectBeforeNext: boolean;
    /** autocannon's timer fired while idle on a healthy socket: ignore the reconnect it asks for. */
    skipNextConnect: boolean;
    /** Inside autocannon's _connect: the socket it just created has no state yet. */
    connecting: boolean;
  };
}

export function instrumentClient(client: InternalClient, w: Http1Window): PacedLane {
  // autocannon refuses timeout < 1 s in its options; the client's own value is what its timer uses.
  client.timeout = w.timeoutMs;
  client.on("request", () => {
    w.requestEvent();
  });
  if (!w.opts.keepAlive) useConnectionClose(client);
  const Parser = client.parser.constructor as unknown as HttpParserClass;
  const cx: ClientCx = {
    client,
    w,
    Parser,
    k: {
      headers: Parser.kOnHeaders,
      headersComplete: Parser.kOnHeadersComplete,
      body: Parser.kOnBody,
      complete: Parser.kOnMessageComplete,
    },
    orig: {
      _connect: client._connect,
      _doRequest: client._doRequest,
      _destroyConnection: client._destroyConnection,
      destroy: client.destroy,
    },
    st: { deadStreak: 0, reconnectBeforeNext: false, skipNextConnect: false, connecting: false },
  };
  client._connect = () => connect(cx);
  client._doRequest = (...args: unknown[]) => doRequest(cx, args);
  client._destroyConnection = () => destroyConnection(cx);
  client.destroy = () => destroyClient(cx);
  return {
    trySend(intendedAt: number): boolean {
      if (cx.st.req) return false;
      const ss = writableSocket(cx);
      return ss !== undefined && write(cx, ss, [], intendedAt);
    },
  };
}

/** keepAlive false: autocannon always writes "Connection: keep-alive"; adding a header would send both. */
function useConnectionClose(client: InternalClient): void {
  for (const r of client.requestIterator.requests) {
    if (!r.requestBuffer) continue;
    const text = r.requestBuffer.toString("latin1");
    const replaced = text.replace("\r\nConnection: keep-alive\r\n", "\r\nConnection: close\r\n");
    if (replaced === text) throw new Error("autocannon request has no Connection: keep-alive line to replace");
    r.requestBuffer = Buffer.from(replaced, "latin1");
  }
}

function live(cx: ClientCx): boolean {
  return !cx.w.isClosed() && !cx.client.destroyed;
}

function isCurrent(cx: ClientCx, ss: SocketState): boolean {
  return cx.st.sock === ss && !ss.retired;
}

function settleFailure(cx: ClientCx, kind: FailureKind, code?: string | number): void {
  const r = cx.st.req;
  if (!r) return;
  cx.st.req = undefined;
  const at = Date.now();
  cx.w.ledger.fail(r.id, at, kind, { code, pod: r.pod });
  cx.w.record(r, at, false);
}

function retire(ss: SocketState): void {
  if (ss.retired) return;
  ss.retired = true;
  const s = ss.sock;
  s.removeAllListeners("data");
  s.removeAllListeners("end");
  s.removeAllListeners("error");
  s.on("error", noop);
  s.destroy();
}

function makeParser(cx: ClientCx, ss: SocketState): HttpParser {
  const cbs = cx.ac;
  if (!cbs) throw new Error("autocannon parser callbacks not captured");
  const p = new cx.Parser(cx.Parser.RESPONSE);
  const current = () => live(cx) && isCurrent(cx, ss) && cx.client.parser === p;
  p[cx.k.headers] = cbs.headers;
  p[cx.k.headersComplete] = (info: unknown) => {
    if (!current()) return undefined;
    const r = cx.st.req;
    const h = info as HeadersInfo;
    ss.lastStatus = h.statusCode;
    if (r && r.ss === ss) {
      r.status = h.statusCode;
      r.pod = headerValue(h.headers, "x-served-by");
      r.keepAlive = h.shouldKeepAlive !== false;
    }
    return cbs.headersComplete(info);
  };
  p[cx.k.body] = (...args: unknown[]) => (current() ? cbs.body(...args) : undefined);
  p[cx.k.complete] = () => {
    if (!current()) return undefined;
    const r = cx.st.req;
    if (!r || r.ss !== ss) {
      // A response nobody asked for (e.g. a 408 before an idle close): never count it, and
      // don't trust this connection for the next request.
      cx.w.anomaly(`unsolicited response (status ${ss.lastStatus ?? "?"}) ignored`);
      cx.st.reconnectBeforeNext = true;
      return undefined;
    }
    cx.st.req = undefined;
    ss.responses++;
    cx.st.deadStreak = 0;
    const at = Date.now();
    const status = r.status ?? 0;
    if (status >= 200 && status < 300) cx.w.ledger.succeed(r.id, at, performance.now() - r.t0, r.pod);
    else cx.w.ledger.fail(r.id, at, "non-2xx", { code: status, pod: r.pod });
    cx.w.record(r, at, status >= 200 && status < 300);
    if (!r.keepAlive || !cx.w.opts.keepAlive) cx.st.reconnectBeforeNext = true;
    if (cx.client.pipelinedRequests.size() === 0) {
      // autocannon's handler would dereference an empty queue; go on without its stats.
      cx.w.anomaly("response with autocannon's request queue empty");
      cx.client._doRequest();
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
      cx.w.anomaly(`unparseable response: ${ret.message}`);
      if (cx.st.req?.ss === ss) settleFailure(cx, "error", errorCode(ret) ?? "HPE_INVALID");
      cx.client._connect();
    }
    return ret;
  };
  return p;
}

/** Take over the socket autocannon just created: fresh parser, our listeners in front of its. */
function adopt(cx: ClientCx, sock: Socket): SocketState {
  const ss: SocketState = { sock, responses: 0, retired: false, ended: false, localPort: sock.localPort };
  if (ss.localPort === undefined) {
    sock.once("connect", () => {
      ss.localPort = sock.localPort;
    });
  }
  cx.st.sock = ss;
  ss.parser = makeParser(cx, ss);
  cx.client.parser = ss.parser;
  const acError = sock.listeners("error") as Listener[];
  const acData = sock.listeners("data") as Listener[];
  const acEnd = sock.listeners("end") as Listener[];
  sock.removeAllListeners("error");
  sock.removeAllListeners("data");
  sock.removeAllListeners("end");
  sock.on("error", (err: Error) => {
    if (!live(cx) || !isCurrent(cx, ss)) return;
    if (cx.st.req?.ss === ss) {
      const c = classifySocketError(errorCode(err));
      settleFailure(cx, c.kind, c.code);
    }
    // autocannon: counts a connError, reconnects (through our _connect: backoff).
    for (const l of acError) l.call(sock, err);
  });
  sock.on("data", (chunk: Buffer) => {
    if (!live(cx) || !isCurrent(cx, ss)) return;
    for (const l of acData) l.call(sock, chunk);
  });
  sock.on("end", () => {
    if (!live(cx) || !isCurrent(cx, ss)) return;
    ss.ended = true;
    if (cx.st.req?.ss === ss) {
      // A body delimited by the close completes here (reconnecting from its completion).
      try {
        ss.parser?.finish();
      } catch (err) {
        cx.w.anomaly(`finishing a response at EOF: ${(err as Error).message}`);
      }
      if (cx.st.req?.ss === ss) settleFailure(cx, "closed");
    }
    // autocannon: reconnects (skipped if the completion above already did).
    if (isCurrent(cx, ss)) for (const l of acEnd) l.call(sock);
  });
  sock.on("close", () => {
    if (!live(cx) || !isCurrent(cx, ss)) return;
    // Closed without 'end' or 'error' having reached us.
    if (cx.st.req?.ss === ss) settleFailure(cx, "closed");
    cx.client._connect();
  });
  return ss;
}

function connectNow(cx: ClientCx): void {
  if (!live(cx)) return;
  cx.ac ??= {
    headers: cx.client.parser[cx.k.headers] ?? noop,
    headersComplete: cx.client.parser[cx.k.headersComplete] ?? noop,
    body: cx.client.parser[cx.k.body] ?? noop,
    complete: cx.client.parser[cx.k.complete] ?? noop,
  };
  cx.st.reconnectBeforeNext = false;
  // Never match a response on the new socket to a request of the old one.
  cx.client.pipelinedRequests.clear();
  cx.w.connectionAttempt();
  cx.st.connecting = true;
  try {
    cx.orig._connect.call(cx.client);
  } finally {
    cx.st.connecting = false;
  }
  // The first request was normally written (and the socket adopted) inside autocannon's
  // _connect; not when the rate limit held it back.
  if (cx.st.sock?.sock !== cx.client.conn) adopt(cx, cx.client.conn);
}

/** autocannon's _connect: retire the old socket (settling its request), then reconnect with backoff. */
function connect(cx: ClientCx): void {
  if (!live(cx)) return;
  if (cx.st.skipNextConnect) {
    cx.st.skipNextConnect = false;
    return;
  }
  if (cx.st.reconnectTimer) return; // a reconnect is already scheduled
  const prev = cx.st.sock;
  if (prev) {
    cx.st.sock = undefined;
    if (cx.st.req?.ss === prev) {
      cx.w.anomaly("reconnect with a request outstanding and no socket event: counted as closed");
      const r = cx.st.req;
      cx.st.req = undefined;
      const at = Date.now();
      cx.w.ledger.fail(r.id, at, "closed", { pod: r.pod });
      cx.w.record(r, at, false);
    }
    if (prev.responses === 0) cx.st.deadStreak++;
    retire(prev);
  }
  const delay = backoffDelayMs(cx.st.deadStreak, cx.w.backoff);
  if (delay > 0) {
    cx.st.reconnectTimer = setTimeout(() => {
      cx.st.reconnectTimer = undefined;
      connectNow(cx);
    }, delay);
    return;
  }
  connectNow(cx);
}

/** The socket the next request may go on now (Connection: close honoured first); undefined when none. */
function writableSocket(cx: ClientCx): SocketState | undefined {
  if (!live(cx) || cx.st.reconnectTimer) return undefined;
  let ss = cx.st.sock;
  if (cx.st.connecting && ss?.sock !== cx.client.conn) ss = adopt(cx, cx.client.conn);
  if (!ss) return undefined;
  if (cx.st.reconnectBeforeNext || ss.ended || ss.retired || ss.sock.destroyed) {
    if (cx.st.connecting) {
      cx.w.anomaly("fresh connection unusable before its first request");
      return undefined;
    }
    // Honour Connection: close (and keepAlive=false): the next request goes on a new connection.
    cx.st.reconnectBeforeNext = false;
    cx.client._connect();
    return undefined;
  }
  return ss;
}

/** Writes the next request through autocannon; its latency counts from intendedAt when paced. */
function write(cx: ClientCx, ss: SocketState, args: unknown[], intendedAt?: number): boolean {
  if (cx.st.req) {
    cx.w.ledger.violation(`a request was written while request #${cx.st.req.id} was still outstanding`);
    return false;
  }
  const before = cx.client.reqsMade;
  cx.orig._doRequest.apply(cx.client, args);
  if (cx.client.reqsMade === before) return false;
  const path = cx.client.requestIterator.currentRequest?.path ?? cx.w.opts.path;
  const sentAtMs = Date.now();
  const t0 = intendedAt ?? performance.now();
  cx.st.req = { id: cx.w.ledger.openRequest(path, sentAtMs), ss, t0, sentAtMs, keepAlive: true };
  return true;
}

// autocannon asks for the next request after every answer and on every connect. Closed loop: it
// goes at once. Paced: this connection is free now; the pacer decides when the next one goes.
function doRequest(cx: ClientCx, args: unknown[]): void {
  const ss = writableSocket(cx);
  if (!ss) return;
  if (!cx.w.paced) write(cx, ss, args);
  else if (!cx.st.req) cx.w.laneFree();
}

function destroyConnection(cx: ClientCx): void {
  if (live(cx)) {
    // While running, only autocannon's request timer calls this (reconnectRate is not used),
    // followed by _connect() and a 'timeout' event.
    const ss = cx.st.sock;
    if (cx.st.req && ss && cx.st.req.ss === ss) {
      settleFailure(cx, "timeout");
      retire(ss);
    } else if (!cx.st.req && ss && !ss.retired && !ss.ended && !ss.sock.destroyed) {
      // Idle (rate limit pause): the timer is not about any request; keep the connection.
      cx.st.skipNextConnect = true;
      queueMicrotask(() => {
        cx.st.skipNextConnect = false;
      });
      return;
    }
  }
  cx.orig._destroyConnection.call(cx.client);
}

function destroyClient(cx: ClientCx): void {
  if (!cx.client.destroyed) {
    // autocannon destroying its clients without stop(): its duration (the safety cap) ran out.
    if (!cx.w.isClosed()) cx.w.capReached();
    if (cx.st.req) {
      cx.w.ledger.endInFlight(cx.st.req.id);
      cx.st.req = undefined;
    }
    if (cx.st.reconnectTimer) {
      clearTimeout(cx.st.reconnectTimer);
      cx.st.reconnectTimer = undefined;
    }
  }
  cx.orig.destroy.call(cx.client);
}
