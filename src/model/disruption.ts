// What a voluntary disruption (evict, drain, rollout) did, as a backend observed it: every eviction the
// API (local: the same arithmetic) answered, the drain's course, and the Service's ready endpoints over
// the whole window. Domain types: import nothing but other model files.

/** One call of the Eviction API for one pod (a refused eviction retried is a new attempt). */
export interface EvictionAttempt {
  pod: string;
  /** The node the pod ran on, when known. */
  node?: string;
  /** When the call was answered (epoch ms). */
  at: number;
  /** 1 for the first call for this pod. */
  attempt: number;
  /**
   * accepted: the pod is being deleted (201/200); refused: 429, a PodDisruptionBudget holds (retried);
   * error: any other answer (500 for a pod under two PDBs, 403, 404…) — not retried.
   */
  result: "accepted" | "refused" | "error";
  /** The HTTP status the API answered with. */
  status: number;
  /** The API's message, verbatim (e.g. "Cannot evict pod as it would violate the pod's disruption budget."). */
  message: string;
}

/** The Service's ready endpoints at one moment (a step function: valid until the next sample). */
export interface ReadyEndpointsSample {
  at: number;
  ready: number;
  /** Endpoints that are serving but terminating (EndpointSlice conditions, 1.20+ where reported). */
  terminating?: number;
}

/** A node drain, from cordon to the last pod gone (or the timeout). */
export interface DrainRecord {
  node: string;
  /** Why this node: "busiest pod <name>" or "scenario node". */
  chosenBecause: string;
  cordonedAt: number;
  /** The pods of the workload on the node when it was cordoned (DaemonSet pods are not the workload's). */
  pods: string[];
  /** When the last of them was gone; absent when the drain timed out. */
  finishedAt?: number;
  timedOut: boolean;
  /** Why it stopped short, in words (e.g. "the PodDisruptionBudget allowed no disruption for 120 s"). */
  timeoutReason?: string;
  /** When the node was made schedulable again (teardown, also after Ctrl-C). */
  uncordonedAt?: number;
  /** The uncordon failed (the node is still cordoned, labelled: `graceful-e2e clean` finds it): why. */
  uncordonError?: string;
  /** The run ended (Ctrl-C, a time limit, an error) before the drain did; timeoutReason says how far it got. */
  interrupted?: boolean;
}

/** Everything a voluntary disruption leaves beside the disrupted pods' own outcomes. */
export interface VoluntaryDisruptionRecord {
  evictions: EvictionAttempt[];
  drain?: DrainRecord;
  /** The PodDisruptionBudget in force (the scenario's or the manifests'), as applied. */
  pdb?: { name: string; minAvailable?: number | string; maxUnavailable?: number | string };
}
