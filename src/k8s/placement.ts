// Where one run's workload lives on the cluster and what the driver creates for it, by source: the
// image's own Deployment (manifests.ts), the user's manifests applied into the run's namespace
// (workload/ applyOverrides), or a workload already running (read and checked here; nothing created).
// The driver keys every watch, wait, read and disruption on this, never on graceful-e2e's own names.
import type {
  AppsV1Api,
  CoreV1Api,
  KubernetesObject,
  V1LabelSelector,
  V1Namespace,
  V1Service,
} from "@kubernetes/client-node";
import { type DeployedPod, imagePod } from "../backends/backend.js";
import type { RolloutStrategy, Scenario, Target } from "../scenario/schema.js";
import { apiErrorText, UsageError } from "../util/errors.js";
import {
  applyOverrides,
  labelSelectorText,
  type ManifestPdb,
  type ManifestSet,
  podOfWorkload,
  podSelectorOf,
  selectorGiven,
  serviceSelects,
  type Workload,
  type WorkloadKind,
} from "../workload/index.js";
import { ownRolloutStrategy } from "../workload/rollout-strategy.js";
import { buildManifests, type ManifestInput, namespaceName, objectLabels } from "./manifests.js";

export interface Placement {
  namespace: string;
  /** The run's own namespace (created, and deleted at teardown); false: the target's, never touched. */
  namespaceObject?: V1Namespace;
  /** The objects to create after the namespace, in order (none for a target). */
  create: KubernetesObject[];
  /** image: the typed Service and Deployment calls (as every recording was made); else the generic API. */
  typed: boolean;
  workload: { kind: WorkloadKind; name: string };
  service: string;
  /** The Service's port the load uses (in-cluster load: <service>.<namespace>.svc:<port>). */
  servicePort: number;
  /** The selector the workload's pods are found by (its own: matchLabels and matchExpressions). */
  podSelector: V1LabelSelector;
  /** The container the load reaches, and its port. */
  container: string;
  containerPort: number;
  /** The NodePort the load reaches the Service on (a target's own; else the run's). */
  nodePort?: number;
  pod: DeployedPod;
  /** The image graceful-e2e deployed (image scenarios). */
  image?: string;
  /** The manifests' own PodDisruptionBudget over the workload (applied with them), when the scenario has none. */
  pdb?: ManifestPdb;
  /** The workload's own rolling update as created (a rollout's strategy overrides only what the scenario sets). */
  ownStrategy: RolloutStrategy;
  notes: string[];
}

/** graceful-e2e's own Deployment of an image (k8s/manifests.ts). */
export function imagePlacement(input: ManifestInput): Placement {
  const m = buildManifests(input);
  return {
    namespace: m.names.namespace,
    namespaceObject: m.namespace,
    create: [m.service, m.deployment],
    typed: true,
    workload: { kind: "Deployment", name: m.names.deployment },
    service: m.names.service,
    servicePort: m.service.spec?.ports?.[0]?.port ?? 80,
    podSelector: { matchLabels: { ...m.selector } },
    container: m.names.container,
    containerPort: input.scenario.port,
    ...(input.nodePort !== undefined ? { nodePort: input.nodePort } : {}),
    pod: imagePod(input.scenario, input.image, m.names.container),
    ownStrategy: ownRolloutStrategy(m.deployment),
    image: input.image,
    notes: m.notes,
  };
}

const nameOf = (o: KubernetesObject) => `${o.kind}/${o.metadata?.name ?? "?"}`;

/** The user's manifests, rewritten into the run's namespace with the scenario's overrides. */
export function manifestsPlacement(
  set: ManifestSet,
  o: {
    scenario: Scenario;
    runId: string;
    nodePort: number;
    support: { preStopSleep: boolean; preStopSleepZero?: boolean };
  },
): Placement {
  const namespace = namespaceName(o.scenario.name, o.runId);
  const labels = objectLabels(o.scenario, o.runId);
  const applied = applyOverrides({
    set,
    overrides: o.scenario.overrides,
    namespace,
    labels,
    support: o.support,
    nodePort: o.nodePort,
    ...(o.scenario.pdb ? { pdb: o.scenario.pdb } : {}),
  });
  const pod = { ...podOfWorkload(applied.workload, set.port.container), port: set.port.containerPort };
  return {
    namespace,
    namespaceObject: { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace, labels } },
    create: applied.objects,
    typed: false,
    workload: { kind: set.workload.kind, name: set.workload.name },
    service: applied.service.metadata?.name ?? "?",
    servicePort: set.port.servicePort ?? set.port.containerPort,
    podSelector: podSelectorOf(applied.workload),
    container: pod.appContainer,
    containerPort: set.port.containerPort,
    nodePort: o.nodePort,
    ...(applied.pdb ? { pdb: applied.pdb } : {}),
    ownStrategy: ownRolloutStrategy(applied.workload),
    pod,
    notes: [...set.notes, ...applied.notes, `created in ${namespace}: ${applied.objects.map(nameOf).join(", ")}`],
  };
}

const is404 = (err: unknown) => (err as { code?: unknown } | undefined)?.code === 404;

/** Reads one object of the target; a missing one is the user's to fix (UsageError), else the API's error. */
async function readOrSay<T>(what: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (is404(err)) throw new UsageError(`target: ${what} does not exist`);
    throw new Error(`target: could not read ${what}: ${apiErrorText(err)}`);
  }
}

/** The target's Service: the one named, which must select the pods, or the only one selecting them. */
async function targetService(core: CoreV1Api, t: Target, labels: Record<string, string>): Promise<V1Service> {
  const ref = `${t.workload.kind} ${t.namespace}/${t.workload.name}`;
  const podLabels = labelSelectorText({ matchLabels: labels }) || "none";
  if (t.service !== undefined) {
    const name = t.service;
    const svc = await readOrSay(`Service ${t.namespace}/${name}`, () =>
      core.readNamespacedService({ name, namespace: t.namespace }),
    );
    if (!serviceSelects(svc.spec?.selector, labels)) {
      const sel = labelSelectorText({ matchLabels: svc.spec?.selector ?? {} }) || "nothing (no selector)";
      throw new UsageError(
        `target: Service ${t.namespace}/${name} selects ${sel}, not the pods of ${ref} (${podLabels})`,
      );
    }
    return svc;
  }
  const list = await core.listNamespacedService({ namespace: t.namespace });
  const selecting = list.items.filter((s) => serviceSelects(s.spec?.selector, labels) && s.spec?.clusterIP !== "None");
  const [only, second] = selecting;
  if (only === undefined)
    throw new UsageError(`target: no Service in ${t.namespace} selects the pods of ${ref} (${podLabels})`);
  if (second !== undefined) {
    const names = selecting.map((s) => s.metadata?.name).join(", ");
    throw new UsageError(`target: several Services select the pods of ${ref} (${names}): choose one with --service`);
  }
  return only;
}

/** The Service's port the load uses (one named http, else the first) and the container port behind it. */
function servicePort(svc: V1Service, w: Workload) {
  const ports = svc.spec?.ports ?? [];
  const chosen = ports.find((p) => p.name === "http") ?? ports[0];
  const target = chosen?.targetPort ?? chosen?.port;
  const containers = [...(w.spec?.template.spec?.containers ?? []), ...(w.spec?.template.spec?.initContainers ?? [])];
  for (const c of containers) {
    const p = c.ports?.find((p) => (typeof target === "number" ? p.containerPort === target : p.name === target));
    if (p) return { chosen, containerPort: p.containerPort, container: c.name };
  }
  return { chosen, containerPort: typeof target === "number" ? target : 0, container: undefined };
}

/**
 * A running workload, read and checked (UsageError: what is missing or does not fit); nothing created.
 * reachable(nodePort): why the load cannot reach that NodePort from here, or undefined when it can.
 */
export async function targetPlacement(
  api: { core: CoreV1Api; apps: AppsV1Api },
  t: Target,
  reachable: (nodePort: number | undefined) => string | undefined,
): Promise<Placement> {
  const { namespace } = t;
  await readOrSay(`namespace ${namespace}`, () => api.core.readNamespace({ name: namespace }));
  const { kind, name } = t.workload;
  const w: Workload = await readOrSay(`${kind} ${namespace}/${name}`, () =>
    kind === "Deployment"
      ? api.apps.readNamespacedDeployment({ name, namespace })
      : api.apps.readNamespacedStatefulSet({ name, namespace }),
  );
  const podSelector = podSelectorOf(w);
  if (!selectorGiven(podSelector))
    throw new UsageError(`target: ${kind} ${namespace}/${name} has no spec.selector to find its pods by`);
  const svc = await targetService(api.core, t, w.spec?.template.metadata?.labels ?? {});
  const port = servicePort(svc, w);
  const why = reachable(port.chosen?.nodePort);
  if (why) throw new UsageError(`target: Service ${namespace}/${svc.metadata?.name}: ${why}`);
  const pod = { ...podOfWorkload(w, port.container), port: port.containerPort };
  return {
    namespace,
    create: [],
    typed: false,
    workload: { kind, name },
    service: svc.metadata?.name ?? "?",
    servicePort: port.chosen?.port ?? port.containerPort,
    podSelector,
    container: pod.appContainer,
    containerPort: port.containerPort,
    ...(port.chosen?.nodePort !== undefined ? { nodePort: port.chosen.nodePort } : {}),
    pod,
    ownStrategy: ownRolloutStrategy(w),
    notes: [`target ${kind} ${namespace}/${name} through Service ${svc.metadata?.name}: nothing created`],
  };
}
