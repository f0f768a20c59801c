// PURE: was each disruption exercised? Joins what the routing point saw (connections → pods) with
// what the load saw (requests → answers), and states, per disrupted pod, the evidence that it carried
// traffic when it was disrupted. A pod with no open connection at the delete and no answer in the
// second before it was not exercised: the run is INCONCLUSIVE, whatever its verdicts say.
import type {
  AttributionSource,
  ExerciseEvidence,
  RequestRecord,
  RoutedConnection,
  TrafficAttribution,
} from "../model/exercise.js";

/** The window before the delete in which a served request counts as "carrying traffic". */
export const SERVED_BEFORE_WINDOW_MS = 1000;

/** x-served-by is "<pod>" or "<pod>/<role>". */
export function podOfHeader(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const pod = value.split("/")[0]?.trim();
  return pod ? pod : undefined;
}

/** A request with the pod it is attributed to, and how. */
export interface AttributedRequest extends RequestRecord {
  attributedPod?: string;
  attributedBy?: "x-served-by" | AttributionSource;
}

/**
 * Attributes each request to a pod: the app's own x-served-by first (it names the pod that answered),
 * else the routing point's record of the connection it went on (joined by the client's local port;
 * ports are reused, so the latest connection on that port opened before the request settled).
 */
export function attributeRequests(
  requests: readonly RequestRecord[],
  attribution: TrafficAttribution | undefined,
): AttributedRequest[] {
  const byPort = new Map<number, RoutedConnection[]>();
  if (attribution?.joinableByClientPort) {
    for (const c of attribution.connections) {
      if (c.clientPort === undefined) continue;
      const list = byPort.get(c.clientPort) ?? [];
      list.push(c);
      byPort.set(c.clientPort, list);
    }
    for (const list of byPort.values()) list.sort((a, b) => a.openedAt - b.openedAt);
  }
  return requests.map((r): AttributedRequest => {
    const header = podOfHeader(r.pod);
    if (header) return { ...r, attributedPod: header, attributedBy: "x-served-by" };
    if (attribution && r.clientPort !== undefined) {
      const list = byPort.get(r.clientPort);
      let match: RoutedConnection | undefined;
      for (const c of list ?? []) if (c.openedAt <= r.at) match = c;
      if (match?.pod) return { ...r, attributedPod: match.pod, attributedBy: attribution.source };
    }
    return { ...r };
  });
}

export interface ExerciseInput {
  pod: string;
  /** Epoch ms of the delete call. */
  deleteAt: number;
  /** Epoch ms when SIGTERM reached the pod (observe/sigterm.ts), when known. */
  sigtermAt?: number;
  /** Where that time comes from, in words; `sigtermInferred`: the kubelet's rule, not a record of the signal. */
  sigtermFrom?: string;
  sigtermInferred?: boolean;
  attribution?: TrafficAttribution;
  /** Every request of the window, attributed (attributeRequests). */
  requests: readonly AttributedRequest[];
  /** Established connections in the pod's own socket table just before the delete, when read. */
  socketTableAtDelete?: number;
  /**
   * The load's per-pod summary (x-served-by: count, first and last answer): evidence only when no
   * single request could be attributed (an in-cluster load Job reports no single requests).
   */
  servedBy?: ReadonlyArray<{ pod: string; count: number; first: number; last: number }>;
}

const isOpenAt = (c: RoutedConnection, at: number) => c.openedAt <= at && (c.closedAt === undefined || c.closedAt > at);

function offset(ms: number): string {
  return `${ms < 0 ? "-" : "+"}${(Math.abs(ms) / 1000).toFixed(2)} s`;
}

/** The evidence that one disrupted pod carried traffic when it was disrupted. */
export function exerciseEvidence(input: ExerciseInput): ExerciseEvidence {
  const { pod, deleteAt, attribution } = input;
  const sources: ExerciseEvidence["sources"] = [];
  const evidence: ExerciseEvidence = { pod, status: "unproven", sources, summary: "" };

  if (attribution) {
    sources.push(attribution.source);
    const mine = attribution.connections.filter((c) => c.pod === pod);
    evidence.openConnectionsAtDelete = mine.filter((c) => isOpenAt(c, deleteAt)).length;
    evidence.connectionsRouted = mine.length;
    const after = mine.filter((c) => c.openedAt >= deleteAt);
    evidence.newConnectionsAfterDelete = after.length;
    const last = mine.reduce<number | undefined>(
      (m, c) => (m === undefined || c.openedAt > m ? c.openedAt : m),
      undefined,
    );
    if (last !== undefined) evidence.lastNewConnectionMs = last - deleteAt;
  }

  if (input.socketTableAtDelete !== undefined) {
    sources.push("socket-table");
    evidence.socketTableAtDelete = input.socketTableAtDelete;
    // Without a routing record, the pod's own socket table says how many connections it held.
    evidence.openConnectionsAtDelete ??= input.socketTableAtDelete;
  }

  const attributed = input.requests.filter((r) => r.attributedPod !== undefined);
  if (attributed.length > 0) {
    if (input.requests.some((r) => r.attributedBy === "x-served-by")) sources.push("x-served-by");
    const served = attributed.filter((r) => r.ok && r.attributedPod === pod);
    evidence.servedTotal = served.length;
    evidence.servedInSecondBeforeDelete = served.filter(
      (r) => r.at >= deleteAt - SERVED_BEFORE_WINDOW_MS && r.at < deleteAt,
    ).length;
    const from = input.sigtermAt ?? deleteAt;
    evidence.answeredAfterSigterm = served.filter((r) => r.at >= from).length;
    if (input.sigtermAt !== undefined && input.sigtermFrom !== undefined) {
      evidence.sigtermFrom = `${input.sigtermInferred ? "inferred: " : ""}${input.sigtermFrom}`;
    }
  }

  const named = (input.servedBy ?? []).filter((s) => podOfHeader(s.pod) !== undefined && s.pod !== "(unknown)");
  if (attributed.length === 0 && named.length > 0) {
    if (!sources.includes("x-served-by")) sources.push("x-served-by");
    const mine = named.filter((s) => podOfHeader(s.pod) === pod);
    evidence.servedTotal = mine.reduce((n, s) => n + s.count, 0);
    evidence.servedAroundDelete = mine.some((s) => s.first < deleteAt && s.last >= deleteAt - SERVED_BEFORE_WINDOW_MS);
  }

  const measured =
    evidence.openConnectionsAtDelete !== undefined ||
    evidence.servedInSecondBeforeDelete !== undefined ||
    evidence.servedAroundDelete !== undefined;
  const carried =
    (evidence.openConnectionsAtDelete ?? 0) > 0 ||
    (evidence.servedInSecondBeforeDelete ?? 0) > 0 ||
    evidence.servedAroundDelete === true;
  evidence.status = carried ? "exercised" : measured ? "not-exercised" : "unproven";
  evidence.summary = summarize(evidence, input.sigtermAt !== undefined);
  return evidence;
}

function summarize(e: ExerciseEvidence, sigtermKnown: boolean): string {
  if (e.status === "unproven") {
    return (
      `${e.pod}: exercise unproven — no routing record of its connections (no node access) and no ` +
      "x-served-by header naming the pod that answered"
    );
  }
  const parts: string[] = [];
  if (e.openConnectionsAtDelete !== undefined)
    parts.push(`${e.openConnectionsAtDelete} connection(s) open at the delete`);
  if (e.socketTableAtDelete !== undefined) {
    parts.push(`its own socket table held ${e.socketTableAtDelete} established connection(s) on its port`);
  }
  if (e.servedInSecondBeforeDelete !== undefined) {
    parts.push(`${e.servedInSecondBeforeDelete} request(s) served in the second before it`);
    parts.push(
      `${e.answeredAfterSigterm ?? 0} answered after ${sigtermKnown ? "SIGTERM" : "the delete (SIGTERM time unknown)"}` +
        (e.sigtermFrom?.startsWith("inferred: ") ? ` (SIGTERM time ${e.sigtermFrom})` : ""),
    );
  } else if (e.servedAroundDelete !== undefined) {
    parts.push(
      e.servedAroundDelete
        ? `its answers (${e.servedTotal ?? 0}, x-served-by in the load's summary) went on until the second before the delete or later`
        : `its answers (${e.servedTotal ?? 0}, x-served-by in the load's summary) had stopped more than a second before the delete`,
    );
  } else {
    parts.push("requests per pod not attributable (no x-served-by, connections not joinable to requests)");
  }
  if (e.lastNewConnectionMs !== undefined) {
    parts.push(
      e.lastNewConnectionMs >= 0
        ? `last new connection routed to it at ${offset(e.lastNewConnectionMs)} (${e.newConnectionsAfterDelete ?? 0} after the delete)`
        : `no new connection after the delete (last at ${offset(e.lastNewConnectionMs)})`,
    );
  }
  const verdict = e.status === "exercised" ? "exercised" : "NOT exercised: it carried no traffic when it was disrupted";
  return `${e.pod} ${verdict}: ${parts.join("; ")} [${e.sources.join(", ")}]`;
}

/**
 * The pods to disrupt: those carrying the most open connections right now (ties: most requests
 * answered in the last second, then name), so the disruption hits traffic rather than an idle pod.
 */
export function busiestPods(
  candidates: readonly string[],
  count: number,
  at: number,
  attribution: TrafficAttribution | undefined,
  requests: readonly AttributedRequest[],
): { pods: string[]; basis: string } {
  const open = new Map<string, number>();
  const recent = new Map<string, number>();
  for (const c of attribution?.connections ?? []) {
    if (c.pod && isOpenAt(c, at)) open.set(c.pod, (open.get(c.pod) ?? 0) + 1);
  }
  for (const r of requests) {
    if (r.ok && r.attributedPod && r.at >= at - SERVED_BEFORE_WINDOW_MS && r.at <= at) {
      recent.set(r.attributedPod, (recent.get(r.attributedPod) ?? 0) + 1);
    }
  }
  const sorted = [...candidates].sort(
    (a, b) =>
      (open.get(b) ?? 0) - (open.get(a) ?? 0) || (recent.get(b) ?? 0) - (recent.get(a) ?? 0) || a.localeCompare(b),
  );
  const pods = sorted.slice(0, count);
  const basis =
    attribution || recent.size > 0
      ? `busiest: ${pods.map((p) => `${p} (${open.get(p) ?? 0} open connection(s), ${recent.get(p) ?? 0} answer(s) in the last second)`).join(", ")}`
      : "no routing evidence: first by name";
  return { pods, basis };
}
