// The per-container evidence of a multi-container pod, and which container caused each failure
// window, as text lines every report format shows (console, JUnit, HTML). One-container pods: none.
import { failureWindowWords } from "../inspect/causes.js";
import { podPrediction } from "../inspect/pod-prediction.js";
import type { ContainerOutcome, PodOutcome } from "../model/pod-outcome.js";
import { podContainers } from "../observe/containers.js";
import { containerView, describeExit, describeExitCode } from "../verdict/verdicts.js";
import { signedSeconds } from "./status.js";

/** One container's evidence in a line: role, PID 1, hook, stop signal and its receipt, exit, termination. */
export function containerLine(pod: PodOutcome, c: ContainerOutcome): string {
  const view = containerView(pod, c);
  const at = (t: number) => signedSeconds(t - pod.deleteAt);
  const parts = [
    `PID 1 ${c.pid1Cmdline || "not read"}`,
    `preStop ${c.preStop?.description ?? c.preStop?.type ?? "unknown"}`,
    `stop signal ${c.stopSignal ? `${c.stopSignal.signal} (${c.stopSignal.from})` : "the image's (not reported)"}`,
    c.sigterm
      ? `received at ${at(c.sigterm.at)} (${c.sigterm.from}${c.sigterm.inferred ? ", inferred" : ""})`
      : "its receipt unknown",
    `${describeExitCode(view)}: ${describeExit(view)}`,
    c.exitedAt !== undefined
      ? `termination ${signedSeconds(c.exitedAt - pod.deleteAt).replace(/^\+/, "")}`
      : "exit not observed",
  ];
  return `container ${c.container ?? "?"} (${c.role ?? "?"}): ${parts.join("; ")}`;
}

/** Every container's line and its /proc prediction (none for a one-container pod). */
export function containerLines(pod: PodOutcome, port?: number): string[] {
  if (!pod.sidecars || pod.sidecars.length === 0) return [];
  const out: string[] = [];
  for (const c of podContainers(pod)) {
    out.push(containerLine(pod, c));
    const prediction = c === pod ? undefined : podPrediction(c, port);
    if (prediction) out.push(`  ${c.container ?? "?"} predicted from /proc before any signal: ${prediction}`);
  }
  return out;
}

/** Which container caused each failure window, with the fix to measure (absent: no attribution). */
export function failureCauseLines(pod: PodOutcome): Array<{ says: string; fix?: string }> {
  return (pod.failureCauses ?? []).map(failureWindowWords);
}
