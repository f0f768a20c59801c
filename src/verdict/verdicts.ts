// Checks a scenario's expectations against what was measured. Pure: every verdict carries the
// evidence it was decided on, in words a reader can check against the timeline.
import type { PodOutcome } from "../backends/backend.js";
import { FAILURE_KINDS, type LoadResult } from "../load/types.js";
import { formatOffset } from "../observe/timeline.js";
import type { Expectations } from "../scenario/schema.js";

export interface Verdict {
  name: string;
  expected: string;
  actual: string;
  pass: boolean;
  evidence: string;
}

export interface VerdictInput {
  expectations: Expectations;
  load: LoadResult;
  pods: PodOutcome[];
}

export function failureSummary(load: LoadResult): string {
  const kinds = FAILURE_KINDS.filter((k) => load.failedByKind[k] > 0).map((k) => `${k} ${load.failedByKind[k]}`);
  return kinds.length > 0 ? kinds.join(", ") : "none";
}

/** Which processes of a pod received SIGTERM (from the app's own log lines). */
export function sigtermReceipts(pod: PodOutcome): Array<{ role: string; at?: number }> {
  return pod.processes.map((p) => ({ role: p.role, at: p.signals.find((s) => s.name === "SIGTERM")?.at }));
}

/** Processes that logged lines but never their exit line: killed under them (e.g. PID 1 exited). */
export function abruptlyEnded(pod: PodOutcome): string[] {
  return pod.processes.filter((p) => p.exit === undefined).map((p) => p.role);
}

/**
 * Graceful: ended on its own with 0 or 143 (SIGTERM's default) before any SIGKILL, and every
 * process that logged anything also logged its own exit. An init that exits 143 while the
 * kernel kills its children is not graceful, whatever the exit code says.
 */
export function exitedGracefully(pod: PodOutcome): boolean {
  return !pod.sigkilled && (pod.exitCode === 0 || pod.exitCode === 143) && abruptlyEnded(pod).length === 0;
}

export function describeExit(pod: PodOutcome): string {
  if (pod.sigkilled) return "killed";
  const abrupt = abruptlyEnded(pod);
  if (abrupt.length > 0) return `abrupt (${abrupt.join(", ")} never logged an exit)`;
  return exitedGracefully(pod) ? "graceful" : `exited ${pod.exitCode ?? "?"}`;
}

/**
 * Delete → the container exited: the part of termination the app and its image control. (The
 * API object may linger after that: on Kubernetes 1.20 a pod whose app exited at 3.2 s was gone
 * from the API at 14 s, so "pod gone" is reported in the timeline but not judged.)
 */
export function terminationMs(pod: PodOutcome): number | undefined {
  const end = pod.exitedAt ?? pod.goneAt;
  return end === undefined ? undefined : end - pod.deleteAt;
}

function checkFailedRequests(bounds: { min?: number; max?: number }, load: LoadResult): Verdict {
  const first = load.failures[0];
  const { min, max } = bounds;
  return {
    name: "failed requests",
    expected: [min !== undefined ? `≥ ${min}` : "", max !== undefined ? `≤ ${max}` : ""].filter(Boolean).join(" and "),
    actual: String(load.failed),
    pass: (max === undefined || load.failed <= max) && (min === undefined || load.failed >= min),
    evidence:
      `${load.failed} failed of ${load.sent} sent (${failureSummary(load)}); ${load.succeeded} succeeded, ` +
      `${load.inFlightAtEnd} in flight when the window closed` +
      (first ? `; first failure: ${first.kind}${first.code !== undefined ? ` (${first.code})` : ""}` : ""),
  };
}

function checkSigterm(role: string, expected: boolean, pods: PodOutcome[]): Verdict[] {
  return pods.map((pod) => {
    const receipts = sigtermReceipts(pod).filter((r) => role === "*" || r.role === role);
    const origin = pod.deleteAt;
    const describe = receipts
      .map(
        (r) => `${r.role}: ${r.at === undefined ? "no SIGTERM logged" : `SIGTERM at ${formatOffset(r.at - origin)}`}`,
      )
      .join("; ");
    const name = `SIGTERM ${role === "*" ? "every process" : role} (${pod.pod})`;
    if (receipts.length === 0) {
      return {
        name,
        expected: expected ? "received" : "not received",
        actual: "process never seen",
        pass: false,
        evidence: `no log line from ${role === "*" ? "any process" : `a process with role "${role}"`} in ${pod.pod}; seen: ${pod.processes.map((p) => p.role).join(", ") || "none"}`,
      };
    }
    const got = receipts.every((r) => r.at !== undefined);
    const none = receipts.every((r) => r.at === undefined);
    const actual = got ? "received" : none ? "not received" : "received by some";
    return {
      name,
      expected: expected ? "received" : "not received",
      actual,
      pass: expected ? got : none,
      evidence: describe,
    };
  });
}

function checkExit(expected: "graceful" | "killed" | "abrupt", pods: PodOutcome[]): Verdict[] {
  return pods.map((pod) => {
    const graceful = exitedGracefully(pod);
    const actual = describeExit(pod);
    return {
      name: `exit (${pod.pod})`,
      expected,
      actual,
      pass:
        expected === "graceful"
          ? graceful
          : expected === "killed"
            ? pod.sigkilled
            : !pod.sigkilled && abruptlyEnded(pod).length > 0,
      evidence:
        `exit code ${pod.exitCode ?? "unknown"}${pod.exitReason ? ` (${pod.exitReason})` : ""}; ` +
        `SIGKILL ${pod.sigkilled ? "sent at the end of the grace period" : "not needed"}` +
        (pod.notes.length > 0 ? `; ${pod.notes.join("; ")}` : ""),
    };
  });
}

function checkTermination(bounds: { minSeconds?: number; maxSeconds?: number }, pods: PodOutcome[]): Verdict[] {
  const expected = [
    bounds.minSeconds !== undefined ? `≥ ${bounds.minSeconds} s` : "",
    bounds.maxSeconds !== undefined ? `≤ ${bounds.maxSeconds} s` : "",
  ]
    .filter(Boolean)
    .join(" and ");
  return pods.map((pod) => {
    const ms = terminationMs(pod);
    const s = ms === undefined ? undefined : ms / 1000;
    const pass =
      s !== undefined &&
      (bounds.minSeconds === undefined || s >= bounds.minSeconds) &&
      (bounds.maxSeconds === undefined || s <= bounds.maxSeconds);
    return {
      name: `termination time (${pod.pod})`,
      expected,
      actual: s === undefined ? "pod not gone" : `${s.toFixed(2)} s`,
      pass,
      evidence:
        s === undefined ? "the pod was still there when observation ended" : `delete → pod gone in ${s.toFixed(3)} s`,
    };
  });
}

export function evaluate(input: VerdictInput): Verdict[] {
  const { expectations: e, load, pods } = input;
  const verdicts: Verdict[] = [];
  if (e.maxFailedRequests !== undefined || e.minFailedRequests !== undefined) {
    verdicts.push(checkFailedRequests({ min: e.minFailedRequests, max: e.maxFailedRequests }, load));
  }
  for (const [role, expected] of Object.entries(e.sigterm ?? {})) verdicts.push(...checkSigterm(role, expected, pods));
  if (e.exit) verdicts.push(...checkExit(e.exit, pods));
  if (e.terminationSeconds) verdicts.push(...checkTermination(e.terminationSeconds, pods));
  const perPod = e.sigterm !== undefined || e.exit !== undefined || e.terminationSeconds !== undefined;
  if (pods.length === 0 && perPod) {
    verdicts.push({
      name: "disruption",
      expected: "at least one pod terminated",
      actual: "none",
      pass: false,
      evidence: "no pod was disrupted, so per-pod expectations could not be checked",
    });
  }
  return verdicts;
}
