// The kubelet's probe loop for one container on the local runtime: the probe's action every period,
// its success and failure thresholds deciding the container's state. The pod's readiness (every
// container ready) gates the Service proxy; a startup probe holds back the next container's start.
import net from "node:net";
import type { ProbeAction, ProbePlan } from "./pod-template.js";

/** How a probe reaches its container: exec inside it, and the host port of a container port. */
export interface ProbeTarget {
  exec(command: string[]): Promise<{ exitCode: number }>;
  hostPortFor(containerPort: number): number;
}

/**
 * A tcpSocket check through Docker's port publishing: docker-proxy accepts the connection before it
 * tries the container, then closes it when nothing listens there. So the check holds the connection
 * a moment and counts a close within it as a refusal.
 */
const TCP_HOLD_MS = 150;

function tcpCheck(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      setTimeout(() => done(true), TCP_HOLD_MS);
    });
    socket.once("close", () => done(false));
    socket.once("error", () => done(false));
  });
}

/** One probe attempt: true on success (httpGet: 200–399; tcpSocket: a connection; exec: exit 0). */
export async function probeOnce(action: ProbeAction, target: ProbeTarget, timeoutMs: number): Promise<boolean> {
  try {
    switch (action.type) {
      case "httpGet": {
        const url = `http://127.0.0.1:${target.hostPortFor(action.port)}${action.path}`;
        const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
        await res.arrayBuffer();
        return res.status >= 200 && res.status < 400;
      }
      case "tcpSocket":
        return await tcpCheck(target.hostPortFor(action.port), timeoutMs);
      case "exec": {
        const timeout = new Promise<{ exitCode: number }>((r) => setTimeout(() => r({ exitCode: -1 }), timeoutMs));
        return (await Promise.race([target.exec(action.command), timeout])).exitCode === 0;
      }
    }
  } catch {
    return false;
  }
}

/** The thresholds' rule: the state flips after that many consecutive results the other way. Pure. */
export function nextState(
  state: { ready: boolean; successes: number; failures: number },
  ok: boolean,
  plan: Pick<ProbePlan, "successThreshold" | "failureThreshold">,
): { ready: boolean; successes: number; failures: number } {
  const successes = ok ? state.successes + 1 : 0;
  const failures = ok ? 0 : state.failures + 1;
  if (!state.ready && successes >= plan.successThreshold) return { ready: true, successes, failures };
  if (state.ready && failures >= plan.failureThreshold) return { ready: false, successes, failures };
  return { ready: state.ready, successes, failures };
}

/** A probe running every period until stopped; onChange hears every flip of its state. */
export class Prober {
  private state = { ready: false, successes: 0, failures: 0 };
  private stopped = false;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly plan: ProbePlan,
    private readonly target: ProbeTarget,
    private readonly onChange: (ready: boolean) => void,
  ) {}

  get ready(): boolean {
    return this.state.ready;
  }

  start(): void {
    this.timer = setTimeout(() => void this.tick(), this.plan.initialDelayMs);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const startedAt = Date.now();
    const ok = await probeOnce(this.plan.action, this.target, this.plan.timeoutMs);
    if (this.stopped) return;
    const before = this.state.ready;
    this.state = nextState(this.state, ok, this.plan);
    if (this.state.ready !== before) this.onChange(this.state.ready);
    // The period counts from the attempt's start, as the kubelet's ticker does.
    this.timer = setTimeout(() => void this.tick(), Math.max(0, this.plan.periodMs - (Date.now() - startedAt)));
  }
}
