// Backend factory: the CLI and the test suites pick a backend by name. Each backend is imported only
// when chosen: kind and existing load @kubernetes/client-node (seconds of CPU), local does not.

import { BACKEND_NAMES } from "../model/backend.js";
import { UsageError } from "../util/errors.js";
import type { Backend } from "./backend.js";

function splitAddress(address: string): [string, number] {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(address);
  const port = Number(m?.[2]);
  if (!m?.[1] || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new UsageError(`--address: expected host:port, got "${address}"`);
  }
  return [m[1].replace(/^\[|\]$/g, ""), port];
}

export interface BackendOptions {
  /** local: fixed Service proxy port on 127.0.0.1. */
  servicePort?: number;
  log?: (line: string) => void;
  endpointPropagationMs?: number;
  /** kind: cluster name; keep the cluster after the run. */
  clusterName?: string;
  keepCluster?: boolean;
  /** existing: kubeconfig context, registry, confirmation, load address. */
  context?: string;
  registry?: string;
  allowMutations?: boolean;
  address?: string;
  /** existing: the NodePorts runs may claim, one per scenario at once (--node-ports; default [30080]). */
  nodePorts?: number[];
}

export async function createBackend(name: string, options: BackendOptions = {}): Promise<Backend> {
  switch (name) {
    case "local": {
      const { LocalBackend } = await import("./local/backend.js");
      return new LocalBackend({
        endpointPropagationMs: options.endpointPropagationMs,
        servicePort: options.servicePort,
      });
    }
    case "kind": {
      const { KindBackend } = await import("./kind/backend.js");
      return new KindBackend({ name: options.clusterName, keep: options.keepCluster, log: options.log });
    }
    case "existing": {
      if (!options.context) throw new UsageError("--backend existing needs --context <kubeconfig context>");
      if (!options.registry)
        throw new UsageError("--backend existing needs --registry <registry the cluster pulls from>");
      // No --address: the load comes from a Job inside the cluster.
      const target = options.address ? splitAddress(options.address) : undefined;
      const { ExistingClusterBackend } = await import("./existing/backend.js");
      try {
        return new ExistingClusterBackend({
          context: options.context,
          registry: options.registry,
          ...(target ? { target: { host: target[0], port: target[1] } } : {}),
          ...(options.nodePorts ? { nodePorts: options.nodePorts } : {}),
          allowMutations: options.allowMutations === true,
          log: options.log,
        });
      } catch (err) {
        throw new UsageError(err instanceof Error ? err.message : String(err));
      }
    }
    default:
      throw new UsageError(`--backend: unknown backend "${name}" (expected one of ${BACKEND_NAMES.join(", ")})`);
  }
}
