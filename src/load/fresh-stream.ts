// The stream of fresh short connections (load.freshConnectionIntervalMs): besides the long-lived
// connections, one new connection with one unit every interval. Every new connection is balanced
// anew by the Service, so it shows when a terminating pod stops receiving new connections (the
// effective endpoint propagation), whatever the long-lived connections do. The ticker is shared by
// every protocol; the HTTP/1.1 stream (Node's http, Connection: close) is below, the long-lived
// protocols send theirs through their driver (protocol-run.ts).
import type { RequestRecord } from "../model/exercise.js";
import type { LoadOptions } from "../scenario/schema.js";
import type { RequestLedger } from "./accounting.js";
import { type FreshRequest, freshRequest, httpRequestOf } from "./fresh-request.js";
import type { FreshStreamReport, LoadTarget } from "./types.js";

/** Fresh connections outstanding at once; a tick is skipped beyond (a hanging target). */
export const MAX_FRESH_OUTSTANDING = 32;

/**
 * Calls fireOne every report.intervalMs (none when it is 0) until stopped, the window closed or the
 * safety cap ran out; counts the ticks skipped because too many were outstanding. Returns stop().
 */
export function startFreshTicker(
  report: FreshStreamReport,
  capSeconds: number,
  isClosed: () => boolean,
  fireOne: () => Promise<void>,
): () => void {
  if (report.intervalMs <= 0) return () => {};
  let outstanding = 0;
  const timer = setInterval(() => {
    if (isClosed()) return;
    if (outstanding >= MAX_FRESH_OUTSTANDING) {
      report.skippedTicks++;
      return;
    }
    outstanding++;
    void fireOne().finally(() => {
      outstanding--;
    });
  }, report.intervalMs);
  // The safety cap bounds it like the long-lived connections.
  const cap = setTimeout(() => clearInterval(timer), capSeconds * 1000);
  cap.unref();
  return () => {
    clearInterval(timer);
    clearTimeout(cap);
  };
}

export function emptyFreshReport(intervalMs: number): FreshStreamReport {
  return { intervalMs, sent: 0, succeeded: 0, failed: 0, skippedTicks: 0 };
}

/** HTTP/1.1's fresh stream: each unit one request on its own connection, settled in the ledger. */
export function startHttp1FreshStream(o: {
  target: LoadTarget;
  opts: LoadOptions;
  ledger: RequestLedger;
  records: RequestRecord[];
  capSeconds: number;
  isClosed: () => boolean;
}): { report: FreshStreamReport; stop(): void } {
  const report = emptyFreshReport(o.opts.freshConnectionIntervalMs);
  const timeoutMs = o.opts.requestTimeoutSeconds * 1000;
  const outstanding = new Map<FreshRequest, number>();
  const fireOne = async () => {
    const sentAt = Date.now();
    const id = o.ledger.openRequest(o.opts.path, sentAt);
    report.sent++;
    const req = freshRequest(o.target, o.opts.path, timeoutMs, undefined, httpRequestOf(o.opts));
    outstanding.set(req, id);
    const out = await req.done;
    outstanding.delete(req);
    if (req.aborted || (!out.ok && !out.failure)) return; // the window closed first: counted in flight
    if (out.ok) {
      o.ledger.succeed(id, out.at, out.latencyMs ?? out.at - sentAt, out.pod);
      report.succeeded++;
    } else {
      o.ledger.fail(id, out.at, out.failure?.kind ?? "error", { code: out.failure?.code, pod: out.pod });
      report.failed++;
    }
    o.records.push({
      sentAt,
      at: out.at,
      ok: out.ok,
      fresh: true,
      ...(out.clientPort !== undefined ? { clientPort: out.clientPort } : {}),
      ...(out.pod ? { pod: out.pod } : {}),
    });
  };
  const stopTicker = startFreshTicker(report, o.capSeconds, o.isClosed, fireOne);
  return {
    report,
    stop() {
      stopTicker();
      for (const [req, id] of outstanding) {
        o.ledger.endInFlight(id);
        req.abort();
      }
      outstanding.clear();
    },
  };
}
