// The warm-up against a real HTTP server on 127.0.0.1 that fails its first N requests: the failed
// probes must be counted, classified, attributed and put on the timeline, not vanish.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { EventLog } from "../../src/observe/events.js";
import { warmUpFailuresText, warmUpText } from "../../src/report/status.js";
import { warmUp } from "../../src/runner/warm-up.js";

type Failing = "503" | "reset";

/** Answers 2xx naming pod-a / pod-b in turn, after failing its first `n` requests the way asked. */
async function failFirst(n: number, how: Failing): Promise<{ port: number; close(): Promise<void> }> {
  let seen = 0;
  const server = http.createServer((req, res) => {
    seen++;
    const pod = seen % 2 === 0 ? "pod-a" : "pod-b";
    if (seen <= n) {
      if (how === "reset") {
        req.socket.resetAndDestroy();
        return;
      }
      res.writeHead(503, { "x-served-by": `${pod}/app` }).end("cold");
      return;
    }
    res.writeHead(200, { "x-served-by": `${pod}/app` }).end("ok");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

let close: (() => Promise<void>) | undefined;

/** The warm-up against a server failing its first n requests, pods pod-a and pod-b. */
async function warmUpAgainst(n: number, how: Failing, sink?: EventLog) {
  const server = await failFirst(n, how);
  close = server.close;
  return warmUp({
    target: { host: "127.0.0.1", port: server.port },
    path: "/",
    pods: ["pod-a", "pod-b"],
    boundMs: 10_000,
    intervalMs: 1,
    ...(sink ? { sink } : {}),
  });
}
afterEach(async () => {
  await close?.();
  close = undefined;
});

describe("warm-up: failed probes", () => {
  it("counts, classifies and attributes a cold start's 24 failed 503s, and puts them on the timeline", async () => {
    const events = new EventLog();
    const w = await warmUpAgainst(24, "503", events);
    expect(w.complete).toBe(true);
    expect(w.answered).toEqual(["pod-a", "pod-b"]);
    expect(w.failed).toBe(24);
    expect(w.probes).toBeGreaterThanOrEqual(26);
    expect(w.failures).toHaveLength(24);
    expect(w.failures?.every((f) => f.kind === "non-2xx" && f.code === 503)).toBe(true);
    expect(w.failures?.filter((f) => f.pod === "pod-a")).toHaveLength(12);
    expect(w.failures?.every((f) => f.at >= w.startedAt && f.at <= w.endedAt)).toBe(true);
    const timeline = events.events.filter((e) => e.kind === "warm-up-probe-failed");
    expect(timeline).toHaveLength(24);
    expect(timeline[0]?.detail).toEqual({ kind: "non-2xx", code: 503 });
    expect(warmUpText(w)).toMatch(
      /^2\/2 pod\(s\) answered through the Service in \d+\.\d\d s \(\d+ probe\(s\)\), complete; 24 probe\(s\) FAILED \(non-2xx 503 ×24\) from \+\d+\.\d\d s to \+\d+\.\d\d s of the warm-up, on pod-b ×12, pod-a ×12$/,
    );
  });

  it("records connection resets with no pod (nothing names it) and their kind", async () => {
    const w = await warmUpAgainst(3, "reset");
    expect(w.complete).toBe(true);
    expect(w.failed).toBe(3);
    expect(w.failures?.map((f) => f.kind)).toEqual(["reset", "reset", "reset"]);
    expect(w.failures?.some((f) => f.pod !== undefined)).toBe(false);
    expect(warmUpFailuresText(w)).toMatch(/^3 probe\(s\) FAILED \(reset ECONNRESET ×3\) from/);
  });

  it("says nothing of failures when none failed (and old results without the field)", async () => {
    const w = await warmUpAgainst(0, "503");
    expect(w.failed).toBe(0);
    expect(w.failures).toBeUndefined();
    expect(warmUpFailuresText(w)).toBeUndefined();
    const { failed: _, ...old } = w;
    expect(warmUpText(old)).toMatch(/complete$/);
  });
});

describe("warm-up: failed probes in the console timeline", () => {
  it("lists them although they come before the delete, capped like failed requests", async () => {
    const { formatTimeline } = await import("../../src/report/console.js");
    const { buildTimeline } = await import("../../src/observe/timeline.js");
    const probe = (at: number) => ({
      at,
      kind: "warm-up-probe-failed" as const,
      source: "load" as const,
      pod: "pod-a",
      detail: { kind: "non-2xx", code: 503 },
    });
    const timeline = buildTimeline([
      ...Array.from({ length: 7 }, (_, i) => probe(1000 + i)),
      { at: 5000, kind: "delete-requested", source: "harness", pod: "pod-a" },
    ]);
    const lines = formatTimeline({ timeline, pods: [{ pod: "pod-a" }], backend: "local" } as never);
    expect(lines.filter((l) => l.includes("warm-up probe failed: non-2xx (503)  [pod-a]"))).toHaveLength(5);
    expect(lines[0]).toMatch(/^\s+-4\.000 s {2}load\s+warm-up probe failed: non-2xx \(503\)/);
    expect(lines).toContain("    … and 2 more failed warm-up probe(s)");
  });
});

describe("warm-up: the load's request shape", () => {
  it("probes with the load's Host header, so an ingress-style server routes the probe as it routes the load", async () => {
    const hosts: Array<string | undefined> = [];
    const server = http.createServer((req, res) => {
      hosts.push(req.headers.host);
      // Like an ingress: an unknown Host gets 404, the shop's answers naming its pod.
      if (req.headers.host !== "shop.example") return void res.writeHead(404).end("no route");
      res.writeHead(200, { "x-served-by": "pod-a/app" }).end("ok");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    close = () => new Promise<void>((r) => server.close(() => r()));
    const target = { host: "127.0.0.1", port: (server.address() as AddressInfo).port };
    const base = { target, path: "/", pods: ["pod-a"], boundMs: 2000, intervalMs: 1 };
    const routed = await warmUp({ ...base, request: { method: "GET", headers: { host: "shop.example" } } });
    expect(routed).toMatchObject({ complete: true, failed: 0, answered: ["pod-a"] });
    expect(hosts.every((h) => h === "shop.example")).toBe(true);
    // Without the load's Host the same server answers 404 to every probe: the warm-up never completes.
    const bare = await warmUp({ ...base, boundMs: 300 });
    expect(bare.complete).toBe(false);
    expect(bare.failures?.[0]).toMatchObject({ kind: "non-2xx", code: 404 });
  });
});

describe("warm-up: a server that does not speak HTTP/1.1", () => {
  it("stops after a few probes whose answers are not HTTP (a gRPC-only server) and says so", async () => {
    const net = await import("node:net");
    // What an HTTP/2-only (h2c) server sends first: its connection preface SETTINGS frame, not HTTP/1.1.
    const sockets = new Set<import("node:net").Socket>();
    const server = net.createServer((s) => {
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => sockets.delete(s));
      s.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    close = () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      });
    const w = await warmUp({
      target: { host: "127.0.0.1", port: (server.address() as AddressInfo).port },
      path: "/",
      pods: ["pod-a"],
      boundMs: 10_000,
      intervalMs: 1,
    });
    expect(w.complete).toBe(false);
    expect(w.probes).toBe(5);
    expect(w.note).toMatch(/^the Service's answers are not HTTP\/1\.1 \(HPE_[A-Z_]+\): a server of another protocol/);
    // The line says why it ended (not "the bound ran out": 5 probes, far from the 10 s bound).
    expect(w.stopped).toBe("not-http1");
    expect(warmUpText(w)).toMatch(
      /, INCOMPLETE: stopped early: the answers are not HTTP\/1\.1; not answered: pod-a; 5 probe\(s\) FAILED .* — the Service's answers are not HTTP\/1\.1/,
    );
    expect(warmUpText(w)).not.toContain("bound");
  });
});

describe("warm-up: why an incomplete warm-up ended, in its line", () => {
  /** A server answering 200 without naming its pod (no x-served-by), and no routing record. */
  async function anonymous(): Promise<{ host: string; port: number }> {
    const server = http.createServer((_req, res) => res.writeHead(200).end("ok"));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    close = () => new Promise<void>((r) => server.close(() => r()));
    return { host: "127.0.0.1", port: (server.address() as AddressInfo).port };
  }

  it("nothing names the pod: stops after 20 answers and says so, not that the bound ran out", async () => {
    const w = await warmUp({ target: await anonymous(), path: "/", pods: ["pod-a"], boundMs: 10_000, intervalMs: 1 });
    expect(w.complete).toBe(false);
    expect(w.probes).toBe(20);
    expect(w.stopped).toBe("no-pod-named");
    expect(warmUpText(w)).toMatch(
      /, INCOMPLETE: stopped early: nothing names the pod that answered; not answered: pod-a — nothing shows which pod answered/,
    );
  });

  it("the bound: says the bound ran out (and a run stopped first says that)", async () => {
    const target = await anonymous();
    const attribution = () => ({ source: "service-proxy" as const, joinableByClientPort: true, connections: [] });
    const w = await warmUp({ target, path: "/", pods: ["pod-a"], boundMs: 150, intervalMs: 5, attribution });
    expect(w.complete).toBe(false);
    expect(w.endedAt - w.startedAt).toBeGreaterThanOrEqual(150);
    expect(w.stopped).toBe("bound");
    expect(warmUpText(w)).toContain(", INCOMPLETE: the bound ran out first; not answered: pod-a");
    const ctl = new AbortController();
    ctl.abort();
    const aborted = await warmUp({ target, path: "/", pods: ["pod-a"], boundMs: 10_000, signal: ctl.signal });
    expect(aborted).toMatchObject({ complete: false, probes: 0, stopped: "aborted" });
    expect(warmUpText(aborted)).toContain(", INCOMPLETE: the run was stopped first; not answered: pod-a");
  });
});
