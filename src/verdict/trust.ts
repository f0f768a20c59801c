// Whether the run's clock can be trusted: the rule that turns a saturated harness into an
// INCONCLUSIVE run instead of a FAIL blamed on the app. Pure.
//
// Two kinds of evidence, both measured during the load window:
// - the cause: this process's event-loop lag and the machine's CPU (src/observe/saturation.ts);
// - the effect: the kubelet's lateness — SIGKILL (the exit of a container killed at the grace
//   deadline) after the deadline, a preStop hook started long after the delete, a preStop sleep that
//   lasted longer than its length, SIGTERM sent (or logged) long after the hook ended. On the local
//   runtime the "kubelet" is the harness itself (src/backends/local/termination.ts): the same evidence.
// The event-loop lag, the event-loop thread's own wait for a CPU and the lateness decide; the machine's
// CPU busy and pressure are reported beside them, never alone decisive: the load itself keeps a small
// machine 100 % busy (pressure 80–99 %) without making anything late.
import type { TimelineEvent } from "../model/events.js";
import type { PodOutcome } from "../model/pod-outcome.js";
import { containerEvents } from "../observe/containers.js";
import { sigkillDeadline } from "../observe/exit-evidence.js";
import type { HarnessLoad } from "../observe/saturation.js";
import { sigtermReceipt } from "../observe/sigterm.js";
import { disruptionGraceSeconds } from "../scenario/disruption-time.js";
import type { Scenario } from "../scenario/schema.js";

/**
 * The bounds (ms, or a fraction). Calibrated on the field report's kind runs (2 cores, 1.20.2; one at a
 * time vs four at once) and on local runs with and without busy loops on every core (the README's table,
 * "A harness that knows when it cannot trust its clock"): each sits above the worst value of the
 * conclusive runs and below most of the starved ones.
 */
export const TRUST_BOUNDS = {
  /** The worst event-loop lag of this process in the window (local alone: 82–165 ms; busy loops on every core: up to 472 ms). */
  eventLoopMaxMs: 250,
  /**
   * The share of the window the event-loop thread spent runnable but waiting for a CPU (local alone, on a
   * machine at load average ~10 from other work: 37–40 %; with a busy loop on each core: 61–66 %; at
   * load average ~15 from other work alone: 73–87 %, starved as much as with burners).
   */
  mainThreadWaitFraction: 0.5,
  /**
   * The share of the window in which some task on the machine waited for a CPU (/proc/pressure/cpu
   * "some", where the kernel has PSI). Measured on the 2-core CI machine with the paced load, every local
   * e2e scenario alone: 0.10–0.32 (gRPC highest); the same scenario with two busy loops per core: 0.89.
   * The event loop itself may still get its share then (it waited 33 %), so this is the figure that sees a
   * machine too busy for the termination sequence's timing to be the app's.
   */
  cpuPressureSomeFraction: 0.6,
  /** Exit of a container killed at the grace deadline, after that deadline (kind alone: ≤ 0.65 s; 4 at once: 1.5–5.1 s). */
  sigkillLateMs: 1000,
  /** Delete → the preStop hook started (kind alone: ≤ 1.04 s; 4 at once: 1.2–6.5 s). */
  preStopStartLateMs: 1500,
  /** A preStop sleep beyond its length (kind alone: ≤ 0.15 s; 4 at once: up to 1.0 s). */
  preStopSleepLateMs: 500,
  /** The hook's end (the delete without a hook) → SIGTERM sent, or logged by the app when nothing records the sending. */
  sigtermLateMs: 1000,
} as const;

export type LateStep = "sigkill" | "prestop-start" | "prestop-sleep" | "sigterm";

/** One step of the termination sequence, when it was due and when it happened. */
export interface Lateness {
  pod: string;
  step: LateStep;
  /** ms after the delete: when it was due, and when it was seen. */
  dueMs: number;
  seenMs: number;
  lateMs: number;
  boundMs: number;
  /** Where the time comes from (an event kind and source). */
  from: string;
}

/** What the harness saw of its own trustworthiness, and the decision. */
export interface TrustReport {
  harness?: HarnessLoad;
  lateness: Lateness[];
  bounds: typeof TRUST_BOUNDS;
  /** True when a bound was exceeded: the run is INCONCLUSIVE with `reason`. */
  saturated: boolean;
  reason?: string;
}

const measured = (e: TimelineEvent) => e.detail?.inferred !== true;

/** The kubelet's lateness for one disrupted pod, from what the timeline and the exit evidence say. */
export function podLateness(pod: PodOutcome, events: readonly TimelineEvent[], scenario: Scenario): Lateness[] {
  // A multi-container pod: the events of the container the load reaches (its own hook, its own signal).
  const mine =
    (pod.sidecars?.length ?? 0) > 0
      ? containerEvents(events, pod.pod, { container: pod.container, role: pod.role ?? "app" })
      : events.filter((e) => e.pod === pod.pod);
  const first = (kind: TimelineEvent["kind"], ok: (e: TimelineEvent) => boolean = () => true) =>
    mine.filter((e) => e.kind === kind && ok(e)).sort((a, b) => a.at - b.at)[0];
  const out: Lateness[] = [];
  const add = (step: LateStep, due: number, seen: number, boundMs: number, from: string) =>
    out.push({
      pod: pod.pod,
      step,
      dueMs: due - pod.deleteAt,
      seenMs: seen - pod.deleteAt,
      lateMs: seen - due,
      boundMs,
      from,
    });
  const hook = scenario.preStop;
  const start = first("prestop-start", measured);
  const end = first("prestop-end", (e) => measured(e) && e.detail?.overran !== true);
  if (hook.type !== "none" && start) {
    add("prestop-start", pod.deleteAt, start.at, TRUST_BOUNDS.preStopStartLateMs, `prestop-start (${start.source})`);
  }
  if (hook.type === "sleep" && start && end) {
    add(
      "prestop-sleep",
      start.at + hook.seconds * 1000,
      end.at,
      TRUST_BOUNDS.preStopSleepLateMs,
      `prestop-end (${end.source})`,
    );
  }
  // SIGTERM as recorded (sent, or the app's line): lateness is measured only on a record, never on an inference.
  // A multi-container pod: the receipt of the container the load reaches (observe/containers.ts).
  const sigterm = pod.sigterm ?? sigtermReceipt(mine, pod, hook);
  const hookEnd = hook.type === "none" ? pod.deleteAt : end?.at;
  // A native sidecar is signalled when its turn comes (the regular containers exited), as its send records.
  const turn = Number(first("sigterm-sent", (e) => e.detail?.turnEndedAt !== undefined)?.detail?.turnEndedAt);
  const due = hookEnd === undefined ? undefined : Math.max(hookEnd, Number.isFinite(turn) ? turn : hookEnd);
  if (sigterm && !sigterm.inferred && due !== undefined && sigterm.at >= pod.deleteAt) {
    add("sigterm", due, sigterm.at, TRUST_BOUNDS.sigtermLateMs, sigterm.from);
  }
  const killed = pod.sigkilled || pod.exitEvidence?.killedAtGraceEnd === true;
  if (killed && pod.exitedAt !== undefined) {
    const deadline = sigkillDeadline(pod.deleteAt, disruptionGraceSeconds(scenario), sigterm?.at ?? pod.deleteAt);
    add("sigkill", deadline, pod.exitedAt, TRUST_BOUNDS.sigkillLateMs, "the exit of the killed container");
  }
  return out;
}

const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const pct = (f: number) => `${Math.round(f * 100)} %`;

/** "SIGKILL at +11.2 s for an 8 s grace (bound +1.0 s)", and the like. */
export function latenessText(l: Lateness, scenario: Scenario): string {
  const bound = `bound +${sec(l.boundMs)}`;
  switch (l.step) {
    case "sigkill":
      return `SIGKILL at +${sec(l.seenMs)} for a ${disruptionGraceSeconds(scenario)} s grace, due at +${sec(l.dueMs)} (${bound})`;
    case "prestop-start":
      return `preStop started +${sec(l.seenMs)} after the delete (${bound})`;
    case "prestop-sleep": {
      const seconds = scenario.preStop.type === "sleep" ? scenario.preStop.seconds : 0;
      return `preStop sleep ${seconds} s lasted ${sec(l.seenMs - l.dueMs + seconds * 1000)} (${bound})`;
    }
    case "sigterm":
      return `SIGTERM at +${sec(l.seenMs)}, due at +${sec(l.dueMs)} (${l.from}; ${bound})`;
  }
}

/** The harness's figures in one line: "event loop lag max 12 ms, p99 4 ms; CPU 63 % busy (2 cores); CPU pressure 20 %". */
export function harnessText(h: HarnessLoad): string {
  const parts = [`event loop lag max ${Math.round(h.eventLoop.maxMs)} ms, p99 ${Math.round(h.eventLoop.p99Ms)} ms`];
  if (h.cpuBusy !== undefined) parts.push(`CPU ${pct(h.cpuBusy)} busy${h.cores ? ` (${h.cores} cores)` : ""}`);
  if (h.cpuPressure) parts.push(`CPU pressure (some) ${pct(h.cpuPressure.someFraction)} of the window`);
  if (h.mainThread) {
    parts.push(
      `event loop thread ran ${pct(h.mainThread.runFraction)}, waited for a CPU ${pct(h.mainThread.waitFraction)} of the window`,
    );
  }
  return parts.join("; ");
}

/** Every figure, within bounds or not: the harness's, then each step's lateness. */
export function trustText(t: TrustReport, scenario: Scenario): string {
  const parts: string[] = [];
  if (t.harness) parts.push(harnessText(t.harness));
  for (const l of t.lateness) parts.push(`${l.pod}: ${latenessText(l, scenario)}`);
  return parts.length > 0 ? parts.join("; ") : "nothing measured";
}

/** The report line: "harness clock: …" or "harness clock NOT TRUSTED: …", every figure in it. */
export function harnessClockLine(t: TrustReport, scenario: Scenario): string {
  return `harness clock${t.saturated ? " NOT TRUSTED" : ""}: ${trustText(t, scenario)}`;
}

/** The decision: past any bound, the run is INCONCLUSIVE, and the reason says which figures. */
export function judgeTrust(
  harness: HarnessLoad | undefined,
  pods: readonly PodOutcome[],
  events: readonly TimelineEvent[],
  scenario: Scenario,
): TrustReport {
  const lateness = pods.flatMap((p) => podLateness(p, events, scenario));
  const why: string[] = [];
  if (harness && harness.eventLoop.maxMs > TRUST_BOUNDS.eventLoopMaxMs) {
    const cpu = harness.cpuBusy !== undefined ? `, CPU ${pct(harness.cpuBusy)} busy` : "";
    why.push(
      `event loop lagged ${Math.round(harness.eventLoop.maxMs)} ms (bound ${TRUST_BOUNDS.eventLoopMaxMs} ms)${cpu}`,
    );
  }
  const wait = harness?.mainThread?.waitFraction;
  if (wait !== undefined && wait > TRUST_BOUNDS.mainThreadWaitFraction) {
    why.push(
      `the event loop waited for a CPU ${pct(wait)} of the window (bound ${pct(TRUST_BOUNDS.mainThreadWaitFraction)})`,
    );
  }
  const pressure = harness?.cpuPressure?.someFraction;
  if (pressure !== undefined && pressure > TRUST_BOUNDS.cpuPressureSomeFraction) {
    why.push(
      `tasks waited for a CPU ${pct(pressure)} of the window (CPU pressure; bound ${pct(TRUST_BOUNDS.cpuPressureSomeFraction)})`,
    );
  }
  for (const l of lateness) if (l.lateMs > l.boundMs) why.push(latenessText(l, scenario));
  const saturated = why.length > 0;
  return {
    ...(harness ? { harness } : {}),
    lateness,
    bounds: TRUST_BOUNDS,
    saturated,
    ...(saturated ? { reason: `harness saturated: ${why.join("; ")}` } : {}),
  };
}
