// PURE: which exit code and exit time to believe for one container, from every source that recorded
// it, and whether SIGKILL at the end of the grace period ended it. One module for every backend
// (design.md, "Evidence for an exit"). Sources, most trusted first:
//   runtime  the container runtime's own record: Docker's wait()/inspect (local), the node's containerd
//            /tasks/exit event (kind): the exact code, the time to the nanosecond.
//   app      PID 1's own exit line (the sample app logs its exit code just before it exits). Only PID 1's
//            code is the container's: a child's exit line says nothing about how PID 1 ended.
//   api      containerStatuses[].state.terminated: exitCode, reason, finishedAt with 1 s resolution.
//            reason ContainerStatusUnknown means the kubelet lost track of the container (the pod object
//            went away soon after the exit, measured on 1.20): its 137 is made up. It is never chosen
//            while another source exists; alone, it leaves the exit code unknown.
// When sources disagree the most trusted one is used and `disagreement` says so in words.
//
// The API's finishedAt only says which second the exit fell in. Within it, the exit is placed at the
// earliest time every known lower bound allows: the delete call, the end of the preStop hook (the kubelet
// sends SIGTERM only after it), SIGTERM itself, the app's last log line. A bound beyond the second is a
// bound that did not hold (e.g. the container died during the hook) and is reported, not applied.

import type {
  ApiExit,
  AppExit,
  ExitContext,
  ExitEvidence,
  ExitSource,
  RuntimeExit,
  TimeBound,
} from "../model/exit-evidence.js";

export const CONTAINER_STATUS_UNKNOWN = "ContainerStatusUnknown";
/** The kubelet's minimum grace after a preStop hook that used up the grace period (kuberuntime). */
export const MINIMUM_GRACE_AFTER_PRESTOP_MS = 2000;
/**
 * How far before the computed grace deadline an exactly timed exit may fall and still be the kubelet's
 * SIGKILL (the deadline is computed from the harness's delete call; the kubelet starts counting later).
 */
export const KILL_SLACK_MS = 500;

/**
 * When the kubelet sends SIGKILL: at the end of the grace period (`graceEnd`, epoch ms), but never
 * sooner than 2 s after SIGTERM (the end of a preStop hook that used up the grace). The one rule for
 * every backend: the local harness follows it, the evidence judges by it.
 */
export function sigkillAt(graceEnd: number, sigtermAt?: number): number {
  return sigtermAt === undefined ? graceEnd : Math.max(graceEnd, sigtermAt + MINIMUM_GRACE_AFTER_PRESTOP_MS);
}

/** sigkillAt() with the grace period counted from the delete. */
export function sigkillDeadline(deleteAt: number, graceSeconds: number, sigtermAt?: number): number {
  return sigkillAt(deleteAt + graceSeconds * 1000, sigtermAt);
}

const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
function offset(at: number, origin: number | undefined): string {
  if (origin === undefined) return new Date(at).toISOString();
  const d = at - origin;
  return `${d < 0 ? "-" : "+"}${(Math.abs(d) / 1000).toFixed(2)} s`;
}

/**
 * Places an API exit within finishedAt's second (or, without finishedAt, before observedAt) at the
 * earliest time every lower bound allows. Bounds beyond the window did not hold and are reported.
 */
export function placeApiExit(
  api: ApiExit,
  bounds: readonly TimeBound[] = [],
  origin?: number,
): { at: number; earliest?: number; latest: number; notes: string[] } {
  const notes: string[] = [];
  const latest =
    api.finishedAt === undefined
      ? api.observedAt
      : api.observedAt >= api.finishedAt
        ? Math.min(api.finishedAt + 999, api.observedAt)
        : api.finishedAt + 999;
  let earliest = api.finishedAt;
  let by: TimeBound | undefined;
  for (const b of bounds) {
    if (b.at > latest) {
      notes.push(
        `the API has the exit by ${offset(latest, origin)}, before ${b.what} (${offset(b.at, origin)}): that bound did not hold`,
      );
      continue;
    }
    if (earliest === undefined || b.at > earliest) {
      earliest = b.at;
      by = b;
    }
  }
  if (earliest === undefined) return { at: latest, latest, notes };
  if (by) notes.push(`placed at ${by.what} (${offset(earliest, origin)}), the earliest it can have been`);
  return { at: earliest, earliest, latest, notes };
}

function sourceWords(s: ExitSource, runtime?: RuntimeExit, app?: AppExit): string {
  switch (s.source) {
    case "runtime":
      return `${runtime?.runtime ?? "the runtime"}'s record`;
    case "app":
      return `the app's own exit line (pid ${app?.pid ?? 1}, ${app?.role ?? "app"})`;
    case "api":
      return `the API${s.reason ? ` (reason ${s.reason})` : ""}`;
  }
}

/** Each source's word on the exit, most trusted first; the API's placed within finishedAt's second. */
function exitSources(
  input: { runtime?: RuntimeExit; app?: AppExit; api?: ApiExit },
  ctx: ExitContext,
): { sources: ExitSource[]; placed?: ReturnType<typeof placeApiExit> } {
  const { runtime, app, api } = input;
  const sources: ExitSource[] = [];
  if (runtime) {
    sources.push({
      source: "runtime",
      code: runtime.code,
      at: runtime.at,
      reliable: true,
      note: runtime.note ?? `${runtime.runtime}: exit code and exact time`,
    });
  }
  if (app) {
    sources.push({
      source: "app",
      code: app.code,
      at: app.at,
      reliable: true,
      note: `pid 1 (${app.role}) logged its exit code just before exiting`,
    });
  }
  if (!api) return { sources };
  const placed = placeApiExit(api, ctx.lowerBounds, ctx.deleteAt);
  const unknown = api.reason === CONTAINER_STATUS_UNKNOWN;
  sources.push({
    source: "api",
    ...(api.code !== undefined ? { code: api.code } : {}),
    at: placed.at,
    ...(placed.earliest !== undefined ? { earliest: placed.earliest } : {}),
    latest: placed.latest,
    ...(api.reason !== undefined ? { reason: api.reason } : {}),
    reliable: !unknown && api.code !== undefined,
    note: [
      unknown
        ? "ContainerStatusUnknown: the kubelet lost track of the container (pod deleted soon after the exit) and reports 137 whatever the real code was"
        : api.finishedAt === undefined
          ? "no finishedAt: the time is known only as before the status was read"
          : "finishedAt has 1 s resolution",
      ...placed.notes,
    ].join("; "),
  });
  return { sources, placed };
}

/** The code: the most trusted reliable source's; when others say otherwise, that in words; when none, why. */
function chooseCode(
  sources: readonly ExitSource[],
  input: { runtime?: RuntimeExit; app?: AppExit; api?: ApiExit },
): { chosen: ExitSource; code?: number; disagreement?: string; unknown?: string } {
  const { runtime, app, api } = input;
  const trusted = sources.find((s) => s.reliable && s.code !== undefined);
  const chosen = trusted ?? (sources.find((s) => s.source === "api") as ExitSource);
  const withCodes = sources.filter((s) => s.code !== undefined);
  if (trusted) {
    if (!withCodes.some((s) => s.code !== trusted.code)) return { chosen, code: trusted.code };
    const disagreement =
      withCodes.map((s) => `${sourceWords(s, runtime, app)} says ${s.code}`).join(", ") +
      `: using ${sourceWords(trusted, runtime, app)}, the most trusted` +
      (withCodes.some((s) => !s.reliable) ? " (ContainerStatusUnknown's 137 is not the real code)" : "");
    return { chosen, code: trusted.code, disagreement };
  }
  const unknown =
    api?.reason === CONTAINER_STATUS_UNKNOWN
      ? `the only record of the exit code is the API's ${api.code ?? "?"} with reason ContainerStatusUnknown, ` +
        "which the kubelet reports when it lost track of the container (pod deleted soon after the exit): " +
        "the real exit code is unknown"
      : "no source recorded the exit code";
  return { chosen, unknown };
}

/** The time: the most precise source's (runtime, else PID 1's line, else the API's window). */
function chooseTime(
  input: { runtime?: RuntimeExit; app?: AppExit },
  placed: ReturnType<typeof placeApiExit> | undefined,
): { at?: number; earliest?: number; latest?: number } {
  if (input.runtime) return { at: input.runtime.at };
  if (input.app) return { at: input.app.at };
  if (placed) return { at: placed.at, earliest: placed.earliest, latest: placed.latest };
  return {};
}

/**
 * Whether SIGKILL at the end of the grace period ended the container, and why. `time.at` moves to the
 * deadline (within the API's window) when it did.
 */
function judgeKill(
  code: number | undefined,
  chosen: ExitSource,
  api: ApiExit | undefined,
  time: { at?: number; earliest?: number; latest?: number },
  ctx: ExitContext,
): { killed?: boolean; killedWhy: string; at?: number } {
  const origin = ctx.deleteAt;
  const deadline = ctx.graceDeadline;
  const { at, earliest, latest } = time;
  const lastPossible = latest ?? at;
  if (ctx.sigkillSentAt !== undefined && (at === undefined || at >= ctx.sigkillSentAt - 50)) {
    return {
      killed: true,
      killedWhy: `SIGKILL was sent at ${offset(ctx.sigkillSentAt, origin)} and the container exited after it`,
      at,
    };
  }
  if (code === undefined) {
    if (deadline !== undefined && lastPossible !== undefined && lastPossible < deadline - KILL_SLACK_MS) {
      return {
        killed: false,
        killedWhy:
          `the container had exited by ${offset(lastPossible, origin)}, ${secs(deadline - lastPossible)} before ` +
          `the grace period ended (${offset(deadline, origin)}): not SIGKILLed at its end`,
        at,
      };
    }
    return {
      killedWhy: "cannot tell: the exit code is unknown and the exit may have come at the end of the grace period",
      at,
    };
  }
  if (code !== 137) return { killed: false, killedWhy: `exit code ${code} is not SIGKILL's 137`, at };
  if (chosen.reason === "OOMKilled" || (chosen.source !== "api" && api?.reason === "OOMKilled")) {
    return {
      killed: false,
      killedWhy: "exit 137 from the OOM killer, not from the kubelet at the end of the grace period",
      at,
    };
  }
  if (deadline === undefined || lastPossible === undefined) {
    return { killedWhy: "exit 137 (SIGKILL), but when the grace period ended is not known", at };
  }
  if (lastPossible >= deadline - KILL_SLACK_MS) {
    const placed = earliest !== undefined && latest !== undefined ? Math.min(Math.max(deadline, earliest), latest) : at;
    return {
      killed: true,
      killedWhy:
        `exit 137 at ${offset(placed ?? lastPossible, origin)}, at the end of the grace period (${offset(deadline, origin)}): ` +
        "SIGKILL from the kubelet",
      at: placed,
    };
  }
  return {
    killed: false,
    killedWhy:
      `exit 137 at ${offset(at ?? lastPossible, origin)}, ${secs(deadline - lastPossible)} before the grace period ` +
      `ended (${offset(deadline, origin)}): killed by something else, not by the kubelet at the end of the grace period`,
    at,
  };
}

/** The exit from every source that recorded it; undefined when none did. */
export function decideExit(
  input: { runtime?: RuntimeExit; app?: AppExit; api?: ApiExit },
  ctx: ExitContext = {},
): ExitEvidence | undefined {
  const { sources, placed } = exitSources(input, ctx);
  if (sources.length === 0) return undefined;
  const { chosen, code, disagreement, unknown } = chooseCode(sources, input);
  const time = chooseTime(input, placed);
  const { killed, killedWhy, at } = judgeKill(code, chosen, input.api, time, ctx);
  const { earliest, latest } = time;
  return {
    chosen: chosen.source,
    ...(code !== undefined ? { code } : {}),
    ...(at !== undefined ? { at } : {}),
    ...(earliest !== undefined && latest !== undefined && earliest !== latest ? { earliest, latest } : {}),
    sources,
    ...(disagreement ? { disagreement } : {}),
    ...(unknown ? { unknown } : {}),
    ...(killed !== undefined ? { killedAtGraceEnd: killed } : {}),
    killedWhy,
  };
}

/**
 * What an exit's evidence adds to the pod's notes, on every backend: a code no source knows, sources
 * that disagree, an OOM kill (`oomKilled`: the runtime or the API says so), a 137 not from the grace end.
 */
export function exitNotes(ev: ExitEvidence | undefined, oomKilled: boolean): string[] {
  const notes: string[] = [];
  if (ev?.unknown) notes.push(ev.unknown);
  if (ev?.disagreement) notes.push(`exit code: ${ev.disagreement}`);
  if (oomKilled) notes.push("the container was OOM-killed (exit 137), not killed at the grace deadline");
  else if (ev?.code === 137 && ev.killedAtGraceEnd !== true) notes.push(ev.killedWhy);
  return notes;
}
