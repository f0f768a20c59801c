// The audit's data model: what the collectors gather about running workloads (facts), what the
// rules conclude (findings, a prediction per workload) and the report written as JSON
// (docs/audit.md documents every field; AUDIT_SCHEMA_VERSION changes when one is removed or re-meant).
import type { Branch, Cause } from "../inspect/predict.js";
import type { PreStopHandler } from "../k8s/prestop.js";
import type { BackendName } from "../model/backend.js";
import type { InspectionSource, ProcessTreeInspection, SignalDisposition } from "../model/process-tree.js";

export const AUDIT_SCHEMA_VERSION = 1;

/** Least to most severe. */
export const SEVERITIES = ["info", "low", "medium", "high", "critical"] as const;
export type Severity = (typeof SEVERITIES)[number];

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

export function atLeast(s: Severity, threshold: Severity): boolean {
  return severityRank(s) >= severityRank(threshold);
}

export function maxSeverity(list: Severity[]): Severity {
  return list.reduce<Severity>((a, b) => (severityRank(b) > severityRank(a) ? b : a), "info");
}

export type AuditBackend = BackendName;

export type WorkloadKind =
  | "Deployment"
  | "StatefulSet"
  | "DaemonSet"
  | "ReplicaSet"
  | "Pod"
  | "ComposeService"
  | "Container";

/** How sure a finding is. */
export type Certainty =
  /** read from what runs (live process tree) or from the workload's own spec */
  | "certain"
  /** read from configuration, with a well-known behaviour assumed (e.g. dash's sh -c does not exec) */
  | "likely"
  /** cannot be told without running it (e.g. whether a Node app handles SIGTERM in JavaScript) */
  | "possible";

export type FindingCode =
  | "pid1-shell-no-forward"
  | "sigterm-not-handled"
  | "sigterm-ignored"
  | "pid1-exits-abruptly"
  | "sigterm-handling-unverified"
  | "stop-signal-mismatch"
  /** Two listening containers in one pod, one without a preStop: the shutdown order drops requests. */
  | "sidecar-shutdown-order"
  | "no-prestop"
  | "prestop-shorter-than-propagation"
  | "prestop-duration-unknown"
  | "no-stop-delay"
  | "grace-too-short"
  | "no-readiness-probe"
  | "rollout-all-at-once"
  | "disruption-budget-allows-all"
  | "no-disruption-budget"
  | "single-replica"
  | "not-inspected"
  | "sigterm-path-ok"
  | "verified-drops"
  | "verified-no-drops"
  | "verify-failed";

/** Where a finding's evidence was read. */
export type EvidenceSource =
  | "live-process-tree"
  | "image-config"
  | "container-config"
  | "pod-spec"
  | "workload-spec"
  | "compose-labels"
  | "cluster-objects"
  | "propagation"
  | "entrypoint-script"
  | "verify";

export interface Finding {
  code: FindingCode;
  severity: Severity;
  certainty: Certainty;
  /** The container it is about (absent: the workload as a whole). */
  container?: string;
  /** One line, plain words. */
  title: string;
  /** What was read, one fact per line. */
  evidence: string[];
  source: EvidenceSource;
  /** What to change, in plain words (absent for info findings that need nothing). */
  fix?: string;
}

/** One process as the audit reports it. */
export interface AuditedProcess {
  pid: number;
  ppid: number;
  command: string;
  /** As /proc says: caught | ignored | blocked | default. */
  sigterm: SignalDisposition;
  /** What SIGTERM does to it, in words (default means ignored for PID 1). */
  effect: string;
  waitsForSignals: boolean;
  listens: number[];
}

export type PreStopFacts = PreStopHandler;

/** Everything read about one container of a workload (one representative replica). */
export interface ContainerFacts {
  name: string;
  image: string;
  imageId?: string;
  /** The command that starts the container (entrypoint + arguments), and where it was read. */
  command?: { argv: string[]; from: string };
  /** The signal the runtime sends to stop it (image STOPSIGNAL, compose stop_signal, lifecycle.stopSignal). */
  stopSignal: { signal: string; from: string };
  /** The live process tree with SIGTERM dispositions, when it was read. */
  inspection?: ProcessTreeInspection;
  /** Why the live tree was not read (an opt-in flag not given, refused, not running...). */
  inspectionSkipped?: string;
  /** The entrypoint script's text, when PID 1 is a shell running a script and it could be read without exec. */
  script?: { path: string; text: string };
  /** Kubernetes: the preStop hook (none = no hook). Absent on Docker, which has no such hook. */
  preStop?: PreStopFacts;
  /** Readiness gate (Kubernetes readinessProbe, Docker HEALTHCHECK) in words; null = none. */
  readiness: string | null;
  /** Ports declared (containerPort / EXPOSE / published). */
  ports: number[];
  notes: string[];
}

export interface WorkloadFacts {
  backend: AuditBackend;
  kind: WorkloadKind;
  /** Kubernetes namespace or Compose project. */
  namespace?: string;
  name: string;
  /** Stable id: "Deployment/default/web", "compose/shop/web", "container/redis-1". */
  id: string;
  /** Desired replicas (Docker: containers of the Compose service). */
  replicas?: number;
  readyReplicas?: number;
  /** Pods / containers it covers (names). */
  instances: string[];
  /** The instance whose processes were read. */
  inspected?: string;
  /** Time from the stop/delete to SIGKILL: terminationGracePeriodSeconds / the container's stop timeout. */
  grace: { seconds: number; from: string };
  /** Kubernetes: the rollout strategy. */
  strategy?: {
    type: string;
    maxUnavailable?: number | string;
    maxSurge?: number | string;
    podManagementPolicy?: string;
    /** DaemonSet: pods it should run (one per node). */
    desiredScheduled?: number;
  };
  /** PodDisruptionBudgets selecting it; undefined = could not be read. */
  pdbs?: Array<{ name: string; minAvailable?: number | string; maxUnavailable?: number | string }>;
  /** Services whose selector matches it; undefined = could not be read (Docker: not applicable). */
  exposedBy?: string[];
  containers: ContainerFacts[];
  notes: string[];
}

/** The endpoint propagation the preStop must cover: measured by graceful-e2e, or assumed. */
export interface PropagationBasis {
  ms: number;
  source: "measured" | "assumed";
  /** In words, with the file(s) it came from. */
  detail: string;
  files?: string[];
}

export type DropWords = "yes" | "likely" | "uncertain" | "no";

export interface WorkloadPrediction {
  /** Whether a delete under load drops requests. */
  drops: DropWords;
  /** The termination outcome of the signal path (predict.ts): graceful | killed | abrupt, or conditional. */
  outcome: "graceful" | "killed" | "abrupt" | "conditional" | "unknown";
  /** predict()'s cause code for the inspected container whose outcome decides (absent: not read). */
  cause?: Cause;
  branches?: Branch[];
  /** Why, one reason per line. */
  why: string[];
  /** One sentence. */
  summary: string;
}

export interface VerifyOutcome {
  /** The check run's scenario result file and run id. */
  runId?: string;
  image: string;
  port: number;
  /** Where it ran: "local (a copy started by the local backend)", "kind namespace ge-…". */
  where: string;
  setup: string;
  pid1?: string;
  outcome?: string;
  sent?: number;
  failed?: number;
  failureSummary?: string;
  /** The observed termination: graceful | killed | abrupt (check's compatible outcomes). */
  observedOutcomes?: string[];
  /** SIGTERM → container exit, measured (the app's drain, when it exited by itself). */
  sigtermToExitMs?: number;
  predictionHeld?: boolean;
  heldWords?: string;
  problem?: string;
  fix?: string;
  error?: string;
  resultFile?: string;
}

export interface ContainerReport {
  name: string;
  image: string;
  command?: { argv: string[]; from: string };
  stopSignal: { signal: string; from: string };
  preStop?: PreStopFacts;
  readiness: string | null;
  ports: number[];
  processTree?: {
    source: InspectionSource;
    detail: string;
    notes: string[];
    processes: AuditedProcess[];
  };
  inspectionSkipped?: string;
  pid1?: string;
  /** predict()'s summary for this container. */
  signalPath?: string;
}

export interface WorkloadReport {
  rank: number;
  id: string;
  kind: WorkloadKind;
  namespace?: string;
  name: string;
  replicas?: number;
  instances: string[];
  inspected?: string;
  grace: { seconds: number; from: string };
  exposedBy?: string[];
  severity: Severity;
  /** severity ≥ --fail-on */
  failing: boolean;
  prediction: WorkloadPrediction;
  findings: Finding[];
  containers: ContainerReport[];
  verify?: VerifyOutcome;
  notes: string[];
}

export interface AuditReport {
  schemaVersion: number;
  tool: "graceful-e2e audit";
  generatedAt: string;
  durationMs: number;
  backend: AuditBackend;
  target: {
    description: string;
    platform: Record<string, string>;
    namespaces?: string[] | "all";
    selector?: string;
    filters?: string[];
    composeProject?: string;
  };
  access: {
    /** True when nothing beyond reads was used (no exec, no node access, no verify). */
    readOnly: boolean;
    /** Every permission / mechanism used, in words. */
    used: string[];
    /** Opt-in mechanisms refused or failed, and the fallback. */
    refused: string[];
  };
  propagation: PropagationBasis;
  failOn: Severity;
  summary: {
    workloads: number;
    bySeverity: Record<Severity, number>;
    failing: number;
    predictedDrops: number;
  };
  workloads: WorkloadReport[];
  skipped: string[];
  notes: string[];
}
