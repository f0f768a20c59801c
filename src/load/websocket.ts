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
import { backoffDelayMs, DEFAULT_BACKOFF } from "./backoff.js";
import { urlHost } from "./http2.js";
import { startProtocolLoad, type Unit, type UnitContext } from "./protocol-run.js";
import type { FailureKind, LoadHooks, LoadRun, LoadTarget, WebSocketClose, WebSocketReport } from "./types.js";

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

export function startWebSocketLoad(target: LoadTarget, opts: LoadOptions, hooks: LoadHooks = {}): LoadRun {
  // Each socket sends on its own clock: the rate spread over the sockets (open loop by design).
  const rate = loadRate(opts);
  const intervalMs =
    rate === "max"
      ? (opts.messageIntervalMs ?? DEFAULT_MESSAGE_INTERVAL_MS)
      : Math.max(1, Math.round((opts.connections * 1000) / rate));
  const backoff = hooks.backoff ?? DEFAULT_BACKOFF;
  const slow = slowPattern(opts.slowShare);
  const url = `ws://${urlHost(target.host)}:${target.port}${opts.path}`;
  const slots: SocketSlot[] = [];
  const freshSockets = new Set<WebSocket>();
  const report: WebSocketReport = {
    sockets: opts.connections,
    closes: [],
    closesByCode: {},
    skippedTicks: 0,
    failedOpens: 0,
  };
  let sweep: NodeJS.Timeout | undefined;
  let ctx: UnitContext;

  const newSocket = (): WebSocket => {
    ctx.connectionAttempt();
    return new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: ctx.timeoutMs });
  };

  const expect = opts.websocket?.expect ?? "echo";
  const send = opts.websocket?.send;
  const message = (slotNext: number): { path: string; payload: (id: number) => string } => {
    if (send !== undefined) return { path: "message", payload: () => send };
    const isSlow = slow[slotNext % slow.length] === true;
    return isSlow
      ? { path: `message (delayMs ${opts.slowMs})`, payload: (id) => JSON.stringify({ id, delayMs: opts.slowMs }) }
      : { path: "message", payload: (id) => JSON.stringify({ id }) };
  };

  const connect = (slot: SocketSlot) => {
    slot.reconnectTimer = undefined;
    if (ctx.closed) return;
    const ws = newSocket();
    slot.ws = ws;
    let opened = false;
    ws.on("upgrade", (res) => {
      const served = res.headers["x-served-by"];
      slot.pod = Array.isArray(served) ? served[0] : served;
      slot.clientPort = res.socket.localPort;
    });
    ws.on("open", () => {
      opened = true;
      slot.open = true;
      slot.failedStreak = 0;
      if (slot.lastClose) {
        slot.lastClose.reconnectGapMs = Date.now() - slot.lastClose.at;
        slot.lastClose = undefined;
      }
    });
    ws.on("message", (data) => {
      const answered = answeredBy(slot.outstanding, data, expect, send);
      if (answered.length === 0) {
        // A push with nothing waiting is a push-only server's normal (it pushes faster than the ticks).
        if (!ctx.closed && expect !== "none") {
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
      if (slot.ws !== ws) return;
      slot.open = false;
      const at = Date.now();
      const kind: FailureKind = code === ABNORMAL_CLOSE ? "ws-abnormal" : "ws-lost";
      // Push-only: a goodbye (1000 / 1001) hands the waiting units to the next socket.
      const carried = expect === "none" && GOODBYE_CLOSES.includes(code);
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
        report.closes.push(c);
        report.closesByCode[String(code)] = (report.closesByCode[String(code)] ?? 0) + 1;
        slot.lastClose = c;
      } else {
        report.failedOpens++;
        slot.failedStreak++;
      }
      const delay = backoffDelayMs(slot.failedStreak, backoff);
      if (delay > 0) slot.reconnectTimer = setTimeout(() => connect(slot), delay);
      else connect(slot);
    });
  };

  const tick = (slot: SocketSlot) => {
    if (ctx.closed) return;
    const ws = slot.ws;
    if (!slot.open || !ws || ws.readyState !== WebSocket.OPEN) {
      report.skippedTicks++;
      return;
    }
    if (expect === "none") {
      // Push-only: a unit waiting for the next push on this socket; nothing is sent.
      const unit = ctx.open(PUSH_PATH);
      if (unit) slot.outstanding.set(unit.id, { unit, sentAtMs: unit.sentAt });
      return;
    }
    const m = message(slot.next++);
    const unit = ctx.open(m.path);
    if (!unit) return;
    slot.outstanding.set(unit.id, { unit, sentAtMs: unit.sentAt });
    // A send that fails (the socket is closing) leaves the message outstanding: its close settles it.
    ws.send(m.payload(unit.id), () => {});
  };

  const sweepTimeouts = () => {
    const now = Date.now();
    for (const slot of slots) {
      for (const [id, o] of slot.outstanding) {
        if (now - o.sentAtMs < ctx.timeoutMs) continue;
        slot.outstanding.delete(id);
        ctx.fail(o.unit, "timeout", { pod: slot.pod, clientPort: slot.clientPort });
      }
    }
  };

  const driver = {
    start(c: UnitContext) {
      ctx = c;
      for (let i = 0; i < opts.connections; i++) {
        const slot: SocketSlot = { open: false, outstanding: new Map(), failedStreak: 0, next: i };
        slots.push(slot);
        connect(slot);
        // Staggered: the sockets' messages spread over the interval.
        const start = setTimeout(
          () => {
            tick(slot);
            slot.tick = setInterval(() => tick(slot), intervalMs);
          },
          Math.round((i * intervalMs) / opts.connections),
        );
        slot.tick = start;
      }
      sweep = setInterval(sweepTimeouts, TIMEOUT_SWEEP_MS);
    },
    fresh(c: UnitContext) {
      return new Promise<void>((resolve) => {
        const m = message(Math.floor(Math.random() * slow.length));
        const unit = c.open(expect === "none" ? PUSH_PATH : m.path, true);
        if (!unit) return resolve();
        const ws = newSocket();
        freshSockets.add(ws);
        let pod: string | undefined;
        let clientPort: number | undefined;
        let opened = false;
        let openError: Error | undefined;
        let status: number | undefined;
        const timer = setTimeout(() => {
          c.fail(unit, "timeout", { pod, clientPort });
          ws.terminate();
        }, c.timeoutMs);
        ws.on("upgrade", (res) => {
          const served = res.headers["x-served-by"];
          pod = Array.isArray(served) ? served[0] : served;
          clientPort = res.socket.localPort;
        });
        ws.on("unexpected-response", (_req, res) => {
          status = res.statusCode;
          res.resume();
          ws.terminate();
        });
        ws.on("open", () => {
          opened = true;
          if (expect !== "none") ws.send(m.payload(unit.id), () => {});
        });
        ws.on("message", (data) => {
          const waiting = new Map([[unit.id, { unit, sentAtMs: unit.sentAt }]]);
          if (answeredBy(waiting, data, expect, send).length === 0) return;
          c.succeed(unit, { pod, clientPort });
          ws.close(1000);
        });
        ws.on("error", (err) => {
          openError ??= err;
        });
        ws.on("close", (code: number) => {
          clearTimeout(timer);
          freshSockets.delete(ws);
          if (!unit.settled) {
            if (opened) {
              c.fail(unit, code === ABNORMAL_CLOSE ? "ws-abnormal" : "ws-lost", { code, pod, clientPort });
            } else {
              const f = classifyOpenFailure(openError, status);
              c.fail(unit, f.kind, { code: f.code, pod, clientPort });
            }
          }
          resolve();
        });
      });
    },
    destroy() {
      clearInterval(sweep);
      for (const slot of slots) {
        clearTimeout(slot.reconnectTimer);
        clearTimeout(slot.tick);
        clearInterval(slot.tick);
        slot.ws?.terminate();
      }
      for (const ws of freshSockets) ws.terminate();
      freshSockets.clear();
    },
    websocket: () => ({ ...report, closes: report.closes.map((c) => ({ ...c })) }),
    // A tick whose socket was not open sends nothing: a message not sent.
    pacing: () => ({ late: 0, notSent: report.skippedTicks }),
  };
  return startProtocolLoad("websocket", target, opts, driver, hooks);
}
