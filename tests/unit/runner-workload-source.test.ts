// The runner with the user's workload (issue 16): the prepare step builds the WorkloadSource once (the
// manifests the CLI read, their images handed to the backend), and from the deploy on the run is judged
// against the pod as deployed (asDeployed), not the image defaults a workload scenario's schema fills in.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Backend,
  type DeployedPod,
  type Deployment,
  type DisruptionOutcome,
  runningWorkload,
  type WorkloadSource,
} from "../../src/backends/backend.js";
import { runScenario } from "../../src/runner/run.js";
import { asDeployed } from "../../src/runner/source.js";
import { parseScenario } from "../../src/scenario/load.js";
import { ScenarioSpec } from "../../src/scenario/schema.js";
import { parseManifests, selectManifestSet } from "../../src/workload/index.js";

const POD: DeployedPod = {
  replicas: 3,
  terminationGracePeriodSeconds: 45,
  appContainer: "proxy",
  containers: [
    { name: "proxy", image: "nginx:1.27", role: "app" },
    { name: "app", image: "shop/web:2", role: "sidecar" },
  ],
  preStop: { type: "sleep", seconds: 4 },
  stopSignal: "SIGQUIT",
};

describe("asDeployed (pure)", () => {
  it("an image scenario keeps its own figures", () => {
    const s = ScenarioSpec.parse({ name: "i", image: { ref: "x/y:1" }, replicas: 2, terminationGracePeriodSeconds: 8 });
    const pod = { ...POD, replicas: 2, terminationGracePeriodSeconds: 8, preStop: s.preStop };
    const { stopSignal: _, ...rest } = pod;
    expect(asDeployed(s, rest)).toEqual(s);
  });

  it("a workload scenario takes the deployed pod's replicas, grace, preStop and stop signal", () => {
    const s = ScenarioSpec.parse({ name: "w", workload: { manifests: "m.yaml" } });
    // The schema filled image defaults in (2 replicas, grace 30, no preStop): none of them is what runs.
    expect([s.replicas, s.terminationGracePeriodSeconds, s.preStop.type]).toEqual([2, 30, "none"]);
    expect(asDeployed(s, POD)).toMatchObject({
      replicas: 3,
      terminationGracePeriodSeconds: 45,
      preStop: { type: "sleep", seconds: 4 },
      stopSignal: "SIGQUIT",
      overrides: {},
    });
  });
});

let server: Server;
let port = 0;
beforeAll(async () => {
  server = createServer((_req, res) => res.end("ok"));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const MANIFESTS = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      initContainers: [{name: init, image: "busybox:1.36"}]
      containers:
        - {name: proxy, image: "nginx:1.27", ports: [{containerPort: 8080}]}
        - {name: app, image: "shop/web:2"}
`;

/** A kind-like backend that records what the runner hands it. */
class RecordingBackend implements Backend {
  readonly name = "kind" as const;
  sources: WorkloadSource[] = [];
  prepared: string[][] = [];
  async prepareWorkload(images: string[]): Promise<string[]> {
    this.prepared.push(images);
    return [`${images.length} image(s) seen`];
  }
  async deploy(scenario: Deployment["scenario"], source: WorkloadSource, _sink: unknown, runId: string) {
    this.sources.push(source);
    const d: Deployment = {
      scenario,
      runId,
      target: { host: "127.0.0.1", port },
      trafficPath: "test",
      pods: ["web-1", "web-2", "web-3"],
      pod: POD,
      mutations: ["created namespace ge-x"],
      platform: {},
    };
    return runningWorkload(d, {
      disrupt: async (): Promise<DisruptionOutcome> => {
        d.mutations?.push("deleted pod ge-x/web-1");
        return { pods: [] };
      },
      teardown: async () => {},
    });
  }
  async sweep(): Promise<void> {}
}

describe("runScenario with a workload scenario", () => {
  it("hands the backend the manifests read once and their images, then judges against the deployed pod", async () => {
    const loaded = parseScenario(
      "/tmp/w.yaml",
      "name: w\nworkload: {manifests: m.yaml}\nload: {connections: 1, durationSeconds: 1}\ndisruption: {action: delete, atSeconds: 0}\n",
    );
    const set = selectManifestSet(parseManifests(MANIFESTS, "m.yaml"), { namespace: "x" });
    const backend = new RecordingBackend();
    const lines: string[] = [];
    const r = await runScenario(loaded, { backend, manifests: set, onProgress: (l) => lines.push(l) });
    expect(backend.sources).toHaveLength(1);
    expect(backend.sources[0]).toEqual({
      kind: "manifests",
      set,
      images: ["busybox:1.36", "nginx:1.27", "shop/web:2"],
    });
    expect(backend.prepared).toEqual([["busybox:1.36", "nginx:1.27", "shop/web:2"]]);
    expect(lines.some((l) => l.includes("3 image(s) seen"))).toBe(true);
    expect(lines.some((l) => l.includes("deploying Deployment web (manifests) on kind"))).toBe(true);
    // The result says what ran and what changed, not the schema's image defaults.
    expect(r.scenario).toMatchObject({ replicas: 3, terminationGracePeriodSeconds: 45, stopSignal: "SIGQUIT" });
    expect(r.mutations).toEqual(["created namespace ge-x", "deleted pod ge-x/web-1"]);
    expect(r.image).toBeUndefined();
  });
});
