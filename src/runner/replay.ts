// Replays a recorded run (recording.ts) offline: the evidence, the timeline, the verdicts, the trust
// judgement and the status, rebuilt from the observations alone by the same collect and judge functions
// a live run uses. On kind/existing the disrupted pods' outcomes are rebuilt too, from the driver's raw
// observations through a fresh TimelineBuilder (k8s/observations.ts): a fix in the evidence code changes
// the replayed outcome. The local backend's outcomes are rebuilt alike from its own raw observations
// (backends/local/observations.ts) through the builder every backend shares (observe/pod-evidence.ts);
// a local recording made before them (only the collected outcomes) is replayed as recorded.

import { isDeepStrictEqual } from "node:util";
import { isLocalObservation, LOCAL_OBSERVATION_SOURCE, localPodOutcome } from "../backends/local/observations.js";
import {
  type DriverObservation,
  isDriverObservation,
  K8S_OBSERVATION_SOURCE,
  replayObservations,
} from "../k8s/observations.js";
import type { TimelineEvent } from "../model/events.js";
import type { ObservedPodOutcome } from "../model/pod-outcome.js";
import { buildTimeline } from "../observe/timeline.js";
import { collectEvidence } from "./collect.js";
import { judgeRun } from "./judge.js";
import type { Observation, RecordingHeader } from "./recording.js";
import { RESULT_SCHEMA_VERSION, type ScenarioResult } from "./run.js";
import { asDeployed } from "./source.js";

/** A recording as read (read-recording.ts): its header and its observations in order. */
export interface Recording {
  /** Where it was read from, for the report. */
  from: string;
  header: RecordingHeader;
  observations: Observation[];
}

type Collect = Extract<Observation, { kind: "collect" }>;

/** Rebuilds one run's result from its recording alone. Pure. */
export function replayRun(rec: Recording): ScenarioResult {
  const result = baseResult(rec);
  const obs = rec.observations;
  const collectAt = obs.findIndex((o) => o.kind === "collect");
  // The evidence of a run is what it had observed when it collected (later observations are its teardown).
  const before = collectAt >= 0 ? obs.slice(0, collectAt) : obs;
  const { events, outcomes } = replayEvents(before);
  const collect = collectAt >= 0 ? (obs[collectAt] as Collect) : undefined;
  if (!collect) {
    if (events.length > 0) result.timeline = buildTimeline(events);
  } else {
    const pods = outcomes ?? replayLocal(before, collect.pods) ?? collect.pods;
    if (pods !== collect.pods && collect.pods.length > 0 && !isDeepStrictEqual(pods, collect.pods)) {
      result.warnings.push(
        "the disrupted pods' evidence rebuilt from the observations differs from what the run decided " +
          "(the evidence code changed since, or the recording was truncated)",
      );
    }
    const collected = collectEvidence({
      scenario: result.scenario,
      events,
      pods,
      load: collect.load,
      records: collect.records,
      attribution: collect.attribution,
      ...(collect.voluntary ? { voluntary: collect.voluntary } : {}),
    });
    result.load = collect.load;
    if (collect.voluntary) result.voluntary = collect.voluntary;
    if (collect.readyEndpoints) result.readyEndpoints = collect.readyEndpoints;
    result.pods = collected.pods;
    result.timeline = collected.timeline;
    Object.assign(
      result,
      judgeRun({
        scenario: result.scenario,
        backend: result.backend as RecordingHeader["backend"],
        load: collect.load,
        pods: collected.pods,
        events,
        harnessLoad: collect.harnessLoad,
        ...(collect.voluntary ? { voluntary: collect.voluntary } : {}),
        ...(collect.readyEndpoints ? { readyEndpoints: collect.readyEndpoints } : {}),
      }),
    );
    if (collect.recordsTotal > collect.records.length) {
      result.warnings.push(
        `the recording kept ${collect.records.length} of ${collect.recordsTotal} request records: ` +
          "the exercise evidence is rebuilt from those",
      );
    }
  }
  applyEnd(result, obs, collect !== undefined);
  return result;
}

function baseResult(rec: Recording): ScenarioResult {
  const h = rec.header;
  const r: ScenarioResult = {
    schemaVersion: RESULT_SCHEMA_VERSION,
    scenario: h.scenario,
    file: h.file,
    backend: h.backend,
    runId: h.runId,
    ...(h.attempt !== undefined ? { attempt: h.attempt } : {}),
    startedAt: h.startedAt,
    durationMs: 0,
    platform: {},
    warnings: [...h.warnings, `replayed offline from ${rec.from}`],
    pods: [],
    verdicts: [],
    status: "error",
    pass: false,
  };
  for (const o of rec.observations) {
    if (o.kind === "deployed") {
      if (o.image) r.image = o.image;
      // Judged again against the pod as it was deployed, as the run was (source.ts asDeployed).
      if (o.pod) r.scenario = asDeployed(r.scenario, o.pod);
      r.platform = o.platform;
      r.trafficPath = o.trafficPath;
    } else if (o.kind === "warm-up") {
      r.warmUp = o.report;
    }
  }
  return r;
}

/**
 * The run's events in the order it recorded them. With the Kubernetes driver's raw observations, its
 * events are rebuilt from them (each at the place of the observation that emitted it) instead of taken
 * as recorded; the runner's own events (warm-up) are taken as recorded.
 */
function replayEvents(observations: readonly Observation[]): {
  events: TimelineEvent[];
  outcomes?: ObservedPodOutcome[];
} {
  const driver: Array<{ index: number; data: DriverObservation }> = [];
  observations.forEach((o, index) => {
    if (o.kind === "raw" && o.source === K8S_OBSERVATION_SOURCE && isDriverObservation(o.data)) {
      driver.push({ index, data: o.data });
    }
  });
  const rebuilt = driver.length > 0;
  const replayed = replayObservations(driver.map((d) => d.data));
  const emittedAt = new Map(replayed.steps.map((s) => [driver[s.index]?.index ?? -1, s.events]));
  const events: TimelineEvent[] = [];
  observations.forEach((o, index) => {
    if (o.kind === "event" && (o.from === "harness" || !rebuilt)) events.push(o.event);
    events.push(...(emittedAt.get(index) ?? []));
  });
  return { events, ...(replayed.outcomes ? { outcomes: replayed.outcomes } : {}) };
}

/**
 * The local backend's outcomes rebuilt from its raw observations (backends/local/observations.ts), for
 * each pod the run collected; a pod they cannot rebuild (none recorded: a recording made before them) is
 * taken as recorded. Undefined when the recording holds no local observation.
 */
function replayLocal(
  observations: readonly Observation[],
  recorded: readonly ObservedPodOutcome[],
): ObservedPodOutcome[] | undefined {
  const local = observations.flatMap((o) =>
    o.kind === "raw" && o.source === LOCAL_OBSERVATION_SOURCE && isLocalObservation(o.data) ? [o.data] : [],
  );
  if (local.length === 0) return undefined;
  return recorded.map((p) => localPodOutcome(local, p.pod) ?? p);
}

/** The run's end as recorded: its duration and phases, and its error (which makes the status "error"). */
function applyEnd(result: ScenarioResult, observations: readonly Observation[], collected: boolean): void {
  const end = observations.find((o): o is Extract<Observation, { kind: "end" }> => o.kind === "end");
  const truncated = observations.find((o) => o.kind === "truncated");
  if (truncated?.kind === "truncated") {
    result.warnings.push(
      `the recording was truncated at its ${truncated.limit} bound (${truncated.value})` +
        `${end ? `: ${end.dropped} observation(s) dropped` : ""}; the evidence rebuilt lacks them`,
    );
  }
  if (!end) {
    result.warnings.push("the recording has no end record (the run was cut off while recording)");
    if (!collected) result.error = "the recording ends before the run collected its evidence";
  } else {
    result.durationMs = end.durationMs;
    if (end.phases) result.phases = end.phases;
    if (end.error !== undefined) result.error = end.error;
    else if (!collected) result.error = "the run never collected its evidence";
  }
  if (result.error !== undefined) {
    result.status = "error";
    result.pass = false;
  }
}
