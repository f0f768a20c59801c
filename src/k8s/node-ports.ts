// NodePorts for runs on one cluster: every run's Service claims one (a NodePort is cluster-wide), so
// runs that overlap need one each. kind-config.yaml publishes a small range on 127.0.0.1; an existing
// cluster takes the range as an option (--node-ports). PURE: parsing, and an allocator that hands out a
// free port per concurrent run and takes it back once that run's Service is deleted.
import { UsageError } from "../util/errors.js";

/** The NodePorts kind-config.yaml maps to 127.0.0.1 (one per concurrent scenario). Keep the two in step. */
export const KIND_NODE_PORTS: readonly number[] = Array.from({ length: 8 }, (_, i) => 30080 + i);

/** The most ports one range may hold (and so the most scenarios at once). */
export const MAX_NODE_PORTS = 64;

/** "30080-30087" / "30080" for a list of ports; "30080, 30082" for a list that is not a range. */
export function formatPorts(ports: readonly number[]): string {
  if (ports.length === 0) return "none";
  const sorted = [...ports].sort((a, b) => a - b);
  const first = sorted[0] as number;
  const last = sorted.at(-1) as number;
  if (sorted.length === 1) return String(first);
  if (last - first === sorted.length - 1) return `${first}-${last}`;
  return sorted.join(", ");
}

/**
 * "30080-30087" or "30080" → the ports, in order. Throws a UsageError naming the flag for anything
 * else: not a number, reversed, outside 1–65535, more than MAX_NODE_PORTS.
 */
export function parseNodePortRange(text: string, flag = "--node-ports"): number[] {
  const m = /^\s*(\d{1,5})\s*(?:-\s*(\d{1,5})\s*)?$/.exec(text);
  if (!m?.[1]) throw new UsageError(`${flag}: expected a port or a range like 30080-30087, got "${text}"`);
  const first = Number(m[1]);
  const last = m[2] !== undefined ? Number(m[2]) : first;
  for (const p of [first, last]) {
    if (p < 1 || p > 65535) throw new UsageError(`${flag}: ${p} is not a port (1-65535)`);
  }
  if (last < first) throw new UsageError(`${flag}: ${text.trim()} is reversed (write ${last}-${first})`);
  const count = last - first + 1;
  if (count > MAX_NODE_PORTS) {
    throw new UsageError(`${flag}: ${count} ports; at most ${MAX_NODE_PORTS} (one per concurrent scenario)`);
  }
  return Array.from({ length: count }, (_, i) => first + i);
}

/**
 * Hands out one free port per run and takes it back after that run's Service is deleted. The port free
 * the longest goes first: a run following another one on the same cluster gets a port whose old rules
 * (kube-proxy, conntrack) have had the most time to go. A port whose Service could not be deleted is
 * never handed out again (`retire`).
 */
export class NodePortPool {
  /** Free ports, the one free the longest first. */
  private readonly free: number[];
  private readonly held = new Map<string, number>();
  private readonly retired = new Set<number>();

  constructor(readonly ports: readonly number[]) {
    if (ports.length === 0) throw new Error("a NodePort pool needs at least one port");
    this.free = [...new Set(ports)];
  }

  get size(): number {
    return this.free.length + this.held.size;
  }

  /** The port held by this owner (a run id), if any. */
  portOf(owner: string): number | undefined {
    return this.held.get(owner);
  }

  /** A free port for this owner (the same one when it already holds one); undefined when none is free. */
  acquire(owner: string): number | undefined {
    const mine = this.held.get(owner);
    if (mine !== undefined) return mine;
    const port = this.free.shift();
    if (port === undefined) return undefined;
    this.held.set(owner, port);
    return port;
  }

  /** Gives the owner's port back (after its Service is gone). Safe to call twice. */
  release(owner: string): number | undefined {
    const port = this.held.get(owner);
    if (port === undefined) return undefined;
    this.held.delete(owner);
    if (!this.retired.has(port)) this.free.push(port);
    return port;
  }

  /** The owner's port stays claimed by something this pool cannot remove: never handed out again. */
  retire(owner: string): number | undefined {
    const port = this.held.get(owner);
    if (port === undefined) return undefined;
    this.held.delete(owner);
    this.retired.add(port);
    return port;
  }

  /** Why acquire() found nothing, in words. */
  exhausted(): string {
    const busy = [...this.held.entries()].map(([owner, port]) => `${port} (run ${owner})`);
    return (
      `no free NodePort: all ${this.ports.length} (${formatPorts(this.ports)}) are in use` +
      (busy.length > 0 ? ` by ${busy.join(", ")}` : "") +
      (this.retired.size > 0
        ? `; ${formatPorts([...this.retired])} still claimed by a Service that could not be deleted`
        : "") +
      ": run fewer scenarios at once (--parallel)"
    );
  }
}
