// The local backend's raw observations, as a run records them (source "local"): what the harness saw
// while it played the kubelet for one pod — the pod's identity, PID 1 and the processes read before
// any signal, the delete, each container's preStop, stop signal, SIGKILL, Docker's exit record (wait()
// and inspect) and its app lines as read. localPodOutcome() turns a pod's observations into its
// outcome through the builder every backend shares (observe/pod-evidence.ts): live, once the pod is
// gone, and on replay (runner/replay.ts), so a recording is rebuilt by today's code. Pure but for the
// sink it writes to.

import { sleepSeconds } from "../../k8s/prestop.js";
import type { EventSink, TimelineEvent } from "../../model/events.js";
import type { ContainerPreStop, ContainerRole, ObservedPodOutcome } from "../../model/pod-outcome.js";
import type { ProcessTreeInspection } from "../../model/process-tree.js";
import { pid1Exit } from "../../observe/app-log.js";
import { sigkillDeadline } from "../../observe/exit-evidence.js";
import { type ContainerFacts, podEvidence } from "../../observe/pod-evidence.js";
import type { PreStop } from "../../scenario/schema.js";

/** The `source` of the local backend's observations in a run's EventSink (model/events.ts RawObservation). */
export const LOCAL_OBSERVATION_SOURCE = "local";

/** Which container an observation is about (absent: graceful-e2e's own one-container pod). */
interface Of {
  pod: string;
  container?: string;
}

/** One observation of the local backend, in the order it happened (times: epoch ms). */
export type LocalObservation =
  /** The pod about to be deleted: its node, and its running containers in start order with their roles. */
  | {
      op: "pod";
      pod: string;
      node?: string;
      containers: Array<{ container?: string; role: ContainerRole; preStop: ContainerPreStop }>;
    }
  /** What was read of one container before any signal (once it was ready). */
  | (Of & {
      op: "read-before-signal";
      pid1Cmdline: string;
      processTree?: Array<{ pid: number; ppid: number; command: string }>;
      inspection?: ProcessTreeInspection;
    })
  /** The harness's delete: t = 0 of the termination, and the grace period it counts. */
  | { op: "delete"; pod: string; at: number; graceSeconds: number }
  | (Of & { op: "prestop"; startedAt: number; endedAt?: number; failed?: string; overran: boolean })
  /** The stop signal chosen, and when it was sent (absent: the container had exited before its turn). */
  | (Of & { op: "stop-signal"; signal: string; from: "scenario" | "image" | "default"; at?: number })
  | (Of & { op: "sigkill"; at: number })
  /** Docker's wait(): the exit code, and when it returned. */
  | (Of & { op: "exit"; at: number; code: number })
  /** Docker's inspect after the exit. */
  | (Of & { op: "inspected"; oomKilled?: boolean; finishedAt?: string })
  /** The container's app events as its log lines stated them (observe/app-log.ts; bounded by the reader). */
  | (Of & { op: "app-events"; events: TimelineEvent[] })
  /** The containers were removed. */
  | { op: "gone"; pod: string; at: number };

const OPS = new Set<LocalObservation["op"]>([
  "pod",
  "read-before-signal",
  "delete",
  "prestop",
  "stop-signal",
  "sigkill",
  "exit",
  "inspected",
  "app-events",
  "gone",
]);

/** True when `data` has the shape of a local observation (checked on replay: a recording is input). */
export function isLocalObservation(data: unknown): data is LocalObservation {
  const o = data as { op?: unknown; pod?: unknown } | null;
  return typeof o?.op === "string" && OPS.has(o.op as LocalObservation["op"]) && typeof o.pod === "string";
}

/** Records one observation through the sink (when the run is recorded). */
export function observeLocal(sink: EventSink, at: number, data: LocalObservation): void {
  sink.observe?.({ at, source: LOCAL_OBSERVATION_SOURCE, data });
}

/** A sink that also keeps the local observations made through it (the pod's outcome is built from them). */
export function keepingObservations(inner: EventSink): { sink: EventSink; observations: LocalObservation[] } {
  const observations: LocalObservation[] = [];
  const sink: EventSink = {
    record: (event) => inner.record(event),
    observe: (o) => {
      if (o.source === LOCAL_OBSERVATION_SOURCE && isLocalObservation(o.data)) observations.push(o.data);
      inner.observe?.(o);
    },
  };
  return { sink, observations };
}

/** A scenario's (or a template container's) preStop as the model tells it (model/pod-outcome.ts). */
export function preStopWords(p: PreStop): ContainerPreStop {
  switch (p.type) {
    case "none":
      return { type: "none" };
    case "sleep":
      return { type: "sleep", seconds: p.seconds, description: `sleep action, ${p.seconds} s` };
    case "exec": {
      const seconds = sleepSeconds(p.command);
      return {
        type: "exec",
        ...(seconds !== undefined ? { seconds } : {}),
        description: `exec ${JSON.stringify(p.command)}`,
      };
    }
    case "httpGet":
      return { type: "httpGet", description: `httpGet ${p.path} on port ${p.port ?? "the Service's"}` };
  }
}

type Op<K extends LocalObservation["op"]> = Extract<LocalObservation, { op: K }>;

/** One container's facts from its observations: Docker's record, PID 1's exit line, the harness's signals. */
function containerFacts(
  mine: readonly LocalObservation[],
  c: Op<"pod">["containers"][number],
  del: Op<"delete">,
): ContainerFacts {
  const of = <K extends LocalObservation["op"]>(op: K) =>
    mine.find((o): o is Op<K> => o.op === op && (o as Of).container === c.container);
  const [read, stop, kill, exit, inspected, lines] = [
    of("read-before-signal"),
    of("stop-signal"),
    of("sigkill"),
    of("exit"),
    of("inspected"),
    of("app-events"),
  ];
  const app = pid1Exit(lines?.events ?? [], del.pod, del.at);
  const finished = inspected?.finishedAt ? ` (State.FinishedAt ${inspected.finishedAt})` : "";
  const runtime = exit && {
    code: exit.code,
    at: exit.at,
    runtime: "Docker",
    note: `Docker: the exit code from wait(), the time when it returned${finished}`,
  };
  // The kubelet's words for the exit, as the local kubelet decides it (Docker gives no reason).
  const reason = kill ? "Killed after grace period" : exit?.code === 0 ? "Completed" : "Error";
  return {
    ...(c.container !== undefined ? { container: c.container } : {}),
    ...(c.role !== "app" ? { role: c.role } : {}),
    preStop: c.preStop,
    pid1Cmdline: read?.pid1Cmdline ?? "",
    exit: { ...(runtime ? { runtime } : {}), ...(app ? { app } : {}) },
    context: {
      deleteAt: del.at,
      graceDeadline: sigkillDeadline(del.at, del.graceSeconds, stop?.at),
      // SIGKILL is known for certain here: the harness sends it.
      ...(kill ? { sigkillSentAt: kill.at } : {}),
    },
    oomKilled: inspected?.oomKilled === true,
    ...(exit ? { reason: { text: reason, source: "runtime" as const, code: exit.code } } : {}),
    ...(stop ? { stopSignal: { signal: stop.signal, from: stop.from } } : {}),
    ...(read?.processTree ? { processTree: read.processTree } : {}),
    ...(read?.inspection ? { inspection: read.inspection } : {}),
  };
}

/**
 * One pod's outcome from its observations (every backend's builder, observe/pod-evidence.ts); undefined
 * when they do not hold its identity, its app container and its delete (e.g. a recording made before
 * local observations, or one truncated before the delete).
 */
export function localPodOutcome(
  observations: readonly LocalObservation[],
  pod: string,
): ObservedPodOutcome | undefined {
  const mine = observations.filter((o) => o.pod === pod);
  const identity = mine.find((o): o is Op<"pod"> => o.op === "pod");
  const del = mine.find((o): o is Op<"delete"> => o.op === "delete");
  if (!identity || !del) return undefined;
  const facts = identity.containers.map((c) => ({ role: c.role, facts: containerFacts(mine, c, del) }));
  const app = facts.find((f) => f.role === "app")?.facts;
  if (!app) return undefined;
  const gone = mine.find((o): o is Op<"gone"> => o.op === "gone");
  return podEvidence({
    pod,
    ...(identity.node !== undefined ? { node: identity.node } : {}),
    deleteAt: del.at,
    ...(gone ? { goneAt: gone.at } : {}),
    app,
    others: facts.filter((f) => f.facts !== app).map((f) => f.facts),
  });
}
