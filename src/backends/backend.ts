// The one small interface every backend implements (local Docker, kind, existing cluster), and the handle
// of a started workload. What only some backends can do is a separate interface in capabilities.ts.
// The runner drives: deploy → (load starts) → workload.disrupt → (load stops) → final evidence →
// workload.teardown (or backend.sweep when deploy never returned a handle).

import type { BackendName, ResolvedImage } from "../model/backend.js";
import type { ReadyEndpointsSample, VoluntaryDisruptionRecord } from "../model/disruption.js";
import type { EventSink } from "../model/events.js";
import type { TrafficAttribution } from "../model/exercise.js";
import type { ObservedPodOutcome } from "../model/pod-outcome.js";
import type { Disruption, PreStop, Scenario, Target } from "../scenario/schema.js";
import { UsageError } from "../util/errors.js";
import type { ManifestSet } from "../workload/types.js";

/**
 * What a run puts under test: graceful-e2e's own Deployment of an image, the user's manifests (applied
 * into the run's namespace, local: run as a kubelet would), or a workload already running (nothing
 * deployed; kind and existing only). The runner builds it once (prepareStep); backends take it as is.
 */
export type WorkloadSource =
  | { kind: "image"; image: ResolvedImage }
  | {
      kind: "manifests";
      set: ManifestSet;
      /** Every image the manifests name, as found or prepared on this machine (kind loads them). */
      images: string[];
    }
  | { kind: "target"; target: Target };

/** The image of an image source; a clear error for a source this backend does not run yet. */
export function imageOfSource(source: WorkloadSource, backend: BackendName): ResolvedImage {
  if (source.kind === "image") return source.image;
  throw new UsageError(`the ${backend} backend does not run ${source.kind} scenarios yet (issue 16)`);
}

/** Everything the harness started for one scenario run. */
export interface Deployment {
  scenario: Scenario;
  /** Label value carried by every object this run created (graceful-e2e.run=<runId>). */
  runId: string;
  /**
   * Where load goes. From this machine: 127.0.0.1 or localhost (the local Service proxy, kind's NodePort
   * mapping, an existing cluster's published address). An existing cluster's in-cluster load Job sends
   * to the Service's cluster DNS name instead (never an address on this machine's networks).
   */
  target: { host: string; port: number };
  /** Human-readable description of the path traffic takes, for the report. */
  trafficPath: string;
  /** Pods (local backend: replicas) that were ready when the deployment became ready. */
  pods: string[];
  /** Server version / runtime version, for the report. */
  platform: Record<string, string>;
  /**
   * The pod as it runs (after the manifests and the scenario's overrides): what the evidence is measured
   * against — never the scenario's image-only defaults, which a workload scenario does not use.
   */
  pod: DeployedPod;
  /**
   * What the run changed in the cluster, one line each ("created Service ge-x/web", "deleted pod
   * shop/web-abc at +12.3 s", "evicted pod …", "cordoned node …", "uncordoned node …"): the driver
   * appends as it goes (the teardown's uncordon too), the result reports it. Absent: local.
   */
  mutations?: string[];
  /** Where the workload under test lives (kind/existing): its namespace, workload and Service. */
  objects?: { namespace: string; workload: string; service: string; servicePort: number };
}

/** The figures of the pods under test, as deployed. */
export interface DeployedPod {
  replicas: number;
  terminationGracePeriodSeconds: number;
  /** The container the load reaches (its port is the Service's target). */
  appContainer: string;
  /** Every container of the pod in the kubelet's start order (native sidecars first). */
  containers: Array<{ name: string; image: string; role: "app" | "sidecar" | "native-sidecar" }>;
  /** The app container's preStop hook as deployed (absent: the scenario's, an image scenario). */
  preStop?: PreStop;
  /** The app container's lifecycle.stopSignal as deployed (absent: none set). */
  stopSignal?: string;
  /** The app container's port the load reaches (absent: the scenario's port, an image scenario). */
  port?: number;
}

/** An image scenario's pod: graceful-e2e's own Deployment, one container. */
export function imagePod(scenario: Scenario, image: string, container: string): DeployedPod {
  return {
    replicas: scenario.replicas,
    terminationGracePeriodSeconds: scenario.terminationGracePeriodSeconds,
    appContainer: container,
    containers: [{ name: container, image, role: "app" }],
    preStop: scenario.preStop,
    ...(scenario.stopSignal !== undefined ? { stopSignal: scenario.stopSignal } : {}),
  };
}

export interface DisruptionOutcome {
  pods: ObservedPodOutcome[];
  /**
   * The outcomes again once the evidence that may come after the disruption's end is in, or its bound
   * ran out (kind/existing: the API's own report of each exit, the app's last lines, the pod gone if it
   * comes in time). The runner calls it after the load window closed, before judging. Absent: `pods` is final.
   */
  final?(): Promise<ObservedPodOutcome[]>;
  /** evict/drain/rollout: the evictions the API answered, the drain's course, the budget in force. */
  voluntary?: VoluntaryDisruptionRecord;
}

/** What the runner decided before the disruption. */
export interface DisruptionPlan {
  /**
   * delete/evict: the pods to disrupt (the ones carrying the most connections), in order; drain: the
   * busiest pod first (its node is drained unless the scenario names one).
   */
  victims?: string[];
}

/** A started workload: its targets, what it lets the runner do next, and how it ends. */
export interface RunningWorkload extends Deployment {
  /**
   * Carries out the disruption and resolves when every disrupted pod has ended (or timed out): local, its
   * container removed right after the exit; kind/existing, every container of it exited (the runtime's
   * record or the API's terminated state) or the pod object gone — not the API's garbage collection.
   */
  disrupt(disruption: Disruption, plan?: DisruptionPlan): Promise<DisruptionOutcome>;
  /**
   * Every client connection routed so far and the pod it went to (local: the Service proxy; kind: the
   * node's conntrack). Undefined: the backend cannot see connections (exercise unproven unless the app
   * names itself in x-served-by).
   */
  trafficAttribution(): TrafficAttribution | undefined;
  /**
   * The Service's ready endpoints over the run so far, from the watch (local: the Service proxy's ready
   * list). Undefined: the backend does not follow them.
   */
  readyEndpoints?(): ReadyEndpointsSample[];
  /**
   * evict/drain/rollout: the disruption's record so far (the live object: the teardown's uncordon lands
   * in it), for a run that ends before the disruption did — Ctrl-C mid-drain still reports what happened.
   */
  voluntaryRecord?(): VoluntaryDisruptionRecord | undefined;
  /**
   * Removes everything the deploy created. Safe to call more than once. May resolve while the removal
   * finishes in the background (kind/existing: once the Service is deleted and the namespace's deletion
   * is under way); BackgroundTeardown.drain() waits for that.
   */
  teardown(): Promise<void>;
}

export interface Backend {
  readonly name: BackendName;
  /** Starts the scenario's workload and Service; resolves with its handle once every replica is ready. */
  deploy(scenario: Scenario, source: WorkloadSource, sink: EventSink, runId: string): Promise<RunningWorkload>;
  /**
   * Removes whatever carries the run's label when there is no handle to tear down (a deploy that failed
   * or was cut short, or one still in flight). Safe to call more than once, and after a teardown.
   */
  sweep(runId: string): Promise<void>;
}

/** The part of a backend a RunningWorkload delegates to (backends keep per-run state by run id). */
export interface WorkloadOps {
  disrupt(deployment: Deployment, disruption: Disruption, plan?: DisruptionPlan): Promise<DisruptionOutcome>;
  teardown(deployment: Deployment | undefined, runId: string): Promise<void>;
  trafficAttribution?(deployment: Deployment): TrafficAttribution | undefined;
  readyEndpoints?(deployment: Deployment): ReadyEndpointsSample[] | undefined;
  voluntaryRecord?(deployment: Deployment): VoluntaryDisruptionRecord | undefined;
}

/** The handle of a deployment, bound to the backend that started it. */
export function runningWorkload(deployment: Deployment, ops: WorkloadOps): RunningWorkload {
  return {
    ...deployment,
    disrupt: (disruption, plan) => ops.disrupt(deployment, disruption, plan),
    trafficAttribution: () => ops.trafficAttribution?.(deployment),
    ...(ops.readyEndpoints ? { readyEndpoints: () => ops.readyEndpoints?.(deployment) ?? [] } : {}),
    ...(ops.voluntaryRecord ? { voluntaryRecord: () => ops.voluntaryRecord?.(deployment) } : {}),
    teardown: () => ops.teardown(deployment, deployment.runId),
  };
}

/**
 * A backend that keeps each run's state by run id: deploy() wraps what deployRecord() started in its
 * handle, and sweep() is a teardown without one.
 */
export abstract class RunStateBackend implements Backend, WorkloadOps {
  abstract readonly name: BackendName;
  abstract deployRecord(
    scenario: Scenario,
    source: WorkloadSource,
    sink: EventSink,
    runId: string,
  ): Promise<Deployment>;
  abstract disrupt(deployment: Deployment, disruption: Disruption, plan?: DisruptionPlan): Promise<DisruptionOutcome>;
  abstract teardown(deployment: Deployment | undefined, runId: string): Promise<void>;

  async deploy(scenario: Scenario, source: WorkloadSource, sink: EventSink, runId: string): Promise<RunningWorkload> {
    return runningWorkload(await this.deployRecord(scenario, source, sink, runId), this);
  }

  sweep(runId: string): Promise<void> {
    return this.teardown(undefined, runId);
  }
}
