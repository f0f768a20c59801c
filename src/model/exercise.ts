// Contracts for "was the disruption exercised?": which pod each connection and each request went
// to, as the routing point (the local Service proxy, or the node's conntrack on kind) saw it.
// Domain types (src/model): imported by every layer, importing nothing but other model files.

/** One client connection as the routing point saw it. */
export interface RoutedConnection {
  /**
   * The client side's port as the routing point sees it. On the local backend it is the load
   * generator's own local port (the proxy accepts the client directly), so requests can be joined
   * to connections; on kind it is docker-proxy's upstream port (not joinable).
   */
  clientPort?: number;
  /** The pod the connection was balanced to; undefined = no endpoint (rejected). */
  pod?: string;
  /** Epoch ms when the connection was routed (accepted / conntrack NEW). */
  openedAt: number;
  /** Epoch ms when it closed (either side), when seen. */
  closedAt?: number;
}

/** Where connection figures come from. */
export type AttributionSource = "service-proxy" | "conntrack";

export interface TrafficAttribution {
  source: AttributionSource;
  /** True when RoutedConnection.clientPort is the load generator's own local port. */
  joinableByClientPort: boolean;
  connections: RoutedConnection[];
  /** Why some figures are missing or approximate (e.g. "conntrack stream ended at ..."). */
  notes?: string[];
}

/** One request with what is known of where it went (kept in memory only, never in result files). */
export interface RequestRecord {
  /** Epoch ms when written. */
  sentAt: number;
  /** Epoch ms when settled (answered or failed). */
  at: number;
  /** A complete 2xx answer. */
  ok: boolean;
  /** The load generator's local port of the connection it went on (when the socket connected). */
  clientPort?: number;
  /** Pod named by the answer's x-served-by header ("<pod>" or "<pod>/<role>"), when the app sends one. */
  pod?: string;
  /** Sent on the stream of fresh short connections (one request per connection). */
  fresh?: boolean;
}

/** Per disrupted pod: the evidence that it carried traffic when it was disrupted. */
export interface ExerciseEvidence {
  pod: string;
  /**
   * exercised: it had open connections at the delete or served requests in the second before it.
   * not-exercised: measured, and it carried nothing (the run is INCONCLUSIVE).
   * unproven: nothing could measure it (e.g. an existing cluster without node access): INCONCLUSIVE.
   */
  status: "exercised" | "not-exercised" | "unproven";
  /** Which evidence the figures come from. */
  sources: Array<AttributionSource | "x-served-by" | "socket-table">;
  /** Established connections in the pod's own socket table just before the delete (kind), a cross-check. */
  socketTableAtDelete?: number;
  /** Connections open to the pod at the delete. */
  openConnectionsAtDelete?: number;
  /** Requests it answered (2xx) in the second before the delete. */
  servedInSecondBeforeDelete?: number;
  /** Requests it answered (2xx) after SIGTERM was sent (or after the delete when SIGTERM is unknown). */
  answeredAfterSigterm?: number;
  /**
   * Where the SIGTERM time of answeredAfterSigterm comes from ("sigterm-sent (kubelet)", "the app's SIGTERM
   * line", …), prefixed "inferred: " when nothing recorded the signal and the kubelet's rule placed it.
   */
  sigtermFrom?: string;
  /** Requests attributed to it over the whole window. */
  servedTotal?: number;
  /**
   * From the load's summary only (an in-cluster load reports no single requests): its answers named
   * by x-served-by spanned the delete (first before it, last in the second before it or later).
   */
  servedAroundDelete?: boolean;
  /** Connections routed to it over the whole window. */
  connectionsRouted?: number;
  /**
   * Delete → the last NEW connection routed to it (ms; negative = none after the delete, value is the
   * last one before it): the effective endpoint propagation as the client sees it.
   */
  lastNewConnectionMs?: number;
  /** New connections routed to it after the delete. */
  newConnectionsAfterDelete?: number;
  /** One sentence a reader can check. */
  summary: string;
}
