// What each source recorded about a container's exit, and the exit the harness believes (decided in
// src/observe/exit-evidence.ts). Domain types: import nothing.

export type ExitSourceKind = "runtime" | "app" | "api";

/** What one source said about the exit. */
export interface ExitSource {
  source: ExitSourceKind;
  /** The exit code this source reports (undefined: it reports none). */
  code?: number;
  /** Epoch ms: when this source says (or, for the API, when it is placed that) the container exited. */
  at?: number;
  /** The window the time is known to lie in, when it is not exact (API: finishedAt's second, cut by bounds). */
  earliest?: number;
  latest?: number;
  /** The API's reason (Completed, Error, OOMKilled, ContainerStatusUnknown). */
  reason?: string;
  /** False: this source's code is known to be wrong (ContainerStatusUnknown); never chosen over another. */
  reliable: boolean;
  /** Where the code and time come from, in words. */
  note: string;
}

/** The exit as the harness believes it, with every source it was decided on. */
export interface ExitEvidence {
  /** The source whose code is used (the most trusted one with a reliable code; "api" when none is). */
  chosen: ExitSourceKind;
  /** The exit code; undefined when no reliable source reported one (see `unknown`). */
  code?: number;
  /** Epoch ms of the exit: from the most precise source (runtime, else PID 1's exit line, else the API). */
  at?: number;
  /** The window `at` is known to lie in, when it is not exact. */
  earliest?: number;
  latest?: number;
  sources: ExitSource[];
  /** Set when sources report different codes: which were, and which one is used. */
  disagreement?: string;
  /** Set when the exit code is not known: why. Verdicts about the exit cannot pass or fail on it. */
  unknown?: string;
  /**
   * True: SIGKILL at the end of the grace period ended the container (exit 137 at the grace deadline, or
   * SIGKILL known to be sent). False: it did not. Undefined: the evidence cannot tell.
   */
  killedAtGraceEnd?: boolean;
  /** Why killedAtGraceEnd is what it is, in words. */
  killedWhy: string;
}

export interface RuntimeExit {
  code: number;
  at: number;
  /** "containerd on node kind-control-plane", "Docker". */
  runtime: string;
  note?: string;
}

export interface AppExit {
  code: number;
  at: number;
  pid: number;
  role: string;
}

export interface ApiExit {
  code?: number;
  reason?: string;
  /** finishedAt (1 s resolution), epoch ms; undefined when the API gave none (ContainerStatusUnknown). */
  finishedAt?: number;
  /** When the terminated status was read from the API (the exit cannot be later). */
  observedAt: number;
}

/** A time the exit cannot precede (for the termination's exit only). */
export interface TimeBound {
  at: number;
  /** "the delete call", "the end of the preStop sleep (2 s)", "the app's last log line"… */
  what: string;
}

export interface ExitContext {
  /** Lower bounds on the exit time, used to place an API exit within finishedAt's second. */
  lowerBounds?: TimeBound[];
  /** Epoch ms when the kubelet sends SIGKILL: delete + grace (later when a long preStop ended late). */
  graceDeadline?: number;
  /** Epoch ms when SIGKILL was sent, when known for certain (local: the harness sends it). */
  sigkillSentAt?: number;
  /** The delete (offsets in the words are relative to it). */
  deleteAt?: number;
}
