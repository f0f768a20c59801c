// What `run` will do, decided from its options before anything loads or starts: the backend, the
// repeats, how many runs at once, the time limits' scale, and which scenarios. Pure, cheap to import.
import { availableParallelism } from "node:os";
import { DEFAULT_NODE_PORT } from "../k8s/manifests.js";
import { formatPorts, KIND_NODE_PORTS, parseNodePortRange } from "../k8s/node-ports.js";
import type { BackendName } from "../model/backend.js";
import { BACKEND_NAMES } from "../model/backend.js";
import type { LoadedScenario } from "../scenario/load.js";
import { UsageError } from "../util/errors.js";

/**
 * Runs at once by default. Local runs are timing measurements, and every run's load generator,
 * Service proxy and clocks share this one Node process and the machine's cores: one run per 4
 * cores, at least 1 (so 1 on 2 cores). kind and existing: 1 — runs at once share the cluster's CPU
 * (kubelet, kube-proxy, the apps) and this machine's, which stretches what they measure; up to one
 * per NodePort on request (--parallel).
 */
export function defaultParallelism(backend: string, cores = availableParallelism()): number {
  return backend === "local" ? Math.max(1, Math.floor(cores / 4)) : 1;
}

export interface RunPlan {
  backend: BackendName;
  repeat: number;
  parallel: number;
  timeoutScale: number;
  servicePort?: number;
}

/** Checks the run options against each other (commander checked each one); throws UsageError. Pure. */
export function runPlan(opts: Record<string, unknown>, cores = availableParallelism()): RunPlan {
  const backend = String(opts.backend ?? "local");
  if (!(BACKEND_NAMES as readonly string[]).includes(backend))
    throw new UsageError(`--backend: unknown backend "${backend}" (expected one of ${BACKEND_NAMES.join(", ")})`);
  const servicePort = opts.servicePort as number | undefined;
  const explicit = opts.parallel as number | undefined;
  if (opts.nodePorts !== undefined && backend !== "existing") {
    throw new UsageError(
      `--node-ports is for the existing backend; ${
        backend === "kind"
          ? `kind uses the NodePorts kind-config.yaml publishes (${formatPorts(KIND_NODE_PORTS)})`
          : "the local backend's Service is a port on 127.0.0.1 (--service-port)"
      }`,
    );
  }
  const nodePorts =
    backend === "kind"
      ? [...KIND_NODE_PORTS]
      : backend === "existing"
        ? opts.nodePorts !== undefined
          ? parseNodePortRange(String(opts.nodePorts))
          : [DEFAULT_NODE_PORT]
        : undefined;
  if (servicePort !== undefined && nodePorts) {
    throw new UsageError(
      `--service-port is for the local backend; the ${backend} backend's Service listens on a NodePort (${formatPorts(nodePorts)})`,
    );
  }
  // One NodePort per run at once (a NodePort is cluster-wide).
  if (nodePorts && explicit !== undefined && explicit > nodePorts.length) {
    throw new UsageError(
      backend === "kind"
        ? `--parallel ${explicit}: the kind backend runs at most ${nodePorts.length} scenarios at once (one NodePort ` +
            `each: ${formatPorts(nodePorts)}, as kind-config.yaml publishes them)`
        : `--parallel ${explicit}: the existing backend runs one scenario per NodePort and has ${nodePorts.length} ` +
            `(${formatPorts(nodePorts)}): give one per scenario with --node-ports, e.g. --node-ports ` +
            `${nodePorts[0]}-${(nodePorts[0] as number) + explicit - 1}`,
    );
  }
  if (servicePort !== undefined && explicit !== undefined && explicit > 1) {
    throw new UsageError(
      `--parallel ${explicit} with --service-port ${servicePort}: runs at the same time cannot share one Service ` +
        "port; drop one of the two",
    );
  }
  return {
    backend: backend as BackendName,
    repeat: (opts.repeat as number | undefined) ?? 1,
    parallel: servicePort !== undefined ? 1 : (explicit ?? defaultParallelism(backend, cores)),
    timeoutScale: (opts.timeoutScale as number | undefined) ?? 1,
    ...(servicePort !== undefined ? { servicePort } : {}),
  };
}

export function selectScenarios(all: LoadedScenario[], filter?: string, tags?: string[]): LoadedScenario[] {
  let re: RegExp | undefined;
  try {
    re = filter ? new RegExp(filter) : undefined;
  } catch (err) {
    throw new UsageError(`--filter: not a valid regular expression: ${(err as Error).message}`);
  }
  return all.filter(
    (l) =>
      (!re || re.test(l.scenario.name)) &&
      (!tags || tags.length === 0 || tags.some((t) => l.scenario.tags.includes(t))),
  );
}
