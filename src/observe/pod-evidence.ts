// PURE: a disrupted pod's outcome from neutral facts, the one builder for every backend. A backend
// turns what it observed into facts (kind/existing: k8s/timeline-from-watch.ts from watch objects and
// the node's runtime; local: backends/local/observations.ts from Docker's records and the harness's own
// kubelet), and this module makes the evidence of them: per container the exit decided from every
// source with its bounds (observe/exit-evidence.ts), whether SIGKILL at the grace end ended it, the
// reason kept with the code it describes, the notes; per pod the delete, the node, every container with
// its role. The per-process reports and SIGTERM receipts come later, from the events (runner collect).
import type {
  ApiExit,
  AppExit,
  ExitContext,
  ExitEvidence,
  ExitSourceKind,
  RuntimeExit,
} from "../model/exit-evidence.js";
import type { ContainerOutcome, ContainerPreStop, ContainerRole, ObservedPodOutcome } from "../model/pod-outcome.js";
import type { ProcessTreeInspection } from "../model/process-tree.js";
import { decideExit, exitNotes } from "./exit-evidence.js";

/** Each source's record of one container's exit (none: no source recorded it). */
export interface ExitRecords {
  runtime?: RuntimeExit;
  app?: AppExit;
  api?: ApiExit;
}

/** What a backend knows of one container of a disrupted pod, before any judgement. */
export interface ContainerFacts {
  /** The container's name in the pod spec (absent: graceful-e2e's own one-container pod). */
  container?: string;
  /** A sidecar's role (the app container's is "app" whenever the pod has others). */
  role?: Exclude<ContainerRole, "app">;
  preStop?: ContainerPreStop;
  /** PID 1's command line before any signal ("" when not read). */
  pid1Cmdline: string;
  exit: ExitRecords;
  /** What bounds the exit when it is the termination's (absent: it is not, e.g. an earlier restart's). */
  context?: ExitContext;
  /** The runtime or the API says the OOM killer ended it. */
  oomKilled?: boolean;
  /** A reason for the exit and the code it describes: kept when that code is believed, or its source chosen. */
  reason?: { text: string; source: ExitSourceKind; code?: number };
  stopSignal?: ContainerOutcome["stopSignal"];
  processTree?: Array<{ pid: number; ppid: number; command: string }>;
  inspection?: ProcessTreeInspection;
  /** The backend's own notes about this container, before those of its exit. */
  notes?: string[];
}

/** What a backend knows of one disrupted pod. */
export interface PodFacts {
  pod: string;
  node?: string;
  /** The delete (epoch ms): t = 0 of the termination. */
  deleteAt: number;
  goneAt?: number;
  /** The container the load reaches. */
  app: ContainerFacts;
  /** Every other container of the pod (none: a one-container pod). */
  others: readonly ContainerFacts[];
  /** Notes about the pod itself (placed after the app container's). */
  notes?: string[];
}

/** The reason describes its own code: kept when that code is the one believed, or its source is the chosen one. */
function keptReason(reason: ContainerFacts["reason"], ev: ExitEvidence | undefined): string | undefined {
  if (!reason || !ev) return undefined;
  return ev.chosen === reason.source || reason.code === ev.code ? reason.text : undefined;
}

/** One container's outcome from its facts, and the notes its exit adds to the pod's. */
export function containerEvidence(f: ContainerFacts): {
  outcome: Omit<ContainerOutcome, "processes">;
  notes: string[];
} {
  const ev = decideExit(f.exit, f.context ?? {});
  const exitReason = keptReason(f.reason, ev);
  const outcome: Omit<ContainerOutcome, "processes"> = {
    ...(f.container !== undefined ? { container: f.container } : {}),
    ...(f.role !== undefined ? { role: f.role } : {}),
    ...(f.preStop !== undefined ? { preStop: f.preStop } : {}),
    pid1Cmdline: f.pid1Cmdline,
    ...(ev?.at !== undefined ? { exitedAt: ev.at } : {}),
    ...(ev?.code !== undefined ? { exitCode: ev.code } : {}),
    ...(exitReason !== undefined ? { exitReason } : {}),
    sigkilled: ev?.killedAtGraceEnd === true,
    ...(ev ? { exitEvidence: ev } : {}),
    ...(f.processTree ? { processTree: f.processTree.map((p) => ({ ...p })) } : {}),
    ...(f.inspection ? { inspection: f.inspection } : {}),
    ...(f.stopSignal ? { stopSignal: f.stopSignal } : {}),
  };
  return { outcome, notes: [...(f.notes ?? []), ...exitNotes(ev, f.oomKilled === true)] };
}

/**
 * The pod's outcome: its app container's fields, every other container in `sidecars` (each from its own
 * exit's sources), the notes (the app's, the pod's, then each sidecar's prefixed with its name).
 */
export function podEvidence(p: PodFacts): ObservedPodOutcome {
  const multi = p.others.length > 0;
  // A one-container pod's hook is the scenario's (or the template's) to tell; per container only with others.
  const { preStop, ...appFacts } = p.app;
  const app = containerEvidence(appFacts);
  const sidecars = p.others.map((f) => {
    const c = containerEvidence(f);
    const prefix = f.container !== undefined ? `${f.container}: ` : "";
    return { outcome: { ...c.outcome, processes: [] }, notes: c.notes.map((n) => `${prefix}${n}`) };
  });
  return {
    pod: p.pod,
    ...(p.node !== undefined ? { node: p.node } : {}),
    deleteAt: p.deleteAt,
    ...(p.goneAt !== undefined ? { goneAt: p.goneAt } : {}),
    ...app.outcome,
    ...(multi ? { role: "app" as const, preStop: preStop ?? { type: "none" } } : {}),
    notes: [...app.notes, ...(p.notes ?? []), ...sidecars.flatMap((s) => s.notes)],
    // The collect step fills each sidecar's processes and receipt from the events (observe/containers.ts).
    ...(multi ? { sidecars: sidecars.map((s) => s.outcome) } : {}),
  };
}
