// The plumbing of the fake Kubernetes API servers the driver tests run against: an HTTP server on
// 127.0.0.1 with a kubeconfig pointing at it (for one test or a describe block), a request's body and a
// JSON reply, a watch stream, and the real API server's answer to an eviction a budget refuses.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll } from "vitest";
import { EVICTION_REFUSED_MESSAGE } from "../../src/k8s/pdb.js";

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
