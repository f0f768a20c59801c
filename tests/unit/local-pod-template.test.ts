import type { KubernetesObject, V1PodTemplateSpec } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { entrypointAndCmd, expandVars, type PodTemplateInput, podPlan } from "../../src/backends/local/pod-template.js";
import { nextState } from "../../src/backends/local/probes.js";
import type { Workload } from "../../src/workload/index.js";

const configMap: KubernetesObject & { data: Record<string, string> } = {
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "cfg" },
  data: { HOST: "127.0.0.1", PORT: "9000", "proxy.conf": "daemon off;\n" },
};
const secret: KubernetesObject & { data: Record<string, string>; stringData: Record<string, string> } = {
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name: "sec" },
  data: { TOKEN: Buffer.from("s3cret").toString("base64") },
  stringData: { PLAIN: "as-written" },
};

function input(template: V1PodTemplateSpec, over: Partial<PodTemplateInput> = {}): PodTemplateInput {
  return {
    template,
    objects: [configMap, secret],
    appContainer: "proxy",
    appPort: 8080,
    pod: "ge-p-0",
    labels: { "graceful-e2e.run": "r1" },
    volumeDir: "/tmp/ge/ge-p-0",
    nativeSidecars: true,
    ...over,
  };
}

const shopWeb: V1PodTemplateSpec = {
  spec: {
    terminationGracePeriodSeconds: 20,
    containers: [
      {
        name: "app",
        image: "exec-form:1",
        envFrom: [{ configMapRef: { name: "cfg" } }, { secretRef: { name: "sec" }, prefix: "S_" }],
        env: [
          { name: "PORT", value: "9001" },
          { name: "URL", value: "http://$(HOST):$(PORT)/$$(KEEP)" },
          { name: "TOKEN", valueFrom: { secretKeyRef: { name: "sec", key: "TOKEN" } } },
          { name: "POD", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
        ],
        readinessProbe: { httpGet: { path: "/healthz", port: 9000 }, periodSeconds: 1, failureThreshold: 1 },
      },
      {
        name: "proxy",
        image: "nginx:1",
        command: ["nginx", "-c", "/etc/shop/proxy.conf"],
        workingDir: "/srv",
        ports: [{ name: "http", containerPort: 8080 }],
        readinessProbe: { tcpSocket: { port: "http" } },
        lifecycle: { preStop: { exec: { command: ["sleep", "2"] } }, stopSignal: "SIGQUIT" },
        volumeMounts: [
          { name: "conf", mountPath: "/etc/shop", readOnly: true },
          { name: "cache", mountPath: "/cache" },
          { name: "conf", mountPath: "/etc/one.conf", subPath: "proxy.conf" },
        ],
      },
    ],
    volumes: [
      { name: "conf", configMap: { name: "cfg", items: [{ key: "proxy.conf", path: "proxy.conf" }] } },
      { name: "cache", emptyDir: {} },
    ],
  },
};

describe("podPlan: a pod template → Docker's create options", () => {
  const plan = podPlan(input(shopWeb));
  const [app, proxy] = plan.containers;

  it("envFrom first (ConfigMap values, Secret data decoded, prefix), env after it wins, $(VAR) expanded", () => {
    expect(app?.create.Env).toEqual([
      "HOST=127.0.0.1",
      "PORT=9001",
      "proxy.conf=daemon off;\n",
      "S_TOKEN=s3cret",
      "S_PLAIN=as-written",
      "URL=http://127.0.0.1:9001/$(KEEP)",
      "TOKEN=s3cret",
      "POD=ge-p-0",
    ]);
  });

  it("command replaces the ENTRYPOINT and drops the CMD; no command keeps the image's", () => {
    expect(proxy?.create.Entrypoint).toEqual(["nginx", "-c", "/etc/shop/proxy.conf"]);
    expect(proxy?.create.Cmd).toEqual([]);
    expect(proxy?.create.WorkingDir).toBe("/srv");
    expect(app?.create.Entrypoint).toBeUndefined();
    expect(app?.create.Cmd).toBeUndefined();
    expect(entrypointAndCmd({ name: "x", args: ["--port", "$(PORT)"] }, new Map([["PORT", "1"]]))).toEqual({
      Cmd: ["--port", "1"],
    });
    expect(entrypointAndCmd({ name: "x", command: ["a"], args: ["b"] }, new Map())).toEqual({
      Entrypoint: ["a"],
      Cmd: ["b"],
    });
  });

  it("joins every container to the holder's network namespace; the holder publishes the ports on 127.0.0.1", () => {
    for (const c of plan.containers) expect(c.create.HostConfig.NetworkMode).toBe("container:ge-p-0");
    expect(plan.holder.name).toBe("ge-p-0");
    expect(plan.ports).toEqual([8080, 9000]);
    expect(plan.holder.HostConfig.PortBindings?.["8080/tcp"]).toEqual([{ HostIp: "127.0.0.1", HostPort: "" }]);
    expect(plan.holder.Labels["graceful-e2e.run"]).toBe("r1");
    expect(proxy?.create.Labels).toMatchObject({ "graceful-e2e.run": "r1", "graceful-e2e.container": "proxy" });
  });

  it("ConfigMap volumes as files (items), emptyDir as a directory, subPath as the file; ConfigMap/Secret always read-only", () => {
    expect(plan.files).toEqual([{ path: "/tmp/ge/ge-p-0/conf/proxy.conf", content: Buffer.from("daemon off;\n") }]);
    expect(plan.directories).toEqual(["/tmp/ge/ge-p-0/conf", "/tmp/ge/ge-p-0/cache"]);
    expect(proxy?.create.HostConfig.Binds).toEqual([
      "/tmp/ge/ge-p-0/conf:/etc/shop:ro",
      "/tmp/ge/ge-p-0/cache:/cache",
      "/tmp/ge/ge-p-0/conf/proxy.conf:/etc/one.conf:ro",
    ]);
  });

  it("probes with the API's defaults and named ports resolved; preStop and stopSignal from lifecycle", () => {
    expect(app?.readiness).toEqual({
      action: { type: "httpGet", path: "/healthz", port: 9000 },
      initialDelayMs: 0,
      periodMs: 1000,
      timeoutMs: 1000,
      successThreshold: 1,
      failureThreshold: 1,
    });
    expect(proxy?.readiness?.action).toEqual({ type: "tcpSocket", port: 8080 });
    expect(proxy?.readiness?.periodMs).toBe(10_000);
    expect(proxy?.readiness?.failureThreshold).toBe(3);
    expect(proxy?.preStop).toEqual({ type: "exec", command: ["sleep", "2"] });
    expect(proxy?.stopSignal).toBe("SIGQUIT");
    expect(app?.preStop).toEqual({ type: "none" });
    expect([app?.role, proxy?.role]).toEqual(["sidecar", "app"]);
  });

  it("native sidecars and init containers first, in order; before 1.29 a native sidecar is a plain init container", () => {
    const template: V1PodTemplateSpec = {
      spec: {
        initContainers: [
          { name: "shipper", image: "s", restartPolicy: "Always" },
          { name: "wait", image: "w", command: ["sleep", "1"] },
        ],
        containers: [{ name: "proxy", image: "a", ports: [{ containerPort: 8080 }] }],
      },
    };
    expect(podPlan(input(template)).containers.map((c) => [c.name, c.role])).toEqual([
      ["shipper", "native-sidecar"],
      ["wait", "init"],
      ["proxy", "app"],
    ]);
    const old = podPlan(input(template, { nativeSidecars: false }));
    expect(old.containers[0]?.role).toBe("init");
    expect(old.notes.join()).toMatch(/< 1\.29/);
  });

  it("names what is missing: a ConfigMap, a key, a named port, a volume", () => {
    const missing = (c: object) => () =>
      podPlan(input({ spec: { containers: [{ name: "proxy", image: "a", ...c }] } }));
    expect(missing({ envFrom: [{ configMapRef: { name: "nope" } }] })).toThrow(
      'container proxy envFrom: ConfigMap "nope" is not in the manifests',
    );
    expect(missing({ envFrom: [{ configMapRef: { name: "nope", optional: true } }] })).not.toThrow();
    expect(missing({ env: [{ name: "X", valueFrom: { configMapKeyRef: { name: "cfg", key: "NO" } } }] })).toThrow(
      'ConfigMap "cfg" has no key "NO"',
    );
    expect(missing({ readinessProbe: { httpGet: { port: "web" } } })).toThrow('port "web" is not one of its ports');
    expect(missing({ volumeMounts: [{ name: "v", mountPath: "/v" }] })).toThrow("volumeMounts v: no such volume");
  });

  it("expandVars leaves unknown references and unescapes $$", () => {
    expect(expandVars("$(A)-$(B)-$$(A)", new Map([["A", "1"]]))).toBe("1-$(B)-$(A)");
  });
});

describe("readiness thresholds", () => {
  const plan = { successThreshold: 2, failureThreshold: 3 };
  it("flips only after that many consecutive results the other way", () => {
    let s = { ready: false, successes: 0, failures: 0 };
    s = nextState(s, true, plan);
    expect(s.ready).toBe(false);
    s = nextState(s, true, plan);
    expect(s.ready).toBe(true);
    s = nextState(nextState(s, false, plan), false, plan);
    expect(s.ready).toBe(true);
    s = nextState(s, true, plan);
    s = nextState(nextState(nextState(s, false, plan), false, plan), false, plan);
    expect(s.ready).toBe(false);
  });
});

/** A workload fixture as the local runtime plans it for a scenario (its run's volume folder made: remove it). */
async function fixturePlan(fixture: string, scenarioYaml: string, runId: string) {
  const { loadManifestSet } = await import("../../src/workload/index.js");
  const { parseScenario } = await import("../../src/scenario/load.js");
  const { deployedPod, localPodPlan, prepareLocalWorkload, removeRunVolumes } = await import(
    "../../src/backends/local/workload-run.js"
  );
  const manifests = new URL(`../../fixtures/workloads/${fixture}/rendered.yaml`, import.meta.url).pathname;
  const { scenario } = parseScenario("s.yaml", scenarioYaml);
  const set = await loadManifestSet({ manifests: [manifests] }, "local");
  const w = await prepareLocalWorkload(scenario, set, runId);
  const plan = localPodPlan(w, "ge-s-0", runId, "s");
  return { w, plan, pod: deployedPod(w, plan), remove: () => removeRunVolumes(runId) };
}

describe("the shop-web fixture as the local runtime plans it", () => {
  it("the proxy serves the Service's port, the app is its sidecar; overrides reach every container", async () => {
    const { w, plan, pod, remove } = await fixturePlan(
      "shop-web",
      "name: s\nworkload: {manifests: x}\npreStop: {type: sleep, seconds: 5}\nlocal: {kubernetesVersion: '1.29'}\n",
      "unit-run",
    );
    try {
      expect(pod).toEqual({
        replicas: 3,
        terminationGracePeriodSeconds: 20,
        appContainer: "proxy",
        containers: [
          { name: "app", image: "graceful-e2e/exec-form:local", role: "sidecar" },
          { name: "proxy", image: "graceful-e2e/nginx:local", role: "app" },
        ],
        // The app container's (the proxy's) hook as deployed: what its SIGTERM is timed against.
        preStop: { type: "exec", command: ["sleep", "5"] },
      });
      // 1.29: no preStop sleep action, so the override is an exec sleep in each container.
      expect(plan.containers.map((c) => c.preStop)).toEqual([
        { type: "exec", command: ["sleep", "5"] },
        { type: "exec", command: ["sleep", "5"] },
      ]);
      expect(plan.files.map((f) => f.path.split("/").slice(-2).join("/"))).toEqual(["proxy-config/proxy.conf"]);
      expect(plan.containers[0]?.create.Env).toEqual(expect.arrayContaining(["HOST=127.0.0.1", "PORT=9000"]));
      expect(w.notes.join("\n")).toMatch(/container app livenessProbe: not honoured locally/);
    } finally {
      await remove();
    }
  });
});

describe("the shop-web native-sidecar fixture as the local runtime plans it", () => {
  const manifests = new URL("../../fixtures/workloads/shop-web-native-sidecar/rendered.yaml", import.meta.url).pathname;

  it("1.29+: the proxy starts first as a native sidecar and serves the port; the override reaches the app only", async () => {
    const { plan, pod, remove } = await fixturePlan(
      "shop-web-native-sidecar",
      "name: s\nworkload: {manifests: x}\npreStop: {type: sleep, seconds: 5}\n",
      "unit-native",
    );
    try {
      expect(pod.containers.map((c) => [c.name, c.role])).toEqual([
        ["proxy", "native-sidecar"],
        ["app", "sidecar"],
      ]);
      expect(pod.appContainer).toBe("proxy");
      // The override reached the app only: the pod's serving container (the native proxy) has no hook.
      expect(pod.preStop).toEqual({ type: "none" });
      // 1.33 (the default): the sleep action on the app; the native sidecar keeps its own (none).
      expect(plan.containers.map((c) => [c.name, c.preStop])).toEqual([
        ["proxy", { type: "none" }],
        ["app", { type: "sleep", seconds: 5 }],
      ]);
    } finally {
      await remove();
    }
  });

  it("before 1.29 the plan refuses it: the proxy would be a plain init container and the pod never start", async () => {
    const { loadManifestSet } = await import("../../src/workload/index.js");
    const set = await loadManifestSet({ manifests: [manifests] }, "local");
    const template = (set.workload.entry.object as Workload).spec?.template ?? {};
    expect(() =>
      podPlan(input(template, { objects: set.objects.map((o) => o.object), nativeSidecars: false })),
    ).toThrow(
      "pod ge-p-0: the Service's port is served by proxy, an initContainer with restartPolicy Always (a native sidecar): " +
        "Kubernetes before 1.29 (local.kubernetesVersion) has no native sidecars (1.29+)",
    );
    const plan = podPlan(input(template, { objects: set.objects.map((o) => o.object) }));
    expect(plan.containers.map((c) => c.role)).toEqual(["native-sidecar", "sidecar"]);
  });
});
