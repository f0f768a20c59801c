// The user's own workload on the command line: every scenario's manifests read ONCE before anything
// starts (bad manifests: one line each, exit 2, nothing created), the checks that need them (a delete
// count against the manifests' replicas, the warnings on their grace and preStop), and the scenario
// `run --target deployment/web -n shop` makes without a file.
import { text } from "node:stream/consumers";
import { localWorkloadProblem } from "../backends/local/workload-run.js";
import type { BackendName } from "../model/backend.js";
import { asDeployed } from "../runner/source.js";
import { type LoadedScenario, scenarioWarnings } from "../scenario/load.js";
import { ScenarioSpec, scenarioCrossFieldIssues } from "../scenario/schema.js";
import { UsageError } from "../util/errors.js";
import {
  applyOverrides,
  formatManifestIssue,
  loadManifestSet,
  ManifestError,
  type ManifestSet,
  podOfWorkload,
} from "../workload/index.js";

/** A scenario to run, with its manifests when it names some (read once, before any run). */
export type RunnableScenario = LoadedScenario & { manifests?: ManifestSet };

/** Standard input, read at most once however many scenarios name "-". */
export function stdinOnce(read: () => Promise<string> = () => text(process.stdin)): () => Promise<string> {
  let once: Promise<string> | undefined;
  return () => {
    once ??= read();
    return once;
  };
}

/** The pod a set of manifests deploys with the scenario's overrides (the API's defaults where silent). */
function podOfSet(l: LoadedScenario, set: ManifestSet) {
  const applied = applyOverrides({
    set,
    overrides: l.scenario.overrides,
    namespace: l.scenario.name,
    labels: {},
    support: { preStopSleep: true, preStopSleepZero: true },
  });
  return podOfWorkload(applied.workload, set.port.container);
}

/** A Deployment's rolling-update fields a StatefulSet does not have (it replaces one pod at a time). */
const NOT_ON_STATEFULSET = ["maxSurge", "maxUnavailable", "progressDeadlineSeconds"] as const;

/** A rollout strategy field the workload under test cannot take, one line each. */
function strategyIssues(l: LoadedScenario, set: ManifestSet): string[] {
  const d = l.scenario.disruption;
  if (d.action !== "rollout" || set.workload.kind !== "StatefulSet") return [];
  return NOT_ON_STATEFULSET.filter((f) => d.strategy?.[f] !== undefined).map(
    (f) =>
      `${l.file}: disruption.strategy.${f}: StatefulSet "${set.workload.name}" has no ${f} ` +
      "(it replaces its pods one at a time; of the strategy only minReadySeconds applies)",
  );
}

/** The disruption checks the scenario file could not make before its manifests were read. */
function deployedIssues(l: LoadedScenario, set: ManifestSet): { issues: string[]; warnings: string[] } {
  const deployed = asDeployed(l.scenario, podOfSet(l, set));
  const from = `(${set.workload.kind} "${set.workload.name}" with the scenario's overrides)`;
  const issues = scenarioCrossFieldIssues(deployed)
    .filter((i) => i.path[0] === "disruption")
    .map((i) => `${l.file}: ${i.path.join(".")}: ${i.message} ${from}`);
  issues.push(...strategyIssues(l, set));
  return { issues, warnings: scenarioWarnings(deployed).map((w) => `${w} ${from}`) };
}

/**
 * The disruptions a running workload takes: those that only remove its pods (its controller replaces
 * them) — delete, evict (the Eviction API: its PodDisruptionBudgets honoured), drain (also cordons the
 * node until the teardown; said in the result's mutations). Not those that change the workload itself.
 */
const TARGET_DISRUPTIONS: ReadonlySet<string> = new Set(["delete", "evict", "drain"]);

/** What a running workload cannot take: a disruption that changes it (only its pods may go). */
function targetIssues(l: LoadedScenario, backend: BackendName | undefined): string[] {
  if (backend === "local") {
    return [`${l.file}: target: a running workload is tested on --backend kind or existing, not local`];
  }
  const d = l.scenario.disruption;
  if (TARGET_DISRUPTIONS.has(d.action)) return [];
  return [
    `${l.file}: disruption.action: ${d.action} would change the running workload (its template or replicas); ` +
      "with target only delete, evict and drain are allowed (its controller replaces the pods)",
  ];
}

/**
 * Reads the manifests of every workload scenario (stdin once), checks what needs them and every target
 * scenario; throws one UsageError with a line per problem. Returns the scenarios with their manifests.
 */
export async function readWorkloads(
  loaded: LoadedScenario[],
  /** The backend the runs go to (undefined: validate only, any backend). */
  backend: BackendName | undefined,
  readStdin: () => Promise<string> = stdinOnce(),
): Promise<RunnableScenario[]> {
  const problems: string[] = [];
  const out: RunnableScenario[] = [];
  for (const l of loaded) {
    if (l.scenario.target !== undefined) problems.push(...targetIssues(l, backend));
    const workload = l.scenario.workload;
    if (workload === undefined) {
      out.push(l);
      continue;
    }
    try {
      const set = await loadManifestSet(workload, l.scenario.name, readStdin);
      const { issues, warnings } = deployedIssues(l, set);
      problems.push(...issues);
      const local = backend === "local" ? localWorkloadProblem(l.scenario, set) : undefined;
      if (local) problems.push(`${l.file}: workload: ${local}`);
      // The warnings on the pod as deployed replace those on the image defaults the schema filled in;
      // the manifests' own notes (a port chosen among several...) go to the report with the deploy's.
      out.push({ ...l, manifests: set, warnings });
    } catch (err) {
      if (!(err instanceof ManifestError)) throw err;
      // One line per problem, each naming the manifest's file, document and field.
      problems.push(...err.issues.map(formatManifestIssue));
    }
  }
  if (problems.length > 0) throw new UsageError(problems.join("\n"));
  return out;
}

export interface TargetFlags {
  target?: string;
  namespace?: string;
  service?: string;
}

/**
 * The scenario `run --target deployment/web -n shop [--service web]` stands for: that running workload,
 * every other field at its default. Undefined without --target; UsageError when the flags disagree.
 */
export function targetScenario(flags: TargetFlags, paths: string[]): LoadedScenario | undefined {
  if (flags.target === undefined) {
    if (flags.namespace !== undefined || flags.service !== undefined)
      throw new UsageError("--namespace and --service name a running workload: give it with --target");
    return undefined;
  }
  if (paths.length > 0) {
    throw new UsageError(
      "--target makes its own scenario: give either scenario files or --target (a scenario file's target: field does both)",
    );
  }
  if (flags.namespace === undefined) throw new UsageError("--target needs the workload's namespace (-n, --namespace)");
  const name = `target-${flags.target.split("/").pop() ?? "workload"}`
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, "-")
    .slice(0, 52)
    .replace(/-+$/, "");
  const data = {
    name,
    target: {
      namespace: flags.namespace,
      workload: flags.target,
      ...(flags.service !== undefined ? { service: flags.service } : {}),
    },
  };
  const parsed = ScenarioSpec.safeParse(data);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `--target: ${i.path.join(".")}: ${i.message}`);
    throw new UsageError(lines.join("\n"));
  }
  return { file: "--target", scenario: parsed.data, warnings: [] };
}
