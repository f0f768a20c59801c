// WebSocket load (load.protocol: websocket, the `ws` package): `connections` long-lived sockets to
// ws://target{path}, each sending one message every messageIntervalMs (connections × 1000 / load.rate) — {"id":N} or, for the slow
// share, {"id":N,"delayMs":slowMs}, which the sample app echoes after that delay, or load.websocket.send's
// text — whether or not the previous answer came back; plus one new socket with one message every
// freshConnectionIntervalMs. A closed socket is opened again at once (with backoff while opening fails);
// ticks while it is not open are skipped (counted).
//
// The unit is the message: it succeeds when its answer comes back — its echo (expect echo: matched by
// id, or a text of yours by equality, oldest first), or any message (expect any, oldest first); it
// fails when its socket closes first — ws-abnormal when the close was abnormal (1006: no close frame,
// the connection was cut), ws-lost when it was clean (e.g. 1001 going away: the server said goodbye
// without answering it) — or with no answer within requestTimeoutSeconds (timeout). Every close is
// also reported per socket (code, messages lost, reconnect gap): a 1001 that lost nothing is not a
// failure.
//
// A server that only pushes (expect none): nothing is sent. Every tick each open socket opens one unit
// that the next message on that socket (a push) settles as a success; no push within
// requestTimeoutSeconds is a timeout; a close other than 1000 / 1001 fails the socket's waiting units
// (ws-abnormal, ws-lost with its code). A 1000 / 1001 close is the server's goodbye: the socket
// reconnects and its waiting units are settled by the first push on the new socket (or time out).
import WebSocket from "ws";
import type { LoadOptions } from "../scenario/schema.js";
import { DEFAULT_MESSAGE_INTERVAL_MS, loadRate } from "../scenario/schema.js";
import { classifyRequestError, slowPattern } from "./accounting.js";
import { type BackoffPolicy, DEFAULT_BACKOFF } from "./backoff.js";
import {
  afterBackoff,
  type ProtocolDriver,
  servedByHeader,
  startProtocolLoad,
  type Unit,
  type UnitContext,
} from "./protocol-run.js";
import type { FailureKind, LoadHooks, LoadRun, LoadTarget, WebSocketClose, WebSocketReport } from "./types.js";
import { urlHost } from "./window.js";

/** The close code ws reports when the connection ended without a close frame. */
export const ABNORMAL_CLOSE = 1006;

/** How often outstanding messages are checked against the timeout. */
const TIMEOUT_SWEEP_MS = 100;

/** A socket that never opened, as a failure kind. */
export function classifyOpenFailure(
  err: Error | undefined,
  status: number | undefined,
): {
  kind: FailureKind;
  code?: string | number;
} {
  if (status !== undefined) return { kind: "non-2xx", code: status };
  const failure = classifyRequestError(err);
  // An error without a code (ws' own "Unexpected server response"...) is named by its message.
  return failure.kind === "error" && failure.code === "UNKNOWN" && err?.message
    ? { kind: "error", code: err.message }
    : failure;
}

/** The echo's message id, when the echo is one of ours. */
export function echoId(data: WebSocket.RawData): number | undefined {
  try {
    const id = (JSON.parse(data.toString()) as { id?: unknown }).id;
    return typeof id === "number" ? id : undefined;
  } catch {
    return undefined;
  }
}

/** Close codes a push-only server says goodbye with (normal, going away): not failures. */
export const GOODBYE_CLOSES: readonly number[] = [1000, 1001];

/** The unit of a push-only socket (expect none). */
export const PUSH_PATH = "push";

/**
 * The outstanding units an incoming message settles: its echo by id (the default message), the
 * oldest one (a text of yours echoed, or expect any), or every one (expect none: a push answers all).
 */
export function answeredBy(
  outstanding: ReadonlyMap<number, Outstanding>,
  data: WebSocket.RawData,
  expect: "echo" | "any" | "none",
  send: string | undefined,
): Outstanding[] {
  if (expect === "none") return [...outstanding.values()];
  if (expect === "echo" && send === undefined) {
    const id = echoId(data);
    const o = id === undefined ? undefined : outstanding.get(id);
    return o ? [o] : [];
  }
  if (expect === "echo" && data.toString() !== send) return [];
  const oldest = outstanding.values().next().value;
  return oldest ? [oldest] : [];
}

export interface Outstanding {
  unit: Unit;
  sentAtMs: number;
}

interface SocketSlot {
  ws?: WebSocket;
  open: boolean;
  pod?: string;
  clientPort?: number;
  outstanding: Map<number, Outstanding>;
  /** The last close of this slot, waiting for the next open (its reconnect gap). */
  lastClose?: WebSocketClose;
  /** Opens in a row that failed. */
  failedStreak: number;
  reconnectTimer?: NodeJS.Timeout;
  tick?: NodeJS.Timeout;
  next: number;
}

/** The WebSocket sockets of one load: `connections` slots, each on its own clock, and the fresh sockets. */
class WebSocketDriver implements ProtocolDriver {
  private readonly intervalMs: number;
  private readonly backoff: BackoffPolicy;
  private readonly slow: boolean[];
  private readonly url: string;
  private readonly expect: "echo" | "any" | "none";
  private readonly send: string | undefined;
  private readonly slots: SocketSlot[] = [];
  private readonly freshSockets = new Set<WebSocket>();
  private readonly report: WebSocketReport;
  private sweep: NodeJS.Timeout | undefined;

  constructor(
    private readonly ctx: UnitContext,
    target: LoadTarget,
    private readonly opts: LoadOptions,
    hooks: LoadHooks,
  ) {
    // Each socket sends on its own clock: the rate spread over the sockets (open loop by design).
    const rate = loadRate(opts);
    this.intervalMs =
      rate === "max"
        ? (opts.messageIntervalMs ?? DEFAULT_MESSAGE_INTERVAL_MS)
        : Math.max(1, Math.round((opts.connections * 1000) / rate));
    this.backoff = hooks.backoff ?? DEFAULT_BACKOFF;
    this.slow = slowPattern(opts.slowShare);
    this.url = `ws://${urlHost(target.host)}:${target.port}${opts.path}`;
    this.expect = opts.websocket?.expect ?? "echo";
    this.send = opts.websocket?.send;
    this.report = { sockets: opts.connections, closes: [], closesByCode: {}, skippedTicks: 0, failedOpens: 0 };
  }

  start(): void {
    const { connections } = this.opts;
    for (let i = 0; i < connections; i++) {
      const slot: SocketSlot = { open: false, outstanding: new Map(), failedStreak: 0, next: i };
      this.slots.push(slot);
      this.connect(slot);
      // Staggered: the sockets' messages spread over the interval.
      const start = setTimeout(
        () => {
          this.tick(slot);
          slot.tick = setInterval(() => this.tick(slot), this.intervalMs);
        },
        Math.round((i * this.intervalMs) / connections),
      );
      slot.tick = start;
    }
    this.sweep = setInterval(() => this.sweepTimeouts(), TIMEOUT_SWEEP_MS);
  }

  fresh(): Promise<void> {
    const { ctx: c, expect } = this;
    return new Promise<void>((resolve) => {
      const m = this.message(Math.floor(Math.random() * this.slow.length));
      const unit = c.open(expect === "none" ? PUSH_PATH : m.path, true);
      if (!unit) return resolve();
      const ws = this.newSocket();
      this.freshSockets.add(ws);
      const seen: FreshSocketSeen = { opened: false };
      const timer = setTimeout(() => {
        c.fail(unit, "timeout", { pod: seen.pod, clientPort: seen.clientPort });
        ws.terminate();
      }, c.timeoutMs);
      ws.on("upgrade", (res) => {
        seen.pod = servedByHeader(res.headers["x-served-by"]);
        seen.clientPort = res.socket.localPort;
      });
      ws.on("unexpected-response", (_req, res) => {
        seen.status = res.statusCode;
        res.resume();
        ws.terminate();
      });
      ws.on("open", () => {
        seen.opened = true;
        if (expect !== "none") ws.send(m.payload(unit.id), () => {});
      });
      ws.on("message", (data) => {
        const waiting = new Map([[unit.id, { unit, sentAtMs: unit.sentAt }]]);
        if (answeredBy(waiting, data, expect, this.send).length === 0) return;
        c.succeed(unit, { pod: seen.pod, clientPort: seen.clientPort });
        ws.close(1000);
      });
      ws.on("error", (err) => {
        seen.openError ??= err;
      });
      ws.on("close", (code: number) => {
        clearTimeout(timer);
        this.freshSockets.delete(ws);
        if (!unit.settled) this.failFresh(unit, code, seen);
        resolve();
      });
    });
  }

  destroy(): void {
    clearInterval(this.sweep);
    for (const slot of this.slots) {
      clearTimeout(slot.reconnectTimer);
      clearTimeout(slot.tick);
      clearInterval(slot.tick);
      slot.ws?.terminate();
    }
    for (const ws of this.freshSockets) ws.terminate();
    this.freshSockets.clear();
  }

  websocket(): WebSocketReport {
    return { ...this.report, closes: this.report.closes.map((c) => ({ ...c })) };
  }

  /** A tick whose socket was not open sends nothing: a message not sent. */
  pacing(): { late: number; notSent: number } {
    return { late: 0, notSent: this.report.skippedTicks };
  }

  private newSocket(): WebSocket {
    this.ctx.connectionAttempt();
    return new WebSocket(this.url, { perMessageDeflate: false, handshakeTimeout: this.ctx.timeoutMs });
  }

  private message(slotNext: number): { path: string; payload: (id: number) => string } {
    const { send, opts } = this;
    if (send !== undefined) return { path: "message", payload: () => send };
    const isSlow = this.slow[slotNext % this.slow.length] === true;
    return isSlow
      ? { path: `message (delayMs ${opts.slowMs})`, payload: (id) => JSON.stringify({ id, delayMs: opts.slowMs }) }
      : { path: "message", payload: (id) => JSON.stringify({ id }) };
  }

  private connect(slot: SocketSlot): void {
    const ctx = this.ctx;
    slot.reconnectTimer = undefined;
    if (ctx.closed) return;
    const ws = this.newSocket();
    slot.ws = ws;
    const life = { opened: false };
    ws.on("upgrade", (res) => {
      slot.pod = servedByHeader(res.headers["x-served-by"]);
      slot.clientPort = res.socket.localPort;
    });
    ws.on("open", () => {
      life.opened = true;
      slot.open = true;
      slot.failedStreak = 0;
      if (slot.lastClose) {
        slot.lastClose.reconnectGapMs = Date.now() - slot.lastClose.at;
        slot.lastClose = undefined;
      }
    });
    ws.on("message", (data) => {
      const answered = answeredBy(slot.outstanding, data, this.expect, this.send);
      if (answered.length === 0) {
        // A push with nothing waiting is a push-only server's normal (it pushes faster than the ticks).
        if (!ctx.closed && this.expect !== "none") {
          ctx.anomaly(`an answer nobody waits for (late or unknown): ${data.toString().slice(0, 60)}`);
        }
        return;
      }
      for (const o of answered) {
        slot.outstanding.delete(o.unit.id);
        ctx.succeed(o.unit, { pod: slot.pod, clientPort: slot.clientPort });
      }
    });
    ws.on("error", () => {
      // 'close' follows; an open that failed is counted there.
    });
    ws.on("close", (code: number) => {
      if (slot.ws === ws) this.onClose(slot, code, life.opened);
    });
  }

  /** A slot's socket closed: its waiting units fail (or wait for the next push), the close is reported, it reconnects. */
  private onClose(slot: SocketSlot, code: number, opened: boolean): void {
    const ctx = this.ctx;
    slot.open = false;
    const at = Date.now();
    const kind: FailureKind = code === ABNORMAL_CLOSE ? "ws-abnormal" : "ws-lost";
    // Push-only: a goodbye (1000 / 1001) hands the waiting units to the next socket.
    const carried = this.expect === "none" && GOODBYE_CLOSES.includes(code);
    const lost = carried ? 0 : slot.outstanding.size;
    if (!carried) {
      for (const o of slot.outstanding.values()) {
        ctx.fail(o.unit, kind, { code, pod: slot.pod, clientPort: slot.clientPort });
      }
      slot.outstanding.clear();
    }
    if (ctx.closed) return;
    if (opened) {
      const c: WebSocketClose = { at, code, lost };
      if (slot.pod) c.pod = slot.pod;
      if (slot.clientPort !== undefined) c.clientPort = slot.clientPort;
      this.report.closes.push(c);
      this.report.closesByCode[String(code)] = (this.report.closesByCode[String(code)] ?? 0) + 1;
      slot.lastClose = c;
    } else {
      this.report.failedOpens++;
      slot.failedStreak++;
    }
    slot.reconnectTimer = afterBackoff(slot.failedStreak, this.backoff, () => this.connect(slot));
  }

  private tick(slot: SocketSlot): void {
    const ctx = this.ctx;
    if (ctx.closed) return;
    const ws = slot.ws;
    if (!slot.open || !ws || ws.readyState !== WebSocket.OPEN) {
      this.report.skippedTicks++;
      return;
    }
    if (this.expect === "none") {
      // Push-only: a unit waiting for the next push on this socket; nothing is sent.
      const unit = ctx.open(PUSH_PATH);
      if (unit) slot.outstanding.set(unit.id, { unit, sentAtMs: unit.sentAt });
      return;
    }
    const m = this.message(slot.next++);
    const unit = ctx.open(m.path);
    if (!unit) return;
    slot.outstanding.set(unit.id, { unit, sentAtMs: unit.sentAt });
    // A send that fails (the socket is closing) leaves the message outstanding: its close settles it.
    ws.send(m.payload(unit.id), () => {});
  }

  private sweepTimeouts(): void {
    const now = Date.now();
    for (const slot of this.slots) {
      for (const [id, o] of slot.outstanding) {
        if (now - o.sentAtMs < this.ctx.timeoutMs) continue;
        slot.outstanding.delete(id);
        this.ctx.fail(o.unit, "timeout", { pod: slot.pod, clientPort: slot.clientPort });
      }
    }
  }

  /** A fresh socket closed before its unit was answered: lost with the socket, or it never opened. */
  private failFresh(unit: Unit, code: number, seen: FreshSocketSeen): void {
    const { pod, clientPort } = seen;
    if (seen.opened) {
      this.ctx.fail(unit, code === ABNORMAL_CLOSE ? "ws-abnormal" : "ws-lost", { code, pod, clientPort });
    } else {
      const f = classifyOpenFailure(seen.openError, seen.status);
      this.ctx.fail(unit, f.kind, { code: f.code, pod, clientPort });
    }
  }
}

/** What a fresh socket showed before it closed. */
interface FreshSocketSeen {
  pod?: string;
  clientPort?: number;
  opened: boolean;
  openError?: Error;
  status?: number;
}

export function startWebSocketLoad(target: LoadTarget, opts: LoadOptions, hooks: LoadHooks = {}): LoadRun {
  return startProtocolLoad("websocket", target, opts, (ctx) => new WebSocketDriver(ctx, target, opts, hooks), hooks);
}
