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
  /** The ready endpoints in insertion order, rebuilt when readiness changes (not per connection). */
  private ready: EndpointState[] = [];
  private readonly sockets = new Set<net.Socket>();
  private next = 0;
  /**
   * Every connection routed, in arrival order: the ground truth of which pod carried what. Records
   * before `head` were given up to the maxRecords bound (dropped in batches, not one splice each).
   */
  private records: RoutedConnection[] = [];
  private head = 0;
  private droppedRecords = 0;
  private readonly random: () => number;
  private readonly maxRecords: number;
  /** Connections that arrived while no endpoint was ready (kube-proxy rejects those). */
  rejected = 0;

  constructor(private readonly options: ServiceProxyOptions = {}) {
    this.random = options.random ?? Math.random;
    this.maxRecords = options.maxRecords ?? 200_000;
  }

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
    } else {
      this.endpoints.set(name, { name, address, ready: true, open: new Set(), connectionsRouted: 0 });
    }
    this.ready = [...this.endpoints.values()].filter((e) => e.ready);
  }

  /** Takes an endpoint out of balancing; its established connections stay open and pinned. */
  removeEndpoint(name: string): void {
    const state = this.endpoints.get(name);
    if (!state) return;
    state.ready = false;
    this.ready = this.ready.filter((e) => e !== state);
  }

  readyEndpoints(): string[] {
    return this.ready.map((e) => e.name);
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
    const kept = this.records.slice(this.head);
    return { connections: kept.map((r) => ({ ...r })), dropped: this.droppedRecords };
  }

  /** Picks the endpoint of a new connection among the ready ones. */
  private pick(): EndpointState | undefined {
    const ready = this.ready;
    if (ready.length === 0) return undefined;
    if ((this.options.balancing ?? "random") === "random") {
      return ready[Math.min(ready.length - 1, Math.floor(this.random() * ready.length))];
    }
    const chosen = ready[this.next % ready.length];
    this.next = (this.next + 1) % Number.MAX_SAFE_INTEGER;
    return chosen;
  }

  private record(connection: RoutedConnection): RoutedConnection {
    this.records.push(connection);
    if (this.records.length - this.head > this.maxRecords) {
      this.head++;
      this.droppedRecords++;
      // Compact once the dropped prefix is as long as what is kept: amortised O(1) per connection.
      if (this.head >= this.maxRecords) {
        this.records = this.records.slice(this.head);
        this.head = 0;
      }
    }
    return connection;
  }

  private accept(client: net.Socket): void {
    const at = Date.now();
    const endpoint = this.pick();
    this.options.onRoute?.(endpoint?.name, at);
    // The client's own port: the load generator's local port, so requests join to connections.
    const routed = this.record({ clientPort: client.remotePort, pod: endpoint?.name, openedAt: at });
    this.sockets.add(client);
    if (!endpoint) {
      client.on("error", () => {});
      client.on("close", () => {
        routed.closedAt = Date.now();
        this.sockets.delete(client);
      });
      // kube-proxy REJECTs traffic to a Service without endpoints; the TCP handshake already
      // completed here, so the closest we can do is a reset.
      this.rejected++;
      client.resetAndDestroy();
      return;
    }
    endpoint.connectionsRouted++;
    endpoint.lastRoutedAt = at;
    endpoint.open.add(client);
    const { host, port } = endpoint.address;
    const upstream = net.connect({ host, port, allowHalfOpen: true, noDelay: true });
    this.sockets.add(upstream);
    client.on("close", () => {
      routed.closedAt = Date.now();
      this.sockets.delete(client);
      endpoint.open.delete(client);
    });
    upstream.on("close", () => {
      this.sockets.delete(upstream);
      endpoint.open.delete(client);
    });
    // Errors travel as resets so the client sees what it would see from the pod itself.
    upstream.on("error", () => {
      if (!client.destroyed) client.resetAndDestroy();
    });
    client.on("error", () => {
      if (!upstream.destroyed) upstream.resetAndDestroy();
    });
    forward(client, upstream);
    forward(upstream, client);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/**
 * One direction of a connection, chunk by chunk with backpressure (what pipe() does, without its
 * per-chunk bookkeeping); the source's FIN becomes a FIN on the other side (half-close travels).
 */
function forward(from: net.Socket, to: net.Socket): void {
  from.on("data", (chunk: Buffer) => {
    if (!to.write(chunk)) from.pause();
  });
  to.on("drain", () => from.resume());
  from.on("end", () => to.end());
}
