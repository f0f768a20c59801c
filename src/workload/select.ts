// Decides what a set of manifests means for a run: which objects the harness may create in the run's
// namespace, the workload under test, the Service that selects it and the port the load goes to.
import type { V1Container, V1PodTemplateSpec, V1Service, V1ServicePort } from "@kubernetes/client-node";
import { serviceSelects } from "./label-selector.js";
import {
  issueAt,
  ManifestError,
  type ManifestIssue,
  type ManifestObject,
  type ManifestSet,
  type Workload,
  type WorkloadKind,
  type WorkloadPort,
} from "./types.js";

/** Kinds the API keeps outside namespaces: the harness never creates them (a run owns one namespace). */
const CLUSTER_SCOPED = new Set([
  "Namespace",
  "Node",
  "PersistentVolume",
  "ClusterRole",
  "ClusterRoleBinding",
  "CustomResourceDefinition",
  "StorageClass",
  "PriorityClass",
  "RuntimeClass",
  "IngressClass",
  "CSIDriver",
  "CSINode",
  "VolumeAttachment",
  "APIService",
  "MutatingWebhookConfiguration",
  "ValidatingWebhookConfiguration",
  "ValidatingAdmissionPolicy",
  "ValidatingAdmissionPolicyBinding",
  "MutatingAdmissionPolicy",
  "MutatingAdmissionPolicyBinding",
  "CertificateSigningRequest",
  "FlowSchema",
  "PriorityLevelConfiguration",
  "PodSecurityPolicy",
  "ComponentStatus",
  "ClusterTrustBundle",
]);
/** API groups (of apiVersion) whose kinds are built in; anything else is a custom resource. */
const BUILT_IN_GROUP = /^(v1|[a-z0-9.]*\.k8s\.io\/\w+|(apps|batch|autoscaling|policy|extensions)\/\w+)$/;
const WORKLOAD_KINDS: readonly string[] = ["Deployment", "StatefulSet"] satisfies WorkloadKind[];

export interface SelectOptions {
  /** workload.name: the Deployment or StatefulSet under test when there are several. */
  name?: string;
  /** workload.port: a Service port's number or name (or, without a Service, a container port's). */
  port?: number | string;
  /** The run's namespace, also accepted where the manifests name it explicitly. */
  namespace: string;
}

const describe = (e: ManifestObject) => `${e.object.kind} "${e.object.metadata.name}"`;
const where = (e: ManifestObject) => `${e.origin.file} document ${e.origin.document}`;
const namespaceOf = (e: ManifestObject) => (e.object.metadata as { namespace?: string }).namespace;
const labelsText = (l: Record<string, string>) =>
  Object.entries(l)
    .map(([k, v]) => `${k}=${v}`)
    .join(",") || "none";

/** The workload under test: the only Deployment/StatefulSet, or the one workload.name names. */
function findWorkload(objects: ManifestObject[], name: string | undefined): ManifestObject | ManifestIssue {
  const candidates = objects.filter((e) => WORKLOAD_KINDS.includes(e.object.kind));
  const first = objects[0];
  const nowhere = { file: first?.origin.file ?? "(manifests)", document: first?.origin.document ?? 0, field: "kind" };
  if (name !== undefined) {
    const named = candidates.find((e) => e.object.metadata.name === name);
    if (named) return named;
    const known = candidates.map(describe).join(", ") || "none";
    return {
      ...nowhere,
      message: `workload.name "${name}" matches no Deployment or StatefulSet (the manifests have: ${known})`,
    };
  }
  const [only, second] = candidates;
  if (only === undefined)
    return { ...nowhere, message: "no workload found: the manifests hold no Deployment or StatefulSet" };
  if (second !== undefined) {
    return issueAt(
      second,
      ["metadata", "name"],
      `two workloads to test, ${describe(only)} (${where(only)}) and ${describe(second)}: choose one with workload.name`,
    );
  }
  return only;
}

/** What refuses an object: cluster-scoped, or in a namespace other than the workload's own. */
function scopeIssues(objects: ManifestObject[], home: string | undefined, runNamespace: string): ManifestIssue[] {
  return objects.flatMap((e) => {
    if (CLUSTER_SCOPED.has(e.object.kind)) {
      return [
        issueAt(
          e,
          ["kind"],
          `${describe(e)} is cluster-scoped: the harness creates objects only in the run's namespace`,
        ),
      ];
    }
    const ns = namespaceOf(e);
    if (ns === undefined || ns === home || ns === runNamespace) return [];
    const homeText = home === undefined ? "none" : `"${home}"`;
    return [
      issueAt(
        e,
        ["metadata", "namespace"],
        `"${ns}" is outside the workload's namespace (${homeText}, which becomes the run's): the harness creates nothing there`,
      ),
    ];
  });
}

const podTemplate = (w: ManifestObject) => ((w.object as Workload).spec?.template ?? {}) as V1PodTemplateSpec;

/** Services that select no pod template of the manifests (named, so a typo is not silently unused). */
function serviceIssues(objects: ManifestObject[], services: ManifestObject[]): ManifestIssue[] {
  const templates = objects.filter((e) => WORKLOAD_KINDS.includes(e.object.kind) || e.object.kind === "DaemonSet");
  return services.flatMap((s) => {
    const selector = (s.object as V1Service).spec?.selector;
    if (selector === undefined || Object.keys(selector).length === 0) return []; // endpoints managed by hand
    if (templates.some((t) => serviceSelects(selector, podTemplate(t).metadata?.labels ?? {}))) return [];
    const pods = templates.map((t) => `${describe(t)}: ${labelsText(podTemplate(t).metadata?.labels ?? {})}`);
    return [
      issueAt(
        s,
        ["spec", "selector"],
        `${labelsText(selector)} selects no pod of these manifests (pod labels: ${pods.join("; ") || "no pod template"})`,
      ),
    ];
  });
}

/** Every container that can serve a port: the regular ones, then native sidecars. */
export function servingContainers(t: V1PodTemplateSpec): V1Container[] {
  const sidecars = (t.spec?.initContainers ?? []).filter((c) => c.restartPolicy === "Always");
  return [...(t.spec?.containers ?? []), ...sidecars];
}

/** The container port a Service's targetPort (number or name) reaches. */
function containerPortFor(t: V1PodTemplateSpec, target: number | string): { port?: number; container?: string } {
  for (const c of servingContainers(t)) {
    const p = (c.ports ?? []).find((p) =>
      typeof target === "number" ? p.containerPort === target : p.name === target,
    );
    if (p) return { port: p.containerPort, container: c.name };
  }
  return typeof target === "number" ? { port: target } : {};
}

/** The Service port: workload.port's, else one named http, else the first. */
function choosePort(ports: V1ServicePort[], wanted: number | string | undefined): V1ServicePort | undefined {
  if (wanted !== undefined) return ports.find((p) => p.port === wanted || p.name === wanted);
  return ports.find((p) => p.name === "http") ?? ports[0];
}

type PortChoice = { port: WorkloadPort; notes: string[] } | ManifestIssue;

function portFromService(w: ManifestObject, s: ManifestObject, wanted: number | string | undefined): PortChoice {
  const ports = (s.object as V1Service).spec?.ports ?? [];
  const chosen = choosePort(ports, wanted);
  if (chosen === undefined) {
    const names = ports.map((p) => p.name ?? String(p.port)).join(", ") || "none";
    return issueAt(
      s,
      ["spec", "ports"],
      `no port ${wanted ?? ""} in ${describe(s)} (it has: ${names}): set workload.port`,
    );
  }
  const target = chosen.targetPort ?? chosen.port;
  const found = containerPortFor(podTemplate(w), target);
  if (found.port === undefined) {
    return issueAt(s, ["spec", "ports"], `targetPort "${target}" is no container port of ${describe(w)}`);
  }
  const notes =
    ports.length > 1 && wanted === undefined
      ? [
          `${describe(s)} has ${ports.length} ports: the load goes to ${chosen.name ?? chosen.port} (workload.port chooses)`,
        ]
      : [];
  const port: WorkloadPort = { servicePort: chosen.port, containerPort: found.port };
  if (chosen.name) port.name = chosen.name;
  if (found.container) port.container = found.container;
  return { port, notes };
}

/** Without a Service: workload.port (a number or a container port's name), else the first container port. */
function portFromPods(w: ManifestObject, wanted: number | string | undefined): PortChoice {
  const declared = servingContainers(podTemplate(w)).flatMap((c) => (c.ports ?? []).map((p) => ({ p, c })));
  const hit =
    wanted === undefined ? declared[0] : declared.find(({ p }) => p.containerPort === wanted || p.name === wanted);
  if (hit)
    return {
      port: { containerPort: hit.p.containerPort, container: hit.c.name, ...(hit.p.name ? { name: hit.p.name } : {}) },
      notes: [],
    };
  if (typeof wanted === "number") return { port: { containerPort: wanted }, notes: [] };
  const why = wanted === undefined ? "no container declares a port" : `no container port is named "${wanted}"`;
  return issueAt(
    w,
    ["spec", "template", "spec", "containers"],
    `${why} and no Service selects ${describe(w)}: set workload.port`,
  );
}

const isIssue = (v: object): v is ManifestIssue => "message" in v && "document" in v;

/** The Service for the workload: the one selecting its pods (a headless one only when nothing else does). */
function findService(w: ManifestObject, services: ManifestObject[]): ManifestObject | undefined {
  const labels = podTemplate(w).metadata?.labels ?? {};
  const selecting = services.filter((s) => serviceSelects((s.object as V1Service).spec?.selector, labels));
  return selecting.find((s) => (s.object as V1Service).spec?.clusterIP !== "None") ?? selecting[0];
}

/** Custom resources are applied as they are, and exist only where the cluster has their definition. */
function customResourceNotes(objects: ManifestObject[]): string[] {
  return objects
    .filter((e) => !BUILT_IN_GROUP.test(e.object.apiVersion))
    .map(
      (e) => `${describe(e)} (${e.object.apiVersion}) is a custom resource: created only where the cluster defines it`,
    );
}

/** Reads what the objects mean; every problem at once (ManifestError). Pure. */
export function selectManifestSet(objects: ManifestObject[], options: SelectOptions): ManifestSet {
  const workload = findWorkload(objects, options.name);
  if (isIssue(workload)) throw new ManifestError([workload]);
  const services = objects.filter((e) => e.object.kind === "Service");
  const issues = [
    ...scopeIssues(objects, namespaceOf(workload), options.namespace),
    ...serviceIssues(objects, services),
  ];
  const service = findService(workload, services);
  const port = service ? portFromService(workload, service, options.port) : portFromPods(workload, options.port);
  if (isIssue(port)) issues.push(port);
  if (issues.length > 0 || isIssue(port)) throw new ManifestError(issues);
  const others = services.filter(
    (s) =>
      s !== service &&
      serviceSelects((s.object as V1Service).spec?.selector, podTemplate(workload).metadata?.labels ?? {}),
  );
  return {
    workload: { kind: workload.object.kind as WorkloadKind, name: workload.object.metadata.name, entry: workload },
    ...(service ? { service: { name: service.object.metadata.name, entry: service } } : {}),
    port: port.port,
    objects,
    notes: [
      ...port.notes,
      ...others.map(
        (s) => `${describe(s)} also selects the workload; the load goes through ${describe(service as ManifestObject)}`,
      ),
      ...customResourceNotes(objects),
    ],
  };
}
