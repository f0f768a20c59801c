// gRPC load (load.protocol: grpc): unary calls of one method (load.grpc; scenario/grpc-method.ts) —
// by default the standard health check grpc.health.v1.Health/Check (service ""), or the sample app's
// graceful.Echo/Say (delay_ms = slowMs for the slow share), or any unary method of the user's .proto
// with a fixed JSON request — over `connections` long-lived channels × at most `streamsPerConnection`
// concurrent calls: paced by default (load.rate calls per second handed out by the Pacer to channels
// with a free call slot), or with load.rate "max" each call made again as soon as it ends; plus one new
// channel with one call every freshConnectionIntervalMs. @grpc/grpc-js with its defaults (pick_first,
// reconnect backoff 1 s … 120 s, calls failing fast while the channel is in TRANSIENT_FAILURE), except:
// - each channel has its own connection (a local subchannel pool: grpc-js would otherwise share one
//   connection between channels to the same target);
// - grpc-js's own retries are off and replaced by the same transparent retry it makes by default, so
//   that each one is counted: a stream refused by the server ("Stream refused by server": above a
//   GOAWAY's last stream id, never processed) is made once more (load.retryRefused, default true), a
//   call that never left the client ("Failed to start HTTP/2 stream") is simply made again;
// - the TCP socket of each channel is tapped (custom insecure channel credentials) for its local
//   port, so calls can be joined to the Service proxy's connection records: a server that sends no
//   x-served-by (any server but ours) is attributed by its connections.
// Counted: OK → success; refused and not retried → goaway-refused; UNAVAILABLE → grpc-unavailable;
// DEADLINE_EXCEEDED (requestTimeoutSeconds) → timeout; any other status → grpc-other (code = status).
// Health/Check answered OK but not SERVING: an answer counted apart (result.grpc.health), or a failure
// (grpc-not-serving) with load.grpc.notServing "failure" — see GrpcLoadSpec's description for why.
import type { Socket } from "node:net";
import * as grpc from "@grpc/grpc-js";
import {
  type GrpcMethod,
  grpcDescriptor,
  HEALTH_CHECK_METHOD,
  type HealthStatusName,
  resolveGrpcMethod,
} from "../scenario/grpc-method.js";
import type { LoadOptions } from "../scenario/schema.js";
import { slowPattern } from "./accounting.js";
import { backoffDelayMs } from "./backoff.js";
import {
  type MultiplexOptions,
  multiplexOptions,
  type ProtocolDriver,
  startProtocolLoad,
  type Unit,
  type UnitContext,
} from "./protocol-run.js";
import type { FailureKind, GrpcReport, LoadHooks, LoadRun, LoadTarget } from "./types.js";
import { urlHost } from "./window.js";

/** How many times a call that never left the client is made again before it counts as failed. */
const MAX_NOT_STARTED = 5;

/** grpc-js's status details for a stream the server refused (REFUSED_STREAM). */
export const REFUSED_DETAILS = "Stream refused by server";
/** grpc-js's status details for a call that never became an HTTP/2 stream. */
export const NOT_STARTED_DETAILS = "Failed to start HTTP/2 stream";

/** A finished call, classified. */
export function classifyGrpcStatus(status: { code: number; details?: string }): {
  outcome: "ok" | "refused" | "not-started" | "failed";
  kind?: FailureKind;
} {
  if (status.code === grpc.status.OK) return { outcome: "ok" };
  if (status.code === grpc.status.UNAVAILABLE && status.details === REFUSED_DETAILS) {
    return { outcome: "refused", kind: "goaway-refused" };
  }
  if (status.details?.startsWith(NOT_STARTED_DETAILS)) return { outcome: "not-started", kind: "grpc-other" };
  if (status.code === grpc.status.UNAVAILABLE) return { outcome: "failed", kind: "grpc-unavailable" };
  if (status.code === grpc.status.DEADLINE_EXCEEDED) return { outcome: "failed", kind: "timeout" };
  return { outcome: "failed", kind: "grpc-other" };
}

/**
 * A failed call's `code`: the status code; for UNAVAILABLE with grpc-js's details too ("14 Connection
 * dropped", "14 No connection established…"), which tell a dropped connection from a refused one.
 */
export function failureCode(status: { code: number; details?: string }): number | string {
  if (status.code !== grpc.status.UNAVAILABLE || !status.details) return status.code;
  const details = status.details.length > 80 ? `${status.details.slice(0, 79)}…` : status.details;
  return `${status.code} ${details}`;
}

interface TappedSocket {
  port?: number;
  openedAt: number;
  closedAt?: number;
}

/**
 * Insecure channel credentials that hand every TCP socket the channel opens to `onSocket` first.
 * One instance per channel: never equal to another, so no two channels share a connection.
 */
class TappedInsecureCredentials extends grpc.ChannelCredentials {
  constructor(private readonly onSocket: (socket: Socket) => void) {
    super();
  }
  override compose(): grpc.ChannelCredentials {
    throw new Error("cannot compose insecure credentials");
  }
  _isSecure(): boolean {
    return false;
  }
  _equals(other: grpc.ChannelCredentials): boolean {
    return other === this;
  }
  _createSecureConnector(): ReturnType<grpc.ChannelCredentials["_createSecureConnector"]> {
    const empty = grpc.CallCredentials.createEmpty();
    return {
      connect: (socket: Socket) => {
        this.onSocket(socket);
        return Promise.resolve({ socket, secure: false });
      },
      waitForReady: () => Promise.resolve(),
      getCallCredentials: () => empty,
      destroy: () => {},
    };
  }
}

interface Channel {
  client: grpc.Client;
  sockets: TappedSocket[];
}

/** The method load.grpc names (its proto read here, or given compiled: the in-cluster Job has no file). */
export function grpcMethodOf(opts: LoadOptions, descriptor?: unknown): GrpcMethod {
  const spec: { method: string; proto?: string; request?: Record<string, unknown> } = opts.grpc ?? {
    method: HEALTH_CHECK_METHOD,
  };
  const compiled = descriptor ?? (spec.proto === undefined ? undefined : grpcDescriptor(spec.proto));
  return resolveGrpcMethod(spec, compiled as Parameters<typeof resolveGrpcMethod>[1]);
}

const HEALTH_KEYS: Record<HealthStatusName, keyof NonNullable<GrpcReport["health"]>> = {
  SERVING: "serving",
  NOT_SERVING: "notServing",
  SERVICE_UNKNOWN: "serviceUnknown",
  UNKNOWN: "unknown",
};

/**
 * How an OK call of `method` settles: a success, or (Health/Check not SERVING, counted as a failure
 * by load.grpc.notServing) a grpc-not-serving failure; `health` is the status it answered.
 */
export function okOutcome(
  method: GrpcMethod,
  reply: Uint8Array | undefined,
  notServing: "answer" | "failure",
): { ok: boolean; health?: HealthStatusName } {
  if (method.kind !== "health") return { ok: true };
  const health = reply === undefined ? "UNKNOWN" : method.healthStatus(reply);
  return { ok: health === "SERVING" || notServing === "answer", health };
}

/** The client port of the one socket of the channel open during the whole call; undefined when ambiguous. */
export function portDuring(sockets: readonly TappedSocket[], from: number, to: number): number | undefined {
  const open = sockets.filter((s) => s.openedAt <= to && (s.closedAt === undefined || s.closedAt >= from));
  return open.length === 1 ? open[0]?.port : undefined;
}

/**
 * One call of the load's method on a channel of its own: undefined when it answered OK (a Health/Check
 * answer of any serving status: the server is up), else what went wrong. The in-cluster Job's
 * readiness check for grpc, whose servers need not speak HTTP/1.1.
 */
export function grpcCallOnce(
  target: LoadTarget,
  opts: LoadOptions,
  timeoutMs: number,
  descriptor?: unknown,
): Promise<string | undefined> {
  const method = grpcMethodOf(opts, descriptor);
  const client = new grpc.Client(`${urlHost(target.host)}:${target.port}`, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      method.path,
      (req: Uint8Array) => Buffer.from(req),
      (res: Buffer) => res,
      method.request(0, 0),
      new grpc.Metadata(),
      { deadline: new Date(Date.now() + timeoutMs) },
      (err) => {
        client.close();
        resolve(err ? `${method.name}: ${err.code} ${err.details}` : undefined);
      },
    );
  });
}

/** How a call ended, for whoever made it: made again ("refused": a retry; "not-started"), and whether it reached a server. */
interface CallEnd {
  unit: Unit;
  again: "refused" | "not-started" | undefined;
  reachedServer: boolean;
}

/** A closed-loop call slot: its channel, and the calls in a row that failed without reaching a server. */
interface LoopSlot {
  ch: Channel;
  streak: number;
}

/** Paced: a long-lived channel (a pacer's lane) and its calls outstanding. */
interface Lane {
  ch: Channel;
  active: number;
}

/** The gRPC channels of one load: closed-loop call slots or paced lanes, and the fresh channels' calls. */
class GrpcDriver implements ProtocolDriver {
  private readonly mux: MultiplexOptions;
  private readonly slow: boolean[];
  private readonly address: string;
  private readonly method: GrpcMethod;
  private readonly notServing: "answer" | "failure";
  private readonly report: GrpcReport;
  private readonly channels = new Set<Channel>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<grpc.ClientUnaryCall>();
  private readonly notStarted = new WeakMap<Unit, number>();
  private readonly lanes: Lane[] = [];
  private seq = 0;

  constructor(
    private readonly ctx: UnitContext,
    target: LoadTarget,
    private readonly opts: LoadOptions,
    hooks: LoadHooks,
  ) {
    this.mux = multiplexOptions(opts, hooks);
    this.slow = slowPattern(opts.slowShare);
    this.address = `${urlHost(target.host)}:${target.port}`;
    this.method = grpcMethodOf(opts, hooks.grpcDescriptor);
    this.notServing = opts.grpc?.notServing ?? "answer";
    this.report = {
      method: this.method.name,
      ...(this.method.kind === "health"
        ? { health: { serving: 0, notServing: 0, serviceUnknown: 0, unknown: 0 } }
        : {}),
    };
  }

  start(): void {
    for (let i = 0; i < this.opts.connections; i++) {
      const ch = this.openChannel();
      if (this.ctx.paced) this.lanes.push({ ch, active: 0 });
      else for (let j = 0; j < this.mux.perConnection; j++) this.loop({ ch, streak: 0 });
    }
  }

  trySend(lane: number, intendedAt: number): boolean {
    const l = this.lanes[lane];
    if (!l || this.ctx.closed || l.active >= this.mux.perConnection) return false;
    l.active++;
    this.pacedCall(l, undefined, intendedAt);
    return true;
  }

  fresh(): Promise<void> {
    const c = this.ctx;
    return new Promise<void>((resolve) => {
      const ch = this.openChannel();
      const finish = () => {
        ch.client.close();
        this.channels.delete(ch);
        resolve();
      };
      const once = (u?: Unit) =>
        this.call(ch, u, true, ({ unit, again }) => {
          // A fresh channel's refused call is not retried (its connection was the point);
          // one that never left the client is made again.
          if (again === "not-started") return once(unit);
          if (again === "refused") c.fail(unit, "goaway-refused", { code: grpc.status.UNAVAILABLE });
          finish();
        });
      once();
      if (c.closed) finish();
    });
  }

  destroy(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    // The window is closed (what was outstanding is counted in flight): end the calls and channels.
    for (const c of this.inFlight) c.cancel();
    this.inFlight.clear();
    for (const ch of this.channels) ch.client.close();
    this.channels.clear();
  }

  grpc(): GrpcReport {
    const h = this.report.health;
    if (h && h.serving === 0 && h.notServing + h.serviceUnknown + h.unknown > 0) {
      this.ctx.anomaly(
        `no ${this.method.name} answer was SERVING: the server never said it serves (load.grpc.request's service?)`,
      );
    }
    return { ...this.report, ...(h ? { health: { ...h } } : {}) };
  }

  private openChannel(): Channel {
    const sockets: TappedSocket[] = [];
    const creds = new TappedInsecureCredentials((socket) => {
      this.ctx.connectionAttempt();
      const s: TappedSocket = { port: socket.localPort, openedAt: Date.now() };
      sockets.push(s);
      socket.once("close", () => {
        s.closedAt = Date.now();
      });
    });
    const client = new grpc.Client(this.address, creds, {
      "grpc.use_local_subchannel_pool": 1,
      "grpc.enable_retries": 0,
    });
    const ch: Channel = { client, sockets };
    this.channels.add(ch);
    return ch;
  }

  /** Makes the call for `u` (a new unit when undefined); `done` once it settled or is to be made again. */
  private call(ch: Channel, u: Unit | undefined, fresh: boolean, done: (r: CallEnd) => void, intendedAt?: number) {
    const { ctx, method, opts } = this;
    const isSlow = method.kind === "echo" && this.slow[this.seq++ % this.slow.length] === true;
    const unit = u ?? ctx.open(isSlow ? `${method.path} (delay_ms ${opts.slowMs})` : method.path, fresh, intendedAt);
    if (!unit) return;
    const delayMs = unit.path === method.path ? 0 : opts.slowMs;
    let pod: string | undefined;
    let reachedServer = false;
    let reply: Uint8Array | undefined;
    const deadline = new Date(Date.now() + ctx.timeoutMs);
    const c = ch.client.makeUnaryRequest(
      method.path,
      (req: Uint8Array) => Buffer.from(req),
      (res: Buffer) => res,
      method.request(unit.id, delayMs),
      new grpc.Metadata(),
      { deadline },
      (_err, res) => {
        reply = res;
      },
    );
    this.inFlight.add(c);
    c.on("metadata", (md: grpc.Metadata) => {
      reachedServer = true;
      const served = md.get("x-served-by")[0];
      if (served !== undefined) pod = String(served);
    });
    c.on("status", (status: grpc.StatusObject) => {
      this.inFlight.delete(c);
      const clientPort = portDuring(ch.sockets, unit.sentAt, Date.now());
      const again = this.settleCall(unit, status, reply, { pod, clientPort });
      done({ unit, again, reachedServer });
    });
  }

  /** Settles a finished call's unit by its status, unless it is to be made again (which is returned). */
  private settleCall(
    unit: Unit,
    status: grpc.StatusObject,
    reply: Uint8Array | undefined,
    d: { pod?: string; clientPort?: number },
  ): CallEnd["again"] {
    const { ctx, notStarted } = this;
    const cls = classifyGrpcStatus(status);
    let again: CallEnd["again"];
    if (cls.outcome === "ok") this.settleOk(unit, reply, d);
    else if (cls.outcome === "refused" && this.mux.retryRefused && !unit.retried && !ctx.closed) again = "refused";
    else if (cls.outcome === "not-started" && (notStarted.get(unit) ?? 0) < MAX_NOT_STARTED && !ctx.closed) {
      notStarted.set(unit, (notStarted.get(unit) ?? 0) + 1);
      again = "not-started";
    } else {
      ctx.fail(unit, cls.kind ?? "grpc-other", { code: failureCode(status), ...d });
    }
    if (again === undefined) notStarted.delete(unit);
    return again;
  }

  /** An OK call: a success, or a not-SERVING health answer counted as notServing says. */
  private settleOk(unit: Unit, reply: Uint8Array | undefined, d: { pod?: string; clientPort?: number }): void {
    const { ok, health } = okOutcome(this.method, reply, this.notServing);
    const h = this.report.health;
    if (health && h && !this.ctx.closed && !unit.settled) h[HEALTH_KEYS[health]]++;
    if (ok) this.ctx.succeed(unit, d);
    else this.ctx.fail(unit, "grpc-not-serving", { ...d, code: health });
  }

  /** Closed loop: one call after another on the slot, made again at once or after the backoff. */
  private loop(slot: LoopSlot, u?: Unit): void {
    if (this.ctx.closed) return;
    this.call(slot.ch, u, false, ({ unit, again, reachedServer }) => {
      if (this.ctx.closed) return;
      if (again === "refused") this.ctx.retry(unit);
      const next = again ? unit : undefined;
      slot.streak = reachedServer || again ? 0 : slot.streak + 1;
      const delay = backoffDelayMs(slot.streak, this.mux.backoff);
      if (delay === 0) {
        this.loop(slot, next);
        return;
      }
      const t = setTimeout(() => {
        this.timers.delete(t);
        this.loop(slot, next);
      }, delay);
      this.timers.add(t);
    });
  }

  /** Paced: one call of a due unit on the lane; a refused or never-started call is made again on it. */
  private pacedCall(lane: Lane, u: Unit | undefined, intendedAt?: number): void {
    this.call(
      lane.ch,
      u,
      false,
      ({ unit, again }) => {
        if (!this.ctx.closed && again) {
          if (again === "refused") this.ctx.retry(unit);
          this.pacedCall(lane, unit);
          return;
        }
        lane.active--;
        this.ctx.laneFree();
      },
      intendedAt,
    );
  }
}

export function startGrpcLoad(target: LoadTarget, opts: LoadOptions, hooks: LoadHooks = {}): LoadRun {
  return startProtocolLoad("grpc", target, opts, (ctx) => new GrpcDriver(ctx, target, opts, hooks), hooks);
}
