// The objects one run applies from the user's manifests: each rewritten into the run's namespace and
// labelled for cleanup, the scenario's overrides applied to the workload's pod template only where the
// scenario sets them. Pure; no I/O.
import type {
  KubernetesObject,
  V1Container,
  V1LabelSelector,
  V1PodTemplateSpec,
  V1Service,
} from "@kubernetes/client-node";
import { graceSeconds, preStopHandler, stopSignalNote } from "../k8s/manifests.js";
import type { PodOverrides } from "../scenario/schema.js";
import { API_DEFAULT_GRACE_SECONDS, API_DEFAULT_REPLICAS } from "./deployed-pod.js";
import { selects } from "./label-selector.js";
import type { ManifestObject, ManifestSet, Workload } from "./types.js";

/** Kinds applied first (what a pod refers to before the pods exist), the rest in manifest order. */
const APPLY_FIRST = [
  "ServiceAccount",
  "Secret",
  "ConfigMap",
  "PersistentVolumeClaim",
  "Role",
  "RoleBinding",
  "Service",
];

export interface ApplyInput {
  set: ManifestSet;
  /** Scenario.overrides: only the fields the scenario file sets. */
  overrides: PodOverrides;
  namespace: string;
  /** Labels every object and pod gets, so cleanup finds them (k8s/manifests objectLabels). */
  labels: Record<string, string>;
  /** From k8s/version.ts: whether the preStop sleep action (and sleep 0) can be used. */
  support: { preStopSleep: boolean; preStopSleepZero?: boolean };
  /** The load reaches the Service on this NodePort (kind, existing); undefined: its type is kept. */
  nodePort?: number;
  /** The scenario's PodDisruptionBudget: it replaces the manifests' own (two budgets make evictions fail). */
  pdb?: { minAvailable?: number | string; maxUnavailable?: number | string };
}

export interface AppliedWorkload {
  /** Every object, in apply order (the workload's Service included, made or the user's). */
  objects: KubernetesObject[];
  workload: Workload;
  service: V1Service;
  /** True when the manifests had no Service for the workload and the harness made this one. */
  serviceMade: boolean;
  /** The pod's figures after the overrides (the API's defaults where the manifests are silent). */
  replicas: number;
  terminationGracePeriodSeconds: number;
  /** What the overrides changed, and decisions a report should mention. */
  notes: string[];
  /** The manifests' PodDisruptionBudget over the workload's pods, when they have one and the scenario none. */
  pdb?: ManifestPdb;
}

/** A PodDisruptionBudget of the manifests, as the budget arithmetic and the report need it. */
export interface ManifestPdb {
  name: string;
  minAvailable?: number | string;
  maxUnavailable?: number | string;
}

type Meta = { name: string; namespace?: string; labels?: Record<string, string> };

function relabel<T extends KubernetesObject>(object: T, namespace: string, labels: Record<string, string>): T {
  const copy = structuredClone(object);
  const meta = (copy.metadata ?? {}) as Meta;
  copy.metadata = { ...meta, namespace, labels: { ...meta.labels, ...labels } };
  return copy;
}

/** preStop on every regular container (the fix to compare is on all of them: app and proxy alike). */
function overridePreStop(containers: V1Container[], o: PodOverrides, port: number, input: ApplyInput, notes: string[]) {
  if (o.preStop === undefined) return;
  const choice = preStopHandler(o.preStop, port, input.support);
  notes.push(
    ...choice.notes,
    `preStop ${o.preStop.type} (scenario override) on ${containers.map((c) => c.name).join(", ")}`,
  );
  for (const c of containers) {
    const { preStop: _, ...rest } = c.lifecycle ?? {};
    c.lifecycle = choice.handler ? { ...rest, preStop: choice.handler } : rest;
    if (Object.keys(c.lifecycle).length === 0) delete c.lifecycle;
  }
}

function overridePod(template: V1PodTemplateSpec, input: ApplyInput, notes: string[]): void {
  const o = input.overrides;
  const spec = template.spec ?? { containers: [] };
  template.spec = spec;
  if (o.terminationGracePeriodSeconds !== undefined) {
    spec.terminationGracePeriodSeconds = graceSeconds(o.terminationGracePeriodSeconds, notes);
    notes.push(`terminationGracePeriodSeconds ${spec.terminationGracePeriodSeconds} (scenario override)`);
  }
  overridePreStop(spec.containers, o, input.set.port.containerPort, input, notes);
  if (o.stopSignal !== undefined) {
    for (const c of spec.containers) c.lifecycle = { ...c.lifecycle, stopSignal: o.stopSignal };
    spec.os = { name: "linux" };
    notes.push(stopSignalNote(o.stopSignal));
  }
  template.metadata = { ...template.metadata, labels: { ...template.metadata?.labels, ...input.labels } };
}

/** A Service name (DNS-1035 label) for a workload's name (a DNS-1123 subdomain: dots allowed). */
function serviceName(workload: string): string {
  const name = `ge-${workload.replace(/[^a-z0-9-]/g, "-")}`.slice(0, 63);
  return name.replace(/-+$/, "");
}

/** A NodePort Service selecting the workload's pods, when the manifests have none. */
function madeService(w: Workload, input: ApplyInput): V1Service {
  const selector = w.spec?.selector?.matchLabels ?? w.spec?.template.metadata?.labels ?? {};
  const { containerPort, name } = input.set.port;
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: serviceName(input.set.workload.name),
      namespace: input.namespace,
      labels: input.labels,
    },
    spec: {
      type: "NodePort",
      selector,
      externalTrafficPolicy: "Cluster",
      ports: [
        {
          name: name ?? "http",
          protocol: "TCP",
          port: containerPort,
          targetPort: containerPort,
          ...(input.nodePort ? { nodePort: input.nodePort } : {}),
        },
      ],
    },
  };
}

/** The user's Service as a NodePort on the chosen port, when the load needs one. */
function exposed(service: V1Service, input: ApplyInput, notes: string[]): void {
  if (input.nodePort === undefined || service.spec === undefined) return;
  const chosen = service.spec.ports?.find((p) => p.port === input.set.port.servicePort);
  if (chosen === undefined) return;
  if (service.spec.type !== "NodePort" && service.spec.type !== "LoadBalancer") {
    notes.push(
      `Service "${service.metadata?.name}" made NodePort (was ${service.spec.type ?? "ClusterIP"}) so the load reaches it`,
    );
    service.spec.type = "NodePort";
  }
  chosen.nodePort = input.nodePort;
}

const applyRank = (o: KubernetesObject) => {
  const i = APPLY_FIRST.indexOf(o.kind ?? "");
  return i === -1 ? APPLY_FIRST.length : i;
};

/** (ManifestSet, overrides, namespace, run labels) → the objects to apply. Pure. */
export function applyOverrides(input: ApplyInput): AppliedWorkload {
  const { set, namespace, labels } = input;
  const notes: string[] = [];
  const budgets = workloadPdbs(set);
  const replaced = input.pdb !== undefined ? budgets : [];
  for (const b of replaced) notes.push(`PodDisruptionBudget "${b.name}" replaced by the scenario's pdb`);
  const objects = set.objects.map((e) =>
    e === set.workload.entry || e === set.service?.entry || replaced.some((b) => b.entry === e)
      ? undefined
      : relabel(e.object, namespace, labels),
  );
  const workload = relabel(set.workload.entry.object as Workload, namespace, labels);
  const template = workload.spec?.template ?? {};
  overridePod(template, input, notes);
  if (workload.spec && input.overrides.replicas !== undefined) {
    workload.spec.replicas = input.overrides.replicas;
    notes.push(`replicas ${input.overrides.replicas} (scenario override)`);
  }
  const service = set.service
    ? relabel(set.service.entry.object as V1Service, namespace, labels)
    : madeService(workload, input);
  if (set.service) exposed(service, input, notes);
  else
    notes.push(
      `no Service selects ${set.workload.kind} "${set.workload.name}": NodePort Service "${service.metadata?.name}" made`,
    );
  const all = [...objects.filter((o) => o !== undefined), service, workload].sort(
    (a, b) => applyRank(a) - applyRank(b),
  );
  return {
    objects: all,
    workload,
    service,
    serviceMade: set.service === undefined,
    replicas: workload.spec?.replicas ?? API_DEFAULT_REPLICAS,
    terminationGracePeriodSeconds: template.spec?.terminationGracePeriodSeconds ?? API_DEFAULT_GRACE_SECONDS,
    notes,
    ...(input.pdb === undefined && budgets[0] ? { pdb: budgets[0].pdb } : {}),
  };
}

/** The manifests' PodDisruptionBudgets whose selector (matchLabels, matchExpressions) picks the workload's pods. */
function workloadPdbs(set: ManifestSet): Array<{ entry: ManifestObject; name: string; pdb: ManifestPdb }> {
  const podLabels = (set.workload.entry.object as Workload).spec?.template.metadata?.labels ?? {};
  return set.objects.flatMap((entry) => {
    if (entry.object.kind !== "PodDisruptionBudget") return [];
    const spec = (entry.object as { spec?: PdbObjectSpec }).spec ?? {};
    if (!selects(spec.selector, podLabels, false)) return [];
    const name = entry.object.metadata.name;
    const pdb: ManifestPdb = {
      name,
      ...(spec.minAvailable !== undefined ? { minAvailable: spec.minAvailable } : {}),
      ...(spec.maxUnavailable !== undefined ? { maxUnavailable: spec.maxUnavailable } : {}),
    };
    return [{ entry, name, pdb }];
  });
}

interface PdbObjectSpec {
  minAvailable?: number | string;
  maxUnavailable?: number | string;
  selector?: V1LabelSelector;
}
