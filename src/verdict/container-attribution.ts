// PURE: which container of a multi-container pod caused each failed request, from the containers' stop
// signal and exit times and each failure's time and kind. The load reaches one container (the pod's
// "app" container: in a pod with a reverse-proxy sidecar, the proxy on the Service's port); the others
// sit behind or beside it. Kubernetes signals every regular container at the same moment, so:
//   - a 502/503/504 ANSWERED by the container the load reaches, after another container got its stop
//     signal (or exited) and before the answering one exited, is the other container's listener closing
//     behind it: the proxy is alive and forwards to nothing (listener-closed-behind-proxy);
//   - a connection reset, closed or refused from the stop signal of the container the load reaches on
//     (its exit, or the Service still routing to it after) is that container stopping without draining
//     (front-stopped-without-drain), as is an error status it answers itself while stopping;
//   - failures before any container got its stop signal belong to no container (before-stop-signal);
//   - the rest (a timeout says nothing about who held the request) stay unattributed.
// inspect/causes.ts carries each cause's words and fixes. One-container pods get no attribution.
import type { FailedRequest } from "../load/types.js";
import type {
  ContainerFailureCause,
  ContainerFailureWindow,
  ContainerOutcome,
  PodOutcome,
} from "../model/pod-outcome.js";
import { formatOffset } from "../observe/timeline.js";

/** Failure kinds that are a connection cut, not an answer. */
const CUT_KINDS = new Set<string>([
  "reset",
  "closed",
  "refused",
  "error",
  "rst-stream",
  "goaway-refused",
  "grpc-unavailable",
  "ws-abnormal",
  "ws-lost",
]);
/** Statuses a reverse proxy answers when its upstream is gone. */
const PROXY_STATUSES = new Set(["502", "503", "504"]);
/** A failure this long after the pod's last container exited is no longer about that pod. */
const AFTER_EXIT_MS = 2000;

/** When a container stopped serving, as far as the evidence tells: its stop signal, else its exit. */
function stoppedAt(c: ContainerOutcome): number | undefined {
  return c.sigterm?.at ?? c.exitedAt;
}

function stopWords(c: ContainerOutcome, origin: number): string {
  if (c.sigterm) {
    return `${c.container ?? "?"} got its stop signal at ${formatOffset(c.sigterm.at - origin)} (${c.sigterm.from}${c.sigterm.inferred ? ", inferred" : ""})`;
  }
  return `${c.container ?? "?"} exited at ${formatOffset((c.exitedAt ?? origin) - origin)} (its stop signal not known)`;
}

function exitWords(c: ContainerOutcome, origin: number): string {
  return c.exitedAt === undefined
    ? `${c.container ?? "?"}'s exit was not observed`
    : `${c.container ?? "?"} exited at ${formatOffset(c.exitedAt - origin)}${c.sigkilled ? " (SIGKILL at the grace deadline)" : ""}`;
}

interface Blame {
  cause: ContainerFailureCause;
  container?: string;
  via?: string;
  why: string;
}

/** One failure of a multi-container pod → its cause and the container to blame. */
export function blameFailure(pod: PodOutcome, f: Pick<FailedRequest, "at" | "kind" | "code">): Blame {
  const front = pod;
  const origin = pod.deleteAt;
  const others = (pod.sidecars ?? [])
    .filter((c) => stoppedAt(c) !== undefined)
    .sort((a, b) => (stoppedAt(a) ?? 0) - (stoppedAt(b) ?? 0));
  const frontStop = stoppedAt(front);
  const firstStop = Math.min(frontStop ?? Number.POSITIVE_INFINITY, ...others.map((c) => stoppedAt(c) ?? 0));
  if (firstStop === Number.POSITIVE_INFINITY) {
    return { cause: "unattributed", why: "no container's stop signal or exit is known" };
  }
  if (f.at < firstStop) {
    return { cause: "before-stop-signal", why: "before any container of the pod got its stop signal" };
  }
  const answered = f.kind === "non-2xx" && PROXY_STATUSES.has(String(f.code));
  const frontAlive = front.exitedAt === undefined || f.at <= front.exitedAt;
  const behind = others.find((c) => (stoppedAt(c) ?? 0) <= f.at);
  if (answered && frontAlive && behind) {
    return {
      cause: "listener-closed-behind-proxy",
      container: behind.container ?? "?",
      via: front.container ?? "?",
      why: `answered by ${front.container ?? "?"} after ${stopWords(behind, origin)}, before ${exitWords(front, origin)}`,
    };
  }
  if ((CUT_KINDS.has(f.kind) || answered) && frontStop !== undefined && f.at >= frontStop) {
    return {
      cause: "front-stopped-without-drain",
      container: front.container ?? "?",
      why: `${answered ? `${f.code} answered` : `${f.kind}`} after ${stopWords(front, origin)}; ${exitWords(front, origin)}`,
    };
  }
  return {
    cause: "unattributed",
    why:
      f.kind === "timeout"
        ? "a timeout does not say which container held the request"
        : "the containers' stop and exit times do not place it",
  };
}

/** The pod a failure belongs to: the one that answered it, else the one disrupted pod terminating then. */
function podOf(f: FailedRequest, pods: readonly PodOutcome[]): PodOutcome | undefined {
  const named = f.pod?.split("/")[0];
  if (named !== undefined) return pods.find((p) => p.pod === named);
  const during = pods.filter((p) => {
    const lastExit = Math.max(...[p, ...(p.sidecars ?? [])].map((c) => c.exitedAt ?? p.goneAt ?? Number.NaN));
    const end = Number.isNaN(lastExit) ? Number.POSITIVE_INFINITY : lastExit + AFTER_EXIT_MS;
    return f.at >= p.deleteAt && f.at <= end;
  });
  return during.length === 1 ? during[0] : undefined;
}

function kindKey(f: FailedRequest): string {
  return f.code !== undefined && f.kind === "non-2xx" ? `non-2xx ${f.code}` : f.kind;
}

/**
 * The failure windows of every disrupted pod that has sidecars: its failures grouped by cause and
 * blamed container, in time order. Failures of one-container pods, and those no single pod was
 * terminating at, are left out.
 */
export function attributeFailures(
  pods: readonly PodOutcome[],
  failures: readonly FailedRequest[],
): Map<string, ContainerFailureWindow[]> {
  const multi = pods.filter((p) => (p.sidecars?.length ?? 0) > 0);
  const out = new Map<string, ContainerFailureWindow[]>();
  const sorted = [...failures].sort((a, b) => a.at - b.at);
  for (const f of sorted) {
    const pod = podOf(f, pods);
    if (!pod || !multi.includes(pod)) continue;
    const blame = blameFailure(pod, f);
    const windows = out.get(pod.pod) ?? [];
    out.set(pod.pod, windows);
    let w = windows.find((x) => x.cause === blame.cause && x.container === blame.container);
    if (!w) {
      w = {
        cause: blame.cause,
        ...(blame.container !== undefined ? { container: blame.container } : {}),
        ...(blame.via !== undefined ? { via: blame.via } : {}),
        from: f.at,
        to: f.at,
        count: 0,
        kinds: {},
        evidence: blame.why,
      };
      windows.push(w);
    }
    w.to = f.at;
    w.count += 1;
    w.kinds[kindKey(f)] = (w.kinds[kindKey(f)] ?? 0) + 1;
  }
  for (const [name, windows] of out) {
    const pod = pods.find((p) => p.pod === name);
    for (const w of windows) w.evidence = `${windowWords(w, pod?.deleteAt ?? w.from)}: ${w.evidence}`;
  }
  return out;
}

/** "12 failed (non-2xx 502 ×12) at +0.10 s … +1.90 s". */
function windowWords(w: ContainerFailureWindow, origin: number): string {
  const kinds = Object.entries(w.kinds)
    .map(([k, n]) => `${k} ×${n}`)
    .join(", ");
  const span =
    w.from === w.to
      ? `at ${formatOffset(w.from - origin)}`
      : `at ${formatOffset(w.from - origin)} … ${formatOffset(w.to - origin)}`;
  return `${w.count} failed (${kinds}) ${span}`;
}
