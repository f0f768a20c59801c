// What the local runtime keeps of "the cluster" beyond the containers: the simulated nodes, the pods
// being deleted, the Service's ready endpoints over the run, the budget and the drains — and the
// voluntary disruptions carried out on it (evict, drain, rollout), through the backend's EvictionTarget.
import type { DisruptionOutcome, DisruptionPlan } from "../../backends/backend.js";
import { markDrainInterrupted } from "../../k8s/drain-record.js";
import type { DrainRecord, ReadyEndpointsSample, VoluntaryDisruptionRecord } from "../../model/disruption.js";
import type { EventSink } from "../../model/events.js";
import { type Disruption, IMAGE_ROLLING_UPDATE, type RolloutStrategy, type Scenario } from "../../scenario/schema.js";
import { ownRolloutStrategy, rolloutStrategy } from "../../workload/rollout-strategy.js";
import type { Workload } from "../../workload/types.js";
import { LocalNodes, placementOf } from "./nodes.js";
import { type RolloutOps, rollingUpdate } from "./rollout.js";
import {
  type AppliedPdb,
  drainNode,
  type EvictionTarget,
  LocalEvictionApi,
  type LocalPod,
  ReadyEndpointsSeries,
} from "./voluntary.js";

type Voluntary = Extract<Disruption, { action: "evict" | "drain" | "rollout" }>;

export class LocalCluster {
  readonly nodes: LocalNodes;
  /** Pods whose deletion started (deletionTimestamp set), until they are gone. */
  readonly deleting = new Set<string>();
  private readonly series = new ReadyEndpointsSeries();
  private readonly drains: DrainRecord[] = [];
  /** The voluntary disruption's record from its start (live: what the teardown adds lands in it). */
  private current: VoluntaryDisruptionRecord | undefined;
  /** When each pod passed its readiness probe (the Deployment's availability counts from there). */
  private readonly ready = new Map<string, number>();
  pdb: AppliedPdb | undefined;
  /** The workload's desired replicas (the budget's scale, the rollout's): the manifests' for a workload scenario. */
  replicas: number;
  /**
   * The workload's own rolling update: graceful-e2e's Deployment's (as on kind), or the manifests' own
   * (useManifestWorkload); a rollout's strategy overrides only the fields the scenario sets.
   */
  private ownStrategy: RolloutStrategy;
  /** Aborted at teardown: a drain's retries and waits end there (Ctrl-C included). */
  private readonly stop = new AbortController();

  constructor(scenario: Scenario) {
    this.nodes = new LocalNodes(scenario.local.nodes, placementOf(scenario));
    this.pdb = scenario.pdb ? { name: `${scenario.name}-pdb`, spec: scenario.pdb } : undefined;
    this.replicas = scenario.replicas;
    this.ownStrategy = scenario.image !== undefined ? { ...IMAGE_ROLLING_UPDATE } : {};
  }

  /** The manifests' workload as applied: its own rolling update is the rollout's base. */
  useManifestWorkload(workload: Workload): void {
    this.ownStrategy = ownRolloutStrategy(workload);
  }

  /** The manifests' own budget, when the scenario gives none (as the API would enforce it on kind). */
  useManifestPdb(pdb: { name: string; minAvailable?: number | string; maxUnavailable?: number | string }): void {
    if (this.pdb) return;
    const { name, ...spec } = pdb;
    this.pdb = { name, spec };
  }

  /** A pod became ready, started deleting or went: one sample of the ready endpoints. */
  private sampleReady(): void {
    this.series.sample([...this.ready.keys()], this.deleting);
  }

  /**
   * The workload's pods (`names`: the replicas that exist) as the budget counts them: ready once the
   * readiness probe passed (the pod's Ready condition, which the disruption controller and the
   * EndpointSlice read; kube-proxy's rules follow after local.endpointAddDelayMs).
   */
  pods(names: readonly string[]): LocalPod[] {
    return names.map((name) => ({ name, ready: this.ready.has(name), deleting: this.deleting.has(name) }));
  }

  /** evict/drain/rollout: the record so far, once one started (a run ended mid-drain still reports it). */
  voluntaryRecord(): VoluntaryDisruptionRecord | undefined {
    return this.current;
  }

  readyEndpoints(): ReadyEndpointsSample[] {
    return this.series.samples();
  }

  markReady(pod: string, at = Date.now()): void {
    this.ready.set(pod, at);
    this.sampleReady();
  }

  readyAt(pod: string): number | undefined {
    return this.ready.get(pod);
  }

  markDeleting(pod: string): void {
    this.deleting.add(pod);
    this.sampleReady();
  }

  /** The pod is gone: off its node, out of the deleting set. */
  gone(pod: string): void {
    this.nodes.release(pod);
    this.deleting.delete(pod);
    this.ready.delete(pod);
    this.sampleReady();
  }

  /**
   * Teardown (also after Ctrl-C): the evictions stop retrying, every cordoned node is schedulable
   * again, on the drain's record and the timeline.
   */
  teardown(sink: EventSink): void {
    this.stop.abort();
    const evictions = this.current?.evictions ?? [];
    for (const d of this.drains) markDrainInterrupted(d, evictions, Date.now());
    for (const r of this.nodes.uncordonAll()) {
      for (const d of this.drains) if (d.node === r.node) d.uncordonedAt = r.uncordonedAt;
      sink.record({
        at: r.uncordonedAt ?? Date.now(),
        kind: "k8s-event",
        source: "harness",
        detail: { reason: "NodeSchedulable", message: `node ${r.node} uncordoned`, node: r.node },
      });
    }
  }

  /** evict, drain or rollout, carried out on `target`; `rollout` is the backend's part of a rollout. */
  async disrupt(
    d: Voluntary,
    target: EvictionTarget,
    rollout: Omit<RolloutOps, "oldPods">,
    plan: DisruptionPlan | undefined,
  ): Promise<DisruptionOutcome> {
    const signal = this.stop.signal;
    const api = new LocalEvictionApi(target, this.replicas, this.pdb, (p) => this.nodes.nodeOf(p));
    const pdb = this.pdb ? { pdb: { name: this.pdb.name, ...this.pdb.spec } } : {};
    const live = target
      .pods()
      .filter((p) => !p.deleting)
      .map((p) => p.name);
    const record: VoluntaryDisruptionRecord = { evictions: api.attempts, ...pdb };
    this.current = record;
    switch (d.action) {
      case "rollout": {
        const strategy = rolloutStrategy(d.strategy, this.ownStrategy);
        const pods = await rollingUpdate({ ...rollout, oldPods: live }, strategy, this.replicas, signal);
        return { pods, voluntary: record };
      }
      case "evict": {
        const planned = (plan?.victims ?? []).filter((v) => live.includes(v));
        const order = d.victims === "busiest" ? [...planned, ...live.filter((p) => !planned.includes(p))] : live;
        const deadline = Date.now() + d.timeoutSeconds * 1000;
        const calls = await Promise.all(
          order.slice(0, d.count).map((p) => api.evictUntil(p, d.retryIntervalSeconds * 1000, deadline, signal)),
        );
        const pods = await Promise.all(calls.flatMap((c) => (c.termination ? [c.termination] : [])));
        return { pods, voluntary: record };
      }
      case "drain": {
        const busiest = (plan?.victims ?? []).find((v) => live.includes(v)) ?? live[0];
        const node = d.node ?? (busiest ? this.nodes.nodeOf(busiest) : undefined) ?? this.nodes.names[0];
        const chosenBecause = d.node ? "scenario node" : `busiest pod ${busiest ?? "?"}`;
        const { drain, outcomes } = await drainNode(api, this.nodes, {
          node: node as string,
          chosenBecause,
          retryMs: d.retryIntervalSeconds * 1000,
          timeoutMs: d.timeoutSeconds * 1000,
          signal,
          onCordon: (started) => {
            this.drains.push(started);
            record.drain = started;
          },
        });
        record.drain = drain;
        return { pods: outcomes, voluntary: record };
      }
    }
  }
}
