// PURE: recorded watch events (pods, EndpointSlices or Endpoints, Events) and container log lines →
// TimelineEvents, and one PodOutcome per disrupted pod. No I/O: the same code runs live (watch.ts feeds
// it as events arrive) and in tests on recorded streams (tests/fixtures/recordings).
//
// Kubernetes facts this relies on:
// - metadata.deletionTimestamp = time of the delete call + the grace period, at 1 s resolution; so
//   deletionTimestamp - deletionGracePeriodSeconds is the delete call (floored to the second). When the
//   kubelet later confirms with grace 0, both fields change but their difference stays the delete time.
// - containerStatuses[].state.terminated.finishedAt has 1 s resolution.
// - On 1.20 (EndpointSliceTerminatingCondition off) a deleted pod's endpoint simply disappears; from 1.22
//   it stays listed with ready=false, terminating=true (serving = its readiness) until the pod is gone.
// - A pod deleted soon after its container exited may report exitCode 137 with reason
//   ContainerStatusUnknown although the container exited 0 or 143 (measured on 1.20).
// - The node's runtime (containerd /tasks/exit, when the backend can stream it) has the exact exit code
//   and time; its exec tasks (id != container_id) are the preStop exec hook and the harness's own execs.
//   Which code and time to believe is decided by observe/exit-evidence.ts, as on every backend.

import type { EventSource, TimelineEvent } from "../model/events.js";
import type { ExitContext, ExitEvidence, TimeBound } from "../model/exit-evidence.js";
import type { ContainerPreStop, ObservedPodOutcome } from "../model/pod-outcome.js";
import { appEvent, parseAppLine, pid1Exit } from "../observe/app-log.js";
import {
  CONTAINER_STATUS_UNKNOWN,
  decideExit,
  MINIMUM_GRACE_AFTER_PRESTOP_MS,
  sigkillAt,
} from "../observe/exit-evidence.js";
import { type ContainerFacts, type ExitRecords, podEvidence } from "../observe/pod-evidence.js";
import { parseRfc3339 } from "../util/time.js";
import { type PreStopHandler, preStopOf } from "./prestop.js";

export type WatchResource = "pods" | "endpointslices" | "endpoints" | "events";

export interface RecordedWatchEvent {
  source: "watch";
  resource: WatchResource;
  /** Epoch ms when the event was read from the watch stream. */
  receivedAt: number;
  /** ADDED | MODIFIED | DELETED | BOOKMARK | ERROR */
  type: string;
  object: unknown;
}

export interface RecordedLogLine {
  source: "log";
  pod: string;
  container: string;
  /** Epoch ms when the line was read from the log stream. */
  receivedAt: number;
  /** One line as the API returns it with timestamps=true: "<RFC3339Nano> <text>". */
  line: string;
}

/** One task event of the node's container runtime (kind: `ctr -n k8s.io events` on each node). */
export interface RecordedRuntimeEvent {
  source: "runtime";
  /** Epoch ms when the event was read from the runtime's event stream. */
  receivedAt: number;
  /** Where it came from, for the report: "containerd on node kind-control-plane". */
  origin: string;
  /** start: a container's task started; exit: a task exited; exec-started: an exec task started in a container. */
  event: "start" | "exit" | "exec-started";
  /** Epoch ms by the runtime's own clock (exited_at for exits, to the ms). */
  at: number;
  /** The container (as in containerStatuses[].containerID, without the "containerd://" prefix). */
  containerId: string;
  /** The task: == containerId for the container's own process, else an exec's id. */
  taskId: string;
  pid?: number;
  /** Exit status of an exit (containerd omits it when 0). */
  exitStatus?: number;
}

export type RecordedEntry = RecordedWatchEvent | RecordedLogLine | RecordedRuntimeEvent;

/** One process of a container (PIDs as the container sees them). */
export interface ProcessEntry {
  pid: number;
  ppid: number;
  command: string;
}

export interface TimelineOptions {
  /** Which endpoint resource to read; the other is ignored (both exist on most servers). */
  endpointSource?: "endpointslices" | "endpoints";
  /** Kubernetes Events that happened before this (epoch ms) are ignored (replayed history). */
  eventsSince?: number;
  /** The app's container name, for PodOutcome (default: the first container seen). */
  container?: string;
}

// ---------------------------------------------------------------------------------------------
// Loose shapes of the API objects (watch JSON: timestamps are strings; typed clients give Dates).

type Time = string | Date | null | undefined;

interface Meta {
  name?: string;
  uid?: string;
  deletionTimestamp?: Time;
  deletionGracePeriodSeconds?: number | null;
  creationTimestamp?: Time;
}

interface TerminatedState {
  exitCode?: number;
  reason?: string;
  signal?: number;
  finishedAt?: Time;
  containerID?: string;
}

interface ContainerStatusLike {
  name?: string;
  containerID?: string;
  state?: { running?: { startedAt?: Time } | null; terminated?: TerminatedState | null } | null;
  lastState?: { terminated?: TerminatedState | null } | null;
}

interface LifecycleHandlerLike {
  exec?: { command?: string[] | null } | null;
  httpGet?: { path?: string } | null;
  sleep?: { seconds?: number } | null;
}

interface ContainerSpecLike {
  name?: string;
  lifecycle?: { preStop?: LifecycleHandlerLike | null } | null;
  /** initContainers only: "Always" makes it a native sidecar (Kubernetes 1.29+). */
  restartPolicy?: string | null;
}

interface PodLike {
  metadata?: Meta;
  spec?: {
    terminationGracePeriodSeconds?: number | null;
    nodeName?: string;
    containers?: ContainerSpecLike[] | null;
    initContainers?: ContainerSpecLike[] | null;
  };
  status?: {
    podIP?: string;
    podIPs?: Array<{ ip?: string }> | null;
    conditions?: Array<{ type?: string; status?: string }> | null;
    containerStatuses?: ContainerStatusLike[] | null;
    initContainerStatuses?: ContainerStatusLike[] | null;
  };
}

interface TargetRef {
  kind?: string;
  name?: string;
}

interface SliceEndpoint {
  addresses?: string[];
  conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null } | null;
  targetRef?: TargetRef | null;
}

interface EndpointSliceLike {
  metadata?: Meta;
  endpoints?: SliceEndpoint[] | null;
}

interface EndpointAddress {
  ip?: string;
  targetRef?: TargetRef | null;
}

interface EndpointsLike {
  metadata?: Meta;
  subsets?: Array<{ addresses?: EndpointAddress[] | null; notReadyAddresses?: EndpointAddress[] | null }> | null;
}

interface EventLike {
  metadata?: Meta & { resourceVersion?: string };
  reason?: string;
  message?: string;
  type?: string;
  count?: number;
  involvedObject?: { kind?: string; name?: string; fieldPath?: string };
  source?: { component?: string; host?: string };
  reportingComponent?: string;
  reportingController?: string;
  firstTimestamp?: Time;
  lastTimestamp?: Time;
  eventTime?: Time;
  series?: { lastObservedTime?: Time; count?: number } | null;
}

// ---------------------------------------------------------------------------------------------
// Time helpers

/** Parses RFC3339 / RFC3339Nano (more than 3 fraction digits are cut to milliseconds). */
export function parseTime(t: Time): number | undefined {
  if (t === null || t === undefined || t === "") return undefined;
  if (t instanceof Date) return t.getTime();
  const exact = parseRfc3339(t);
  if (exact !== undefined) return exact;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? undefined : ms;
}

/** "containerd://<id>" → "<id>". */
function bareId(id: string | null | undefined): string | undefined {
  if (!id) return undefined;
  return id.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "") || undefined;
}

function timeText(t: Time): string | undefined {
  if (t === null || t === undefined || t === "") return undefined;
  return t instanceof Date ? t.toISOString() : t;
}

// ---------------------------------------------------------------------------------------------
// App log lines: read by observe/app-log.ts (the one parser every backend uses).

// ---------------------------------------------------------------------------------------------
// The builder

/** The pod spec's containers (regular ones, then native sidecars: initContainers with restartPolicy Always). */
function learnSpecs(t: PodTrack, spec: PodLike["spec"]): void {
  if (!spec?.containers) return;
  t.specs.clear();
  for (const c of spec.containers) {
    if (c.name) t.specs.set(c.name, { native: false, preStop: preStopOf(c.lifecycle?.preStop) });
  }
  for (const c of spec.initContainers ?? []) {
    if (c.name && c.restartPolicy === "Always") {
      t.specs.set(c.name, { native: true, preStop: preStopOf(c.lifecycle?.preStop) });
    }
  }
}

/** A preStop hook as the model tells it (model/pod-outcome.ts ContainerPreStop). */
function hookOf(h: PreStopHandler): ContainerPreStop {
  if (h.type === "none") return { type: "none" };
  return { type: h.type, ...(h.seconds !== undefined ? { seconds: h.seconds } : {}), description: h.description };
}

type EndpointState = "ready" | "terminating" | "not-ready";

/** One container instance's exit, as each source saw it (merged by container id). */
interface ExitSeen {
  container: string;
  containerID: string;
  /** The node runtime's record (containerd /tasks/exit). */
  runtime?: { code: number; at: number; origin: string };
  /** containerStatuses[].state/lastState.terminated as first seen. */
  api?: {
    code?: number;
    reason?: string;
    signal?: number;
    finishedAt?: number;
    finishedAtText?: string;
    observedAt: number;
    /** From state.terminated (the current container), not lastState (an earlier restart). */
    current: boolean;
  };
  /** A container-exit event has been emitted for it. */
  emitted: boolean;
}

interface PodTrack {
  name: string;
  uid?: string;
  nodeName?: string;
  grace?: number;
  deleteEmitted: boolean;
  deleteCalledAt?: number;
  deleteCallGrace?: number;
  deletionObservedAt?: number;
  /** deletionTimestamp - deletionGracePeriodSeconds: the delete call, floored to the second. */
  deleteRequestedAt?: number;
  /** deletionTimestamp as first seen (delete + grace). */
  deadline?: number;
  goneAt?: number;
  /** The pod's Ready condition as last seen (pod watch). */
  ready?: boolean;
  exits: ExitSeen[];
  seenContainers: Set<string>;
  /** Container name → its current container id (bare). */
  containerIds: Map<string, string>;
  /** The app container's preStop hook as the pod spec states it (k8s/prestop.ts). */
  preStop?: PreStopHandler;
  /** A FailedPreStopHook event was seen: the hook did not run its course. */
  preStopFailedAt?: number;
  /** The preStop exec task seen by the runtime (the first exec started after the delete). */
  preStopExec?: { taskId: string; startedAt?: number; endedAt?: number; exitStatus?: number };
  /** SIGTERM inferred from the runtime: the kubelet sends it when the preStop exec returns. */
  sigtermAt?: number;
  /** An inferred sigkill-sent has been emitted. */
  sigkillEmitted?: boolean;
  /** Container name → when its last app line was logged. */
  lastLineAt: Map<string, number>;
  /** The pod's app events, each naming its container (PID 1's exit line is a source of the exit evidence). */
  appEvents: TimelineEvent[];
  pid1Cmdline?: string;
  /** PID 1's command line of the pod's other containers, by container name. */
  containerPid1: Map<string, string>;
  processTree?: ProcessEntry[];
  /** Every container the pod spec names (regular ones, then native sidecars), with its preStop hook. */
  specs: Map<string, { native: boolean; preStop: PreStopHandler }>;
}

/** Turns recorded entries into TimelineEvents as they come, and PodOutcomes at the end. */
export class TimelineBuilder {
  private readonly pods = new Map<string, PodTrack>();
  private readonly ipToPod = new Map<string, string>();
  /** Endpoint state per endpoint object (slice name or Endpoints name) → pod → state. */
  private readonly endpointObjects = new Map<string, Map<string, { state: EndpointState; serving?: boolean }>>();
  private endpointAggregate = new Map<string, { state: EndpointState; serving?: boolean }>();
  private readonly seenEvents = new Set<string>();
  private readonly endpointSource: "endpointslices" | "endpoints";
  /** Container id (bare) → the pod and container it belongs to (from containerStatuses). */
  private readonly containerOwners = new Map<string, { pod: string; container: string }>();
  /** Runtime events of containers not (yet) known: replayed when a pod status names them. Bounded. */
  private pendingRuntime: RecordedRuntimeEvent[] = [];
  /** After settle(): API exits are emitted as they come instead of waiting for more evidence. */
  private settled = false;

  constructor(private readonly options: TimelineOptions = {}) {
    this.endpointSource = options.endpointSource ?? "endpointslices";
  }

  private track(name: string): PodTrack {
    let t = this.pods.get(name);
    if (!t) {
      t = {
        name,
        deleteEmitted: false,
        exits: [],
        seenContainers: new Set(),
        containerIds: new Map(),
        appEvents: [],
        lastLineAt: new Map(),
        containerPid1: new Map(),
        specs: new Map(),
      };
      this.pods.set(name, t);
    }
    return t;
  }

  /** PID 1's command line of a pod's app container, or of the named one (read before any signal). */
  setPid1(pod: string, cmdline: string, container?: string): void {
    if (container === undefined) this.track(pod).pid1Cmdline = cmdline;
    else this.track(pod).containerPid1.set(container, cmdline);
  }

  /** The container's process tree before any signal (from `ps` in the container). */
  setProcessTree(pod: string, tree: ProcessEntry[]): void {
    this.track(pod).processTree = tree;
    const pid1 = tree.find((p) => p.pid === 1);
    if (pid1 && this.track(pod).pid1Cmdline === undefined) this.track(pod).pid1Cmdline = pid1.command;
  }

  /**
   * The harness is about to call delete for this pod: the exact time of the call. Emits the
   * delete-requested event (source harness); the watch's deletionTimestamp then only adds detail.
   */
  deleteCalled(pod: string, at: number, gracePeriodSeconds?: number): TimelineEvent[] {
    const t = this.track(pod);
    t.deleteCalledAt = at;
    t.deleteCallGrace = gracePeriodSeconds;
    if (t.deleteEmitted) return [];
    t.deleteEmitted = true;
    return [
      {
        at,
        kind: "delete-requested",
        source: "harness",
        pod,
        detail: { via: "api delete call", ...(gracePeriodSeconds !== undefined ? { gracePeriodSeconds } : {}) },
      },
    ];
  }

  push(entry: RecordedEntry): TimelineEvent[] {
    if (entry.source === "log") return this.onLog(entry);
    if (entry.source === "runtime") return this.onRuntime(entry);
    switch (entry.resource) {
      case "pods":
        return this.onPod(entry);
      case "endpointslices":
        return this.endpointSource === "endpointslices" ? this.onSlice(entry) : [];
      case "endpoints":
        return this.endpointSource === "endpoints" ? this.onEndpoints(entry) : [];
      case "events":
        return this.onEvent(entry);
    }
  }

  // --- queries used while a run is live -------------------------------------------------------

  /** Pods whose object has been deleted (DELETED watch event). */
  isGone(pod: string): boolean {
    return this.pods.get(pod)?.goneAt !== undefined;
  }

  /** Pods that have been asked to terminate (delete call or deletionTimestamp seen). */
  podsBeingDeleted(): string[] {
    return [...this.pods.values()].filter((p) => p.deleteEmitted).map((p) => p.name);
  }

  /** Pods known from the pod watch and not gone. */
  livePods(): string[] {
    return [...this.pods.values()].filter((p) => p.uid !== undefined && p.goneAt === undefined).map((p) => p.name);
  }

  /** Live pods whose Ready condition is True and that have not been asked to terminate (pod watch). */
  readyPods(): string[] {
    return [...this.pods.values()]
      .filter((p) => p.uid !== undefined && p.goneAt === undefined && !p.deleteEmitted && p.ready === true)
      .map((p) => p.name);
  }

  /**
   * Every container of the pod has exited: the node runtime's record of the container's own task, or
   * the API's terminated state, for the container instance that was running (not an earlier restart's).
   * The app's exit line does not count: the container (PID 1, other processes) may outlive it.
   */
  hasExited(pod: string): boolean {
    const t = this.pods.get(pod);
    if (!t || t.seenContainers.size === 0) return false;
    return [...t.seenContainers].every((c) => {
      const id = t.containerIds.get(c);
      const x = t.exits.find((v) => v.container === c && (id === undefined || v.containerID === id));
      return x !== undefined && (x.runtime !== undefined || x.api?.current === true);
    });
  }

  /**
   * The app container whose exit the API (or the pod's deletion) has reported but the node's runtime
   * stream has not: its id and node, for a backfill from the node's runtime. Undefined otherwise.
   */
  runtimeExitMissing(pod: string): { containerId: string; node: string } | undefined {
    const t = this.pods.get(pod);
    const container = t ? this.appContainer(t) : undefined;
    const id = container !== undefined ? t?.containerIds.get(container) : undefined;
    if (!t?.nodeName || id === undefined) return undefined;
    const x = t.exits.find((v) => v.containerID === id);
    if (x?.runtime) return undefined;
    return x?.api?.current || t.goneAt !== undefined ? { containerId: id, node: t.nodeName } : undefined;
  }

  /** The API has reported the pod's (current) containers terminated, or the pod is gone. */
  apiReportedExit(pod: string): boolean {
    const t = this.pods.get(pod);
    if (!t) return false;
    if (t.goneAt !== undefined) return true;
    if (t.seenContainers.size === 0) return false;
    return [...t.seenContainers].every((c) => {
      const id = t.containerIds.get(c);
      return t.exits.some((v) => v.container === c && (id === undefined || v.containerID === id) && v.api?.current);
    });
  }

  /** When the pod's last container exited, by the most trusted source (undefined until known). */
  exitedAt(pod: string): number | undefined {
    const t = this.pods.get(pod);
    if (!t) return undefined;
    const x = this.finalExit(t);
    return x?.runtime?.at ?? x?.api?.finishedAt ?? x?.api?.observedAt;
  }

  /** The node the pod was scheduled on (spec.nodeName), once the watch has shown it. */
  nodeOf(pod: string): string | undefined {
    return this.pods.get(pod)?.nodeName;
  }

  /** Pods currently listed as terminating endpoints (serving or not; servers that report the condition). */
  terminatingEndpoints(): string[] {
    return [...this.endpointAggregate.entries()].filter(([, s]) => s.state === "terminating").map(([p]) => p);
  }

  /** Pods currently listed as ready endpoints of the Service. */
  readyEndpoints(): string[] {
    return [...this.endpointAggregate.entries()].filter(([, s]) => s.state === "ready").map(([p]) => p);
  }

  /** The pod (of this run, live or gone) that had this IP, from the pod watch; undefined if none did. */
  podForIp(ip: string): string | undefined {
    return this.ipToPod.get(ip);
  }

  // --- pods -----------------------------------------------------------------------------------

  private onPod(e: RecordedWatchEvent): TimelineEvent[] {
    const pod = e.object as PodLike;
    const name = pod.metadata?.name;
    if (!name) return [];
    const t = this.track(name);
    const out: TimelineEvent[] = [];
    t.uid = pod.metadata?.uid ?? t.uid;
    t.nodeName = pod.spec?.nodeName ?? t.nodeName;
    if (typeof pod.spec?.terminationGracePeriodSeconds === "number") t.grace = pod.spec.terminationGracePeriodSeconds;
    for (const ip of [pod.status?.podIP, ...(pod.status?.podIPs ?? []).map((p) => p.ip)]) {
      if (ip) this.ipToPod.set(ip, name);
    }
    const readyCondition = pod.status?.conditions?.find((c) => c.type === "Ready");
    if (readyCondition) t.ready = readyCondition.status === "True";

    const deletionTs = parseTime(pod.metadata?.deletionTimestamp);
    if (deletionTs !== undefined && t.deletionObservedAt === undefined) {
      const grace = pod.metadata?.deletionGracePeriodSeconds ?? undefined;
      t.deletionObservedAt = e.receivedAt;
      t.deadline = deletionTs;
      if (typeof grace === "number") t.deleteRequestedAt = deletionTs - grace * 1000;
      if (!t.deleteEmitted) {
        t.deleteEmitted = true;
        out.push({
          at: e.receivedAt,
          kind: "delete-requested",
          source: "api",
          pod: name,
          detail: {
            via: "deletionTimestamp observed",
            deletionTimestamp: new Date(deletionTs).toISOString(),
            gracePeriodSeconds: grace,
            ...(t.deleteRequestedAt !== undefined
              ? { requestedAt: t.deleteRequestedAt, requestedAtResolution: "1s (deletionTimestamp - grace)" }
              : {}),
          },
        });
      }
    }

    const specs = pod.spec?.containers ?? [];
    const spec = this.options.container !== undefined ? specs.find((c) => c.name === this.options.container) : specs[0];
    if (spec) t.preStop = preStopOf(spec.lifecycle?.preStop);
    learnSpecs(t, pod.spec);

    // Native sidecars report in initContainerStatuses; other init containers ran to completion before.
    const natives = (pod.status?.initContainerStatuses ?? []).filter((cs) => t.specs.get(cs.name ?? "")?.native);
    for (const cs of [...(pod.status?.containerStatuses ?? []), ...natives]) {
      const cname = cs.name ?? "?";
      t.seenContainers.add(cname);
      const liveId = bareId(cs.containerID);
      if (liveId !== undefined) {
        t.containerIds.set(cname, liveId);
        out.push(...this.learnContainer(liveId, name, cname));
      }
      for (const term of [cs.lastState?.terminated, cs.state?.terminated]) {
        if (!term) continue;
        const termId = bareId(term.containerID);
        // ContainerStatusUnknown statuses carry no containerID: they are about the container last seen
        // running. Kubernetes 1.20–1.2x writes the one of a deleted pod's vanished container in lastState,
        // under a status that names no container (waiting ContainerCreating): still the current exit.
        const vanished = termId === undefined && liveId === undefined && term.reason === CONTAINER_STATUS_UNKNOWN;
        const current = term === cs.state?.terminated || vanished;
        if (termId !== undefined) out.push(...this.learnContainer(termId, name, cname));
        const id =
          termId ??
          (current ? (liveId ?? t.containerIds.get(cname)) : undefined) ??
          `${cname}#${timeText(term.finishedAt) ?? "?"}`;
        let x = t.exits.find((v) => v.containerID === id);
        if (!x) {
          x = { container: cname, containerID: id, emitted: false };
          t.exits.push(x);
        }
        if (x.api) continue;
        const finishedAt = parseTime(term.finishedAt);
        x.api = {
          ...(term.exitCode !== undefined ? { code: term.exitCode } : {}),
          ...(term.reason !== undefined ? { reason: term.reason } : {}),
          ...(term.signal !== undefined ? { signal: term.signal } : {}),
          ...(finishedAt !== undefined ? { finishedAt, finishedAtText: timeText(term.finishedAt) } : {}),
          observedAt: e.receivedAt,
          current,
        };
        // Placed once everything is known (settle()); after that, as it comes.
        if (this.settled) out.push(...this.emitExit(t, x), ...this.emitKill(t));
      }
    }

    if (e.type === "DELETED" && t.goneAt === undefined) {
      t.goneAt = e.receivedAt;
      out.push({ at: e.receivedAt, kind: "pod-gone", source: "api", pod: name, detail: { uid: t.uid } });
    }
    return out;
  }

  /** The grace deadline: exact when the harness made the delete call, else from deletionTimestamp. */
  private deadlineOf(t: PodTrack): number | undefined {
    if (t.deleteCalledAt !== undefined) {
      const grace = t.deleteCallGrace ?? t.grace;
      if (grace !== undefined) return t.deleteCalledAt + grace * 1000;
    }
    return t.deadline;
  }

  /** When the kubelet sends SIGKILL: the grace deadline, or 2 s after a preStop exec that ended later. */
  private killDeadline(t: PodTrack): number | undefined {
    const deadline = this.deadlineOf(t);
    if (deadline === undefined) return undefined;
    // The kubelet gives at least 2 s after the hook: after it returned, or after it stopped waiting for
    // a hook that overran the grace period (that exec is killed with the container, later).
    if (t.sigtermAt !== undefined) return sigkillAt(deadline, t.sigtermAt);
    if (this.preStopOverran(t)) return deadline + MINIMUM_GRACE_AFTER_PRESTOP_MS;
    return deadline;
  }

  /** The preStop exec task ended only at (or after) the grace deadline: the hook overran the grace period. */
  private preStopOverran(t: PodTrack): boolean {
    const ended = t.preStopExec?.endedAt;
    const deadline = this.deadlineOf(t);
    return ended !== undefined && deadline !== undefined && ended >= deadline - 200;
  }

  /** The delete as a lower bound: the harness's call, else deletionTimestamp - grace (floored to the second). */
  private deleteLowerBound(t: PodTrack): TimeBound | undefined {
    if (t.deleteCalledAt !== undefined) return { at: t.deleteCalledAt, what: "the delete call" };
    if (t.deleteRequestedAt !== undefined) {
      return { at: t.deleteRequestedAt, what: "the delete (deletionTimestamp - grace, to the second)" };
    }
    return undefined;
  }

  /**
   * What a container's termination exit cannot precede: the delete, the end of its preStop, SIGTERM, its
   * last line. The preStop exec task and the inferred SIGTERM are tracked for the app container only.
   */
  private lowerBounds(t: PodTrack, container = this.appContainer(t)): TimeBound[] {
    const del = this.deleteLowerBound(t);
    if (!del) return [];
    const out: TimeBound[] = [del];
    const isApp = container === this.appContainer(t);
    const hook = isApp ? t.preStop : t.specs.get(container ?? "")?.preStop;
    if (isApp && t.preStopExec?.endedAt !== undefined) {
      const deadline = this.deadlineOf(t);
      out.push(
        this.preStopOverran(t) && deadline !== undefined
          ? { at: deadline, what: "the grace deadline (the preStop exec overran it; SIGTERM came then)" }
          : { at: t.preStopExec.endedAt, what: "the end of the preStop exec (its task exit on the node)" },
      );
    } else if (hook?.type !== "none" && hook?.seconds !== undefined && t.preStopFailedAt === undefined) {
      // The kubelet starts the hook after the delete, and sends SIGTERM only once it returned.
      const deadline = this.deadlineOf(t);
      const end = del.at + hook.seconds * 1000;
      out.push({
        at: deadline === undefined ? end : Math.min(end, deadline),
        what: `the end of the preStop sleep (${hook.seconds} s after the delete)`,
      });
    }
    if (isApp && t.sigtermAt !== undefined) out.push({ at: t.sigtermAt, what: "SIGTERM" });
    const lastLine = container === undefined ? undefined : t.lastLineAt.get(container);
    if (lastLine !== undefined && lastLine > del.at) {
      out.push({ at: lastLine, what: isApp ? "the app's last log line" : `${container}'s last log line` });
    }
    return out;
  }

  /** The container the outcome is about: the configured one, else the first one seen. */
  private appContainer(t: PodTrack): string | undefined {
    return this.options.container ?? [...t.seenContainers][0];
  }

  /** The exit that ended a container (default: the app's): its latest (restarts leave earlier ones in lastState). */
  private finalExit(t: PodTrack, container = this.appContainer(t)): ExitSeen | undefined {
    const when = (x: ExitSeen) => x.runtime?.at ?? x.api?.finishedAt ?? x.api?.observedAt ?? 0;
    let best: ExitSeen | undefined;
    for (const x of t.exits) {
      if (container !== undefined && x.container !== container) continue;
      if (!best || when(x) >= when(best)) best = x;
    }
    return best;
  }

  /**
   * Every source's word on one exit of a container (default: the app's; bounds, PID 1's exit line and
   * grace deadline only for the exit that ended the container).
   */
  private evidenceFor(t: PodTrack, x: ExitSeen | undefined, container = x?.container): ExitEvidence | undefined {
    const { exit, context } = this.exitRecords(t, x, container);
    return decideExit(exit, context ?? {});
  }

  /** One exit's records from each source, and what bounds it when it ended the container during the termination. */
  private exitRecords(
    t: PodTrack,
    x: ExitSeen | undefined,
    container = x?.container,
  ): { exit: ExitRecords; context?: ExitContext } {
    const app = this.appContainer(t);
    const which = container ?? app;
    const final = x === undefined || x === this.finalExit(t, which);
    const terminating = final && t.deleteEmitted && (x?.api === undefined || x.api.current);
    const lines = t.appEvents.filter((e) => e.detail?.container === undefined || e.detail.container === which);
    const appExit = final ? pid1Exit(lines, t.name, this.deleteLowerBound(t)?.at) : undefined;
    const exit: ExitRecords = {
      ...(x?.runtime
        ? {
            runtime: {
              code: x.runtime.code,
              at: x.runtime.at,
              runtime: x.runtime.origin,
              note: `${x.runtime.origin}: the exit of the container's own task (exact code and time)`,
            },
          }
        : {}),
      ...(appExit ? { app: appExit } : {}),
      ...(x?.api
        ? {
            api: { code: x.api.code, reason: x.api.reason, finishedAt: x.api.finishedAt, observedAt: x.api.observedAt },
          }
        : {}),
    };
    if (!terminating) return { exit };
    const context: ExitContext = {
      lowerBounds: this.lowerBounds(t, which),
      // The kubelet's preStop exec of the app moves its SIGKILL; another container's: the grace deadline.
      graceDeadline: which === app ? this.killDeadline(t) : this.deadlineOf(t),
      deleteAt: t.deleteCalledAt ?? t.deleteRequestedAt,
    };
    return { exit, context };
  }

  /** The container-exit event of one exit, once (runtime exits at once; API-only ones at settle()). */
  private emitExit(t: PodTrack, x: ExitSeen): TimelineEvent[] {
    if (x.emitted) return [];
    const ev = this.evidenceFor(t, x);
    if (!ev) return [];
    x.emitted = true;
    const at = ev.at ?? x.runtime?.at ?? x.api?.observedAt ?? 0;
    return [
      {
        at,
        kind: "container-exit",
        source: x.runtime ? "runtime" : "api",
        pod: t.name,
        detail: {
          container: x.container,
          exitCode: ev.code ?? "unknown",
          codeFrom: ev.chosen,
          ...(x.runtime
            ? { runtime: x.runtime.origin, containerId: x.containerID, timeResolution: "exact (runtime record)" }
            : {}),
          ...(x.api
            ? {
                ...(x.api.code !== undefined ? { apiExitCode: x.api.code } : {}),
                ...(x.api.reason !== undefined ? { reason: x.api.reason } : {}),
                ...(x.api.signal !== undefined ? { signal: x.api.signal } : {}),
                finishedAt: x.api.finishedAtText ?? null,
                observedAt: x.api.observedAt,
              }
            : {}),
          ...(!x.runtime
            ? {
                timeResolution: x.api?.finishedAt
                  ? "finishedAt has 1 s resolution: placed within it at the earliest time the delete, the preStop, SIGTERM and the app's last line allow"
                  : "no finishedAt: known only as before the status was read",
              }
            : {}),
          ...(ev.earliest !== undefined && ev.latest !== undefined ? { earliest: ev.earliest, latest: ev.latest } : {}),
          ...(ev.disagreement ? { disagreement: ev.disagreement } : {}),
          ...(ev.unknown ? { unknown: ev.unknown } : {}),
        },
      },
    ];
  }

  /** The inferred SIGKILL of a terminated pod, once, when its exit was at the end of the grace period. */
  private emitKill(t: PodTrack): TimelineEvent[] {
    if (t.sigkillEmitted || !t.deleteEmitted) return [];
    const ev = this.evidenceFor(t, this.finalExit(t));
    const deadline = this.killDeadline(t);
    if (ev?.killedAtGraceEnd !== true || deadline === undefined) return [];
    t.sigkillEmitted = true;
    return [
      {
        at: Math.min(deadline, ev.at ?? deadline),
        kind: "sigkill-sent",
        source: "kubelet",
        pod: t.name,
        detail: { inferred: true, from: ev.killedWhy },
      },
    ];
  }

  /**
   * Emits what waited for all the evidence: container exits known only from the API (placed within
   * finishedAt's second using everything known by now) and inferred SIGKILLs. Call when observation of
   * the disrupted pods is over (the driver: before outcomes()); later API exits are emitted as they come.
   */
  settle(): TimelineEvent[] {
    this.settled = true;
    const out: TimelineEvent[] = [];
    for (const t of this.pods.values()) {
      for (const x of t.exits) out.push(...this.emitExit(t, x));
      out.push(...this.emitKill(t));
    }
    return out;
  }

  // --- the node's runtime (containerd task events) --------------------------------------------

  private onRuntime(r: RecordedRuntimeEvent): TimelineEvent[] {
    const owner = this.containerOwners.get(r.containerId);
    if (!owner) {
      // Another namespace's container, or one whose status has not named it yet.
      this.pendingRuntime.push(r);
      if (this.pendingRuntime.length > 2000) this.pendingRuntime = this.pendingRuntime.slice(-1000);
      return [];
    }
    return this.applyRuntime(owner.pod, owner.container, r);
  }

  /** A container id named by a pod status: its runtime events (also those that came first) now count. */
  private learnContainer(id: string, pod: string, container: string): TimelineEvent[] {
    if (this.containerOwners.has(id)) return [];
    this.containerOwners.set(id, { pod, container });
    const mine = this.pendingRuntime.filter((r) => r.containerId === id);
    if (mine.length === 0) return [];
    this.pendingRuntime = this.pendingRuntime.filter((r) => r.containerId !== id);
    return mine.flatMap((r) => this.applyRuntime(pod, container, r));
  }

  private applyRuntime(pod: string, container: string, r: RecordedRuntimeEvent): TimelineEvent[] {
    const t = this.track(pod);
    if (r.event === "exit" && r.taskId === r.containerId) {
      let x = t.exits.find((v) => v.containerID === r.containerId);
      if (!x) {
        x = { container, containerID: r.containerId, emitted: false };
        t.exits.push(x);
      }
      if (x.runtime) return [];
      x.runtime = { code: r.exitStatus ?? 0, at: r.at, origin: r.origin };
      return [...this.emitExit(t, x), ...(this.settled ? this.emitKill(t) : [])];
    }
    // Exec tasks (id != container_id): the preStop exec hook is the first one started in the app's
    // container after the delete (the harness's own execs run before it; probes are httpGet).
    const del = this.deleteLowerBound(t)?.at;
    if (container !== this.appContainer(t) || t.preStop?.type !== "exec" || del === undefined || r.at < del - 200) {
      return [];
    }
    const base = { container, containerId: r.containerId, execId: r.taskId, runtime: r.origin };
    if (r.event === "exec-started") {
      if (t.preStopExec) return [];
      t.preStopExec = { taskId: r.taskId, startedAt: r.at };
      return [
        {
          at: r.at,
          kind: "prestop-start",
          source: "runtime",
          pod,
          detail: { ...base, command: t.preStop.command, via: "the preStop exec task started on the node" },
        },
      ];
    }
    if (r.event !== "exit" || (t.preStopExec && t.preStopExec.taskId !== r.taskId) || t.preStopExec?.endedAt) return [];
    const exitStatus = r.exitStatus ?? 0;
    t.preStopExec = { ...(t.preStopExec ?? { taskId: r.taskId }), endedAt: r.at, exitStatus };
    const out: TimelineEvent[] = [
      {
        at: r.at,
        kind: "prestop-end",
        source: "runtime",
        pod,
        detail: { ...base, exitStatus, via: "the preStop exec task exited on the node" },
      },
    ];
    const current = t.exits.find((x) => x.containerID === t.containerIds.get(container));
    if (this.preStopOverran(t)) {
      // Killed with the container after the kubelet stopped waiting at the deadline: not the hook returning.
      out[0] = { ...(out[0] as TimelineEvent), detail: { ...out[0]?.detail, overran: true } };
    } else if (!current?.runtime || current.runtime.at > r.at) {
      // The kubelet sends SIGTERM as soon as the hook returns (also when it failed).
      t.sigtermAt = r.at;
      out.push({
        at: r.at,
        kind: "sigterm-sent",
        source: "kubelet",
        pod,
        process: "pid1",
        detail: {
          inferred: true,
          from: "the kubelet sends SIGTERM when the preStop hook returns: the preStop exec task exited on the node",
        },
      });
    }
    return out;
  }

  // --- endpoints ------------------------------------------------------------------------------

  private podOf(ref: TargetRef | null | undefined, address: string | undefined): string {
    if (ref?.name && (ref.kind === undefined || ref.kind === "Pod")) return ref.name;
    if (address && this.ipToPod.has(address)) return this.ipToPod.get(address) as string;
    return `ip:${address ?? "?"}`;
  }

  private onSlice(e: RecordedWatchEvent): TimelineEvent[] {
    const slice = e.object as EndpointSliceLike;
    const key = `slice/${slice.metadata?.name ?? "?"}`;
    if (e.type === "DELETED") {
      this.endpointObjects.delete(key);
    } else if (e.type === "ADDED" || e.type === "MODIFIED") {
      const m = new Map<string, { state: EndpointState; serving?: boolean }>();
      for (const ep of slice.endpoints ?? []) {
        const c = ep.conditions ?? {};
        // ready unset means ready (API docs: "nil should be interpreted as true").
        const ready = c.ready !== false;
        const state: EndpointState = ready ? "ready" : c.terminating === true ? "terminating" : "not-ready";
        const serving = c.serving === null || c.serving === undefined ? undefined : c.serving;
        m.set(this.podOf(ep.targetRef, ep.addresses?.[0]), { state, serving });
      }
      this.endpointObjects.set(key, m);
    } else {
      return [];
    }
    return this.diffEndpoints(e.receivedAt, "EndpointSlice");
  }

  private onEndpoints(e: RecordedWatchEvent): TimelineEvent[] {
    const eps = e.object as EndpointsLike;
    const key = `endpoints/${eps.metadata?.name ?? "?"}`;
    if (e.type === "DELETED") {
      this.endpointObjects.delete(key);
    } else if (e.type === "ADDED" || e.type === "MODIFIED") {
      const m = new Map<string, { state: EndpointState; serving?: boolean }>();
      for (const subset of eps.subsets ?? []) {
        for (const a of subset.notReadyAddresses ?? []) m.set(this.podOf(a.targetRef, a.ip), { state: "not-ready" });
        for (const a of subset.addresses ?? []) m.set(this.podOf(a.targetRef, a.ip), { state: "ready" });
      }
      this.endpointObjects.set(key, m);
    } else {
      return [];
    }
    return this.diffEndpoints(e.receivedAt, "Endpoints");
  }

  private diffEndpoints(at: number, via: string): TimelineEvent[] {
    const rank: Record<EndpointState, number> = { ready: 3, terminating: 2, "not-ready": 1 };
    const next = new Map<string, { state: EndpointState; serving?: boolean }>();
    for (const m of this.endpointObjects.values()) {
      for (const [pod, s] of m) {
        const cur = next.get(pod);
        if (!cur || rank[s.state] > rank[cur.state]) next.set(pod, s);
      }
    }
    const out: TimelineEvent[] = [];
    const prev = this.endpointAggregate;
    for (const [pod, s] of next) {
      const before = prev.get(pod)?.state;
      if (before === s.state) continue;
      if (s.state === "ready") {
        out.push({ at, kind: "endpoint-ready", source: "api", pod, detail: { resource: via } });
      } else if (s.state === "terminating") {
        out.push({
          at,
          kind: "endpoint-terminating",
          source: "api",
          pod,
          detail: { resource: via, ready: false, terminating: true, serving: s.serving },
        });
      } else if (before === "ready") {
        out.push({
          at,
          kind: "endpoint-removed",
          source: "api",
          pod,
          detail: { resource: via, via: "not-ready", note: "still listed, marked not ready: out of rotation" },
        });
      }
    }
    for (const [pod, s] of prev) {
      if (next.has(pod) || s.state === "not-ready") continue;
      out.push({
        at,
        kind: "endpoint-removed",
        source: "api",
        pod,
        detail: { resource: via, via: "address-gone", was: s.state },
      });
    }
    this.endpointAggregate = next;
    return out;
  }

  // --- Kubernetes Events ----------------------------------------------------------------------

  private onEvent(e: RecordedWatchEvent): TimelineEvent[] {
    if (e.type !== "ADDED" && e.type !== "MODIFIED") return [];
    const ev = e.object as EventLike;
    const count = ev.series?.count ?? ev.count ?? 1;
    const key = `${ev.metadata?.uid ?? ev.metadata?.name ?? "?"}#${count}`;
    if (this.seenEvents.has(key)) return [];
    this.seenEvents.add(key);
    const happened =
      parseTime(ev.series?.lastObservedTime) ??
      parseTime(ev.eventTime) ??
      parseTime(ev.lastTimestamp) ??
      parseTime(ev.firstTimestamp) ??
      parseTime(ev.metadata?.creationTimestamp);
    if (
      this.options.eventsSince !== undefined &&
      happened !== undefined &&
      happened < this.options.eventsSince - 1000
    ) {
      return [];
    }
    // Event times have 1 s resolution (eventTime: µs, but rarely set by the kubelet): a live event is
    // placed at its arrival; one replayed from history at its own time.
    const at = happened !== undefined && e.receivedAt - happened > 2000 ? happened : e.receivedAt;
    const component = ev.source?.component || ev.reportingController || ev.reportingComponent || "";
    const source: EventSource = component === "kubelet" ? "kubelet" : "api";
    const isPod = ev.involvedObject?.kind === "Pod";
    const pod = isPod ? ev.involvedObject?.name : undefined;
    const detail = {
      reason: ev.reason,
      message: ev.message,
      type: ev.type,
      count,
      component,
      object: `${ev.involvedObject?.kind ?? "?"}/${ev.involvedObject?.name ?? "?"}`,
      ...(happened !== undefined ? { happenedAt: happened } : {}),
    };
    const out: TimelineEvent[] = [{ at, kind: "k8s-event", source, ...(pod ? { pod } : {}), detail }];
    if (ev.reason === "FailedPreStopHook") {
      if (pod) this.track(pod).preStopFailedAt ??= at;
      out.push({
        at,
        kind: "prestop-failed",
        source: "kubelet",
        ...(pod ? { pod } : {}),
        detail: { message: ev.message },
      });
    }
    return out;
  }

  // --- container logs -------------------------------------------------------------------------

  private onLog(l: RecordedLogLine): TimelineEvent[] {
    const t = this.track(l.pod);
    const out: TimelineEvent[] = [];
    // The one reading of the app's lines (observe/app-log.ts), as on the local backend; only the
    // transport facts (which container, the kubelet's timestamp) are added here.
    for (const line of parseAppLine(l.line, l.receivedAt)) {
      t.lastLineAt.set(l.container, Math.max(t.lastLineAt.get(l.container) ?? 0, line.at));
      const e = appEvent(line, l.pod);
      if (!e) continue;
      e.detail = {
        ...e.detail,
        container: l.container,
        ...(line.loggedAt !== undefined ? { loggedAt: line.loggedAt } : {}),
      };
      t.appEvents.push(e);
      out.push(e);
    }
    return out;
  }

  // --- outcomes -------------------------------------------------------------------------------

  /** One outcome per pod (default: every pod that was asked to terminate); the runner adds the process reports. */
  outcomes(pods?: string[]): ObservedPodOutcome[] {
    const names = pods ?? this.podsBeingDeleted();
    return names.map((name) => this.outcome(name));
  }

  /** The pod's facts as the watch, the node's runtime and the logs told them → its outcome (observe/pod-evidence.ts). */
  private outcome(name: string): ObservedPodOutcome {
    const t = this.track(name);
    const notes: string[] = [];
    if (t.deleteEmitted && t.goneAt === undefined) {
      notes.push(
        this.hasExited(name)
          ? "pod gone not observed: its containers had exited, and the harness does not wait for the API to delete " +
              "the pod object (6–10 s after the exit on 1.20)"
          : "the pod was still present when observation ended",
      );
    }
    if (t.deleteCalledAt !== undefined && t.deleteRequestedAt !== undefined) {
      const skew = t.deleteCalledAt - t.deleteRequestedAt;
      if (skew < -1500 || skew > 2500) {
        notes.push(
          `this machine's clock and the API server's differ by about ${Math.round(skew / 100) / 10} s ` +
            "(delete call vs deletionTimestamp - grace)",
        );
      }
    }
    const app = this.appContainer(t);
    const others = [...new Set([...t.specs.keys(), ...t.seenContainers])].filter((c) => c !== app);
    return podEvidence({
      pod: name,
      ...(t.nodeName !== undefined ? { node: t.nodeName } : {}),
      deleteAt: t.deleteCalledAt ?? t.deletionObservedAt ?? 0,
      ...(t.goneAt !== undefined ? { goneAt: t.goneAt } : {}),
      app: {
        ...this.containerFacts(t, this.finalExit(t), app),
        pid1Cmdline: t.pid1Cmdline ?? (app !== undefined ? t.containerPid1.get(app) : undefined) ?? "",
        preStop: hookOf(t.preStop ?? { type: "none" }),
        ...(t.processTree ? { processTree: t.processTree } : {}),
      },
      others: others.map((c): ContainerFacts => {
        const spec = t.specs.get(c);
        const role = spec?.native ? "native-sidecar" : "sidecar";
        return {
          ...this.containerFacts(t, this.finalExit(t, c), c),
          role,
          ...(spec ? { preStop: hookOf(spec.preStop) } : {}),
        };
      }),
      notes,
    });
  }

  /** One container's exit as each source recorded it (`x`: the exit that ended it), in neutral facts. */
  private containerFacts(t: PodTrack, x: ExitSeen | undefined, container: string | undefined): ContainerFacts {
    const name = container ?? x?.container;
    const { exit, context } = this.exitRecords(t, x, name);
    const api = x?.api;
    return {
      ...(name !== undefined ? { container: name } : {}),
      pid1Cmdline: (name !== undefined ? t.containerPid1.get(name) : undefined) ?? "",
      exit,
      ...(context ? { context } : {}),
      oomKilled: api?.reason === "OOMKilled",
      ...(api?.reason !== undefined
        ? {
            reason: { text: api.reason, source: "api" as const, ...(api.code !== undefined ? { code: api.code } : {}) },
          }
        : {}),
      // Only the app container's: the others' were not watched to their end.
      ...(!x?.api && !x?.runtime && t.goneAt !== undefined && container === this.appContainer(t)
        ? { notes: ["no terminated container status was observed before the pod was gone"] }
        : {}),
    };
  }
}

/** Replays a recorded stream: entries in arrival order → all events + outcomes (tests, recordings). */
export function replayRecording(
  entries: RecordedEntry[],
  options: TimelineOptions & {
    deleteCalls?: Array<{ pod: string; at: number; gracePeriodSeconds?: number }>;
    pid1?: Record<string, string>;
    outcomesFor?: string[];
  } = {},
): { events: TimelineEvent[]; outcomes: ObservedPodOutcome[] } {
  const b = new TimelineBuilder(options);
  for (const [pod, cmd] of Object.entries(options.pid1 ?? {})) b.setPid1(pod, cmd);
  const sorted = [...entries].sort((a, z) => a.receivedAt - z.receivedAt);
  const calls = [...(options.deleteCalls ?? [])].sort((a, z) => a.at - z.at);
  const events: TimelineEvent[] = [];
  let i = 0;
  for (const entry of sorted) {
    while (i < calls.length && (calls[i]?.at ?? Number.POSITIVE_INFINITY) <= entry.receivedAt) {
      const c = calls[i++];
      if (c) events.push(...b.deleteCalled(c.pod, c.at, c.gracePeriodSeconds));
    }
    events.push(...b.push(entry));
  }
  for (; i < calls.length; i++) {
    const c = calls[i];
    if (c) events.push(...b.deleteCalled(c.pod, c.at, c.gracePeriodSeconds));
  }
  events.push(...b.settle());
  events.sort((a, z) => a.at - z.at);
  return { events, outcomes: b.outcomes(options.outcomesFor) };
}
