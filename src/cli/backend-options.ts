// The cluster-backend flags shared by `run`, `check` and `bench prestop`, and their mapping to
// createBackend's options: one place, so the three commands cannot drift apart.
import type { Command } from "commander";
import type { BackendOptions } from "../backends/index.js";
import { parseNodePortRange } from "../k8s/node-ports.js";

export function addClusterOptions(command: Command): Command {
  return command
    .option("--cluster <name>", "kind: cluster name", "graceful-e2e")
    .option("--keep-cluster", "kind: keep a cluster this run created")
    .option("--context <name>", "existing: kubeconfig context")
    .option("--registry <registry>", "existing: registry to push images to")
    .option(
      "--address <host:port>",
      "existing: NodePort/LoadBalancer address reachable from here (omit: load from a Job in the cluster)",
    )
    .option("--allow-mutations", "existing: confirm that pods may be created and deleted in that cluster")
    .option(
      "--node-ports <range>",
      "existing: NodePorts the runs' Services may claim, one per scenario at once, e.g. 30080-30087 (default 30080); " +
        "with --address, each run's load goes to <address host>:<its NodePort>",
    );
}

export function backendOptionsFrom(opts: Record<string, unknown>, log: (line: string) => void): BackendOptions {
  return {
    endpointPropagationMs: opts.propagationMs as number | undefined,
    clusterName: opts.cluster as string | undefined,
    keepCluster: Boolean(opts.keepCluster),
    context: opts.context as string | undefined,
    registry: opts.registry as string | undefined,
    allowMutations: Boolean(opts.allowMutations),
    address: opts.address as string | undefined,
    ...(opts.nodePorts !== undefined ? { nodePorts: parseNodePortRange(String(opts.nodePorts)) } : {}),
    log,
  };
}
