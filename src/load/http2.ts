// HTTP/2 load (load.protocol: http2): cleartext h2c with prior knowledge, `connections` long-lived
// connections × at most `streamsPerConnection` concurrent streams (path, or /slow?ms=slowMs for the
// slow share; method, headers — Host as :authority — and body from load.http, GET by default): paced by default (load.rate streams per second handed out by the Pacer to
// connections with a free stream slot), or with load.rate "max" each stream sent again as soon as it
// ends; plus one new connection with one stream every freshConnectionIntervalMs. Node's http2 client.
//
// What a well-behaved HTTP/2 client does, and what is counted:
// - GOAWAY: the connection takes no new stream; a new connection is opened at once (through the
//   Service: balanced anew) while the old one finishes the streams the server accepted.
// - A stream the server refused (REFUSED_STREAM: above the GOAWAY's last stream id, never processed)
//   is sent once more on another connection when load.retryRefused (default true), as grpc-js does
//   transparently; the retry is counted apart (LoadResult.retries). A retry that succeeds is a success.
// - Anything else that ends a stream without a complete answer is a failure of a named kind:
//   goaway-refused (refused, not retried), rst-stream (the server reset it: code), reset / closed
//   (the connection died: RST / FIN), timeout, non-2xx.
import http2, { type ClientHttp2Session, type ClientHttp2Stream } from "node:http2";
import type { LoadOptions } from "../scenario/schema.js";
import { classifySocketError, slowPattern } from "./accounting.js";
import { type HttpRequestShape, httpRequestOf } from "./fresh-request.js";
import {
  afterBackoff,
  type MultiplexOptions,
  multiplexOptions,
  type ProtocolDriver,
  servedByHeader,
  startProtocolLoad,
  type Unit,
  type UnitContext,
} from "./protocol-run.js";
import type { FailureKind, LoadHooks, LoadRun, LoadTarget } from "./types.js";
import { urlHost } from "./window.js";

const { NGHTTP2_REFUSED_STREAM, NGHTTP2_CANCEL, NGHTTP2_NO_ERROR } = http2.constants;

/** HTTP/2 error codes (RFC 9113 §7) by number. */
const H2_ERROR_NAMES: Record<number, string> = {
  0: "NO_ERROR",
  1: "PROTOCOL_ERROR",
  2: "INTERNAL_ERROR",
  3: "FLOW_CONTROL_ERROR",
  4: "SETTINGS_TIMEOUT",
  5: "STREAM_CLOSED",
  6: "FRAME_SIZE_ERROR",
  7: "REFUSED_STREAM",
  8: "CANCEL",
  9: "COMPRESSION_ERROR",
  10: "CONNECT_ERROR",
  11: "ENHANCE_YOUR_CALM",
  12: "INADEQUATE_SECURITY",
  13: "HTTP_1_1_REQUIRED",
};

export function h2ErrorName(code: number): string {
  return H2_ERROR_NAMES[code] ?? `0x${code.toString(16)}`;
}

/** The mix of paths a load sends: path, or /slow?ms=slowMs for the slow share (as http1). */
export function pathMix(opts: Pick<LoadOptions, "path" | "slowShare" | "slowMs">): string[] {
  return slowPattern(opts.slowShare).map((slow) => (slow ? `/slow?ms=${opts.slowMs}` : opts.path));
}

/**
 * One stream's headers: the load's method and headers, Host as :authority (HTTP/2 has no Host header;
 * ingress-style routing reads :authority), header names lower-case as HTTP/2 requires.
 */
export function requestHeaders(shape: HttpRequestShape, path: string): http2.OutgoingHttpHeaders {
  const headers: http2.OutgoingHttpHeaders = { ":method": shape.method, ":path": path };
  for (const [name, value] of Object.entries(shape.headers)) {
    const lower = name.toLowerCase();
    if (lower === "host") headers[":authority"] = value;
    else headers[lower] = value;
  }
  return headers;
}

/** A socket-level error on a connection, as a failure kind (the streams it ended fail with it). */
export function connectionFailure(err: NodeJS.ErrnoException | undefined): { kind: FailureKind; code?: string } {
  // No socket error at all: the server closed the connection.
  return err?.code === undefined ? { kind: "closed" } : classifySocketError(err.code);
}

interface Conn {
  session: ClientHttp2Session;
  connected: boolean;
  clientPort?: number;
  /** The server's GOAWAY, once received: no new stream on this connection. */
  goaway?: { errorCode: number; lastStreamId: number };
  /** Closed or destroyed. */
  dead: boolean;
  /** session.request() threw: the client already knew it takes no new stream. */
  refusing?: boolean;
  /** The socket error that ended it, when one did. */
  socketError?: NodeJS.ErrnoException;
  /** Complete answers received on it. */
  answers: number;
  /** x-served-by of its last answer. */
  pod?: string;
}

interface Slot {
  conn?: Conn;
  /** Streams of this slot outstanding on any of its connections (old ones included). */
  active: number;
  /** Refused units waiting to be sent again. */
  retryQueue: Unit[];
  /** Connections in a row that ended without a single answer. */
  deadStreak: number;
  reconnectTimer?: NodeJS.Timeout;
  next: number;
}

/** The connection will never take another stream: a new one is needed. */
const finished = (c: Conn | undefined): boolean =>
  c === undefined || c.refusing || c.goaway !== undefined || c.dead || c.session.closed || c.session.destroyed;
/** It takes streams now. */
const usable = (c: Conn | undefined): c is Conn => c?.connected === true && !finished(c);

/** What a stream showed before it closed. */
interface StreamSeen {
  status?: number;
  pod?: string;
  streamError?: NodeJS.ErrnoException;
  ended: boolean;
}

/** The HTTP/2 connections of one load: `connections` slots of streams, and the fresh connections' streams. */
class Http2Driver implements ProtocolDriver {
  private readonly mux: MultiplexOptions;
  private readonly paths: string[];
  private readonly shape: HttpRequestShape;
  private readonly authority: string;
  private readonly slots: Slot[] = [];
  private readonly sessions = new Set<ClientHttp2Session>();

  constructor(
    private readonly ctx: UnitContext,
    target: LoadTarget,
    private readonly opts: LoadOptions,
    hooks: LoadHooks,
  ) {
    this.mux = multiplexOptions(opts, hooks);
    this.paths = pathMix(opts);
    this.shape = httpRequestOf(opts);
    this.authority = `http://${urlHost(target.host)}:${target.port}`;
  }

  start(): void {
    for (let i = 0; i < this.opts.connections; i++) {
      const slot: Slot = { active: 0, retryQueue: [], deadStreak: 0, next: i };
      this.slots.push(slot);
      this.reconnect(slot);
    }
  }

  fresh(): Promise<void> {
    const ctx = this.ctx;
    return new Promise<void>((resolve) => {
      const conn = this.connect();
      const path = this.paths[Math.floor(Math.random() * this.paths.length)] as string;
      const finish = () => {
        conn.session.close();
        resolve();
      };
      const onDone = ({ unit, refused }: { unit: Unit; refused: boolean }) => {
        // A refused fresh stream is not retried: its connection was the point.
        if (refused && !unit.settled) {
          ctx.fail(unit, conn.goaway ? "goaway-refused" : "rst-stream", {
            code: conn.goaway ? undefined : "REFUSED_STREAM",
            clientPort: conn.clientPort,
          });
        }
        finish();
      };
      if (!this.send(conn, path, undefined, onDone, true)) finish();
    });
  }

  trySend(lane: number, intendedAt: number): boolean {
    const slot = this.slots[lane];
    const c = slot?.conn;
    if (!slot || this.ctx.closed || !usable(c) || slot.active >= this.mux.perConnection || slot.retryQueue.length > 0) {
      return false;
    }
    return this.sendOn(slot, c, undefined, intendedAt);
  }

  destroy(): void {
    for (const slot of this.slots) clearTimeout(slot.reconnectTimer);
    for (const s of this.sessions) s.destroy();
    this.sessions.clear();
  }

  private connect(): Conn {
    const ctx = this.ctx;
    ctx.connectionAttempt();
    const session = http2.connect(this.authority, { settings: { enablePush: false } });
    this.sessions.add(session);
    const c: Conn = { session, connected: false, dead: false, answers: 0 };
    session.on("connect", () => {
      c.connected = true;
      c.clientPort = session.socket?.localPort;
    });
    session.on("goaway", (errorCode: number, lastStreamId: number) => {
      // Node reports a second GOAWAY when the server closes the connection: the first one counts.
      if (c.goaway) return;
      c.goaway = { errorCode, lastStreamId };
      ctx.goaway({ at: Date.now(), clientPort: c.clientPort, errorCode, lastStreamId, pod: c.pod });
    });
    session.on("error", (err: NodeJS.ErrnoException) => {
      c.socketError ??= err;
    });
    session.on("close", () => {
      c.dead = true;
      this.sessions.delete(session);
    });
    return c;
  }

  /**
   * Sends one stream for `u` (a new unit when undefined) on `c`; settles it when it ends. Returns
   * false when the connection cannot take a stream any more (nothing was sent).
   */
  private send(
    c: Conn,
    path: string,
    u: Unit | undefined,
    done: (outcome: { unit: Unit; refused: boolean }) => void,
    fresh = false,
    intendedAt?: number,
  ): boolean {
    const ctx = this.ctx;
    let stream: ClientHttp2Stream;
    try {
      stream = c.session.request(requestHeaders(this.shape, path));
    } catch {
      // ERR_HTTP2_GOAWAY_SESSION / ERR_HTTP2_INVALID_SESSION: the client knew; nothing was sent.
      c.refusing = true;
      return false;
    }
    const unit = u ?? ctx.open(path, fresh, intendedAt);
    if (!unit) {
      stream.close(NGHTTP2_CANCEL);
      return true;
    }
    const seen: StreamSeen = { ended: false };
    const timer = setTimeout(() => {
      ctx.fail(unit, "timeout", { pod: seen.pod, clientPort: c.clientPort });
      stream.close(NGHTTP2_CANCEL);
    }, ctx.timeoutMs);
    stream.on("response", (headers) => {
      seen.status = Number(headers[":status"]);
      seen.pod = servedByHeader(headers["x-served-by"]);
      if (seen.pod) c.pod = seen.pod;
    });
    stream.on("data", () => {});
    stream.on("end", () => {
      seen.ended = true;
    });
    stream.on("error", (err: NodeJS.ErrnoException) => {
      seen.streamError = err;
    });
    stream.on("close", () => {
      clearTimeout(timer);
      const refused = this.settleStream(c, unit, stream.rstCode, seen);
      done({ unit, refused: refused && !unit.settled });
    });
    stream.end(this.shape.body);
    return true;
  }

  /** Settles a closed stream's unit by how it ended; true when the server refused it (never processed). */
  private settleStream(c: Conn, unit: Unit, rst: number | undefined, seen: StreamSeen): boolean {
    const ctx = this.ctx;
    const { status, pod, streamError } = seen;
    if (seen.ended && status !== undefined) {
      c.answers++;
      if (status >= 200 && status < 300) ctx.succeed(unit, { pod, clientPort: c.clientPort });
      else ctx.fail(unit, "non-2xx", { code: status, pod, clientPort: c.clientPort });
      return false;
    }
    if (unit.settled) return false;
    if (rst === NGHTTP2_REFUSED_STREAM) {
      // Never processed: safe to send again (RFC 9113 §8.7).
      if (!(this.mux.retryRefused && !unit.retried && !ctx.closed)) {
        ctx.fail(unit, c.goaway ? "goaway-refused" : "rst-stream", {
          code: c.goaway ? undefined : h2ErrorName(rst),
          clientPort: c.clientPort,
          pod,
        });
      }
      return true;
    }
    if (streamError?.code === "ERR_HTTP2_STREAM_ERROR" && rst !== undefined && rst !== NGHTTP2_NO_ERROR) {
      // The server reset this stream (RST_STREAM), or its GOAWAY carried an error code.
      ctx.fail(unit, "rst-stream", { code: h2ErrorName(rst), clientPort: c.clientPort, pod });
      return false;
    }
    // The connection ended under the stream (or never opened): a socket error — the stream's
    // ERR_HTTP2_STREAM_CANCEL carries it as its cause — or the server's FIN.
    const cause = (streamError as { cause?: NodeJS.ErrnoException } | undefined)?.cause;
    const f = connectionFailure(c.socketError ?? (cause?.code ? cause : undefined));
    ctx.fail(unit, f.kind, { code: f.code, clientPort: c.clientPort, pod });
    return false;
  }

  /** A new connection for the slot, unless its current one is still usable or being opened. */
  private reconnect(slot: Slot): void {
    if (this.ctx.closed || slot.reconnectTimer || !finished(slot.conn)) return;
    const prev = slot.conn;
    if (prev && prev.answers === 0) slot.deadStreak++;
    else if (prev) slot.deadStreak = 0;
    const open = () => {
      slot.reconnectTimer = undefined;
      if (this.ctx.closed) return;
      const c = this.connect();
      slot.conn = c;
      c.session.on("connect", () => this.pump(slot));
      c.session.on("goaway", () => {
        if (slot.conn === c) this.reconnect(slot);
      });
      c.session.on("close", () => {
        if (slot.conn === c) this.reconnect(slot);
      });
    };
    slot.reconnectTimer = afterBackoff(slot.deadStreak, this.mux.backoff, open);
  }

  /** Sends one stream of the slot on c (a retry, or a new unit due at intendedAt); false when c took none. */
  private sendOn(slot: Slot, c: Conn, retry: Unit | undefined, intendedAt?: number): boolean {
    const path = retry?.path ?? (this.paths[slot.next++ % this.paths.length] as string);
    const onDone = ({ unit, refused }: { unit: Unit; refused: boolean }) => {
      slot.active--;
      if (refused && !unit.settled) {
        this.ctx.retry(unit);
        slot.retryQueue.push(unit);
      }
      // A new connection may be needed first (the refusal came with the GOAWAY): pump waits for it.
      this.reconnect(slot);
      this.pump(slot);
    };
    if (!this.send(c, path, retry, onDone, false, intendedAt)) {
      if (retry) slot.retryQueue.unshift(retry);
      this.reconnect(slot);
      return false;
    }
    slot.active++;
    return true;
  }

  /**
   * Fills the slot's free stream slots: closed loop, with new streams at once; paced, with its
   * retries only — new units come from the pacer (trySend), told here that the slot has room.
   */
  private pump(slot: Slot): void {
    while (!this.ctx.closed && slot.active < this.mux.perConnection) {
      const c = slot.conn;
      if (!usable(c)) return; // connecting: pumped again on connect
      const retry = slot.retryQueue.shift();
      if (!retry && this.ctx.paced) {
        this.ctx.laneFree();
        return;
      }
      if (!this.sendOn(slot, c, retry)) return;
    }
  }
}

export function startHttp2Load(target: LoadTarget, opts: LoadOptions, hooks: LoadHooks = {}): LoadRun {
  return startProtocolLoad("http2", target, opts, (ctx) => new Http2Driver(ctx, target, opts, hooks), hooks);
}
