// A run's recording: its raw observations, written next to its result file as
// <scenario>.<backend>[.<attempt>].observations.jsonl.gz, so that `graceful-e2e replay` can rebuild the
// evidence, verdicts and reports offline (replay.ts) — with today's evidence code. The format is
// described in docs/recording.md: a header line, then one observation per line in the order they
// happened. Bounded: the streamed observations (the backend's raw observations and the timeline events)
// stop at RECORDING_LIMITS, with a truncation marker where they stopped; the run-level records (deployed,
// plan, warm-up, collect, end: one each) are always written.

import { mkdir, writeFile } from "node:fs/promises";
import { arch, platform } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import type { DeployedPod } from "../backends/backend.js";
import type { LoadResult } from "../load/types.js";
import type { BackendName, ResolvedImage } from "../model/backend.js";
import type { ReadyEndpointsSample, VoluntaryDisruptionRecord } from "../model/disruption.js";
import type { EventSink, RawObservation, TimelineEvent } from "../model/events.js";
import type { RequestRecord, TrafficAttribution } from "../model/exercise.js";
import type { ObservedPodOutcome } from "../model/pod-outcome.js";
import type { HarnessLoad } from "../observe/saturation.js";
import type { Scenario } from "../scenario/schema.js";
import type { RunPhases, WarmUpReport } from "./run.js";

export const RECORDING_FORMAT = "graceful-e2e/observations";
/** Raised when a change means an older graceful-e2e would misread a recording; replay refuses newer ones. */
export const RECORDING_VERSION = 1;

/**
 * The bounds of one recording. The field recording of one sample-app deletion on kind 1.20 (2 pods, 12 s
 * of load) in this format: 350 observations, 337 kB of JSON, 27 kB gzipped (322 of them Events). The
 * bounds leave room for long runs and chatty apps (~100× that) while keeping a file one can attach to a
 * bug report.
 */
export const RECORDING_LIMITS = {
  /** Streamed observations (raw backend observations + timeline events) before the truncation marker. */
  maxObservations: 50_000,
  /** Bytes of streamed observation lines (JSON, before gzip) before the truncation marker. */
  maxBytes: 32 * 1024 * 1024,
  /** The load's request records kept for the exercise (the first ones; the count of all is kept). */
  maxRequestRecords: 50_000,
} as const;

export type RecordingLimits = { [K in keyof typeof RECORDING_LIMITS]: number };

export interface RecordingHeader {
  format: typeof RECORDING_FORMAT;
  version: number;
  scenario: Scenario;
  /** The scenario file the run read. */
  file: string;
  backend: BackendName;
  runId: string;
  attempt?: number;
  /** ISO time the run started. */
  startedAt: string;
  /** The machine that ran it (the backend's own facts come with "deployed"). */
  platform: Record<string, string>;
  /** The scenario file's warnings. */
  warnings: string[];
  limits: RecordingLimits;
}

/** What the run saw, one per line after the header, in the order it happened (`at`: epoch ms). */
export type Observation =
  /** A backend's raw observation (source "k8s": src/k8s/observations.ts). */
  | { kind: "raw"; at: number; source: string; data: unknown }
  /** A timeline event as recorded through the run's sink: by the backend, or by the runner (warm-up). */
  | { kind: "event"; at: number; from: EventOrigin; event: TimelineEvent }
  | {
      kind: "deployed";
      at: number;
      image?: ResolvedImage;
      platform: Record<string, string>;
      trafficPath: string;
      pods: string[];
      /** The pod as deployed (the figures the verdicts use); absent in recordings made before it existed. */
      pod?: DeployedPod;
    }
  /** The disruption's victims as the runner chose them (busiest), and why. */
  | { kind: "plan"; at: number; victims?: string[]; basis?: string }
  | { kind: "warm-up"; at: number; report: WarmUpReport }
  /** The collect step's inputs: the backend's outcomes, the load, its requests, the connections, the saturation. */
  | {
      kind: "collect";
      at: number;
      pods: ObservedPodOutcome[];
      load: LoadResult;
      records: RequestRecord[];
      /** How many request records there were (records keeps the first maxRequestRecords). */
      recordsTotal: number;
      attribution?: TrafficAttribution;
      harnessLoad?: HarnessLoad;
      voluntary?: VoluntaryDisruptionRecord;
      readyEndpoints?: ReadyEndpointsSample[];
    }
  /** Streamed observations stopped here: the named limit was reached. */
  | { kind: "truncated"; at: number; limit: keyof RecordingLimits; value: number }
  | { kind: "end"; at: number; error?: string; durationMs: number; phases?: RunPhases; dropped: number };

export type EventOrigin = "backend" | "harness";

export const OBSERVATION_KINDS: ReadonlySet<Observation["kind"]> = new Set<Observation["kind"]>([
  "raw",
  "event",
  "deployed",
  "plan",
  "warm-up",
  "collect",
  "truncated",
  "end",
]);

/** The recording's file name beside the result file (<scenario>.<backend>[.<attempt>].json). */
export function recordingFileName(scenario: string, backend: string, attempt?: number): string {
  return `${scenario}.${backend}${attempt !== undefined ? `.${attempt}` : ""}.observations.jsonl.gz`;
}

/** Whether a run on this backend is recorded when nothing says: kind and existing (real clusters), not local. */
export function recordsByDefault(backend: BackendName): boolean {
  return backend !== "local";
}

/** The host's facts for the header. */
export function hostPlatform(): Record<string, string> {
  return { node: process.version, os: platform(), arch: arch() };
}

/** JSON without the API server's field bookkeeping (managedFields: large, and no evidence). */
function line(value: unknown): string {
  return JSON.stringify(value, (key, v) => (key === "managedFields" ? undefined : v));
}

/** Collects one run's observations in memory (bounded) and writes them at the run's end. */
export class RunRecorder {
  private readonly lines: string[];
  private streamed = 0;
  private streamedBytes = 0;
  private dropped = 0;
  private readonly limits: RecordingLimits;

  constructor(
    readonly header: Omit<RecordingHeader, "format" | "version" | "limits">,
    limits: Partial<RecordingLimits> = {},
  ) {
    this.limits = { ...RECORDING_LIMITS, ...limits };
    this.lines = [line({ format: RECORDING_FORMAT, version: RECORDING_VERSION, ...header, limits: this.limits })];
  }

  /** A run-level record: always written. */
  note(o: Exclude<Observation, { kind: "raw" | "event" | "truncated" | "end" | "collect" }>): void {
    this.lines.push(line(o));
  }

  /** The collect step's inputs, with the request records bounded. */
  collected(o: Omit<Extract<Observation, { kind: "collect" }>, "kind" | "recordsTotal">): void {
    const records = o.records.slice(0, this.limits.maxRequestRecords);
    this.lines.push(line({ kind: "collect", ...o, records, recordsTotal: o.records.length }));
  }

  /** A streamed observation: dropped (and counted) once a limit is reached; the first drop leaves a marker. */
  private stream(o: Extract<Observation, { kind: "raw" | "event" }>): void {
    if (this.dropped > 0) {
      this.dropped++;
      return;
    }
    const text = line(o);
    const over =
      this.streamed >= this.limits.maxObservations
        ? { limit: "maxObservations" as const, value: this.limits.maxObservations }
        : this.streamedBytes + text.length > this.limits.maxBytes
          ? { limit: "maxBytes" as const, value: this.limits.maxBytes }
          : undefined;
    if (over) {
      this.dropped = 1;
      this.lines.push(line({ kind: "truncated", at: o.at, ...over }));
      return;
    }
    this.streamed++;
    this.streamedBytes += text.length;
    this.lines.push(text);
  }

  /** The sink a backend (or the runner's warm-up) records through: events to `inner`, and to the recording. */
  sinkFor(from: EventOrigin, inner: EventSink): EventSink {
    return {
      record: (event: TimelineEvent) => {
        inner.record(event);
        this.stream({ kind: "event", at: event.at, from, event });
      },
      observe: (o: RawObservation) => this.stream({ kind: "raw", ...o }),
    };
  }

  /** The end record, then the whole recording as JSON lines. */
  finish(end: Omit<Extract<Observation, { kind: "end" }>, "kind" | "dropped">): string {
    this.lines.push(line({ kind: "end", ...end, dropped: this.dropped }));
    return `${this.lines.join("\n")}\n`;
  }

  /** Writes the recording (gzip) into `dir`; returns its path. */
  async write(dir: string, text: string): Promise<string> {
    await mkdir(dir, { recursive: true });
    const h = this.header;
    const file = join(dir, recordingFileName(h.scenario.name, h.backend, h.attempt));
    await writeFile(file, await promisify(gzip)(text));
    return file;
  }
}
