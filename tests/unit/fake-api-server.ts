// The plumbing of the fake Kubernetes API servers the driver tests run against: an HTTP server on
// 127.0.0.1 with a kubeconfig pointing at it, a request's body and a JSON reply, a watch stream.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";

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
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "fake", server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: "u", token: "t" }],
    contexts: [{ name: "fake", cluster: "fake", user: "u" }],
    currentContext: "fake",
  });
  return {
    kc,
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
