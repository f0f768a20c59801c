// Pure functions: Scenario + image ref + runId (+ what the server supports) → the Kubernetes objects
// one run creates. Shared by the kind and existing-cluster backends. No I/O here.
import type { V1Deployment, V1LifecycleHandler, V1Namespace, V1PodSpec, V1Service } from "@kubernetes/client-node";
import {
  IMAGE_ROLLING_UPDATE,
  type Placement,
  type PreStop,
  type RolloutStrategy,
  type Scenario,
} from "../scenario/schema.js";
import { LABEL_ROOT, LABEL_RUN, runLabels } from "../util/labels.js";
import { rolloutStrategy } from "../workload/rollout-strategy.js";

/** The NodePort kind-config.yaml maps to 127.0.0.1:30080. */
export const DEFAULT_NODE_PORT = 30080;
export const CONTAINER_NAME = "app";
export const DEPLOYMENT_NAME = "app";
export const SERVICE_NAME = "app";

/** Labels every object carries (the run label's value is the run id). */
export const OWNER_LABEL = LABEL_ROOT;
export const RUN_LABEL = LABEL_RUN;
export const SCENARIO_LABEL = `${LABEL_ROOT}.scenario`;
/** The annotation `kubectl rollout restart` sets; patching it restarts the rollout the same way. */
export const RESTARTED_AT_ANNOTATION = "kubectl.kubernetes.io/restartedAt";

export interface ManifestInput {
  scenario: Scenario;
  /** Image reference as the cluster will pull it (fixed tag). */
  image: string;
  runId: string;
  /** From version.ts: whether the built-in preStop sleep action can be used. */
  preStopSleep: boolean;
  /** From version.ts: whether `sleep: {seconds: 0}` is accepted. */
  preStopSleepZero?: boolean;
  nodePort?: number;
  serviceType?: "NodePort" | "LoadBalancer";
}

export interface Manifests {
  namespace: V1Namespace;
  deployment: V1Deployment;
  service: V1Service;
  /** In creation order. */
  objects: Array<V1Namespace | V1Deployment | V1Service>;
  names: { namespace: string; deployment: string; service: string; container: string };
  labels: Record<string, string>;
  /** Pod template labels the Deployment selects on. */
  selector: Record<string, string>;
  /** Decisions the report should mention (fallbacks, roundings). */
  notes: string[];
}

/** A label value: at most 63 characters of [A-Za-z0-9._-], starting and ending alphanumeric. */
export function labelValue(raw: string): string {
  const cleaned = raw
    .replace(/[^A-Za-z0-9._-]/g, "-")
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, "");
  return cleaned === "" ? "x" : cleaned;
}

/** The short run id used in names: lower-case alphanumerics, the last 8 (the part that varies most). */
export function shortRunId(runId: string): string {
  const alnum = runId.toLowerCase().replace(/[^a-z0-9]/g, "");
  if (alnum === "") throw new Error(`run id "${runId}" has no letters or digits`);
  return alnum.slice(-8);
}

/** ge-<scenario>-<runId-short>, cut to the 63 characters a namespace name allows. */
export function namespaceName(scenarioName: string, runId: string): string {
  const short = shortRunId(runId);
  const room = 63 - "ge-".length - 1 - short.length;
  const scenarioPart = scenarioName.slice(0, room).replace(/-+$/, "");
  return `ge-${scenarioPart}-${short}`;
}

/** The labels of every Kubernetes object a run creates: the run's own (util/labels.ts), its scenario, the manager. */
export function objectLabels(scenario: Scenario, runId: string): Record<string, string> {
  return {
    ...runLabels(labelValue(runId)),
    [SCENARIO_LABEL]: labelValue(scenario.name),
    "app.kubernetes.io/managed-by": "graceful-e2e",
  };
}

export interface PreStopChoice {
  handler?: V1LifecycleHandler;
  notes: string[];
}

/**
 * The preStop hook for a scenario. `sleep` uses the kubelet's built-in action where the server
 * supports it (KEP-3960: beta, on by default since 1.30); elsewhere exec ["sleep", "N"], which needs
 * a `sleep` binary in the image and says so in a note.
 */
export function preStopHandler(
  preStop: PreStop,
  port: number,
  support: { preStopSleep: boolean; preStopSleepZero?: boolean },
): PreStopChoice {
  switch (preStop.type) {
    case "none":
      return { notes: [] };
    case "exec":
      return { handler: { exec: { command: [...preStop.command] } }, notes: [] };
    case "httpGet":
      return { handler: { httpGet: { path: preStop.path, port: preStop.port ?? port, scheme: "HTTP" } }, notes: [] };
    case "sleep": {
      const s = preStop.seconds;
      if (s === 0 && !support.preStopSleepZero) {
        return { notes: ["preStop sleep of 0 s: no hook created (the same as none; sleep 0 needs Kubernetes 1.33)"] };
      }
      if (support.preStopSleep && Number.isInteger(s)) {
        return { handler: { sleep: { seconds: s } }, notes: [] };
      }
      const why = support.preStopSleep
        ? `the sleep action takes whole seconds and ${s} is not one`
        : "the server has no preStop sleep action (it needs Kubernetes 1.30, or 1.29 with the PodLifecycleSleepAction gate)";
      return {
        handler: { exec: { command: ["sleep", String(s)] } },
        notes: [`preStop sleep ${s}s runs as exec ["sleep", "${s}"] because ${why}; the image must contain \`sleep\``],
      };
    }
  }
}

/** The grace period the API takes (whole seconds, rounded up; the rounding noted). */
export function graceSeconds(seconds: number, notes: string[]): number {
  const grace = Math.ceil(seconds);
  if (grace !== seconds) notes.push(`terminationGracePeriodSeconds ${seconds} rounded up to ${grace}`);
  return grace;
}

/** What a lifecycle.stopSignal needs from the server (the pod must also name its OS: spec.os.name). */
export function stopSignalNote(stopSignal: string): string {
  return (
    `lifecycle.stopSignal ${stopSignal} needs Kubernetes 1.33+ with the ContainerStopSignals feature gate (alpha, ` +
    "KEP-4960) and spec.os.name (set to linux); a server without it does not apply the field, and the " +
    "runtime then sends the image's STOPSIGNAL (SIGTERM when it has none)"
  );
}

/** The node label a spread or anti-affinity is over: one node, one domain. */
export const HOSTNAME_TOPOLOGY_KEY = "kubernetes.io/hostname";

/** The scenario's placement; default spread for drain and evict (a drain needs pods on two nodes), else any. */
export function placementOf(scenario: Scenario): Placement {
  if (scenario.placement) return scenario.placement;
  const action = scenario.disruption.action;
  return action === "drain" || action === "evict" ? "spread" : "any";
}

/**
 * The pod spec fields that place the replicas over the nodes: a soft spread (maxSkew 1, ScheduleAnyway:
 * a one-node cluster still runs them) or a preferred anti-affinity, both on the hostname.
 */
export function placementFields(
  placement: Placement,
  selector: Record<string, string>,
): Pick<V1PodSpec, "topologySpreadConstraints" | "affinity"> {
  const labelSelector = { matchLabels: { ...selector } };
  switch (placement) {
    case "any":
      return {};
    case "spread":
      return {
        topologySpreadConstraints: [
          { maxSkew: 1, topologyKey: HOSTNAME_TOPOLOGY_KEY, whenUnsatisfiable: "ScheduleAnyway", labelSelector },
        ],
      };
    case "anti-affinity":
      return {
        affinity: {
          podAntiAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [
              { weight: 100, podAffinityTerm: { topologyKey: HOSTNAME_TOPOLOGY_KEY, labelSelector } },
            ],
          },
        },
      };
  }
}

/**
 * JSON-patch ops that set a rollout's strategy on the Deployment: only the fields the scenario gives
 * change. The rolling update goes as a whole (a rollingUpdate with one field would take the API's 25 %
 * for the other), so the field the scenario leaves out keeps the Deployment's own value (`own`: its
 * object as deployed, workload/rollout-strategy.ts), or the API's default where the object says nothing.
 */
export function strategyPatch(
  scenario: RolloutStrategy,
  own: RolloutStrategy,
): Array<{ op: "add"; path: string; value: unknown }> {
  const ops: Array<{ op: "add"; path: string; value: unknown }> = [];
  const s = rolloutStrategy(scenario, own);
  if (scenario.maxSurge !== undefined || scenario.maxUnavailable !== undefined) {
    const rollingUpdate = {
      ...(s.maxSurge !== undefined ? { maxSurge: s.maxSurge } : {}),
      ...(s.maxUnavailable !== undefined ? { maxUnavailable: s.maxUnavailable } : {}),
    };
    ops.push({ op: "add", path: "/spec/strategy", value: { type: "RollingUpdate", rollingUpdate } });
  }
  if (scenario.minReadySeconds !== undefined) {
    ops.push({ op: "add", path: "/spec/minReadySeconds", value: scenario.minReadySeconds });
  }
  if (scenario.progressDeadlineSeconds !== undefined) {
    ops.push({ op: "add", path: "/spec/progressDeadlineSeconds", value: scenario.progressDeadlineSeconds });
  }
  return ops;
}

export function buildManifests(input: ManifestInput): Manifests {
  const { scenario, image, runId } = input;
  const notes: string[] = [];
  const ns = namespaceName(scenario.name, runId);
  const labels = objectLabels(scenario, runId);
  const selector = { "app.kubernetes.io/name": "graceful-e2e-app", [RUN_LABEL]: labelValue(runId) };
  const podLabels = { ...labels, ...selector };

  const grace = graceSeconds(scenario.terminationGracePeriodSeconds, notes);
  const preStop = preStopHandler(scenario.preStop, scenario.port, input);
  notes.push(...preStop.notes);
  // Only when the scenario asks: without it the runtime sends the image's STOPSIGNAL (containerd and
  // CRI-O honour it on every version), and older clusters get exactly the manifest they always got.
  const stopSignal = scenario.stopSignal;
  if (stopSignal !== undefined) notes.push(stopSignalNote(stopSignal));
  const lifecycle = {
    ...(preStop.handler ? { preStop: preStop.handler } : {}),
    ...(stopSignal !== undefined ? { stopSignal } : {}),
  };

  const namespace: V1Namespace = { apiVersion: "v1", kind: "Namespace", metadata: { name: ns, labels } };

  const deployment: V1Deployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: DEPLOYMENT_NAME, namespace: ns, labels },
    spec: {
      replicas: scenario.replicas,
      revisionHistoryLimit: 1,
      selector: { matchLabels: selector },
      strategy: { type: "RollingUpdate", rollingUpdate: { ...IMAGE_ROLLING_UPDATE } },
      template: {
        metadata: { labels: podLabels, annotations: { "graceful-e2e/scenario": scenario.name } },
        spec: {
          terminationGracePeriodSeconds: grace,
          // The API accepts lifecycle.stopSignal only in a pod that names its OS.
          ...(stopSignal !== undefined ? { os: { name: "linux" } } : {}),
          // The app never talks to the API server.
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          ...placementFields(placementOf(scenario), selector),
          containers: [
            {
              name: CONTAINER_NAME,
              image,
              imagePullPolicy: "IfNotPresent",
              ports: [{ name: "http", containerPort: scenario.port, protocol: "TCP" }],
              env: Object.entries(scenario.env).map(([name, value]) => ({ name, value })),
              // Every second, out of rotation after one failure: the probe is not what we measure.
              readinessProbe: {
                httpGet: { path: scenario.readinessPath, port: scenario.port, scheme: "HTTP" },
                periodSeconds: 1,
                failureThreshold: 1,
                successThreshold: 1,
                timeoutSeconds: 1,
              },
              ...(Object.keys(lifecycle).length > 0 ? { lifecycle } : {}),
            },
          ],
        },
      },
    },
  };

  const serviceType = input.serviceType ?? "NodePort";
  const service: V1Service = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: SERVICE_NAME, namespace: ns, labels },
    spec: {
      type: serviceType,
      selector,
      // Cluster: the node that receives the NodePort traffic forwards to ready pods on any node,
      // as Service traffic does by default.
      externalTrafficPolicy: "Cluster",
      ports: [
        {
          name: "http",
          protocol: "TCP",
          port: 80,
          targetPort: scenario.port,
          nodePort: input.nodePort ?? DEFAULT_NODE_PORT,
        },
      ],
    },
  };

  return {
    namespace,
    deployment,
    service,
    objects: [namespace, service, deployment],
    names: { namespace: ns, deployment: DEPLOYMENT_NAME, service: SERVICE_NAME, container: CONTAINER_NAME },
    labels,
    selector,
    notes,
  };
}
