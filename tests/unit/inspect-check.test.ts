// `graceful-e2e check`: the scenario it runs, its name, floating references, and which inspection
// it predicts from (the backend's own, on the deleted pod's outcome).
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Backend,
  type Deployment,
  type DisruptionOutcome,
  imagePod,
  runningWorkload,
} from "../../src/backends/backend.js";
import { formatInspection } from "../../src/check/report.js";
import {
  CHECK_DEFAULTS,
  type CheckReport,
  checkExitCode,
  checkScenario,
  checkScenarioName,
  isFloatingRef,
  runCheck,
} from "../../src/check/run.js";
import type { ProcessTreeInspection } from "../../src/model/process-tree.js";

describe("check scenario", () => {
  const opts = { ...CHECK_DEFAULTS, image: "my/app:1.4", port: 3000 };

  it("a validated scenario: image by ref, 2 replicas, preStop sleep, one delete under load, zero drops expected", () => {
    const s = checkScenario("registry.local:5000/my/app:1.4", opts);
    expect(s.name).toBe("check-registry-local-5000-my-app");
    expect(s.image).toEqual({ ref: "registry.local:5000/my/app:1.4" });
    expect(s.port).toBe(3000);
    expect(s.replicas).toBe(2);
    expect(s.preStop).toEqual({ type: "sleep", seconds: 2 });
    expect(s.terminationGracePeriodSeconds).toBe(30);
    expect(s.disruption).toMatchObject({ action: "delete", count: 1, atSeconds: 2 });
    expect(s.expectations).toEqual({ maxFailedRequests: 0 });
    expect(s.local.endpointPropagationMs).toBe(1000);
    expect(s.load).toMatchObject({ connections: 8, durationSeconds: 6, path: "/", keepAlive: true });
  });

  it("--prestop 0 means no hook; a :latest ref is refused by the schema", () => {
    expect(checkScenario("a/b:1", { ...opts, preStopSeconds: 0 }).preStop).toEqual({ type: "none" });
    expect(() => checkScenario("a/b:latest", opts)).toThrow(/latest/);
  });

  it("names fit the scenario name rules", () => {
    expect(checkScenarioName("graceful-e2e/shell-form:773840994a92")).toBe("check-graceful-e2e-shell-form");
    expect(checkScenarioName("x@sha256:abc")).toBe("check-x");
    expect(checkScenarioName(`a/${"b".repeat(80)}:1`)).toMatch(/^check-a-b+$/);
    expect(checkScenarioName(`a/${"b".repeat(80)}:1`).length).toBeLessThanOrEqual(52);
  });

  it("floating references: no tag or :latest (a registry port is not a tag; a digest is fixed)", () => {
    expect(isFloatingRef("nginx")).toBe(true);
    expect(isFloatingRef("nginx:latest")).toBe(true);
    expect(isFloatingRef("localhost:5000/nginx")).toBe(true);
    expect(isFloatingRef("localhost:5000/nginx:1.27")).toBe(false);
    expect(isFloatingRef("nginx@sha256:0123")).toBe(false);
  });
});

describe("runCheck uses the backend's own inspection (any backend, kind here)", () => {
  let server: Server;
  let port = 0;
  beforeAll(async () => {
    server = createServer((_req, res) => res.end("ok"));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const shellForm: ProcessTreeInspection = {
    containerId: "a9b497a8da1e",
    at: 1,
    source: "node-proc",
    sourceDetail: "read on the node: docker exec graceful-e2e-control-plane cat /proc/<node pid>/status …",
    processes: [
      inspected(1, 0, 4242, "/bin/sh -c node /app/server.js", "default"),
      inspected(7, 1, 4270, "node /app/server.js", "caught", [8080]),
    ],
    notes: [],
  };

  /** A "kind" backend with no cluster: its deleted pod comes back with the inspection it read at deploy. */
  function fakeKind(inspection: ProcessTreeInspection | undefined): Backend {
    return {
      name: "kind",
      async sweep() {},
      async deploy(scenario, _image, _sink, runId) {
        return runningWorkload(deployment(scenario, runId), { disrupt, teardown: async () => {} });
      },
    };
    function deployment(scenario: Deployment["scenario"], runId: string): Deployment {
      return {
        scenario,
        runId,
        target: { host: "127.0.0.1", port },
        trafficPath: "fake",
        pods: ["p0"],
        pod: imagePod(scenario, "test", "app"),
        platform: {},
      };
    }
    async function disrupt(): Promise<DisruptionOutcome> {
      const at = Date.now();
      return {
        pods: [
          {
            pod: "p0",
            pid1Cmdline: "/bin/sh -c node /app/server.js",
            deleteAt: at,
            exitedAt: at + 2000,
            exitCode: 137,
            sigkilled: true,
            ...(inspection ? { inspection } : {}),
            notes: [],
          },
        ],
      };
    }
  }

  it("the deleted pod's inspection (kind: read on the node) is predicted from and reported", async () => {
    const seen: Array<[ProcessTreeInspection | undefined, string | undefined]> = [];
    const report = await runCheck(
      fakeKind(shellForm),
      { ...CHECK_DEFAULTS, image: "graceful-e2e/shell-form:1", port: 8080, loadSeconds: 1, atSeconds: 0 },
      {
        resolveImage: async () => ({ style: "custom", ref: "graceful-e2e/shell-form:1" }),
        imageStopSignal: async () => undefined,
        onPrediction: (i, p) => seen.push([i, p?.cause]),
      },
    );
    expect(report.backend).toBe("kind");
    expect(report.inspection).toBe(shellForm);
    expect(report.prediction?.cause).toBe("shell-form-pid1");
    expect(seen).toEqual([[shellForm, "shell-form-pid1"]]);
    expect(report.notes).toEqual([]);
    const text = formatInspection(report.inspection, report.prediction);
    expect(text).not.toMatch(/not inspected/);
    expect(text).toMatch(/^process tree before any signal \(read on the node: /);
    expect(text).toMatch(/pid 1 \(parent 0, host pid 4242\) \/bin\/sh -c node \/app\/server\.js/);
  });

  it("a backend that read nothing: no prediction, and a note saying so", async () => {
    const report = await runCheck(
      fakeKind(undefined),
      { ...CHECK_DEFAULTS, image: "x/y:1", port: 8080, loadSeconds: 1, atSeconds: 0 },
      { resolveImage: async () => ({ style: "custom", ref: "x/y:1" }), imageStopSignal: async () => undefined },
    );
    expect(report.inspection).toBeUndefined();
    expect(report.prediction).toBeUndefined();
    expect(report.notes).toEqual(["the kind backend did not read the process tree of p0"]);
  });

  it("the image's stop signal reaches the prediction and the diagnosis when the backend does not carry it (kind)", async () => {
    const nginx: ProcessTreeInspection = {
      ...shellForm,
      processes: [inspected(1, 0, 4242, "nginx: master process nginx", "caught", [8080])],
    };
    const report = await runCheck(
      fakeKind(nginx),
      { ...CHECK_DEFAULTS, image: "x/nginx:1", port: 8080, loadSeconds: 1, atSeconds: 0 },
      {
        resolveImage: async () => ({ style: "custom", ref: "x/nginx:1" }),
        imageStopSignal: async () => ({ signal: "SIGTERM", from: "default (the image sets no STOPSIGNAL)" }),
      },
    );
    expect(report.prediction?.cause).toBe("server-fast-stop");
    expect(report.prediction?.server).toMatchObject({ stopSignal: "SIGTERM", stopsGracefully: false });
  });
});

function inspected(
  pid: number,
  ppid: number,
  hostPid: number,
  command: string,
  disposition: "caught" | "default",
  listens: number[] = [],
): ProcessTreeInspection["processes"][number] {
  const argv = command.split(" ");
  return {
    pid,
    ppid,
    hostPid,
    argv,
    command,
    name: argv[0]?.split("/").pop() ?? "",
    sigterm: { disposition, caught: disposition === "caught", ignored: false, blocked: false },
    masks: { caught: "", ignored: "", blocked: "" },
    waitsForSignals: false,
    listens,
  };
}

describe("checkExitCode", () => {
  const report = (diagnosis: { dropped: boolean; fix?: string }, extra: Partial<CheckReport> = {}) =>
    ({ diagnosis, observation: { pod: "p" }, ...extra }) as unknown as CheckReport;
  it("fails on drops, on a shutdown with something to fix even when nothing dropped, on errors; passes a clean drain", () => {
    expect(checkExitCode(report({ dropped: true, fix: "add a preStop sleep" }))).toBe(1);
    // Killed at the grace end with nothing in flight at the kill: still a failed check.
    expect(checkExitCode(report({ dropped: false, fix: "exec the app" }))).toBe(1);
    expect(checkExitCode(report({ dropped: false }, { error: "deploy failed" }))).toBe(1);
    expect(checkExitCode(report({ dropped: false }))).toBe(0);
  });
});
