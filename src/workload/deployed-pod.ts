// The pod under test as a workload's pod template states it: the figures the evidence is measured
// against (replicas, grace, the app container's preStop and stop signal, containers in start order),
// the images it names and the labels that find its pods. Pure; shared by every backend.
import type { V1Container, V1LabelSelector, V1LifecycleHandler, V1PodTemplateSpec } from "@kubernetes/client-node";
import type { DeployedPod } from "../backends/backend.js";
import type { PreStop } from "../scenario/schema.js";
import { selectorGiven } from "./label-selector.js";
import type { ManifestSet, Workload } from "./types.js";

/** The API's own defaults, for what a workload leaves out. */
export const API_DEFAULT_REPLICAS = 1;
export const API_DEFAULT_GRACE_SECONDS = 30;

/** The kinds whose objects carry a pod template (spec.template), for the images they name. */
const TEMPLATE_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"]);

/** A preStop handler in the scenario's terms (an httpGet on a named port keeps only its path). */
export function scenarioPreStop(handler: V1LifecycleHandler | undefined): PreStop {
  if (handler?.sleep) return { type: "sleep", seconds: handler.sleep.seconds };
  if (handler?.exec?.command?.length) return { type: "exec", command: [...handler.exec.command] };
  if (handler?.httpGet) {
    const port = typeof handler.httpGet.port === "number" ? handler.httpGet.port : undefined;
    return { type: "httpGet", path: handler.httpGet.path ?? "/", ...(port !== undefined ? { port } : {}) };
  }
  return { type: "none" };
}

/** Native sidecars (initContainers that keep running), first: the kubelet starts them before the rest. */
function inStartOrder(t: V1PodTemplateSpec): Array<{ c: V1Container; native: boolean }> {
  const natives = (t.spec?.initContainers ?? []).filter((c) => c.restartPolicy === "Always");
  return [
    ...natives.map((c) => ({ c, native: true })),
    ...(t.spec?.containers ?? []).map((c) => ({ c, native: false })),
  ];
}

/**
 * The pod as a workload states it. appContainer: the container serving the load's port (the first
 * regular container when none declares it).
 */
export function podOfWorkload(workload: Workload, appContainer?: string): DeployedPod {
  const t = workload.spec?.template ?? {};
  const ordered = inStartOrder(t);
  const app =
    ordered.find(({ c }) => c.name === appContainer)?.c ?? t.spec?.containers?.[0] ?? ordered[0]?.c ?? undefined;
  const stopSignal = (app?.lifecycle as { stopSignal?: string } | undefined)?.stopSignal;
  return {
    replicas: workload.spec?.replicas ?? API_DEFAULT_REPLICAS,
    terminationGracePeriodSeconds: t.spec?.terminationGracePeriodSeconds ?? API_DEFAULT_GRACE_SECONDS,
    appContainer: app?.name ?? "?",
    containers: ordered.map(({ c, native }) => ({
      name: c.name,
      image: c.image ?? "?",
      role: c === app ? "app" : native ? "native-sidecar" : "sidecar",
    })),
    preStop: scenarioPreStop(app?.lifecycle?.preStop),
    ...(stopSignal ? { stopSignal } : {}),
  };
}

/** Every image the manifests' pod templates name (containers, init containers, sidecars), once each. */
export function manifestImages(set: ManifestSet): string[] {
  const refs = set.objects.flatMap(({ object }) => {
    if (!TEMPLATE_KINDS.has(object.kind)) return [];
    const spec = (object as { spec?: { template?: V1PodTemplateSpec } }).spec?.template?.spec;
    return [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])].map((c) => c.image ?? "");
  });
  return [...new Set(refs.filter((r) => r !== ""))];
}

/**
 * The selector a workload's pods are found by: its own (matchLabels and matchExpressions), else its
 * template's labels (a hand-written object without one: the API would refuse it, apps/v1 requires it).
 */
export function podSelectorOf(workload: Workload): V1LabelSelector {
  const own = workload.spec?.selector;
  if (selectorGiven(own)) return own as V1LabelSelector;
  return { matchLabels: { ...(workload.spec?.template.metadata?.labels ?? {}) } };
}
