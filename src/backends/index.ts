// Backend factory: the CLI and the test suites pick a backend by name.
import { UsageError } from "../util/errors.js";
import type { Backend, BackendName } from "./backend.js";
import { LocalBackend } from "./local/backend.js";

export const BACKEND_NAMES: readonly BackendName[] = ["local", "kind", "existing"];

export interface BackendOptions {
  endpointPropagationMs?: number;
  /** kind: cluster name; keep the cluster after the run. */
  clusterName?: string;
  keepCluster?: boolean;
  /** existing: kubeconfig context, registry, confirmation, load address. */
  context?: string;
  registry?: string;
  allowMutations?: boolean;
  address?: string;
}

export async function createBackend(name: string, options: BackendOptions = {}): Promise<Backend> {
  switch (name) {
    case "local":
      return new LocalBackend({ endpointPropagationMs: options.endpointPropagationMs });
    default:
      throw new UsageError(`--backend: unknown backend "${name}" (expected one of ${BACKEND_NAMES.join(", ")})`);
  }
}
