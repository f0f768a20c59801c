// Collects what the audit needs from the local Docker engine, read-only: the running containers
// (all, or those matching --filter / --compose-project), each one's configuration and its image's,
// and the live process tree read from the host's /proc (docker top's host PIDs; no exec, no signal).
// Compose services are recognised by the com.docker.compose.* labels Compose puts on their
// containers: no compose binary needed. docker exec (to read the tree when the host's /proc is not
// the daemon's) is opt-in: --exec.
import { readFile, readlink } from "node:fs/promises";
import { isAbsolute, join, normalize } from "node:path";
import { getContainerRuntimeClient } from "testcontainers";
import { isInit, isShell } from "../inspect/predict.js";
import { normalizeSignal } from "../inspect/servers.js";
import type { ProcessTreeInspection } from "../model/process-tree.js";
import { inspectProcessTree, inspectProcessTreeFromHost } from "../observe/process-tree.js";
import { UsageError } from "../util/errors.js";
import { LABEL_ROOT } from "../util/labels.js";
import { configureTestcontainersOffline } from "../util/testcontainers-env.js";
import type { ContainerFacts, WorkloadFacts } from "./types.js";

export const COMPOSE_PROJECT = "com.docker.compose.project";
export const COMPOSE_SERVICE = "com.docker.compose.service";
export const COMPOSE_NUMBER = "com.docker.compose.container-number";
export const COMPOSE_ONEOFF = "com.docker.compose.oneoff";
/** The local backend's emulated pods (transient, made by graceful-e2e runs): not audited by default. */
export const HARNESS_POD_LABEL = `${LABEL_ROOT}.pod`;
const KIND_NODE_LABEL = "io.x-k8s.kind.cluster";
/** Docker's stop timeout when the container sets none (docker stop -t, compose stop_grace_period). */
export const DOCKER_DEFAULT_STOP_TIMEOUT = 10;

interface HealthConfig {
  Test?: string[];
  Interval?: number;
}

/** The parts of `docker container inspect` the audit reads. */
export interface ContainerInspect {
  Id: string;
  Name: string;
  Image: string;
  State: { Running: boolean; Pid?: number; StartedAt?: string };
  Config: {
    Image?: string;
    Cmd?: string[] | null;
    Entrypoint?: string[] | null;
    Labels?: Record<string, string> | null;
    StopSignal?: string;
    StopTimeout?: number;
    Healthcheck?: HealthConfig;
    ExposedPorts?: Record<string, unknown> | null;
  };
  NetworkSettings?: { Ports?: Record<string, Array<{ HostIp: string; HostPort: string }> | null> | null };
}

/** The parts of `docker image inspect` the audit reads. */
export interface ImageInspect {
  Id: string;
  RepoTags?: string[];
  Config?: {
    Cmd?: string[] | null;
    Entrypoint?: string[] | null;
    StopSignal?: string;
    Healthcheck?: HealthConfig;
  };
}

/** Read-only Docker calls (injectable for tests). */
export interface DockerReader {
  listRunning(filters: {
    label: string[];
    name: string[];
  }): Promise<Array<{ Id: string; Names: string[]; Labels: Record<string, string> }>>;
  inspectContainer(id: string): Promise<ContainerInspect>;
  inspectImage(ref: string): Promise<ImageInspect | undefined>;
  version(): Promise<string>;
}

export async function dockerReader(): Promise<DockerReader> {
  configureTestcontainersOffline();
  const client = await getContainerRuntimeClient();
  const docker = client.container.dockerode;
  return {
    listRunning: async (f) =>
      (await docker.listContainers({
        filters: {
          status: ["running"],
          ...(f.label.length > 0 ? { label: f.label } : {}),
          ...(f.name.length > 0 ? { name: f.name } : {}),
        },
      })) as Array<{ Id: string; Names: string[]; Labels: Record<string, string> }>,
    inspectContainer: async (id) => (await docker.getContainer(id).inspect()) as unknown as ContainerInspect,
    inspectImage: async (ref) =>
      (await docker
        .getImage(ref)
        .inspect()
        .catch(() => undefined)) as ImageInspect | undefined,
    version: async () => {
      const v = (await docker.version()) as { Version?: string; Os?: string };
      const info = (await docker.info().catch(() => ({}))) as { OperatingSystem?: string };
      return `Docker ${v.Version ?? "?"}${info.OperatingSystem ? ` (${info.OperatingSystem})` : ""}`;
    },
  };
}

export interface LocalFilters {
  label: string[];
  name: string[];
}

/** `label=key`, `label=key=value`, `name=text` (docker ps --filter syntax; other keys refused). Pure. */
export function parseLocalFilters(
  filters: readonly string[],
  composeProject?: string,
  selector?: string,
): LocalFilters {
  const out: LocalFilters = { label: [], name: [] };
  for (const f of filters) {
    const eq = f.indexOf("=");
    const key = eq > 0 ? f.slice(0, eq) : "";
    const value = eq > 0 ? f.slice(eq + 1) : "";
    if (key === "label" && /^[^=\s]+(=[^\s]*)?$/.test(value)) out.label.push(value);
    else if (key === "name" && value.trim() !== "") out.name.push(value);
    else
      throw new UsageError(`--filter ${f}: expected label=<key>[=<value>] or name=<text> (docker ps --filter syntax)`);
  }
  if (composeProject !== undefined) {
    if (!/^[a-z0-9][a-z0-9_-]*$/.test(composeProject)) {
      throw new UsageError(
        `--compose-project ${composeProject}: not a Compose project name (lower-case letters, digits, _ and -)`,
      );
    }
    out.label.push(`${COMPOSE_PROJECT}=${composeProject}`);
  }
  for (const part of (selector ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (!/^[^=!\s]+(=[^=\s]*)?$/.test(part)) {
      throw new UsageError(`--selector ${selector}: on the local backend only key or key=value terms, comma-separated`);
    }
    out.label.push(part);
  }
  return out;
}

function describeHealthcheck(h: HealthConfig | undefined): string | null {
  const test = h?.Test ?? [];
  if (test.length === 0 || test[0] === "NONE") return null;
  const kind = test[0] === "CMD-SHELL" ? test.slice(1).join(" ") : JSON.stringify(test.slice(1));
  return `HEALTHCHECK ${kind}`;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** The container's audit facts from `docker inspect` of it and of its image. Pure. */
export function containerFactsFromInspect(ci: ContainerInspect, image: ImageInspect | undefined): ContainerFacts {
  const cfg = ci.Config;
  const argv = [...(cfg.Entrypoint ?? []), ...(cfg.Cmd ?? [])];
  const imageArgv = image ? [...(image.Config?.Entrypoint ?? []), ...(image.Config?.Cmd ?? [])] : undefined;
  const overrides = imageArgv !== undefined && !same(imageArgv, argv);
  const imageStop = image?.Config?.StopSignal;
  const stopSignal = cfg.StopSignal
    ? {
        signal: normalizeSignal(cfg.StopSignal),
        from:
          imageStop && normalizeSignal(imageStop) === normalizeSignal(cfg.StopSignal)
            ? "the image's STOPSIGNAL"
            : "the container's stop signal (compose stop_signal, docker run --stop-signal)",
      }
    : imageStop
      ? { signal: normalizeSignal(imageStop), from: "the image's STOPSIGNAL" }
      : { signal: "SIGTERM", from: "default" };
  const ports = Object.keys(cfg.ExposedPorts ?? {})
    .map((p) => Number(p.split("/")[0]))
    .filter((n) => Number.isInteger(n) && n > 0);
  const notes: string[] = [];
  if (overrides)
    notes.push(
      `the container overrides the image's command: image ${JSON.stringify(imageArgv)}, container ${JSON.stringify(argv)}`,
    );
  return {
    name: ci.Name.replace(/^\//, ""),
    image: cfg.Image ?? ci.Image,
    imageId: ci.Image,
    ...(argv.length > 0
      ? {
          command: {
            argv,
            from: overrides
              ? "container config (overrides the image: compose command:/entrypoint:, docker run arguments)"
              : `image config (ENTRYPOINT/CMD of ${cfg.Image ?? ci.Image})`,
          },
        }
      : {}),
    stopSignal,
    readiness: describeHealthcheck(cfg.Healthcheck ?? image?.Config?.Healthcheck),
    ports,
    notes,
  };
}

/** Groups containers into workloads: one per Compose service, else one per container. Pure. */
export function groupLocal(
  containers: Array<{ inspect: ContainerInspect; facts: ContainerFacts }>,
): Array<{ kind: "ComposeService" | "Container"; project?: string; name: string; members: typeof containers }> {
  const groups = new Map<
    string,
    { kind: "ComposeService" | "Container"; project?: string; name: string; members: typeof containers }
  >();
  for (const c of containers) {
    const labels = c.inspect.Config.Labels ?? {};
    const project = labels[COMPOSE_PROJECT];
    const service = labels[COMPOSE_SERVICE];
    const key = project && service ? `compose/${project}/${service}` : `container/${c.facts.name}`;
    const g =
      groups.get(key) ??
      (project && service
        ? { kind: "ComposeService" as const, project, name: service, members: [] }
        : { kind: "Container" as const, name: c.facts.name, members: [] });
    g.members.push(c);
    groups.set(key, g);
  }
  for (const g of groups.values()) {
    g.members.sort(
      (a, b) =>
        Number(a.inspect.Config.Labels?.[COMPOSE_NUMBER] ?? 0) -
          Number(b.inspect.Config.Labels?.[COMPOSE_NUMBER] ?? 0) || a.facts.name.localeCompare(b.facts.name),
    );
  }
  return [...groups.values()];
}

/** A script path PID 1 runs (a shell's first operand), checked to be a plain absolute path. */
export function scriptPathOf(inspection: ProcessTreeInspection): { path: string; hostPid?: number } | undefined {
  const pid1 = inspection.processes.find((p) => p.pid === 1);
  if (!pid1) return undefined;
  const shell = isShell(pid1)
    ? pid1
    : isInit(pid1)
      ? inspection.processes.find((p) => p.ppid === 1 && isShell(p))
      : undefined;
  const path = shell?.argv.slice(1).find((a) => !a.startsWith("-"));
  if (!shell || !path || shell.argv.includes("-c")) return undefined;
  if (!/^[\w./+-]+$/.test(path) || path.split("/").includes("..")) return undefined;
  return { path, ...(shell.hostPid !== undefined ? { hostPid: shell.hostPid } : {}) };
}

/** Reads a script of the container through the host's /proc/<pid>/root (read-only, no exec). */
async function readScriptFromHost(
  inspection: ProcessTreeInspection,
): Promise<{ path: string; text: string } | undefined> {
  if (inspection.source !== "host-proc") return undefined;
  const s = scriptPathOf(inspection);
  if (!s?.hostPid) return undefined;
  const cwd = isAbsolute(s.path) ? "/" : await readlink(`/proc/${s.hostPid}/cwd`).catch(() => undefined);
  if (cwd === undefined) return undefined;
  const inside = normalize(join(cwd, s.path));
  const text = await readFile(`/proc/${s.hostPid}/root${inside}`, "utf8").catch(() => undefined);
  return text !== undefined ? { path: inside, text: text.slice(0, 64 * 1024) } : undefined;
}

export interface LocalCollectOptions {
  filters: LocalFilters;
  /** Opt-in: docker exec into containers when the host's /proc cannot be read. */
  exec: boolean;
  /** Audit the local backend's own emulated pods too. */
  includeHarness?: boolean;
  docker?: DockerReader;
  /** Injectable for tests: the live readings. */
  readHost?: (id: string) => Promise<ProcessTreeInspection>;
  readExec?: (id: string) => Promise<ProcessTreeInspection>;
}

export interface Collected {
  workloads: WorkloadFacts[];
  platform: Record<string, string>;
  used: string[];
  refused: string[];
  skipped: string[];
  notes: string[];
}

const errorText = (err: unknown) => (err instanceof Error ? (err.message.split("\n")[0] ?? err.message) : String(err));

/** A running container and the facts read of it. */
type LocalContainer = { inspect: ContainerInspect; facts: ContainerFacts };

/** What the live readings used, counted. */
interface LiveReads {
  host: number;
  script: number;
  exec: number;
}

/** Why a listed container is not audited (the harness's own replicas, kind nodes, one-off runs), if so. */
function skipReason(labels: Record<string, string>, name: string, includeHarness: boolean): string | undefined {
  if (labels[HARNESS_POD_LABEL] !== undefined && !includeHarness) {
    return `${name}: a graceful-e2e run's own replica (label ${HARNESS_POD_LABEL}; --include-harness audits them)`;
  }
  if (labels[KIND_NODE_LABEL] !== undefined) {
    return `${name}: a kind node (audit its workloads with --backend kind --cluster ${labels[KIND_NODE_LABEL]})`;
  }
  if (labels[COMPOSE_ONEOFF] === "True") return `${name}: a one-off docker compose run container`;
  return undefined;
}

/**
 * The container's live process tree (the host's /proc, else docker exec when opted in), its listening
 * ports and its entrypoint script, into `facts`; what could not be read is said there or in `refused`.
 */
async function readLive(
  o: LocalCollectOptions & Required<Pick<LocalCollectOptions, "readHost" | "readExec">>,
  name: string,
  inspect: ContainerInspect,
  facts: ContainerFacts,
  reads: LiveReads,
  refused: string[],
): Promise<void> {
  try {
    facts.inspection = await o.readHost(inspect.Id);
    reads.host++;
  } catch (err) {
    if (o.exec) {
      const viaExec = await o.readExec(inspect.Id);
      if (viaExec.processes.length > 0) {
        facts.inspection = viaExec;
        reads.exec++;
      } else {
        facts.inspectionSkipped = `host /proc not usable (${errorText(err)}); docker exec: ${viaExec.notes.join("; ")}`;
        refused.push(
          `${name}: docker exec could not read the process tree (${viaExec.notes.join("; ")}): static findings only`,
        );
      }
    } else {
      facts.inspectionSkipped =
        `the host's /proc is not the Docker daemon's or not readable here (${errorText(err)}); ` +
        "docker exec was not used (opt in with --exec)";
    }
  }
  if (facts.inspection) {
    for (const p of facts.inspection.processes)
      for (const port of p.listens) if (!facts.ports.includes(port)) facts.ports.push(port);
    const script = await readScriptFromHost(facts.inspection);
    if (script) {
      facts.script = script;
      reads.script++;
    }
  }
}

/** One workload of grouped containers (a Compose service, or a lone container), as its first member shows it. */
function localWorkload(g: ReturnType<typeof groupLocal>[number]): WorkloadFacts {
  const first = g.members[0] as LocalContainer;
  const stopTimeout = first.inspect.Config.StopTimeout;
  const id = g.kind === "ComposeService" ? `compose/${g.project}/${g.name}` : `container/${g.name}`;
  const wnotes: string[] = [];
  const differing = g.members.filter(
    (m) => !same(m.facts.command?.argv, first.facts.command?.argv) || m.facts.image !== first.facts.image,
  );
  if (differing.length > 0)
    wnotes.push(
      `${differing.map((m) => m.facts.name).join(", ")} run another image or command than ${first.facts.name}`,
    );
  return {
    backend: "local",
    kind: g.kind,
    ...(g.project ? { namespace: g.project } : {}),
    name: g.name,
    id,
    replicas: g.members.length,
    readyReplicas: g.members.length,
    instances: g.members.map((m) => m.facts.name),
    inspected: first.facts.name,
    grace:
      typeof stopTimeout === "number"
        ? {
            seconds: stopTimeout,
            from: "the container's stop timeout (compose stop_grace_period, docker run --stop-timeout)",
          }
        : { seconds: DOCKER_DEFAULT_STOP_TIMEOUT, from: "Docker's default stop timeout (10 s)" },
    containers: [{ ...first.facts, name: g.kind === "ComposeService" ? g.name : first.facts.name }],
    notes: [...wnotes, ...first.facts.notes],
  } satisfies WorkloadFacts;
}

/** The live readings used, in words, after the Docker API's. */
function liveReadsUsed(reads: LiveReads): string[] {
  const used: string[] = [];
  if (reads.host > 0)
    used.push(
      "host /proc/<pid>/{status,cmdline,wchan,syscall,cgroup,fd,net/tcp}, read-only, for the host PIDs docker top gave",
    );
  if (reads.script > 0)
    used.push("host /proc/<pid>/root/<entrypoint script>, read-only (what PID 1's script does with SIGTERM)");
  if (reads.exec > 0)
    used.push(`docker exec <container> sh -c 'cat /proc/…' in ${reads.exec} container(s) (opt-in --exec)`);
  return used;
}

export async function collectLocal(o: LocalCollectOptions): Promise<Collected> {
  const docker = o.docker ?? (await dockerReader());
  const opts = { ...o, readHost: o.readHost ?? inspectProcessTreeFromHost, readExec: o.readExec ?? inspectProcessTree };
  const refused: string[] = [];
  const skipped: string[] = [];
  const notes: string[] = [];
  const listed = await docker.listRunning(o.filters);
  const containers: LocalContainer[] = [];
  const reads: LiveReads = { host: 0, script: 0, exec: 0 };
  for (const c of listed) {
    const name = (c.Names[0] ?? c.Id).replace(/^\//, "");
    const skip = skipReason(c.Labels ?? {}, name, o.includeHarness === true);
    if (skip !== undefined) {
      skipped.push(skip);
      continue;
    }
    let inspect: ContainerInspect;
    try {
      inspect = await docker.inspectContainer(c.Id);
    } catch (err) {
      skipped.push(`${name}: gone while the audit read it (${errorText(err)})`);
      continue;
    }
    if (!inspect.State.Running) {
      skipped.push(`${name}: not running`);
      continue;
    }
    const image = await docker.inspectImage(inspect.Image);
    const facts = containerFactsFromInspect(inspect, image);
    await readLive(opts, name, inspect, facts, reads, refused);
    containers.push({ inspect, facts });
  }
  return {
    workloads: groupLocal(containers).map(localWorkload),
    platform: { runtime: await docker.version().catch(() => "Docker") },
    used: [
      "Docker API, read-only: list running containers, inspect containers and images, top (host PIDs)",
      ...liveReadsUsed(reads),
    ],
    refused,
    skipped,
    notes,
  };
}
