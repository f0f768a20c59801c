// The exit evidence of one local container: Docker's record and PID 1's own exit line, judged by the
// same rule as on every backend (observe/exit-evidence.ts), so a disagreement between them is reported
// here as it is on kind. Pure.
import type { TimelineEvent } from "../../model/events.js";
import type { ExitEvidence } from "../../model/exit-evidence.js";
import type { ContainerOutcome } from "../../model/pod-outcome.js";
import type { ProcessTreeInspection } from "../../model/process-tree.js";
import { pid1Exit } from "../../observe/app-log.js";
import { decideExit, exitNotes, sigkillDeadline } from "../../observe/exit-evidence.js";
import type { ProcessEntry } from "./replica.js";
import type { ContainerStopOutcome, TerminationOutcome } from "./termination.js";

export interface LocalExitInput {
  pod: string;
  graceSeconds: number;
  termination: Pick<TerminationOutcome, "deleteAt" | "sigtermAt" | "sigkillAt" | "exitedAt" | "exitCode">;
  /** The pod's app events (its log lines as observe/app-log.ts reads them). */
  appEvents: readonly TimelineEvent[];
  /** Docker's inspect after the exit, when it answered. */
  inspected?: { oomKilled?: boolean; finishedAt?: string };
}

/** Docker's record (the most trusted source) and PID 1's exit line → the exit evidence and its notes. */
export function localExitEvidence(input: LocalExitInput): { exitEvidence?: ExitEvidence; notes: string[] } {
  const { termination: t, inspected } = input;
  const app = pid1Exit(input.appEvents, input.pod, t.deleteAt);
  const exitEvidence = decideExit(
    {
      runtime: {
        code: t.exitCode,
        at: t.exitedAt,
        runtime: "Docker",
        note:
          "Docker: the exit code from wait(), the time when it returned" +
          (inspected?.finishedAt ? ` (State.FinishedAt ${inspected.finishedAt})` : ""),
      },
      ...(app ? { app } : {}),
    },
    {
      deleteAt: t.deleteAt,
      graceDeadline: sigkillDeadline(t.deleteAt, input.graceSeconds, t.sigtermAt),
      // SIGKILL is known for certain here: the harness sends it.
      ...(t.sigkillAt !== undefined ? { sigkillSentAt: t.sigkillAt } : {}),
    },
  );
  return { ...(exitEvidence ? { exitEvidence } : {}), notes: exitNotes(exitEvidence, inspected?.oomKilled === true) };
}

/** One container's stop and what was read around it → its outcome, as every local pod reports it. */
export interface LocalContainerInput {
  pod: string;
  /** The container's name in the pod spec (absent: graceful-e2e's own one-container pod). */
  container?: string;
  graceSeconds: number;
  deleteAt: number;
  stop: ContainerStopOutcome;
  appEvents: readonly TimelineEvent[];
  inspected?: { oomKilled?: boolean; finishedAt?: string };
  pid1Cmdline: string;
  processTree?: ProcessEntry[];
  inspection?: ProcessTreeInspection;
}

/** The container fields of a pod outcome (the exit code from Docker's record through decideExit). */
export function localContainerOutcome(
  input: LocalContainerInput,
): Omit<ContainerOutcome, "processes"> & { notes: string[] } {
  const { stop } = input;
  const { exitEvidence, notes } = localExitEvidence({
    pod: input.pod,
    graceSeconds: input.graceSeconds,
    termination: { ...stop, deleteAt: input.deleteAt },
    appEvents: input.appEvents,
    ...(input.inspected ? { inspected: input.inspected } : {}),
  });
  return {
    ...(input.container !== undefined ? { container: input.container } : {}),
    pid1Cmdline: input.pid1Cmdline,
    exitedAt: stop.exitedAt,
    exitCode: stop.exitCode,
    exitReason:
      stop.sigkillAt !== undefined ? "Killed after grace period" : stop.exitCode === 0 ? "Completed" : "Error",
    sigkilled: stop.sigkillAt !== undefined,
    ...(exitEvidence ? { exitEvidence } : {}),
    ...(input.processTree ? { processTree: input.processTree } : {}),
    ...(input.inspection ? { inspection: input.inspection } : {}),
    // The choice the termination made: lifecycle's (or the scenario's) stopSignal, else the image's, else SIGTERM.
    stopSignal: stop.stopSignal,
    notes,
  };
}
