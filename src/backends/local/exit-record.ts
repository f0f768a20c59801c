// The exit evidence of one local container: Docker's record and PID 1's own exit line, judged by the
// same rule as on every backend (observe/exit-evidence.ts), so a disagreement between them is reported
// here as it is on kind. Pure.
import type { TimelineEvent } from "../../model/events.js";
import type { ExitEvidence } from "../../model/exit-evidence.js";
import { pid1Exit } from "../../observe/app-log.js";
import { decideExit, exitNotes, sigkillDeadline } from "../../observe/exit-evidence.js";
import type { TerminationOutcome } from "./termination.js";

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
