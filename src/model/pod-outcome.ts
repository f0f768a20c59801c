// What happened to each disrupted pod and to each of its containers: the evidence every report and
// verdict reads. Domain types: import nothing but other model files.
import type { ExerciseEvidence } from "./exercise.js";
import type { ExitEvidence } from "./exit-evidence.js";
import type { ProcessTreeInspection } from "./process-tree.js";

/** Per process inside a pod, from the app's own JSON lines. */
export interface ProcessReport {
  role: string;
  pid: number;
  signals: Array<{ name: string; at: number }>;
  drainStart?: number;
  drainEnd?: number;
  exit?: { code: number; at: number };
}

/** What happened to one container of a disrupted pod (Kubernetes stops every container of a pod at once). */
export interface ContainerOutcome {
  /** The container's name in the pod spec, when the backend knows it. */
  container?: string;
  /** PID 1's command line as the runtime reports it (before any signal). */
  pid1Cmdline: string;
  /**
   * When the (last) container exited, from the most precise source (exitEvidence). Termination =
   * delete → this exit: the part the app and its image control.
   */
  exitedAt?: number;
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
  /** Processes seen in the app's log lines. */
  processes: ProcessReport[];
}

/**
 * What happened to one disrupted pod. The container fields (ContainerOutcome) are its app container's,
 * the one the scenario's load reaches; every other container of the pod (sidecars) is in `sidecars`.
 */
export interface PodOutcome extends ContainerOutcome {
  pod: string;
  /** The node the pod ran on (local: a simulated node), when the backend knows it. */
  node?: string;
  /** The delete (epoch ms): t = 0 of the pod's termination. */
  deleteAt: number;
  /**
   * When the pod was gone: the pod object deleted from the API (kind/existing; on 1.20 seconds after the
   * exit), the container removed (local). Not the exit: reported, never judged as termination.
   */
  goneAt?: number;
  /** Notes such as "API exit code disagrees with the app's own exit line". */
  notes: string[];
  /**
   * The pod's own socket table just before the delete: established connections on its port (kind:
   * /proc/<pid>/net/tcp read through the node). A second source beside the routing point's records.
   */
  socketsAtDelete?: { established: number; readAt: number; source: string };
  /** Whether the pod carried traffic when it was disrupted (filled in by the runner after the load). */
  exercise?: ExerciseEvidence;
  /** The pod's other containers, each with its own exit evidence (absent: the pod has one container). */
  sidecars?: ContainerOutcome[];
}

/**
 * A disrupted pod as a backend observed it: everything but the evidence the runner derives alike for
 * every backend from the run's events (the per-process reports, observe/app-log.ts processReports).
 */
export type ObservedPodOutcome = Omit<PodOutcome, "processes">;
