// THE cause catalogue: every reason a stop signal does not end in a drain, read from the process tree
// (predict.ts's Cause), with its severity, its prose and its fix. `check`'s diagnosis (every
// scenario's, after the run) and `audit`'s findings (before any run) both render from here, with the
// stop signal the runtime really sends. Pure.
import type { ContainerFailureCause, ContainerFailureWindow } from "../model/pod-outcome.js";
import type { Cause, Prediction } from "./predict.js";

/** The finding codes a cause maps to (audit/types.ts's FindingCode includes them). */
export type CauseCode =
  | "pid1-shell-no-forward"
  | "sigterm-not-handled"
  | "sigterm-ignored"
  | "pid1-exits-abruptly"
  | "stop-signal-mismatch"
  | "sigterm-handling-unverified";

export type CauseSeverity = "critical" | "high" | "medium" | "low" | "info";

/** The names a cause's words are made of. */
export interface CauseWords {
  /** PID 1's command. */
  pid1: string;
  /** The app processes: "node /app/server.js (pid 7), …". */
  apps: string;
  /** The first app's command. */
  appCommand: string;
  /** The signal the runtime sends on a stop (the image's STOPSIGNAL, SIGTERM when it sets none). */
  signal: string;
  /** Where the fix is written ("the Dockerfile", "the pod template's command/args"); absent: not said. */
  place?: string;
  /** A recognised server with its own graceful signal (server-fast-stop). */
  server?: { server: string; graceful: string; what: string };
  /** How to change the stop signal on this backend (server-fast-stop). */
  stopSignalFix?: string;
}

export interface CauseEntry {
  code: CauseCode;
  severity: CauseSeverity;
  certainty: "certain" | "possible";
  /** What happens to the stop signal, in the present tense (the audit's title, check's problem). */
  says: (w: CauseWords) => string;
  fix: (w: CauseWords) => string;
}

export const HANDLER_FIX =
  "handle SIGTERM in the app: stop accepting new connections, finish the requests in flight, then exit " +
  "(in Node: process.on('SIGTERM', () => server.close(() => process.exit(0))), closing idle keep-alive " +
  "connections as they go idle)";

/** The shell-form command as an exec-form JSON array (naive split on blanks: an example). */
export function execFormOf(shellCommand: string): string {
  const words = shellCommand
    .trim()
    .replace(/^exec\s+/, "")
    .split(/\s+/)
    .filter((w) => w !== "");
  return `CMD ${JSON.stringify(words).replace(/","/g, '", "')}`;
}

const basename = (path: string): string => path.split("/").pop() ?? path;
const initName = (w: CauseWords) => basename(w.pid1.split(/\s+/)[0] ?? w.pid1);
const innerOf = (w: CauseWords) => w.pid1.replace(/^\S+\s+-c\s+/, "");
const place = (w: CauseWords) => (w.place ? ` in ${w.place}` : "");

const FORWARD_AND_WAIT =
  "run the app as PID 1 (exec-form CMD, e.g. node instead of npm start), or make the wrapper forward SIGTERM and wait.";
const TRAP_FIX =
  "in the trap, forward the signal to the app (kill -TERM $pid) and wait for it (wait $pid) before the shell exits; or exec a single app.";

const CATALOGUE: Partial<Record<Cause, CauseEntry>> = {
  "shell-form-pid1": {
    code: "pid1-shell-no-forward",
    severity: "critical",
    certainty: "certain",
    says: (w) =>
      `PID 1 is ${w.pid1}, a shell-form CMD/ENTRYPOINT (Docker wraps it in /bin/sh -c), and the shell does not ` +
      `catch ${w.signal}: as PID 1 the kernel ignores it, and your app, ${w.apps}, is its child and never hears of it`,
    fix: (w) =>
      `use the exec form${place(w)}, e.g. ${execFormOf(innerOf(w))}, so the app is PID 1 and receives ` +
      `${w.signal} itself (or prefix the command with exec: CMD exec ${innerOf(w)}).`,
  },
  "script-pid1": {
    code: "pid1-shell-no-forward",
    severity: "critical",
    certainty: "certain",
    says: (w) =>
      `PID 1 is the script ${w.pid1}; the shell does not catch ${w.signal} (as PID 1 the kernel ignores it) and ` +
      `starts your app, ${w.apps}, as a child that never hears of it`,
    fix: (w) =>
      `start the app with exec as the script's last command (exec ${w.appCommand}), so it replaces the shell as ` +
      `PID 1 and receives ${w.signal} itself; or use an exec-form CMD without the script.`,
  },
  "wrapper-pid1": {
    code: "sigterm-not-handled",
    severity: "critical",
    certainty: "certain",
    says: (w) =>
      `PID 1 is ${w.pid1}, which does not catch ${w.signal} (ignored as PID 1), and your app, ${w.apps}, is not ` +
      "PID 1: nothing forwards the signal",
    fix: () =>
      "make the app PID 1 (exec-form CMD, or exec from the wrapper), or run an init that forwards signals " +
      '(ENTRYPOINT ["tini", "--"]) in front of an app that handles SIGTERM.',
  },
  "app-pid1-default": {
    code: "sigterm-not-handled",
    severity: "critical",
    certainty: "certain",
    says: (w) =>
      `${w.pid1} is PID 1 and installs no ${w.signal} handler; the kernel does not deliver default-action ` +
      "signals to PID 1, so the signal is ignored",
    fix: () => `${HANDLER_FIX}. (tini in front would make SIGTERM end the app at once, without a drain.)`,
  },
  "app-pid1-ignores": {
    code: "sigterm-ignored",
    severity: "critical",
    certainty: "certain",
    says: (w) =>
      `${w.pid1} is PID 1 and ignores ${w.signal} (SIG_IGN, often inherited from a parent or set with trap '' TERM)`,
    fix: () => `stop ignoring SIGTERM (trap '' TERM, nohup, an inherited SIG_IGN) and ${HANDLER_FIX}.`,
  },
  "init-child-ignores": {
    code: "sigterm-ignored",
    severity: "critical",
    certainty: "certain",
    says: (w) => `${w.pid1} forwards ${w.signal} to its child, which ignores it (SIG_IGN)`,
    fix: () => "stop ignoring SIGTERM in the child (trap '' TERM, nohup), and have it forward the signal to the app.",
  },
  "init-to-app-dies": {
    code: "pid1-exits-abruptly",
    severity: "critical",
    certainty: "certain",
    says: (w) =>
      `${initName(w)} forwards ${w.signal} to your app, ${w.apps}, which has no handler and dies at once, ` +
      "without draining",
    fix: () => `${HANDLER_FIX}.`,
  },
  "init-child-dies": {
    code: "pid1-exits-abruptly",
    severity: "critical",
    certainty: "certain",
    says: (w) =>
      `${initName(w)} (PID 1: ${w.pid1}) forwards ${w.signal} only to its direct child, which has no trap and dies ` +
      `of it at once; ${initName(w)} exits with it and the kernel kills your app, ${w.apps}, mid-request ` +
      "(an exit code of 143 that looks graceful)",
    fix: () =>
      "run one app per container and exec it from the script (exec node …) so the app is the init's direct " +
      "child; or make the script trap SIGTERM, forward it to the apps and wait for them.",
  },
  "init-group-child-dies": {
    code: "pid1-exits-abruptly",
    severity: "critical",
    certainty: "certain",
    says: (w) =>
      `${initName(w)} -g signals the whole process group: your app, ${w.apps}, receives ${w.signal}, but the ` +
      `shell between them dies of it at once; ${initName(w)} exits and the kernel kills the apps mid-drain`,
    fix: () =>
      "make the script wait for the apps (trap 'kill -TERM $p1 $p2' TERM; then wait until both exited), or exec a single app.",
  },
  "node-pid1": {
    code: "sigterm-handling-unverified",
    severity: "medium",
    certainty: "possible",
    says: (w) =>
      `node is PID 1 (${w.pid1}) and catches ${w.signal}, but Node installs a handler in every process: from ` +
      "outside nobody can tell whether the app drains (a process.on('SIGTERM') handler) or not; without one, " +
      `Node's built-in handler re-raises ${w.signal} with its default action, which the kernel discards for PID 1`,
    fix: () => `${HANDLER_FIX}. (tini in front would make SIGTERM end the app at once, without a drain.)`,
  },
  "init-to-node": {
    code: "sigterm-handling-unverified",
    severity: "medium",
    certainty: "possible",
    says: (w) =>
      `${initName(w)} forwards ${w.signal} to node (${w.apps}), which catches it, but Node installs a handler in ` +
      "every process: from outside nobody can tell whether the app drains (a process.on('SIGTERM') handler) or " +
      "not; without one, Node re-raises the signal with its default action and dies at once",
    fix: () => `${HANDLER_FIX}.`,
  },
  "shell-trap-pid1": {
    code: "sigterm-handling-unverified",
    severity: "medium",
    certainty: "possible",
    says: (w) =>
      `PID 1 is a shell with a ${w.signal} trap: graceful only if the trap forwards the signal to your app, ` +
      `${w.apps}, and waits for it; the kernel kills the app the moment the shell exits`,
    fix: () => TRAP_FIX,
  },
  "init-to-shell-trap": {
    code: "sigterm-handling-unverified",
    severity: "medium",
    certainty: "possible",
    says: (w) =>
      `${initName(w)} forwards ${w.signal} to a shell with a trap: graceful only if the trap forwards it to your ` +
      `app, ${w.apps}, and waits for it; the kernel kills the app the moment the shell exits`,
    fix: () => TRAP_FIX,
  },
  "intermediary-pid1": {
    code: "sigterm-handling-unverified",
    severity: "medium",
    certainty: "possible",
    says: (w) =>
      `${w.pid1} catches ${w.signal} but is not your app, ${w.apps}: graceful only if it forwards the signal and waits`,
    fix: () => FORWARD_AND_WAIT,
  },
  "init-to-intermediary": {
    code: "sigterm-handling-unverified",
    severity: "medium",
    certainty: "possible",
    says: (w) =>
      `${initName(w)} forwards ${w.signal} to a process that is not your app, ${w.apps}: graceful only if it ` +
      "forwards the signal and waits",
    fix: () => FORWARD_AND_WAIT,
  },
  "server-fast-stop": {
    code: "stop-signal-mismatch",
    severity: "high",
    certainty: "certain",
    says: (w) =>
      `${w.server?.server ?? "the server"} gets ${w.signal} when stopped, which is ${w.server?.what ?? "not its graceful shutdown"}; ` +
      `its graceful shutdown is ${w.server?.graceful ?? "another signal"}`,
    fix: (w) =>
      w.stopSignalFix ??
      `stop it with ${w.server?.graceful ?? "its graceful signal"}: STOPSIGNAL ${w.server?.graceful ?? ""} in the Dockerfile.`,
  },
};

/** The catalogue's entry for a cause (undefined: the path reaches an app that handles the signal). */
export function causeEntry(cause: Cause): CauseEntry | undefined {
  return CATALOGUE[cause];
}

/** The words a prediction's cause is told with. */
export function causeWords(
  pred: Prediction,
  signal: string,
  extra: Pick<CauseWords, "place" | "stopSignalFix"> & { pid1?: string } = {},
): CauseWords {
  const server = pred.server;
  return {
    pid1: pred.pid1?.command ?? extra.pid1 ?? "PID 1",
    apps:
      pred.apps.length > 0 ? pred.apps.map((a) => `${a.command.slice(0, 50)} (pid ${a.pid})`).join(", ") : "the app",
    appCommand: pred.apps[0]?.command ?? "your app",
    signal,
    ...(extra.place ? { place: extra.place } : {}),
    ...(extra.stopSignalFix ? { stopSignalFix: extra.stopSignalFix } : {}),
    ...(server?.what ? { server: { server: server.server, graceful: server.graceful, what: server.what } } : {}),
  };
}

/** How to make a runtime send a server its graceful signal, on Docker or on Kubernetes. */
export function stopSignalFix(server: { server: string; graceful: string }, backend: "local" | "kubernetes"): string {
  return backend === "local"
    ? `stop it with ${server.graceful}: STOPSIGNAL ${server.graceful} in the Dockerfile (Compose: stop_signal: ${server.graceful}; docker run --stop-signal ${server.graceful}).`
    : `build the image with STOPSIGNAL ${server.graceful} (the runtime sends the image's stop signal); on Kubernetes 1.33+ with the ContainerStopSignals feature gate, lifecycle.stopSignal: ${server.graceful}; or a preStop hook that starts the graceful shutdown (e.g. ${server.server === "nginx" ? "nginx -s quit" : `kill -${server.graceful.slice(3)} 1`}) and waits for the exit.`;
}

// ---------------------------------------------------------------------------------------------
// Multi-container pods: which container caused a failure window (verdict/container-attribution.ts
// decides it from the containers' stop and exit times; the words and the fixes to measure are here).

/** The containers a failure window's cause is told with. */
export interface ContainerCauseWords {
  /** The container blamed. */
  container: string;
  /** The container the load reaches, when it is another (it answered or forwarded the failed requests). */
  via?: string;
}

export interface ContainerCauseEntry {
  cause: ContainerFailureCause;
  severity: CauseSeverity;
  says: (w: ContainerCauseWords) => string;
  /** Absent: nothing in the pod to change. */
  fix?: (w: ContainerCauseWords) => string;
}

const NATIVE_SIDECAR =
  "a native sidecar (Kubernetes 1.29+: the proxy under initContainers with restartPolicy: Always) is stopped " +
  "only after the regular containers exited, so it never cuts their answers";

const CONTAINER_CAUSES: Record<ContainerFailureCause, ContainerCauseEntry> = {
  "listener-closed-behind-proxy": {
    cause: "listener-closed-behind-proxy",
    severity: "high",
    says: (w) =>
      `the app's listener closed behind its proxy: ${w.container} got its stop signal and closed its listener ` +
      `while ${w.via ?? "the proxy"} still accepted the requests the Service routed to the pod (and those its ` +
      "keep-alive connections, pinned to the pod, still sent) and answered them with 502/503/504 " +
      `(the failure is ${w.container}'s, not the proxy's)`,
    fix: (w) =>
      `keep ${w.container} serving until the endpoint has left the Service: a preStop sleep on ${w.container} ` +
      `(a few seconds, longer than the endpoint propagation), and a preStop on ${w.via ?? "the proxy"} at least as ` +
      "long so it drains before it stops; measure the change with a run. (If the proxy is the app's way out " +
      `rather than its way in, ${NATIVE_SIDECAR}.)`,
  },
  "front-stopped-without-drain": {
    cause: "front-stopped-without-drain",
    severity: "high",
    says: (w) =>
      `${w.container} stopped without draining: the container the load reaches reset, closed or refused ` +
      "connections from its stop signal on, while the Service still routed requests to the pod",
    fix: (w) =>
      `a preStop sleep on ${w.container} (and on the containers behind it) so it keeps serving until the endpoint ` +
      "has left the Service, and its graceful stop (nginx: SIGQUIT, envoy: /drain_listeners) so it answers what it " +
      "holds and closes its keep-alive connections before the containers behind it stop: measure each with a run. " +
      "Not a native sidecar for a proxy in front of the app: it keeps the proxy running after the app behind it has " +
      "stopped, and the proxy then answers 502 for the app (measured on the shop-web fixtures, README " +
      '"Sidecars, measured").',
  },
  "before-stop-signal": {
    cause: "before-stop-signal",
    severity: "info",
    says: () => "failed before any container of the pod got its stop signal (the delete or the preStop window)",
  },
  unattributed: {
    cause: "unattributed",
    severity: "info",
    says: () => "the containers' stop and exit times do not say which container caused these failures",
  },
};

/** The catalogue's entry for a failure window's cause. */
export function containerCauseEntry(cause: ContainerFailureCause): ContainerCauseEntry {
  return CONTAINER_CAUSES[cause];
}

/** One failure window in words: what failed and when, which container, why, and the fix to measure. */
export function failureWindowWords(w: ContainerFailureWindow): { says: string; fix?: string } {
  const entry = containerCauseEntry(w.cause);
  const words: ContainerCauseWords = { container: w.container ?? "?", ...(w.via !== undefined ? { via: w.via } : {}) };
  const blamed = w.container !== undefined ? `${w.container}: ` : "";
  return {
    says: `${blamed}${entry.says(words)} — ${w.evidence}`,
    ...(entry.fix ? { fix: entry.fix(words) } : {}),
  };
}
