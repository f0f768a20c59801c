// `graceful-e2e audit`: which running workloads will drop requests when they are stopped, and the fix
// for each — read-only unless asked. Options are checked first (UsageError → exit 2), then the
// target's prerequisites (Docker engine, kind cluster, kubeconfig context, API server →
// PrerequisiteError → exit 2), then collect (collect-local / collect-cluster) → rules → rank, and,
// with --verify, check runs on copies of the riskiest workloads.
import { type KubeConfig, VersionApi } from "@kubernetes/client-node";
import { close, preflight } from "../backends/capabilities.js";
import { assertDockerReachable } from "../backends/docker-check.js";
import { kubeConfigFor } from "../backends/existing/backend.js";
import { createBackend } from "../backends/index.js";
import { kindNodeExec } from "../backends/kind/backend.js";
import { KindCluster } from "../backends/kind/cluster.js";
import { type CommandRunner, execaRunner } from "../k8s/command.js";
import type { Pid1Request } from "../k8s/driver.js";
import { isBackendName } from "../model/backend.js";
import type { ProcessTreeInspection } from "../model/process-tree.js";
import type { ScenarioResult } from "../runner/run.js";
import { interruptedBy } from "../util/cleanup.js";
import { errorText, PrerequisiteError, UsageError } from "../util/errors.js";
import { collectCluster } from "./collect-cluster.js";
import {
  type Collected,
  collectLocal,
  type DockerReader,
  type ImageInspect,
  parseLocalFilters,
} from "./collect-local.js";
import { ASSUMED_PROPAGATION_MS, propagationFrom, propagationFromResults } from "./propagation.js";
import { rankWorkloads, summarize } from "./rank.js";
import { auditWorkload } from "./rules.js";
import {
  AUDIT_SCHEMA_VERSION,
  type AuditBackend,
  type AuditReport,
  type PropagationBasis,
  type Severity,
  type VerifyOutcome,
  type WorkloadFacts,
  type WorkloadReport,
} from "./types.js";
import { runVerify, verifyCandidates } from "./verify.js";

export interface AuditOptions {
  backend: AuditBackend;
  /** local: docker ps style filters (label=…, name=…). */
  filters?: string[];
  /** local: only this Compose project's containers. */
  composeProject?: string;
  /** kind: cluster name. */
  cluster?: string;
  /** existing: kubeconfig context. */
  context?: string;
  kubeconfigPath?: string;
  namespace?: string;
  allNamespaces?: boolean;
  /** Label selector (clusters: on workloads and bare pods; local: label terms). */
  selector?: string;
  /** Opt-in: exec into containers (docker exec / pods/exec) to read process trees. */
  exec?: boolean;
  /** Opt-in (kind): read process trees on the nodes (docker exec <node> crictl + /proc). */
  nodeAccess?: boolean;
  includeHarness?: boolean;
  /** graceful-e2e results directories to take the measured endpoint propagation from. */
  propagationFrom?: string[];
  /** The propagation assumed when nothing was measured (default 1000 ms). */
  assumedPropagationMs?: number;
  failOn: Severity;
  verify?: boolean;
  verifyMax?: number;
  /** Regular expression on workload ids: only these are verified. */
  verifyOnly?: string;
  verifyPath?: string;
  allowMutations?: boolean;
  registry?: string;
  address?: string;
  resultsDir: string;
  log?: (line: string) => void;
  /** Injectable for tests. */
  run?: CommandRunner;
  kc?: KubeConfig;
  docker?: DockerReader;
  readHost?: (id: string) => Promise<ProcessTreeInspection>;
  podExecInspect?: (req: Pid1Request, notes: string[]) => Promise<ProcessTreeInspection>;
  now?: () => number;
}

/** Checks the options against each other; throws UsageError saying what to change. Pure. */
export function validateAuditOptions(o: AuditOptions): void {
  const b = o.backend;
  if (!isBackendName(b)) {
    throw new UsageError(`--backend: unknown backend "${b}" (expected one of local, kind, existing)`);
  }
  if (b === "local") {
    if (o.namespace || o.allNamespaces)
      throw new UsageError(
        "--namespace/--all-namespaces are for --backend kind|existing; on local use --compose-project or --filter",
      );
    if (o.nodeAccess)
      throw new UsageError("--node-access is for --backend kind (the local backend reads the host's /proc)");
    if (o.context) throw new UsageError("--context is for --backend existing");
    parseLocalFilters(o.filters ?? [], o.composeProject, o.selector);
  } else {
    if ((o.filters ?? []).length > 0 || o.composeProject) {
      throw new UsageError(
        `--filter/--compose-project are for --backend local; on ${b} use --namespace and --selector`,
      );
    }
    if (o.namespace && o.allNamespaces) throw new UsageError("--namespace and --all-namespaces: give one of the two");
    if (o.namespace !== undefined && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(o.namespace)) {
      throw new UsageError(`--namespace ${o.namespace}: not a namespace name (RFC 1123 label)`);
    }
    if (
      o.selector !== undefined &&
      /[\s;'"`$\\]/.test(o.selector.replace(/\s*,\s*/g, ",").replace(/\s+(in|notin)\s+/g, "_"))
    ) {
      throw new UsageError(`--selector ${o.selector}: not a label selector (e.g. app=web,tier!=batch)`);
    }
    if (b === "existing" && !o.context)
      throw new UsageError(
        "--backend existing needs --context <kubeconfig context> (the current context is never used by default)",
      );
    if (b === "kind" && o.context)
      throw new UsageError(
        "--context is for --backend existing; kind's kubeconfig comes from `kind get kubeconfig --name <cluster>`",
      );
    if (b === "existing" && o.nodeAccess)
      throw new UsageError(
        "--node-access is for --backend kind (an existing cluster's nodes are not reachable from here); use --exec",
      );
    if (o.verify && !o.allowMutations) {
      throw new UsageError(
        `--verify on ${b} deploys a copy of each verified image into the harness's own namespace and deletes a pod of it: confirm with --allow-mutations (the audited workloads are never touched)`,
      );
    }
    if (o.verify && b === "existing" && !o.registry)
      throw new UsageError("--verify on --backend existing needs --registry (check pushes the image there)");
  }
  if (o.verifyMax !== undefined && (!Number.isInteger(o.verifyMax) || o.verifyMax < 1))
    throw new UsageError("--verify-max must be a whole number ≥ 1");
  if (o.verifyOnly !== undefined) {
    try {
      new RegExp(o.verifyOnly);
    } catch (err) {
      throw new UsageError(`--verify-only: not a regular expression: ${(err as Error).message}`);
    }
  }
  if (o.verifyPath !== undefined && !o.verifyPath.startsWith("/"))
    throw new UsageError("--verify-path must start with /");
}

/** `docker image inspect` through argv (read-only); undefined when Docker or the image is not there. */
export function localImageConfig(run: CommandRunner): (ref: string) => Promise<ImageInspect | undefined> {
  return async (ref) => {
    if (!/^[\w][\w.:/@+-]*$/.test(ref)) return undefined;
    try {
      const { stdout } = await run("docker", ["image", "inspect", "--format", "{{json .}}", ref]);
      return JSON.parse(stdout) as ImageInspect;
    } catch {
      return undefined;
    }
  };
}

interface Target {
  description: string;
  kc?: KubeConfig;
  namespaces?: string[] | "all";
}

async function resolveTarget(o: AuditOptions, run: CommandRunner): Promise<Target> {
  if (o.backend === "local") {
    if (!o.docker) await assertDockerReachable();
    return {
      description: o.composeProject
        ? `Compose project ${o.composeProject} on the local Docker engine`
        : `running containers on the local Docker engine${(o.filters ?? []).length > 0 ? ` matching ${(o.filters ?? []).join(", ")}` : ""}`,
    };
  }
  let kc = o.kc;
  let description: string;
  if (o.backend === "kind") {
    const name = o.cluster ?? "graceful-e2e";
    if (!kc) {
      const cluster = new KindCluster({ name, run });
      await cluster.preflight();
      const clusters = await cluster.clusters();
      if (!clusters.includes(name)) {
        throw new PrerequisiteError(
          `no kind cluster named "${name}" (kind get clusters: ${clusters.join(", ") || "none"}): audit reads a running cluster and never creates one; pass --cluster <name>`,
        );
      }
      kc = await cluster.kubeconfig();
    }
    description = `kind cluster ${name}`;
  } else {
    const context = o.context ?? "";
    if (!kc) {
      try {
        kc = kubeConfigFor(context, o.kubeconfigPath);
      } catch (err) {
        if (err instanceof UsageError) throw err;
        throw new PrerequisiteError(`kubeconfig: ${errorText(err)}`);
      }
    }
    description = `context ${context}`;
  }
  try {
    await kc.makeApiClient(VersionApi).getCode();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code !== "number") {
      throw new PrerequisiteError(
        `the API server of ${description} is not reachable (${errorText(err).split("\n")[0]})`,
      );
    }
  }
  const contextNamespace = kc.getContextObject(kc.getCurrentContext())?.namespace;
  const namespaces: string[] | "all" = o.allNamespaces ? "all" : [o.namespace ?? contextNamespace ?? "default"];
  return {
    description: `${description}, ${namespaces === "all" ? "all namespaces" : `namespace ${namespaces.join(", ")}`}`,
    kc,
    namespaces,
  };
}

export interface AuditRun {
  report: AuditReport;
  /** The check runs' results (--verify), for the HTML report. */
  verifyResults: ScenarioResult[];
  facts: WorkloadFacts[];
}

function buildReports(
  facts: WorkloadFacts[],
  propagation: PropagationBasis,
  failOn: Severity,
  verify: Map<string, VerifyOutcome>,
): WorkloadReport[] {
  return rankWorkloads(
    facts.map((f) => {
      const v = verify.get(f.id);
      const a = auditWorkload(f, { propagation }, v);
      return {
        id: f.id,
        kind: f.kind,
        ...(f.namespace ? { namespace: f.namespace } : {}),
        name: f.name,
        ...(f.replicas !== undefined ? { replicas: f.replicas } : {}),
        instances: f.instances,
        ...(f.inspected ? { inspected: f.inspected } : {}),
        grace: f.grace,
        ...(f.exposedBy ? { exposedBy: f.exposedBy } : {}),
        prediction: a.prediction,
        findings: a.findings,
        containers: a.containers,
        ...(v ? { verify: v } : {}),
        notes: f.notes,
      };
    }),
    failOn,
  );
}

/** The workloads' facts: from Docker (local) or the cluster's API (kind, existing). */
async function collectWorkloads(
  o: AuditOptions,
  target: Target,
  run: CommandRunner,
  log: (line: string) => void,
): Promise<Collected> {
  if (o.backend === "local") {
    return collectLocal({
      filters: parseLocalFilters(o.filters ?? [], o.composeProject, o.selector),
      exec: Boolean(o.exec),
      includeHarness: Boolean(o.includeHarness),
      ...(o.docker ? { docker: o.docker } : {}),
      ...(o.readHost ? { readHost: o.readHost } : {}),
    });
  }
  return collectCluster({
    backend: o.backend,
    kc: target.kc as KubeConfig,
    namespaces: target.namespaces ?? ["default"],
    ...(o.selector ? { selector: o.selector } : {}),
    exec: Boolean(o.exec),
    ...(o.nodeAccess ? { nodeExec: (node: string) => kindNodeExec(run, node) } : {}),
    imageConfig: localImageConfig(run),
    ...(o.podExecInspect ? { podExecInspect: o.podExecInspect } : {}),
    includeHarness: Boolean(o.includeHarness),
    log,
  });
}

/** The endpoint propagation the rules assume: measured in earlier results when given, else the default. */
async function propagationBasis(o: AuditOptions): Promise<PropagationBasis> {
  const propTarget = {
    backend: o.backend,
    ...(o.backend === "kind" ? { cluster: o.cluster ?? "graceful-e2e" } : {}),
    ...(o.context ? { context: o.context } : {}),
  };
  const assumed = o.assumedPropagationMs ?? ASSUMED_PROPAGATION_MS;
  return (o.propagationFrom ?? []).length > 0
    ? await propagationFrom(o.propagationFrom ?? [], propTarget, assumed)
    : propagationFromResults([], propTarget, assumed);
}

/**
 * --verify: a check run on a copy of each workload at risk (at most verifyMax), with the backend made
 * for it; its outcomes go into `outcomes`, what it used into `used`. Undefined when none needed one.
 */
async function verifyAtRisk(
  o: AuditOptions,
  collected: Collected,
  workloads: WorkloadReport[],
  propagation: PropagationBasis,
  outcomes: Map<string, VerifyOutcome>,
  log: (line: string) => void,
): Promise<{ results: ScenarioResult[]; used: string } | undefined> {
  const only = o.verifyOnly ? new RegExp(o.verifyOnly) : undefined;
  const candidates = verifyCandidates(workloads, o.verifyMax ?? 3, only).map((report) => ({
    report,
    facts: collected.workloads.find((f) => f.id === report.id) as WorkloadFacts,
  }));
  if (candidates.length === 0) return undefined;
  const backend = await createBackend(o.backend, {
    endpointPropagationMs: propagation.ms,
    ...(o.cluster ? { clusterName: o.cluster } : {}),
    keepCluster: true,
    ...(o.context ? { context: o.context } : {}),
    ...(o.registry ? { registry: o.registry } : {}),
    allowMutations: Boolean(o.allowMutations),
    ...(o.address ? { address: o.address } : {}),
    log,
  });
  await preflight(backend);
  let results: ScenarioResult[];
  try {
    const v = await runVerify(backend, candidates, {
      propagation,
      path: o.verifyPath ?? "/",
      resultsDir: `${o.resultsDir}/verify`,
      log,
      stop: () => interruptedBy() !== undefined,
    });
    results = v.results;
    for (const [id, out] of v.outcomes) outcomes.set(id, out);
  } finally {
    await close(backend);
  }
  return {
    results,
    used:
      o.backend === "local"
        ? `--verify: ${candidates.length} check run(s) on copies started by the local backend from the images (labelled graceful-e2e.run, removed after)`
        : `--verify (--allow-mutations): ${candidates.length} check run(s) in the harness's own labelled namespaces (create namespace, Deployment, Service; delete a pod of the copy; delete the namespace)`,
  };
}

export async function runAudit(o: AuditOptions): Promise<AuditRun> {
  validateAuditOptions(o);
  const now = o.now ?? Date.now;
  const started = now();
  const log = o.log ?? (() => {});
  const run = o.run ?? execaRunner;
  const target = await resolveTarget(o, run);
  const propagation = await propagationBasis(o);
  const collected = await collectWorkloads(o, target, run, log);
  const verifyOutcomes = new Map<string, VerifyOutcome>();
  let workloads = buildReports(collected.workloads, propagation, o.failOn, verifyOutcomes);
  const readMs = now() - started;
  log(`audit: ${workloads.length} workload(s) read in ${(readMs / 1000).toFixed(1)} s`);

  let verifyResults: ScenarioResult[] = [];
  const used = [...collected.used];
  if (o.verify) {
    const verified = await verifyAtRisk(o, collected, workloads, propagation, verifyOutcomes, log);
    if (verified) {
      verifyResults = verified.results;
      used.push(verified.used);
      workloads = buildReports(collected.workloads, propagation, o.failOn, verifyOutcomes);
    } else {
      collected.notes.push("--verify: no workload needed a check (nothing at risk)");
    }
  }

  const report: AuditReport = {
    schemaVersion: AUDIT_SCHEMA_VERSION,
    tool: "graceful-e2e audit",
    generatedAt: new Date(started).toISOString(),
    durationMs: now() - started,
    backend: o.backend,
    target: {
      description: target.description,
      platform: collected.platform,
      ...(target.namespaces ? { namespaces: target.namespaces } : {}),
      ...(o.selector ? { selector: o.selector } : {}),
      ...((o.filters ?? []).length > 0 ? { filters: o.filters } : {}),
      ...(o.composeProject ? { composeProject: o.composeProject } : {}),
    },
    access: {
      readOnly: !used.some((u) => /opt-in|--verify/.test(u)),
      used,
      refused: collected.refused,
    },
    propagation,
    failOn: o.failOn,
    summary: summarize(workloads),
    workloads,
    skipped: collected.skipped,
    notes: collected.notes,
  };
  return { report, verifyResults, facts: collected.workloads };
}
