// The audit's rules: from what was read about a workload (WorkloadFacts) to findings — each with
// evidence, a severity and a plain-words fix — and a prediction of what a delete under load does.
// Pure: no I/O, unit-tested without Docker or a cluster.
import {
  type CauseEntry,
  causeEntry,
  causeWords,
  containerCauseEntry,
  execFormOf,
  HANDLER_FIX,
  stopSignalFix,
} from "../inspect/causes.js";
import {
  basename,
  branchWords,
  dispositionWords,
  isInit,
  type Prediction,
  predict,
  processLine,
} from "../inspect/predict.js";
import { type KnownServer, normalizeSignal, recognizeServer, stopsGracefully } from "../inspect/servers.js";
import type { InspectedProcess, SignalState } from "../model/process-tree.js";
import { maskHas } from "../observe/proc.js";
import {
  isInitName,
  isShellName,
  looksLikeScript,
  readScript,
  resolveIntOrPercent,
  shellFormOf,
  shellFormVerdict,
} from "./command.js";
import type {
  AuditedProcess,
  Certainty,
  ContainerFacts,
  ContainerReport,
  DropWords,
  Finding,
  FindingCode,
  PropagationBasis,
  Severity,
  VerifyOutcome,
  WorkloadFacts,
  WorkloadPrediction,
} from "./types.js";

export interface RuleContext {
  propagation: PropagationBasis;
}

/** Below this measured endpoint propagation a missing preStop loses few connections: medium, not high. */
export const SHORT_PROPAGATION_MS = 500;
/** Grace left for the app after the preStop below which a drain rarely fits. */
export const TIGHT_DRAIN_SECONDS = 5;

const SIGNAL_NUMBERS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGABRT: 6,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGCHLD: 17,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGURG: 23,
  SIGWINCH: 28,
  SIGPWR: 30,
};
/** Signals whose default action is to ignore them (they never terminate a process by default). */
const DEFAULT_IGNORED = new Set(["SIGCHLD", "SIGCONT", "SIGURG", "SIGWINCH"]);

/**
 * The processes with `sigterm` replaced by the disposition of the signal the runtime really sends
 * (the image's STOPSIGNAL): predict() then follows that signal. A default-ignored signal (SIGWINCH…)
 * that is not caught counts as ignored.
 */
export function forStopSignal(processes: InspectedProcess[], signal: string): InspectedProcess[] {
  const name = normalizeSignal(signal);
  const signo = SIGNAL_NUMBERS[name];
  if (name === "SIGTERM" || signo === undefined) return processes;
  const hex = (h: string) => (/^[0-9a-f]+$/i.test(h) ? BigInt(`0x${h}`) : 0n);
  return processes.map((p) => {
    const caught = maskHas(hex(p.masks.caught), signo);
    const ignored = maskHas(hex(p.masks.ignored), signo) || (!caught && DEFAULT_IGNORED.has(name));
    const blocked = maskHas(hex(p.masks.blocked), signo);
    const sigterm: SignalState = {
      disposition: ignored ? "ignored" : caught ? "caught" : blocked ? "blocked" : "default",
      caught,
      ignored,
      blocked,
    };
    return { ...p, sigterm };
  });
}

function graceWords(f: WorkloadFacts): string {
  return f.backend === "local" ? `the ${f.grace.seconds} s stop timeout` : `the ${f.grace.seconds} s grace period`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s`;
}

function propagationWords(p: PropagationBasis): string {
  return `${p.ms} ms (${p.source}${p.source === "assumed" ? ": no graceful-e2e measurement for this target; --propagation-from <results dir>" : `: ${p.detail}`})`;
}

/** Where a fix must be written, from where the command was read. */
function commandPlace(c: ContainerFacts, f: WorkloadFacts): string {
  const from = c.command?.from ?? "";
  if (/pod spec/.test(from)) return "the pod template's command/args";
  if (/compose|container config/.test(from))
    return "the container's command (compose.yaml `command:`, docker run arguments)";
  return f.backend === "local" ? "the Dockerfile" : "the image's Dockerfile (or the pod template's command/args)";
}

interface SignalVerdict {
  outcome: WorkloadPrediction["outcome"];
  prediction?: Prediction;
  /** A recognised server stopped with a signal that is not its graceful one. */
  fastStop?: string;
  why: string;
  drainSeconds?: { seconds: number; from: string };
  live: boolean;
}

function toAudited(p: InspectedProcess): AuditedProcess {
  return {
    pid: p.pid,
    ppid: p.ppid,
    command: p.command,
    sigterm: p.sigterm.disposition,
    effect: dispositionWords(p),
    waitsForSignals: p.waitsForSignals,
    listens: p.listens,
  };
}

function firmOutcome(pred: Prediction): WorkloadPrediction["outcome"] {
  const only = pred.branches.length === 1 ? pred.branches[0] : undefined;
  return only && !only.condition ? only.outcome : "conditional";
}

/** How many signals a process catches (its SigCgt mask). */
function caughtCount(p: InspectedProcess): number {
  const hex = /^[0-9a-f]+$/i.test(p.masks.caught) ? BigInt(`0x${p.masks.caught}`) : 0n;
  let n = 0;
  for (let m = hex; m > 0n; m >>= 1n) if (m & 1n) n++;
  return n;
}

/** A runtime that catches (nearly) every signal whatever the program does: Go installs a handler for all. */
export const CATCH_ALL_SIGNALS = 32;

/**
 * A runtime whose own handler catches SIGTERM whatever the program does (Go: every signal; the JVM:
 * SIGTERM for its shutdown hooks): "caught" does not mean the program drains. Undefined for others.
 */
export function runtimeAmbiguity(
  p: InspectedProcess,
): { runtime: string; words: string; otherwise: string; fix: string } | undefined {
  if (isNodeProcess(p)) return undefined;
  const exe = basename(p.argv[0] ?? p.name);
  if (exe === "java" || p.name === "java") {
    return {
      runtime: "the JVM",
      words:
        "the JVM catches SIGTERM itself and runs the shutdown hooks: graceful only if the app registers one that stops accepting and drains",
      otherwise: "if no shutdown hook drains: the JVM exits at once (143), requests in flight included",
      fix: "register a shutdown hook that stops accepting connections and waits for the requests in flight (Spring Boot: server.shutdown=graceful)",
    };
  }
  if (caughtCount(p) >= CATCH_ALL_SIGNALS) {
    return {
      runtime: "a Go-style runtime",
      words:
        `it catches ${caughtCount(p)} signals — a runtime (Go) that installs a handler for every signal: graceful only if the program ` +
        "asks for SIGTERM (signal.Notify) and drains (http.Server.Shutdown)",
      otherwise:
        "if it does not: the runtime's default handler ends the process at once (Go: exit 2), requests in flight included",
      fix:
        "handle SIGTERM in the program: signal.Notify(ch, syscall.SIGTERM), then http.Server.Shutdown(ctx) with a deadline below " +
        "the grace period (it stops accepting and waits for the requests in flight), then exit",
    };
  }
  return undefined;
}

function isNodeProcess(p: InspectedProcess): boolean {
  return ["node", "nodejs"].includes(basename(p.argv[0] ?? p.name)) || p.name === "node";
}

/** Findings from the live process tree: predict.ts's cause → its catalogue entry (check tells the same). */
function liveSignalFindings(
  c: ContainerFacts,
  f: WorkloadFacts,
  processes: InspectedProcess[],
  pred: Prediction,
  stopSignal: string,
): Finding[] {
  const base = { container: c.name, source: "live-process-tree" as const };
  const evidence = [
    `${c.inspection?.sourceDetail ?? "read live"}${f.inspected ? ` (${f.inspected})` : ""}`,
    ...(stopSignal !== "SIGTERM" ? [`stop signal ${stopSignal}: the dispositions below are ${stopSignal}'s`] : []),
    ...processes.map(processLine),
  ];
  const out: Finding[] = [];
  const entry = causeEntry(pred.cause);
  const words = causeWords(pred, stopSignal, {
    place: commandPlace(c, f),
    ...(pred.server
      ? { stopSignalFix: stopSignalFix(pred.server, f.backend === "local" ? "local" : "kubernetes") }
      : {}),
  });
  if (entry) {
    out.push({
      ...base,
      code: entry.code,
      severity: entry.severity,
      certainty: entry.certainty,
      title: `${entry.says(words)}${predictedTail(pred, f)}`,
      evidence,
      fix:
        entry.code === "sigterm-handling-unverified"
          ? `${entry.fix(words)} audit --verify proves it on a copy.`
          : entry.fix(words),
    });
    const script = c.script ? readScript(c.script.text) : undefined;
    const trap = pred.cause === "shell-trap-pid1" || pred.cause === "init-to-shell-trap";
    if (trap && script) {
      // Read from the script itself (a heuristic): a trap that kills and waits forwards the signal.
      const forwards = Boolean(script.trapsTerm && script.kills && script.waits);
      const f0 = out[0] as Finding;
      out[0] = {
        ...f0,
        ...(forwards
          ? {
              severity: "low",
              certainty: "likely",
              title: `PID 1 is a shell with a ${stopSignal} trap that forwards the signal (kill) and waits for ${words.apps} (read from ${c.script?.path}, a heuristic reading)`,
            }
          : {}),
        evidence: [...evidence, `${c.script?.path}: ${script.lines.join(" | ") || "no TERM trap line"}`],
      };
    }
  } else if (pred.cause === "app-pid1-handles" || pred.cause === "init-to-app") {
    const app = processes.find((p) => p.pid === (pred.cause === "app-pid1-handles" ? 1 : pred.apps[0]?.pid));
    const runtime = app ? runtimeAmbiguity(app) : undefined;
    out.push(
      runtime
        ? {
            ...base,
            code: "sigterm-handling-unverified",
            severity: "medium",
            certainty: "possible",
            title: `${stopSignal} reaches ${app?.command} (${pred.cause === "app-pid1-handles" ? "PID 1" : "forwarded by the init"}), but ${runtime.words}; ${runtime.otherwise}`,
            evidence,
            fix: `${runtime.fix}. audit --verify proves it on a copy.`,
          }
        : {
            ...base,
            code: "sigterm-path-ok",
            severity: "info",
            certainty: "certain",
            title: `${stopSignal} reaches the app: ${pred.summary}`,
            evidence,
          },
    );
  }
  // An app process that ignores the signal outright, whatever forwards it.
  const ignoring = processes.filter((p) => p.listens.length > 0 && p.sigterm.ignored && p.pid !== 1);
  if (ignoring.length > 0 && pred.cause !== "init-child-ignores") {
    out.push({
      ...base,
      code: "sigterm-ignored",
      severity: "high",
      certainty: "certain",
      title: `${ignoring.map((p) => `${p.command} (pid ${p.pid})`).join(", ")} ignore${ignoring.length === 1 ? "s" : ""} ${stopSignal} (SIG_IGN): even a forwarded signal does not stop it`,
      evidence,
      fix: "do not start the app with the signal ignored (nohup, trap '' TERM in the parent); then handle SIGTERM in it.",
    });
  }
  return out;
}

/** What a delete under load then does, by the prediction's outcome (the audit speaks before any run). */
function predictedTail(pred: Prediction, f: WorkloadFacts): string {
  const only = pred.branches.length === 1 ? pred.branches[0] : undefined;
  if (!only || only.condition) return ` — predicted ${branchWords(pred.branches)}`;
  if (only.outcome === "killed") {
    return `; it keeps serving until SIGKILL at the end of ${graceWords(f)}, and the requests in flight then are lost`;
  }
  return only.outcome === "abrupt" ? ": the requests in flight are lost" : "";
}

const shellFormFix = (causeEntry("shell-form-pid1") as CauseEntry).fix;

/** What the audit says of a container from its configured command alone. */
type StaticSignal = { findings: Finding[]; outcome: WorkloadPrediction["outcome"]; why: string };

/** What every static rule reads: the container, its workload, the stop signal, and the finding's common fields. */
interface StaticFacts {
  c: ContainerFacts;
  f: WorkloadFacts;
  argv: string[];
  stopSignal: string;
  base: Pick<Finding, "container" | "source">;
  evidence: string[];
}

/** Findings from the configured command only (no live process tree). */
function staticSignalFindings(c: ContainerFacts, f: WorkloadFacts, stopSignal: string): StaticSignal {
  const argv = c.command?.argv ?? [];
  if (argv.length === 0)
    return {
      findings: [],
      outcome: "unknown",
      why: "neither the live process tree nor the configured command could be read",
    };
  const facts: StaticFacts = {
    c,
    f,
    argv,
    stopSignal,
    base: {
      container: c.name,
      source: (/pod spec/.test(c.command?.from ?? "") ? "pod-spec" : "image-config") as Finding["source"],
    },
    evidence: [
      `configured command (${c.command?.from ?? "unknown"}): ${JSON.stringify(argv)}`,
      "the live process tree was not read",
    ],
  };
  const sf = shellFormOf(argv);
  if (sf) return staticShellForm(facts, sf);
  return staticInitScript(facts) ?? staticScript(facts) ?? staticProgram(facts);
}

/** sh -c "…" as the command: a shell that stays PID 1 (and does not forward), or one that may exec the app. */
function staticShellForm(facts: StaticFacts, sf: NonNullable<ReturnType<typeof shellFormOf>>): StaticSignal {
  const { c, f, stopSignal, base, evidence } = facts;
  const v = shellFormVerdict(sf.shell, sf.script);
  if (v.shellStays) {
    const tail = `the app would keep serving until SIGKILL at the end of ${graceWords(f)}, and the requests in flight then are lost`;
    return {
      outcome: "killed",
      why: `PID 1 will be ${sf.shell} -c (${v.why}), which ignores ${stopSignal} as PID 1`,
      findings: [
        {
          ...base,
          code: "pid1-shell-no-forward",
          severity: "critical",
          certainty: v.certainty,
          title: `PID 1 will be a shell (${sf.shell} -c "${sf.script}"): ${v.why}; the shell does not forward ${stopSignal}, so ${tail}`,
          evidence,
          // The same cause and fix as the live tree's shell-form PID 1 (the catalogue's entry).
          fix: shellFormFix({
            pid1: `${sf.shell} -c ${v.app}`,
            apps: v.app,
            appCommand: v.app,
            signal: stopSignal,
            place: commandPlace(c, f),
          }),
        },
      ],
    };
  }
  return {
    outcome: "unknown",
    why: `${sf.shell} -c: ${v.why}`,
    findings: [
      {
        ...base,
        code: "sigterm-handling-unverified",
        severity: "low",
        certainty: v.certainty,
        title: `the container starts with ${sf.shell} -c "${sf.script}": ${v.why}; whether the app then handles ${stopSignal} is not known`,
        evidence,
        fix: `prefer the exec form (${execFormOf(v.app)}) so PID 1 is the app whatever the shell does; --exec or --node-access reads what really runs.`,
      },
    ],
  };
}

/** An init (tini, dumb-init) that runs a script: undefined when the init runs something else. */
function staticInitScript({ argv, base, evidence }: StaticFacts): StaticSignal | undefined {
  const first = argv[0];
  if (!isInitName(first)) return undefined;
  const dash = argv.indexOf("--");
  const child = argv.slice(dash >= 0 ? dash + 1 : 1).find((a) => !a.startsWith("-"));
  const group = argv.slice(1, dash >= 0 ? dash : undefined).includes("-g");
  if (!child || !(looksLikeScript(child) || isShellName(child))) return undefined;
  return {
    outcome: "conditional",
    why: `${basename(first ?? "")} runs the script ${child}`,
    findings: [
      {
        ...base,
        code: "sigterm-handling-unverified",
        severity: "medium",
        certainty: "possible",
        title:
          `${basename(first ?? "")}${group ? " -g" : ""} runs the script ${child}: if the script starts the app in the background and ` +
          "waits without a trap, the signal kills the script, the init exits and the kernel kills the app without a drain (measured: the tini styles)",
        evidence,
        fix: "make the script exec the app (exec node …), or trap SIGTERM in it, forward it to the app and wait for it.",
      },
    ],
  };
}

/** A script as PID 1 (or a shell running one): undefined when the command is not a script. */
function staticScript({ argv, stopSignal, base, evidence }: StaticFacts): StaticSignal | undefined {
  const first = argv[0];
  if (!(looksLikeScript(first) || (isShellName(first) && argv[1] !== undefined && !argv[1].startsWith("-")))) {
    return undefined;
  }
  const script = isShellName(first) ? argv[1] : first;
  return {
    outcome: "conditional",
    why: `PID 1 will be the script ${script}`,
    findings: [
      {
        ...base,
        code: "sigterm-handling-unverified",
        severity: "medium",
        certainty: "possible",
        title: `PID 1 will be the script ${script}: ${stopSignal} reaches the app only if the script ends with exec (or traps the signal, forwards it and waits)`,
        evidence,
        fix: "end the script with exec <app> so the app replaces the shell as PID 1; --exec or --node-access reads what really runs.",
      },
    ],
  };
}

/** A program as PID 1 (exec form): node's handling depends on its JavaScript, any other's is not known. */
function staticProgram({ argv, stopSignal, base, evidence }: StaticFacts): StaticSignal {
  const first = argv[0];
  const node = ["node", "nodejs"].includes(basename(first ?? ""));
  return {
    outcome: node ? "conditional" : "unknown",
    why: `PID 1 will be ${basename(first ?? "")}; its ${stopSignal} handling is not known without the live process tree`,
    findings: [
      {
        ...base,
        code: "sigterm-handling-unverified",
        severity: node ? "medium" : "low",
        certainty: "possible",
        title: node
          ? `node will be PID 1: graceful only if the app handles ${stopSignal} in JavaScript (as PID 1 an unhandled one is ignored until SIGKILL)`
          : `PID 1 will be ${first}: whether it catches ${stopSignal} is not known without the live process tree`,
        evidence,
        fix: node
          ? `${HANDLER_FIX}. audit --verify proves it on a copy.`
          : "--exec or --node-access reads the live dispositions; audit --verify proves the outcome on a copy.",
      },
    ],
  };
}

/** The processes a stop signal reaches first: PID 1, or the children of an init PID 1. */
function signalled(processes: InspectedProcess[]): InspectedProcess[] {
  const pid1 = processes.find((p) => p.pid === 1);
  if (!pid1) return [];
  if (isInit(pid1)) return processes.filter((p) => p.ppid === 1 && p.pid !== 1);
  return [pid1];
}

function serverOf(c: ContainerFacts): { server: KnownServer; command: string; live: boolean } | undefined {
  const processes = c.inspection?.processes ?? [];
  if (processes.length > 0) {
    for (const p of signalled(processes)) {
      const s = recognizeServer(p.argv, p.name);
      if (s) return { server: s, command: p.command, live: true };
    }
    return undefined;
  }
  let argv = c.command?.argv ?? [];
  if (isInitName(argv[0]))
    argv = argv.slice(Math.max(1, argv.indexOf("--") + 1)).filter((a, i) => i > 0 || !a.startsWith("-"));
  const sf = shellFormOf(argv);
  if (sf) {
    const v = shellFormVerdict(sf.shell, sf.script);
    if (v.shellStays) return undefined;
    argv = v.app.split(/\s+/);
  }
  const s = recognizeServer(argv);
  return s ? { server: s, command: argv.join(" "), live: false } : undefined;
}

function stopSignalFindings(
  c: ContainerFacts,
  f: WorkloadFacts,
  told: boolean,
): { findings: Finding[]; fastStop?: string; drain?: KnownServer["drain"] } {
  const found = serverOf(c);
  if (!found) return { findings: [] };
  const { server, command, live } = found;
  const stop = normalizeSignal(c.stopSignal.signal);
  const evidence = [
    `${live ? "running" : "configured"}: ${command} (recognised as ${server.server})`,
    `stop signal: ${stop} (${c.stopSignal.from})`,
    `${server.server}'s graceful shutdown starts with ${server.graceful}${server.alsoGraceful.length > 0 ? ` (or ${server.alsoGraceful.join(", ")})` : ""}`,
  ];
  if (stopsGracefully(server, stop)) {
    return {
      findings: [
        {
          code: "sigterm-path-ok",
          severity: "info",
          certainty: live ? "certain" : "likely",
          container: c.name,
          source: live ? "live-process-tree" : "image-config",
          title: `${server.server} is stopped with ${stop}, its graceful shutdown${server.drain ? ` (drain bounded by ${server.drain.from})` : ""}`,
          evidence,
        },
      ],
      drain: server.drain,
    };
  }
  const what = server.otherwise[stop] ?? "not its graceful shutdown";
  const fastStop = `${server.server} gets ${stop}: ${what}`;
  // The live tree already told it as its cause (one finding, from the catalogue, not two).
  if (told) return { findings: [], fastStop, drain: server.drain };
  const entry = causeEntry("server-fast-stop") as NonNullable<ReturnType<typeof causeEntry>>;
  const words = {
    pid1: command,
    apps: command,
    appCommand: command,
    signal: stop,
    server: { server: server.server, graceful: server.graceful, what },
    stopSignalFix: stopSignalFix(server, f.backend === "local" ? "local" : "kubernetes"),
  };
  return {
    findings: [
      {
        code: entry.code,
        severity: entry.severity,
        certainty: live && c.stopSignal.from !== "default" ? "certain" : "likely",
        container: c.name,
        source: live ? "live-process-tree" : "image-config",
        title: entry.says(words),
        evidence,
        fix: entry.fix(words),
      },
    ],
    fastStop,
    drain: server.drain,
  };
}

function listens(c: ContainerFacts): boolean {
  return c.ports.length > 0 || (c.inspection?.processes ?? []).some((p) => p.listens.length > 0);
}

/** The signal path: live process tree (catalogue cause) or configured command, and the stop signal. */
function signalFindings(c: ContainerFacts, f: WorkloadFacts): { findings: Finding[]; signal: SignalVerdict } {
  const findings: Finding[] = [];
  const stop = normalizeSignal(c.stopSignal.signal);
  const processes = c.inspection?.processes ?? [];
  let signal: SignalVerdict;
  let pred: Prediction | undefined;
  if (processes.length > 0) {
    const signalledAs = forStopSignal(processes, stop);
    const port = c.ports[0];
    pred = predict(signalledAs, { ...(port !== undefined ? { port } : {}), stopSignal: c.stopSignal });
    const appPid = pred.cause === "app-pid1-handles" ? 1 : pred.cause === "init-to-app" ? pred.apps[0]?.pid : undefined;
    const app = signalledAs.find((p) => p.pid === appPid);
    const runtime = app ? runtimeAmbiguity(app) : undefined;
    if (runtime) {
      pred = {
        ...pred,
        branches: [
          { outcome: "graceful", condition: "if the program handles SIGTERM and drains" },
          { outcome: "abrupt", condition: runtime.otherwise },
        ],
        summary: `${pred.summary} But ${runtime.words}.`,
      };
    }
    findings.push(...liveSignalFindings(c, f, signalledAs, pred, stop));
    signal = { outcome: firmOutcome(pred), prediction: pred, why: pred.summary, live: true };
  } else {
    const s = staticSignalFindings(c, f, stop);
    findings.push(...s.findings);
    signal = { outcome: s.outcome, why: s.why, live: false };
    findings.push({
      code: "not-inspected",
      severity: "info",
      certainty: "certain",
      container: c.name,
      source: "live-process-tree",
      title: `the live process tree was not read: ${c.inspectionSkipped ?? "no reading"}`,
      evidence: [c.inspectionSkipped ?? "no reading", ...(c.inspection?.notes ?? [])],
      fix:
        f.backend === "kind"
          ? "--node-access (docker exec on the kind nodes: crictl + /proc) or --exec (pods/exec) reads it"
          : f.backend === "existing"
            ? "--exec (the Kubernetes exec API, pods/exec create) reads it"
            : "run as root on the Docker host (host /proc), or --exec (docker exec)",
    });
  }
  const stopFindings = stopSignalFindings(c, f, pred?.cause === "server-fast-stop");
  findings.push(...stopFindings.findings);
  if (stopFindings.fastStop) signal.fastStop = stopFindings.fastStop;
  if (stopFindings.drain) signal.drainSeconds = stopFindings.drain;

  return { findings, signal };
}

/** Whether a Service sends this container traffic, in words for the evidence. */
function exposure(c: ContainerFacts, f: WorkloadFacts): { notExposed: boolean; exposedWords: string } {
  // A container that serves: it declares or holds a port, or it is the pod's only one (sidecars
  // without ports, e.g. log shippers, take no Service traffic).
  const serves = listens(c) || f.containers.length === 1;
  return {
    notExposed: (f.exposedBy !== undefined && f.exposedBy.length === 0) || !serves,
    exposedWords:
      f.exposedBy === undefined ? "Services could not be read" : `selected by Service ${f.exposedBy.join(", ")}`,
  };
}

/** preStop vs the endpoint propagation (Kubernetes), or the missing stop delay (Docker). */
function propagationFindings(c: ContainerFacts, f: WorkloadFacts, ctx: RuleContext): Finding[] {
  const findings: Finding[] = [];
  const stop = normalizeSignal(c.stopSignal.signal);
  const { notExposed, exposedWords } = exposure(c, f);
  const prop = ctx.propagation;
  const propSeverity: Severity = prop.source === "measured" && prop.ms < SHORT_PROPAGATION_MS ? "medium" : "high";
  if (c.preStop !== undefined) {
    const ps = c.preStop;
    const evidence = [
      `preStop: ${ps.type === "none" ? "none" : ps.description}`,
      `endpoint propagation: ${propagationWords(prop)}`,
      exposedWords,
    ];
    if (notExposed) {
      // no Service sends it traffic: nothing to cover
    } else if (ps.type === "none") {
      findings.push({
        code: "no-prestop",
        severity: propSeverity,
        certainty: "likely",
        container: c.name,
        source: "pod-spec",
        title: `no preStop hook: SIGTERM comes at the delete, while the Service still routes new connections to the pod for about ${seconds(prop.ms)} (${prop.source}); an app that stops listening at SIGTERM refuses them`,
        evidence,
        fix: `add a preStop sleep longer than the endpoint propagation, e.g. lifecycle.preStop.sleep.seconds: ${Math.ceil(prop.ms / 1000) + 1} (Kubernetes 1.30+; before that exec ["sleep", "${Math.ceil(prop.ms / 1000) + 1}"]), or keep the listener open that long after SIGTERM.`,
      });
    } else if (ps.seconds === undefined) {
      findings.push({
        code: "prestop-duration-unknown",
        severity: "low",
        certainty: "possible",
        container: c.name,
        source: "pod-spec",
        title: `the preStop hook (${ps.description}) has no sleep the audit can read: whether it outlasts the endpoint propagation (${seconds(prop.ms)}) is not known`,
        evidence,
        fix: `make the hook last longer than the endpoint propagation (e.g. end it with sleep ${Math.ceil(prop.ms / 1000) + 1}).`,
      });
    } else if (ps.seconds * 1000 < prop.ms) {
      findings.push({
        code: "prestop-shorter-than-propagation",
        severity: propSeverity,
        certainty: "likely",
        container: c.name,
        source: "pod-spec",
        title: `the preStop hook lasts ${ps.seconds} s, shorter than the endpoint propagation (${seconds(prop.ms)}, ${prop.source}): new connections still arrive after SIGTERM`,
        evidence,
        fix: `lengthen the preStop sleep to at least ${Math.ceil(prop.ms / 1000) + 1} s (and the grace period with it).`,
      });
    }
  } else if (listens(c)) {
    findings.push({
      code: "no-stop-delay",
      severity: "medium",
      certainty: "possible",
      container: c.name,
      source: "container-config",
      title: `Docker has no preStop hook: whatever routes to this container (a proxy, DNS round robin, a load balancer) keeps sending new connections for about ${seconds(prop.ms)} (${prop.source}) after ${stop}; an app that stops listening at once refuses them`,
      evidence: [
        `stop signal ${stop} is sent at once by docker stop / compose`,
        `endpoint propagation: ${propagationWords(prop)}`,
      ],
      fix: `keep accepting connections for ${Math.ceil(prop.ms / 1000)} s or more after ${stop} before closing the listener (or, on Kubernetes, a preStop sleep).`,
    });
  }

  return findings;
}

/** Grace vs preStop + drain (the drain measured by audit --verify, else the server's own bound). */
function graceFindings(
  c: ContainerFacts,
  f: WorkloadFacts,
  signal: SignalVerdict,
  verify: VerifyOutcome | undefined,
): Finding[] {
  const findings: Finding[] = [];
  const preStopSeconds = c.preStop === undefined || c.preStop.type === "none" ? 0 : (c.preStop.seconds ?? 0);
  const grace = f.grace.seconds;
  const measuredDrain =
    verify?.sigtermToExitMs !== undefined && verify.observedOutcomes?.includes("graceful")
      ? {
          seconds: verify.sigtermToExitMs / 1000,
          from: `measured by audit --verify (SIGTERM → exit ${(verify.sigtermToExitMs / 1000).toFixed(2)} s)`,
        }
      : undefined;
  const drain = measuredDrain ?? signal.drainSeconds;
  const graceEvidence = [
    `grace: ${grace} s (${f.grace.from})`,
    `preStop: ${preStopSeconds} s`,
    `drain: ${drain ? `${drain.seconds} s (${drain.from})` : "unknown"}`,
  ];
  if (c.preStop !== undefined && c.preStop.type !== "none" && preStopSeconds >= grace) {
    findings.push({
      code: "grace-too-short",
      severity: "high",
      certainty: "certain",
      container: c.name,
      source: "pod-spec",
      title: `the preStop hook (${preStopSeconds} s) takes the whole grace period (${grace} s): SIGTERM comes only when it ends, and SIGKILL follows after the kubelet's 2 s minimum — no time to drain`,
      evidence: graceEvidence,
      fix: `raise terminationGracePeriodSeconds to the preStop (${preStopSeconds} s) + the app's drain + a margin (e.g. ${preStopSeconds + Math.max(10, Math.ceil(drain?.seconds ?? 0) + 5)}).`,
    });
  } else if (drain && preStopSeconds + drain.seconds > grace) {
    findings.push({
      code: "grace-too-short",
      severity: "medium",
      certainty: measuredDrain ? "certain" : "likely",
      container: c.name,
      source: measuredDrain ? "verify" : "workload-spec",
      title: `${graceWords(f)} is shorter than the preStop (${preStopSeconds} s) + the app's drain (${drain.seconds} s, ${drain.from}): a long drain is cut by SIGKILL`,
      evidence: graceEvidence,
      fix: `${f.backend === "local" ? "raise the stop timeout (compose stop_grace_period, docker stop -t)" : "raise terminationGracePeriodSeconds"} to at least ${Math.ceil(preStopSeconds + drain.seconds + 5)} s, or bound the drain below it.`,
    });
  } else if (grace - preStopSeconds < TIGHT_DRAIN_SECONDS && listens(c)) {
    findings.push({
      code: "grace-too-short",
      severity: "low",
      certainty: "possible",
      container: c.name,
      source: "workload-spec",
      title: `${graceWords(f)} leaves only ${Math.max(0, grace - preStopSeconds)} s after the preStop for the app to drain`,
      evidence: graceEvidence,
      fix: "make sure the drain fits (bound it), or raise the grace period.",
    });
  }

  return findings;
}

function readinessFindings(c: ContainerFacts, f: WorkloadFacts): Finding[] {
  const findings: Finding[] = [];
  const { notExposed, exposedWords } = exposure(c, f);
  if (c.readiness === null && !notExposed && (f.backend !== "local" || listens(c))) {
    findings.push({
      code: "no-readiness-probe",
      severity: f.backend === "local" ? "low" : "medium",
      certainty: "certain",
      container: c.name,
      source: f.backend === "local" ? "container-config" : "pod-spec",
      title:
        f.backend === "local"
          ? "no HEALTHCHECK: nothing tells a proxy or Compose (depends_on: service_healthy) when the container is ready"
          : "no readinessProbe: a new pod gets traffic as soon as it starts, before it listens, and a pod that stops serving stays in the Service until it is gone",
      evidence: [`${f.backend === "local" ? "Config.Healthcheck" : "readinessProbe"}: none`, exposedWords],
      fix:
        f.backend === "local"
          ? "add a HEALTHCHECK (Dockerfile) or healthcheck: (compose.yaml) that asks the app itself."
          : "add a readinessProbe (httpGet on a path that answers only while the app serves).",
    });
  }

  return findings;
}

function containerReport(c: ContainerFacts, signal: SignalVerdict): ContainerReport {
  return {
    name: c.name,
    image: c.image,
    ...(c.command ? { command: c.command } : {}),
    stopSignal: c.stopSignal,
    ...(c.preStop ? { preStop: c.preStop } : {}),
    readiness: c.readiness,
    ports: c.ports,
    ...(c.inspection && c.inspection.processes.length > 0
      ? {
          processTree: {
            source: c.inspection.source,
            detail: c.inspection.sourceDetail,
            notes: c.inspection.notes,
            processes: c.inspection.processes.map(toAudited),
          },
          pid1: c.inspection.processes.find((p) => p.pid === 1)?.command,
        }
      : {}),
    ...(c.inspectionSkipped ? { inspectionSkipped: c.inspectionSkipped } : {}),
    signalPath: signal.why,
  };
}

/** The container's part in a delete under load: signal path, stop signal, preStop vs propagation, grace, readiness. */
function containerFindings(
  c: ContainerFacts,
  f: WorkloadFacts,
  ctx: RuleContext,
  verify?: VerifyOutcome,
): { findings: Finding[]; signal: SignalVerdict; report: ContainerReport } {
  const { findings, signal } = signalFindings(c, f);
  findings.push(...propagationFindings(c, f, ctx), ...graceFindings(c, f, signal, verify), ...readinessFindings(c, f));
  return { findings, signal, report: containerReport(c, signal) };
}

/**
 * Kubernetes pods with more than one listening container (an app behind a proxy sidecar): the kubelet
 * signals every regular container at the same moment, so a container without a preStop stops at the
 * delete while the other still serves through it. The fix is the cause catalogue's (inspect/causes.ts).
 */
function shutdownOrderFindings(f: WorkloadFacts): Finding[] {
  const serving = f.containers.filter((c) => listens(c) && c.preStop !== undefined);
  if (serving.length < 2) return [];
  const evidence = serving.map(
    (c) =>
      `${c.name}: listens on ${c.ports.join(", ") || "?"}; preStop ${c.preStop?.type === "none" ? "none" : (c.preStop?.description ?? "?")}`,
  );
  return serving
    .filter((c) => c.preStop?.type === "none")
    .map((c) => {
      const others = serving.filter((o) => o !== c).map((o) => o.name);
      const entry = containerCauseEntry("listener-closed-behind-proxy");
      return {
        code: "sidecar-shutdown-order" as const,
        severity: "high" as const,
        certainty: "possible" as const,
        container: c.name,
        source: "pod-spec" as const,
        title:
          `${c.name} has no preStop hook and shares its pod with ${others.join(", ")}: every container gets the stop ` +
          "signal at the same moment, so a proxy answers 502/503 for an app whose listener closed behind it, or " +
          "cuts the app's answers when the proxy stops first",
        evidence,
        fix: entry.fix?.({ container: c.name, via: others[0] ?? "the other container" }) ?? "",
      };
    });
}

/** Workload-level: how many replicas a rollout or a node drain takes at once. */
function availabilityFindings(f: WorkloadFacts): Finding[] {
  const notExposed = f.exposedBy !== undefined && f.exposedBy.length === 0;
  const a: AvailabilityFacts = {
    f,
    replicas: f.replicas ?? 1,
    soften: (s: Severity): Severity => (notExposed ? "info" : s),
    evidence: [
      `replicas: ${f.replicas ?? "?"}`,
      ...(f.strategy ? [`strategy: ${JSON.stringify(f.strategy)}`] : []),
      ...(f.backend === "local"
        ? []
        : [
            f.exposedBy === undefined
              ? "Services: not read"
              : f.exposedBy.length === 0
                ? "no Service selects it"
                : `Service: ${f.exposedBy.join(", ")}`,
          ]),
    ],
  };
  return [...rolloutFindings(a), ...replicaFindings(a), ...loneFindings(a)];
}

/** What the availability rules read: the workload, its replicas, the evidence, and the severity softener. */
interface AvailabilityFacts {
  f: WorkloadFacts;
  replicas: number;
  evidence: string[];
  /** No Service selects the workload: nothing it serves can be dropped, so findings are info. */
  soften(s: Severity): Severity;
}

/** A rollout strategy that may take every replica at once (Deployment, StatefulSet, DaemonSet). */
function rolloutFindings({ f, replicas, evidence, soften }: AvailabilityFacts): Finding[] {
  const s = f.strategy;
  if (!s) return [];
  const finding = (title: string, fix: string): Finding => ({
    code: "rollout-all-at-once",
    severity: soften("high"),
    certainty: "certain",
    source: "workload-spec",
    title,
    evidence,
    fix,
  });
  if (f.kind === "Deployment") {
    if (s.type === "Recreate") {
      return [
        finding(
          "strategy Recreate: every rollout stops all replicas before the new ones start",
          "use strategy RollingUpdate (maxUnavailable 0, maxSurge 1 or 25%).",
        ),
      ];
    }
    const unavailable = resolveIntOrPercent(s.maxUnavailable ?? "25%", replicas, false);
    if (replicas > 0 && unavailable >= replicas) {
      return [
        finding(
          `maxUnavailable ${s.maxUnavailable} of ${replicas} replica(s) = ${unavailable}: a rollout may take every replica at once`,
          "set maxUnavailable to 0 (with maxSurge ≥ 1) or below the replica count.",
        ),
      ];
    }
  }
  if (f.kind === "StatefulSet") {
    const unavailable = resolveIntOrPercent(s.maxUnavailable ?? 1, replicas, false);
    if (s.type !== "OnDelete" && replicas > 0 && unavailable >= replicas) {
      return [
        finding(
          replicas === 1
            ? "a StatefulSet with 1 replica: a rollout stops the only pod before its replacement starts (no surge)"
            : `maxUnavailable ${s.maxUnavailable} of ${replicas}: a rollout may take every replica at once`,
          replicas === 1 ? "run at least 2 replicas." : "lower maxUnavailable below the replica count.",
        ),
      ];
    }
  }
  if (f.kind === "DaemonSet" && s.type !== "OnDelete") {
    const desired = s.desiredScheduled ?? replicas;
    const unavailable = resolveIntOrPercent(s.maxUnavailable ?? 1, desired, false);
    const surge = resolveIntOrPercent(s.maxSurge ?? 0, desired, true);
    if (desired > 0 && unavailable >= desired && surge === 0) {
      return [
        finding(
          `maxUnavailable ${s.maxUnavailable ?? 1} with ${desired} node(s) and no surge: a rollout takes every pod at once`,
          "use maxSurge 1 with maxUnavailable 0 (one new pod per node before the old one stops), or run on more nodes.",
        ),
      ];
    }
  }
  return [];
}

/** A replicated workload with one replica, no PodDisruptionBudget, or one that lets a drain take them all. */
function replicaFindings({ f, replicas, evidence, soften }: AvailabilityFacts): Finding[] {
  if (!["Deployment", "StatefulSet", "ReplicaSet"].includes(f.kind)) return [];
  if (replicas === 1) {
    return [
      {
        code: "single-replica",
        severity: soften("medium"),
        certainty: "certain",
        source: "workload-spec",
        title: "1 replica: a delete, an eviction or a node drain leaves nothing serving until the replacement is ready",
        evidence,
        fix: "run at least 2 replicas (with a PodDisruptionBudget maxUnavailable 1).",
      },
    ];
  }
  if (!(replicas > 1 && f.pdbs !== undefined)) return [];
  if (f.pdbs.length === 0) {
    return [
      {
        code: "no-disruption-budget",
        severity: soften("low"),
        certainty: "certain",
        source: "cluster-objects",
        title: `no PodDisruptionBudget: a node drain may evict all ${replicas} replicas at once`,
        evidence,
        fix: "add a PodDisruptionBudget with maxUnavailable: 1 (or minAvailable: replicas - 1).",
      },
    ];
  }
  const allowsAll = (b: NonNullable<WorkloadFacts["pdbs"]>[number]) =>
    (b.maxUnavailable !== undefined && resolveIntOrPercent(b.maxUnavailable, replicas, true) >= replicas) ||
    (b.minAvailable !== undefined && resolveIntOrPercent(b.minAvailable, replicas, true) <= 0);
  return f.pdbs.filter(allowsAll).map((b) => ({
    code: "disruption-budget-allows-all",
    severity: soften("medium"),
    certainty: "certain",
    source: "cluster-objects",
    title: `PodDisruptionBudget ${b.name} (${b.maxUnavailable !== undefined ? `maxUnavailable ${b.maxUnavailable}` : `minAvailable ${b.minAvailable}`}) lets a drain evict every replica at once`,
    evidence: [...evidence, `PodDisruptionBudget ${b.name}: ${JSON.stringify(b)}`],
    fix: "set maxUnavailable: 1 (or minAvailable below the replica count, above 0).",
  }));
}

/** Something nothing replicates: a bare pod, one Compose container, a lone container. */
function loneFindings({ f, replicas, evidence, soften }: AvailabilityFacts): Finding[] {
  if (f.kind === "Pod") {
    return [
      {
        code: "single-replica",
        severity: soften("low"),
        certainty: "certain",
        source: "workload-spec",
        title: "a bare pod: nothing recreates it after a delete or an eviction",
        evidence,
        fix: "run it from a Deployment (or StatefulSet) with at least 2 replicas.",
      },
    ];
  }
  if (f.kind === "ComposeService" && replicas === 1) {
    return [
      {
        code: "single-replica",
        severity: "low",
        certainty: "certain",
        source: "compose-labels",
        title:
          "one container for this Compose service: docker compose up (after a change) stops it before its replacement starts, and a stop leaves nothing serving",
        evidence,
        fix: "run 2 or more (deploy.replicas / --scale) behind a proxy that stops routing to a container before it stops.",
      },
    ];
  }
  if (f.kind === "Container") {
    return [
      {
        code: "single-replica",
        severity: "info",
        certainty: "certain",
        source: "container-config",
        title: "a lone container: stopping it leaves nothing serving",
        evidence,
        fix: "if it serves traffic, run 2 or more behind a proxy that drains before a stop.",
      },
    ];
  }
  return [];
}

function verifyFindings(v: VerifyOutcome): Finding[] {
  const evidence = [
    `check on ${v.where}: ${v.setup}`,
    ...(v.pid1 ? [`PID 1: ${v.pid1}`] : []),
    ...(v.outcome ? [`exit: ${v.outcome}`] : []),
    ...(v.sent !== undefined
      ? [`failed requests: ${v.failed ?? 0} of ${v.sent}${v.failed ? ` (${v.failureSummary})` : ""}`]
      : []),
    ...(v.heldWords ? [`prediction: ${v.heldWords}`] : []),
    ...(v.resultFile ? [`result: ${v.resultFile}`] : []),
  ];
  if (v.error !== undefined && v.sent === undefined) {
    return [
      {
        code: "verify-failed",
        severity: "info",
        certainty: "certain",
        source: "verify",
        title: `audit --verify could not run a check: ${v.error}`,
        evidence,
      },
    ];
  }
  if ((v.failed ?? 0) > 0) {
    const signalPath =
      (v.observedOutcomes ?? []).some((o) => o === "killed" || o === "abrupt") &&
      !(v.observedOutcomes ?? []).includes("graceful");
    return [
      {
        code: "verified-drops",
        severity: signalPath ? "critical" : "high",
        certainty: "certain",
        source: "verify",
        title:
          `verified: a delete under load dropped ${v.failed} of ${v.sent} requests — ${v.problem ?? v.outcome ?? ""}`.trim(),
        evidence,
        ...(v.fix ? { fix: v.fix } : {}),
      },
    ];
  }
  return [
    {
      code: "verified-no-drops",
      severity: "info",
      certainty: "certain",
      source: "verify",
      title: `verified: a delete under load dropped none of ${v.sent} requests (${v.outcome ?? "exit observed"})`,
      evidence,
    },
  ];
}

const CERTAINTY_ORDER: Certainty[] = ["possible", "likely", "certain"];

export function certaintyRank(c: Certainty): number {
  return CERTAINTY_ORDER.indexOf(c);
}

/** Within one severity: proof first, then the signal path, then traffic, grace, readiness, availability. */
const CODE_ORDER: FindingCode[] = [
  "verified-drops",
  "pid1-shell-no-forward",
  "sigterm-not-handled",
  "sigterm-ignored",
  "pid1-exits-abruptly",
  "stop-signal-mismatch",
  "sigterm-handling-unverified",
  "sidecar-shutdown-order",
  "no-prestop",
  "prestop-shorter-than-propagation",
  "no-stop-delay",
  "grace-too-short",
  "prestop-duration-unknown",
  "no-readiness-probe",
  "rollout-all-at-once",
  "disruption-budget-allows-all",
  "single-replica",
  "no-disruption-budget",
  "verified-no-drops",
  "verify-failed",
  "sigterm-path-ok",
  "not-inspected",
];

/** Position of a finding code in the order of concern (0 = first). */
export function codeRank(code: FindingCode): number {
  return CODE_ORDER.indexOf(code);
}

/** Most severe first; within a severity the signal path before the rest, then the most certain. */
export function compareFindings(a: Finding, b: Finding): number {
  const sev = (f: Finding) => ["info", "low", "medium", "high", "critical"].indexOf(f.severity);
  return (
    sev(b) - sev(a) ||
    CODE_ORDER.indexOf(a.code) - CODE_ORDER.indexOf(b.code) ||
    certaintyRank(b.certainty) - certaintyRank(a.certainty)
  );
}

export interface WorkloadAudit {
  findings: Finding[];
  prediction: WorkloadPrediction;
  containers: ContainerReport[];
}

/** Every rule for one workload; verify (audit --verify's check run) refines the verdict when given. */
export function auditWorkload(f: WorkloadFacts, ctx: RuleContext, verify?: VerifyOutcome): WorkloadAudit {
  const per = f.containers.map((c) => containerFindings(c, f, ctx, verify));
  let findings = [...per.flatMap((p) => p.findings), ...shutdownOrderFindings(f), ...availabilityFindings(f)];
  if (verify) {
    const vf = verifyFindings(verify);
    findings.push(...vf);
    const observed = verify.observedOutcomes ?? [];
    if (verify.sent !== undefined && observed.length > 0) {
      // Proven on a copy: what could not be told from outside is known now (verified-drops carries the severity).
      findings = findings.map((x) =>
        x.code === "sigterm-handling-unverified"
          ? {
              ...x,
              severity: "info",
              certainty: "certain",
              title: `${x.title} — verified by audit --verify: ${observed.join(" or ")}`,
            }
          : x,
      );
    }
  }
  findings.sort(compareFindings);
  return {
    findings,
    prediction: predictWorkload(
      f,
      ctx,
      per.map((p) => p.signal),
      findings,
      verify,
    ),
    containers: per.map((p) => p.report),
  };
}

const OUTCOME_ORDER: WorkloadPrediction["outcome"][] = ["graceful", "unknown", "conditional", "abrupt", "killed"];

function predictWorkload(
  f: WorkloadFacts,
  ctx: RuleContext,
  signals: SignalVerdict[],
  findings: Finding[],
  verify?: VerifyOutcome,
): WorkloadPrediction {
  const worst = [...signals].sort((a, b) => OUTCOME_ORDER.indexOf(b.outcome) - OUTCOME_ORDER.indexOf(a.outcome))[0];
  const why: string[] = [];
  const observed = verify?.sent !== undefined ? (verify.observedOutcomes ?? []) : [];
  const verified = observed.length === 1 ? (observed[0] as WorkloadPrediction["outcome"]) : undefined;
  const outcome = verified ?? worst?.outcome ?? "unknown";
  const levels: DropWords[] = ["no", "uncertain", "likely", "yes"];
  let drops: DropWords = "no";
  const raise = (d: DropWords) => {
    if (levels.indexOf(d) > levels.indexOf(drops)) drops = d;
  };
  if (outcome === "killed") {
    raise("yes");
    why.push(
      `SIGTERM never reaches the app: SIGKILL at the end of ${graceWords(f)} ends it with requests in flight (${worst?.why})`,
    );
  } else if (outcome === "abrupt") {
    raise("yes");
    why.push(`PID 1 exits soon after SIGTERM and the kernel kills the app without a drain (${worst?.why})`);
  } else if (outcome === "conditional") {
    raise("uncertain");
    why.push(worst?.prediction ? `predicted ${branchWords(worst.prediction.branches)}` : (worst?.why ?? "conditional"));
  } else if (outcome === "unknown") {
    raise("uncertain");
    why.push(worst?.why ?? "the signal path could not be read");
  } else {
    why.push(
      verified
        ? "verified: the stop signal reaches the app, which drains"
        : "the stop signal reaches the app, which handles it",
    );
  }
  const fast = signals.find((s) => s.fastStop);
  if (fast) {
    raise("yes");
    why.push(`${fast.fastStop}`);
  }
  const trafficCodes = new Set(["no-prestop", "prestop-shorter-than-propagation", "no-stop-delay"]);
  const traffic = findings.find((x) => trafficCodes.has(x.code) && x.severity !== "info");
  if (traffic && outcome !== "killed") {
    raise("likely");
    why.push(
      traffic.code === "no-stop-delay"
        ? `new connections in the ~${seconds(ctx.propagation.ms)} after the stop signal meet a closed listener (no stop delay on Docker)`
        : `new connections in the ~${seconds(ctx.propagation.ms)} endpoint propagation meet a closed listener (${traffic.code === "no-prestop" ? "no preStop" : "the preStop is shorter"})`,
    );
  }
  if (!traffic && f.exposedBy?.length === 0 && f.containers.some((c) => c.preStop?.type === "none")) {
    // The propagation rule holds whatever the server: only the missing Service spares it today.
    why.push(
      "no Service selects it, so nothing is routed to it; once one does, new connections in the endpoint propagation meet a closed listener (no preStop)",
    );
  }
  const grace = findings.find(
    (x) => x.code === "grace-too-short" && (x.severity === "high" || x.severity === "medium"),
  );
  if (grace) {
    raise("likely");
    why.push("the grace period can cut the drain short");
  }
  if (verify && verify.sent !== undefined) {
    if ((verify.failed ?? 0) > 0) raise("yes");
    why.push(`verified on a copy: ${verify.failed ?? 0} of ${verify.sent} requests dropped (${verify.outcome ?? "?"})`);
  }
  const outcomeWords: Record<WorkloadPrediction["outcome"], string> = {
    graceful: "graceful exit",
    killed: `SIGKILL at the end of ${graceWords(f)}`,
    abrupt: "abrupt exit (the app killed without a drain)",
    conditional: "depends on the app's own handler",
    unknown: "signal path not read",
  };
  const dropWords: Record<DropWords, string> = {
    yes: "drops requests",
    likely: "likely drops requests",
    uncertain: "may drop requests",
    no: "drops nothing",
  };
  // The one-line prediction names each clause once (a fast stop is its head or a reason, not both).
  const head = fast && outcome === "graceful" ? (fast.fastStop ?? "") : outcomeWords[outcome];
  return {
    drops,
    outcome: fast && outcome === "graceful" ? "abrupt" : outcome,
    ...(worst?.prediction ? { cause: worst.prediction.cause, branches: worst.prediction.branches } : {}),
    why,
    summary: [`${dropWords[drops]}: ${head}`, ...why.slice(1).filter((w) => w !== head)].join("; "),
  };
}
