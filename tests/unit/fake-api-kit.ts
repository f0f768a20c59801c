// What the tests' fake Kubernetes API servers share: reading a request's body, answering JSON, a
// kubeconfig pointing at the fake, the server's lifetime around a describe block, and the real API
// server's answer to an eviction a PodDisruptionBudget refuses.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll } from "vitest";
import { EVICTION_REFUSED_MESSAGE } from "../../src/k8s/pdb.js";

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise<string>((r) => {
    let b = "";
    req.on("data", (c) => {
      b += c;
    });
    req.on("end", () => r(b));
  });
}

export const jsonAnswer = (res: ServerResponse) => (code: number, o: unknown) => {
  res.writeHead(code, { "content-type": "application/json" });
  res.end(JSON.stringify(o));
};

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
  let server: Server;
  let kc: KubeConfig | undefined;
  let port = 0;
  beforeAll(async () => {
    server = createServer((req, res) => void handle(req, res));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
    kc = fakeKubeConfig(port);
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  return {
    kc: (): KubeConfig => {
      if (!kc) throw new Error("the fake server is not started yet");
      return kc;
    },
    port: () => port,
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
