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

/**
 * What a container is to its pod. app: the container the scenario's load reaches (it serves the
 * Service's port; in a pod with a reverse-proxy sidecar that is the proxy); sidecar: any other regular
 * container (stopped at the same moment as the app); native-sidecar: an initContainer with
 * restartPolicy Always (Kubernetes 1.29+: started before, stopped after the regular containers).
 */
export type ContainerRole = "app" | "sidecar" | "native-sidecar";

/** A container's lifecycle.preStop hook as its spec states it (every backend reads it the same way). */
export interface ContainerPreStop {
  type: "none" | "sleep" | "exec" | "httpGet" | "tcpSocket";
  /** The seconds the hook sleeps in its foreground (absent: not known to sleep). */
  seconds?: number;
  /** The hook in words ("sleep action, 5 s", "exec [\"sleep\",\"3\"]"). */
  description?: string;
}

/** When a container's stop signal reached it (observe/sigterm.ts containerSigtermReceipt). */
export interface ContainerSigterm {
  /** Epoch ms. */
  at: number;
  /** Which rule gave the time: sent by the harness, the container's own line, its preStop's end, the delete. */
  by: "sent" | "app-line" | "prestop-end" | "prestop-sleep" | "delete";
  /** True when nothing recorded the signal itself: the time is where the kubelet's rule puts it. */
  inferred: boolean;
  /** Where the time comes from, in words. */
  from: string;
}

/** What happened to one container of a disrupted pod (Kubernetes stops every container of a pod at once). */
export interface ContainerOutcome {
  /** The container's name in the pod spec, when the backend knows it. */
  container?: string;
  /**
   * What the container is to its pod (see ContainerRole). Set on every container of a pod with more than
   * one (the app's own fields and each of `sidecars`); absent on a one-container pod.
   */
  role?: ContainerRole;
  /** The container's preStop hook as its spec states it (multi-container pods; backends fill it per container). */
  preStop?: ContainerPreStop;
  /**
   * When the stop signal reached this container, by the one rule (observe/sigterm.ts): filled alike for
   * every backend by the collect step from the run's events (events name their container in
   * detail.container) and `preStop`. Multi-container pods only.
   */
  sigterm?: ContainerSigterm;
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
  /**
   * The pod's other containers, each with its own exit evidence (absent: the pod has one container).
   * A backend fills per container: container (name), role, pid1Cmdline ("" when not read), exitedAt,
   * exitCode, exitReason, sigkilled and exitEvidence from that container's own sources (its runtime exit,
   * its PID 1's exit line, its API status), stopSignal and inspection when it can read them, preStop from
   * its spec, and `processes: []` (the collect step fills processes and sigterm from the events, whose
   * app lines carry detail.container). The app container's fields get role "app" then.
   */
  sidecars?: ContainerOutcome[];
  /**
   * Which container caused the run's failed requests around this pod's termination, one entry per
   * failure window (verdict/container-attribution.ts). Only for pods with sidecars.
   */
  failureCauses?: ContainerFailureWindow[];
}

/** The cause codes of a failure window in a multi-container pod (inspect/causes.ts has their words and fixes). */
export type ContainerFailureCause =
  /** 502/503/504 answered by the container the load reaches after another container got its stop signal. */
  | "listener-closed-behind-proxy"
  /** Connections reset, closed or refused from the stop signal of the container the load reaches to its exit. */
  | "front-stopped-without-drain"
  /** Failures before any container of the pod got its stop signal (the delete / preStop window). */
  | "before-stop-signal"
  /** Failures the containers' times cannot place (e.g. timeouts, or after every container exited). */
  | "unattributed";

/** A run of failed requests with one cause and one container to blame. */
export interface ContainerFailureWindow {
  cause: ContainerFailureCause;
  /** The container the failures are attributed to (absent: none can be blamed). */
  container?: string;
  /** The container that answered or cut the requests (the one the load reaches), when it is another. */
  via?: string;
  /** Epoch ms: the first and last failure of the window. */
  from: number;
  to: number;
  count: number;
  /** Failures per kind ("non-2xx 502": 12, "reset": 3). */
  kinds: Record<string, number>;
  /** Why these failures are the container's, in words with the times (relative to the delete). */
  evidence: string;
}

/**
 * A disrupted pod as a backend observed it: everything but the evidence the runner derives alike for
 * every backend from the run's events (the per-process reports, observe/app-log.ts processReports).
 */
export type ObservedPodOutcome = Omit<PodOutcome, "processes">;
