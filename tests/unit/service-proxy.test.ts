import net from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ServiceProxy } from "../../src/backends/local/service-proxy.js";

/** A TCP server on 127.0.0.1 that answers every line with its own name. */
async function namedServer(name: string) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("data", () => s.write(`${name}\n`));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    sockets,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1", () => resolve(s));
    s.once("error", reject);
  });
}

function ask(s: net.Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    s.once("data", (d) => resolve(d.toString().trim()));
    s.once("error", reject);
    s.write("hi\n");
  });
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

describe("ServiceProxy (kube-proxy semantics)", () => {
  it("balances new connections round-robin over ready endpoints", async () => {
    const a = await namedServer("a");
    const b = await namedServer("b");
    const proxy = new ServiceProxy({ balancing: "round-robin" });
    cleanups.push(a.close, b.close, () => proxy.close());
    const { port } = await proxy.listen();
    proxy.addEndpoint("a", { host: "127.0.0.1", port: a.port });
    proxy.addEndpoint("b", { host: "127.0.0.1", port: b.port });
    const answers: string[] = [];
    for (let i = 0; i < 6; i++) {
      const s = await connect(port);
      answers.push(await ask(s));
      s.destroy();
    }
    expect(answers.filter((x) => x === "a")).toHaveLength(3);
    expect(answers.filter((x) => x === "b")).toHaveLength(3);
  });

  it("keeps established connections pinned after the endpoint is removed; new ones avoid it", async () => {
    const a = await namedServer("a");
    const b = await namedServer("b");
    const proxy = new ServiceProxy({ balancing: "round-robin" });
    cleanups.push(a.close, b.close, () => proxy.close());
    const { port } = await proxy.listen();
    proxy.addEndpoint("a", { host: "127.0.0.1", port: a.port });
    const pinned = await connect(port);
    expect(await ask(pinned)).toBe("a");
    proxy.addEndpoint("b", { host: "127.0.0.1", port: b.port });
    proxy.removeEndpoint("a");
    expect(await ask(pinned)).toBe("a");
    for (let i = 0; i < 4; i++) {
      const s = await connect(port);
      expect(await ask(s)).toBe("b");
      s.destroy();
    }
    expect(proxy.stats().find((e) => e.name === "a")).toMatchObject({ ready: false, openConnections: 1 });
    pinned.destroy();
  });

  it("resets a new connection when no endpoint is ready", async () => {
    const proxy = new ServiceProxy({ balancing: "round-robin" });
    cleanups.push(() => proxy.close());
    const { port } = await proxy.listen();
    const error = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      const s = net.connect(port, "127.0.0.1", () => s.write("hi\n"));
      s.once("error", (e) => resolve(e));
      s.once("close", () => resolve(undefined));
    });
    expect(error?.code).toBe("ECONNRESET");
    expect(proxy.rejected).toBe(1);
  });

  it("passes the pod's FIN through as a FIN and a pod's reset as a reset", async () => {
    const finServer = net.createServer({ allowHalfOpen: false }, (s) => s.on("data", () => s.end()));
    const rstServer = net.createServer((s) => s.on("data", () => s.resetAndDestroy()));
    await new Promise<void>((r) => finServer.listen(0, "127.0.0.1", () => r()));
    await new Promise<void>((r) => rstServer.listen(0, "127.0.0.1", () => r()));
    const proxy = new ServiceProxy({ balancing: "round-robin" });
    cleanups.push(
      () => new Promise((r) => finServer.close(() => r())),
      () => new Promise((r) => rstServer.close(() => r())),
      () => proxy.close(),
    );
    const { port } = await proxy.listen();
    const outcome = async () => {
      const s = await connect(port);
      return new Promise<string>((resolve) => {
        s.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"));
        s.once("end", () => resolve("FIN"));
        s.write("hi\n");
      });
    };
    proxy.addEndpoint("fin", { host: "127.0.0.1", port: (finServer.address() as net.AddressInfo).port });
    expect(await outcome()).toBe("FIN");
    proxy.removeEndpoint("fin");
    proxy.addEndpoint("rst", { host: "127.0.0.1", port: (rstServer.address() as net.AddressInfo).port });
    expect(await outcome()).toBe("ECONNRESET");
  });

  it("listens on 127.0.0.1 only", async () => {
    const proxy = new ServiceProxy({ balancing: "round-robin" });
    cleanups.push(() => proxy.close());
    const { host } = await proxy.listen();
    expect(host).toBe("127.0.0.1");
  });

  it("random balancing (iptables mode) picks each new connection independently", async () => {
    const a = await namedServer("a");
    const b = await namedServer("b");
    // Scripted random source: 0.1 → first ready endpoint, 0.9 → second.
    const draws = [0.1, 0.1, 0.9, 0.1, 0.9, 0.9];
    const proxy = new ServiceProxy({ balancing: "random", random: () => draws.shift() ?? 0 });
    cleanups.push(a.close, b.close, () => proxy.close());
    const { port } = await proxy.listen();
    proxy.addEndpoint("a", { host: "127.0.0.1", port: a.port });
    proxy.addEndpoint("b", { host: "127.0.0.1", port: b.port });
    const answers: string[] = [];
    for (let i = 0; i < 6; i++) {
      const s = await connect(port);
      answers.push(await ask(s));
      s.destroy();
    }
    expect(answers).toEqual(["a", "a", "b", "a", "b", "b"]);
  });

  it("records every connection with the client's own port, its pod and when it opened and closed", async () => {
    const a = await namedServer("a");
    const proxy = new ServiceProxy();
    cleanups.push(a.close, () => proxy.close());
    const { port } = await proxy.listen();
    await new Promise<void>((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      s.on("error", () => {});
      s.on("close", () => resolve());
    });
    proxy.addEndpoint("a", { host: "127.0.0.1", port: a.port });
    const s = await connect(port);
    expect(await ask(s)).toBe("a");
    const clientPort = s.localPort;
    s.destroy();
    // The proxy sees the close when its side of the socket ends: wait for that, not a fixed time.
    await vi.waitFor(() => expect(proxy.connections().connections[1]?.closedAt).toBeDefined(), { timeout: 5000 });
    const { connections, dropped } = proxy.connections();
    expect(dropped).toBe(0);
    expect(connections).toHaveLength(2);
    expect(connections[0]?.pod).toBeUndefined();
    expect(connections[0]?.clientPort).toBeGreaterThan(0);
    expect(connections[1]).toMatchObject({ clientPort, pod: "a" });
    expect(connections[1]?.closedAt).toBeGreaterThanOrEqual(connections[1]?.openedAt ?? Number.NaN);
  });

  it("keeps the newest maxRecords connection records and counts the ones it gave up", async () => {
    const a = await namedServer("a");
    const proxy = new ServiceProxy({ maxRecords: 2 });
    cleanups.push(a.close, () => proxy.close());
    const { port } = await proxy.listen();
    proxy.addEndpoint("a", { host: "127.0.0.1", port: a.port });
    const ports: number[] = [];
    for (let i = 0; i < 5; i++) {
      const s = await connect(port);
      expect(await ask(s)).toBe("a");
      ports.push(s.localPort ?? 0);
      s.destroy();
    }
    const { connections, dropped } = proxy.connections();
    expect(dropped).toBe(3);
    expect(connections.map((c) => c.clientPort)).toEqual(ports.slice(3));
  });
});
