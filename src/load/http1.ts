// HTTP/1.1 load (load.protocol: http1): `connections` keep-alive connections driven by autocannon
// (each client instrumented: autocannon-client.ts), paced by default (pacer.ts: load.rate units per
// second spread over the connections, latencies from the intended send time) or closed loop with
// load.rate "max" (each connection sends again as soon as it is answered), plus the stream of fresh
// short connections (fresh-stream.ts). Every request is counted once in one ledger. Every request,
// keep-alive or fresh, has load.http's method, headers (Host included) and body (GET by default).
import autocannon from "autocannon";
import type { RequestRecord } from "../model/exercise.js";
import { type LoadOptions, loadRate } from "../scenario/schema.js";
import { RequestLedger, slowPattern } from "./accounting.js";
import { type Http1Window, type InternalClient, instrumentClient, type PacedLane } from "./autocannon-client.js";
import { DEFAULT_BACKOFF } from "./backoff.js";
import { httpRequestOf } from "./fresh-request.js";
import { startHttp1FreshStream } from "./fresh-stream.js";
import {
  type LoadHooks,
  type LoadRun,
  type LoadRunResult,
  type LoadSnapshot,
  type LoadTarget,
  SAFETY_CAP_SECONDS,
} from "./types.js";
import {
  anomalyNotes,
  checkedResult,
  lanePacer,
  ledgerSnapshot,
  loadRun,
  pacingReport,
  startProgress,
  urlHost,
  warnSafetyCap,
} from "./window.js";

/** How long stop() waits for autocannon's own summary before giving up on it. */
const AUTOCANNON_RESULT_WAIT_MS = 5_000;

interface Autocannon {
  done: Promise<void>;
  result(): autocannon.Result | undefined;
  error(): unknown;
  stop(): void;
}

/** autocannon with our clients: the request mix, the caps, the closed loop's per-connection limit. */
function startAutocannon(
  target: LoadTarget,
  opts: LoadOptions,
  capSeconds: number,
  setupClient: (c: InternalClient) => void,
): Autocannon {
  const slowPath = `/slow?ms=${opts.slowMs}`;
  const shape = httpRequestOf(opts);
  const requests = slowPattern(opts.slowShare).map((slow) => ({
    method: shape.method as autocannon.Request["method"],
    path: slow ? slowPath : opts.path,
    // autocannon writes a Host of its own unless one is given (any case), and Content-Length from the body.
    headers: shape.headers,
    ...(shape.body !== undefined ? { body: shape.body } : {}),
  }));
  const acOptions: autocannon.Options = {
    url: `http://${urlHost(target.host)}:${target.port}`,
    connections: opts.connections,
    pipelining: 1,
    duration: capSeconds,
    // autocannon rejects timeout < 1; each client gets the real value in setupClient.
    timeout: Math.max(1, Math.ceil(opts.requestTimeoutSeconds)),
    requests,
    sampleInt: 200,
    setupClient: (c) => setupClient(c as unknown as InternalClient),
    ...(opts.ratePerConnection > 0 ? { connectionRate: opts.ratePerConnection } : {}),
  };
  let acResult: autocannon.Result | undefined;
  let acError: unknown;
  let stop: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    const instance = autocannon(acOptions, (err, result) => {
      if (err) acError = err;
      else acResult = result;
      resolve();
    });
    stop = () => instance.stop();
  });
  return { done, result: () => acResult, error: () => acError, stop: () => stop() };
}

/** autocannon's summary once it finished (undefined when it took longer than AUTOCANNON_RESULT_WAIT_MS). */
async function autocannonSummary(ac: Autocannon): Promise<autocannon.Result | undefined> {
  let waitTimer: NodeJS.Timeout | undefined;
  await Promise.race([
    ac.done,
    new Promise<void>((r) => {
      waitTimer = setTimeout(r, AUTOCANNON_RESULT_WAIT_MS);
    }),
  ]);
  clearTimeout(waitTimer);
  const err = ac.error();
  if (err !== undefined) throw err instanceof Error ? err : new Error(`autocannon failed: ${String(err)}`);
  return ac.result();
}

/** autocannon's own counts, kept to show how they differ from ours. */
function autocannonFigures(r: autocannon.Result | undefined): LoadRunResult["autocannon"] {
  return {
    requests: r?.requests.total ?? 0,
    sent: r?.requests.sent ?? 0,
    errors: r?.errors ?? 0,
    timeouts: r?.timeouts ?? 0,
    non2xx: r?.non2xx ?? 0,
    resets: r?.resets ?? 0,
  };
}

export function startHttp1Load(target: LoadTarget, opts: LoadOptions, hooks: LoadHooks = {}): LoadRun {
  const startedAt = Date.now();
  const ledger = new RequestLedger();
  const capSeconds = hooks.safetyCapSeconds ?? SAFETY_CAP_SECONDS;
  const records: RequestRecord[] = [];
  const notes = anomalyNotes();
  const rate = loadRate(opts);
  const clients: InternalClient[] = [];
  const lanes: PacedLane[] = [];
  const w = {
    closed: false,
    endedAt: undefined as number | undefined,
    endReason: "stopped" as LoadRunResult["endReason"],
  };
  let connectionAttempts = 0;
  let requestEvents = 0;
  let progressTimer: NodeJS.Timeout | undefined;

  const pacer = lanePacer(opts, rate, (lane, intendedAt) => lanes[lane]?.trySend(intendedAt) ?? false);

  const closeWindow = (reason: LoadRunResult["endReason"]) => {
    if (w.closed) return;
    w.closed = true;
    w.endedAt = Date.now();
    w.endReason = reason;
    pacer?.stop();
    clearInterval(progressTimer);
    if (reason === "safety-cap") warnSafetyCap(capSeconds);
  };

  const window: Http1Window = {
    opts,
    ledger,
    timeoutMs: opts.requestTimeoutSeconds * 1000,
    backoff: hooks.backoff ?? DEFAULT_BACKOFF,
    paced: pacer !== undefined,
    isClosed: () => w.closed,
    capReached: () => closeWindow("safety-cap"),
    record: (r, at, ok) => {
      records.push({ sentAt: r.sentAtMs, at, ok, clientPort: r.ss?.localPort, ...(r.pod ? { pod: r.pod } : {}) });
    },
    anomaly: notes.add,
    connectionAttempt: () => {
      connectionAttempts++;
    },
    requestEvent: () => {
      requestEvents++;
    },
    laneFree: () => pacer?.laneFree(),
  };

  const ac = startAutocannon(target, opts, capSeconds, (client) => {
    clients.push(client);
    lanes.push(instrumentClient(client, window));
    // Every client exists (autocannon creates them in one synchronous loop) and is connecting.
    if (lanes.length === opts.connections) setImmediate(() => !w.closed && pacer?.start());
  });
  const fresh = startHttp1FreshStream({ target, opts, ledger, records, capSeconds, isClosed: () => w.closed });

  const snapshot = (): LoadSnapshot => ledgerSnapshot(ledger, startedAt, w.endedAt, connectionAttempts);
  progressTimer = startProgress(hooks, snapshot);

  const finish = async (): Promise<LoadRunResult> => {
    if (!w.closed) {
      closeWindow("stopped");
      fresh.stop();
      for (const c of clients) c.destroy();
      ac.stop();
    }
    fresh.stop();
    const acResult = await autocannonSummary(ac);
    if (!acResult) notes.add(`autocannon reported no summary within ${AUTOCANNON_RESULT_WAIT_MS} ms`);
    const endedAt = w.endedAt ?? Date.now();
    const base = ledger.result({ target: `${target.host}:${target.port}`, startedAt, endedAt });
    const result: LoadRunResult = {
      ...base,
      autocannon: autocannonFigures(acResult),
      endReason: w.endReason,
      connectionAttempts,
      sentByPath: ledger.sentByPath(),
      anomalies: notes.list(),
      fresh: { ...fresh.report },
      pacing: pacingReport(rate, pacer, base.sent - fresh.report.sent, endedAt - startedAt),
    };
    const extra =
      requestEvents + fresh.report.sent !== result.sent
        ? [
            `autocannon emitted ${requestEvents} 'request' events and ${fresh.report.sent} fresh requests were sent, ` +
              `the ledger opened ${result.sent}`,
          ]
        : [];
    return checkedResult(ledger, result, extra);
  };

  return loadRun(startedAt, snapshot, finish, records);
}
