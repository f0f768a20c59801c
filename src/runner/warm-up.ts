// Before the disruption: wait (bounded) until every ready pod has answered through the Service, so
// that the keep-alive connections opened afterwards spread as the Service spreads them. On Kubernetes
// a newly ready endpoint reaches kube-proxy's rules 0.5–1 s after the EndpointSlice lists it
// (measured on 1.20): connections opened earlier all land on the pods already in the rules, and
// keep-alive pins them there for the whole run.

import { type FreshRequestOutcome, freshRequest, type HttpRequestShape } from "../load/fresh-request.js";
import type { EventSink } from "../model/events.js";
import type { TrafficAttribution } from "../model/exercise.js";
import { attributeRequests } from "../observe/exercise.js";
import { sleepUnlessAborted } from "../util/sleep.js";
import type { WarmUpFailure, WarmUpReport, WarmUpStop } from "./run.js";

/** Failed probes kept one by one in the report (the count covers all of them). */
export const WARM_UP_LISTED_FAILURES = 50;

export interface WarmUpOptions {
  target: { host: string; port: number };
  path: string;
  /** The load's method, headers (Host: ingress-style routing) and body, so a probe reaches what the load reaches. */
  request?: HttpRequestShape;
  /** The pods that must answer. */
  pods: readonly string[];
  /** At most this long (ms). */
  boundMs: number;
  /** The backend's view of routed connections, when it has one. */
  attribution?: () => TrafficAttribution | undefined;
  signal?: AbortSignal;
  /** Pause between probes (ms). */
  intervalMs?: number;
  /** Per probe timeout (ms). */
  probeTimeoutMs?: number;
  /** Where each failed probe goes as a "warm-up-probe-failed" timeline event. */
  sink?: EventSink;
  now?: () => number;
}

/**
 * The failed probes, each with the pod that answered (x-served-by of a non-2xx) or the routing point's
 * record of its connection, when either names one. Pure.
 */
export function failedProbes(
  probes: readonly FreshRequestOutcome[],
  attribution: TrafficAttribution | undefined,
): WarmUpFailure[] {
  // attributeRequests keeps the order: its i-th answer is the i-th probe.
  const pods = attributeRequests(probes, attribution).map((r) => r.attributedPod);
  return probes.flatMap((p, i) => {
    if (p.ok || !p.failure) return [];
    const pod = pods[i];
    return [
      {
        at: p.at,
        kind: p.failure.kind,
        ...(p.failure.code !== undefined ? { code: p.failure.code } : {}),
        ...(pod ? { pod } : {}),
      },
    ];
  });
}

/**
 * Pods that answered a probe. A probe's pod is its x-served-by header, or the routing point's record
 * of its connection (joined by client port); where connections cannot be joined to requests (kind:
 * docker-proxy in between), a pod counts once a probe connection was routed to it and answered 2xx
 * while no probe failed since that connection opened.
 */
export function answeredPods(
  probes: ReadonlyArray<{ sentAt: number; at: number; ok: boolean; clientPort?: number; pod?: string }>,
  attribution: TrafficAttribution | undefined,
  since: number,
): Set<string> {
  const answered = new Set<string>();
  for (const r of attributeRequests(probes, attribution)) if (r.ok && r.attributedPod) answered.add(r.attributedPod);
  if (attribution && !attribution.joinableByClientPort) {
    for (const c of attribution.connections) {
      if (!c.pod || c.openedAt < since) continue;
      const failedAfter = probes.some((p) => !p.ok && p.at >= c.openedAt);
      const okAfter = probes.some((p) => p.ok && p.at >= c.openedAt);
      if (okAfter && !failedAfter) answered.add(c.pod);
    }
  }
  return answered;
}

/** Probes before giving up on a server whose every answer fails to parse as HTTP/1.1. */
const NOT_HTTP1_PROBES = 5;

/** The first probes all got an answer that is not HTTP/1.1 (llhttp's HPE_ parse errors). */
function speaksNoHttp1(probes: readonly FreshRequestOutcome[]): boolean {
  return (
    probes.length >= NOT_HTTP1_PROBES &&
    probes.slice(0, NOT_HTTP1_PROBES).every((p) => !p.ok && String(p.failure?.code ?? "").startsWith("HPE_"))
  );
}

export async function warmUp(o: WarmUpOptions): Promise<WarmUpReport> {
  const now = o.now ?? Date.now;
  const startedAt = now();
  const probes: FreshRequestOutcome[] = [];
  let answered = new Set<string>();
  let stoppedEarly: WarmUpStop | undefined;
  const missing = () => o.pods.filter((p) => !answered.has(p));
  while (missing().length > 0 && now() - startedAt < o.boundMs && !o.signal?.aborted) {
    const outcome = await freshRequest(o.target, o.path, o.probeTimeoutMs ?? 2000, "warm-up", o.request).done;
    probes.push(outcome);
    const attribution = o.attribution?.();
    answered = answeredPods(probes, attribution, startedAt);
    // Nothing names the answering pod: more probes cannot tell either.
    if (!attribution && probes.filter((p) => p.ok).length >= 20 && !probes.some((p) => p.pod)) {
      stoppedEarly = "no-pod-named";
      break;
    }
    // A server that does not speak HTTP/1.1 at all (a gRPC-only server): probing cannot show anything.
    if (speaksNoHttp1(probes)) {
      stoppedEarly = "not-http1";
      break;
    }
    if (missing().length > 0) await sleepUnlessAborted(o.intervalMs ?? 25, o.signal);
  }
  const endedAt = now();
  const complete = missing().length === 0;
  const seenAny = probes.some((p) => p.pod) || o.attribution?.() !== undefined;
  const failures = failedProbes(probes, o.attribution?.());
  for (const f of failures) {
    o.sink?.record({
      at: f.at,
      kind: "warm-up-probe-failed",
      source: "load",
      ...(f.pod ? { pod: f.pod } : {}),
      detail: { kind: f.kind, ...(f.code !== undefined ? { code: f.code } : {}) },
    });
  }
  return {
    startedAt,
    endedAt,
    pods: [...o.pods],
    answered: o.pods.filter((p) => answered.has(p)),
    probes: probes.length,
    failed: failures.length,
    ...(failures.length > 0 ? { failures: failures.slice(0, WARM_UP_LISTED_FAILURES) } : {}),
    complete,
    ...(complete
      ? {}
      : {
          stopped: stoppedEarly ?? (o.signal?.aborted ? "aborted" : "bound"),
          note: speaksNoHttp1(probes)
            ? `the Service's answers are not HTTP/1.1 (${probes[0]?.failure?.code}): a server of another protocol; not probed further`
            : seenAny
              ? `after ${((endedAt - startedAt) / 1000).toFixed(1)} s, ${missing().join(", ")} had not answered through the Service`
              : "nothing shows which pod answered (no routing record, no x-served-by): cannot tell whether every pod is in the Service's rules",
        }),
  };
}
