// The objects the kind / existing backends create, checked against Kubernetes' own OpenAPI-derived
// models — never against hand-written rules:
// - kubernetes-models (per-kind validate(): ajv over the Kubernetes OpenAPI schema: types, required
//   fields, enums). A dev dependency; when it is not installed the block is skipped with the reason
//   printed. GRACEFUL_E2E_K8S_MODELS_DIR may point at a directory whose node_modules has it.
// - @kubernetes/client-node's ObjectSerializer (generated from the same OpenAPI spec): a round trip
//   drops every field the API does not know, so a typo in a field name shows up as a difference.
import { createRequire } from "node:module";
import { join } from "node:path";
import { ObjectSerializer } from "@kubernetes/client-node/dist/serializer.js";
import { describe, expect, it } from "vitest";
import {
  buildManifests,
  labelValue,
  namespaceName,
  preStopHandler,
  RUN_LABEL,
  shortRunId,
} from "../../src/k8s/manifests.js";
import { type Scenario, type ScenarioInput, ScenarioSpec } from "../../src/scenario/schema.js";

type Validatable = new (data: unknown) => { validate(): void };
interface Models {
  Namespace: Validatable;
  Deployment: Validatable;
  Service: Validatable;
  from: string;
}

function loadModels(): Models | string {
  const attempts: Array<[string, NodeJS.Require]> = [["the project", createRequire(import.meta.url)]];
  const dir = process.env.GRACEFUL_E2E_K8S_MODELS_DIR;
  if (dir) attempts.push([dir, createRequire(join(dir, "package.json"))]);
  const errors: string[] = [];
  for (const [from, req] of attempts) {
    try {
      return {
        Namespace: (req("kubernetes-models/v1/Namespace") as { Namespace: Validatable }).Namespace,
        Deployment: (req("kubernetes-models/apps/v1/Deployment") as { Deployment: Validatable }).Deployment,
        Service: (req("kubernetes-models/v1/Service") as { Service: Validatable }).Service,
        from,
      };
    } catch (err) {
      errors.push(`${from}: ${(err as Error).message.split("\n")[0]}`);
    }
  }
  return errors.join("; ");
}

const models = loadModels();
if (typeof models === "string") {
  console.warn(
    `OpenAPI schema validation skipped: the dev dependency kubernetes-models is not installed (npm i -D -E kubernetes-models@4.5.1). ${models}`,
  );
}

const scenario = (input: Partial<ScenarioInput> = {}): Scenario =>
  ScenarioSpec.parse({ name: "exec-form-prestop", image: { style: "exec-form" }, ...input });

const RUN_ID = "20261127001500-a1b2c3";
const IMAGE = "graceful-e2e/exec-form:0123456789ab";

const variants: Array<[string, Partial<ScenarioInput>, { preStopSleep: boolean; preStopSleepZero?: boolean }]> = [
  ["no preStop", { preStop: { type: "none" } }, { preStopSleep: true }],
  ["sleep action", { preStop: { type: "sleep", seconds: 5 } }, { preStopSleep: true }],
  ["sleep fallback to exec", { preStop: { type: "sleep", seconds: 5 } }, { preStopSleep: false }],
  ["exec", { preStop: { type: "exec", command: ["/bin/sh", "-c", "sleep 2"] } }, { preStopSleep: true }],
  ["httpGet", { preStop: { type: "httpGet", path: "/drain", port: 9000 } }, { preStopSleep: true }],
  ["stop signal", { stopSignal: "SIGQUIT", preStop: { type: "sleep", seconds: 2 } }, { preStopSleep: true }],
  ["stop signal, no preStop", { stopSignal: "SIGWINCH" }, { preStopSleep: true }],
  [
    "env, replicas, long grace",
    { env: { DRAIN_MS: "500", APP_ROLE: "app" }, replicas: 5, terminationGracePeriodSeconds: 90, port: 3000 },
    { preStopSleep: true },
  ],
];

/** Paths present in `original` but dropped by the typed round trip (= fields the API does not know). */
function unknownFields(original: unknown, roundTrip: unknown, path = ""): string[] {
  if (Array.isArray(original)) {
    return original.flatMap((v, i) => unknownFields(v, (roundTrip as unknown[] | undefined)?.[i], `${path}[${i}]`));
  }
  if (original !== null && typeof original === "object") {
    const rt = (roundTrip ?? {}) as Record<string, unknown>;
    return Object.entries(original as Record<string, unknown>).flatMap(([k, v]) =>
      k in rt ? unknownFields(v, rt[k], `${path}.${k}`) : [`${path}.${k}`],
    );
  }
  return [];
}

function roundTripProblems(obj: unknown, type: string): string[] {
  const serialized = ObjectSerializer.serialize(obj, type);
  return unknownFields(obj, JSON.parse(JSON.stringify(serialized)));
}

describe("generated objects vs the Kubernetes API models", () => {
  for (const [label, input, support] of variants) {
    it(`${label}: every field is known to the API (client-node OpenAPI models)`, () => {
      const m = buildManifests({ scenario: scenario(input), image: IMAGE, runId: RUN_ID, ...support });
      expect(roundTripProblems(m.namespace, "V1Namespace")).toEqual([]);
      expect(roundTripProblems(m.deployment, "V1Deployment")).toEqual([]);
      expect(roundTripProblems(m.service, "V1Service")).toEqual([]);
    });
  }

  it("an unknown field IS caught by the round trip", () => {
    const m = buildManifests({ scenario: scenario(), image: IMAGE, runId: RUN_ID, preStopSleep: true });
    const bad = structuredClone(m.deployment) as unknown as {
      spec: { template: { spec: { containers: Array<Record<string, unknown>> } } };
    };
    const container = bad.spec.template.spec.containers[0];
    if (!container) throw new Error("no container");
    container.readinesProbe = container.readinessProbe; // typo
    expect(roundTripProblems(bad, "V1Deployment")).toEqual([".spec.template.spec.containers[0].readinesProbe"]);
  });
});

describe.skipIf(typeof models === "string")(
  "generated objects vs the Kubernetes OpenAPI schema (kubernetes-models)",
  () => {
    const M = models as Models;
    for (const [label, input, support] of variants) {
      it(`${label}: Namespace, Deployment and Service validate`, () => {
        const m = buildManifests({ scenario: scenario(input), image: IMAGE, runId: RUN_ID, ...support });
        expect(() => new M.Namespace(m.namespace).validate()).not.toThrow();
        expect(() => new M.Deployment(m.deployment).validate()).not.toThrow();
        expect(() => new M.Service(m.service).validate()).not.toThrow();
      });
    }

    it("an invalid object IS rejected", () => {
      const m = buildManifests({ scenario: scenario(), image: IMAGE, runId: RUN_ID, preStopSleep: true });
      const badPort = structuredClone(m.service) as unknown as { spec: { ports: Array<{ nodePort: unknown }> } };
      const port = badPort.spec.ports[0];
      if (!port) throw new Error("no port");
      port.nodePort = "30080";
      expect(() => new M.Service(badPort).validate()).toThrow(/nodePort/);

      const noSelector = structuredClone(m.deployment) as unknown as { spec: Record<string, unknown> };
      delete noSelector.spec.selector;
      expect(() => new M.Deployment(noSelector).validate()).toThrow(/selector/);

      const sleepWithoutSeconds = structuredClone(m.deployment) as unknown as {
        spec: { template: { spec: { containers: Array<{ lifecycle?: unknown }> } } };
      };
      const c = sleepWithoutSeconds.spec.template.spec.containers[0];
      if (!c) throw new Error("no container");
      c.lifecycle = { preStop: { sleep: {} } };
      expect(() => new M.Deployment(sleepWithoutSeconds).validate()).toThrow(/seconds/);
    });
  },
);

describe("manifest content", () => {
  it("names: ge-<scenario>-<run id short>, at most 63 characters, a valid DNS label", () => {
    expect(shortRunId(RUN_ID)).toBe("00a1b2c3");
    expect(namespaceName("exec-form-prestop", RUN_ID)).toBe("ge-exec-form-prestop-00a1b2c3");
    const long = namespaceName(`${"a".repeat(50)}-b`, RUN_ID);
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(() => shortRunId("---")).toThrow(/letters or digits/);
    expect(labelValue("-x/y:z-")).toBe("x-y-z");
  });

  it("labels every object with graceful-e2e=true and the run id; the Deployment selects on the run", () => {
    const m = buildManifests({ scenario: scenario(), image: IMAGE, runId: RUN_ID, preStopSleep: true });
    for (const o of m.objects) {
      expect(o.metadata?.labels?.["graceful-e2e"]).toBe("true");
      expect(o.metadata?.labels?.[RUN_LABEL]).toBe(RUN_ID);
    }
    expect(m.deployment.spec?.template.metadata?.labels?.[RUN_LABEL]).toBe(RUN_ID);
    expect(m.deployment.spec?.selector.matchLabels).toEqual(m.service.spec?.selector);
  });

  it("deployment: replicas, IfNotPresent, readiness /healthz every 1 s failing after 1, env, grace", () => {
    const s = scenario({ replicas: 3, env: { A: "1" }, terminationGracePeriodSeconds: 12.5, port: 3000 });
    const m = buildManifests({ scenario: s, image: IMAGE, runId: RUN_ID, preStopSleep: true });
    const spec = m.deployment.spec;
    const c = spec?.template.spec?.containers[0];
    expect(spec?.replicas).toBe(3);
    expect(c?.image).toBe(IMAGE);
    expect(c?.imagePullPolicy).toBe("IfNotPresent");
    expect(c?.readinessProbe).toMatchObject({
      httpGet: { path: "/healthz", port: 3000 },
      periodSeconds: 1,
      failureThreshold: 1,
    });
    expect(c?.env).toEqual([{ name: "A", value: "1" }]);
    expect(spec?.template.spec?.terminationGracePeriodSeconds).toBe(13);
    expect(m.notes.join(" ")).toMatch(/rounded up to 13/);
  });

  it("service: NodePort 30080 → the scenario's port, externalTrafficPolicy Cluster", () => {
    const m = buildManifests({ scenario: scenario({ port: 3000 }), image: IMAGE, runId: RUN_ID, preStopSleep: true });
    expect(m.service.spec).toMatchObject({
      type: "NodePort",
      externalTrafficPolicy: "Cluster",
      ports: [{ port: 80, targetPort: 3000, nodePort: 30080, protocol: "TCP" }],
    });
  });
});

describe("stop signal", () => {
  it("no stopSignal in the scenario: no lifecycle.stopSignal, no spec.os (older clusters get what they always got)", () => {
    for (const preStop of [{ type: "none" as const }, { type: "sleep" as const, seconds: 2 }]) {
      const m = buildManifests({ scenario: scenario({ preStop }), image: IMAGE, runId: RUN_ID, preStopSleep: true });
      const pod = m.deployment.spec?.template.spec;
      expect(pod?.os).toBeUndefined();
      expect(pod?.containers[0]?.lifecycle?.stopSignal).toBeUndefined();
      expect(m.notes.join(" ")).not.toMatch(/stopSignal/);
    }
    const bare = buildManifests({ scenario: scenario(), image: IMAGE, runId: RUN_ID, preStopSleep: true });
    expect(bare.deployment.spec?.template.spec?.containers[0]?.lifecycle).toBeUndefined();
  });

  it("the scenario's stopSignal: lifecycle.stopSignal, spec.os.name linux and a note on the 1.33 alpha gate", () => {
    const m = buildManifests({
      scenario: scenario({ stopSignal: "SIGQUIT", preStop: { type: "sleep", seconds: 2 } }),
      image: IMAGE,
      runId: RUN_ID,
      preStopSleep: true,
    });
    const pod = m.deployment.spec?.template.spec;
    expect(pod?.os).toEqual({ name: "linux" });
    expect(pod?.containers[0]?.lifecycle).toEqual({ preStop: { sleep: { seconds: 2 } }, stopSignal: "SIGQUIT" });
    expect(m.notes.join(" ")).toMatch(/stopSignal SIGQUIT needs Kubernetes 1\.33\+ with the ContainerStopSignals/);
    const alone = buildManifests({
      scenario: scenario({ stopSignal: "SIGWINCH" }),
      image: IMAGE,
      runId: RUN_ID,
      preStopSleep: true,
    });
    expect(alone.deployment.spec?.template.spec?.containers[0]?.lifecycle).toEqual({ stopSignal: "SIGWINCH" });
  });

  it("the schema accepts signal names only", () => {
    for (const ok of ["SIGTERM", "SIGQUIT", "SIGWINCH", "SIGRTMIN+3", "SIGRTMAX-1"]) {
      expect(ScenarioSpec.safeParse({ name: "x", image: { style: "nginx" }, stopSignal: ok }).success).toBe(true);
    }
    for (const bad of ["QUIT", "sigquit", "3", "SIGFOO", "SIGRTMIN+16", ""]) {
      expect(ScenarioSpec.safeParse({ name: "x", image: { style: "nginx" }, stopSignal: bad }).success).toBe(false);
    }
  });
});

describe("preStop choice", () => {
  it("sleep uses the built-in action where supported, else exec sleep with a note", () => {
    expect(preStopHandler({ type: "sleep", seconds: 5 }, 8080, { preStopSleep: true })).toEqual({
      handler: { sleep: { seconds: 5 } },
      notes: [],
    });
    const fallback = preStopHandler({ type: "sleep", seconds: 5 }, 8080, { preStopSleep: false });
    expect(fallback.handler).toEqual({ exec: { command: ["sleep", "5"] } });
    expect(fallback.notes[0]).toMatch(/no preStop sleep action.*image must contain `sleep`/);
    const fractional = preStopHandler({ type: "sleep", seconds: 1.5 }, 8080, { preStopSleep: true });
    expect(fractional.handler).toEqual({ exec: { command: ["sleep", "1.5"] } });
    expect(fractional.notes[0]).toMatch(/whole seconds/);
    expect(preStopHandler({ type: "sleep", seconds: 0 }, 8080, { preStopSleep: true }).handler).toBeUndefined();
    expect(preStopHandler({ type: "sleep", seconds: 0 }, 8080, { preStopSleep: true, preStopSleepZero: true })).toEqual(
      {
        handler: { sleep: { seconds: 0 } },
        notes: [],
      },
    );
  });

  it("exec and httpGet (port defaults to the scenario's)", () => {
    expect(preStopHandler({ type: "exec", command: ["x", "y"] }, 8080, { preStopSleep: true }).handler).toEqual({
      exec: { command: ["x", "y"] },
    });
    expect(preStopHandler({ type: "httpGet", path: "/drain" }, 8080, { preStopSleep: true }).handler).toEqual({
      httpGet: { path: "/drain", port: 8080, scheme: "HTTP" },
    });
    expect(preStopHandler({ type: "none" }, 8080, { preStopSleep: true }).handler).toBeUndefined();
  });
});
