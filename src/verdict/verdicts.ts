// Checks a scenario's expectations against what was measured. Pure: every verdict carries the
// evidence it was decided on, in words a reader can check against the timeline.

import { FAILURE_KINDS, type LoadResult } from "../load/types.js";
import type { ReadyEndpointsSample, VoluntaryDisruptionRecord } from "../model/disruption.js";
import type { ContainerOutcome, PodOutcome } from "../model/pod-outcome.js";
import { podContainers } from "../observe/containers.js";
import { formatOffset } from "../observe/timeline.js";
import type { ContainerExpectation, Expectations } from "../scenario/schema.js";
import {
  checkDrainFinished,
  checkMaxDrainSeconds,
  checkMaxEvictionRefusals,
  checkMinReadyEndpoints,
} from "./voluntary.js";

export interface Verdict {
  name: string;
  expected: string;
  actual: string;
  /** False also when the verdict could not be decided (then `inconclusive` says why). */
  pass: boolean;
  evidence: string;
  /** False: the evidence cannot decide this verdict either way (e.g. an exit code the API made up). */
  decidable?: boolean;
  /** Set when the verdict is not decidable: why, in words. The run is then INCONCLUSIVE, never PASS. */
  inconclusive?: string;
}

export interface VerdictInput {
  expectations: Expectations;
  load: LoadResult;
  pods: PodOutcome[];
  /** For the words only ("gone" means the container removed locally, the pod object deleted elsewhere). */
  backend?: string;
  /** evict/drain/rollout: the evictions, the drain, the budget (DisruptionOutcome.voluntary). */
  voluntary?: VoluntaryDisruptionRecord;
  /** The Service's ready endpoints over the run (undefined: the backend did not follow them). */
  readyEndpoints?: ReadyEndpointsSample[];
}

/** What "gone" means on a backend: "container removed" on the local runtime, "pod object deleted" on Kubernetes. */
export function goneMeaning(backend: string | undefined): string {
  return backend === "local" ? "container removed" : "pod object deleted";
}

/** " streams" / " calls" / " messages" after a count; "" for HTTP/1.1 requests (and results before protocols). */
export function unitSuffix(load: Pick<LoadResult, "unit">): string {
  return load.unit && load.unit !== "requests" ? ` ${load.unit}` : "";
}

/** What the long-lived protocols add to the failed-requests evidence: retries, GOAWAYs, WebSocket closes. */
export function protocolNotes(load: LoadResult): string[] {
  const notes: string[] = [];
  const r = load.retries;
  if (r && r.attempted > 0) {
    notes.push(
      `${r.attempted} refused stream(s) retried: ${r.succeeded} then succeeded, ${r.failed} failed` +
        (r.inFlightAtEnd > 0 ? `, ${r.inFlightAtEnd} in flight at the end` : ""),
    );
  }
  if (load.goaways && load.goaways.length > 0) notes.push(`${load.goaways.length} GOAWAY(s) received`);
  const ws = load.websocket;
  if (ws && ws.closes.length > 0) {
    const codes = Object.entries(ws.closesByCode)
      .map(([code, n]) => `${code} ×${n}`)
      .join(", ");
    const gaps = ws.closes.map((c) => c.reconnectGapMs).filter((g): g is number => g !== undefined);
    const reopened = gaps.length > 0 ? `, reopened after ${Math.min(...gaps)}–${Math.max(...gaps)} ms` : "";
    const never = ws.closes.length - gaps.length;
    notes.push(`socket closes: ${codes}${reopened}${never > 0 ? `, ${never} not reopened in the window` : ""}`);
  }
  return notes;
}

export function failureSummary(load: LoadResult): string {
  const kinds = FAILURE_KINDS.filter((k) => (load.failedByKind[k] ?? 0) > 0).map((k) => `${k} ${load.failedByKind[k]}`);
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

/** Why the exit code cannot be trusted (only a made-up API code was recorded), when that is so. */
export function exitCodeUnknown(pod: PodOutcome): string | undefined {
  return pod.exitCode === undefined ? pod.exitEvidence?.unknown : undefined;
}

/** Whether SIGKILL at the end of the grace period ended the pod: undefined when the evidence cannot tell. */
export function killedAtGraceEnd(pod: PodOutcome): boolean | undefined {
  if (pod.sigkilled) return true;
  if (!pod.exitEvidence) return false;
  return pod.exitEvidence.killedAtGraceEnd;
}

export function describeExit(pod: PodOutcome): string {
  if (pod.sigkilled) return "killed";
  const abrupt = abruptlyEnded(pod);
  if (abrupt.length > 0) {
    const kill = killedAtGraceEnd(pod) === undefined ? ", SIGKILL at the grace deadline not ruled out" : "";
    return `abrupt (${abrupt.join(", ")} never logged an exit${kill})`;
  }
  if (exitCodeUnknown(pod)) return "exit code unknown";
  return exitedGracefully(pod) ? "graceful" : `exited ${pod.exitCode ?? "?"}`;
}

/** "exit code 143 (containerd's record; the API said 137 / ContainerStatusUnknown)", in words. */
export function describeExitCode(pod: PodOutcome): string {
  const ev = pod.exitEvidence;
  if (exitCodeUnknown(pod)) return "exit code unknown";
  const reason = pod.exitReason ? ` (${pod.exitReason})` : "";
  if (!ev || pod.exitCode === undefined) return `exit code ${pod.exitCode ?? "unknown"}${reason}`;
  const from = ev.sources.find((s) => s.source === ev.chosen);
  const where =
    ev.chosen === "runtime"
      ? (from?.note.split(":")[0] ?? "the runtime's record")
      : ev.chosen === "app"
        ? "pid 1's own exit line"
        : "the API";
  return `exit code ${pod.exitCode}${reason}, from ${where}`;
}

/**
 * Termination: delete → the container exited, the part the app and its image control. The pod
 * object lingers after that (on Kubernetes 1.20 a pod whose app exited at 3.2 s was gone from the API
 * at 14 s): "gone" is reported in the timeline, never judged as termination. Without an observed exit,
 * gone is only an upper bound (see terminationBounds).
 */
export function terminationMs(pod: PodOutcome): number | undefined {
  return pod.exitedAt === undefined ? undefined : pod.exitedAt - pod.deleteAt;
}

/**
 * What is known of the termination time: [min, max] ms after the delete. Exact when the exit time is
 * (min = max); a window when the API's 1 s finishedAt only placed it; only a max when the exit was not
 * observed but the pod is gone.
 */
export function terminationBounds(pod: PodOutcome): { min?: number; max?: number; exact?: number } {
  const ev = pod.exitEvidence;
  if (pod.exitedAt !== undefined) {
    const exact = pod.exitedAt - pod.deleteAt;
    if (ev?.earliest !== undefined && ev.latest !== undefined && ev.at === pod.exitedAt) {
      return { min: ev.earliest - pod.deleteAt, max: ev.latest - pod.deleteAt, exact };
    }
    return { min: exact, max: exact, exact };
  }
  if (pod.goneAt !== undefined) return { max: pod.goneAt - pod.deleteAt };
  return {};
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
      `${load.failed} failed of ${load.sent}${unitSuffix(load)} sent (${failureSummary(load)}); ${load.succeeded} succeeded, ` +
      `${load.inFlightAtEnd} in flight when the window closed` +
      (first ? `; first failure: ${first.kind}${first.code !== undefined ? ` (${first.code})` : ""}` : "") +
      protocolNotes(load)
        .map((n) => `; ${n}`)
        .join(""),
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
    const killed = killedAtGraceEnd(pod);
    const abrupt = abruptlyEnded(pod).length > 0;
    const codeUnknown = exitCodeUnknown(pod);
    // Decided on the evidence that exists; undefined: not decidable.
    let pass: boolean | undefined;
    let why: string | undefined;
    if (expected === "killed") {
      pass = killed;
      if (pass === undefined) why = pod.exitEvidence?.killedWhy;
    } else if (expected === "graceful") {
      if (killed === true || abrupt) pass = false;
      else if (codeUnknown) [pass, why] = [undefined, codeUnknown];
      else if (killed === undefined) [pass, why] = [undefined, pod.exitEvidence?.killedWhy];
      else pass = graceful;
    } else {
      if (!abrupt || killed === true) pass = false;
      else if (killed === undefined) [pass, why] = [undefined, pod.exitEvidence?.killedWhy];
      else pass = true;
    }
    const ev = pod.exitEvidence;
    const kill =
      killed === true
        ? "SIGKILL at the end of the grace period"
        : killed === false
          ? "no SIGKILL at the end of the grace period"
          : "SIGKILL at the end of the grace period not ruled out";
    const evidence =
      `${describeExitCode(pod)}; ${kill}` +
      (ev ? ` (${ev.killedWhy})` : "") +
      (ev?.disagreement ? `; sources disagree: ${ev.disagreement}` : "") +
      (pod.notes.length > 0 ? `; ${pod.notes.filter((n) => n !== ev?.killedWhy).join("; ")}` : "");
    return {
      name: `exit (${pod.pod})`,
      expected,
      actual,
      pass: pass === true,
      evidence: evidence.replace(/; $/, ""),
      ...(pass === undefined
        ? { decidable: false, inconclusive: why ?? "the evidence cannot decide how the container ended" }
        : {}),
    };
  });
}

function checkTermination(
  bounds: { minSeconds?: number; maxSeconds?: number },
  pods: PodOutcome[],
  backend?: string,
): Verdict[] {
  const expected = [
    bounds.minSeconds !== undefined ? `≥ ${bounds.minSeconds} s` : "",
    bounds.maxSeconds !== undefined ? `≤ ${bounds.maxSeconds} s` : "",
  ]
    .filter(Boolean)
    .join(" and ");
  const minMs = bounds.minSeconds === undefined ? undefined : bounds.minSeconds * 1000;
  const maxMs = bounds.maxSeconds === undefined ? undefined : bounds.maxSeconds * 1000;
  return pods.map((pod) => {
    const name = `termination time (${pod.pod})`;
    const known = terminationBounds(pod);
    const gone =
      pod.goneAt === undefined ? "" : `; gone (${goneMeaning(backend)}) at ${formatOffset(pod.goneAt - pod.deleteAt)}`;
    if (known.max === undefined) {
      return {
        name,
        expected,
        actual: "no exit observed",
        pass: false,
        evidence: "neither the container's exit nor the pod's removal was observed before observation ended",
      };
    }
    const lo = known.min;
    const hi = known.max;
    // Pass only when every time the evidence allows passes; fail only when none does.
    const allPass = (minMs === undefined || (lo !== undefined && lo >= minMs)) && (maxMs === undefined || hi <= maxMs);
    const nonePass = (maxMs !== undefined && lo !== undefined && lo > maxMs) || (minMs !== undefined && hi < minMs);
    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    let actual: string;
    let evidence: string;
    if (known.exact !== undefined && lo === hi) {
      actual = s(known.exact);
      evidence = `delete → container exit in ${(known.exact / 1000).toFixed(3)} s${gone}`;
    } else if (known.exact !== undefined && lo !== undefined) {
      actual = s(known.exact);
      evidence =
        `delete → container exit in ${(known.exact / 1000).toFixed(3)} s, known within ${s(lo)} … ${s(hi)} ` +
        `(the API's finishedAt has 1 s resolution)${gone}`;
    } else {
      actual = `≤ ${s(hi)}`;
      evidence = `the container's exit was not observed; the pod was gone ${s(hi)} after the delete, so it exited no later`;
    }
    const decided = allPass || nonePass;
    return {
      name,
      expected,
      actual,
      pass: allPass,
      evidence,
      ...(decided
        ? {}
        : {
            decidable: false,
            inconclusive:
              lo === undefined
                ? "only an upper bound on the exit is known (the pod's removal): a lower bound cannot be checked"
                : `the exit is known only within ${s(lo)} … ${s(hi)}, which straddles the expected bound`,
          }),
    };
  });
}

/**
 * One container of a pod seen as a pod of its own ("<pod>/<container>"), so the exit and termination
 * rules judge it exactly as they judge a pod: its own exit evidence and processes, the pod's delete.
 */
export function containerView(pod: PodOutcome, c: ContainerOutcome): PodOutcome {
  const name = c.container ?? "?";
  const own = c === pod ? pod.notes : pod.notes.filter((n) => n.startsWith(`${name}: `));
  return {
    pod: `${pod.pod}/${name}`,
    deleteAt: pod.deleteAt,
    ...(pod.goneAt !== undefined ? { goneAt: pod.goneAt } : {}),
    notes: own,
    container: name,
    pid1Cmdline: c.pid1Cmdline,
    processes: c.processes,
    sigkilled: c.sigkilled,
    ...(c.exitedAt !== undefined ? { exitedAt: c.exitedAt } : {}),
    ...(c.exitCode !== undefined ? { exitCode: c.exitCode } : {}),
    ...(c.exitReason !== undefined ? { exitReason: c.exitReason } : {}),
    ...(c.exitEvidence ? { exitEvidence: c.exitEvidence } : {}),
    ...(c.sigterm ? { sigterm: c.sigterm } : {}),
  };
}

/** Whether one container received its stop signal: a record decides, an inferred time does not. */
function checkContainerSigterm(view: PodOutcome, c: ContainerOutcome, expected: boolean): Verdict {
  const signal = c.stopSignal?.signal ?? "SIGTERM";
  const logged = c.processes.flatMap((p) => p.signals.filter((x) => x.name === signal).map((x) => x.at));
  const recorded = c.sigterm && !c.sigterm.inferred ? c.sigterm.at : logged.sort((a, b) => a - b)[0];
  const base = { name: `${signal} (${view.pod})`, expected: expected ? "received" : "not received" };
  if (recorded !== undefined) {
    const from = c.sigterm && !c.sigterm.inferred ? c.sigterm.from : `the container's ${signal} line`;
    return {
      ...base,
      actual: "received",
      pass: expected,
      evidence: `${signal} at ${formatOffset(recorded - view.deleteAt)} (${from})`,
    };
  }
  if (c.processes.length > 0) {
    const roles = c.processes.map((p) => p.role).join(", ");
    return {
      ...base,
      actual: "not received",
      pass: !expected,
      evidence: `the container logged (${roles}) but never ${signal}`,
    };
  }
  const inferred = c.sigterm
    ? `; inferred at ${formatOffset(c.sigterm.at - view.deleteAt)} from ${c.sigterm.from}`
    : "";
  const why = `the container logs no signal line and nothing recorded the signal${inferred}`;
  return { ...base, actual: "unknown", pass: false, evidence: why, decidable: false, inconclusive: why };
}

/** A container name the expectations give that a disrupted pod does not have. */
function missingContainer(pod: PodOutcome, name: string): Verdict {
  const names = podContainers(pod)
    .map((c) => c.container)
    .filter((n): n is string => n !== undefined);
  const base = { name: `container ${name} (${pod.pod})`, expected: "present", actual: "absent" };
  if (names.length === 0) {
    const why = `the backend did not name ${pod.pod}'s containers, so "${name}" cannot be found`;
    return { ...base, actual: "unknown", pass: false, evidence: why, decidable: false, inconclusive: why };
  }
  return {
    ...base,
    pass: false,
    evidence: `${pod.pod} has no container named "${name}"; its containers: ${names.join(", ")}`,
  };
}

/**
 * The failed requests attributed to one container of a pod (its failure windows: verdict/container-
 * attribution.ts). Unattributed failures of the pod could be anyone's: when they could change the
 * outcome the verdict is undecidable, never a pass or a fail.
 */
function checkCausedFailures(pod: PodOutcome, name: string, bounds: { min?: number; max?: number }): Verdict {
  const windows = pod.failureCauses ?? [];
  const own = windows.filter((w) => w.container === name);
  const caused = own.reduce((n, w) => n + w.count, 0);
  const open = windows.filter((w) => w.cause === "unattributed").reduce((n, w) => n + w.count, 0);
  const { min, max } = bounds;
  // The container's true count lies in [caused, caused + open]: decided when all of it is in or out of bounds.
  const surely = (min === undefined || caused >= min) && (max === undefined || caused + open <= max);
  const never = (min !== undefined && caused + open < min) || (max !== undefined && caused > max);
  const causes = own.map((w) => `${w.cause} ${w.count}`).join(", ");
  const evidence =
    `${caused} failed request(s) attributed to ${name}${causes ? ` (${causes})` : ""}` +
    (open > 0 ? `; ${open} of ${pod.pod} unattributed` : "");
  const base = {
    name: `failed requests caused by ${name} (${pod.pod})`,
    expected: [min !== undefined ? `≥ ${min}` : "", max !== undefined ? `≤ ${max}` : ""].filter(Boolean).join(" and "),
    actual: open > 0 ? `${caused}–${caused + open}` : String(caused),
    evidence,
  };
  if (surely || never) return { ...base, pass: surely };
  const why = `${open} unattributed failure(s) could be ${name}'s: the attribution cannot decide it`;
  return { ...base, pass: false, decidable: false, inconclusive: why };
}

/** expectations.containers: per named container of every disrupted pod, its exit, stop signal and termination. */
function checkContainers(
  expected: Record<string, ContainerExpectation>,
  pods: PodOutcome[],
  backend?: string,
): Verdict[] {
  const out: Verdict[] = [];
  for (const [name, e] of Object.entries(expected)) {
    for (const pod of pods) {
      const c = podContainers(pod).find((x) => x.container === name);
      if (!c) {
        out.push(missingContainer(pod, name));
        continue;
      }
      const view = containerView(pod, c);
      if (e.sigterm !== undefined) out.push(checkContainerSigterm(view, c, e.sigterm));
      if (e.exit) out.push(...checkExit(e.exit, [view]));
      if (e.terminationSeconds) out.push(...checkTermination(e.terminationSeconds, [view], backend));
      if (e.minFailedRequests !== undefined || e.maxFailedRequests !== undefined)
        out.push(checkCausedFailures(pod, name, { min: e.minFailedRequests, max: e.maxFailedRequests }));
    }
  }
  return out;
}

export function evaluate(input: VerdictInput): Verdict[] {
  const { expectations: e, load, pods } = input;
  const verdicts: Verdict[] = [];
  if (e.maxFailedRequests !== undefined || e.minFailedRequests !== undefined) {
    verdicts.push(checkFailedRequests({ min: e.minFailedRequests, max: e.maxFailedRequests }, load));
  }
  for (const [role, expected] of Object.entries(e.sigterm ?? {})) verdicts.push(...checkSigterm(role, expected, pods));
  if (e.exit) verdicts.push(...checkExit(e.exit, pods));
  if (e.terminationSeconds) verdicts.push(...checkTermination(e.terminationSeconds, pods, input.backend));
  if (e.containers) verdicts.push(...checkContainers(e.containers, pods, input.backend));
  verdicts.push(...voluntaryVerdicts(input));
  const perPod =
    e.sigterm !== undefined || e.exit !== undefined || e.terminationSeconds !== undefined || e.containers !== undefined;
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

/** minReadyEndpoints (over the load window), maxDrainSeconds, maxEvictionRefusals, and a drain's end. */
function voluntaryVerdicts(input: VerdictInput): Verdict[] {
  const { expectations: e, load, voluntary } = input;
  const out: Verdict[] = [];
  if (e.minReadyEndpoints !== undefined) {
    const window = { from: load.startedAt, to: load.endedAt };
    out.push(checkMinReadyEndpoints(e.minReadyEndpoints, input.readyEndpoints, window));
  }
  if (e.maxDrainSeconds !== undefined) out.push(checkMaxDrainSeconds(e.maxDrainSeconds, voluntary));
  if (e.maxEvictionRefusals !== undefined) out.push(checkMaxEvictionRefusals(e.maxEvictionRefusals, voluntary));
  const drain = checkDrainFinished(voluntary);
  if (drain) out.push(drain);
  return out;
}
