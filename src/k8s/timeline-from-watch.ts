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
import type { PodOutcome, ProcessReport } from "../backends/backend.js";
import type { EventSource, TimelineEvent } from "../observe/events.js";

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

export type RecordedEntry = RecordedWatchEvent | RecordedLogLine;

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

interface PodLike {
  metadata?: Meta;
  spec?: { terminationGracePeriodSeconds?: number | null; nodeName?: string };
  status?: { podIP?: string; podIPs?: Array<{ ip?: string }> | null; containerStatuses?: ContainerStatusLike[] | null };
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
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$/.exec(t);
  if (m) {
    const frac = m[2] ? m[2].slice(0, 4).padEnd(4, "0") : "";
    const ms = Date.parse(`${m[1]}${frac}${m[3]}`);
    return Number.isNaN(ms) ? undefined : ms;
  }
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? undefined : ms;
}

/** The app's own `t`: epoch ms, epoch seconds, or an ISO string. */
function appTime(t: unknown): number | undefined {
  if (typeof t === "number" && Number.isFinite(t)) return t < 1e11 ? Math.round(t * 1000) : t;
  if (typeof t === "string") return parseTime(t);
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// App log lines

export interface AppLine {
  /** Epoch ms: the app's own clock when it wrote one, else the kubelet's log timestamp. */
  at: number;
  /** The kubelet's log timestamp (when the runtime captured the line). */
  loggedAt?: number;
  event: "start" | "listening" | "signal" | "drain-start" | "listener-closed" | "drain-end" | "exit";
  pid?: number;
  ppid?: number;
  role: string;
  signal?: string;
  code?: number;
  format: "json" | "text";
}

const APP_EVENTS = new Set(["start", "listening", "signal", "drain-start", "listener-closed", "drain-end", "exit"]);

/**
 * One log line → the app events it states (0, 1 or 2: the older text format says "server closed ...;
 * exit 0" on one line). Understands the JSON line format
 *   {t, event, pid, ppid, role, signal?, code?}
 * and the older text format found in the 1.20 recordings
 *   <app ISO time> pid=<n> <role>:<port> listening on <port> | received <SIG> | server closed ...; exit <n>
 * Either may be prefixed by the kubelet's RFC3339Nano timestamp (logs requested with timestamps=true).
 */
export function parseAppLine(raw: string, fallbackAt?: number): AppLine[] {
  let rest = raw.trim();
  let loggedAt: number | undefined;
  const prefix = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d))\s+(.*)$/.exec(rest);
  if (prefix?.[1] && prefix[2] !== undefined) {
    loggedAt = parseTime(prefix[1]);
    rest = prefix[2];
  }
  if (rest.startsWith("{")) {
    let data: unknown;
    try {
      data = JSON.parse(rest);
    } catch {
      return [];
    }
    if (data === null || typeof data !== "object") return [];
    const d = data as Record<string, unknown>;
    if (typeof d.event !== "string" || !APP_EVENTS.has(d.event)) return [];
    const at = appTime(d.t) ?? loggedAt ?? fallbackAt;
    if (at === undefined) return [];
    return [
      {
        at,
        loggedAt,
        event: d.event as AppLine["event"],
        pid: typeof d.pid === "number" ? d.pid : undefined,
        ppid: typeof d.ppid === "number" ? d.ppid : undefined,
        role: typeof d.role === "string" && d.role !== "" ? d.role : "app",
        signal: typeof d.signal === "string" ? d.signal : undefined,
        code: typeof d.code === "number" ? d.code : undefined,
        format: "json",
      },
    ];
  }
  const text = /^(\S+)\s+pid=(\d+)\s+(\S+)\s+(.*)$/.exec(rest);
  if (!text?.[1] || !text[2] || !text[3] || text[4] === undefined) return [];
  const at = parseTime(text[1]) ?? loggedAt ?? fallbackAt;
  if (at === undefined) return [];
  const role = text[3].split(":")[0] || "app";
  const base = { at, loggedAt, pid: Number(text[2]), role, format: "text" as const };
  const msg = text[4];
  const out: AppLine[] = [];
  if (/^listening\b/.test(msg)) out.push({ ...base, event: "listening" });
  const sig = /^received (SIG[A-Z0-9]+)/.exec(msg);
  if (sig?.[1]) out.push({ ...base, event: "signal", signal: sig[1] });
  if (/^(closing|draining|shutting down)\b/.test(msg)) out.push({ ...base, event: "drain-start" });
  if (/^server closed\b/.test(msg)) out.push({ ...base, event: "drain-end" });
  const exit = /\bexit (-?\d+)\s*$/.exec(msg);
  if (exit?.[1]) out.push({ ...base, event: "exit", code: Number(exit[1]) });
  return out;
}

// ---------------------------------------------------------------------------------------------
// The builder

type EndpointState = "ready" | "terminating" | "not-ready";

interface ExitSeen {
  container: string;
  containerID?: string;
  exitCode?: number;
  reason?: string;
  at: number;
  observedAt: number;
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
  exits: ExitSeen[];
  seenContainers: Set<string>;
  lastAppLineAt?: number;
  processes: Map<string, ProcessReport>;
  pid1Cmdline?: string;
  processTree?: ProcessEntry[];
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

  constructor(private readonly options: TimelineOptions = {}) {
    this.endpointSource = options.endpointSource ?? "endpointslices";
  }

  private track(name: string): PodTrack {
    let t = this.pods.get(name);
    if (!t) {
      t = { name, deleteEmitted: false, exits: [], seenContainers: new Set(), processes: new Map() };
      this.pods.set(name, t);
    }
    return t;
  }

  /** PID 1's command line of a pod (read by the backend before any signal). */
  setPid1(pod: string, cmdline: string): void {
    this.track(pod).pid1Cmdline = cmdline;
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

  /** Pods currently listed as ready endpoints of the Service. */
  readyEndpoints(): string[] {
    return [...this.endpointAggregate.entries()].filter(([, s]) => s.state === "ready").map(([p]) => p);
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

    for (const cs of pod.status?.containerStatuses ?? []) {
      const cname = cs.name ?? "?";
      t.seenContainers.add(cname);
      for (const term of [cs.lastState?.terminated, cs.state?.terminated]) {
        if (!term) continue;
        const id = term.containerID ?? cs.containerID ?? `${cname}#${term.finishedAt ?? "?"}`;
        if (t.exits.some((x) => (x.containerID ?? "") === id)) continue;
        const exit = this.exitTime(t, term, e.receivedAt);
        const seen: ExitSeen = {
          container: cname,
          containerID: id,
          exitCode: term.exitCode,
          reason: term.reason,
          at: exit,
          observedAt: e.receivedAt,
        };
        t.exits.push(seen);
        out.push({
          at: exit,
          kind: "container-exit",
          source: "api",
          pod: name,
          detail: {
            container: cname,
            exitCode: term.exitCode,
            reason: term.reason,
            ...(term.signal !== undefined ? { signal: term.signal } : {}),
            finishedAt: term.finishedAt instanceof Date ? term.finishedAt.toISOString() : term.finishedAt,
            observedAt: e.receivedAt,
            timeResolution:
              "finishedAt has 1 s resolution; placed within it using the app's last line and the grace deadline",
          },
        });
        const killAt = this.inferredKillAt(t, seen);
        if (killAt !== undefined) {
          out.push({
            at: killAt,
            kind: "sigkill-sent",
            source: "kubelet",
            pod: name,
            detail: { inferred: true, from: `exit code ${term.exitCode} at the end of the grace period` },
          });
        }
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

  private exitTime(t: PodTrack, term: TerminatedState, observedAt: number): number {
    const finished = parseTime(term.finishedAt);
    if (finished === undefined) return observedAt;
    let lower = finished;
    const upper = Math.min(finished + 999, observedAt);
    if (t.lastAppLineAt !== undefined) lower = Math.max(lower, t.lastAppLineAt);
    const deadline = this.deadlineOf(t);
    if (term.exitCode === 137 && deadline !== undefined && deadline >= finished && deadline < finished + 1000) {
      lower = Math.max(lower, deadline);
    }
    return Math.max(finished, Math.min(lower, upper));
  }

  private inferredKillAt(t: PodTrack, exit: ExitSeen): number | undefined {
    if (exit.exitCode !== 137 || exit.reason === "ContainerStatusUnknown" || exit.reason === "OOMKilled") return;
    const deadline = this.deadlineOf(t);
    if (deadline === undefined || t.deletionObservedAt === undefined) return;
    // The exit must be at (or, with 1 s resolution, just before) the deadline.
    return exit.at >= deadline - 1000 ? Math.min(deadline, exit.at) : undefined;
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
    for (const a of parseAppLine(l.line, l.receivedAt)) {
      t.lastAppLineAt = Math.max(t.lastAppLineAt ?? 0, a.at);
      const pkey = `${a.pid ?? "?"}/${a.role}`;
      let proc = t.processes.get(pkey);
      const firstLine = !proc;
      if (!proc) {
        proc = { role: a.role, pid: a.pid ?? 0, signals: [] };
        t.processes.set(pkey, proc);
      }
      const base = {
        at: a.at,
        source: "app" as const,
        pod: l.pod,
        process: a.role,
        detail: {
          pid: a.pid,
          ...(a.ppid !== undefined ? { ppid: a.ppid } : {}),
          container: l.container,
          ...(a.loggedAt !== undefined ? { loggedAt: a.loggedAt } : {}),
          format: a.format,
        } as Record<string, unknown>,
      };
      switch (a.event) {
        case "start":
          out.push({ ...base, kind: "app-start", detail: { ...base.detail, event: "start" } });
          break;
        case "listening":
          // The JSON format logs start then listening: one app-start per process is enough.
          if (firstLine) out.push({ ...base, kind: "app-start", detail: { ...base.detail, event: "listening" } });
          break;
        case "signal":
          proc.signals.push({ name: a.signal ?? "?", at: a.at });
          out.push({ ...base, kind: "app-signal", detail: { ...base.detail, signal: a.signal } });
          break;
        case "drain-start":
          proc.drainStart ??= a.at;
          out.push({ ...base, kind: "app-drain-start" });
          break;
        case "listener-closed":
          // No event kind of its own: kept with the process as the start of draining if none was logged.
          proc.drainStart ??= a.at;
          break;
        case "drain-end":
          proc.drainEnd = a.at;
          out.push({ ...base, kind: "app-drain-end" });
          break;
        case "exit":
          proc.exit = { code: a.code ?? -1, at: a.at };
          out.push({ ...base, kind: "app-exit", detail: { ...base.detail, code: a.code } });
          break;
      }
    }
    return out;
  }

  // --- outcomes -------------------------------------------------------------------------------

  /** One PodOutcome per pod (default: every pod that was asked to terminate). */
  outcomes(pods?: string[]): PodOutcome[] {
    const names = pods ?? this.podsBeingDeleted();
    return names.map((name) => this.outcome(name));
  }

  private outcome(name: string): PodOutcome {
    const t = this.track(name);
    const notes: string[] = [];
    const container = this.options.container;
    const exits = t.exits.filter((x) => container === undefined || x.container === container);
    // The exit that ended the pod: the last one seen (restarts produce earlier ones in lastState).
    const exit = exits.at(-1);
    const processes: ProcessReport[] = [...t.processes.values()].map((p) => ({ ...p, signals: [...p.signals] }));
    const pid1 = processes.find((p) => p.pid === 1);
    const appExit = pid1?.exit;
    const anyAppExit = processes.some((p) => p.exit !== undefined);

    let sigkilled = false;
    if (exit?.reason === "ContainerStatusUnknown") {
      sigkilled = !anyAppExit;
      notes.push(
        `the API reported exit code ${exit.exitCode} with reason ContainerStatusUnknown: the kubelet no longer ` +
          "knew the container's status (pod deleted soon after the container exited); this code is not the real one" +
          (anyAppExit ? "; the app's own exit line is used instead" : ""),
      );
    } else if (exit) {
      sigkilled = exit.exitCode === 137 && exit.reason !== "OOMKilled";
    } else if (t.goneAt !== undefined) {
      notes.push("no terminated container status was observed before the pod was gone");
    }
    if (exit?.reason === "OOMKilled")
      notes.push("the container was OOM-killed (exit 137), not killed at the grace deadline");
    if (appExit && exit?.exitCode !== undefined && appExit.code !== exit.exitCode) {
      notes.push(
        `API exit code ${exit.exitCode} (${exit.reason ?? "no reason"}) disagrees with the app's own exit line ` +
          `(pid 1 logged exit ${appExit.code})`,
      );
    }
    if (t.deleteEmitted && t.goneAt === undefined) notes.push("the pod was still present when observation ended");
    if (t.deleteCalledAt !== undefined && t.deleteRequestedAt !== undefined) {
      const skew = t.deleteCalledAt - t.deleteRequestedAt;
      if (skew < -1500 || skew > 2500) {
        notes.push(
          `this machine's clock and the API server's differ by about ${Math.round(skew / 100) / 10} s ` +
            "(delete call vs deletionTimestamp - grace)",
        );
      }
    }
    const deleteAt = t.deleteCalledAt ?? t.deletionObservedAt ?? 0;
    return {
      pod: name,
      pid1Cmdline: t.pid1Cmdline ?? "",
      deleteAt,
      ...(t.goneAt !== undefined ? { goneAt: t.goneAt } : {}),
      ...(exit ? { exitedAt: exit.at } : {}),
      ...(exit?.exitCode !== undefined ? { exitCode: exit.exitCode } : {}),
      ...(exit?.reason !== undefined ? { exitReason: exit.reason } : {}),
      sigkilled,
      ...(t.processTree ? { processTree: t.processTree.map((p) => ({ ...p })) } : {}),
      processes,
      notes,
    };
  }
}

/** Convenience for recorded streams: entries in arrival order → all events + outcomes. */
export function buildTimeline(
  entries: RecordedEntry[],
  options: TimelineOptions & {
    deleteCalls?: Array<{ pod: string; at: number; gracePeriodSeconds?: number }>;
    pid1?: Record<string, string>;
    outcomesFor?: string[];
  } = {},
): { events: TimelineEvent[]; outcomes: PodOutcome[] } {
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
  events.sort((a, z) => a.at - z.at);
  return { events, outcomes: b.outcomes(options.outcomesFor) };
}
