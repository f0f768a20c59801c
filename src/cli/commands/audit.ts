// `graceful-e2e audit`: which running workloads will drop requests when they are stopped, and the fix
// for each — on the local Docker engine (containers, Compose projects), a kind cluster or any
// kubeconfig context. Read-only unless --exec / --node-access / --verify. Exit status: 0 no workload
// at or above --fail-on, 1 some are, 2 bad input or a missing prerequisite (nothing was read).
import { resolve } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { parseSeverity } from "../../audit/rank.js";
import { SEVERITIES, type Severity } from "../../audit/types.js";
import { installSignalHandlers } from "../../util/cleanup.js";
import { addClusterOptions } from "../backend-options.js";

const log = (line: string) => process.stderr.write(`${line}\n`);

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function severityOption(value: string): Severity {
  const s = parseSeverity(value);
  if (!s) throw new InvalidArgumentError(`--fail-on must be one of ${SEVERITIES.join(", ")}`);
  return s;
}

function wholeNumber(name: string, min: number, max: number) {
  return (value: string) => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}`);
    }
    return n;
  };
}

export function register(program: Command): void {
  addClusterOptions(program.command("audit"))
    .description(
      "find the running workloads that will drop requests when stopped (PID 1 and SIGTERM handling, stop signal, " +
        "preStop vs endpoint propagation, grace, readiness, rollout/PDB), predict each, rank them, and say the fix; read-only by default",
    )
    .option("-b, --backend <name>", "local (Docker containers, Compose projects) | kind | existing", "local")
    .option(
      "--filter <key=value>",
      "local: docker ps filter, label=<key>[=<value>] or name=<text> (repeatable)",
      collect,
      [],
    )
    .option(
      "--compose-project <name>",
      "local: only that Compose project's containers (label com.docker.compose.project)",
    )
    .option("-n, --namespace <ns>", "kind/existing: namespace (default: the context's, else default)")
    .option("-A, --all-namespaces", "kind/existing: every namespace")
    .option("-l, --selector <selector>", "label selector on the workloads (local: label terms, comma-separated)")
    .option(
      "--exec",
      "opt-in: read process trees by exec in the containers where reading from outside is not possible " +
        "(local: docker exec; kind/existing: the Kubernetes exec API, permission create pods/exec)",
    )
    .option(
      "--node-access",
      "opt-in, kind: read process trees on the nodes (docker exec <node> crictl inspect + /proc: root on the node)",
    )
    .option("--include-harness", "also audit graceful-e2e's own runs' containers and workloads")
    .option(
      "--propagation-from <dir>",
      "graceful-e2e results directory: the largest endpoint propagation measured there for this backend/cluster (repeatable)",
      collect,
      [],
    )
    .option(
      "--assume-propagation-ms <ms>",
      "endpoint propagation assumed when nothing was measured (default 1000)",
      wholeNumber("--assume-propagation-ms", 0, 600_000),
    )
    .option(
      "--fail-on <severity>",
      `exit 1 when a workload reaches it: ${SEVERITIES.join(" | ")}`,
      severityOption,
      "high",
    )
    .option(
      "--verify",
      "run check (a delete under load) on a COPY of the riskiest workloads' images — never on the workloads " +
        "(local: containers of the local backend; clusters: the harness's own namespace, needs --allow-mutations)",
    )
    .option("--verify-max <n>", "at most this many checks (default 3)", wholeNumber("--verify-max", 1, 100))
    .option("--verify-only <regex>", "verify only workloads whose id matches (e.g. compose/shop/)")
    .option("--verify-path <path>", "path the verification load requests", "/")
    .option("-r, --results <dir>", "directory for audit.json, junit.xml and report.html", "results/audit")
    .option("--json", "print the report as JSON (docs/audit.md) instead of the table")
    .addHelpText(
      "after",
      "\nExit codes: 0 no workload at or above --fail-on; 1 some are; 2 bad input or a missing prerequisite.\n" +
        "JSON schema: docs/audit.md.",
    )
    .action(async (opts: Record<string, unknown>) => {
      // Loaded only when the audit runs: the collectors (Docker, client-node), the reports.
      const { runAudit } = await import("../../audit/audit.js");
      const { formatAudit } = await import("../../audit/console.js");
      const { auditJson, writeAuditReports } = await import("../../audit/output.js");
      const { auditExitCode } = await import("../../audit/rank.js");
      if (opts.verify) installSignalHandlers(log);
      const { report, verifyResults } = await runAudit({
        backend: String(opts.backend) as "local" | "kind" | "existing",
        filters: opts.filter as string[],
        ...(opts.composeProject ? { composeProject: String(opts.composeProject) } : {}),
        ...(opts.cluster ? { cluster: String(opts.cluster) } : {}),
        ...(opts.context ? { context: String(opts.context) } : {}),
        ...(opts.namespace ? { namespace: String(opts.namespace) } : {}),
        allNamespaces: Boolean(opts.allNamespaces),
        ...(opts.selector ? { selector: String(opts.selector) } : {}),
        exec: Boolean(opts.exec),
        nodeAccess: Boolean(opts.nodeAccess),
        includeHarness: Boolean(opts.includeHarness),
        propagationFrom: opts.propagationFrom as string[],
        ...(opts.assumePropagationMs !== undefined ? { assumedPropagationMs: opts.assumePropagationMs as number } : {}),
        failOn: opts.failOn as Severity,
        verify: Boolean(opts.verify),
        ...(opts.verifyMax !== undefined ? { verifyMax: opts.verifyMax as number } : {}),
        ...(opts.verifyOnly ? { verifyOnly: String(opts.verifyOnly) } : {}),
        verifyPath: String(opts.verifyPath),
        allowMutations: Boolean(opts.allowMutations),
        ...(opts.registry ? { registry: String(opts.registry) } : {}),
        ...(opts.address ? { address: String(opts.address) } : {}),
        resultsDir: String(opts.results),
        log,
      });
      const files = await writeAuditReports(report, verifyResults, String(opts.results));
      process.stdout.write(opts.json ? auditJson(report) : `${formatAudit(report)}\n`);
      log(`reports: ${resolve(files.json)}, ${resolve(files.junit)}, ${resolve(files.html)}`);
      process.exitCode = auditExitCode(report);
    });
}
