import { join } from "node:path";
import type { V1Deployment, V1StatefulSet } from "@kubernetes/client-node";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Service } from "kubernetes-models/v1/Service";
import { describe, expect, it } from "vitest";
import { objectLabels } from "../../src/k8s/manifests.js";
import { loadScenarios, parseScenario } from "../../src/scenario/load.js";
import { type PodOverrides, ScenarioSpec } from "../../src/scenario/schema.js";
import {
  applyOverrides,
  loadManifestSet,
  localLimitations,
  ManifestError,
  type ManifestSet,
  parseManifests,
  readManifests,
  selectManifestSet,
} from "../../src/workload/index.js";

const WORKLOADS = join(import.meta.dirname, "../../fixtures/workloads");
const SHOP = join(WORKLOADS, "shop-web/rendered.yaml");
const API = join(WORKLOADS, "gunicorn-api/rendered.yaml");
const NS = "ge-shop-web-abcd1234";
const LABELS = objectLabels(ScenarioSpec.parse({ name: "shop-web", image: { style: "exec" } }), "20261207-abcd1234");
const SUPPORT = { preStopSleep: true, preStopSleepZero: true };

type Validatable = new (data: unknown) => { validate(): void };
/** Validates an object against the Kubernetes OpenAPI schema; throws what is wrong. */
const validate = (model: unknown, object: unknown) => new (model as Validatable)(object).validate();

const shop = () => loadManifestSet({ manifests: [SHOP] }, NS);
const apply = (set: ManifestSet, overrides: PodOverrides = {}, nodePort?: number) =>
  applyOverrides({
    set,
    overrides,
    namespace: NS,
    labels: LABELS,
    support: SUPPORT,
    ...(nodePort ? { nodePort } : {}),
  });

/** The one-line messages a bad manifest text is refused with. */
function refusal(text: string, options: { name?: string; port?: string } = {}): string[] {
  try {
    selectManifestSet(parseManifests(text, "bad.yaml"), { namespace: NS, ...options });
  } catch (err) {
    expect(err).toBeInstanceOf(ManifestError);
    return (err as Error).message.split("\n");
  }
  return ["accepted"];
}

const DEPLOYMENT = (name: string, labels = `app: ${name}`) => `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}}
spec:
  selector: {matchLabels: {${labels}}}
  template:
    metadata: {labels: {${labels}}}
    spec: {containers: [{name: c, image: x/y:1, ports: [{containerPort: 8080}]}]}
`;

describe("a chart-like manifest set (sample app behind an nginx sidecar)", () => {
  it("finds the Deployment, the Service selecting it and its http port, served by the proxy", async () => {
    const set = await shop();
    expect(set.workload).toMatchObject({ kind: "Deployment", name: "shop-web" });
    expect(set.service?.name).toBe("shop-web");
    expect(set.port).toEqual({ servicePort: 80, name: "http", containerPort: 8080, container: "proxy" });
    expect(set.notes).toContain('Service "shop-web" has 2 ports: the load goes to http (workload.port chooses)');
    expect(set.objects.map((e) => e.object.kind)).toEqual([
      "ServiceAccount",
      "ConfigMap",
      "Service",
      "Deployment",
      "PodDisruptionBudget",
    ]);
  });

  it("workload.port chooses another Service port by name", async () => {
    const set = await loadManifestSet({ manifests: [SHOP], port: "metrics" }, NS);
    expect(set.port).toMatchObject({ servicePort: 9100, name: "metrics", containerPort: 9000 });
  });

  it("as shipped: every object in the run's namespace and labelled, the manifests' pod kept", async () => {
    const applied = apply(await shop());
    for (const o of applied.objects) {
      expect(o.metadata?.namespace).toBe(NS);
      expect(o.metadata?.labels).toMatchObject(LABELS);
    }
    const pod = applied.workload.spec?.template;
    expect(pod?.metadata?.labels).toMatchObject({ ...LABELS, "app.kubernetes.io/name": "shop-web" });
    expect(pod?.spec?.containers.map((c) => c.name)).toEqual(["app", "proxy"]);
    expect(pod?.spec?.containers[1]?.lifecycle).toEqual({ preStop: { exec: { command: ["sleep", "2"] } } });
    expect(pod?.spec?.containers[0]?.envFrom).toEqual([{ configMapRef: { name: "shop-web-config" } }]);
    expect(applied).toMatchObject({ replicas: 3, terminationGracePeriodSeconds: 20, serviceMade: false, notes: [] });
    expect(applied.objects.map((o) => o.kind)).toEqual([
      "ServiceAccount",
      "ConfigMap",
      "Service",
      "PodDisruptionBudget",
      "Deployment",
    ]);
  });

  it("the manifests' PodDisruptionBudget is the budget in force, unless the scenario's pdb replaces it", async () => {
    const set = await shop();
    const kept = apply(set);
    expect(kept.pdb).toEqual({ name: "shop-web", maxUnavailable: 1 });
    expect(kept.objects.some((o) => o.kind === "PodDisruptionBudget")).toBe(true);
    // Two budgets over one pod make every eviction fail (500): the scenario's replaces the manifests'.
    const replaced = applyOverrides({
      set,
      overrides: {},
      namespace: NS,
      labels: LABELS,
      support: SUPPORT,
      pdb: { minAvailable: 2 },
    });
    expect(replaced.pdb).toBeUndefined();
    expect(replaced.objects.some((o) => o.kind === "PodDisruptionBudget")).toBe(false);
    expect(replaced.notes).toContain(`PodDisruptionBudget "shop-web" replaced by the scenario's pdb`);
  });

  it("overrides replace only what the scenario sets, on every container", async () => {
    const set = await shop();
    const applied = apply(set, {
      preStop: { type: "sleep", seconds: 5 },
      terminationGracePeriodSeconds: 44.5,
      replicas: 4,
    });
    const containers = applied.workload.spec?.template.spec?.containers ?? [];
    for (const c of containers) expect(c.lifecycle).toEqual({ preStop: { sleep: { seconds: 5 } } });
    expect(applied).toMatchObject({ replicas: 4, terminationGracePeriodSeconds: 45 });
    expect(applied.notes).toContain("terminationGracePeriodSeconds 44.5 rounded up to 45");
    expect(containers[0]?.readinessProbe?.exec?.command).toEqual(["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9000"]);
    // The ManifestSet itself is not changed (one set, many scenarios).
    expect((set.workload.entry.object as V1Deployment).spec?.replicas).toBe(3);
  });

  it("preStop none removes the manifests' hook; sleep falls back to exec where the server has no sleep action", async () => {
    const none = apply(await shop(), { preStop: { type: "none" } });
    for (const c of none.workload.spec?.template.spec?.containers ?? []) expect(c.lifecycle).toBeUndefined();
    const old = applyOverrides({
      set: await shop(),
      overrides: { preStop: { type: "sleep", seconds: 3 }, stopSignal: "SIGQUIT" },
      namespace: NS,
      labels: LABELS,
      support: { preStopSleep: false },
    });
    const proxy = old.workload.spec?.template.spec?.containers[1];
    expect(proxy?.lifecycle).toEqual({ preStop: { exec: { command: ["sleep", "3"] } }, stopSignal: "SIGQUIT" });
    expect(old.workload.spec?.template.spec?.os).toEqual({ name: "linux" });
    expect(old.notes.join("\n")).toMatch(/runs as exec \["sleep", "3"\]/);
    expect(old.notes.join("\n")).toMatch(/ContainerStopSignals/);
  });

  it("with a node port, the user's ClusterIP Service becomes NodePort on the chosen port only", async () => {
    const applied = apply(await shop(), {}, 30080);
    expect(applied.service.spec?.type).toBe("NodePort");
    expect(applied.service.spec?.ports?.map((p) => p.nodePort)).toEqual([undefined, 30080]);
    expect(applied.notes).toContain('Service "shop-web" made NodePort (was ClusterIP) so the load reaches it');
  });

  it("validates against the Kubernetes OpenAPI schema (kubernetes-models)", async () => {
    const applied = apply(await shop(), { preStop: { type: "httpGet", path: "/drain" } }, 30080);
    expect(() => validate(Deployment, applied.workload)).not.toThrow();
    expect(() => validate(Service, applied.service)).not.toThrow();
    const config = applied.objects.find((o) => o.kind === "ConfigMap");
    expect(() => validate(ConfigMap, config)).not.toThrow();
  });

  it("lists what the local runtime will not honour", async () => {
    expect(localLimitations(await shop())).toEqual([
      "ServiceAccount/shop-web (object): not honoured locally (no API server: only the workload's pods, its Service, ConfigMaps and Secrets are used)",
      "Deployment/shop-web spec.template.spec.serviceAccountName: not honoured locally (no API server: no service account token is mounted)",
      "Deployment/shop-web container app livenessProbe: not honoured locally (only readiness probes gate the local Service)",
      "Deployment/shop-web container app resources: not honoured locally (no Docker limits are set from it)",
      "Deployment/shop-web container app securityContext: not honoured locally (containers run as their image says)",
      "PodDisruptionBudget/shop-web (object): not honoured locally (no API server: only the workload's pods, its Service, ConfigMaps and Secrets are used)",
    ]);
  });
});

describe("a server image as a StatefulSet (gunicorn, native sidecar, headless Service)", () => {
  it("takes the client Service, not the headless one, and rewrites the chart's namespace", async () => {
    const set = await loadManifestSet({ manifests: [API] }, NS);
    expect(set.workload).toMatchObject({ kind: "StatefulSet", name: "api" });
    expect(set.service?.name).toBe("api");
    expect(set.port).toEqual({ servicePort: 8080, name: "web", containerPort: 8080, container: "gunicorn" });
    const applied = apply(set);
    expect(applied.objects.every((o) => o.metadata?.namespace === NS)).toBe(true);
    const init = (applied.workload as V1StatefulSet).spec?.template.spec?.initContainers;
    expect(init?.map((c) => [c.name, c.restartPolicy])).toEqual([
      ["log-shipper", "Always"],
      ["wait-a-moment", undefined],
    ]);
    expect(applied).toMatchObject({ replicas: 2, terminationGracePeriodSeconds: 8 });
    expect(() => validate(StatefulSet, applied.workload)).not.toThrow();
  });

  it("the overrides leave the native sidecar's lifecycle alone", async () => {
    const applied = apply(await loadManifestSet({ manifests: [API] }, NS), { preStop: { type: "sleep", seconds: 2 } });
    const spec = (applied.workload as V1StatefulSet).spec?.template.spec;
    expect(spec?.containers[0]?.lifecycle).toEqual({ preStop: { sleep: { seconds: 2 } } });
    expect(spec?.initContainers?.[0]?.lifecycle).toBeUndefined();
  });

  it("names node selection and the claims as not honoured locally, not the init containers (local runs them)", async () => {
    const lines = localLimitations(await loadManifestSet({ manifests: [API] }, NS));
    expect(lines).toEqual([
      "StatefulSet/api spec.template.spec.nodeSelector: not honoured locally (one Docker host: no node to choose)",
      "StatefulSet/api spec.volumeClaimTemplates: not honoured locally (no persistent volumes: each claim is an empty directory)",
    ]);
  });
});

describe("reading manifests", () => {
  it("a folder, stdin ('-'), empty documents and List items", async () => {
    const list = `---\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n---\n${DEPLOYMENT("web")}`;
    const objects = await readManifests([join(WORKLOADS, "shop-web"), "-"], async () => list);
    expect(objects.map((e) => `${e.origin.file.replace(WORKLOADS, "")}#${e.origin.document} ${e.object.kind}`)).toEqual(
      [
        "/shop-web/rendered.yaml#1 ServiceAccount",
        "/shop-web/rendered.yaml#2 ConfigMap",
        "/shop-web/rendered.yaml#3 Service",
        "/shop-web/rendered.yaml#4 Deployment",
        "/shop-web/rendered.yaml#5 PodDisruptionBudget",
        "<stdin>#2 ConfigMap",
        "<stdin>#3 Deployment",
      ],
    );
  });

  it("no Service: the harness makes a NodePort one from the container port", () => {
    const set = selectManifestSet(parseManifests(DEPLOYMENT("web"), "w.yaml"), { namespace: NS });
    expect(set.port).toEqual({ containerPort: 8080, container: "c" });
    const applied = apply(set, {}, 30081);
    expect(applied.serviceMade).toBe(true);
    expect(applied.service.metadata?.name).toBe("ge-web");
    expect(applied.service.spec).toMatchObject({
      type: "NodePort",
      selector: { app: "web" },
      ports: [{ port: 8080, targetPort: 8080, nodePort: 30081 }],
    });
    expect(applied.objects.map((o) => o.kind)).toEqual(["Service", "Deployment"]);
  });

  it("a scenario's workload.manifests are resolved relative to the scenario file; overrides only as given", () => {
    const { scenario } = parseScenario(
      "/suite/web.yaml",
      "name: web\nworkload: {manifests: [chart/out.yaml, '-'], name: web}\npreStop: {type: sleep, seconds: 5}\n",
    );
    expect(scenario.workload).toEqual({ manifests: ["/suite/chart/out.yaml", "-"], name: "web" });
    expect(scenario.overrides).toEqual({ preStop: { type: "sleep", seconds: 5 } });
    const image = parseScenario("/x.yaml", "name: x\nimage: {style: exec}\n").scenario;
    expect(image.overrides).toEqual({});
    expect(image).toMatchObject({ replicas: 2, terminationGracePeriodSeconds: 30, preStop: { type: "none" } });
  });

  it("a target is parsed into kind and name", () => {
    const { scenario } = parseScenario(
      "/x.yaml",
      "name: x\ntarget: {namespace: shop, workload: sts/db, service: db}\n",
    );
    expect(scenario.target).toEqual({
      namespace: "shop",
      workload: { kind: "StatefulSet", name: "db" },
      service: "db",
    });
  });
});

describe("bad manifests: one line each, naming file, document and field", () => {
  it.each([
    [
      "no workload",
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
      {},
      "bad.yaml: document 1: kind: no workload found: the manifests hold no Deployment or StatefulSet",
    ],
    [
      "two workloads",
      `${DEPLOYMENT("web")}---\n${DEPLOYMENT("worker")}`,
      {},
      'bad.yaml: document 2 (line 12): metadata.name: two workloads to test, Deployment "web" (bad.yaml document 1) and Deployment "worker": choose one with workload.name',
    ],
    [
      "a workload.name that matches nothing",
      DEPLOYMENT("web"),
      { name: "wbe" },
      'bad.yaml: document 1: kind: workload.name "wbe" matches no Deployment or StatefulSet (the manifests have: Deployment "web")',
    ],
    [
      "a Service selecting nothing",
      `${DEPLOYMENT("web")}---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {app: webb}\n  ports: [{port: 80}]\n`,
      {},
      'bad.yaml: document 2 (line 14): spec.selector: app=webb selects no pod of these manifests (pod labels: Deployment "web": app=web)',
    ],
    [
      "a cluster-scoped object",
      `apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: reader}\n---\n${DEPLOYMENT("web")}`,
      {},
      'bad.yaml: document 1 (line 2): kind: ClusterRole "reader" is cluster-scoped: the harness creates objects only in the run\'s namespace',
    ],
    [
      "another namespace",
      `${DEPLOYMENT("web").replace("{name: web}", "{name: web, namespace: shop}")}---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: kube-system\n`,
      {},
      'bad.yaml: document 2 (line 14): metadata.namespace: "kube-system" is outside the workload\'s namespace ("shop", which becomes the run\'s): the harness creates nothing there',
    ],
    [
      "unparsable YAML",
      `${DEPLOYMENT("web")}---\nkind: [unclosed\n`,
      {},
      expect.stringMatching(/^bad\.yaml: document 2 \(line \d+\): \(document\): YAML: /),
    ],
    [
      "no kind, apiVersion or name (a List item)",
      "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n- {metadata: {labels: {}}}\n",
      {},
      "bad.yaml: document 1 (line 5): items[1].apiVersion: required field is missing",
    ],
    [
      "a port nobody declares",
      DEPLOYMENT("web"),
      { port: "grpc" },
      'bad.yaml: document 1 (line 8): spec.template.spec.containers: no container port is named "grpc" and no Service selects Deployment "web": set workload.port',
    ],
  ])("%s", (_, text, options, expected) => {
    const lines = refusal(text, options);
    expect(lines[0]).toEqual(expected);
  });

  it("every problem of the item is named, on its own line", () => {
    const lines = refusal("apiVersion: v1\nkind: List\nitems:\n- {metadata: {labels: {}}}\n");
    expect(lines).toEqual([
      "bad.yaml: document 1 (line 4): items[0].apiVersion: required field is missing",
      "bad.yaml: document 1 (line 4): items[0].kind: required field is missing",
      "bad.yaml: document 1 (line 4): items[0].metadata.name: required field is missing (generateName is not supported)",
    ]);
  });

  it("a missing file is named", async () => {
    const err = await readManifests(["/nonexistent/chart.yaml"]).catch((e: unknown) => e);
    expect((err as Error).message).toBe("/nonexistent/chart.yaml: document 0: (document): no such file or directory");
  });
});

describe("the shipped workload scenarios", () => {
  it("load, and their manifests load through the module", async () => {
    const loaded = await loadScenarios([join(WORKLOADS, "scenarios")]);
    const found = await Promise.all(
      loaded.map(async ({ scenario }) => {
        const set = await loadManifestSet(scenario.workload ?? { manifests: [] }, NS);
        return [scenario.name, set.workload.name, set.port.containerPort, scenario.overrides];
      }),
    );
    expect(found).toEqual([
      ["grpc-health-workload", "health-api", 8080, {}],
      ["gunicorn-api", "api", 8080, {}],
      ["shop-web-as-shipped", "shop-web", 8080, {}],
      ["shop-web-native-sidecar-prestop", "shop-web", 8080, { preStop: { type: "sleep", seconds: 5 } }],
      ["shop-web-native-sidecar", "shop-web", 8080, {}],
      ["shop-web-no-prestop", "shop-web", 8080, { preStop: { type: "none" } }],
      ["shop-web-prestop-5s-quit", "shop-web", 8080, { preStop: { type: "sleep", seconds: 5 }, stopSignal: "SIGQUIT" }],
      ["shop-web-prestop-5s", "shop-web", 8080, { preStop: { type: "sleep", seconds: 5 } }],
      ["shop-web-proxy-fast-stop", "shop-web", 8080, {}],
    ]);
  });
});
