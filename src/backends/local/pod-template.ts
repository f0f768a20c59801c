// A pod template (the user's manifests, after the scenario's overrides) → what Docker must create to run
// one pod as a kubelet would: a holder owning the network namespace and publishing the pod's ports on
// 127.0.0.1, every container joined to it; env and envFrom resolved from the manifests' ConfigMaps and
// Secrets; their volumes as files; command/args with Kubernetes' meaning. Pure: no I/O.
import type {
  KubernetesObject,
  V1Container,
  V1EnvFromSource,
  V1EnvVar,
  V1LifecycleHandler,
  V1PodTemplateSpec,
  V1Probe,
  V1Volume,
} from "@kubernetes/client-node";
import type { PreStop } from "../../scenario/schema.js";
import { UsageError } from "../../util/errors.js";

/** The subset of Docker's container-create body the local runtime uses (dockerode's ContainerCreateOptions). */
export interface DockerCreate {
  name: string;
  Image: string;
  Entrypoint?: string[];
  Cmd?: string[];
  Env: string[];
  WorkingDir?: string;
  Hostname?: string;
  Labels: Record<string, string>;
  ExposedPorts?: Record<string, object>;
  HostConfig: {
    NetworkMode?: string;
    Binds?: string[];
    PortBindings?: Record<string, Array<{ HostIp: string; HostPort: string }>>;
  };
}

/** A probe's action with its port resolved to a number. */
export type ProbeAction =
  | { type: "httpGet"; path: string; port: number }
  | { type: "tcpSocket"; port: number }
  | { type: "exec"; command: string[] };

/** A probe as the kubelet runs it (the API's defaults filled). */
export interface ProbePlan {
  action: ProbeAction;
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  successThreshold: number;
  failureThreshold: number;
}

export type ContainerRole = "app" | "sidecar" | "native-sidecar";

/** One container of the pod, ready to create. */
export interface ContainerPlan {
  name: string;
  image: string;
  /** "init": a plain init container, run to completion before the next one starts. */
  role: ContainerRole | "init";
  create: DockerCreate;
  readiness?: ProbePlan;
  startup?: ProbePlan;
  /** lifecycle.preStop as the termination sequence runs it (httpGet: its port resolved). */
  preStop: PreStop;
  /** lifecycle.stopSignal (Kubernetes 1.33+), when set. */
  stopSignal?: string;
}

export interface PodPlan {
  holder: DockerCreate;
  /** In the kubelet's start order: native sidecars and init containers as listed, then the regular ones. */
  containers: ContainerPlan[];
  /** Container ports the holder publishes on 127.0.0.1 (the Service's, every declared one, probes', hooks'). */
  ports: number[];
  /** Files to write before any container starts (ConfigMap/Secret volumes), and empty directories. */
  files: Array<{ path: string; content: Buffer }>;
  directories: string[];
  /** Things of the template the local runtime approximates, for the report. */
  notes: string[];
}

export interface PodTemplateInput {
  template: V1PodTemplateSpec;
  /** Every object of the run (the ConfigMaps and Secrets pods read are among them). */
  objects: KubernetesObject[];
  /** The container the Service's port reaches, and that port. */
  appContainer: string;
  appPort: number;
  pod: string;
  labels: Record<string, string>;
  /** Host directory of this pod's volumes (the caller creates and removes it). */
  volumeDir: string;
  /** Whether the scenario's Kubernetes version runs native sidecars (1.29+). */
  nativeSidecars: boolean;
}

type Values = Map<string, string>;

/** A ConfigMap's or Secret's values by key (Secret data base64-decoded, stringData as written). */
function valuesOf(objects: KubernetesObject[], kind: "ConfigMap" | "Secret", name: string): Values | undefined {
  const o = objects.find((x) => x.kind === kind && x.metadata?.name === name) as
    | (KubernetesObject & { data?: Record<string, string>; stringData?: Record<string, string> })
    | undefined;
  if (!o) return undefined;
  const data = Object.entries(o.data ?? {}).map(([k, v]): [string, string] => [
    k,
    kind === "Secret" ? Buffer.from(v, "base64").toString("utf8") : v,
  ]);
  return new Map([...data, ...Object.entries(o.stringData ?? {})]);
}

function required(
  input: PodTemplateInput,
  kind: "ConfigMap" | "Secret",
  name: string,
  optional: boolean | undefined,
  where: string,
) {
  const values = valuesOf(input.objects, kind, name);
  if (values === undefined && !optional)
    throw new UsageError(`${where}: ${kind} "${name}" is not in the manifests (the pod could not start)`);
  return values ?? new Map<string, string>();
}

/** $(VAR) references to variables defined before, as the kubelet expands them ($$ escapes). */
export function expandVars(text: string, env: Values): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name: string | undefined) =>
    name === undefined ? "$" : (env.get(name) ?? m),
  );
}

function envFrom(c: V1Container, sources: V1EnvFromSource[], input: PodTemplateInput, env: Values): void {
  for (const s of sources) {
    const ref = s.configMapRef ?? s.secretRef;
    if (!ref?.name) continue;
    const kind = s.configMapRef ? "ConfigMap" : "Secret";
    const values = required(input, kind, ref.name, ref.optional, `container ${c.name} envFrom`);
    for (const [k, v] of values) env.set(`${s.prefix ?? ""}${k}`, v);
  }
}

function envValue(c: V1Container, v: V1EnvVar, input: PodTemplateInput, env: Values, notes: string[]) {
  if (v.valueFrom === undefined) return expandVars(v.value ?? "", env);
  const { configMapKeyRef: cm, secretKeyRef: secret, fieldRef } = v.valueFrom;
  const keyRef = cm ?? secret;
  if (keyRef) {
    const kind = cm ? "ConfigMap" : "Secret";
    const where = `container ${c.name} env ${v.name}`;
    const value = required(input, kind, keyRef.name ?? "", keyRef.optional, where).get(keyRef.key);
    if (value === undefined && !keyRef.optional)
      throw new UsageError(`${where}: ${kind} "${keyRef.name}" has no key "${keyRef.key}"`);
    return value;
  }
  if (fieldRef?.fieldPath === "metadata.name") return input.pod;
  if (fieldRef?.fieldPath === "status.podIP" || fieldRef?.fieldPath === "status.hostIP") return "127.0.0.1";
  notes.push(`container ${c.name} env ${v.name}: ${fieldRef?.fieldPath ?? "valueFrom"} is not known locally (unset)`);
  return undefined;
}

/** envFrom first, then env (which wins), in order, $(VAR) expanded. */
export function containerEnv(c: V1Container, input: PodTemplateInput, notes: string[]): Values {
  const env: Values = new Map();
  envFrom(c, c.envFrom ?? [], input, env);
  for (const v of c.env ?? []) {
    const value = envValue(c, v, input, env, notes);
    if (value !== undefined) env.set(v.name, value);
  }
  return env;
}

/** A port given by number or by the name of one of the container's ports. */
function portOf(c: V1Container, port: number | string | undefined, what: string): number {
  if (typeof port === "number") return port;
  const named = (c.ports ?? []).find((p) => p.name === port);
  if (named) return named.containerPort;
  const n = Number(port);
  if (Number.isInteger(n) && n > 0) return n;
  throw new UsageError(`container ${c.name} ${what}: port ${JSON.stringify(port)} is not one of its ports`);
}

function probeAction(c: V1Container, p: V1Probe, what: string): ProbeAction | undefined {
  if (p.httpGet) return { type: "httpGet", path: p.httpGet.path ?? "/", port: portOf(c, p.httpGet.port, what) };
  if (p.tcpSocket) return { type: "tcpSocket", port: portOf(c, p.tcpSocket.port, what) };
  if (p.exec?.command?.length) return { type: "exec", command: p.exec.command };
  return undefined;
}

/** The API's probe defaults: period 10 s, timeout 1 s, success 1, failure 3. */
export function probePlan(c: V1Container, p: V1Probe | undefined, what: string): ProbePlan | undefined {
  const action = p && probeAction(c, p, what);
  if (!p || !action) return undefined;
  return {
    action,
    initialDelayMs: (p.initialDelaySeconds ?? 0) * 1000,
    periodMs: (p.periodSeconds ?? 10) * 1000,
    timeoutMs: (p.timeoutSeconds ?? 1) * 1000,
    successThreshold: p.successThreshold ?? 1,
    failureThreshold: p.failureThreshold ?? 3,
  };
}

/** lifecycle.preStop → the sequence's hook (the kubelet's forms: exec, httpGet, sleep). */
export function preStopPlan(c: V1Container, h: V1LifecycleHandler | undefined): PreStop {
  if (h?.sleep) return { type: "sleep", seconds: h.sleep.seconds };
  if (h?.exec?.command?.length) return { type: "exec", command: h.exec.command };
  if (h?.httpGet)
    return { type: "httpGet", path: h.httpGet.path ?? "/", port: portOf(c, h.httpGet.port, "preStop httpGet") };
  return { type: "none" };
}

/** Kubernetes' command/args: command replaces the ENTRYPOINT (and drops the CMD), args replace the CMD. */
export function entrypointAndCmd(c: V1Container, env: Values): Pick<DockerCreate, "Entrypoint" | "Cmd"> {
  const expand = (xs: string[]) => xs.map((x) => expandVars(x, env));
  const command = c.command?.length ? expand(c.command) : undefined;
  const args = c.args ? expand(c.args) : undefined;
  if (command) return { Entrypoint: command, Cmd: args ?? [] };
  return args ? { Cmd: args } : {};
}

/** Files of a ConfigMap/Secret volume: every key, or the items' key → path. */
function volumeFiles(v: V1Volume, input: PodTemplateInput): Array<{ path: string; content: string }> | undefined {
  const source = v.configMap ?? v.secret;
  if (!source) return undefined;
  const kind = v.configMap ? "ConfigMap" : "Secret";
  const name = v.configMap?.name ?? v.secret?.secretName ?? "";
  const values = required(input, kind, name, source.optional, `volume ${v.name}`);
  const items = source.items ?? [...values.keys()].map((key) => ({ key, path: key }));
  return items.flatMap((i) => {
    const content = values.get(i.key);
    if (content === undefined && !source.optional)
      throw new UsageError(`volume ${v.name}: ${kind} "${name}" has no key "${i.key}"`);
    return content === undefined ? [] : [{ path: i.path, content }];
  });
}

/** The pod's volumes on the host: ConfigMap/Secret files, every other kind an empty directory. */
function podVolumes(input: PodTemplateInput, plan: Pick<PodPlan, "files" | "directories" | "notes">) {
  const dirs = new Map<string, { dir: string; readOnly: boolean }>();
  for (const v of input.template.spec?.volumes ?? []) {
    if (v.name.includes("/") || v.name.startsWith(".")) throw new UsageError(`volume ${v.name}: not a valid name`);
    const dir = `${input.volumeDir}/${v.name}`;
    // The kubelet mounts ConfigMap and Secret volumes read-only whatever the mount says.
    dirs.set(v.name, { dir, readOnly: Boolean(v.configMap ?? v.secret) });
    plan.directories.push(dir);
    for (const f of volumeFiles(v, input) ?? []) {
      if (f.path.split("/").includes("..")) throw new UsageError(`volume ${v.name}: item path ${f.path} leaves it`);
      plan.files.push({ path: `${dir}/${f.path}`, content: Buffer.from(f.content) });
    }
  }
  return dirs;
}

function binds(c: V1Container, dirs: Map<string, { dir: string; readOnly: boolean }>): string[] {
  return (c.volumeMounts ?? []).map((m) => {
    const volume = dirs.get(m.name);
    if (volume === undefined) throw new UsageError(`container ${c.name} volumeMounts ${m.name}: no such volume`);
    if (m.subPath?.split("/").includes(".."))
      throw new UsageError(`container ${c.name} volumeMounts ${m.name}: subPath leaves it`);
    const source = m.subPath ? `${volume.dir}/${m.subPath}` : volume.dir;
    return `${source}:${m.mountPath}${m.readOnly || volume.readOnly ? ":ro" : ""}`;
  });
}

/** Every port the host must reach: declared ports, probes' and hooks' (all published on 127.0.0.1). */
function podPorts(containers: ContainerPlan[], declared: V1Container[], appPort: number): number[] {
  const ports = new Set<number>([appPort]);
  for (const c of declared)
    for (const p of c.ports ?? []) if ((p.protocol ?? "TCP") === "TCP") ports.add(p.containerPort);
  for (const c of containers) {
    for (const p of [c.readiness, c.startup]) if (p && p.action.type !== "exec") ports.add(p.action.port);
    if (c.preStop.type === "httpGet" && c.preStop.port !== undefined) ports.add(c.preStop.port);
  }
  return [...ports].sort((a, b) => a - b);
}

function roleOf(c: V1Container, init: boolean, input: PodTemplateInput): ContainerPlan["role"] {
  if (init) return c.restartPolicy === "Always" && input.nativeSidecars ? "native-sidecar" : "init";
  return c.name === input.appContainer ? "app" : "sidecar";
}

function containerPlan(
  c: V1Container,
  init: boolean,
  input: PodTemplateInput,
  dirs: Map<string, { dir: string; readOnly: boolean }>,
  notes: string[],
) {
  const env = containerEnv(c, input, notes);
  const role = roleOf(c, init, input);
  const plan: ContainerPlan = {
    name: c.name,
    image: c.image ?? "",
    role,
    create: {
      name: `${input.pod}-${c.name}`,
      Image: c.image ?? "",
      ...entrypointAndCmd(c, env),
      Env: [...env].map(([k, v]) => `${k}=${v}`),
      ...(c.workingDir ? { WorkingDir: c.workingDir } : {}),
      Labels: { ...input.labels, "graceful-e2e.container": c.name },
      HostConfig: { NetworkMode: `container:${input.pod}`, Binds: binds(c, dirs) },
    },
    preStop: preStopPlan(c, c.lifecycle?.preStop),
    ...(c.lifecycle?.stopSignal ? { stopSignal: c.lifecycle.stopSignal } : {}),
  };
  const readiness = role === "init" ? undefined : probePlan(c, c.readinessProbe, "readinessProbe");
  const startup = role === "init" ? undefined : probePlan(c, c.startupProbe, "startupProbe");
  if (readiness) plan.readiness = readiness;
  if (startup) plan.startup = startup;
  return plan;
}

/** The holder: sleeps in the first container's image, owns the network namespace, publishes the ports. */
function holder(input: PodTemplateInput, image: string, ports: number[]): DockerCreate {
  const key = (p: number) => `${p}/tcp`;
  return {
    name: input.pod,
    Image: image,
    Entrypoint: ["sleep", "infinity"],
    Cmd: [],
    Env: [],
    Hostname: input.pod,
    Labels: { ...input.labels, "graceful-e2e.container": "(pod)" },
    ExposedPorts: Object.fromEntries(ports.map((p) => [key(p), {}])),
    HostConfig: {
      PortBindings: Object.fromEntries(ports.map((p) => [key(p), [{ HostIp: "127.0.0.1", HostPort: "" }]])),
    },
  };
}

/**
 * A native sidecar serving the Service's port on a kubelet before 1.29: there it is a plain init container,
 * which a server never completes, so the pod never starts (a cluster shows it in Init:0/1).
 */
export function servingSidecarTooEarly(container: string, version: string): string {
  return (
    `the Service's port is served by ${container}, an initContainer with restartPolicy Always (a native ` +
    `sidecar): Kubernetes ${version} (local.kubernetesVersion) has no native sidecars (1.29+), so it is a plain ` +
    "init container there, which a server never completes: the pod would never start (Init:0/1 on a cluster)"
  );
}

function noServingContainer(input: PodTemplateInput, init: V1Container[]): string {
  const sidecar = init.find((c) => c.name === input.appContainer && c.restartPolicy === "Always");
  return sidecar === undefined
    ? `pod ${input.pod}: no container named ${input.appContainer} serves the Service's port`
    : `pod ${input.pod}: ${servingSidecarTooEarly(sidecar.name, "before 1.29")}`;
}

/** The pod template → the holder, the containers in start order, the ports and the volume files. */
export function podPlan(input: PodTemplateInput): PodPlan {
  const spec = input.template.spec;
  if (!spec?.containers.length) throw new UsageError(`pod ${input.pod}: the template has no containers`);
  const plan: PodPlan = {
    holder: undefined as never,
    containers: [],
    ports: [],
    files: [],
    directories: [],
    notes: [],
  };
  const dirs = podVolumes(input, plan);
  const init = (spec.initContainers ?? []).map((c) => containerPlan(c, true, input, dirs, plan.notes));
  const regular = spec.containers.map((c) => containerPlan(c, false, input, dirs, plan.notes));
  plan.containers = [...init, ...regular];
  if (!plan.containers.some((c) => c.name === input.appContainer && c.role !== "init"))
    throw new UsageError(noServingContainer(input, spec.initContainers ?? []));
  plan.ports = podPorts(plan.containers, [...(spec.initContainers ?? []), ...spec.containers], input.appPort);
  plan.holder = holder(input, spec.containers[0]?.image ?? "", plan.ports);
  if (!input.nativeSidecars && (spec.initContainers ?? []).some((c) => c.restartPolicy === "Always"))
    plan.notes.push(
      "initContainers with restartPolicy Always run as plain init containers: the scenario's Kubernetes version has no native sidecars (< 1.29)",
    );
  return plan;
}
