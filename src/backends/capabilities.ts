// What only some backends can do, each a separate interface, and the one place that asks which a
// backend has (the runner and the CLI never probe for optional methods themselves).
import type { LoadResult } from "../load/types.js";
import type { ResolvedImage } from "../model/backend.js";
import type { LoadOptions, Scenario, Target } from "../scenario/schema.js";
import type { Backend, Deployment } from "./backend.js";

/** Checks what must exist before anything starts; throws a PrerequisiteError, creates nothing. */
export interface Preflight {
  preflight(): Promise<void>;
}

/**
 * Checks what the scenarios to run need of the cluster (a drain: two schedulable nodes) before any of them
 * starts; throws a UsageError (exit 2), creates nothing.
 */
export interface ScenarioPreflight {
  preflightScenarios(scenarios: readonly Scenario[]): Promise<void>;
}

/** Makes the images available to the runtime (kind load, registry push). */
export interface ImageLoading {
  prepare(images: ResolvedImage[]): Promise<void>;
}

/**
 * Gets ready for a user's workload: manifests (kind: `kind load` the images the local Docker engine has,
 * the rest left to the nodes' pulls) or a running target (images: none). Resolves with report lines.
 */
export interface WorkloadPreparation {
  prepareWorkload(images: string[]): Promise<string[]>;
}

/**
 * Checks that a running workload can be tested, before anything starts: namespace, workload and Service
 * exist, the Service selects the workload's pods, the load can reach it. UsageError otherwise; changes nothing.
 */
export interface TargetCheck {
  checkTarget(target: Target): Promise<void>;
}

/** Runs the load itself (existing cluster: a Job inside the cluster) instead of this machine. */
export interface InClusterLoad {
  /** False when this backend's load comes from this machine after all (existing with --address). */
  readonly loadsInCluster: boolean;
  /** Resolves once load flows. The runner cannot see its requests, only the result at stop(). */
  startLoad(deployment: Deployment, load: LoadOptions, hooks: { safetyCapSeconds?: number }): Promise<InClusterLoadRun>;
}
export interface InClusterLoadRun {
  stop(): Promise<LoadResult>;
}

/** How many scenarios may run at once (kind/existing: one NodePort each), and why when fewer than asked. */
export interface RunPool {
  concurrency(): Promise<{ max: number; why: string }>;
}

/** Teardown that finishes in the background; drain() resolves once it is all gone (bounded). */
export interface BackgroundTeardown {
  drain(): Promise<void>;
}

/** Releases, after the last scenario, what the backend made for all runs (e.g. a kind cluster it created). */
export interface Closable {
  close(): Promise<unknown>;
}

const has = <K extends string>(b: Backend, key: K): boolean =>
  typeof (b as unknown as Record<K, unknown>)[key] === "function";

export const canPreflight = (b: Backend): b is Backend & Preflight => has(b, "preflight");
export const preparesWorkloads = (b: Backend): b is Backend & WorkloadPreparation => has(b, "prepareWorkload");
export const checksTargets = (b: Backend): b is Backend & TargetCheck => has(b, "checkTarget");
export const loadsImages = (b: Backend): b is Backend & ImageLoading => has(b, "prepare");
export const hasRunPool = (b: Backend): b is Backend & RunPool => has(b, "concurrency");
export const drainsInBackground = (b: Backend): b is Backend & BackgroundTeardown => has(b, "drain");
export const isClosable = (b: Backend): b is Backend & Closable => has(b, "close");
/** The load runs in the cluster (not just: could): the existing backend without --address. */
export const loadsInCluster = (b: Backend): b is Backend & InClusterLoad =>
  has(b, "startLoad") && (b as Backend & InClusterLoad).loadsInCluster === true;

export async function preflight(b: Backend): Promise<void> {
  if (canPreflight(b)) await b.preflight();
}
export async function preflightScenarios(b: Backend, scenarios: readonly Scenario[]): Promise<void> {
  if (has(b, "preflightScenarios")) await (b as Backend & ScenarioPreflight).preflightScenarios(scenarios);
}
export async function drain(b: Backend): Promise<void> {
  if (drainsInBackground(b)) await b.drain();
}
export async function close(b: Backend): Promise<unknown> {
  return isClosable(b) ? b.close() : undefined;
}
