// The long-lived protocols on the local runtime (real containers, real signals): HTTP/2, gRPC and
// WebSocket, each graceful and broken, with and without a preStop sleep (fixtures/scenarios/
// protocols). The local Service proxy is a TCP proxy: an HTTP/2 or gRPC connection stays pinned to
// the terminating pod for as long as it lives, as with kube-proxy. Every assertion states what was
// measured on this backend; the README's "Protocols" table comes from the same fixtures.
import { describe, expect, it } from "vitest";
import type { LoadResult } from "../../../src/load/types.js";
import type { ScenarioResult } from "../../../src/runner/run.js";
import { at, failures, runFixture } from "./helpers.js";

const fixture = (name: string) => runFixture(`protocols/${name}`);

function expectCompleted(r: ScenarioResult, unit: LoadResult["unit"]) {
  expect(r.error, r.error).toBeUndefined();
  expect(r.status, r.inconclusive?.join("; ")).toBe("pass");
  // The fixture's own expectations (written from the same measurements) hold too.
  expect(r.verdicts.filter((v) => !v.pass)).toEqual([]);
  const load = r.load as LoadResult;
  expect(load.unit).toBe(unit);
  expect(load.sent).toBe(load.succeeded + load.failed + load.inFlightAtEnd);
  const pod = r.pods[0];
  expect(pod?.exitCode).toBe(0);
  expect(pod?.sigkilled).toBe(false);
  // Every answer named its pod (x-served-by: HTTP/2 header, gRPC initial metadata, WebSocket upgrade).
  expect(pod?.exercise?.sources).toContain("x-served-by");
  return { load, pod: pod as NonNullable<typeof pod> };
}

/** WebSocket sockets destroyed at SIGTERM: 1006 only, what waited on them lost as ws-abnormal then. */
function expectCutAtSigterm(r: ScenarioResult, load: LoadResult) {
  expect(Object.keys(load.websocket?.closesByCode ?? {})).toEqual(["1006"]);
  expect(load.failedByKind["ws-abnormal"]).toBeGreaterThan(0);
  expect(load.failedByKind["ws-lost"] ?? 0).toBe(0);
  const sigterm = at(r, "sigterm-sent") as number;
  for (const f of failures(r).filter((x) => x.kind === "ws-abnormal")) expect(f.t - sigterm).toBeLessThan(300);
}

describe("HTTP/2 (h2c, 8 connections × 4 streams)", () => {
  it("GOAWAY + preStop sleep: the pinned connections move to the other pod, nothing is lost", async () => {
    const r = await fixture("http2-prestop-sleep");
    const { load, pod } = expectCompleted(r, "streams");
    expect(load.failed).toBe(0);
    const sigterm = at(r, "sigterm-sent") as number;
    // One GOAWAY per connection still open on the victim, none before SIGTERM.
    const goaways = load.goaways ?? [];
    expect(goaways.length).toBeGreaterThan(0);
    expect(goaways.every((g) => g.errorCode === 0 && g.at - pod.deleteAt >= sigterm - 50)).toBe(true);
    // It answered the streams it had accepted, and nothing later than the slow path allows.
    expect(at(r, "last-request-served")).toBeLessThan(sigterm + 300 + 250);
  });

  it("GOAWAY, no preStop: reconnections land on the pod whose listener closed, until the endpoint leaves", async () => {
    const r = await fixture("http2-no-prestop");
    const { load } = expectCompleted(r, "streams");
    const removed = at(r, "endpoint-removed") as number;
    const lost = failures(r);
    expect(lost.length).toBeGreaterThan(0);
    for (const f of lost) {
      expect(f.t).toBeGreaterThanOrEqual(0);
      expect(f.t).toBeLessThan(removed + 300);
      // New connections refused behind Docker's port proxy: the stream dies with its connection.
      expect(["closed", "reset", "refused"]).toContain(f.kind);
    }
    expect(load.failedByKind["goaway-refused"] ?? 0).toBe(0);
  });

  for (const variant of ["prestop-sleep", "no-prestop"] as const) {
    it(`H2_GOAWAY=off, ${variant}: the pod keeps taking new streams after SIGTERM; the streams in flight at its exit are lost`, async () => {
      const r = await fixture(`http2-no-goaway-${variant}`);
      const { load } = expectCompleted(r, "streams");
      const sigterm = at(r, "sigterm-sent") as number;
      const exit = at(r, "container-exit") as number;
      expect(load.goaways ?? []).toEqual([]);
      // No GOAWAY: new streams kept arriving on the pinned connections until the drain timeout
      // (1.5 s) ended the process, long after the endpoint left the Service.
      expect(at(r, "last-request-served")).toBeGreaterThan(sigterm + 1200);
      const lost = failures(r);
      expect(lost.length).toBeGreaterThan(0);
      if (variant === "prestop-sleep") {
        for (const f of lost) {
          expect(f.t).toBeGreaterThanOrEqual(sigterm + 1400);
          expect(f.t).toBeLessThan(exit + 300);
          expect(["closed", "reset"]).toContain(f.kind);
        }
      }
    });
  }
});

describe("gRPC (grpc-js, 8 channels × 4 concurrent calls)", () => {
  it("tryShutdown + preStop sleep: nothing is lost; refused streams are retried once and succeed", async () => {
    const r = await fixture("grpc-prestop-sleep");
    const { load } = expectCompleted(r, "calls");
    expect(load.failed).toBe(0);
    expect(load.retries?.failed).toBe(0);
    expect(load.retries?.inFlightAtEnd ?? 0).toBe(0);
  });

  it("tryShutdown, no preStop: reconnections to the pod whose listener closed fail (grpc-unavailable)", async () => {
    const r = await fixture("grpc-no-prestop");
    const { load } = expectCompleted(r, "calls");
    expect(load.failed).toBeGreaterThan(0);
    expect(load.failedByKind["grpc-unavailable"]).toBeGreaterThan(0);
    const removed = at(r, "endpoint-removed") as number;
    // grpc-js fails calls fast while a channel waits out its reconnect backoff (1 s, jittered):
    // failures go on past the endpoint's removal, but not past the next reconnect.
    for (const f of failures(r)) expect(f.t).toBeLessThan(removed + 1500);
  });

  for (const variant of ["prestop-sleep", "no-prestop"] as const) {
    it(`GRPC_SHUTDOWN=force, ${variant}: every call in flight at SIGTERM is cancelled`, async () => {
      const r = await fixture(`grpc-force-${variant}`);
      const { load } = expectCompleted(r, "calls");
      const sigterm = at(r, "sigterm-sent") as number;
      const cancelled = failures(r).filter((f) => f.kind === "grpc-other");
      expect(cancelled.length).toBeGreaterThan(0);
      for (const f of cancelled) expect(f.t - sigterm).toBeLessThan(300);
      expect(load.failures.filter((f) => f.kind === "grpc-other").every((f) => f.code === 1)).toBe(true);
    });
  }
});

describe("WebSocket (8 sockets, a message every 50 ms, 20 % echoed after 300 ms)", () => {
  for (const variant of ["prestop-sleep", "no-prestop"] as const) {
    it(`close 1001, ${variant}: clean closes, reconnection at once, but the messages pending at the close are lost`, async () => {
      const r = await fixture(`websocket-${variant}`);
      const { load } = expectCompleted(r, "messages");
      const ws = load.websocket;
      expect(ws).toBeDefined();
      const codes = Object.keys(ws?.closesByCode ?? {});
      expect(codes).toEqual(["1001"]);
      // Every closed socket opened again (through the Service: to the other pod once the endpoint left).
      for (const c of ws?.closes ?? []) expect(c.reconnectGapMs).toBeDefined();
      expect(load.failedByKind["ws-lost"]).toBeGreaterThan(0);
      expect(load.failedByKind["ws-abnormal"] ?? 0).toBe(0);
    });
  }

  for (const variant of ["prestop-sleep", "no-prestop"] as const) {
    it(`WS_CLOSE=abrupt, ${variant}: 1006 on every socket of the pod, its pending messages lost as ws-abnormal`, async () => {
      const r = await fixture(`websocket-abrupt-${variant}`);
      const { load } = expectCompleted(r, "messages");
      expectCutAtSigterm(r, load);
    });
  }
});

describe("WebSocket, a server that only pushes (load.websocket.expect none; a push every 100 ms per socket)", () => {
  it("1001 + preStop sleep: the goodbye is no failure; the sockets reconnect and the pushes go on", async () => {
    const r = await fixture("websocket-push-prestop-sleep");
    const { load } = expectCompleted(r, "messages");
    expect(load.failed).toBe(0);
    expect(Object.keys(load.websocket?.closesByCode ?? {})).toEqual(["1001"]);
    for (const c of load.websocket?.closes ?? []) {
      expect(c.lost).toBe(0);
      expect(c.reconnectGapMs).toBeDefined();
    }
    expect(load.succeeded).toBeGreaterThan(500);
  });

  it("destroyed at SIGTERM, no preStop: the units waiting on the cut sockets fail (ws-abnormal)", async () => {
    const r = await fixture("websocket-push-abrupt-no-prestop");
    const { load } = expectCompleted(r, "messages");
    expectCutAtSigterm(r, load);
  });
});
