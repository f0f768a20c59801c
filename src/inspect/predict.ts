// Predicts, from a container's process tree and SIGTERM dispositions read before any signal,
// what the kubelet's SIGTERM to PID 1 will do. Pure.
//
// The kernel rules applied:
// - A signal whose action is the default is not delivered to a PID namespace's init (PID 1):
//   for PID 1, SIGTERM with the default disposition is effectively ignored. Anywhere else the
//   default action of SIGTERM terminates the process (exit status 143 as a shell reports it).
// - An ignored signal (SIG_IGN) is discarded; a caught one runs the process's handler.
// - A process that waits for signals synchronously (sigtimedwait, signalfd: tini, dumb-init,
//   catatonit) receives them even as PID 1, whatever its status masks show while it waits.
// - Nothing forwards a signal unless a process does so on purpose (an init like tini, a shell
//   trap that calls kill): a child never hears of the SIGTERM its parent got.
// - The container ends when PID 1 exits; the kernel then SIGKILLs every other process in it.

import type { InspectedProcess } from "../model/process-tree.js";
import { normalizeSignal, recognizeServer, stopsGracefully } from "./servers.js";

export type Outcome = "graceful" | "killed" | "abrupt";

/** One possible outcome; `condition` says what it depends on (absent: unconditional). */
export interface Branch {
  outcome: Outcome;
  condition?: string;
}

/** Why the prediction is what it is: one code per situation, used by the diagnosis. */
export type Cause =
  | "app-pid1-handles"
  | "app-pid1-default"
  | "app-pid1-ignores"
  | "node-pid1"
  | "shell-form-pid1"
  | "script-pid1"
  | "wrapper-pid1"
  | "shell-trap-pid1"
  | "intermediary-pid1"
  | "init-to-app"
  | "init-to-node"
  | "init-to-app-dies"
  | "init-child-dies"
  | "init-group-child-dies"
  | "init-to-shell-trap"
  | "init-child-ignores"
  | "init-to-intermediary"
  | "server-fast-stop"
  | "nothing-read";

export interface Prediction {
  cause: Cause;
  /** Possible outcomes, most likely first; one branch without a condition = a firm prediction. */
  branches: Branch[];
  /** The prediction in words. */
  summary: string;
  /** One line per process: command, pid, parent, SIGTERM disposition, listening ports. */
  processLines: string[];
  /** How SIGTERM travels, step by step. */
  steps: string[];
  pid1?: { pid: number; command: string };
  /** The app: processes listening on the port (or on any port, or the leaves when none listens). */
  apps: Array<{ pid: number; command: string }>;
  appsFrom: string;
  /** A recognised server (PID 1 or the app) with its own graceful signal, and the stop signal it gets. */
  server?: {
    server: string;
    graceful: string;
    stopSignal?: string;
    stopsGracefully?: boolean;
    /** What the stop signal does to it when that is not its graceful shutdown. */
    what?: string;
  };
}

const SHELLS = new Set(["sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "busybox"]);
const INITS = new Set(["tini", "tini-static", "docker-init", "dumb-init", "catatonit"]);

export function basename(path: string): string {
  return path.split("/").pop() ?? path;
}

function exe(p: InspectedProcess): string {
  return basename(p.argv[0] ?? p.name);
}

export function isShell(p: InspectedProcess): boolean {
  return SHELLS.has(exe(p)) || SHELLS.has(p.name);
}

/** sh -c "…": what Docker runs for a shell-form CMD/ENTRYPOINT. */
export function isShellForm(p: InspectedProcess): boolean {
  return isShell(p) && p.argv[1] === "-c";
}

export function isInit(p: InspectedProcess): boolean {
  return INITS.has(exe(p)) || INITS.has(p.name);
}

export function isNode(p: InspectedProcess): boolean {
  return ["node", "nodejs"].includes(exe(p)) || p.name === "node";
}

/** Which processes an init forwards SIGTERM to: its child, or the child's process group. */
export function initForwarding(p: InspectedProcess): "group" | "child" {
  const args = p.argv.slice(1, p.argv.indexOf("--") === -1 ? undefined : p.argv.indexOf("--"));
  const name = exe(p);
  if (name === "dumb-init") return args.includes("--single-child") || args.includes("-c") ? "child" : "group";
  return args.includes("-g") ? "group" : "child";
}

function short(command: string, max = 60): string {
  return command.length > max ? `${command.slice(0, max - 1)}…` : command;
}

export function label(p: InspectedProcess): string {
  return `${short(p.command)} (pid ${p.pid})`;
}

/** What SIGTERM does to this process, in words. */
export function dispositionWords(p: InspectedProcess): string {
  const pid1 = p.pid === 1;
  if (p.waitsForSignals) return "waits for signals (sigtimedwait/signalfd) → receives it";
  const s = p.sigterm;
  if (s.ignored) return "ignored (SIG_IGN)";
  if (s.caught) return `caught${isNode(p) ? " (Node installs a handler in every process)" : ""}`;
  if (s.blocked)
    return pid1
      ? "blocked, default action → stays pending, then discarded as PID 1"
      : "blocked, default action → pending until unblocked, then terminates";
  return pid1
    ? "default → ignored as PID 1 (the kernel does not deliver default-action signals to a namespace's init)"
    : "default → terminates the process";
}

type Reaction = "receives" | "discards" | "dies";

/** What a process does when SIGTERM reaches it. */
export function reaction(p: InspectedProcess): Reaction {
  if (p.waitsForSignals || (p.sigterm.caught && !p.sigterm.ignored)) return "receives";
  if (p.sigterm.ignored || p.pid === 1) return "discards";
  return "dies";
}

export function processLine(p: InspectedProcess): string {
  const listens = p.listens.length > 0 ? `, listens on :${p.listens.join(", :")}` : "";
  return `pid ${p.pid} (parent ${p.ppid}${p.hostPid !== undefined ? `, host pid ${p.hostPid}` : ""}) ${short(p.command, 80)} — SIGTERM: ${dispositionWords(p)}${listens}`;
}

function list(ps: InspectedProcess[]): string {
  return ps.map(label).join(", ");
}

const NODE_NOTE =
  "Node catches SIGTERM in every process (a built-in handler that restores the terminal and re-raises " +
  "the signal with its default action), so /proc cannot tell whether the app itself handles it: that " +
  "takes a process.on('SIGTERM') handler in JavaScript";

/** The app processes: listening on the port, else on any port, else the leaves of the tree. */
export function findApps(processes: InspectedProcess[], port?: number): { apps: InspectedProcess[]; from: string } {
  const listening = processes.filter((p) => p.listens.length > 0);
  const ports = [...new Set(listening.flatMap((p) => p.listens))].sort((a, b) => a - b);
  if (port !== undefined) {
    // Every listening process serves; the one on the checked port comes first.
    const onPort = listening.filter((p) => p.listens.includes(port));
    if (onPort.length > 0) {
      return {
        apps: [...onPort, ...listening.filter((p) => !p.listens.includes(port))],
        from: `listening on :${ports.join(", :")}`,
      };
    }
  }
  if (listening.length > 0) return { apps: listening, from: `listening on :${ports.join(", :")}` };
  const parents = new Set(processes.map((p) => p.ppid));
  const leaves = processes.filter((p) => !parents.has(p.pid));
  return {
    apps: leaves.length > 0 ? leaves : processes.slice(0, 1),
    from: "the leaves of the process tree (no listening socket was seen)",
  };
}

/**
 * The predicted outcome of a delete under load, from the process tree and every process's SIGTERM
 * disposition; when PID 1 or the app is a server with its own graceful signal (nginx: SIGQUIT,
 * httpd: SIGWINCH…), also whether the stop signal the runtime will send is that one.
 */
export function predict(
  processes: InspectedProcess[],
  opts: { port?: number; stopSignal?: { signal: string; from: string } } = {},
): Prediction {
  const stop = opts.stopSignal ? normalizeSignal(opts.stopSignal.signal) : undefined;
  const prediction = predictSignalPath(processes, { port: opts.port, signal: stop ?? "SIGTERM" });
  const candidates = processes.filter(
    (p) => p.pid === prediction.pid1?.pid || prediction.apps.some((a) => a.pid === p.pid),
  );
  for (const p of candidates) {
    const server = recognizeServer(p.argv, p.name);
    if (server) return withServer(prediction, p, server, stop, opts.stopSignal?.from);
  }
  return prediction;
}

/** The path reaches the server and it catches the signal: the outcome is what that signal means to it. */
const REACHES_APP = new Set<Cause>(["app-pid1-handles", "init-to-app"]);

function withServer(
  prediction: Prediction,
  p: InspectedProcess,
  server: NonNullable<ReturnType<typeof recognizeServer>>,
  stop: string | undefined,
  from: string | undefined,
): Prediction {
  const graceful = stop !== undefined && stopsGracefully(server, stop);
  const assumed = stop ?? "SIGTERM";
  const what = graceful ? undefined : (server.otherwise[assumed] ?? "not its graceful shutdown");
  const words =
    stop === undefined
      ? `${label(p)} is ${server.server}: its graceful shutdown starts with ${server.graceful}; a runtime sends the image's STOPSIGNAL, SIGTERM when it sets none`
      : graceful
        ? `${label(p)} is ${server.server} and is stopped with ${stop} (${from}), its graceful shutdown`
        : `${label(p)} is ${server.server}: it is stopped with ${stop} (${from}), which is ${what}; its graceful shutdown is ${server.graceful} (STOPSIGNAL ${server.graceful} in the image)`;
  const info = {
    server: server.server,
    graceful: server.graceful,
    ...(stop ? { stopSignal: stop, stopsGracefully: graceful } : {}),
    ...(what && stop ? { what } : {}),
  };
  if (!REACHES_APP.has(prediction.cause) || graceful) {
    return {
      ...prediction,
      summary: `${prediction.summary} ${words}.`,
      steps: [...prediction.steps, words],
      server: info,
    };
  }
  // The signal reaches the server, but it is its fast shutdown: never "expect a graceful exit".
  const pathPart = prediction.summary.replace(/: expect a graceful exit.*$/s, "");
  if (stop === undefined) {
    return {
      ...prediction,
      branches: [
        { outcome: "graceful", condition: `if the image's STOPSIGNAL is ${server.graceful}` },
        { outcome: "abrupt", condition: `if it is stopped with SIGTERM (no STOPSIGNAL): ${what}` },
      ],
      summary: `${pathPart}; ${words}.`,
      steps: [...prediction.steps, words],
      server: info,
    };
  }
  return {
    ...prediction,
    cause: "server-fast-stop",
    branches: [{ outcome: "abrupt" }],
    summary: `${pathPart}; ${words}: expect an abrupt exit, requests in flight cut.`,
    steps: [...prediction.steps, words],
    server: info,
  };
}

/**
 * What every step of the signal path reads: the tree, PID 1, the apps, the steps so far, and `done`,
 * which ends the path with its cause, branches and summary.
 */
interface SignalPath {
  processes: InspectedProcess[];
  /** The signal the runtime sends (SIGTERM unless the image's STOPSIGNAL says otherwise). */
  sig: string;
  nodeNote: string;
  init: InspectedProcess;
  apps: InspectedProcess[];
  /** The app processes other than PID 1. */
  others: InspectedProcess[];
  from: string;
  /** "PID 1 is … (SIGTERM caught…)": how every summary starts. */
  pid1Words: string;
  steps: string[];
  done(cause: Cause, branches: Branch[], summary: string): Prediction;
}

function predictSignalPath(processes: InspectedProcess[], opts: { port?: number; signal: string }): Prediction {
  const processLines = processes.map(processLine);
  const pids = new Set(processes.map((p) => p.pid));
  const init = processes.find((p) => p.pid === 1) ?? processes.find((p) => !pids.has(p.ppid));
  if (!init) {
    return {
      processLines,
      steps: [],
      cause: "nothing-read",
      branches: [{ outcome: "graceful", condition: "unknown" }, { outcome: "killed" }, { outcome: "abrupt" }],
      summary: "the process tree could not be read: no prediction",
      apps: [],
      appsFrom: "-",
    };
  }
  const path = signalPath(processes, init, processLines, opts);
  // The app itself is PID 1.
  if (path.apps.some((a) => a.pid === init.pid)) return appIsPid1(path);
  // PID 1 is something else, and the signal stops there.
  if (reaction(init) !== "receives") return signalStopsAtPid1(path);
  // PID 1 receives the signal: an init that forwards, a shell trap, or another program.
  if (isInit(init)) return initForwards(path);
  if (isShell(init)) return shellTrapPid1(path);
  return intermediaryPid1(path);
}

function signalPath(
  processes: InspectedProcess[],
  init: InspectedProcess,
  processLines: string[],
  opts: { port?: number; signal: string },
): SignalPath {
  const sig = opts.signal;
  const { apps: found, from } = findApps(processes, opts.port);
  const appsInfo = found.map((a) => ({ pid: a.pid, command: a.command }));
  const steps: string[] = [`the kubelet sends ${sig} to PID 1, ${label(init)}: ${dispositionWords(init)}`];
  const r = reaction(init);
  const pid1Words = `PID 1 is ${short(init.command)} (${sig} ${init.sigterm.disposition}${
    init.waitsForSignals ? ", waits for signals" : ""
  }${r === "discards" && !init.sigterm.ignored ? " → ignored as PID 1" : ""})`;
  return {
    processes,
    sig,
    nodeNote: NODE_NOTE.replace(/SIGTERM(?!')/g, sig),
    init,
    apps: found,
    others: found.filter((a) => a.pid !== init.pid),
    from,
    pid1Words,
    steps,
    done: (cause, branches, summary) => ({
      processLines,
      steps,
      cause,
      branches,
      summary,
      pid1: { pid: init.pid, command: init.command },
      apps: appsInfo,
      appsFrom: from,
    }),
  };
}

/** "node (pid 7) catches SIGTERM", "a (pid 8) and b (pid 9) catch SIGTERM", mixed lists split by ";". */
function appWord(ps: InspectedProcess[], sig: string): string {
  const catching = ps.filter((a) => reaction(a) === "receives");
  const notCatching = ps.filter((a) => reaction(a) !== "receives");
  const part = (group: InspectedProcess[], yes: boolean) =>
    group.length === 0
      ? ""
      : `${group.map(label).join(" and ")} ${
          group.length > 1 ? (yes ? "catch" : "do not catch") : yes ? "catches" : "does not catch"
        } ${sig}`;
  return [part(catching, true), part(notCatching, false)].filter((x) => x !== "").join("; ");
}

/** Node as the app: graceful if its JavaScript handles the signal, else `otherwise`. */
function nodeBranches(sig: string, otherwise: Branch): Branch[] {
  return [
    { outcome: "graceful", condition: `if the app handles ${sig} in JavaScript (process.on('SIGTERM'))` },
    otherwise,
  ];
}

/** The app is PID 1: its own handler, Node's re-raise, or nothing (the kernel discards the default action). */
function appIsPid1(path: SignalPath): Prediction {
  const { init, sig, from, pid1Words, steps, done, nodeNote } = path;
  if (reaction(init) === "receives") {
    if (isNode(init) && !init.waitsForSignals) {
      steps.push(nodeNote);
      return done(
        "node-pid1",
        nodeBranches(sig, {
          outcome: "killed",
          condition: `if it does not: Node re-raises ${sig} with its default action, which PID 1 ignores`,
        }),
        `${pid1Words}: it is the app itself (${from}). ${nodeNote}. Expect a graceful exit if it has one; ` +
          `otherwise ${sig} is discarded (PID 1) and SIGKILL comes at the end of the grace period.`,
      );
    }
    steps.push(`${label(init)} is the app and runs its ${sig} handler`);
    return done(
      "app-pid1-handles",
      [{ outcome: "graceful" }],
      `${pid1Words}: it is the app itself (${from}) and catches ${sig}: expect a graceful exit, ` +
        "if its handler drains and exits before the grace period ends.",
    );
  }
  steps.push(`nothing happens: ${label(init)} keeps serving until SIGKILL`);
  if (init.sigterm.ignored) {
    return done(
      "app-pid1-ignores",
      [{ outcome: "killed" }],
      `${pid1Words}: the app itself ignores ${sig} (SIG_IGN): expect SIGKILL at the end of the grace period.`,
    );
  }
  return done(
    "app-pid1-default",
    [{ outcome: "killed" }],
    `${pid1Words}: it is the app itself (${from}) and installs no ${sig} handler, and the kernel does not ` +
      "deliver default-action signals to PID 1: expect SIGKILL at the end of the grace period.",
  );
}

/** PID 1 is not the app and does not receive the signal: nothing forwards it (shell form, a script, a wrapper). */
function signalStopsAtPid1(path: SignalPath): Prediction {
  const { init, sig, others, pid1Words, steps, done } = path;
  steps.push(
    `nothing forwards ${sig}: ${others.length > 0 ? list(others) : "the app"} never receives it and keeps serving until SIGKILL`,
  );
  const cause: Cause = isShellForm(init) ? "shell-form-pid1" : isShell(init) ? "script-pid1" : "wrapper-pid1";
  const apps2 =
    others.length > 0
      ? `${appWord(others, sig)} but ${others.length > 1 ? "they are" : "is"} not PID 1`
      : "the app is not PID 1";
  return done(
    cause,
    [{ outcome: "killed" }],
    `${pid1Words}; ${apps2} and nothing forwards the signal: expect SIGKILL at the end of the grace period.`,
  );
}

/** How an init forwards the signal: to whom, and those words for the summary. */
interface Forwarding {
  child: InspectedProcess;
  mode: "group" | "child";
  targets: InspectedProcess[];
  words: string;
}

/** An init (tini, dumb-init…) as PID 1: it forwards the signal to its child or the child's group. */
function initForwards(path: SignalPath): Prediction {
  const { init, sig, processes, pid1Words, steps, done } = path;
  const child = processes.find((c) => c.ppid === init.pid && c.pid !== init.pid);
  if (!child) {
    steps.push(`${label(init)} has no child to forward to`);
    return done(
      "init-child-ignores",
      [{ outcome: "abrupt" }],
      `${pid1Words} but has no child process: expect it to exit at once.`,
    );
  }
  const mode = initForwarding(init);
  const targets =
    mode === "group" && child.pgid !== undefined
      ? processes.filter((p) => p.pid !== init.pid && p.pgid === child.pgid)
      : [child];
  steps.push(
    `${exe(init)} forwards ${sig} to ${mode === "group" ? `its child's process group: ${list(targets)}` : `its child only: ${label(child)}`}`,
  );
  for (const t of targets) steps.push(`${label(t)}: ${dispositionWords(t)}`);
  const words =
    mode === "group"
      ? `forwards ${sig} to its child's process group (${list(targets)})`
      : `forwards ${sig} to its child only, ${label(child)}`;
  const fwd: Forwarding = { child, mode, targets, words };
  const cr = reaction(child);
  if (cr === "dies") return initChildDies(path, fwd);
  if (cr === "discards") {
    steps.push(`${label(child)} ignores ${sig}; ${exe(init)} keeps waiting for it`);
    return done(
      "init-child-ignores",
      [{ outcome: "killed" }],
      `${pid1Words} and ${words}, which ignores it: expect SIGKILL at the end of the grace period.`,
    );
  }
  return initChildReceives(path, fwd);
}

/** The init's child dies of the signal at once: the init exits with it and the kernel kills the rest. */
function initChildDies(path: SignalPath, fwd: Forwarding): Prediction {
  const { init, sig, others, apps: found, pid1Words, steps, done } = path;
  const { child, mode, targets, words } = fwd;
  const appsGotIt = others.filter((a) => targets.some((t) => t.pid === a.pid));
  steps.push(
    `${label(child)} dies at once; ${exe(init)} exits with it and the kernel SIGKILLs what is left in the container`,
  );
  if (found.some((a) => a.pid === child.pid) && others.length === 1) {
    return done(
      "init-to-app-dies",
      [{ outcome: "abrupt" }],
      `${pid1Words} and ${words}, the app, which does not catch ${sig}: it dies at once (143) ` +
        `without draining: expect an abrupt exit within milliseconds of ${sig}.`,
    );
  }
  if (mode === "group" && appsGotIt.length > 0) {
    return done(
      "init-group-child-dies",
      [{ outcome: "abrupt" }],
      `${pid1Words} and ${words}: the app processes receive it, but ${label(child)} does not catch ` +
        `${sig} and dies at once; ${exe(init)} exits with it and the kernel kills the apps mid-drain: ` +
        `expect an abrupt exit (143) soon after ${sig}.`,
    );
  }
  return done(
    "init-child-dies",
    [{ outcome: "abrupt" }],
    `${pid1Words} and ${words}, which does not catch ${sig} and dies at once; ${exe(init)} exits ` +
      `with it and the kernel SIGKILLs ${list(others)} without a drain: expect an abrupt exit (143) within ` +
      `milliseconds of ${sig}.`,
  );
}

/** The init's child catches the signal: the app itself, or a shell trap / program between it and the app. */
function initChildReceives(path: SignalPath, fwd: Forwarding): Prediction {
  const { sig, others, apps: found, pid1Words, steps, done, nodeNote } = path;
  const { child, words } = fwd;
  if (found.some((a) => a.pid === child.pid)) {
    if (isNode(child) && !child.waitsForSignals) {
      steps.push(nodeNote);
      return done(
        "init-to-node",
        nodeBranches(sig, {
          outcome: "abrupt",
          condition: `if it does not: Node re-raises ${sig} with its default action and dies at once`,
        }),
        `${pid1Words} and ${words}, the app. ${nodeNote}. Expect a graceful exit if it has one, ` +
          "an abrupt exit (143) without a drain otherwise.",
      );
    }
    return done(
      "init-to-app",
      [{ outcome: "graceful" }],
      `${pid1Words} and ${words}, the app, which catches it: expect a graceful exit.`,
    );
  }
  const trap = isShell(child);
  return done(
    trap ? "init-to-shell-trap" : "init-to-intermediary",
    [
      {
        outcome: "graceful",
        condition: `if ${trap ? "its trap" : exe(child)} forwards ${sig} to ${list(others)} and waits for them`,
      },
      { outcome: "abrupt", condition: "if it exits without waiting for them" },
    ],
    `${pid1Words} and ${words}, which catches it${trap ? " (a shell trap)" : ""}; the app ` +
      `(${list(others)}) is not its direct child: expect a graceful exit only if it forwards ${sig} and ` +
      "waits for the app to exit.",
  );
}

/** A shell with a trap as PID 1: what reaches the app depends on the trap. */
function shellTrapPid1(path: SignalPath): Prediction {
  const { sig, others, pid1Words, steps, done } = path;
  steps.push(`the shell runs its ${sig} trap; what reaches ${list(others)} depends on that trap`);
  return done(
    "shell-trap-pid1",
    [
      { outcome: "graceful", condition: `if the trap forwards ${sig} to ${list(others)} and waits for them` },
      { outcome: "abrupt", condition: "if the trap exits without waiting for them" },
    ],
    `${pid1Words}: a shell with a ${sig} trap; ${appWord(others, sig)}. Expect a graceful exit if the ` +
      `trap forwards ${sig} to the app and waits for it; the kernel kills the app the moment the shell exits.`,
  );
}

/** Another program as PID 1 that catches the signal (npm, a supervisor): whether it forwards is up to it. */
function intermediaryPid1(path: SignalPath): Prediction {
  const { init, sig, others, pid1Words, steps, done } = path;
  steps.push(`${label(init)} runs its own ${sig} handler; whether it forwards the signal is up to it`);
  return done(
    "intermediary-pid1",
    [
      { outcome: "graceful", condition: `if ${exe(init)} forwards ${sig} to ${list(others)} and waits for them` },
      { outcome: "killed", condition: "if it does not" },
    ],
    `${pid1Words}: it is not the app (${list(others)}) and catches ${sig}; expect a graceful exit only if ` +
      `${exe(init)} forwards ${sig} to the app and waits for it.`,
  );
}

/** The prediction's outcome(s) in one line, e.g. "graceful (if …) or killed (if …)". */
export function branchWords(branches: Branch[]): string {
  return branches.map((b) => (b.condition ? `${b.outcome} (${b.condition})` : b.outcome)).join(" or ");
}
