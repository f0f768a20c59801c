// The kind/existing audit path end to end against a fake API server speaking the real wire protocol,
// serving the objects RECORDED on a real kind 1.20 cluster (tests/fixtures/recordings: the pods as
// they were at the delete, the Deployment and Service from the recorded manifests), as 1.20 serves
// them (PodDisruptionBudgets only in policy/v1beta1), with DaemonSets forbidden (RBAC). The kind CLI,
// `docker image inspect` and the node (crictl inspect + /proc) answer through a fake command runner.
// Checks: only GET requests reach the API (read-only), the findings and predictions per workload,
// node access and exec as opt-ins with their fallbacks, and the prerequisites (exit 2).
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import { runAudit } from "../../src/audit/audit.js";
import { auditJunitXml } from "../../src/audit/junit.js";
import { CommandError, type CommandRunner } from "../../src/k8s/command.js";
import type { InspectedProcess } from "../../src/model/process-tree.js";
import { NODE_SCRIPT } from "../../src/observe/process-tree.js";
import { PrerequisiteError } from "../../src/util/errors.js";
import { STYLE_TREES } from "./audit-fixtures.js";

// biome-ignore lint/suspicious/noExplicitAny: free-form API objects
type Obj = Record<string, any>;

const RECORDINGS = join(import.meta.dirname, "../fixtures/recordings/kind-v1.20.2");
const MATRIX = join(import.meta.dirname, "../fixtures/audit/kind-v1.20.2-matrix");

/** One recording as the API served it at the delete: pods (latest object before the delete), manifests. */
function recording(
  dir: string,
  namespace: string,
  deploymentUid: string,
): { pods: Obj[]; deployment: Obj; service: Obj; rs: Obj } {
  const meta = JSON.parse(readFileSync(join(RECORDINGS, dir, "meta.json"), "utf8")) as Obj;
  const deleteAt = Date.parse(meta.deleted.deleteCmdStartedAt);
  const latest = new Map<string, Obj>();
  for (const line of readFileSync(join(RECORDINGS, dir, "pods.jsonl"), "utf8").split("\n")) {
    if (!line.trim()) continue;
    const e = JSON.parse(line) as Obj;
    if (Date.parse(e.receivedAt) >= deleteAt) break;
    if (e.type === "DELETED") latest.delete(e.object.metadata.name);
    else latest.set(e.object.metadata.name, e.object);
  }
  const docs = parseAllDocuments(meta.manifests as string).map((d) => d.toJSON() as Obj);
  const deployment = docs.find((d) => d.kind === "Deployment") as Obj;
  const service = docs.find((d) => d.kind === "Service") as Obj;
  const pods = [...latest.values()].map((p) => ({ ...p, metadata: { ...p.metadata, namespace } }));
  const owner = pods[0]?.metadata.ownerReferences[0];
  return {
    pods,
    deployment: {
      ...deployment,
      metadata: { ...deployment.metadata, namespace, uid: deploymentUid },
      spec: {
        ...deployment.spec,
        strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: "25%", maxSurge: "25%" } },
      },
      status: { replicas: 2, readyReplicas: 2 },
    },
    service: { ...service, metadata: { ...service.metadata, namespace } },
    rs: {
      apiVersion: "apps/v1",
      kind: "ReplicaSet",
      metadata: {
        name: owner.name,
        namespace,
        uid: owner.uid,
        ownerReferences: [
          { apiVersion: "apps/v1", kind: "Deployment", name: "app", uid: deploymentUid, controller: true },
        ],
      },
      spec: { replicas: 2, selector: deployment.spec.selector, template: deployment.spec.template },
    },
  };
}

class FakeApi {
  readonly requests: string[] = [];
  readonly objects: Record<string, Obj[]> = { deployments: [], replicasets: [], pods: [], services: [] };

  add(r: ReturnType<typeof recording>) {
    this.objects.deployments?.push(r.deployment);
    this.objects.replicasets?.push(r.rs);
    this.objects.pods?.push(...r.pods);
    this.objects.services?.push(r.service);
  }

  handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://x");
    this.requests.push(`${req.method} ${url.pathname}${url.search}`);
    const json = (code: number, o: unknown) => {
      res.writeHead(code, { "content-type": "application/json" });
      res.end(JSON.stringify(o));
    };
    if (req.method !== "GET") return json(405, { kind: "Status", code: 405, message: "the audit must only read" });
    const p = url.pathname;
    if (p === "/version") return json(200, { major: "1", minor: "20", gitVersion: "v1.20.2" });
    if (/\/daemonsets$/.test(p)) {
      return json(403, {
        kind: "Status",
        code: 403,
        reason: "Forbidden",
        message: 'daemonsets.apps is forbidden: User "auditor" cannot list resource "daemonsets" in API group "apps"',
      });
    }
    if (p.startsWith("/apis/policy/v1/"))
      return json(404, { kind: "Status", code: 404, message: "the server could not find the requested resource" });
    const m = /^\/(?:api\/v1|apis\/(?:apps|policy)\/v1(?:beta1)?)(?:\/namespaces\/([^/]+))?\/([a-z]+)$/.exec(p);
    if (!m) return json(404, { kind: "Status", code: 404, message: `no route ${p}` });
    const [, ns, resource] = m;
    const selector = url.searchParams.get("labelSelector");
    let items = (this.objects[resource ?? ""] ?? []).filter((o) => !ns || o.metadata.namespace === ns);
    if (selector) {
      const [k, v] = selector.split("=");
      items = items.filter((o) => (o.metadata.labels ?? o.spec?.template?.metadata?.labels)?.[k ?? ""] === v);
    }
    const kinds: Record<string, string> = {
      deployments: "Deployment",
      replicasets: "ReplicaSet",
      statefulsets: "StatefulSet",
      pods: "Pod",
      services: "Service",
      poddisruptionbudgets: "PodDisruptionBudget",
    };
    const kind = kinds[resource ?? ""] ?? "Thing";
    const apiVersion =
      resource === "pods" || resource === "services"
        ? "v1"
        : resource === "poddisruptionbudgets"
          ? "policy/v1beta1"
          : "apps/v1";
    return json(200, {
      kind: `${kind}List`,
      apiVersion,
      metadata: { resourceVersion: "1" },
      items: items.map((o) => ({ apiVersion, kind, ...o })),
    });
  };
}

/** /proc/<pid>/status as the kernel writes it, seen from the node (NSpid: node pid, container pid). */
function statusText(p: InspectedProcess, nodePid: number, nodePpid: number): string {
  return [
    `Name:\t${p.name}`,
    "State:\tS (sleeping)",
    `Pid:\t${nodePid}`,
    `PPid:\t${nodePpid}`,
    `NSpid:\t${nodePid}\t${p.pid}`,
    `NSpgid:\t${2000 + (p.pgid ?? p.pid)}\t${p.pgid ?? p.pid}`,
    `NSsid:\t2001\t1`,
    "SigPnd:\t0000000000000000",
    "ShdPnd:\t0000000000000000",
    `SigBlk:\t${p.masks.blocked}`,
    `SigIgn:\t${p.masks.ignored}`,
    `SigCgt:\t${p.masks.caught}`,
  ].join("\n");
}

/** What NODE_SCRIPT prints on a kind node for a container running these processes (app port 3000). */
function nodeScriptOutput(processes: InspectedProcess[]): string {
  const M = "@@graceful-e2e@@";
  const lines = [`${M} self 9999`, `${M} match pid-namespace`];
  for (const p of processes) {
    const nodePid = 2000 + p.pid;
    lines.push(`${M} pid ${nodePid}`, statusText(p, nodePid, p.ppid === 0 ? 1900 : 2000 + p.ppid));
    lines.push(
      `${M} cmdline`,
      `${p.argv.join("\0")}\0`,
      `${M} wchan`,
      p.waitsForSignals ? "do_sigtimedwait" : "ep_poll",
      `${M} syscall`,
      "232 0x5",
      `${M} fd`,
    );
    lines.push("/dev/null", ...(p.listens.length > 0 ? [`socket:[${7000 + p.pid}]`] : []));
  }
  lines.push(
    `${M} tcp`,
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
  );
  for (const p of processes.filter((x) => x.listens.length > 0)) {
    lines.push(
      `   0: 00000000:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 ${7000 + p.pid} 1 0000000000000000 100 0 0 10 0`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/** The shell-form recording's container, its processes as the sample image runs them (app on :3000). */
const SHELL_FORM_PROCESSES = (STYLE_TREES["shell-form"] ?? []).map((p) => ({
  ...p,
  listens: p.listens.length > 0 ? [3000] : [],
}));

describe("audit on kind, against a fake API server serving the recorded kind 1.20 objects", () => {
  const api = new FakeApi();
  let server: Server;
  let kubeconfig = "";
  const calls: string[][] = [];
  let clusters = "graceful-e2e\n";

  const run: CommandRunner = async (file, args) => {
    calls.push([file, ...args]);
    const a = args.join(" ");
    if (file === "docker" && a.startsWith("version")) return { stdout: "20.10.24", stderr: "" };
    if (file === "kind" && a === "version") return { stdout: "kind v0.29.0", stderr: "" };
    if (file === "kind" && a === "get clusters") return { stdout: clusters, stderr: "" };
    if (file === "kind" && a === "get kubeconfig --name graceful-e2e") return { stdout: kubeconfig, stderr: "" };
    if (file === "docker" && args[0] === "image" && args[1] === "inspect") {
      // The shell-form image is in the local engine (kind loaded it from there); the exec-form one is not.
      if (args.at(-1) === "lab/v-a-shellform:d1") {
        return {
          stdout: JSON.stringify({
            Id: "sha256:aaa",
            Config: { Cmd: ["/bin/sh", "-c", "node /app/server.js"], Entrypoint: null },
          }),
          stderr: "",
        };
      }
      throw new CommandError(file, args, 1, "Error: No such image");
    }
    if (file === "docker" && args[0] === "exec") {
      const [, node, ...argv] = args;
      expect(node).toBe("kindlab-control-plane");
      if (argv[0] === "crictl")
        return {
          stdout: JSON.stringify({
            info: { pid: 2001, runtimeSpec: { process: { args: ["/bin/sh", "-c", "node /app/server.js"] } } },
          }),
          stderr: "",
        };
      if (argv[0] === "sh" && argv[2] === NODE_SCRIPT) {
        expect(argv.slice(3)).toEqual(["sh", "2001"]);
        return { stdout: nodeScriptOutput(SHELL_FORM_PROCESSES), stderr: "" };
      }
      throw new CommandError(file, args, 1, "unexpected");
    }
    throw new CommandError(file, args, 127, `unexpected command ${file} ${a}`);
  };

  beforeAll(async () => {
    api.add(recording("shell-form-no-prestop", "shellform", "dep-shell"));
    api.add(recording("exec-form-prestop-sleep-3", "execform", "dep-exec"));
    server = createServer(api.handle);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    kubeconfig = [
      "apiVersion: v1",
      "kind: Config",
      `clusters: [{name: kind-graceful-e2e, cluster: {server: "http://127.0.0.1:${port}", insecure-skip-tls-verify: true}}]`,
      "users: [{name: kind-graceful-e2e, user: {token: t}}]",
      "contexts: [{name: kind-graceful-e2e, context: {cluster: kind-graceful-e2e, user: kind-graceful-e2e}}]",
      "current-context: kind-graceful-e2e",
    ].join("\n");
    parseYaml(kubeconfig); // well-formed
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const audit = (o: Partial<Parameters<typeof runAudit>[0]> = {}) =>
    runAudit({ backend: "kind", allNamespaces: true, failOn: "high", resultsDir: "unused", run, ...o });

  it("read-only by default: only GETs; the shell-form Deployment is critical from its image's CMD", async () => {
    api.requests.length = 0;
    const { report } = await audit();
    expect(api.requests.every((r) => r.startsWith("GET "))).toBe(true);
    expect(api.requests.some((r) => r.startsWith("GET /apis/apps/v1/deployments"))).toBe(true);
    expect(api.requests.some((r) => r.startsWith("GET /apis/policy/v1beta1/poddisruptionbudgets"))).toBe(true);
    expect(calls.some((c) => c[0] === "docker" && c[1] === "exec")).toBe(false);
    expect(report.access.readOnly).toBe(true);
    expect(report.target).toMatchObject({
      description: "kind cluster graceful-e2e, all namespaces",
      platform: { kubernetes: "v1.20.2" },
    });
    expect(report.access.refused.join("\n")).toMatch(/list daemonsets: forbidden .*daemonsets\.apps is forbidden/);
    expect(report.access.used.join("\n")).toMatch(/PodDisruptionBudgets: policy\/v1beta1/);
    expect(report.access.used.join("\n")).toMatch(/docker image inspect/);

    const shell = report.workloads.find((w) => w.id === "Deployment/shellform/app");
    expect(shell?.rank).toBe(1);
    expect(shell?.instances).toEqual(["app-865f4f77d6-bqw82", "app-865f4f77d6-gc4x2"]);
    expect(shell?.exposedBy).toEqual(["app"]);
    expect(shell?.grace).toEqual({ seconds: 10, from: "terminationGracePeriodSeconds" });
    expect(shell?.findings[0]).toMatchObject({
      code: "pid1-shell-no-forward",
      severity: "critical",
      certainty: "likely",
      source: "image-config",
    });
    expect(shell?.findings.map((f) => `${f.code}:${f.severity}`)).toEqual(
      expect.arrayContaining(["no-prestop:high", "no-disruption-budget:low", "not-inspected:info"]),
    );
    expect(shell?.findings.find((f) => f.code === "not-inspected")?.title).toMatch(
      /--node-access \(docker exec on the kind node\) or --exec/,
    );
    expect(shell?.prediction).toMatchObject({ drops: "yes", outcome: "killed" });

    // exec-form: preStop exec sleep 3 (> the assumed 1 s), readiness probe; its image is not in the local engine.
    const exec = report.workloads.find((w) => w.id === "Deployment/execform/app");
    expect(exec?.containers[0]?.preStop).toMatchObject({ type: "exec", seconds: 3 });
    expect(exec?.findings.some((f) => f.code === "no-prestop" || f.code === "prestop-shorter-than-propagation")).toBe(
      false,
    );
    expect(exec?.notes.join("\n")).toMatch(/lab\/v-c2-execform:d1 is not in the local Docker engine/);
    expect(exec?.prediction.drops).toBe("uncertain");
    expect(exec?.severity).toBe("low");
    expect(report.summary.failing).toBe(1);

    const xml = auditJunitXml(report);
    expect(xml).toMatch(/classname="audit\.kind\.shellform" name="Deployment\/shellform\/app"[^>]*>\n\s+<failure/);
  });

  it("--node-access: the live tree from the node (crictl inspect + /proc) makes it certain", async () => {
    calls.length = 0;
    const { report } = await audit({ namespace: "shellform", allNamespaces: false, nodeAccess: true });
    expect(calls).toContainEqual([
      "docker",
      "exec",
      "kindlab-control-plane",
      "crictl",
      "inspect",
      "-o",
      "json",
      "a08ad9734b89a6272b28c5f7de75bd272cdd1daf29c93f01eaebbfc901a7a12b",
    ]);
    const w = report.workloads[0];
    expect(w?.id).toBe("Deployment/shellform/app");
    expect(w?.inspected).toBe("app-865f4f77d6-bqw82");
    expect(w?.findings[0]).toMatchObject({
      code: "pid1-shell-no-forward",
      certainty: "certain",
      source: "live-process-tree",
    });
    expect(w?.findings[0]?.evidence.join("\n")).toMatch(
      /pid 1 \(parent 0, host pid 2001\) \/bin\/sh -c node \/app\/server\.js — SIGTERM: default → ignored as PID 1/,
    );
    expect(w?.containers[0]?.processTree?.source).toBe("node-proc");
    expect(w?.containers[0]?.pid1).toBe("/bin/sh -c node /app/server.js");
    expect(report.access.readOnly).toBe(false);
    expect(report.access.used.join("\n")).toMatch(
      /docker exec on the kind node\(s\): crictl inspect .* \(opt-in --node-access; root on the node\)/,
    );
  });

  it("--exec refused (RBAC: no pods/exec): static findings, and the refusal in the report", async () => {
    const { report } = await audit({
      namespace: "shellform",
      allNamespaces: false,
      exec: true,
      podExecInspect: async (req, notes) => ({
        containerId: req.pod,
        at: 0,
        source: "none",
        sourceDetail: "could not be read",
        processes: [],
        notes: [...notes, `pods "${req.pod}" is forbidden: User "auditor" cannot create resource "pods/exec"`],
      }),
    });
    const w = report.workloads[0];
    expect(w?.findings[0]).toMatchObject({ code: "pid1-shell-no-forward", certainty: "likely" });
    expect(report.access.refused.join("\n")).toMatch(
      /Deployment\/shellform\/app \(app\): exec API \(pods\/exec\): .*cannot create resource "pods\/exec".*: static findings only/,
    );
    expect(report.access.readOnly).toBe(true);
  });

  it("--propagation-from the real kind 1.20 runs: 58 ms measured, so a missing preStop is medium", async () => {
    const { report } = await audit({ namespace: "shellform", allNamespaces: false, propagationFrom: [MATRIX] });
    expect(report.propagation).toMatchObject({ ms: 58, source: "measured" });
    const np = report.workloads[0]?.findings.find((f) => f.code === "no-prestop");
    expect(np?.severity).toBe("medium");
    expect(np?.evidence.join("\n")).toMatch(/58 ms \(measured/);
  });

  it("a selector narrows the workloads", async () => {
    const { report } = await audit({ selector: "app=nothing" });
    expect(report.workloads).toEqual([]);
  });

  it("no such kind cluster, or no kind: a prerequisite error (exit 2), nothing read", async () => {
    clusters = "other\n";
    api.requests.length = 0;
    await expect(audit()).rejects.toThrow(PrerequisiteError);
    await expect(audit()).rejects.toThrow(
      /no kind cluster named "graceful-e2e" \(kind get clusters: other\): audit reads a running cluster and never creates one/,
    );
    expect(api.requests).toEqual([]);
    expect(calls.some((c) => c[0] === "kind" && c[1] === "create")).toBe(false);
    clusters = "graceful-e2e\n";
    const noKind: CommandRunner = async (file, args) => {
      if (file === "kind") throw new CommandError(file, args, undefined, "", "ENOENT");
      return run(file, args);
    };
    await expect(audit({ run: noKind })).rejects.toThrow(/`kind` not found on PATH/);
  });
});
