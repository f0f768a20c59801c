// Collects what the audit needs from a Kubernetes cluster (kind or any kubeconfig context) through the
// API, read-only by default: list Deployments, StatefulSets, DaemonSets, ReplicaSets, Pods, Services
// and PodDisruptionBudgets (policy/v1, else v1beta1 as on 1.20), and the server version. The images'
// ENTRYPOINT/CMD/STOPSIGNAL come from the local Docker engine's copy when it has one (kind loads images
// from there) — a read on this machine, nothing in the cluster.
// Opt-in, each said in the report: --node-access (kind: `docker exec <node> crictl inspect` + the
// node's /proc, what check does on kind) and --exec (the Kubernetes exec API: create pods/exec). When
// refused, the workload keeps its static findings and the report says why.
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  PolicyV1Api,
  type V1Container,
  type V1DaemonSet,
  type V1Deployment,
  type V1LabelSelector,
  type V1Pod,
  type V1PodTemplateSpec,
  type V1Probe,
  type V1ReplicaSet,
  type V1Service,
  type V1StatefulSet,
  VersionApi,
} from "@kubernetes/client-node";
import { normalizeSignal } from "../inspect/servers.js";
import { inspectViaPodExec, type Pid1Request } from "../k8s/driver.js";
import { preStopOf } from "../k8s/prestop.js";
import type { ProcessTreeInspection } from "../model/process-tree.js";
import { inspectOnNode, type NodeExec } from "../observe/node-proc.js";
import { apiErrorText } from "../util/errors.js";
import { LABEL_RUN } from "../util/labels.js";
import { selects, serviceSelects } from "../workload/label-selector.js";
import type { Collected, ImageInspect } from "./collect-local.js";
import { scriptPathOf } from "./collect-local.js";
import { effectiveArgv } from "./command.js";
import type { ContainerFacts, WorkloadFacts, WorkloadKind } from "./types.js";

export interface ClusterCollectOptions {
  backend: "kind" | "existing";
  kc: KubeConfig;
  /** Namespaces to read, or every namespace. */
  namespaces: string[] | "all";
  /** Label selector on workloads (and bare pods). */
  selector?: string;
  /** Opt-in: the Kubernetes exec API (create pods/exec) to read process trees. */
  exec: boolean;
  /** Opt-in (kind): runs argv on a node (docker exec <node> …) to read process trees from the node. */
  nodeExec?: (node: string) => NodeExec;
  /** Read-only image configuration from the local Docker engine (undefined: not available). */
  imageConfig?: (ref: string) => Promise<ImageInspect | undefined>;
  /** Injectable for tests: reads a container's process tree through the exec API. */
  podExecInspect?: (req: Pid1Request, notes: string[]) => Promise<ProcessTreeInspection>;
  /** Audit graceful-e2e's own runs' workloads too (label graceful-e2e.run). */
  includeHarness?: boolean;
  log?: (line: string) => void;
}

const PAGE = 500;

function httpCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === "number" ? code : undefined;
}

/** The API's message, first line only. */
const errText = (err: unknown): string => apiErrorText(err).split("\n")[0] ?? "";

interface ListPage<T> {
  items: T[];
  metadata?: { _continue?: string };
}

async function listAll<T>(page: (cont: string | undefined) => Promise<ListPage<T>>): Promise<T[]> {
  const out: T[] = [];
  let cont: string | undefined;
  for (let i = 0; i < 1000; i++) {
    const p = await page(cont);
    out.push(...p.items);
    cont = p.metadata?._continue || undefined;
    if (!cont) break;
  }
  return out;
}

export function describeProbe(p: V1Probe | undefined): string | null {
  if (!p) return null;
  if (p.httpGet) return `readinessProbe httpGet ${p.httpGet.path ?? "/"} on ${p.httpGet.port}`;
  if (p.tcpSocket) return `readinessProbe tcpSocket ${p.tcpSocket.port}`;
  if (p.exec) return `readinessProbe exec ${JSON.stringify(p.exec.command ?? [])}`;
  if (p.grpc) return `readinessProbe grpc on ${p.grpc.port}`;
  return "readinessProbe";
}

/** One container's facts from the pod template (and the local copy of its image, when there is one). Pure. */
export function containerFactsFromSpec(ctr: V1Container, image: ImageInspect | undefined): ContainerFacts {
  const notes: string[] = [];
  let command: ContainerFacts["command"];
  if (image) {
    command = {
      argv: effectiveArgv(
        { entrypoint: image.Config?.Entrypoint ?? null, cmd: image.Config?.Cmd ?? null },
        { command: ctr.command ?? null, args: ctr.args ?? null },
      ),
      from:
        ctr.command || ctr.args
          ? `pod spec command/args over the image's ENTRYPOINT/CMD (the local Docker engine's copy of ${ctr.image})`
          : `image config (ENTRYPOINT/CMD of the local Docker engine's copy of ${ctr.image})`,
    };
  } else if (ctr.command) {
    command = { argv: [...ctr.command, ...(ctr.args ?? [])], from: "pod spec command/args" };
  } else {
    notes.push(
      `the image's ENTRYPOINT/CMD could not be read (${ctr.image} is not in the local Docker engine)${ctr.args ? `; the pod spec sets args ${JSON.stringify(ctr.args)}` : ""}`,
    );
  }
  if (command && command.argv.length === 0) command = undefined;
  const lifecycleStop = (ctr.lifecycle as { stopSignal?: string } | undefined)?.stopSignal;
  const stopSignal = lifecycleStop
    ? { signal: normalizeSignal(lifecycleStop), from: "lifecycle.stopSignal in the pod spec (Kubernetes 1.33+)" }
    : image?.Config?.StopSignal
      ? {
          signal: normalizeSignal(image.Config.StopSignal),
          from: "the image's STOPSIGNAL (local Docker engine's copy)",
        }
      : image
        ? { signal: "SIGTERM", from: "default (the image sets no STOPSIGNAL)" }
        : { signal: "SIGTERM", from: "default assumed (the image's STOPSIGNAL could not be read)" };
  return {
    name: ctr.name,
    image: ctr.image ?? "?",
    ...(image ? { imageId: image.Id } : {}),
    ...(command ? { command } : {}),
    stopSignal,
    preStop: preStopOf(ctr.lifecycle?.preStop),
    readiness: describeProbe(ctr.readinessProbe),
    ports: (ctr.ports ?? []).map((p) => p.containerPort).filter((p) => Number.isInteger(p)),
    notes,
  };
}

function isReady(p: V1Pod): boolean {
  return (
    p.status?.phase === "Running" && (p.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True")
  );
}

/** The pod whose processes stand for the workload's: a ready one (by name), else a running one. */
export function representativePod(pods: V1Pod[]): V1Pod | undefined {
  const byName = [...pods]
    .filter((p) => !p.metadata?.deletionTimestamp)
    .sort((a, b) => (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? ""));
  return byName.find(isReady) ?? byName.find((p) => p.status?.phase === "Running");
}

interface WorkloadObject {
  kind: WorkloadKind;
  uid: string;
  namespace: string;
  name: string;
  template: V1PodTemplateSpec;
  replicas?: number;
  readyReplicas?: number;
  strategy?: WorkloadFacts["strategy"];
}

/** What the audit said it did, was refused, skipped and noticed (the report's access section). */
interface Access {
  used: string[];
  refused: string[];
  skipped: string[];
  notes: string[];
}

/** How many reads of each kind were made (each kind is named in the report once it was used). */
interface Reads {
  image: number;
  node: number;
  exec: number;
  script: number;
}

type Pdb = {
  metadata?: { name?: string; namespace?: string };
  spec?: { selector?: V1LabelSelector; minAvailable?: number | string; maxUnavailable?: number | string };
};

interface ClusterObjects {
  deployments: V1Deployment[];
  statefulsets: V1StatefulSet[];
  daemonsets: V1DaemonSet[];
  replicasets: V1ReplicaSet[];
  pods: V1Pod[];
  /** The pods the label selector picks (all pods without one). */
  selectedPods: V1Pod[];
  services?: V1Service[];
  pdbs?: Pdb[];
  pdbApi: string;
}

type Lister = <T>(
  what: string,
  fetch: (ns: string | undefined, cont: string | undefined) => Promise<ListPage<T>>,
) => Promise<T[] | undefined>;

/** A list that may be refused (RBAC) or not served: undefined then, said in the report. */
function lister(scopes: Array<string | undefined>, access: Access, readVerbs: string[]): Lister {
  return async <T>(
    what: string,
    fetch: (ns: string | undefined, cont: string | undefined) => Promise<ListPage<T>>,
  ): Promise<T[] | undefined> => {
    const all: T[] = [];
    for (const ns of scopes) {
      try {
        all.push(...(await listAll((cont) => fetch(ns, cont))));
      } catch (err) {
        const code = httpCode(err);
        if (code === 403)
          access.refused.push(`list ${what}${ns ? ` in ${ns}` : ""}: forbidden (${errText(err)}): skipped`);
        else if (code === 404) return undefined;
        else throw err;
        return undefined;
      }
    }
    readVerbs.push(what);
    return all;
  };
}

export async function collectCluster(o: ClusterCollectOptions): Promise<Collected> {
  const access: Access = { used: [], refused: [], skipped: [], notes: [] };
  const platform: Record<string, string> = {};
  try {
    const v = await o.kc.makeApiClient(VersionApi).getCode();
    platform.kubernetes = v.gitVersion;
  } catch (err) {
    access.notes.push(`/version: ${errText(err)}`);
  }
  const cluster = await readClusterObjects(o, access);
  const { objects, podsOf } = workloadObjects(cluster, o.selector, access);
  const reads: Reads = { image: 0, node: 0, exec: 0, script: 0 };
  const imageOf = imageReader(o);
  const workloads: WorkloadFacts[] = [];
  for (const w of objects.sort((a, b) =>
    `${a.namespace}/${a.kind}/${a.name}`.localeCompare(`${b.namespace}/${b.kind}/${b.name}`),
  )) {
    const labels = w.template.metadata?.labels ?? {};
    if (labels[LABEL_RUN] !== undefined && !o.includeHarness) {
      access.skipped.push(
        `${w.kind}/${w.namespace}/${w.name}: a graceful-e2e run's own workload (label ${LABEL_RUN}; --include-harness audits it)`,
      );
      continue;
    }
    const wPods = podsOf.get(w.uid) ?? [];
    const rep = representativePod(wPods);
    const containers: ContainerFacts[] = [];
    for (const ctr of w.template.spec?.containers ?? []) {
      const image = await imageOf(ctr.image);
      if (image) reads.image++;
      containers.push(await liveContainerFacts(o, w, rep, containerFactsFromSpec(ctr, image), access, reads));
    }
    workloads.push(workloadFacts(o.backend, w, wPods, rep, containers, cluster));
  }
  access.used.push(...readsUsed(reads));
  return { workloads, platform, ...access };
}

/** Every object the audit reads, through the API, read-only (one list per kind and namespace). */
async function readClusterObjects(o: ClusterCollectOptions, access: Access): Promise<ClusterObjects> {
  const core = o.kc.makeApiClient(CoreV1Api);
  const apps = o.kc.makeApiClient(AppsV1Api);
  const readVerbs: string[] = [];
  const tryList = lister(o.namespaces === "all" ? [undefined] : o.namespaces, access, readVerbs);
  const labelSelector = o.selector;
  const page = { limit: PAGE };
  const deployments =
    (await tryList("deployments", (ns, c) =>
      ns
        ? apps.listNamespacedDeployment({ namespace: ns, labelSelector, ...page, _continue: c })
        : apps.listDeploymentForAllNamespaces({ labelSelector, ...page, _continue: c }),
    )) ?? [];
  const statefulsets =
    (await tryList("statefulsets", (ns, c) =>
      ns
        ? apps.listNamespacedStatefulSet({ namespace: ns, labelSelector, ...page, _continue: c })
        : apps.listStatefulSetForAllNamespaces({ labelSelector, ...page, _continue: c }),
    )) ?? [];
  const daemonsets =
    (await tryList("daemonsets", (ns, c) =>
      ns
        ? apps.listNamespacedDaemonSet({ namespace: ns, labelSelector, ...page, _continue: c })
        : apps.listDaemonSetForAllNamespaces({ labelSelector, ...page, _continue: c }),
    )) ?? [];
  const replicasets =
    (await tryList("replicasets", (ns, c) =>
      ns
        ? apps.listNamespacedReplicaSet({ namespace: ns, ...page, _continue: c })
        : apps.listReplicaSetForAllNamespaces({ ...page, _continue: c }),
    )) ?? [];
  const pods =
    (await tryList("pods", (ns, c) =>
      ns
        ? core.listNamespacedPod({ namespace: ns, ...page, _continue: c })
        : core.listPodForAllNamespaces({ ...page, _continue: c }),
    )) ?? [];
  const selectedPods = labelSelector
    ? ((await tryList("pods (selector)", (ns, c) =>
        ns
          ? core.listNamespacedPod({ namespace: ns, labelSelector, ...page, _continue: c })
          : core.listPodForAllNamespaces({ labelSelector, ...page, _continue: c }),
      )) ?? [])
    : pods;
  const services = await tryList("services", (ns, c) =>
    ns
      ? core.listNamespacedService({ namespace: ns, ...page, _continue: c })
      : core.listServiceForAllNamespaces({ ...page, _continue: c }),
  );
  const { pdbs, pdbApi } = await readBudgets(o, tryList, access);
  access.used.push(
    `Kubernetes API, read-only: get /version; list ${readVerbs.join(", ")}${pdbs ? ` (PodDisruptionBudgets: ${pdbApi})` : ""}`,
  );
  return { deployments, statefulsets, daemonsets, replicasets, pods, selectedPods, services, pdbs, pdbApi };
}

/** PodDisruptionBudgets: policy/v1 (served from 1.21 on), else policy/v1beta1 (1.20 has only that). */
async function readBudgets(
  o: ClusterCollectOptions,
  tryList: Lister,
  access: Access,
): Promise<{ pdbs?: Pdb[]; pdbApi: string }> {
  const policy = o.kc.makeApiClient(PolicyV1Api);
  let pdbApi = "policy/v1";
  let pdbs = (await tryList<Pdb>("poddisruptionbudgets", (ns, c) =>
    ns
      ? policy.listNamespacedPodDisruptionBudget({ namespace: ns, limit: PAGE, _continue: c })
      : policy.listPodDisruptionBudgetForAllNamespaces({ limit: PAGE, _continue: c }),
  )) as Pdb[] | undefined;
  if (pdbs === undefined && !access.refused.some((r) => r.startsWith("list poddisruptionbudgets"))) {
    const custom = o.kc.makeApiClient(CustomObjectsApi);
    pdbApi = "policy/v1beta1";
    const beta = { group: "policy", version: "v1beta1", plural: "poddisruptionbudgets", limit: PAGE };
    pdbs = await tryList<Pdb>(
      "poddisruptionbudgets (policy/v1beta1)",
      async (ns, c) =>
        (ns
          ? await custom.listNamespacedCustomObject({ ...beta, namespace: ns, _continue: c })
          : await custom.listClusterCustomObject({ ...beta, _continue: c })) as ListPage<Pdb>,
    );
  }
  if (pdbs === undefined) access.notes.push("PodDisruptionBudgets could not be read: no budget findings");
  return { ...(pdbs !== undefined ? { pdbs } : {}), pdbApi };
}

/** The workloads (controllers, lone ReplicaSets, bare pods) and each one's pods, by owner chain. */
function workloadObjects(
  cluster: ClusterObjects,
  labelSelector: string | undefined,
  access: Access,
): { objects: WorkloadObject[]; podsOf: Map<string, V1Pod[]> } {
  // Owner chains: pod → ReplicaSet → Deployment; pod → StatefulSet / DaemonSet.
  const rsOwner = new Map<string, string>();
  for (const rs of cluster.replicasets) {
    const owner = rs.metadata?.ownerReferences?.find((r) => r.controller);
    if (owner && rs.metadata?.uid) rsOwner.set(rs.metadata.uid, owner.uid);
  }
  const workloadOfPod = (p: V1Pod): string | undefined => {
    const owner = p.metadata?.ownerReferences?.find((r) => r.controller);
    if (!owner) return undefined;
    if (owner.kind === "ReplicaSet") return rsOwner.get(owner.uid) ?? owner.uid;
    return owner.uid;
  };
  const podsOf = new Map<string, V1Pod[]>();
  for (const p of cluster.pods) {
    const w = workloadOfPod(p);
    if (w) podsOf.set(w, [...(podsOf.get(w) ?? []), p]);
  }
  const objects = controllerObjects(cluster);
  for (const rs of cluster.replicasets) {
    // A ReplicaSet not run by a Deployment (rare): a workload of its own.
    const owner = rs.metadata?.ownerReferences?.find((r) => r.controller);
    if (owner) continue;
    if (
      labelSelector &&
      !cluster.selectedPods.some((p) => p.metadata?.ownerReferences?.some((r) => r.uid === rs.metadata?.uid))
    )
      continue;
    objects.push({
      kind: "ReplicaSet",
      uid: rs.metadata?.uid ?? "",
      namespace: rs.metadata?.namespace ?? "",
      name: rs.metadata?.name ?? "",
      template: rs.spec?.template ?? {},
      replicas: rs.spec?.replicas ?? 1,
      readyReplicas: rs.status?.readyReplicas ?? 0,
    });
  }
  objects.push(...barePods(cluster.selectedPods, podsOf, access));
  return { objects, podsOf };
}

/** Deployments, StatefulSets and DaemonSets with their rollout strategy. */
function controllerObjects(cluster: ClusterObjects): WorkloadObject[] {
  const objects: WorkloadObject[] = [];
  const meta = (m: { uid?: string; namespace?: string; name?: string } | undefined) => ({
    uid: m?.uid ?? "",
    namespace: m?.namespace ?? "",
    name: m?.name ?? "",
  });
  for (const d of cluster.deployments) {
    const rolling = d.spec?.strategy?.rollingUpdate;
    objects.push({
      kind: "Deployment",
      ...meta(d.metadata),
      template: d.spec?.template ?? {},
      replicas: d.spec?.replicas ?? 1,
      readyReplicas: d.status?.readyReplicas ?? 0,
      strategy: {
        type: d.spec?.strategy?.type ?? "RollingUpdate",
        ...(rolling?.maxUnavailable !== undefined ? { maxUnavailable: rolling.maxUnavailable as number | string } : {}),
        ...(rolling?.maxSurge !== undefined ? { maxSurge: rolling.maxSurge as number | string } : {}),
      },
    });
  }
  for (const s of cluster.statefulsets) {
    const rolling = s.spec?.updateStrategy?.rollingUpdate as { maxUnavailable?: number | string } | undefined;
    objects.push({
      kind: "StatefulSet",
      ...meta(s.metadata),
      template: s.spec?.template ?? {},
      replicas: s.spec?.replicas ?? 1,
      readyReplicas: s.status?.readyReplicas ?? 0,
      strategy: {
        type: s.spec?.updateStrategy?.type ?? "RollingUpdate",
        ...(rolling?.maxUnavailable !== undefined ? { maxUnavailable: rolling.maxUnavailable } : {}),
        ...(s.spec?.podManagementPolicy ? { podManagementPolicy: s.spec.podManagementPolicy } : {}),
      },
    });
  }
  for (const ds of cluster.daemonsets) {
    const rolling = ds.spec?.updateStrategy?.rollingUpdate;
    objects.push({
      kind: "DaemonSet",
      ...meta(ds.metadata),
      template: ds.spec?.template ?? {},
      replicas: ds.status?.desiredNumberScheduled ?? 0,
      readyReplicas: ds.status?.numberReady ?? 0,
      strategy: {
        type: ds.spec?.updateStrategy?.type ?? "RollingUpdate",
        ...(rolling?.maxUnavailable !== undefined ? { maxUnavailable: rolling.maxUnavailable as number | string } : {}),
        ...(rolling?.maxSurge !== undefined ? { maxSurge: rolling.maxSurge as number | string } : {}),
        desiredScheduled: ds.status?.desiredNumberScheduled ?? 0,
      },
    });
  }
  return objects;
}

/** Pods without a controller are workloads of their own; pods of other owners are said to be skipped. */
function barePods(selectedPods: V1Pod[], podsOf: Map<string, V1Pod[]>, access: Access): WorkloadObject[] {
  const objects: WorkloadObject[] = [];
  const otherOwners = new Map<string, number>();
  for (const p of selectedPods) {
    const owner = p.metadata?.ownerReferences?.find((r) => r.controller);
    if (!owner) {
      objects.push({
        kind: "Pod",
        uid: p.metadata?.uid ?? "",
        namespace: p.metadata?.namespace ?? "",
        name: p.metadata?.name ?? "",
        template: { metadata: { labels: p.metadata?.labels ?? {} }, spec: p.spec },
        replicas: 1,
        readyReplicas: isReady(p) ? 1 : 0,
      });
      podsOf.set(p.metadata?.uid ?? "", [p]);
    } else if (!["ReplicaSet", "StatefulSet", "DaemonSet"].includes(owner.kind)) {
      otherOwners.set(owner.kind, (otherOwners.get(owner.kind) ?? 0) + 1);
    }
  }
  for (const [kind, n] of otherOwners) {
    access.skipped.push(
      `${n} pod(s) owned by a ${kind}${kind === "Node" ? " (static pods: the kubelet runs them from files)" : kind === "Job" ? " (run-to-completion, not serving)" : ""}`,
    );
  }
  return objects;
}

/** The images' configuration from the local engine, each image read once. */
function imageReader(o: ClusterCollectOptions): (ref: string | undefined) => Promise<ImageInspect | undefined> {
  const imageCache = new Map<string, Promise<ImageInspect | undefined>>();
  return (ref) => {
    if (!ref || !o.imageConfig) return Promise.resolve(undefined);
    let p = imageCache.get(ref);
    if (!p) {
      p = o.imageConfig(ref).catch(() => undefined);
      imageCache.set(ref, p);
    }
    return p;
  };
}

/** A container's facts with its live process tree when an opt-in allows reading it (else why not). */
async function liveContainerFacts(
  o: ClusterCollectOptions,
  w: WorkloadObject,
  rep: V1Pod | undefined,
  facts: ContainerFacts,
  access: Access,
  reads: Reads,
): Promise<ContainerFacts> {
  const status = rep?.status?.containerStatuses?.find((s) => s.name === facts.name);
  const req: Pid1Request | undefined =
    rep?.metadata?.name && status?.containerID
      ? {
          namespace: w.namespace,
          pod: rep.metadata.name,
          container: facts.name,
          ...(rep.spec?.nodeName ? { nodeName: rep.spec.nodeName } : {}),
          containerID: status.containerID,
        }
      : undefined;
  if (!req || !status?.state?.running) {
    facts.inspectionSkipped = rep
      ? `container ${facts.name} of ${rep.metadata?.name} is not running`
      : "no running pod";
  } else if (!o.nodeExec && !o.exec) {
    facts.inspectionSkipped =
      o.backend === "kind"
        ? "read-only audit: the live process tree needs --node-access (docker exec on the kind node) or --exec (pods/exec)"
        : "read-only audit: the live process tree needs --exec (the Kubernetes exec API, create pods/exec)";
  } else {
    const why = await readProcessTree(o, req, facts, reads);
    if (!facts.inspection) {
      facts.inspectionSkipped = why.join("; ");
      access.refused.push(
        `${w.kind}/${w.namespace}/${w.name} (${facts.name}): ${why.join("; ")}: static findings only`,
      );
    }
  }
  if (facts.inspection) {
    for (const p of facts.inspection.processes)
      for (const port of p.listens) if (!facts.ports.includes(port)) facts.ports.push(port);
  }
  return facts;
}

/** Node access first (and the entrypoint script through it), then the exec API; returns why each failed. */
async function readProcessTree(
  o: ClusterCollectOptions,
  req: Pid1Request,
  facts: ContainerFacts,
  reads: Reads,
): Promise<string[]> {
  const why: string[] = [];
  if (o.nodeExec && req.nodeName && req.containerID) {
    const node = o.nodeExec(req.nodeName);
    try {
      facts.inspection = await inspectOnNode(node, req.containerID, `docker exec ${req.nodeName}`);
      reads.node++;
      const s = scriptPathOf(facts.inspection);
      if (s?.hostPid && s.path.startsWith("/")) {
        const text = await node(["cat", `/proc/${s.hostPid}/root${s.path}`]).catch(() => undefined);
        if (text !== undefined) {
          facts.script = { path: s.path, text: text.slice(0, 64 * 1024) };
          reads.script++;
        }
      }
    } catch (err) {
      why.push(`node access (docker exec ${req.nodeName}): ${errText(err)}`);
    }
  } else if (o.nodeExec) {
    why.push("node access: the pod has no node or container id");
  }
  if (!facts.inspection && o.exec) {
    const read = o.podExecInspect ?? ((r: Pid1Request, n: string[]) => inspectViaPodExec(o.kc, r, n));
    const inspection = await read(
      req,
      why.map((x) => `${x}: read through the exec API instead`),
    );
    if (inspection.processes.length > 0) {
      facts.inspection = inspection;
      reads.exec++;
    } else {
      why.push(
        `exec API (pods/exec): ${inspection.notes.filter((n) => !why.some((x) => n.startsWith(x))).join("; ") || "nothing read"}`,
      );
    }
  }
  return why;
}

/** One workload's facts: its containers, Services, budgets, grace and rollout strategy. */
function workloadFacts(
  backend: ClusterCollectOptions["backend"],
  w: WorkloadObject,
  wPods: V1Pod[],
  rep: V1Pod | undefined,
  containers: ContainerFacts[],
  cluster: ClusterObjects,
): WorkloadFacts {
  const labels = w.template.metadata?.labels ?? {};
  const exposedBy = cluster.services
    ?.filter((s) => s.metadata?.namespace === w.namespace && serviceSelects(s.spec?.selector, labels))
    .map((s) => s.metadata?.name ?? "?");
  const budgets = cluster.pdbs
    ?.filter(
      (b) => b.metadata?.namespace === w.namespace && selects(b.spec?.selector, labels, cluster.pdbApi === "policy/v1"),
    )
    .map((b) => ({
      name: b.metadata?.name ?? "?",
      ...(b.spec?.minAvailable !== undefined ? { minAvailable: b.spec.minAvailable } : {}),
      ...(b.spec?.maxUnavailable !== undefined ? { maxUnavailable: b.spec.maxUnavailable } : {}),
    }));
  const grace = w.template.spec?.terminationGracePeriodSeconds;
  return {
    backend,
    kind: w.kind,
    namespace: w.namespace,
    name: w.name,
    id: `${w.kind}/${w.namespace}/${w.name}`,
    ...(w.replicas !== undefined ? { replicas: w.replicas } : {}),
    ...(w.readyReplicas !== undefined ? { readyReplicas: w.readyReplicas } : {}),
    instances: wPods.map((p) => p.metadata?.name ?? "?").sort(),
    ...(rep?.metadata?.name ? { inspected: rep.metadata.name } : {}),
    grace:
      typeof grace === "number"
        ? { seconds: grace, from: "terminationGracePeriodSeconds" }
        : { seconds: 30, from: "Kubernetes' default terminationGracePeriodSeconds (30 s)" },
    ...(w.strategy ? { strategy: w.strategy } : {}),
    ...(budgets !== undefined ? { pdbs: budgets } : {}),
    ...(exposedBy !== undefined ? { exposedBy } : {}),
    containers,
    notes: containers.flatMap((c) => c.notes.map((n) => `${c.name}: ${n}`)),
  };
}

/** The reads beyond the API, in the report's words. */
function readsUsed(reads: Reads): string[] {
  const used: string[] = [];
  if (reads.image > 0)
    used.push("local Docker engine, read-only: docker image inspect (ENTRYPOINT, CMD, STOPSIGNAL of the images)");
  if (reads.node > 0) {
    used.push(
      `docker exec on the kind node(s): crictl inspect + /proc/<pid>/… of ${reads.node} container(s) (opt-in --node-access; root on the node)`,
    );
  }
  if (reads.script > 0) used.push("the node's /proc/<pid>/root/<entrypoint script>, read through the same docker exec");
  if (reads.exec > 0)
    used.push(`Kubernetes exec API (create pods/exec) into ${reads.exec} container(s) (opt-in --exec)`);
  return used;
}
