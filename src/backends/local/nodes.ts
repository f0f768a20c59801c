// The local runtime's simulated nodes: every replica carries a node name (local.nodes of them), a node
// can be cordoned (no new pod lands on it) and uncordoned, and a new pod goes where the scheduler would
// roughly put it. The approximation, for every placement: the schedulable node with the fewest of the
// workload's pods, ties to the first by name. That is exactly what `spread` (topologySpreadConstraints on
// the hostname, maxSkew 1) and preferred hostname `anti-affinity` ask for on an empty cluster; for `any`
// it is what the default scheduler does there too (its system-default spreading, maxSkew 3 on the
// hostname, and LeastAllocated scoring both favour the emptiest node) — on a busy real cluster `any` may
// stack pods, which a local run cannot show. Nothing here starts containers: pure bookkeeping.
import type { Placement, Scenario } from "../../scenario/schema.js";

/** The name of simulated node `index` (0-based). */
export const localNodeName = (index: number): string => `local-node-${index + 1}`;

/** Where placement sends a new pod: the schedulable node with the fewest pods (ties: first by name). Pure. */
export function chooseNode(
  _placement: Placement,
  nodes: readonly string[],
  podsPerNode: ReadonlyMap<string, number>,
  cordoned: ReadonlySet<string>,
): string | undefined {
  let best: string | undefined;
  for (const node of nodes) {
    if (cordoned.has(node)) continue;
    if (best === undefined || (podsPerNode.get(node) ?? 0) < (podsPerNode.get(best) ?? 0)) best = node;
  }
  return best;
}

/** A scenario's placement once the default is applied (spread for drain and evict, any otherwise). */
export function placementOf(scenario: Pick<Scenario, "placement" | "disruption">): Placement {
  const a = scenario.disruption.action;
  return scenario.placement ?? (a === "drain" || a === "evict" ? "spread" : "any");
}

/**
 * What the local backend cannot run, in words naming the field, or undefined. Checked before anything
 * starts (the CLI, and deploy again): a drain needs a node to move the pods to.
 */
export function localScenarioProblem(scenario: Pick<Scenario, "disruption" | "local">): string | undefined {
  const d = scenario.disruption;
  if (d.action !== "drain") return undefined;
  const n = scenario.local.nodes;
  if (n < 2) {
    return `local.nodes: a drain needs at least 2 nodes (the drained node's pods must go somewhere), got ${n}`;
  }
  const names = Array.from({ length: n }, (_, i) => localNodeName(i));
  if (d.node !== undefined && !names.includes(d.node)) {
    return `disruption.node: "${d.node}" is not a local node; with local.nodes ${n} they are ${names.join(", ")}`;
  }
  return undefined;
}

/** A node cordoned during the run, and when it was made schedulable again. */
export interface CordonRecord {
  node: string;
  cordonedAt: number;
  uncordonedAt?: number;
}

export class LocalNodes {
  readonly names: string[];
  private readonly cordoned = new Map<string, CordonRecord>();
  /** Each pod's node, from its placement until it is gone. */
  private readonly placed = new Map<string, string>();

  constructor(
    count: number,
    private readonly placement: Placement,
  ) {
    this.names = Array.from({ length: count }, (_, i) => localNodeName(i));
  }

  /** Places a new pod; throws the scheduler's words when every node is cordoned. */
  place(pod: string): string {
    const counts = new Map<string, number>();
    for (const node of this.placed.values()) counts.set(node, (counts.get(node) ?? 0) + 1);
    const node = chooseNode(this.placement, this.names, counts, new Set(this.cordoned.keys()));
    if (node === undefined) {
      const n = this.names.length;
      throw new Error(`0/${n} nodes are available: ${n} node(s) were unschedulable (pod ${pod} stays Pending)`);
    }
    this.placed.set(pod, node);
    return node;
  }

  nodeOf(pod: string): string | undefined {
    return this.placed.get(pod);
  }

  /** The pod is gone: its node no longer counts it. */
  release(pod: string): void {
    this.placed.delete(pod);
  }

  podsOn(node: string): string[] {
    return [...this.placed].filter(([, n]) => n === node).map(([p]) => p);
  }

  /** Marks the node unschedulable; returns its record (the same one uncordonAll completes). */
  cordon(node: string, at = Date.now()): CordonRecord {
    const record = { node, cordonedAt: at };
    this.cordoned.set(node, record);
    return record;
  }

  /** Every cordoned node made schedulable again (teardown, also after Ctrl-C); returns them. */
  uncordonAll(at = Date.now()): CordonRecord[] {
    const done = [...this.cordoned.values()];
    for (const r of done) r.uncordonedAt = at;
    this.cordoned.clear();
    return done;
  }
}
