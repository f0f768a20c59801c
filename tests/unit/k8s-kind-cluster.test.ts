// kind cluster reuse / creation / deletion rules, image loading and the existing-cluster backend's
// guards — with every external command captured by an injected runner (nothing is executed).
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadsInCluster } from "../../src/backends/capabilities.js";
import { ExistingClusterBackend, validateExistingOptions } from "../../src/backends/existing/backend.js";
import { pushedRef, pushImages, repositoryPath } from "../../src/backends/existing/images.js";
import { KindBackend, pid1ViaCrictl } from "../../src/backends/kind/backend.js";
import { KindCluster } from "../../src/backends/kind/cluster.js";
import { checkFixedTag, loadImages, normalizeRef } from "../../src/backends/kind/images.js";
import { stylesOf } from "../../src/images/build.js";
import { CommandError, type CommandRunner } from "../../src/k8s/command.js";
import { KIND_NODE_PORTS } from "../../src/k8s/node-ports.js";
import { loadScenarios } from "../../src/scenario/load.js";
import { IMAGE_STYLES, ScenarioSpec } from "../../src/scenario/schema.js";
import { PrerequisiteError, UsageError } from "../../src/util/errors.js";
import { replyJson, useFakeServer } from "./fake-api-server.js";

const KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
- name: kind-ge
  cluster: {server: "https://127.0.0.1:40123", insecure-skip-tls-verify: true}
users:
- name: kind-ge
  user: {token: abc}
contexts:
- name: kind-ge
  context: {cluster: kind-ge, user: kind-ge}
current-context: kind-ge
`;

/** A fake world: which clusters exist, and answers for docker; records every call. */
function fakeRunner(world: {
  clusters?: string[];
  kind?: boolean;
  docker?: boolean | "daemon-down";
  nodesRunning?: boolean;
  portMapped?: boolean;
  /** NodePorts the control plane publishes on 127.0.0.1 (default: kind-config.yaml's 30080-30087). */
  published?: number[];
  crictl?: Record<string, Array<{ id: string; repoTags: string[] }>>;
  images?: Record<string, string>;
  /** What `kind get kubeconfig` prints (default: a server nothing answers on). */
  kubeconfig?: () => string;
}) {
  const calls: string[] = [];
  const clusters = new Set(world.clusters ?? []);
  const run: CommandRunner = async (file, args) => {
    calls.push([file, ...args].join(" "));
    const missing = () => new CommandError(file, args, undefined, "", "ENOENT");
    if (file === "kind") {
      if (world.kind === false) throw missing();
      const [a, b] = args;
      if (a === "version") return { stdout: "kind v0.29.0 go1.24.2 linux/amd64", stderr: "" };
      if (a === "get" && b === "clusters") return { stdout: [...clusters].join("\n"), stderr: "" };
      if (a === "get" && b === "nodes") return { stdout: "ge-control-plane\nge-worker\n", stderr: "" };
      if (a === "get" && b === "kubeconfig") return { stdout: world.kubeconfig?.() ?? KUBECONFIG, stderr: "" };
      if (a === "create") {
        clusters.add(args[args.indexOf("--name") + 1] ?? "");
        return { stdout: "", stderr: "Creating cluster ..." };
      }
      if (a === "delete") {
        clusters.delete(args[args.indexOf("--name") + 1] ?? "");
        return { stdout: "", stderr: "Deleting cluster ..." };
      }
      if (a === "load") return { stdout: "", stderr: "" };
    }
    if (file === "docker") {
      if (world.docker === false) throw missing();
      if (world.docker === "daemon-down") {
        throw new CommandError(file, args, 1, "Cannot connect to the Docker daemon at unix:///var/run/docker.sock");
      }
      const [a] = args;
      if (a === "version") return { stdout: "27.5.1", stderr: "" };
      if (a === "inspect") {
        const running = world.nodesRunning ?? true;
        return { stdout: `/ge-control-plane ${running}\n/ge-worker ${running}`, stderr: "" };
      }
      if (a === "port") {
        const ports = (world.portMapped ?? true) ? (world.published ?? [...KIND_NODE_PORTS]) : [];
        const lines = ["6443/tcp -> 127.0.0.1:41283", ...ports.map((p) => `${p}/tcp -> 127.0.0.1:${p}`)];
        return { stdout: `${lines.join("\n")}\n`, stderr: "" };
      }
      if (a === "image" && args[1] === "inspect") {
        const ref = args.at(-1) ?? "";
        const id = world.images?.[ref];
        if (!id) throw new CommandError(file, args, 1, `Error: No such image: ${ref}`);
        return { stdout: `${id}\n`, stderr: "" };
      }
      if (a === "exec" && args[2] === "crictl") {
        return { stdout: JSON.stringify({ images: world.crictl?.[args[1] ?? ""] ?? [] }), stderr: "" };
      }
      if (a === "tag" || a === "push") return { stdout: "", stderr: "" };
    }
    throw new Error(`unexpected command: ${file} ${args.join(" ")}`);
  };
  return { run, calls, clusters };
}

const kindCalls = (calls: string[]) => calls.filter((c) => c.startsWith("kind ") && !c.startsWith("kind version"));

describe("kind cluster lifecycle", () => {
  it("reuses an existing cluster without creating it, and never deletes it", async () => {
    const f = fakeRunner({ clusters: ["ge"] });
    const cluster = new KindCluster({ name: "ge", run: f.run, configPath: "/repo/kind-config.yaml" });
    expect(await cluster.ensure()).toEqual({ created: false });
    expect(f.calls.some((c) => c.startsWith("kind create"))).toBe(false);
    expect(await cluster.teardown()).toEqual({ deleted: false, reason: 'cluster "ge" was not created by this run' });
    expect(f.calls.some((c) => c.startsWith("kind delete"))).toBe(false);
    expect(kindCalls(f.calls)).toEqual(["kind get clusters", "kind get nodes --name ge"]);
    expect(f.clusters.has("ge")).toBe(true);
  });

  it("creates the cluster from kind-config.yaml when absent, and deletes it at teardown", async () => {
    const f = fakeRunner({ clusters: ["other"] });
    const cluster = new KindCluster({ name: "ge", run: f.run, configPath: "/repo/kind-config.yaml" });
    expect(await cluster.ensure()).toEqual({ created: true });
    expect(await cluster.ensure()).toEqual({ created: true }); // memoized: one create per process
    expect(await cluster.teardown()).toMatchObject({ deleted: true });
    expect(kindCalls(f.calls)).toEqual([
      "kind get clusters",
      "kind create cluster --name ge --config /repo/kind-config.yaml --wait 120s",
      "kind delete cluster --name ge",
    ]);
    expect([...f.clusters]).toEqual(["other"]);
  });

  it("keeps a cluster it created when asked", async () => {
    const f = fakeRunner({});
    const cluster = new KindCluster({
      name: "ge",
      run: f.run,
      keep: true,
      configPath: "/repo/kind-config.yaml",
      nodeImage: "kindest/node:v1.33.1",
    });
    await cluster.ensure();
    expect(f.calls).toContain(
      "kind create cluster --name ge --config /repo/kind-config.yaml --image kindest/node:v1.33.1 --wait 120s",
    );
    expect(await cluster.teardown()).toEqual({ deleted: false, reason: 'keeping cluster "ge" as asked' });
    expect(f.calls.some((c) => c.startsWith("kind delete"))).toBe(false);
  });

  it("a cluster created by someone else in between is still not ours to delete", async () => {
    const f = fakeRunner({ clusters: [] });
    const ours = new KindCluster({ name: "ge", run: f.run });
    const theirs = new KindCluster({ name: "ge", run: f.run });
    await ours.ensure(); // creates
    await theirs.ensure(); // reuses
    expect(await theirs.teardown()).toMatchObject({ deleted: false });
    expect(f.clusters.has("ge")).toBe(true);
    expect(await ours.teardown()).toMatchObject({ deleted: true });
  });

  it("refuses a reused cluster whose nodes are stopped or that lacks the 127.0.0.1:30080 mapping", async () => {
    await expect(
      new KindCluster({ name: "ge", run: fakeRunner({ clusters: ["ge"], nodesRunning: false }).run }).ensure(),
    ).rejects.toThrow(/stopped.*never deletes a cluster it did not create/s);
    await expect(
      new KindCluster({ name: "ge", run: fakeRunner({ clusters: ["ge"], portMapped: false }).run }).ensure(),
    ).rejects.toThrow(/does not publish NodePort 30080 on 127\.0\.0\.1/);
  });

  it("runs one scenario per NodePort the cluster publishes; a cluster from an older kind-config.yaml: one at a time", async () => {
    const full = new KindBackend({ name: "ge", run: fakeRunner({ clusters: ["ge"] }).run });
    expect(await full.concurrency()).toEqual({
      max: 8,
      why: "one NodePort per scenario: 30080-30087 (kind-config.yaml)",
    });
    const old = new KindBackend({ name: "ge", run: fakeRunner({ clusters: ["ge"], published: [30080] }).run });
    expect(await old.concurrency()).toEqual({
      max: 1,
      why:
        'kind cluster "ge" publishes only NodePort 30080 of 30080-30087 on 127.0.0.1 (created from an older ' +
        "kind-config.yaml): 1 scenario(s) at a time; recreate it from kind-config.yaml (kind delete cluster --name ge) to run up to 8",
    });
    const some = new KindBackend({ name: "ge", run: fakeRunner({ clusters: ["ge"], published: [30080, 30081] }).run });
    expect((await some.concurrency()).max).toBe(2);
    // Reading the mapping creates nothing and deletes nothing.
    expect(await old.close()).toEqual({ deleted: false, reason: 'cluster "ge" was not created by this run' });
  });

  it("says what to install when kind or Docker is missing, or to start Docker", async () => {
    await expect(new KindCluster({ run: fakeRunner({ kind: false }).run }).ensure()).rejects.toThrow(PrerequisiteError);
    await expect(new KindCluster({ run: fakeRunner({ kind: false }).run }).ensure()).rejects.toThrow(
      /`kind` not found on PATH: install kind/,
    );
    await expect(new KindCluster({ run: fakeRunner({ docker: false }).run }).ensure()).rejects.toThrow(
      /`docker` is not on PATH: install Docker Engine/,
    );
    await expect(new KindCluster({ run: fakeRunner({ docker: "daemon-down" }).run }).ensure()).rejects.toThrow(
      /Docker engine is not reachable.*start Docker/,
    );
  });

  it("the kubeconfig comes from `kind get kubeconfig`, never the user's current context", async () => {
    const f = fakeRunner({ clusters: ["ge"] });
    const kc = await new KindCluster({ name: "ge", run: f.run }).kubeconfig();
    expect(f.calls).toEqual(["kind get kubeconfig --name ge"]);
    expect(kc.getCurrentCluster()?.server).toBe("https://127.0.0.1:40123");
  });
});

describe("kind image loading", () => {
  const ID = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
  const REF = "graceful-e2e/exec-form:0123456789ab";

  it("loads an image missing from a node; skips one every node has with the same content", async () => {
    const present = [{ id: ID, repoTags: [`docker.io/${REF}`] }];
    const f = fakeRunner({ images: { [REF]: ID }, crictl: { "ge-control-plane": present, "ge-worker": [] } });
    expect(await loadImages(f.run, "ge", ["ge-control-plane", "ge-worker"], [REF])).toEqual([
      { ref: REF, action: "loaded" },
    ]);
    // Only into the node that lacks it.
    expect(f.calls.filter((c) => c.startsWith("kind load"))).toEqual([
      `kind load docker-image ${REF} --name ge --nodes ge-worker`,
    ]);

    const g = fakeRunner({ images: { [REF]: ID }, crictl: { "ge-control-plane": present, "ge-worker": present } });
    expect(await loadImages(g.run, "ge", ["ge-control-plane", "ge-worker"], [REF, REF])).toEqual([
      { ref: REF, action: "present" },
    ]);
    expect(g.calls.some((c) => c.startsWith("kind load"))).toBe(false);
  });

  it("the style matrix (fixtures/scenarios, what the bench runs) loads its 8 images, none of the 8 server images", async () => {
    // bench/harness.ts prepared all of IMAGE_STYLES: bench-kind-parallel4.txt of the field report
    // (kind-v1.20.2-2node-2026-12-07) loaded nginx … go-graceful for a matrix that uses none of them.
    const loaded = await loadScenarios([join(import.meta.dirname, "..", "..", "fixtures", "scenarios")]);
    const styles = stylesOf(loaded.map((l) => l.scenario.image));
    const refOf = (s: string) => `graceful-e2e/${s}:0123456789ab`;
    const f = fakeRunner({ clusters: ["ge"], images: Object.fromEntries(IMAGE_STYLES.map((s) => [refOf(s), ID])) });
    await new KindBackend({ name: "ge", run: f.run }).prepare(styles.map((style) => ({ style, ref: refOf(style) })));
    const styleMatrix = [...IMAGE_STYLES.slice(0, 8)].sort();
    expect([...styles].sort()).toEqual(styleMatrix);
    expect(f.calls.filter((c) => c.startsWith("kind load"))).toEqual(
      styles.map((s) => `kind load docker-image ${refOf(s)} --name ge`),
    );
  });

  it("the nodes are listed once per backend, not once per scenario", async () => {
    const f = fakeRunner({ clusters: ["ge"], images: { [REF]: ID } });
    const backend = new KindBackend({ name: "ge", run: f.run });
    const image = { style: "exec-form", ref: REF };
    await backend.prepare([image]);
    const once = f.calls.filter((c) => c === "kind get nodes --name ge").length;
    await backend.prepare([image]);
    await backend.prepare([image]);
    expect(f.calls.filter((c) => c === "kind get nodes --name ge")).toHaveLength(once);
  });

  it("reloads when the tag exists on the node with other content", async () => {
    const stale = [{ id: "sha256:2222", repoTags: [`docker.io/${REF}`] }];
    const f = fakeRunner({ images: { [REF]: ID }, crictl: { n1: stale } });
    expect(await loadImages(f.run, "ge", ["n1"], [REF])).toEqual([{ ref: REF, action: "loaded" }]);
  });

  it("fixed tags only; an image missing locally says to build it", async () => {
    expect(() => checkFixedTag("app")).toThrow(/no tag/);
    expect(() => checkFixedTag("app:latest")).toThrow(/latest/);
    expect(() => checkFixedTag("localhost:5000/app")).toThrow(/no tag/);
    expect(() => checkFixedTag("app@sha256:abcd")).not.toThrow();
    await expect(loadImages(fakeRunner({}).run, "ge", ["n1"], ["x/y:1"])).rejects.toThrow(
      /not in the local Docker engine: build it first/,
    );
  });

  it("normalizes references the way containerd names them", () => {
    expect(normalizeRef("app:1")).toBe("docker.io/library/app:1");
    expect(normalizeRef("org/app:1")).toBe("docker.io/org/app:1");
    expect(normalizeRef("ghcr.io/org/app:1")).toBe("ghcr.io/org/app:1");
    expect(normalizeRef("localhost:5000/app:1")).toBe("localhost:5000/app:1");
  });
});

describe("existing-cluster backend", () => {
  const base = {
    context: "prod-like",
    registry: "registry.example:5000/team",
    target: { host: "127.0.0.1", port: 30080 },
    allowMutations: true,
  };

  it("runs the load in the cluster only without an address (the runner's capability check)", () => {
    expect(loadsInCluster(new ExistingClusterBackend(base))).toBe(false);
    const { target: _, ...noAddress } = base;
    expect(loadsInCluster(new ExistingClusterBackend(noAddress))).toBe(true);
  });

  it("refuses to run without allowMutations: true", () => {
    expect(() => new ExistingClusterBackend({ ...base, allowMutations: false })).toThrow(UsageError);
    expect(() => validateExistingOptions({ ...base, allowMutations: false })).toThrow(/--allow-mutations/);
  });

  it("refuses a Service address that is not on this machine, and explains why", () => {
    expect(() => validateExistingOptions({ ...base, target: { host: "10.1.2.3", port: 30080 } })).toThrow(
      /not on this machine.*Omit --address to generate the load from inside the cluster/s,
    );
    for (const host of ["127.0.0.1", "localhost", "::1"]) {
      expect(() => validateExistingOptions({ ...base, target: { host, port: 8080 } })).not.toThrow();
    }
  });

  it("pushes each image to the registry tagged by content", async () => {
    const id = "sha256:abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789";
    expect(repositoryPath("graceful-e2e/exec-form:0123")).toBe("graceful-e2e/exec-form");
    expect(repositoryPath("localhost:5000/a/b:1")).toBe("a/b");
    expect(pushedRef("reg:5000/team/", "graceful-e2e/exec-form:0123", id)).toBe(
      "reg:5000/team/graceful-e2e/exec-form:abcdef012345",
    );
    const f = fakeRunner({ images: { "graceful-e2e/exec-form:0123": id } });
    const pushed = await pushImages(f.run, "reg:5000", ["graceful-e2e/exec-form:0123"]);
    expect([...pushed]).toEqual([["graceful-e2e/exec-form:0123", "reg:5000/graceful-e2e/exec-form:abcdef012345"]]);
    expect(f.calls).toEqual([
      "docker image inspect --format {{.Id}} graceful-e2e/exec-form:0123",
      "docker tag graceful-e2e/exec-form:0123 reg:5000/graceful-e2e/exec-form:abcdef012345",
      "docker push reg:5000/graceful-e2e/exec-form:abcdef012345",
    ]);
  });
});

describe("PID 1 on a kind node", () => {
  it("reads the container's argv with crictl inspect on its node", async () => {
    const calls: string[] = [];
    const run: CommandRunner = async (file, args) => {
      calls.push([file, ...args].join(" "));
      return {
        stdout: JSON.stringify({
          info: { pid: 4242, runtimeSpec: { process: { args: ["/bin/sh", "-c", "node /app/server.js"] } } },
        }),
        stderr: "",
      };
    };
    const cmd = await pid1ViaCrictl(run, {
      namespace: "ns",
      pod: "p",
      container: "app",
      nodeName: "ge-worker",
      containerID: "containerd://abc123",
    });
    expect(cmd).toBe("/bin/sh -c node /app/server.js");
    expect(calls).toEqual(["docker exec ge-worker crictl inspect -o json abc123"]);
    await expect(pid1ViaCrictl(run, { namespace: "ns", pod: "p", container: "app" })).rejects.toThrow(/no node/);
  });
});

describe("kind: a drain needs two schedulable nodes, checked before any scenario runs", () => {
  const nodes: string[] = [];
  const served = useFakeServer(async (req, res) => {
    const json = replyJson(res);
    if (req.url?.startsWith("/api/v1/nodes")) {
      const items = nodes.map((name) => ({
        metadata: { name },
        spec: name.endsWith("control-plane")
          ? { taints: [{ key: "node-role.kubernetes.io/master", effect: "NoSchedule" }] }
          : {},
      }));
      return json(200, { kind: "NodeList", apiVersion: "v1", metadata: {}, items });
    }
    json(404, { kind: "Status", code: 404, message: "not found" });
  });
  const backend = () =>
    new KindBackend({
      name: "ge",
      run: fakeRunner({
        clusters: ["ge"],
        kubeconfig: () => KUBECONFIG.replace("https://127.0.0.1:40123", `http://127.0.0.1:${served.port()}`),
      }).run,
    });
  const scenario = (action: string) =>
    ScenarioSpec.parse({ name: "d", image: { style: "exec-form" }, disruption: { action } });

  it("a cluster from an older kind-config.yaml (one worker): a usage error naming its nodes; two workers pass", async () => {
    nodes.splice(0, nodes.length, "ge-control-plane", "ge-worker");
    const err = await backend()
      .preflightScenarios([scenario("delete"), scenario("drain")])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toContain(
      'needs at least 2 schedulable nodes, kind cluster "ge" has 1 (ge-control-plane (unschedulable), ge-worker)',
    );
    await expect(backend().preflightScenarios([scenario("delete")])).resolves.toBeUndefined();
    nodes.push("ge-worker2");
    await expect(backend().preflightScenarios([scenario("drain")])).resolves.toBeUndefined();
  });
});
