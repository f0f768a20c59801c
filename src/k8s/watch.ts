// Watches one run's namespace through the API (client-node Watch): Pods, EndpointSlices (or core
// Endpoints on servers without them), Events; and follows every container's log (client-node Log,
// follow + timestamps) from the moment its container runs — a deleted pod's logs cannot be read
// afterwards. Each thing seen becomes one RecordedEntry handed to `onEntry` in arrival order; the pure
// TimelineBuilder turns them into timeline events.
import { Writable } from "node:stream";
import { type KubeConfig, Log, Watch } from "@kubernetes/client-node";
import { parseTime, type RecordedEntry, type WatchResource } from "./timeline-from-watch.js";
import type { EndpointApi } from "./version.js";

export interface ObserverOptions {
  kc: KubeConfig;
  namespace: string;
  endpointApi: EndpointApi;
  /**
   * What of the namespace is watched: the workload's pods (a label selector), its Service's endpoints, and
   * (onlyWorkloadEvents) the events about those pods, the workload and the Service. Absent: everything.
   */
  scope?: WatchScope;
  onEntry: (entry: RecordedEntry) => void;
  /** Problems worth telling the user (a watch that could not be re-established...). */
  warn?: (line: string) => void;
  now?: () => number;
}

interface ContainerStatusLike {
  name?: string;
  containerID?: string;
  state?: { running?: unknown; terminated?: unknown };
}

interface PodLike {
  metadata?: { name?: string; deletionTimestamp?: string };
  status?: { containerStatuses?: ContainerStatusLike[]; initContainerStatuses?: ContainerStatusLike[] };
}

export interface WatchScope {
  /** "app=web,tier=front": the pods' label selector. */
  podSelector: string;
  /** The Service whose endpoints count. */
  service: string;
  /** The workload's name (its events, and its ReplicaSets' named after it, are kept). */
  workload: string;
  /**
   * Keep only the events about the workload, its pods and its Service (a target's namespace, shared with
   * other things); false: every event of the namespace (the run's own).
   */
  onlyWorkloadEvents: boolean;
}

/** Each watch's query for a scope: pods by their labels, endpoints by their Service. */
export function scopeQuery(resource: WatchResource, scope: WatchScope | undefined): Record<string, string> {
  if (scope === undefined) return {};
  if (resource === "pods" && scope.podSelector !== "") return { labelSelector: scope.podSelector };
  if (resource === "endpointslices") return { labelSelector: `kubernetes.io/service-name=${scope.service}` };
  if (resource === "endpoints") return { fieldSelector: `metadata.name=${scope.service}` };
  return {};
}

/** The watch paths for a namespace, by what the server serves. */
export function watchPaths(
  namespace: string,
  endpointApi: EndpointApi,
): Array<{ resource: WatchResource; path: string }> {
  const ns = encodeURIComponent(namespace);
  const endpoints: { resource: WatchResource; path: string } =
    endpointApi === "v1/endpoints"
      ? { resource: "endpoints", path: `/api/v1/namespaces/${ns}/endpoints` }
      : { resource: "endpointslices", path: `/apis/${endpointApi}/namespaces/${ns}/endpointslices` };
  return [
    { resource: "pods", path: `/api/v1/namespaces/${ns}/pods` },
    endpoints,
    { resource: "events", path: `/api/v1/namespaces/${ns}/events` },
  ];
}

/** Splits a byte stream into lines; a last line without newline is flushed at the end. */
export class LineSplitter extends Writable {
  private buffered = "";
  constructor(private readonly onLine: (line: string) => void) {
    super();
  }
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.buffered += typeof chunk === "string" ? chunk : chunk.toString("utf8");
    let nl = this.buffered.indexOf("\n");
    while (nl >= 0) {
      const line = this.buffered.slice(0, nl).replace(/\r$/, "");
      this.buffered = this.buffered.slice(nl + 1);
      if (line !== "") this.onLine(line);
      nl = this.buffered.indexOf("\n");
    }
    cb();
  }
  override _final(cb: (err?: Error | null) => void): void {
    if (this.buffered.trim() !== "") this.onLine(this.buffered);
    this.buffered = "";
    cb();
  }
}

export class ClusterObserver {
  private readonly controllers = new Set<AbortController>();
  private readonly following = new Set<string>();
  private readonly terminated = new Set<string>();
  /** Pods the (scoped) pod watch has shown: the events kept are about them. */
  private readonly podsSeen = new Set<string>();
  private stopped = false;
  private readonly now: () => number;

  constructor(private readonly o: ObserverOptions) {
    this.now = o.now ?? Date.now;
  }

  private emit(entry: RecordedEntry): void {
    if (this.stopped) return;
    this.o.onEntry(entry);
  }

  /** Starts every watch; resolves once each has connected (its initial list follows as ADDED). */
  async start(): Promise<void> {
    await Promise.all(watchPaths(this.o.namespace, this.o.endpointApi).map((w) => this.watch(w.resource, w.path)));
  }

  private async watch(resource: WatchResource, path: string, resourceVersion?: string, attempt = 0): Promise<void> {
    let lastRv = resourceVersion;
    let controller: AbortController | undefined;
    let ended = false;
    const watcher = new Watch(this.o.kc);
    const onEvent = (type: string, object: unknown) => {
      const rv = (object as { metadata?: { resourceVersion?: string } } | undefined)?.metadata?.resourceVersion;
      if (rv) lastRv = rv;
      if (type === "BOOKMARK") return;
      if (resource === "events" && !this.inScope(object)) return;
      if (type === "ERROR") {
        // 410 Gone: our resourceVersion is too old; start again from a fresh list.
        if ((object as { code?: number } | undefined)?.code === 410) lastRv = undefined;
        return;
      }
      this.emit({ source: "watch", resource, receivedAt: this.now(), type, object });
      if (resource === "pods") this.onPod(object as PodLike, type);
    };
    const onDone = (err: unknown) => {
      // May run before watch() returns (a request that fails at once).
      ended = true;
      if (controller) this.controllers.delete(controller);
      if (this.stopped) return;
      // Watches end (server timeouts, connection resets): resume from the last resourceVersion.
      if (attempt >= 20) {
        this.o.warn?.(`watch ${resource} in ${this.o.namespace} ended and could not be resumed: ${String(err)}`);
        return;
      }
      const delay = err ? Math.min(2000, 100 * 2 ** attempt) : 0;
      setTimeout(() => {
        void this.watch(resource, path, lastRv, err ? attempt + 1 : 0).catch((e: unknown) =>
          this.o.warn?.(`watch ${resource} could not be resumed: ${String(e)}`),
        );
      }, delay);
    };
    controller = await watcher.watch(
      path,
      {
        allowWatchBookmarks: true,
        ...scopeQuery(resource, this.o.scope),
        ...(lastRv ? { resourceVersion: lastRv } : {}),
      },
      onEvent,
      onDone,
    );
    if (this.stopped) controller.abort();
    else if (!ended) this.controllers.add(controller);
  }

  /** An event about the scope's pods, workload (its ReplicaSets too) or Service; every event without a scope. */
  private inScope(object: unknown): boolean {
    const scope = this.o.scope;
    if (!scope?.onlyWorkloadEvents) return true;
    const about = (object as { involvedObject?: { kind?: string; name?: string } }).involvedObject;
    const name = about?.name ?? "";
    if (about?.kind === "Pod") return this.podsSeen.has(name);
    return name === scope.service || name === scope.workload || name.startsWith(`${scope.workload}-`);
  }

  /**
   * Follows logs of every container that runs, once per container instance: each container of a
   * multi-container pod, native sidecars (init containers that keep running) included.
   */
  private onPod(pod: PodLike, type: string): void {
    const name = pod.metadata?.name;
    if (!name) return;
    this.podsSeen.add(name);
    for (const cs of [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])]) {
      if (!cs.name || !cs.containerID) continue;
      if (cs.state?.terminated || type === "DELETED") this.terminated.add(cs.containerID);
      if (cs.state?.running && !this.following.has(cs.containerID)) {
        this.following.add(cs.containerID);
        void this.followLog(name, cs.name, cs.containerID);
      }
    }
  }

  private async followLog(pod: string, container: string, containerID: string, sinceTime?: string, attempt = 0) {
    let lastStamp = sinceTime;
    const since = parseTime(sinceTime);
    const splitter = new LineSplitter((line) => {
      const stamp = /^(\S+Z)\s/.exec(line)?.[1];
      const at = parseTime(stamp);
      // A resumed stream starts again at sinceTime: skip what was already recorded.
      if (since !== undefined && at !== undefined && at <= since) return;
      if (stamp) lastStamp = stamp;
      this.emit({ source: "log", pod, container, receivedAt: this.now(), line });
    });
    splitter.on("finish", () => {
      // The stream may close early while the container still runs: resume after the last line.
      // Wait a moment first: the pod watch usually reports the container's exit just after its log ends.
      setTimeout(() => {
        if (this.stopped || this.terminated.has(containerID) || attempt >= 5) return;
        void this.followLog(pod, container, containerID, lastStamp, attempt + 1);
      }, 1000);
    });
    try {
      const controller = await new Log(this.o.kc).log(this.o.namespace, pod, container, splitter, {
        follow: true,
        timestamps: true,
        ...(lastStamp ? { sinceTime: lastStamp } : {}),
      });
      if (this.stopped) controller.abort();
      else this.controllers.add(controller);
    } catch (err) {
      if (!this.stopped && !this.terminated.has(containerID) && attempt === 0) {
        this.o.warn?.(
          `could not follow the log of ${pod}/${container}: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    }
  }

  /** Stops every watch and log stream. Safe to call twice. */
  stop(): void {
    this.stopped = true;
    for (const c of this.controllers) c.abort();
    this.controllers.clear();
  }
}
