// The local runtime runs a workload's pod template as a kubelet would (issue 16, item 3): the shop-web
// chart (an app behind a Debian nginx proxy sidecar in one pod) deleted under load, and the gunicorn
// StatefulSet's native sidecar stopped after the server. Until the runner builds the manifests source
// (prepareStep), the backend is driven directly with a source built from the fixtures.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { WorkloadSource } from "../../../src/backends/backend.js";
import { LocalBackend, removeLabelledContainers } from "../../../src/backends/local/backend.js";
import { runVolumeRoot } from "../../../src/backends/local/workload-run.js";
import { ensureStyleImages } from "../../../src/images/build.js";
import type { TimelineEvent } from "../../../src/model/events.js";
import { EventLog } from "../../../src/observe/events.js";
import { parseScenario } from "../../../src/scenario/load.js";
import type { ImageStyle } from "../../../src/scenario/schema.js";
import { LABEL_RUN, newRunId } from "../../../src/util/labels.js";
import { loadManifestSet, type ManifestSet, type Workload } from "../../../src/workload/index.js";

const WORKLOADS = join(import.meta.dirname, "../../../fixtures/workloads");
const backend = new LocalBackend();
const runIds: string[] = [];

afterAll(async () => {
  for (const runId of runIds) await backend.sweep(runId);
});

/** The fixtures name graceful-e2e/<style>:local: point them at the style images this machine built. */
async function withLocalImages(set: ManifestSet): Promise<string[]> {
  const spec = (set.workload.entry.object as Workload).spec?.template.spec;
  const containers = [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
  const styles = [...new Set(containers.map((c) => /^graceful-e2e\/([a-z0-9-]+):local$/.exec(c.image ?? "")?.[1]))];
  const built = await ensureStyleImages(styles.filter((s) => s !== undefined) as ImageStyle[]);
  for (const c of containers) {
    const style = /^graceful-e2e\/([a-z0-9-]+):local$/.exec(c.image ?? "")?.[1];
    const ref = built.find((b) => b.style === style)?.ref;
    if (ref) c.image = ref;
  }
  return built.map((b) => b.ref);
}

async function deploy(yaml: string, manifests: string, port?: string) {
  const { scenario } = parseScenario("inline.yaml", yaml);
  const set = await loadManifestSet({ manifests: [manifests], ...(port ? { port } : {}) }, "local");
  const images = await withLocalImages(set);
  const source: WorkloadSource = { kind: "manifests", set, images };
  const sink = new EventLog();
  const runId = newRunId();
  runIds.push(runId);
  const workload = await backend.deploy(scenario, source, sink, runId);
  return { workload, sink, runId, disruption: scenario.disruption };
}

/** A bounded load: `workers` loops of GET / until stop() (at most 60 s), statuses counted. */
function load(port: number, workers = 4) {
  const counts = new Map<string, number>();
  const deadline = Date.now() + 60_000;
  let stopped = false;
  const count = (k: string) => counts.set(k, (counts.get(k) ?? 0) + 1);
  const loops = Array.from({ length: workers }, async () => {
    while (!stopped && Date.now() < deadline) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5000) });
        await res.arrayBuffer();
        count(String(res.status));
      } catch (err) {
        count(
          `error ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`,
        );
      }
    }
  });
  return {
    counts,
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

const containerEvents = (events: TimelineEvent[], kind: string, pod: string) =>
  events.filter((e) => e.kind === kind && e.pod === pod).map((e) => ({ container: e.detail?.container, at: e.at }));

/** shop-web (2 replicas) deployed, one pod deleted under load; what the load saw and each container's signal. */
async function shopWebUnderLoad(name: string, extra = "") {
  const deployed = await deploy(
    `name: ${name}\nworkload: {manifests: x}\nreplicas: 2\nlocal: {replacementPod: false}\n${extra}`,
    join(WORKLOADS, "shop-web/rendered.yaml"),
  );
  const { workload, sink, disruption } = deployed;
  // Through the proxy to the app on 127.0.0.1:9000 (HOST and PORT from the ConfigMap via envFrom).
  const first = await fetch(`http://127.0.0.1:${workload.target.port}/`);
  expect(first.status).toBe(200);
  await first.arrayBuffer();
  const traffic = load(workload.target.port);
  await new Promise((r) => setTimeout(r, 1000));
  const victim = workload.pods[0] as string;
  const outcome = await workload.disrupt(disruption, { victims: [victim] });
  await new Promise((r) => setTimeout(r, 500));
  await traffic.stop();
  const [pod] = outcome.pods;
  const deleteAt = pod?.deleteAt ?? 0;
  const signals = containerEvents(sink.events, "sigterm-sent", victim);
  const signalAt = (c: string) => (signals.find((s) => s.container === c)?.at ?? Number.NaN) - deleteAt;
  const exitAt = (o: { exitedAt?: number } | undefined) => (o?.exitedAt ?? Number.NaN) - deleteAt;
  console.log(
    `${name}: load during the delete (status → count) ${JSON.stringify(Object.fromEntries(traffic.counts))}; ` +
      `app SIGTERM +${signalAt("app")} ms, exit +${exitAt(pod?.sidecars?.[0])} ms (code ${pod?.sidecars?.[0]?.exitCode}); ` +
      `proxy SIGTERM +${signalAt("proxy")} ms, exit +${exitAt(pod)} ms (code ${pod?.exitCode})`,
  );
  return { ...deployed, pod, signals, signalAt };
}

describe("local runtime: a workload's pod template", () => {
  it("shop-web: app + nginx proxy in one pod, deleted under load: both stopped, each container's outcome filled", async () => {
    const { workload, runId, pod, signals, signalAt } = await shopWebUnderLoad("shop-web-local");
    expect(workload.pod.appContainer).toBe("proxy");
    expect(workload.pod.containers).toEqual([
      expect.objectContaining({ name: "app", role: "sidecar" }),
      expect.objectContaining({ name: "proxy", role: "app" }),
    ]);
    expect(workload.pod.terminationGracePeriodSeconds).toBe(20);
    expect(pod?.container).toBe("proxy");
    expect(pod?.pid1Cmdline).toContain("nginx");
    expect(pod?.stopSignal?.signal).toBe("SIGTERM");
    expect(pod?.exitCode).toEqual(expect.any(Number));
    expect(pod?.exitedAt).toEqual(expect.any(Number));
    expect(pod?.sidecars).toHaveLength(1);
    const app = pod?.sidecars?.[0];
    expect(app?.container).toBe("app");
    expect(app?.pid1Cmdline).toContain("node");
    expect(app?.stopSignal?.signal).toBe("SIGTERM");
    expect(app?.exitCode).toEqual(expect.any(Number));
    expect(app?.exitEvidence).toBeDefined();
    // Both containers got their stop signal; the proxy's only after its preStop (exec sleep 2).
    expect(signals.map((s) => s.container).sort()).toEqual(["app", "proxy"]);
    expect(signalAt("proxy")).toBeGreaterThanOrEqual(1900);
    expect(signalAt("app")).toBeLessThan(1000);
    await workload.teardown();
    const left = await removeLabelledContainers([`${LABEL_RUN}=${runId}`]);
    expect(left).toEqual([]);
    expect(existsSync(runVolumeRoot(runId))).toBe(false);
  });

  it("shop-web with a 5 s preStop sleep on both containers (the override): both signalled after it", async () => {
    const { pod, signals, signalAt, workload } = await shopWebUnderLoad(
      "shop-web-prestop-local",
      "preStop: {type: sleep, seconds: 5}\n",
    );
    expect(signals.map((s) => s.container).sort()).toEqual(["app", "proxy"]);
    expect(signalAt("app")).toBeGreaterThanOrEqual(4900);
    expect(signalAt("proxy")).toBeGreaterThanOrEqual(4900);
    expect(pod?.sidecars?.[0]?.exitCode).toEqual(expect.any(Number));
    await workload.teardown();
  });

  it("shop-web with its proxy as a native sidecar serving the Service's port: the proxy is the app, stopped last", async () => {
    // The container the load reaches is a native sidecar here: the pod's evidence is judged against it
    // (its outcome was once missing: no container of the pod had the role "app").
    const { workload, sink, disruption } = await deploy(
      "name: shop-web-native-local\nworkload: {manifests: x}\nreplicas: 1\nlocal: {replacementPod: false}\n",
      join(WORKLOADS, "shop-web-native-sidecar/rendered.yaml"),
    );
    expect(workload.pod.appContainer).toBe("proxy");
    const victim = workload.pods[0] as string;
    const outcome = await workload.disrupt(disruption, { victims: [victim] });
    const [pod] = outcome.pods;
    expect(pod?.container).toBe("proxy");
    expect(pod?.exitCode).toEqual(expect.any(Number));
    expect(pod?.sidecars?.map((s) => [s.container, s.role])).toEqual([["app", "sidecar"]]);
    const appExit = containerEvents(sink.events, "container-exit", victim).find((e) => e.container === "app")?.at;
    const proxySignal = containerEvents(sink.events, "sigterm-sent", victim).find((e) => e.container === "proxy")?.at;
    expect(proxySignal).toBeGreaterThanOrEqual(appExit ?? Number.POSITIVE_INFINITY);
    await workload.teardown();
  });

  it("gunicorn-api: the native sidecar starts first and is stopped after the server exited", async () => {
    const { workload, sink, disruption } = await deploy(
      "name: gunicorn-local\nworkload: {manifests: x, port: web}\nreplicas: 1\nlocal: {replacementPod: false}\n",
      join(WORKLOADS, "gunicorn-api/rendered.yaml"),
      "web",
    );
    expect(workload.pod.containers.map((c) => [c.name, c.role])).toEqual([
      ["log-shipper", "native-sidecar"],
      ["gunicorn", "app"],
    ]);
    const victim = workload.pods[0] as string;
    const outcome = await workload.disrupt(disruption, { victims: [victim] });
    const [pod] = outcome.pods;
    const exits = containerEvents(sink.events, "container-exit", victim);
    const signals = containerEvents(sink.events, "sigterm-sent", victim);
    const serverExit = exits.find((e) => e.container === "gunicorn")?.at ?? Number.POSITIVE_INFINITY;
    const sidecarSignal = signals.find((e) => e.container === "log-shipper")?.at ?? 0;
    console.log("gunicorn-api: events", JSON.stringify({ exits, signals }));
    expect(sidecarSignal).toBeGreaterThanOrEqual(serverExit);
    expect(pod?.container).toBe("gunicorn");
    expect(pod?.sidecars?.map((s) => s.container)).toEqual(["log-shipper"]);
    expect(pod?.sidecars?.[0]?.exitCode).toEqual(expect.any(Number));
    await workload.teardown();
  });
});
