// One vocabulary of timeline events for every backend. Times are epoch milliseconds;
// the timeline makes them relative to the delete.

export type EventSource = "harness" | "kubelet" | "proxy" | "app" | "runtime" | "api" | "load";

export type TimelineEventKind =
  // the disruption itself
  | "delete-requested"
  /** One answer of the Eviction API: detail.result accepted | refused | error, status, message, attempt. */
  | "eviction"
  /** A drain made the node unschedulable: detail.node. */
  | "node-cordoned"
  // Service / endpoint side
  | "endpoint-ready"
  | "endpoint-terminating"
  | "endpoint-removed"
  // kubelet's termination sequence (driven by the harness on the local backend)
  | "prestop-start"
  | "prestop-end"
  | "prestop-failed"
  | "sigterm-sent"
  | "sigkill-sent"
  // what the app logged (one JSON line each)
  | "app-start"
  | "app-signal"
  | "app-drain-start"
  | "app-drain-end"
  | "app-exit"
  // runtime / API facts
  | "container-exit"
  | "pod-gone"
  | "k8s-event"
  // traffic
  | "last-request-served"
  /** The last NEW connection the Service routed to a disrupted pod (the effective propagation). */
  | "last-connection-routed"
  | "request-failed"
  /** A warm-up probe (before the load) that failed: detail.kind, detail.code. */
  | "warm-up-probe-failed";

export interface TimelineEvent {
  /** Epoch milliseconds. */
  at: number;
  kind: TimelineEventKind;
  source: EventSource;
  /** The pod (local backend: replica name) this event is about, when any. */
  pod?: string;
  /** The process role inside the pod (from the app's own log lines), when any. */
  process?: string;
  /** Free-form evidence: signal name, pid, exit code, reason, message... */
  detail?: Record<string, unknown>;
}

/**
 * One raw observation a backend made, before any interpretation, for the run's recording: `source` names
 * the format of `data` (e.g. "k8s": the inputs of the Kubernetes timeline builder), `at` is epoch ms.
 */
export interface RawObservation {
  at: number;
  source: string;
  data: unknown;
}

/** Where backends put what they observe. */
export interface EventSink {
  record(event: TimelineEvent): void;
  /** The raw observations behind the events, when the run is recorded (absent: not recorded). */
  observe?(observation: RawObservation): void;
}
