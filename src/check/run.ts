// `graceful-e2e check`: start an image, read its process tree and SIGTERM dispositions before any
// signal, predict the outcome, then run it under load with a delete and say whether the
// prediction held, what went wrong and how to fix it.
import { getContainerRuntimeClient } from "testcontainers";
import type { Backend } from "../backends/backend.js";
import { type CheckObservation, type Diagnosis, diagnose, observe } from "../inspect/diagnose.js";
import { type Prediction, predict } from "../inspect/predict.js";
import { normalizeSignal } from "../inspect/servers.js";
import type { ProcessTreeInspection } from "../model/process-tree.js";
import { type RunOptions, runScenario, type ScenarioResult } from "../runner/run.js";
import { scenarioWarnings } from "../scenario/load.js";
import { type LoadProtocolName, type Scenario, ScenarioSpec } from "../scenario/schema.js";
import { UsageError } from "../util/errors.js";
import { configureTestcontainersOffline } from "../util/testcontainers-env.js";

export interface CheckOptions {
  /** Image reference with a fixed tag (an untagged or :latest reference is resolved to another tag of it). */
  image: string;
  port: number;
  /** Path the load requests (default "/"). */
  path: string;
  /** Path polled until a replica answers 2xx (default: path). */
  readyPath?: string;
  graceSeconds: number;
  /** preStop sleep in seconds (0 = no preStop hook). */
  preStopSeconds: number;
  /** Local backend: endpoint propagation delay. */
  propagationMs: number;
  replicas: number;
  connections: number;
  loadSeconds: number;
  atSeconds: number;
  env?: Record<string, string>;
  /** What the load speaks (default http1). */
  protocol?: LoadProtocolName;
}

export interface CheckReport {
  image: string;
  /** The fixed reference that ran. */
  ref: string;
  port: number;
  backend: string;
  scenario: Scenario;
  runId?: string;
  /** Inspection and prediction for the pod that was deleted (read before any signal). */
  inspection?: ProcessTreeInspection;
  prediction?: Prediction;
  observation: CheckObservation;
  diagnosis: Diagnosis;
  error?: string;
  warnings: string[];
  notes: string[];
  result: ScenarioResult;
}

// The defaults live apart so the CLI can show them in `check --help` without loading the run.
export { CHECK_DEFAULTS } from "./defaults.js";

/** "check-<image repository>", fitted to the scenario name rules. Pure. */
export function checkScenarioName(image: string): string {
  const repo = image.replace(/@.*$/, "").replace(/:[^/:]*$/, "");
  const slug = repo
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 45)
    .replace(/-+$/g, "");
  return `check-${slug || "image"}`;
}

/** The scenario a check runs, validated through the scenario schema. Pure. */
export function checkScenario(ref: string, opts: CheckOptions): Scenario {
  return ScenarioSpec.parse({
    name: checkScenarioName(ref),
    description: `graceful-e2e check of ${ref}`,
    image: { ref },
    port: opts.port,
    readinessPath: opts.readyPath ?? opts.path,
    replicas: opts.replicas,
    env: opts.env ?? {},
    preStop: opts.preStopSeconds > 0 ? { type: "sleep", seconds: opts.preStopSeconds } : { type: "none" },
    terminationGracePeriodSeconds: opts.graceSeconds,
    load: {
      connections: opts.connections,
      durationSeconds: opts.loadSeconds,
      path: opts.path,
      keepAlive: true,
      protocol: opts.protocol ?? "http1",
    },
    disruption: { action: "delete", count: 1, atSeconds: opts.atSeconds },
    expectations: { maxFailedRequests: 0 },
    local: { endpointPropagationMs: opts.propagationMs },
    tags: ["check"],
  });
}

/** Whether a reference names no tag or :latest (a moving target the scenario schema refuses). */
export function isFloatingRef(ref: string): boolean {
  if (ref.includes("@")) return false;
  const lastSlash = ref.lastIndexOf("/");
  const colon = ref.indexOf(":", lastSlash + 1);
  return colon === -1 || ref.slice(colon + 1) === "latest";
}

/** A fixed-tag reference for the image: itself, or another tag of the same local image. */
export async function resolveFixedRef(ref: string): Promise<{ ref: string; note?: string }> {
  configureTestcontainersOffline();
  const client = await getContainerRuntimeClient();
  const info = (await client.container.dockerode
    .getImage(ref)
    .inspect()
    .catch(() => undefined)) as { Id: string; RepoTags?: string[] } | undefined;
  if (!info) throw new UsageError(`image ${ref} does not exist locally (docker pull or docker build it first)`);
  if (!isFloatingRef(ref)) return { ref };
  const fixed = (info.RepoTags ?? []).find((t) => !isFloatingRef(t));
  if (!fixed) {
    throw new UsageError(
      `${ref} has no fixed tag (scenarios refuse :latest): tag it first, e.g. docker tag ${ref} ${ref.replace(/:latest$/, "")}:check`,
    );
  }
  return { ref: fixed, note: `${ref} has no fixed tag: using ${fixed}, the same image (${info.Id.slice(7, 19)})` };
}

/**
 * The signal a runtime stops the image with, read from the local Docker engine's copy (every backend
 * here deploys an image present locally: kind loads it from there); undefined when it cannot be read.
 */
export async function localImageStopSignal(ref: string): Promise<{ signal: string; from: string } | undefined> {
  configureTestcontainersOffline();
  const client = await getContainerRuntimeClient().catch(() => undefined);
  const info = (await client?.container.dockerode
    .getImage(ref)
    .inspect()
    .catch(() => undefined)) as { Config?: { StopSignal?: string } } | undefined;
  if (!info) return undefined;
  const signal = info.Config?.StopSignal;
  return signal
    ? { signal, from: "the image's STOPSIGNAL (local Docker engine's copy)" }
    : { signal: "SIGTERM", from: "default (the image sets no STOPSIGNAL)" };
}

export interface CheckHooks {
  onProgress?: (line: string) => void;
  /**
   * Called with the deleted pod's inspection (read by the backend before any signal) and what it
   * predicts, once the run is over and before the diagnosis.
   */
  onPrediction?: (inspection: ProcessTreeInspection | undefined, prediction: Prediction | undefined) => void;
  resultsDir?: string;
  /** How the image's stop signal is read when the backend does not say (default: the local Docker engine). */
  imageStopSignal?: (ref: string) => Promise<{ signal: string; from: string } | undefined>;
  /** How the image reference is checked (default: the runner's; tests pass their own). */
  resolveImage?: RunOptions["resolveImage"];
}

export async function runCheck(backend: Backend, opts: CheckOptions, hooks: CheckHooks = {}): Promise<CheckReport> {
  const notes: string[] = [];
  const resolved = backend.name === "local" ? await resolveFixedRef(opts.image) : { ref: opts.image };
  if (resolved.note) notes.push(resolved.note);
  let scenario: Scenario;
  try {
    scenario = checkScenario(resolved.ref, opts);
  } catch (err) {
    throw new UsageError(`check options: ${err instanceof Error ? err.message : String(err)}`);
  }

  const result = await runScenario(
    { file: `check ${resolved.ref}`, scenario, warnings: scenarioWarnings(scenario) },
    { backend, resultsDir: hooks.resultsDir, onProgress: hooks.onProgress, resolveImage: hooks.resolveImage },
  );
  // Every backend reads the pods it deploys before any signal (local: the host's /proc; kind: the
  // node's; existing: exec in the container) and hands the deleted pod's reading back on its outcome.
  const pod = result.pods[0];
  const inspection = pod?.inspection;
  const stopSignal = pod?.stopSignal ?? (await (hooks.imageStopSignal ?? localImageStopSignal)(resolved.ref));
  const prediction =
    inspection && inspection.processes.length > 0
      ? predict(inspection.processes, { port: opts.port, ...(stopSignal ? { stopSignal } : {}) })
      : undefined;
  if (pod && !inspection) notes.push(`the ${backend.name} backend did not read the process tree of ${pod.pod}`);
  if (pod) hooks.onPrediction?.(inspection, prediction);
  const observation = observe({ pod, load: result.load, timeline: result.timeline, preStop: scenario.preStop });
  const diagnosis = diagnose(prediction, observation, {
    graceSeconds: opts.graceSeconds,
    preStopSeconds: opts.preStopSeconds,
    propagationMs: backend.name === "local" ? opts.propagationMs : undefined,
    ...(stopSignal ? { stopSignal: normalizeSignal(stopSignal.signal) } : {}),
  });
  return {
    image: opts.image,
    ref: resolved.ref,
    port: opts.port,
    backend: backend.name,
    scenario,
    runId: result.runId,
    inspection,
    prediction,
    observation,
    diagnosis,
    error: result.error,
    warnings: result.warnings,
    notes,
    result,
  };
}

/** Exit status of `check`: 0 nothing dropped, 1 requests dropped or the run failed. */
/**
 * 1 when the check failed: an error, no pod deleted, requests dropped, or a shutdown with something to
 * fix although nothing was dropped (killed at the grace end, an abrupt exit): a kill drops only what is
 * in flight at that instant, and a paced load on a fast endpoint often has nothing in flight then.
 */
export function checkExitCode(report: CheckReport): number {
  const { error, diagnosis, observation } = report;
  return error !== undefined || diagnosis.dropped || diagnosis.fix !== undefined || observation.pod === undefined
    ? 1
    : 0;
}
