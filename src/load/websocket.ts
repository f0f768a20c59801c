// WebSocket load (load.protocol: websocket, the `ws` package): `connections` long-lived sockets to
// ws://target{path}, each sending one message every messageIntervalMs (connections × 1000 / load.rate) — {"id":N} or, for the slow
// share, {"id":N,"delayMs":slowMs}, which the sample app echoes after that delay — whether or not
// the previous echo came back; plus one new socket with one message every freshConnectionIntervalMs.
// A closed socket is opened again at once (with backoff while opening fails); ticks while it is
// not open are skipped (counted).
//
// The unit is the message: it succeeds when its echo comes back; it fails when its socket closes
// first — ws-abnormal when the close was abnormal (1006: no close frame, the connection was cut),
// ws-lost when it was clean (e.g. 1001 going away: the server said goodbye without answering it) —
// or with no echo within requestTimeoutSeconds (timeout). Every close is also reported per socket
// (code, messages lost, reconnect gap): a 1001 that lost nothing is not a failure.
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

interface Outstanding {
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

  const message = (slotNext: number): { path: string; payload: (id: number) => string } => {
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
      const id = echoId(data);
      const o = id === undefined ? undefined : slot.outstanding.get(id);
      if (!o) {
        if (!ctx.closed) ctx.anomaly(`an echo nobody waits for (late or unknown): ${data.toString().slice(0, 60)}`);
        return;
      }
      slot.outstanding.delete(o.unit.id);
      ctx.succeed(o.unit, { pod: slot.pod, clientPort: slot.clientPort });
    });
    ws.on("error", () => {
      // 'close' follows; an open that failed is counted there.
    });
    ws.on("close", (code: number) => {
      if (slot.ws !== ws) return;
      slot.open = false;
      const at = Date.now();
      const kind: FailureKind = code === ABNORMAL_CLOSE ? "ws-abnormal" : "ws-lost";
      const lost = slot.outstanding.size;
      for (const o of slot.outstanding.values()) {
        ctx.fail(o.unit, kind, { code, pod: slot.pod, clientPort: slot.clientPort });
      }
      slot.outstanding.clear();
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
        const unit = c.open(m.path, true);
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
          ws.send(m.payload(unit.id), () => {});
        });
        ws.on("message", (data) => {
          if (echoId(data) !== unit.id) return;
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
