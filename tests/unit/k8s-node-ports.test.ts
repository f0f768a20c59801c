// NodePorts per concurrent run (pure allocator, range parsing, kind-config.yaml in step with the code) and
// the driver's waits with a fake clock: how many checks a wait makes, event-driven or polled.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parsePublishedPorts } from "../../src/backends/kind/cluster.js";
import {
  formatPorts,
  KIND_NODE_PORTS,
  MAX_NODE_PORTS,
  NodePortPool,
  parseNodePortRange,
} from "../../src/k8s/node-ports.js";
import { type Clock, pollUntil, Wakeup } from "../../src/k8s/wait.js";
import { UsageError } from "../../src/util/errors.js";

const ROOT = join(import.meta.dirname, "../..");

describe("NodePortPool", () => {
  it("hands out one free port per owner, the one free the longest first; the same one when asked again", () => {
    const pool = new NodePortPool([30080, 30081, 30082]);
    expect(pool.acquire("a")).toBe(30080);
    expect(pool.acquire("b")).toBe(30081);
    expect(pool.acquire("a")).toBe(30080);
    expect(pool.release("a")).toBe(30080);
    expect(pool.release("a")).toBeUndefined(); // twice is fine
    // 30082 has been free longer than 30080, which just came back.
    expect(pool.acquire("c")).toBe(30082);
    expect(pool.acquire("d")).toBe(30080);
    expect(pool.acquire("e")).toBeUndefined();
    expect(pool.exhausted()).toBe(
      "no free NodePort: all 3 (30080-30082) are in use by 30081 (run b), 30082 (run c), 30080 (run d): run fewer scenarios at once (--parallel)",
    );
    expect(pool.portOf("b")).toBe(30081);
    expect(pool.size).toBe(3);
  });

  it("a port whose Service could not be deleted is never handed out again", () => {
    const pool = new NodePortPool([30080, 30081]);
    pool.acquire("a");
    expect(pool.retire("a")).toBe(30080);
    expect(pool.acquire("b")).toBe(30081);
    expect(pool.acquire("c")).toBeUndefined();
    expect(pool.exhausted()).toMatch(/30080 still claimed by a Service that could not be deleted/);
    expect(pool.size).toBe(1);
  });

  it("one run at a time on a single port: each run gets it back after the previous one's Service is gone", () => {
    const pool = new NodePortPool([30080]);
    for (const run of ["r1", "r2", "r3"]) {
      expect(pool.acquire(run)).toBe(30080);
      expect(pool.acquire(`${run}-overlapping`)).toBeUndefined();
      pool.release(run);
    }
  });
});

describe("--node-ports ranges", () => {
  it("a port or a range", () => {
    expect(parseNodePortRange("30080")).toEqual([30080]);
    expect(parseNodePortRange("30080-30083")).toEqual([30080, 30081, 30082, 30083]);
    expect(parseNodePortRange(" 30080 - 30081 ")).toEqual([30080, 30081]);
    expect(formatPorts([30081, 30080, 30082])).toBe("30080-30082");
    expect(formatPorts([30080, 30082])).toBe("30080, 30082");
  });

  it.each([
    ["3008x", '--node-ports: expected a port or a range like 30080-30087, got "3008x"'],
    ["", '--node-ports: expected a port or a range like 30080-30087, got ""'],
    ["30080,30081", '--node-ports: expected a port or a range like 30080-30087, got "30080,30081"'],
    ["30087-30080", "--node-ports: 30087-30080 is reversed (write 30080-30087)"],
    ["0-3", "--node-ports: 0 is not a port (1-65535)"],
    ["65535-70000", "--node-ports: 70000 is not a port (1-65535)"],
    ["30000-30100", `--node-ports: 101 ports; at most ${MAX_NODE_PORTS} (one per concurrent scenario)`],
  ])("%j is refused: %s", (text, message) => {
    expect(() => parseNodePortRange(text)).toThrow(UsageError);
    expect(() => parseNodePortRange(text)).toThrow(message);
  });
});

describe("kind-config.yaml publishes KIND_NODE_PORTS on 127.0.0.1", () => {
  it("the same ports, loopback only, node port = host port", () => {
    const config = parse(readFileSync(join(ROOT, "kind-config.yaml"), "utf8")) as {
      nodes: Array<{ role: string; extraPortMappings?: Array<Record<string, unknown>> }>;
    };
    const mappings = config.nodes.find((n) => n.role === "control-plane")?.extraPortMappings ?? [];
    expect(mappings.map((m) => m.containerPort)).toEqual([...KIND_NODE_PORTS]);
    for (const m of mappings) {
      expect(m).toMatchObject({ hostPort: m.containerPort, listenAddress: "127.0.0.1", protocol: "TCP" });
    }
  });

  it("`docker port <node>` output → NodePort → port here, loopback mappings only", () => {
    const out = [
      "30080/tcp -> 127.0.0.1:30080",
      "30081/tcp -> 127.0.0.1:30081",
      "30082/tcp -> 0.0.0.0:30082",
      "6443/tcp -> 127.0.0.1:41283",
      "30083/tcp -> [::1]:40083",
      "",
    ].join("\n");
    expect([...parsePublishedPorts(out)]).toEqual([
      [30080, 30080],
      [30081, 30081],
      [6443, 41283],
      [30083, 40083],
    ]);
  });
});

/** Time that moves only when a wait sleeps. */
function fakeClock(): Clock & { t: number; sleeps: number[] } {
  const c = {
    t: 0,
    sleeps: [] as number[],
    now: () => c.t,
    sleep: async (ms: number) => {
      c.sleeps.push(ms);
      c.t += ms;
    },
  };
  return c;
}

describe("pollUntil (the driver's waits) with a fake clock", () => {
  it("polled: something true after 730 ms is seen at 800 ms, the 9th check, 100 ms apart", async () => {
    const clock = fakeClock();
    const r = await pollUntil(() => (clock.t >= 730 ? "ready" : undefined), { clock, timeoutMs: 60_000, pollMs: 100 });
    expect(r).toEqual({ value: "ready", timedOut: false, checks: 9, elapsedMs: 800 });
    // The old driver polled every 500 ms: the same readiness seen only at 1000 ms.
    const old = fakeClock();
    const r500 = await pollUntil(() => (old.t >= 730 ? "ready" : undefined), {
      clock: old,
      timeoutMs: 60_000,
      pollMs: 500,
    });
    expect(r500.elapsedMs).toBe(1000);
  });

  it("event-driven: checked again at once when something changes, not at the next poll", async () => {
    const clock = fakeClock();
    const wake = new Wakeup();
    let ready = false;
    let checks = 0;
    // The change arrives (a watch entry) while the wait is paused; its sleep never completes here.
    const frozen: Clock = { now: () => clock.t, sleep: () => new Promise<void>(() => {}) };
    const waiting = pollUntil(
      () => {
        checks++;
        return ready ? true : undefined;
      },
      { clock: frozen, timeoutMs: 60_000, pollMs: 1000, changed: () => wake.next() },
    );
    await Promise.resolve();
    expect(checks).toBe(1);
    ready = true;
    wake.notify();
    const r = await waiting;
    expect(r).toMatchObject({ value: true, checks: 2, elapsedMs: 0 });
  });

  it("times out at the deadline, never sleeping past it", async () => {
    const clock = fakeClock();
    const r = await pollUntil(() => undefined, { clock, timeoutMs: 250, pollMs: 100 });
    expect(r).toEqual({ timedOut: true, checks: 4, elapsedMs: 250 });
    expect(clock.sleeps).toEqual([100, 100, 50]);
  });

  it("a Wakeup shares one promise between waiters until it fires", async () => {
    const wake = new Wakeup();
    const a = wake.next();
    expect(wake.next()).toBe(a);
    wake.notify();
    await a;
    expect(wake.next()).not.toBe(a);
  });
});
