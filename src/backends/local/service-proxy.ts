// A TCP proxy on 127.0.0.1 standing in for a Kubernetes Service with kube-proxy's semantics:
// each NEW connection is balanced over the ready endpoints; an established connection stays
// pinned to the endpoint it was balanced to until either side closes it (conntrack keeps
// DNATed flows alive after the endpoint leaves the rules); removing an endpoint only affects
// new connections. The harness removes an endpoint a configurable delay after the delete, to
// reproduce the lag between the API marking the pod terminating and kube-proxy rewriting rules.
import net from "node:net";
import type { RoutedConnection } from "../../model/exercise.js";

export interface Endpoint {
  host: string;
  port: number;
}

interface EndpointState {
  name: string;
  address: Endpoint;
  ready: boolean;
  open: Set<net.Socket>;
  connectionsRouted: number;
  lastRoutedAt?: number;
}

export interface EndpointStats {
  name: string;
  ready: boolean;
  openConnections: number;
  connectionsRouted: number;
  lastRoutedAt?: number;
}

/** How a new connection picks its endpoint. */
export type Balancing = "random" | "round-robin";

export interface ServiceProxyOptions {
  /** Called for every new connection with the endpoint chosen (undefined: no ready endpoint). */
  onRoute?(endpoint: string | undefined, at: number): void;
  /**
   * random (default): kube-proxy's iptables mode, an independent equal-weight pick per new
   * connection (statistic --mode random); round-robin: IPVS' rr scheduler.
   */
  balancing?: Balancing;
  /** Random source in [0, 1) for `random` balancing (tests). */
  random?: () => number;
  /** Keep at most this many connection records (oldest dropped first; default 200 000). */
  maxRecords?: number;
}

export class ServiceProxy {
  private server?: net.Server;
  private readonly endpoints = new Map<string, EndpointState>();
  private readonly sockets = new Set<net.Socket>();
  private next = 0;
  /** Every connection routed, in arrival order: the ground truth of which pod carried what. */
  private readonly records: RoutedConnection[] = [];
  private droppedRecords = 0;
  /** Connections that arrived while no endpoint was ready (kube-proxy rejects those). */
  rejected = 0;

  constructor(private readonly options: ServiceProxyOptions = {}) {}

  /** Listens on 127.0.0.1 only. */
  async listen(port = 0): Promise<Endpoint> {
    const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => this.accept(client));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    const address = server.address() as net.AddressInfo;
    return { host: "127.0.0.1", port: address.port };
  }

  /** Adds (or marks ready) an endpoint: it receives new connections from now on. */
  addEndpoint(name: string, address: Endpoint): void {
    const existing = this.endpoints.get(name);
    if (existing) {
      existing.ready = true;
      existing.address = address;
      return;
    }
    this.endpoints.set(name, { name, address, ready: true, open: new Set(), connectionsRouted: 0 });
  }

  /** Takes an endpoint out of balancing; its established connections stay open and pinned. */
  removeEndpoint(name: string): void {
    const state = this.endpoints.get(name);
    if (state) state.ready = false;
  }

  readyEndpoints(): string[] {
    return [...this.endpoints.values()].filter((e) => e.ready).map((e) => e.name);
  }

  stats(): EndpointStats[] {
    return [...this.endpoints.values()].map((e) => ({
      name: e.name,
      ready: e.ready,
      openConnections: e.open.size,
      connectionsRouted: e.connectionsRouted,
      lastRoutedAt: e.lastRoutedAt,
    }));
  }

  /**
   * Every connection routed so far (copies), oldest first; `dropped` counts records given up to
   * the maxRecords bound.
   */
  connections(): { connections: RoutedConnection[]; dropped: number } {
    return { connections: this.records.map((r) => ({ ...r })), dropped: this.droppedRecords };
  }

  /** Picks the endpoint of a new connection among the ready ones. */
  private pick(): EndpointState | undefined {
    const ready = [...this.endpoints.values()].filter((e) => e.ready);
    if (ready.length === 0) return undefined;
    if ((this.options.balancing ?? "random") === "random") {
      const r = (this.options.random ?? Math.random)();
      return ready[Math.min(ready.length - 1, Math.floor(r * ready.length))];
    }
    const chosen = ready[this.next % ready.length];
    this.next = (this.next + 1) % Number.MAX_SAFE_INTEGER;
    return chosen;
  }

  private record(connection: RoutedConnection): RoutedConnection {
    this.records.push(connection);
    const max = this.options.maxRecords ?? 200_000;
    if (this.records.length > max) {
      const excess = this.records.length - max;
      this.records.splice(0, excess);
      this.droppedRecords += excess;
    }
    return connection;
  }

  private accept(client: net.Socket): void {
    const at = Date.now();
    this.sockets.add(client);
    client.on("close", () => this.sockets.delete(client));
    client.on("error", () => {});
    const endpoint = this.pick();
    this.options.onRoute?.(endpoint?.name, at);
    // The client's own port: the load generator's local port, so requests join to connections.
    const routed = this.record({ clientPort: client.remotePort, pod: endpoint?.name, openedAt: at });
    client.once("close", () => {
      routed.closedAt = Date.now();
    });
    if (!endpoint) {
      // kube-proxy REJECTs traffic to a Service without endpoints; the TCP handshake already
      // completed here, so the closest we can do is a reset.
      this.rejected++;
      client.resetAndDestroy();
      return;
    }
    endpoint.connectionsRouted++;
    endpoint.lastRoutedAt = at;
    const upstream = net.connect({ host: endpoint.address.host, port: endpoint.address.port, allowHalfOpen: true });
    upstream.setNoDelay(true);
    this.sockets.add(upstream);
    endpoint.open.add(client);
    const forget = () => {
      endpoint.open.delete(client);
      this.sockets.delete(upstream);
    };
    upstream.on("close", forget);
    client.on("close", forget);
    // Errors travel as resets so the client sees what it would see from the pod itself.
    upstream.on("error", () => {
      if (!client.destroyed) client.resetAndDestroy();
    });
    client.on("error", () => {
      if (!upstream.destroyed) upstream.resetAndDestroy();
    });
    // Half-closes travel both ways: a server FIN reaches the client as a FIN.
    client.pipe(upstream);
    upstream.pipe(client);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
