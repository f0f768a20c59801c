// Reading a container's configured command and lifecycle hooks without running anything: shell form,
// whether a `sh -c` string execs its last command, what an entrypoint script does with SIGTERM, how
// long a preStop hook lasts. Pure.
import { basename } from "../inspect/predict.js";

const SHELLS = new Set(["sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "busybox"]);
const INITS = new Set(["tini", "tini-static", "docker-init", "dumb-init", "catatonit", "s6-svscan"]);

export function isShellName(word: string | undefined): boolean {
  return word !== undefined && SHELLS.has(basename(word));
}

export function isInitName(word: string | undefined): boolean {
  return word !== undefined && INITS.has(basename(word));
}

/** `sh -c "…"` (also `-ec`, `-xc`, `-lc`): the shell and the command string. */
export function shellFormOf(argv: readonly string[]): { shell: string; script: string } | undefined {
  const [first, flag, script] = argv;
  if (!isShellName(first) || flag === undefined || script === undefined) return undefined;
  if (!/^-[a-z]*c[a-z]*$/.test(flag)) return undefined;
  return { shell: basename(first ?? "sh"), script };
}

/** The command string split into its top-level commands (on ;, &&, ||, newlines); quotes respected. */
export function splitCommands(script: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quote: string | undefined;
  for (let i = 0; i < script.length; i++) {
    const ch = script[i] ?? "";
    if (quote) {
      cur += ch;
      if (ch === quote) quote = undefined;
      continue;
    }
    if (ch === "'" || ch === '"') {
      quote = ch;
      cur += ch;
      continue;
    }
    const two = script.slice(i, i + 2);
    if (two === "&&" || two === "||") {
      out.push(cur);
      cur = "";
      i++;
      continue;
    }
    if (ch === ";" || ch === "\n") {
      out.push(cur);
      cur = "";
      continue;
    }
    cur += ch;
  }
  out.push(cur);
  return out.map((c) => c.trim()).filter((c) => c !== "");
}

/** A lone simple command: no list, pipe, background job, subshell or substitution. */
export function isLoneSimpleCommand(script: string): boolean {
  const commands = splitCommands(script);
  if (commands.length !== 1) return false;
  const unquoted = (commands[0] ?? "").replace(/'[^']*'|"[^"]*"/g, "");
  return !/[|&()`<>]|\$\(/.test(unquoted);
}

export interface ShellFormVerdict {
  /** The shell stays PID 1 (does not replace itself with the app). */
  shellStays: boolean;
  certainty: "certain" | "likely" | "possible";
  why: string;
  /** The command that should be exec'd (the last one), for the fix. */
  app: string;
}

/**
 * Whether `<shell> -c "<script>"` leaves the shell as PID 1. `exec` on the last command replaces it;
 * a list (a && b) keeps it; a lone simple command is exec'd by bash and busybox but NOT by dash,
 * Debian's and Ubuntu's /bin/sh (measured: README "What the measurements taught us").
 */
export function shellFormVerdict(shell: string, script: string): ShellFormVerdict {
  const commands = splitCommands(script);
  const last = commands.at(-1) ?? script.trim();
  const app = last.replace(/^exec\s+/, "");
  if (/^exec\s+\S/.test(last)) {
    return { shellStays: false, certainty: "likely", why: `the last command is exec'd (${last})`, app };
  }
  if (!isLoneSimpleCommand(script)) {
    return {
      shellStays: true,
      certainty: "likely",
      why: `${shell} runs a command list (${commands.length} commands) and starts "${app}" as its child`,
      app,
    };
  }
  if (shell === "bash" || shell === "busybox" || shell === "ash") {
    return {
      shellStays: false,
      certainty: "possible",
      why: `${shell} usually execs a lone command given with -c (dash does not)`,
      app,
    };
  }
  return {
    shellStays: true,
    certainty: "likely",
    why:
      `${shell} -c with a lone command: /bin/sh is dash on Debian and Ubuntu based images, which does not exec ` +
      `it (node runs as sh's child, measured); bash and busybox would`,
    app,
  };
}

/** argv[0] looks like a wrapper script (what a script does with SIGTERM cannot be told from its name). */
export function looksLikeScript(argv0: string | undefined): boolean {
  if (!argv0) return false;
  const b = basename(argv0);
  return /\.(sh|bash)$/.test(b) || /entrypoint|^start|^run$|^run\.|docker-entrypoint/.test(b);
}

export interface ScriptReading {
  /** The last command is `exec …`: the app replaces the shell. */
  execsLast: boolean;
  /** A trap on TERM (or on EXIT with kill). */
  trapsTerm: boolean;
  /** The script sends signals on (kill). */
  kills: boolean;
  /** The script waits for its children (wait). */
  waits: boolean;
  /** Starts something in the background (&). */
  backgrounds: boolean;
  lines: string[];
}

/** A rough reading of an entrypoint script: a heuristic, said so wherever it is used. */
export function readScript(text: string): ScriptReading {
  const code = text
    .split("\n")
    .map((l) => l.replace(/(^|\s)#.*$/, "").trim())
    .filter((l) => l !== "" && !l.startsWith("#!"));
  const joined = code.join("\n");
  const commands = splitCommands(joined);
  const last = commands.at(-1) ?? "";
  const trapLines = code.filter((l) => /^trap\s/.test(l) && /\b(TERM|SIGTERM|15)\b/.test(l));
  return {
    execsLast: /^exec\s+\S/.test(last) && !/^exec\s+[0-9]*[<>]/.test(last),
    trapsTerm: trapLines.length > 0,
    kills: /(^|[\s;&|(])kill\s/.test(joined),
    waits: /(^|[\s;&|(])wait(\s|$|;)/m.test(joined),
    backgrounds: /[^&]&(\s*$|\s*#|\s+[a-zA-Z_]+=|\s*\n)/m.test(`${joined}\n`),
    lines: trapLines,
  };
}

/** The configured argv: entrypoint + arguments after overrides (Docker and Kubernetes rules alike). */
export function effectiveArgv(
  image: { entrypoint?: string[] | null; cmd?: string[] | null },
  override: { command?: string[] | null; args?: string[] | null },
): string[] {
  // Kubernetes: command replaces ENTRYPOINT (and drops CMD unless args are given); args replace CMD.
  const entrypoint = override.command ?? image.entrypoint ?? [];
  const args = override.args ?? (override.command ? [] : (image.cmd ?? []));
  return [...entrypoint, ...args];
}

/** Resolves a Kubernetes IntOrString (e.g. maxUnavailable "25%") against a replica count. */
export function resolveIntOrPercent(value: number | string | undefined, total: number, roundUp: boolean): number {
  if (value === undefined) return 0;
  if (typeof value === "number") return value;
  const m = /^(\d+)%$/.exec(value.trim());
  if (m) {
    const exact = (Number(m[1]) * total) / 100;
    return roundUp ? Math.ceil(exact) : Math.floor(exact);
  }
  const n = Number(value);
  return Number.isFinite(n) ? n : 0;
}
