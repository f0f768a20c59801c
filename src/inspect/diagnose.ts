// After the run: what was observed for the deleted pod, whether the prediction held, and a
// diagnosis in plain words with the fix. Pure.

import { FAILURE_KINDS, type FailureKind, type LoadResult } from "../load/types.js";
import type { ContainerFailureWindow, PodOutcome } from "../model/pod-outcome.js";
import type { Timeline } from "../model/timeline.js";
import { type SigtermReceipt, sigtermReceipt } from "../observe/sigterm.js";
import {
  abruptlyEnded,
  exitCodeUnknown,
  exitedGracefully,
  failureSummary,
  killedAtGraceEnd,
  sigtermReceipts,
  terminationMs,
} from "../verdict/verdicts.js";
import { causeEntry, causeWords, failureWindowWords } from "./causes.js";
import { type Branch, branchWords, type Outcome, type Prediction } from "./predict.js";

export interface FailureTiming {
  /** Before SIGTERM was sent (nothing to do with the termination, or the preStop window). */
  beforeSigterm: number;
  /** After SIGTERM, while the endpoint was still in the Service (new connections met a closed listener). */
  whileEndpointListed: number;
  /** After the endpoint left the Service, before the exit (the drain). */
  duringDrain: number;
  /** At or after SIGKILL. */
  atSigkill: number;
  /** Around the container's exit without SIGKILL (killed with PID 1). */
  atExit: number;
}

export interface CheckObservation {
  pod?: string;
  pid1Cmdline?: string;
  /** Outcomes consistent with what was seen (two when the image logs nothing to tell them apart). */
  compatible: Outcome[];
  outcomeWords: string;
  sigterm: {
    received: "yes" | "no" | "partly" | "unknown";
    /** true: inferred from exit timing and code (the image does not log signals). */
    inferred: boolean;
    evidence: string;
  };
  exitCode?: number;
  /**
   * Set when the exit code is not known (the only record is the API's made-up 137 with reason
   * ContainerStatusUnknown): why. Nothing is diagnosed from that code.
   */
  exitCodeUnknown?: string;
  sigkilled: boolean;
  /** Delete → container exit. */
  terminationMs?: number;
  /** The termination's timing in words (never "+?": an unknown time is said to be unknown). */
  timingWords: string;
  /** Delete → SIGTERM sent (by the one rule, observe/sigterm.ts). */
  sigtermAfterMs?: number;
  /** Where SIGTERM's time comes from, prefixed "inferred: " when the rule placed it (no record of the signal). */
  sigtermFrom?: string;
  /** True when SIGTERM's time is the rule's inference (the end of the preStop hook, the delete), not a record. */
  sigtermInferred?: boolean;
  /** SIGTERM sent → container exit. */
  exitAfterSigtermMs?: number;
  /** Delete → endpoint out of the Service. */
  endpointRemovedAfterMs?: number;
  sent: number;
  failed: number;
  failedByKind: Partial<Record<FailureKind, number>>;
  failureSummary: string;
  failureTiming: FailureTiming;
  /** Multi-container pods: which container caused each failure window (verdict/container-attribution.ts). */
  failureCauses?: ContainerFailureWindow[];
}

function firstAt(timeline: Timeline | undefined, kind: string, pod: string | undefined): number | undefined {
  return timeline?.entries.find((e) => e.kind === kind && (pod === undefined || e.pod === pod))?.at;
}

const seconds = (ms: number | undefined) => (ms === undefined ? "an unknown time" : `${(ms / 1000).toFixed(2)} s`);

function exitCodeWords(code: number | undefined, unknown: string | undefined): string {
  return unknown !== undefined || code === undefined ? "exit code unknown" : `exit ${code}`;
}

/** " (its time inferred)" after a SIGTERM whose time the rule placed (observe/sigterm.ts), else nothing. */
const inferredMark = (inferred: boolean | undefined) => (inferred ? " (its time inferred)" : "");

/** "1.20 s after SIGTERM", or, when SIGTERM's time is unknown, "2.10 s after the delete (…)". */
export function afterSigtermWords(o: {
  exitAfterSigtermMs?: number;
  terminationMs?: number;
  sigtermInferred?: boolean;
}): string {
  if (o.exitAfterSigtermMs !== undefined) {
    return `${seconds(o.exitAfterSigtermMs)} after SIGTERM${inferredMark(o.sigtermInferred)}`;
  }
  if (o.terminationMs !== undefined) {
    return `${seconds(o.terminationMs)} after the delete (when SIGTERM was sent is not known on this backend)`;
  }
  return "at a time not observed";
}

/**
 * The termination's timing in words: delete → exit, and SIGTERM when known (with where its time comes
 * from when the rule inferred it). An unknown time is said to be unknown (never a "+?" placeholder).
 */
export function timingWords(
  pod: PodOutcome | undefined,
  sigterm: Pick<SigtermReceipt, "at" | "inferred" | "from"> | undefined,
  exitAt: number | undefined,
): string {
  if (!pod) return "no pod was disrupted";
  const sigtermWords =
    sigterm !== undefined
      ? `SIGTERM at +${seconds(sigterm.at - pod.deleteAt)}${sigterm.inferred ? `, inferred from ${sigterm.from}` : ""}`
      : "when SIGTERM was sent is not known (this backend does not see it)";
  if (exitAt === undefined) {
    return `the container's exit was not observed${pod.goneAt !== undefined ? ` (pod gone at +${seconds(pod.goneAt - pod.deleteAt)})` : ""}; ${sigtermWords}`;
  }
  const exit = `${seconds(exitAt - pod.deleteAt)} from the delete to the exit`;
  return sigterm !== undefined
    ? `${exit} (${sigtermWords}, exit ${seconds(exitAt - sigterm.at)} after it)`
    : `${exit} (${sigtermWords})`;
}

/** What observe() reads: the deleted pod, the load, the timeline and the scenario's preStop hook. */
export interface ObserveInput {
  pod?: PodOutcome;
  load?: LoadResult;
  timeline?: Timeline;
  /**
   * The preStop hook the run gave the pod, for the SIGTERM rule (observe/sigterm.ts): with it the rule
   * can place SIGTERM where no record does (the end of a preStop sleep, the delete without a hook).
   * Absent: only what the timeline recorded tells.
   */
  preStop?: Parameters<typeof sigtermReceipt>[2];
}

/** The moments of the termination the observation reads, for one pod. */
interface TerminationTimes {
  /** When SIGTERM reached the pod, by the one rule (observe/sigterm.ts); undefined when nothing tells. */
  sigterm?: SigtermReceipt;
  sigkillAt?: number;
  endpointAt?: number;
  exitAt?: number;
}

/** SIGTERM by the one rule (the collect step's receipt for a multi-container pod), SIGKILL, endpoint, exit. */
function terminationTimes(input: ObserveInput): TerminationTimes {
  const { pod, timeline } = input;
  const name = pod?.pod;
  const sigterm =
    pod === undefined
      ? undefined
      : (pod.sigterm ?? sigtermReceipt(timeline?.entries ?? [], pod, input.preStop ?? { type: "unknown" }));
  return {
    ...(sigterm ? { sigterm } : {}),
    sigkillAt: firstAt(timeline, "sigkill-sent", name),
    endpointAt: firstAt(timeline, "endpoint-removed", name),
    exitAt: pod?.exitedAt ?? firstAt(timeline, "container-exit", name),
  };
}

/** Each failed request placed in the termination's phases by when it happened. */
function failureTiming(load: LoadResult | undefined, times: TerminationTimes): FailureTiming {
  const { sigkillAt, endpointAt, exitAt } = times;
  const sigtermAt = times.sigterm?.at;
  const timing: FailureTiming = { beforeSigterm: 0, whileEndpointListed: 0, duringDrain: 0, atSigkill: 0, atExit: 0 };
  for (const f of load?.failures ?? []) {
    if (sigkillAt !== undefined && f.at >= sigkillAt - 100) timing.atSigkill++;
    else if (sigtermAt === undefined || f.at < sigtermAt) timing.beforeSigterm++;
    else if (endpointAt !== undefined && f.at <= endpointAt + 200) timing.whileEndpointListed++;
    else if (exitAt !== undefined && f.at >= exitAt - 200) timing.atExit++;
    else timing.duringDrain++;
  }
  return timing;
}

/** The outcomes consistent with what was seen of the pod's end, and that end in words. */
function observedOutcome(pod: PodOutcome | undefined): { compatible: Outcome[]; outcomeWords: string } {
  if (!pod) return { compatible: [], outcomeWords: "no pod was disrupted" };
  const logged = pod.processes.length > 0;
  const unknownCode = exitCodeUnknown(pod);
  const exitWords = exitCodeWords(pod.exitCode, unknownCode);
  const abrupt = abruptlyEnded(pod);
  if (pod.sigkilled) {
    return {
      compatible: ["killed"],
      outcomeWords: `SIGKILLed at the end of the grace period (exit ${pod.exitCode ?? 137})`,
    };
  }
  if (unknownCode) {
    // Nothing is read from a made-up code: only what the timing and the app's own lines show.
    const compatible: Outcome[] = [];
    if (killedAtGraceEnd(pod) !== false) compatible.push("killed");
    if (!logged) compatible.push("graceful", "abrupt");
    else compatible.push(abrupt.length > 0 ? "abrupt" : "graceful");
    const lines = !logged
      ? ""
      : abrupt.length > 0
        ? `; ${abrupt.join(", ")} never logged an exit`
        : "; every process logged its own exit";
    return { compatible, outcomeWords: `exit code unknown (${unknownCode})${lines}` };
  }
  if (logged && abrupt.length > 0) {
    return {
      compatible: ["abrupt"],
      outcomeWords: `abrupt: ${exitWords}, and ${abrupt.join(", ")} never logged an exit (killed when PID 1 exited)`,
    };
  }
  if (logged && exitedGracefully(pod)) {
    return {
      compatible: ["graceful"],
      outcomeWords: `graceful: every process logged its own exit, container exit ${pod.exitCode}`,
    };
  }
  if (!logged && (pod.exitCode === 0 || pod.exitCode === 143)) {
    return {
      compatible: ["graceful", "abrupt"],
      outcomeWords: `exited ${pod.exitCode} before the grace period ended (no app log lines to tell a drain from a kill)`,
    };
  }
  return {
    compatible: [],
    outcomeWords: `${exitWords === "exit code unknown" ? "exit not observed" : `exited with ${exitWords}`} before the grace period ended`,
  };
}

/** SIGTERM's receipt from the app's own log lines (the image writes them). */
function loggedSigterm(pod: PodOutcome): CheckObservation["sigterm"] {
  const receipts = sigtermReceipts(pod);
  const got = receipts.filter((r) => r.at !== undefined);
  return {
    received: got.length === receipts.length ? "yes" : got.length === 0 ? "no" : "partly",
    inferred: false,
    evidence: `app log lines: ${receipts
      .map(
        (r) =>
          `${r.role} ${r.at === undefined ? "never logged SIGTERM" : `logged SIGTERM +${seconds(r.at - pod.deleteAt)}`}`,
      )
      .join(", ")}`,
  };
}

/** SIGTERM's receipt inferred from the exit's timing and code (the image logs no signal lines). */
function inferredSigterm(pod: PodOutcome, times: TerminationTimes): CheckObservation["sigterm"] {
  const { sigterm, sigkillAt, exitAt } = times;
  const unknownCode = exitCodeUnknown(pod);
  const afterWords = afterSigtermWords({
    exitAfterSigtermMs: exitAt !== undefined && sigterm !== undefined ? exitAt - sigterm.at : undefined,
    terminationMs: terminationMs(pod),
    sigtermInferred: sigterm?.inferred,
  });
  // Nothing seen: no exit, and SIGTERM's time only from the scenario (its preStop sleep, the delete).
  const fromScenarioOnly = sigterm === undefined || sigterm.by === "prestop-sleep" || sigterm.by === "delete";
  if (fromScenarioOnly && exitAt === undefined) {
    return {
      received: "unknown",
      inferred: true,
      evidence: "neither SIGTERM nor the container's exit was observed (the run did not get that far)",
    };
  }
  if (pod.sigkilled) {
    const running =
      sigkillAt !== undefined && sigterm !== undefined
        ? `still running ${seconds(sigkillAt - sigterm.at)} after SIGTERM${inferredMark(sigterm.inferred)}`
        : "still running when the grace period ended (when SIGTERM was sent is not known)";
    return {
      received: "no",
      inferred: true,
      evidence: `inferred: ${running}, SIGKILLed at the end of the grace period (exit ${pod.exitCode ?? 137}): not handled`,
    };
  }
  if (unknownCode) {
    return {
      received: "unknown",
      inferred: true,
      evidence: `the image logs no signal lines and the exit code is unknown (${unknownCode}); it ${afterWords}`,
    };
  }
  const code = pod.exitCode;
  const why =
    code === 143
      ? " (143 = 128 + 15: terminated by SIGTERM's default action, or re-raised)"
      : code === 0
        ? ""
        : " (a code other than 0/143: its shutdown failed)";
  return {
    received: "yes",
    inferred: true,
    evidence: `inferred: exited ${code ?? "with an unknown code"} ${afterWords}${why}`,
  };
}

/** SIGTERM's receipt: from the app's own log lines when it writes them, else inferred from the exit. */
function sigtermObservation(pod: PodOutcome | undefined, times: TerminationTimes): CheckObservation["sigterm"] {
  if (!pod)
    return { received: "unknown", inferred: true, evidence: "SIGTERM was never sent (the run did not get that far)" };
  return pod.processes.length > 0 ? loggedSigterm(pod) : inferredSigterm(pod, times);
}

/** The load's figures the observation carries. */
function loadFigures(
  load: LoadResult | undefined,
): Pick<CheckObservation, "sent" | "failed" | "failedByKind" | "failureSummary"> {
  const failedByKind: Partial<Record<FailureKind, number>> = {};
  for (const k of FAILURE_KINDS) if ((load?.failedByKind[k] ?? 0) > 0) failedByKind[k] = load?.failedByKind[k];
  return {
    sent: load?.sent ?? 0,
    failed: load?.failed ?? 0,
    failedByKind,
    failureSummary: load ? failureSummary(load) : "no load result",
  };
}

export function observe(input: ObserveInput): CheckObservation {
  const { pod, load } = input;
  const times = terminationTimes(input);
  const { sigterm, endpointAt, exitAt } = times;
  const unknownCode = pod ? exitCodeUnknown(pod) : undefined;
  return {
    pod: pod?.pod,
    pid1Cmdline: pod?.pid1Cmdline,
    ...observedOutcome(pod),
    sigterm: sigtermObservation(pod, times),
    exitCode: pod?.exitCode,
    ...(unknownCode ? { exitCodeUnknown: unknownCode } : {}),
    sigkilled: pod?.sigkilled ?? false,
    terminationMs: pod ? terminationMs(pod) : undefined,
    timingWords: timingWords(pod, sigterm, exitAt),
    sigtermAfterMs: pod && sigterm !== undefined ? sigterm.at - pod.deleteAt : undefined,
    ...(sigterm ? { sigtermFrom: `${sigterm.inferred ? "inferred: " : ""}${sigterm.from}` } : {}),
    ...(sigterm?.inferred ? { sigtermInferred: true } : {}),
    exitAfterSigtermMs: exitAt !== undefined && sigterm !== undefined ? exitAt - sigterm.at : undefined,
    endpointRemovedAfterMs: pod && endpointAt !== undefined ? endpointAt - pod.deleteAt : undefined,
    ...loadFigures(load),
    failureTiming: failureTiming(load, times),
    ...(pod?.failureCauses ? { failureCauses: pod.failureCauses } : {}),
  };
}

/** The failure windows a container is blamed for, appended to the diagnosis with their fixes to measure. */
function withContainerCauses(text: { problem: string; fix?: string }, obs: CheckObservation): void {
  const blamed = (obs.failureCauses ?? []).filter((w) => w.container !== undefined).map(failureWindowWords);
  if (blamed.length === 0) return;
  text.problem += ` Which container: ${blamed.map((b) => b.says).join("; ")}.`;
  const fixes = [...new Set(blamed.map((b) => b.fix).filter((f): f is string => f !== undefined))];
  text.fix = [text.fix, ...fixes].filter((f) => f !== undefined).join(" ");
}

export interface DiagnosisContext {
  graceSeconds: number;
  preStopSeconds: number;
  /** The local backend's endpoint propagation delay (a parameter there). */
  propagationMs?: number;
  /** The signal the runtime sent (the image's STOPSIGNAL, SIGTERM when it sets none); default SIGTERM. */
  stopSignal?: string;
}

export interface Diagnosis {
  /** undefined: nothing was predicted (the tree could not be read) or nothing was observed. */
  held?: boolean;
  heldWords: string;
  matchedBranch?: Branch;
  /** What went wrong (or "nothing"), in plain words. */
  problem: string;
  /** What to change; absent when nothing needs fixing. */
  fix?: string;
  /** Requests were dropped. */
  dropped: boolean;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function killedDiagnosis(
  pred: Prediction,
  obs: CheckObservation,
  ctx: DiagnosisContext,
): { problem: string; fix: string } {
  const lost =
    obs.failureTiming.atSigkill > 0
      ? `; ${plural(obs.failureTiming.atSigkill, "request")} in flight then ${obs.failureTiming.atSigkill === 1 ? "was" : "were"} lost`
      : "";
  const tail = `It kept serving until SIGKILL at the end of the grace period (${ctx.graceSeconds} s)${lost}.`;
  const entry = causeEntry(pred.cause);
  if (entry && pred.cause !== "server-fast-stop") {
    const words = causeWords(pred, stopSignalOf(ctx), { pid1: obs.pid1Cmdline });
    return { problem: `${entry.says(words)}. ${tail}`, fix: entry.fix(words) };
  }
  return {
    problem:
      `${stopSignalOf(ctx)} reached the app (${obs.sigterm.evidence}), but it did not exit within the grace period ` +
      `(${ctx.graceSeconds} s): its drain takes longer (open keep-alive connections, long requests). ${tail}`,
    fix:
      "bound the drain below the grace period (close idle keep-alive connections, a drain timeout), " +
      "or raise terminationGracePeriodSeconds.",
  };
}

function abruptDiagnosis(
  pred: Prediction,
  obs: CheckObservation,
  ctx: DiagnosisContext,
): { problem: string; fix: string } {
  const pid1 = pred.pid1?.command ?? obs.pid1Cmdline ?? "PID 1";
  const lost = obs.failed > 0 ? ` ${plural(obs.failed, "request")} failed (${obs.failureSummary}).` : "";
  const after = `${afterSigtermWords(obs)} (${exitCodeWords(obs.exitCode, obs.exitCodeUnknown)})`;
  const entry = causeEntry(pred.cause);
  const words = causeWords(pred, stopSignalOf(ctx), { pid1: obs.pid1Cmdline });
  if (entry && pred.branches.some((b) => b.outcome === "abrupt")) {
    return { problem: `${entry.says(words)}. It exited ${after}.${lost}`, fix: entry.fix(words) };
  }
  if (pred.apps.some((a) => a.pid === 1)) {
    // The app is PID 1: it cannot have been left running by PID 1's exit (the tree printed says so).
    return {
      problem: `your app, ${words.apps}, is PID 1 and exited ${after}; ${obs.outcomeWords.replace(/^abrupt: [^,]*, and /, "")}: the kernel killed those processes when PID 1 exited.${lost}`,
      fix: "make PID 1 wait for its child processes to exit after SIGTERM before it exits itself.",
    };
  }
  return {
    problem: `PID 1 (${pid1}) exited ${after} while your app, ${words.apps}, was still running: the kernel killed it without a drain.${lost}`,
    fix: "make PID 1 wait for the app to exit after SIGTERM (or make the app PID 1).",
  };
}

/** A server stopped with its fast shutdown, as the catalogue tells it (whatever else was observed). */
function fastStopCause(pred: Prediction | undefined, ctx: DiagnosisContext): { says: string; fix: string } | undefined {
  const entry = pred?.cause === "server-fast-stop" ? causeEntry(pred.cause) : undefined;
  if (!pred || !entry) return undefined;
  const words = causeWords(pred, stopSignalOf(ctx));
  return { says: entry.says(words), fix: entry.fix(words) };
}

/** The signal the runtime sent to stop the container. */
function stopSignalOf(ctx: DiagnosisContext): string {
  return ctx.stopSignal ?? "SIGTERM";
}

function gracefulDiagnosis(obs: CheckObservation, ctx: DiagnosisContext): { problem: string; fix?: string } {
  const exit =
    obs.terminationMs === undefined
      ? `exited ${obs.exitCode ?? "with an unknown code"} at a time not observed`
      : `exited ${obs.exitCode ?? "with an unknown code"} ${seconds(obs.terminationMs)} after the delete`;
  if (obs.failed === 0) {
    return { problem: `nothing: SIGTERM reached the app, it drained and ${exit}; no request failed.` };
  }
  const t = obs.failureTiming;
  const parts: string[] = [];
  let fix: string | undefined;
  if (t.whileEndpointListed > 0) {
    parts.push(
      `${plural(t.whileEndpointListed, "request")} failed between SIGTERM and the endpoint leaving the Service ` +
        `(${((obs.endpointRemovedAfterMs ?? 0) / 1000).toFixed(2)} s after the delete${
          ctx.propagationMs !== undefined ? `, the propagation delay set for this run` : ""
        }): the app stopped accepting connections while new ones were still routed to it` +
        (ctx.preStopSeconds > 0 ? ` (the preStop sleep of ${ctx.preStopSeconds} s was not long enough)` : ""),
    );
    fix =
      "keep accepting connections until the endpoint is gone: a preStop sleep longer than your cluster's " +
      "endpoint propagation (a few seconds), or keep the listener open for a while after SIGTERM.";
  }
  if (t.duringDrain + t.atExit > 0) {
    parts.push(
      `${plural(t.duringDrain + t.atExit, "request")} failed while the app drained: it closed connections with requests in flight`,
    );
    fix ??=
      "close keep-alive connections only once idle, answer requests in flight with Connection: close, and exit when they are done.";
  }
  if (t.beforeSigterm > 0) {
    parts.push(`${plural(t.beforeSigterm, "request")} failed before SIGTERM (not caused by the termination)`);
  }
  return { problem: `SIGTERM reached the app and it ${exit}, but ${parts.join("; ")}.`, fix };
}

export function diagnose(pred: Prediction | undefined, obs: CheckObservation, ctx: DiagnosisContext): Diagnosis {
  const dropped = obs.failed > 0;
  let held: boolean | undefined;
  let matched: Branch | undefined;
  let heldWords: string;
  if (!pred || pred.cause === "nothing-read") {
    heldWords = "no prediction (the process tree could not be read)";
  } else if (obs.compatible.length === 0) {
    held = false;
    heldWords = `did not hold: predicted ${branchWords(pred.branches)}, observed ${obs.outcomeWords}`;
  } else {
    matched = pred.branches.find((b) => obs.compatible.includes(b.outcome));
    held = matched !== undefined;
    heldWords = held
      ? `held: ${matched?.outcome}${matched?.condition ? ` — the branch ${matched.condition}` : ""}`
      : `did not hold: predicted ${branchWords(pred.branches)}, observed ${obs.outcomeWords}`;
  }

  let text: { problem: string; fix?: string };
  const fast = fastStopCause(pred, ctx);
  const p = pred ?? {
    cause: "nothing-read" as const,
    branches: [],
    summary: "",
    processLines: [],
    steps: [],
    apps: [],
    appsFrom: "-",
  };
  if (
    obs.exitCodeUnknown !== undefined &&
    !obs.sigkilled &&
    !(obs.compatible.length === 1 && obs.compatible[0] === "abrupt")
  ) {
    // Never diagnosed from a code the report itself flags as made up.
    text = {
      problem:
        `how the container ended cannot be told: ${obs.exitCodeUnknown}. It exited ${afterSigtermWords(obs)}` +
        (obs.compatible.length > 0 ? `, consistent with ${obs.compatible.join(" or ")}.` : ".") +
        " The runtime's own record (kind: containerd's task events) or an exit line from PID 1 would tell." +
        (fast && dropped ? ` The process tree names a cause that drops requests: ${fast.says}.` : ""),
      ...(fast && dropped ? { fix: fast.fix } : {}),
    };
  } else if (obs.compatible.includes("killed")) text = killedDiagnosis(p, obs, ctx);
  else if (obs.compatible.length === 1 && obs.compatible[0] === "abrupt") text = abruptDiagnosis(p, obs, ctx);
  else if (obs.compatible.includes("graceful")) {
    // Without app log lines, a prediction of "abrupt" is the better reading of a fast 143.
    text =
      obs.compatible.includes("abrupt") && p.branches.every((b) => b.outcome === "abrupt")
        ? abruptDiagnosis(p, obs, ctx)
        : gracefulDiagnosis(obs, ctx);
  } else if (obs.pod === undefined) {
    text = { problem: "the run ended before a pod was deleted: see the error" };
  } else {
    text =
      obs.exitCode === undefined
        ? { problem: `the container's exit code was not observed (it exited ${afterSigtermWords(obs)}).` }
        : {
            problem: `the container exited ${obs.exitCode} ${afterSigtermWords(obs)}: its shutdown path fails.`,
            fix: "make the SIGTERM handler exit 0 once the drain is done; look at the container's last log lines.",
          };
  }
  if (dropped && !/\brequests? (failed|in flight)/.test(text.problem)) {
    text.problem += ` ${plural(obs.failed, "request")} failed (${obs.failureSummary}).`;
  }
  withContainerCauses(text, obs);
  return { held, heldWords, matchedBranch: matched, problem: text.problem, fix: text.fix, dropped };
}
