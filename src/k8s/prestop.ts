// A container's lifecycle.preStop handler (as the API returns it) and how long it is certain to take:
// one reading for the evidence (k8s/timeline-from-watch.ts) and the audit.
//
// Kubernetes runs the hook to completion before it sends SIGTERM (bounded by the grace period), so the
// seconds a hook sleeps in its foreground are a lower bound on when SIGTERM comes: the sleep action's
// seconds, or the `sleep` commands an exec hook runs one after another. A sleep that may not run
// (after `||`), runs in the background (`&`) or inside a pipeline bounds nothing and is not counted.

export type PreStopHandler =
  | { type: "none" }
  | { type: "sleep"; seconds: number; description: string }
  | {
      type: "exec" | "httpGet" | "tcpSocket";
      /** The seconds the hook sleeps in its foreground when it works (absent: it is not known to sleep). */
      seconds?: number;
      /** An exec hook's argv. */
      command?: string[];
      /** The hook in words. */
      description: string;
    };

const SHELL = /(^|\/)(ba|da|a)?sh$/;
const DURATION = /^(\d+(?:\.\d+)?)([smh]?)$/;
const UNIT: Record<string, number> = { "": 1, s: 1, m: 60, h: 3600 };

/** `sleep N…` as one simple command (GNU sleep sums its arguments; s, m, h suffixes) → seconds. */
function sleepCommand(words: readonly string[]): number | undefined {
  if (words.length < 2 || !/(^|\/)sleep$/.test(words[0] ?? "")) return undefined;
  let total = 0;
  for (const w of words.slice(1)) {
    const m = DURATION.exec(w);
    if (!m) return undefined;
    total += Number(m[1]) * (UNIT[m[2] ?? ""] ?? 1);
  }
  return total;
}

/** The seconds a hook command sleeps in its foreground: ["sleep", "3"], ["sh", "-c", "sleep 5 && nginx -s quit"]. */
export function sleepSeconds(argv: readonly string[]): number | undefined {
  const shell = argv.length === 3 && SHELL.test(argv[0] ?? "") && argv[1] === "-c";
  if (!shell) return sleepCommand(argv);
  const parts = (argv[2] ?? "").split(/(\|\||&&|;|\n|&)/);
  let total = 0;
  let found = false;
  for (let i = 0; i < parts.length; i += 2) {
    const before = parts[i - 1];
    const after = parts[i + 1];
    if (before === "||" || after === "&") continue;
    const seconds = sleepCommand((parts[i] ?? "").trim().split(/\s+/));
    if (seconds === undefined) continue;
    total += seconds;
    found = true;
  }
  return found ? total : undefined;
}

/** A Kubernetes lifecycle.preStop handler (as the API returns it, or undefined) → what it is and how long it sleeps. */
export function preStopOf(handler: unknown): PreStopHandler {
  if (!handler || typeof handler !== "object") return { type: "none" };
  const h = handler as {
    sleep?: { seconds?: number };
    exec?: { command?: string[] };
    httpGet?: { path?: string; port?: number | string };
    tcpSocket?: { port?: number | string };
  };
  if (h.sleep && typeof h.sleep.seconds === "number") {
    return { type: "sleep", seconds: h.sleep.seconds, description: `sleep action, ${h.sleep.seconds} s` };
  }
  if (h.exec) {
    const command = [...(h.exec.command ?? [])];
    const seconds = sleepSeconds(command);
    return {
      type: "exec",
      ...(seconds !== undefined ? { seconds } : {}),
      command,
      description: `exec ${JSON.stringify(command)}`,
    };
  }
  if (h.httpGet) {
    return { type: "httpGet", description: `httpGet ${h.httpGet.path ?? "/"} on port ${h.httpGet.port ?? "?"}` };
  }
  if (h.tcpSocket) return { type: "tcpSocket", description: `tcpSocket on port ${h.tcpSocket.port ?? "?"}` };
  return { type: "none" };
}
