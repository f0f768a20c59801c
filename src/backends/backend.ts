// The one interface every cluster backend implements (local Docker, kind, existing cluster).
// The runner drives: prepare → deploy → (load starts) → disrupt → (load stops) → final evidence → teardown;
// the CLI drains after the last run.

import type { LoadResult } from "../load/types.js";
import type { BackendName, ResolvedImage } from "../model/backend.js";
import type { EventSink } from "../model/events.js";
import type { TrafficAttribution } from "../model/exercise.js";
import type { PodOutcome } from "../model/pod-outcome.js";
import type { Disruption, LoadOptions, Scenario } from "../scenario/schema.js";

/** Everything the harness started for one scenario run. */
export interface Deployment {
  scenario: Scenario;
  /** Label value carried by every object this run created (graceful-e2e.run=<runId>). */
  runId: string;
  /** Where load goes: always 127.0.0.1 (or localhost) on this machine. */
  target: { host: string; port: number };
  /** Human-readable description of the path traffic takes, for the report. */
  trafficPath: string;
  /** Pods (local backend: replicas) that were ready when the deployment became ready. */
  pods: string[];
  /** Server version / runtime version, for the report. */
  platform: Record<string, string>;
}

export interface DisruptionOutcome {
  pods: PodOutcome[];
  /**
   * The outcomes again once the evidence that may come after the disruption's end is in, or its bound
   * ran out (kind/existing: the API's own report of each exit, the app's last lines, the pod gone if it
   * comes in time). The runner calls it after the load window closed, before judging. Absent: `pods` is final.
   */
  final?(): Promise<PodOutcome[]>;
}

/** What the runner decided before the disruption. */
export interface DisruptionPlan {
  /** delete: the pods to delete (the ones carrying the most connections), in order. */
  victims?: string[];
}

export interface Backend {
  readonly name: BackendName;
  /**
   * Checks what must exist before anything starts (Docker engine, kind binary...). Throws a
   * PrerequisiteError saying what to install or start; creates nothing.
   */
  preflight?(): Promise<void>;
  /** Makes the images available to the runtime (build, kind load, push). */
  prepare(images: ResolvedImage[]): Promise<void>;
  /** Starts the scenario's workload and Service; resolves once every replica is ready. */
  deploy(scenario: Scenario, image: ResolvedImage, sink: EventSink, runId: string): Promise<Deployment>;
  /**
   * Carries out the disruption and resolves when every disrupted pod has ended (or timed out): local, its
   * container removed right after the exit; kind/existing, every container of it exited (the runtime's
   * record or the API's terminated state) or the pod object gone — not the API's garbage collection.
   */
  disrupt(deployment: Deployment, disruption: Disruption, plan?: DisruptionPlan): Promise<DisruptionOutcome>;
  /**
   * Every client connection routed so far and the pod it went to (local: the Service proxy; kind: the
   * node's conntrack). Absent or undefined: the backend cannot see connections (exercise unproven
   * unless the app names itself in x-served-by).
   */
  trafficAttribution?(deployment: Deployment): TrafficAttribution | undefined;
  /**
   * Starts the load itself (existing cluster: a load Job inside the cluster); resolves once load
   * flows. Absent: the runner runs the load generator on this machine against deployment.target.
   */
  startLoad?(
    deployment: Deployment,
    load: LoadOptions,
    hooks: { safetyCapSeconds?: number },
  ): Promise<{ stop(): Promise<LoadResult> }>;
  /**
   * Removes everything deploy created. Must be safe to call more than once and after a failed deploy.
   * May resolve while the removal finishes in the background (kind/existing: once the Service is
   * deleted and the namespace's deletion is under way); drain() waits for that.
   */
  teardown(deployment: Deployment | undefined, runId: string): Promise<void>;
  /**
   * Resolves once whatever teardown left finishing in the background is gone (kind/existing: every
   * namespace deleted, bounded). The CLI calls it after the last scenario and on Ctrl-C; close() does too.
   */
  drain?(): Promise<void>;
  /**
   * How many scenarios may run at once here (kind/existing: one NodePort each), and why when fewer
   * than asked; may check or create the cluster. Called once before the first scenario.
   */
  concurrency?(): Promise<{ max: number; why: string }>;
  /** Once after the last scenario: releases what prepare() made for all runs (e.g. a kind cluster it created). */
  close?(): Promise<unknown>;
}
