// Servers whose graceful shutdown is started by a particular signal, recognised by their command line.
// When the signal the runtime stops them with is another one, they stop without draining. Pure.
import { signalName } from "../util/signals.js";

export interface KnownServer {
  server: string;
  /** The signal that starts a graceful shutdown (finish requests in flight, then exit). */
  graceful: string;
  /** Other signals that are graceful too. */
  alsoGraceful: string[];
  /** What the usual stop signals do instead, in words. */
  otherwise: Record<string, string>;
  /** How the drain is bounded, when the command line says (seconds), and from which flag. */
  drain?: { seconds: number; from: string };
}

interface Rule {
  server: string;
  match: (argv: readonly string[], name: string) => boolean;
  graceful: string;
  alsoGraceful?: string[];
  otherwise: Record<string, string>;
  drain?: (argv: readonly string[]) => { seconds: number; from: string } | undefined;
}

function flagValue(argv: readonly string[], flag: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? "";
    if (a === flag) return argv[i + 1];
    if (a.startsWith(`${flag}=`)) return a.slice(flag.length + 1);
  }
  return undefined;
}

const basename = (path: string): string => path.split("/").pop() ?? path;

/** argv[0] as a program name; nginx and php-fpm rewrite their argv to "nginx: master process …". */
function program(argv: readonly string[]): string {
  const first = (argv[0] ?? "").split(/[:\s]/)[0] ?? "";
  return basename(first);
}

/** A Python module or script run as `python -m x` / `python /usr/bin/x`. */
function pythonRuns(argv: readonly string[], what: string): boolean {
  if (!/^python[0-9.]*$/.test(program(argv))) return false;
  const m = argv.indexOf("-m");
  if (m >= 0 && argv[m + 1] === what) return true;
  return argv.slice(1).some((a) => !a.startsWith("-") && basename(a) === what);
}

const RULES: Rule[] = [
  {
    server: "nginx",
    match: (argv, name) => ["nginx", "openresty"].includes(program(argv)) || name === "nginx",
    graceful: "SIGQUIT",
    otherwise: {
      SIGTERM: "a fast shutdown: the workers exit at once and open connections are closed mid-request",
      SIGINT: "a fast shutdown: the workers exit at once and open connections are closed mid-request",
    },
  },
  {
    server: "apache httpd",
    match: (argv, name) =>
      ["apache2", "httpd", "apachectl", "apache2ctl"].includes(program(argv)) || name === "apache2",
    graceful: "SIGWINCH",
    otherwise: {
      SIGTERM: "stop now: the parent kills its children, requests in flight included",
      SIGINT: "stop now: the parent kills its children, requests in flight included",
    },
  },
  {
    server: "php-fpm",
    match: (argv, name) => /^php-fpm/.test(program(argv)) || /^php-fpm/.test(name),
    graceful: "SIGQUIT",
    otherwise: {
      SIGTERM: "an immediate termination: the workers are killed with requests in flight",
      SIGINT: "an immediate termination: the workers are killed with requests in flight",
    },
  },
  {
    server: "haproxy",
    match: (argv, name) => program(argv) === "haproxy" || name === "haproxy",
    graceful: "SIGUSR1",
    otherwise: {
      SIGTERM: "a hard stop: every connection is closed at once",
      SIGINT: "a hard stop: every connection is closed at once",
    },
  },
  {
    server: "unicorn",
    match: (argv) => program(argv) === "unicorn" || /^unicorn master/.test(argv[0] ?? ""),
    graceful: "SIGQUIT",
    otherwise: {
      SIGTERM: "a quick shutdown: the workers are killed with requests in flight",
      SIGINT: "a quick shutdown: the workers are killed with requests in flight",
    },
  },
  {
    server: "gunicorn",
    match: (argv, name) =>
      program(argv) === "gunicorn" ||
      pythonRuns(argv, "gunicorn") ||
      /^gunicorn/.test(name) ||
      /^gunicorn:/.test(argv[0] ?? ""),
    graceful: "SIGTERM",
    otherwise: {
      SIGQUIT: "a quick shutdown: the workers are killed with requests in flight",
      SIGINT: "a quick shutdown: the workers are killed with requests in flight",
    },
    drain: (argv) => {
      const v = flagValue(argv, "--graceful-timeout");
      if (v !== undefined && Number.isFinite(Number(v))) return { seconds: Number(v), from: `--graceful-timeout ${v}` };
      return { seconds: 30, from: "gunicorn's default --graceful-timeout (30 s)" };
    },
  },
  {
    server: "uvicorn",
    match: (argv, name) => program(argv) === "uvicorn" || pythonRuns(argv, "uvicorn") || name === "uvicorn",
    graceful: "SIGTERM",
    alsoGraceful: ["SIGINT"],
    otherwise: { SIGQUIT: "the default action: the process ends at once, requests in flight included" },
    drain: (argv) => {
      const v = flagValue(argv, "--timeout-graceful-shutdown");
      return v !== undefined && Number.isFinite(Number(v))
        ? { seconds: Number(v), from: `--timeout-graceful-shutdown ${v}` }
        : undefined;
    },
  },
  {
    server: "puma",
    match: (argv, name) => program(argv) === "puma" || /^puma/.test(argv[0] ?? "") || name === "puma",
    graceful: "SIGTERM",
    otherwise: {},
  },
  {
    server: "caddy",
    match: (argv, name) => program(argv) === "caddy" || name === "caddy",
    graceful: "SIGTERM",
    alsoGraceful: ["SIGINT"],
    otherwise: { SIGQUIT: "an immediate exit, without draining" },
  },
  {
    server: "traefik",
    match: (argv, name) => program(argv) === "traefik" || name === "traefik",
    graceful: "SIGTERM",
    alsoGraceful: ["SIGINT"],
    otherwise: {},
  },
];

export function recognizeServer(argv: readonly string[], name = ""): KnownServer | undefined {
  const rule = RULES.find((r) => r.match(argv, name));
  if (!rule) return undefined;
  const drain = rule.drain?.(argv);
  return {
    server: rule.server,
    graceful: rule.graceful,
    alsoGraceful: rule.alsoGraceful ?? [],
    otherwise: rule.otherwise,
    ...(drain ? { drain } : {}),
  };
}

/** "SIGTERM" for "TERM", "15", "sigterm"; SIGTERM (the runtimes' default) for none. */
export function normalizeSignal(signal: string | undefined | null): string {
  return signalName(signal) ?? "SIGTERM";
}

/** Whether the stop signal starts the server's graceful shutdown. */
export function stopsGracefully(server: KnownServer, stopSignal: string): boolean {
  const s = normalizeSignal(stopSignal);
  return s === server.graceful || server.alsoGraceful.includes(s);
}
