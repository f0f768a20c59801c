// The one interface every cluster backend implements (local Docker, kind, existing cluster).
// The runner drives: prepare → deploy → (load starts) → disrupt → (load stops) → final evidence → teardown;
// the CLI drains after the last run.
import type { ProcessTreeInspection } from "../inspect/types.js";
import type { LoadResult } from "../load/types.js";
import type { EventSink } from "../observe/events.js";
import type { ExerciseEvidence, TrafficAttribution } from "../observe/exercise-types.js";
import type { ExitEvidence } from "../observe/exit-evidence.js";
import type { Disruption, LoadOptions, Scenario } from "../scenario/schema.js";

export type BackendName = "local" | "kind" | "existing";

/** A built image the scenario uses, by its fixed (never :latest) tag. */
export interface ResolvedImage {
  /** style name, or "custom" for an image reference given by the user */
  style: string;
  ref: string;
}

/** Everything the harness started for one scenario run. */
export interface Deployment {
  scenario: Scenario;
  /** Label value carried by every object this run created (graceful-e2e.run=<runId>). */
  runId: string;
  /** Where load goes: always 127.0.0.1 (or localhost) on this machine. */
  target: { host: string; port: number };
  /** Human-readable description of the path traffic takes, for the report. */
  trafficPath: string;
  /** Pods (local backend: replicas) that were ready when the deployment became ready. */
  pods: string[];
  /** Server version / runtime version, for the report. */
  platform: Record<string, string>;
}

/** Per process inside a pod, from the app's own JSON lines. */
export interface ProcessReport {
  role: string;
  pid: number;
  signals: Array<{ name: string; at: number }>;
  drainStart?: number;
  drainEnd?: number;
  exit?: { code: number; at: number };
}

/** What happened to one disrupted pod. */
export interface PodOutcome {
  pod: string;
  /** PID 1's command line as the runtime reports it (before any signal). */
  pid1Cmdline: string;
  /** The delete (epoch ms): t = 0 of the pod's termination. */
  deleteAt: number;
  /**
   * When the (last) container exited, from the most precise source (exitEvidence). Termination =
   * delete → this exit: the part the app and its image control.
   */
  exitedAt?: number;
  /**
   * When the pod was gone: the pod object deleted from the API (kind/existing; on 1.20 seconds after the
   * exit), the container removed (local). Not the exit: reported, never judged as termination.
   */
  goneAt?: number;
  /** The exit code believed (exitEvidence.code): undefined when no trustworthy source reported one. */
  exitCode?: number;
  /** Reason the API gave (e.g. Completed, Error, OOMKilled, ContainerStatusUnknown), when its code is the one used. */
  exitReason?: string;
  /** True only when SIGKILL at the end of the grace period ended the container (exitEvidence.killedAtGraceEnd). */
  sigkilled: boolean;
  /**
   * Every source that recorded the exit (runtime, the app's PID 1 line, the API), which one the code
   * and time come from, and why (src/observe/exit-evidence.ts).
   */
  exitEvidence?: ExitEvidence;
  /** The pod's processes (pid, parent, command line) before any signal, when the backend can see them. */
  processTree?: Array<{ pid: number; ppid: number; command: string }>;
  /** Every process's SIGTERM disposition read from /proc before any signal (local backend). */
  inspection?: ProcessTreeInspection;
  /** The signal the kubelet (local: the harness) stops the container with, and where it comes from. */
  stopSignal?: { signal: string; from: "scenario" | "image" | "default" };
  /** What the inspection predicted, in words, to hold against what happened. */
  prediction?: string;
  /** Processes seen in the app's log lines. */
  processes: ProcessReport[];
  /** Notes such as "API exit code disagrees with the app's own exit line". */
  notes: string[];
  /**
   * The pod's own socket table just before the delete: established connections on its port (kind:
   * /proc/<pid>/net/tcp read through the node). A second source beside the routing point's records.
   */
  socketsAtDelete?: { established: number; readAt: number; source: string };
  /** Whether the pod carried traffic when it was disrupted (filled in by the runner after the load). */
  exercise?: ExerciseEvidence;
}

export interface DisruptionOutcome {
  pods: PodOutcome[];
  /**
   * The outcomes again once the evidence that may come after the disruption's end is in, or its bound
   * ran out (kind/existing: the API's own report of each exit, the app's last lines, the pod gone if it
   * comes in time). The runner calls it after the load window closed, before judging. Absent: `pods` is final.
   */
  final?(): Promise<PodOutcome[]>;
}

/** What the runner decided before the disruption. */
export interface DisruptionPlan {
  /** delete: the pods to delete (the ones carrying the most connections), in order. */
  victims?: string[];
}

export interface Backend {
  readonly name: BackendName;
  /**
   * Checks what must exist before anything starts (Docker engine, kind binary...). Throws a
   * PrerequisiteError saying what to install or start; creates nothing.
   */
  preflight?(): Promise<void>;
  /** Makes the images available to the runtime (build, kind load, push). */
  prepare(images: ResolvedImage[]): Promise<void>;
  /** Starts the scenario's workload and Service; resolves once every replica is ready. */
  deploy(scenario: Scenario, image: ResolvedImage, sink: EventSink, runId: string): Promise<Deployment>;
  /**
   * Carries out the disruption and resolves when every disrupted pod has ended (or timed out): local, its
   * container removed right after the exit; kind/existing, every container of it exited (the runtime's
   * record or the API's terminated state) or the pod object gone — not the API's garbage collection.
   */
  disrupt(deployment: Deployment, disruption: Disruption, plan?: DisruptionPlan): Promise<DisruptionOutcome>;
  /**
   * Every client connection routed so far and the pod it went to (local: the Service proxy; kind: the
   * node's conntrack). Absent or undefined: the backend cannot see connections (exercise unproven
   * unless the app names itself in x-served-by).
   */
  trafficAttribution?(deployment: Deployment): TrafficAttribution | undefined;
  /**
   * Starts the load itself (existing cluster: a load Job inside the cluster); resolves once load
   * flows. Absent: the runner runs the load generator on this machine against deployment.target.
   */
  startLoad?(
    deployment: Deployment,
    load: LoadOptions,
    hooks: { safetyCapSeconds?: number },
  ): Promise<{ stop(): Promise<LoadResult> }>;
  /**
   * Removes everything deploy created. Must be safe to call more than once and after a failed deploy.
   * May resolve while the removal finishes in the background (kind/existing: once the Service is
   * deleted and the namespace's deletion is under way); drain() waits for that.
   */
  teardown(deployment: Deployment | undefined, runId: string): Promise<void>;
  /**
   * Resolves once whatever teardown left finishing in the background is gone (kind/existing: every
   * namespace deleted, bounded). The CLI calls it after the last scenario and on Ctrl-C; close() does too.
   */
  drain?(): Promise<void>;
  /**
   * How many scenarios may run at once here (kind/existing: one NodePort each), and why when fewer
   * than asked; may check or create the cluster. Called once before the first scenario.
   */
  concurrency?(): Promise<{ max: number; why: string }>;
  /** Once after the last scenario: releases what prepare() made for all runs (e.g. a kind cluster it created). */
  close?(): Promise<unknown>;
}
