// A workload scenario on the local runtime: the user's manifests with the scenario's overrides, the
// Kubernetes version whose kubelet the runtime plays, each pod's plan, and the run's folder of volume
// files (named after the run, removed at teardown and by the sweep).
import { mkdir, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { type ServerVersion, supportsNativeSidecars, supportsPreStopSleep } from "../../k8s/version.js";
import type { Scenario } from "../../scenario/schema.js";
import { LABEL_ROOT, runLabels } from "../../util/labels.js";
import {
  type AppliedWorkload,
  applyOverrides,
  localLimitations,
  type ManifestSet,
  type Workload,
} from "../../workload/index.js";
import type { DeployedPod } from "../backend.js";
import { type PodPlan, podPlan, servingSidecarTooEarly } from "./pod-template.js";

/** The kubelet the local runtime plays when the scenario names no version (local.kubernetesVersion). */
export const LOCAL_DEFAULT_KUBERNETES = "1.33";

export interface LocalWorkload {
  set: ManifestSet;
  applied: AppliedWorkload;
  /** The container the Service's port reaches, and that port. */
  appContainer: string;
  appPort: number;
  version: ServerVersion;
  nativeSidecars: boolean;
  /** The run's folder of volume files (one sub-folder per pod). */
  volumeRoot: string;
  /** What the manifests say that the local runtime does not honour, and the overrides' notes. */
  notes: string[];
}

/** The run's folder of volume files: its name carries the run id, so a sweep finds it. */
export function runVolumeRoot(runId: string): string {
  return join(tmpdir(), `${LABEL_ROOT}.run-${runId}`);
}

export async function removeRunVolumes(runId: string): Promise<void> {
  await rm(runVolumeRoot(runId), { recursive: true, force: true });
}

/** Which of a folder's entries are run volume folders: every run's, or one run's. Pure. */
export function runVolumeNames(entries: readonly string[], runId?: string): string[] {
  const prefix = basename(runVolumeRoot(""));
  return entries.filter((n) => (runId === undefined ? n.startsWith(prefix) : n === `${prefix}${runId}`));
}

/** `clean`: the volume folders runs left behind (a crash), every run's or one run's; their names. */
export async function removeLeftoverVolumes(runId?: string): Promise<string[]> {
  const names = runVolumeNames(await readdir(tmpdir()).catch(() => [] as string[]), runId);
  await Promise.all(names.map((n) => rm(join(tmpdir(), n), { recursive: true, force: true })));
  return names;
}

function versionOf(scenario: Scenario): ServerVersion {
  const text = scenario.local.kubernetesVersion ?? LOCAL_DEFAULT_KUBERNETES;
  const [major, minor] = text.split(".").map(Number);
  return { major: major ?? 1, minor: minor ?? 0, gitVersion: `v${text} (local runtime)` };
}

/**
 * What the local runtime cannot start at the scenario's Kubernetes version, checked before any run: the
 * Service's port served by a native sidecar before 1.29 (the pod would never start).
 */
export function localWorkloadProblem(scenario: Scenario, set: ManifestSet): string | undefined {
  const version = versionOf(scenario);
  if (supportsNativeSidecars(version)) return undefined;
  const init = (set.workload.entry.object as Workload).spec?.template.spec?.initContainers ?? [];
  const serving = init.find((c) => c.name === set.port.container && c.restartPolicy === "Always");
  return serving && servingSidecarTooEarly(serving.name, `${version.major}.${version.minor}`);
}

/** The manifests with the scenario's overrides, as the local runtime will run them. */
export async function prepareLocalWorkload(
  scenario: Scenario,
  set: ManifestSet,
  runId: string,
): Promise<LocalWorkload> {
  const version = versionOf(scenario);
  const applied = applyOverrides({
    set,
    overrides: scenario.overrides,
    namespace: "local",
    labels: runLabels(runId),
    support: { preStopSleep: supportsPreStopSleep(version), preStopSleepZero: version.minor >= 33 },
    ...(scenario.pdb ? { pdb: scenario.pdb } : {}),
  });
  const volumeRoot = runVolumeRoot(runId);
  await mkdir(volumeRoot, { recursive: true, mode: 0o755 });
  const nativeSidecars = supportsNativeSidecars(version);
  const template = applied.workload.spec?.template;
  const appContainer = set.port.container ?? template?.spec?.containers[0]?.name ?? "";
  return {
    set,
    applied,
    appContainer,
    appPort: set.port.containerPort,
    version,
    nativeSidecars,
    volumeRoot,
    notes: [...applied.notes, ...localLimitations(set)],
  };
}

/** One pod's plan: its name, its labels (the run's, the scenario's, the pod's), its volume folder. */
export function localPodPlan(w: LocalWorkload, pod: string, runId: string, scenario: string): PodPlan {
  return podPlan({
    template: w.applied.workload.spec?.template ?? {},
    objects: w.applied.objects,
    appContainer: w.appContainer,
    appPort: w.appPort,
    pod,
    labels: { ...runLabels(runId), [`${LABEL_ROOT}.scenario`]: scenario, [`${LABEL_ROOT}.pod`]: pod },
    volumeDir: join(w.volumeRoot, pod),
    nativeSidecars: w.nativeSidecars,
  });
}

/**
 * The pod as deployed (DeployedPod): running containers in start order, their roles, and the app
 * container's preStop and stop signal (what the verdicts and the trust check time its SIGTERM against).
 */
export function deployedPod(w: LocalWorkload, plan: PodPlan): DeployedPod {
  const app = plan.containers.find((c) => c.name === w.appContainer && c.role !== "init");
  return {
    replicas: w.applied.replicas,
    terminationGracePeriodSeconds: w.applied.terminationGracePeriodSeconds,
    appContainer: w.appContainer,
    containers: plan.containers.flatMap((c) =>
      c.role === "init" ? [] : [{ name: c.name, image: c.image, role: c.role }],
    ),
    ...(app ? { preStop: app.preStop } : {}),
    ...(app?.stopSignal ? { stopSignal: app.stopSignal } : {}),
  };
}
