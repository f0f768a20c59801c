// The plumbing of the fake Kubernetes API servers the driver tests run against: an HTTP server on
// 127.0.0.1 with a kubeconfig pointing at it (for one test or a describe block), a request's body and a
// JSON reply, a watch stream, and the real API server's answer to an eviction a budget refuses.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig, type V1LabelSelector } from "@kubernetes/client-node";
import { afterAll, beforeAll } from "vitest";
import { EVICTION_REFUSED_MESSAGE } from "../../src/k8s/pdb.js";
import { selects } from "../../src/workload/label-selector.js";

export interface FakeApiServer {
  kc: KubeConfig;
  port: number;
  close(): Promise<void>;
}

/** Serves handle on 127.0.0.1 (any free port) with a kubeconfig for it. */
export async function startFakeApi(
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<unknown>,
): Promise<FakeApiServer> {
  const server: Server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    kc: fakeKubeConfig(port),
    port,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** The request's body as text. */
export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise<string>((r) => {
    let b = "";
    req.on("data", (c) => {
      b += c;
    });
    req.on("end", () => r(b));
  });
}

/** Replies with a JSON body and status code. */
export const replyJson = (res: ServerResponse) => (code: number, o: unknown) => {
  res.writeHead(code, { "content-type": "application/json" });
  res.end(JSON.stringify(o));
};

/** Opens a watch stream as the API server does (established before any event), its initial list as ADDED. */
export function openWatch(res: ServerResponse, initial: unknown[]): void {
  res.writeHead(200, { "content-type": "application/json" });
  res.flushHeaders();
  for (const o of initial) res.write(`${JSON.stringify({ type: "ADDED", object: o })}\n`);
}

/** A kubeconfig whose only context is the fake server on 127.0.0.1:port. */
export function fakeKubeConfig(port: number): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "fake", server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: "u", token: "t" }],
    contexts: [{ name: "fake", cluster: "fake", user: "u" }],
    currentContext: "fake",
  });
  return kc;
}

/** Serves `handle` on 127.0.0.1 for the describe block it is called in; kc() and port() once it runs. */
export function useFakeServer(handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>) {
  let fake: FakeApiServer | undefined;
  beforeAll(async () => {
    fake = await startFakeApi(handle);
  });
  afterAll(async () => {
    await fake?.close();
  });
  return {
    kc: (): KubeConfig => {
      if (!fake) throw new Error("the fake server is not started yet");
      return fake.kc;
    },
    port: () => fake?.port ?? 0,
  };
}

/** The real API server's 429 for an eviction a budget refuses (pkg/registry/core/pod/storage/eviction.go). */
export function refused429(pdb: string, desired: number, current: number) {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: EVICTION_REFUSED_MESSAGE,
    reason: "TooManyRequests",
    details: {
      causes: [
        {
          reason: "DisruptionBudget",
          message: `The disruption budget ${pdb} needs ${desired} healthy pods and has ${current} currently`,
        },
      ],
    },
    code: 429,
  };
}

/**
 * The API server's reading of a `labelSelector` parameter (k8s.io/apimachinery labels.Parse): equality
 * (`a=b`, `a==b`, `a!=b`) and set-based (`a in (x,y)`, `a notin (x)`, `a`, `!a`) requirements, ANDed.
 */
export function parseLabelSelector(text: string): V1LabelSelector {
  const terms = text.match(/[^,(]+(?:\([^)]*\))?/g) ?? [];
  const sel: Required<V1LabelSelector> = { matchLabels: {}, matchExpressions: [] };
  for (const raw of terms.map((t) => t.trim()).filter(Boolean)) {
    const set = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(raw);
    const eq = /^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(raw);
    const values = (v: string) =>
      v
        .split(",")
        .map((x) => x.trim())
        .filter(Boolean);
    if (set)
      sel.matchExpressions.push({
        key: set[1] ?? "",
        operator: set[2] === "in" ? "In" : "NotIn",
        values: values(set[3] ?? ""),
      });
    else if (eq && eq[2] === "!=")
      sel.matchExpressions.push({ key: eq[1] ?? "", operator: "NotIn", values: [eq[3] ?? ""] });
    else if (eq) sel.matchLabels[eq[1] ?? ""] = eq[3] ?? "";
    else if (raw.startsWith("!")) sel.matchExpressions.push({ key: raw.slice(1), operator: "DoesNotExist" });
    else sel.matchExpressions.push({ key: raw, operator: "Exists" });
  }
  return sel;
}

/** Whether a `labelSelector` parameter (absent or empty: everything) selects these labels, as the API server decides. */
export function labelSelectorMatches(text: string | null, labels: Record<string, string> = {}): boolean {
  return !text || selects(parseLabelSelector(text), labels, true);
}

// biome-ignore lint/suspicious/noExplicitAny: free-form fake API objects
type NodeObj = Record<string, any>;

/** A schedulable worker node object, as the API lists it. */
export function fakeNode(name: string): NodeObj {
  return { kind: "Node", apiVersion: "v1", metadata: { name, labels: {} }, spec: {} };
}

/**
 * The API server's node calls a drain makes (list, read, JSON patch of spec.unschedulable and labels)
 * over `nodes`; false when `path` is not a node call. Each PATCH is noted in `calls` with its body.
 */
export function serveNodeCall(
  nodes: Map<string, NodeObj>,
  o: { method?: string; path: string; body: string; calls: string[]; json: (code: number, o: unknown) => void },
): boolean {
  if (o.path === "/api/v1/nodes") {
    o.json(200, { kind: "NodeList", apiVersion: "v1", metadata: {}, items: [...nodes.values()] });
    return true;
  }
  const name = /^\/api\/v1\/nodes\/([^/]+)$/.exec(o.path)?.[1];
  if (name === undefined) return false;
  const node = nodes.get(name);
  if (!node) {
    o.json(404, { kind: "Status", code: 404, reason: "NotFound", message: `nodes "${name}" not found` });
    return true;
  }
  if (o.method === "PATCH") {
    o.calls.push(`patch node ${name} ${o.body}`);
    for (const op of JSON.parse(o.body) as Array<{ op: string; path: string; value?: unknown }>) {
      if (op.path === "/spec/unschedulable") node.spec.unschedulable = op.value;
      const label = /^\/metadata\/labels\/(.+)$/.exec(op.path)?.[1]?.replace(/~1/g, "/").replace(/~0/g, "~");
      if (label && op.op === "add") node.metadata.labels[label] = op.value;
      if (label && op.op === "remove") delete node.metadata.labels[label];
    }
  }
  o.json(200, node);
  return true;
}
