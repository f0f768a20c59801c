// The local collector with a fake Docker API: Compose services grouped by their labels, the image's
// and the container's configuration told apart, the harness's own replicas and kind nodes skipped,
// and docker exec used only when asked (--exec).
import { describe, expect, it } from "vitest";
import {
  type ContainerInspect,
  collectLocal,
  containerFactsFromInspect,
  type DockerReader,
  type ImageInspect,
  parseLocalFilters,
  scriptPathOf,
} from "../../src/audit/collect-local.js";
import type { ProcessTreeInspection } from "../../src/model/process-tree.js";
import { UsageError } from "../../src/util/errors.js";
import { STYLE_TREES } from "./audit-fixtures.js";

const IMAGES: Record<string, ImageInspect> = {
  "sha256:web": { Id: "sha256:web", Config: { Cmd: ["/bin/sh", "-c", "node /app/server.js"], Entrypoint: null } },
  "sha256:nginx": {
    Id: "sha256:nginx",
    Config: { Cmd: ["nginx"], StopSignal: "SIGQUIT", Healthcheck: { Test: ["CMD-SHELL", "curl -f localhost"] } },
  },
};

function ci(
  name: string,
  image: string,
  o: Partial<ContainerInspect["Config"]> = {},
  labels: Record<string, string> = {},
): ContainerInspect {
  const img = IMAGES[image]?.Config ?? {};
  return {
    Id: `id-${name}`,
    Name: `/${name}`,
    Image: image,
    State: { Running: true, Pid: 100 },
    Config: {
      Image: `shop/${name.split("-")[1] ?? name}:1`,
      Cmd: img.Cmd ?? null,
      Entrypoint: img.Entrypoint ?? null,
      Labels: labels,
      ExposedPorts: { "8080/tcp": {} },
      ...o,
    },
  };
}

const compose = (project: string, service: string, n: number) => ({
  "com.docker.compose.project": project,
  "com.docker.compose.service": service,
  "com.docker.compose.container-number": String(n),
});

function fakeDocker(
  containers: ContainerInspect[],
): DockerReader & { listed: Array<{ label: string[]; name: string[] }> } {
  const listed: Array<{ label: string[]; name: string[] }> = [];
  return {
    listed,
    listRunning: async (f) => {
      listed.push(f);
      return containers.map((c) => ({ Id: c.Id, Names: [c.Name], Labels: c.Config.Labels ?? {} }));
    },
    inspectContainer: async (id) => containers.find((c) => c.Id === id) as ContainerInspect,
    inspectImage: async (ref) => IMAGES[ref],
    version: async () => "Docker 20.10.24 (fake)",
  };
}

const tree = (processes = STYLE_TREES["shell-form"] ?? []): ProcessTreeInspection => ({
  containerId: "x",
  at: 0,
  source: "host-proc",
  sourceDetail: "read from the host",
  processes,
  notes: [],
});

describe("container facts from docker inspect", () => {
  it("the image's shell-form CMD, default stop signal, no healthcheck", () => {
    const f = containerFactsFromInspect(ci("shop-web-1", "sha256:web"), IMAGES["sha256:web"]);
    expect(f.command).toEqual({
      argv: ["/bin/sh", "-c", "node /app/server.js"],
      from: "image config (ENTRYPOINT/CMD of shop/web:1)",
    });
    expect(f.stopSignal).toEqual({ signal: "SIGTERM", from: "default" });
    expect(f.readiness).toBeNull();
    expect(f.ports).toEqual([8080]);
  });

  it("a Compose command: and stop_signal override the image, and say so", () => {
    const f = containerFactsFromInspect(
      ci("shop-web-1", "sha256:web", { Cmd: ["node", "/app/server.js"], StopSignal: "SIGINT" }),
      IMAGES["sha256:web"],
    );
    expect(f.command?.from).toMatch(/container config \(overrides the image: compose command/);
    expect(f.stopSignal).toMatchObject({ signal: "SIGINT", from: expect.stringMatching(/compose stop_signal/) });
    expect(f.notes[0]).toMatch(/overrides the image's command/);
  });

  it("the image's STOPSIGNAL and HEALTHCHECK", () => {
    const f = containerFactsFromInspect(
      ci("shop-nginx-1", "sha256:nginx", { StopSignal: "SIGQUIT" }),
      IMAGES["sha256:nginx"],
    );
    expect(f.stopSignal).toEqual({ signal: "SIGQUIT", from: "the image's STOPSIGNAL" });
    expect(f.readiness).toBe("HEALTHCHECK curl -f localhost");
  });
});

describe("filters", () => {
  it("docker ps syntax, the Compose project and a selector become label filters", () => {
    expect(parseLocalFilters(["label=tier=web", "label=audited", "name=shop"], "shop", "team=a")).toEqual({
      label: ["tier=web", "audited", "com.docker.compose.project=shop", "team=a"],
      name: ["shop"],
    });
    expect(() => parseLocalFilters(["status=exited"])).toThrow(UsageError);
    expect(() => parseLocalFilters([], undefined, "app in (a,b)")).toThrow(/only key or key=value/);
  });
});

describe("collectLocal", () => {
  const containers = [
    ci("shop-web-1", "sha256:web", {}, compose("shop", "web", 1)),
    ci("shop-web-2", "sha256:web", {}, compose("shop", "web", 2)),
    ci("shop-nginx-1", "sha256:nginx", { StopSignal: "SIGQUIT", StopTimeout: 30 }, compose("shop", "nginx", 1)),
    ci("ge-exec-form-abc-0", "sha256:web", {}, { "graceful-e2e.run": "r1", "graceful-e2e.pod": "ge-exec-form-abc-0" }),
    ci("kind-control-plane", "sha256:web", {}, { "io.x-k8s.kind.cluster": "kind" }),
    ci("redis", "sha256:web", {}, {}),
  ];

  it("groups Compose services, skips harness replicas and kind nodes, reads the host's /proc only", async () => {
    const docker = fakeDocker(containers);
    const readHosts: string[] = [];
    const c = await collectLocal({
      filters: { label: ["com.docker.compose.project=shop"], name: [] },
      exec: false,
      docker,
      readHost: async (id) => {
        readHosts.push(id);
        if (id === "id-redis") throw new Error("docker top listed no process");
        return tree();
      },
      readExec: async () => {
        throw new Error("docker exec must not be used without --exec");
      },
    });
    expect(docker.listed[0]).toEqual({ label: ["com.docker.compose.project=shop"], name: [] });
    expect(c.workloads.map((w) => w.id)).toEqual(["compose/shop/web", "compose/shop/nginx", "container/redis"]);
    const web = c.workloads[0];
    expect(web).toMatchObject({
      kind: "ComposeService",
      namespace: "shop",
      replicas: 2,
      instances: ["shop-web-1", "shop-web-2"],
      inspected: "shop-web-1",
    });
    expect(web?.grace).toEqual({ seconds: 10, from: "Docker's default stop timeout (10 s)" });
    expect(c.workloads[1]?.grace.seconds).toBe(30);
    expect(c.workloads[2]?.containers[0]?.inspectionSkipped).toMatch(/docker exec was not used \(opt in with --exec\)/);
    expect(c.skipped.join("\n")).toMatch(/ge-exec-form-abc-0: a graceful-e2e run's own replica/);
    expect(c.skipped.join("\n")).toMatch(/kind-control-plane: a kind node/);
    expect(readHosts).not.toContain("id-ge-exec-form-abc-0");
    expect(c.used.join("\n")).not.toMatch(/docker exec/);
    expect(c.platform.runtime).toBe("Docker 20.10.24 (fake)");
  });

  it("--exec: docker exec where the host's /proc is not usable, said in access.used", async () => {
    const c = await collectLocal({
      filters: { label: [], name: [] },
      exec: true,
      docker: fakeDocker([ci("redis", "sha256:web")]),
      readHost: async () => {
        throw new Error("not the daemon's /proc");
      },
      readExec: async () => ({ ...tree(), source: "docker-exec", sourceDetail: "read inside the container" }),
    });
    expect(c.workloads[0]?.containers[0]?.inspection?.source).toBe("docker-exec");
    expect(c.used.join("\n")).toMatch(/docker exec <container> .* \(opt-in --exec\)/);
  });

  it("finds the script PID 1 runs (a plain absolute path only)", () => {
    expect(scriptPathOf(tree(STYLE_TREES.trap))).toEqual({ path: "/app/entrypoint.sh", hostPid: 10_001 });
    expect(scriptPathOf(tree(STYLE_TREES.tini))).toEqual({ path: "/app/entrypoint.sh", hostPid: 10_007 });
    expect(scriptPathOf(tree(STYLE_TREES["shell-form"]))).toBeUndefined();
    expect(scriptPathOf(tree(STYLE_TREES["exec-form"]))).toBeUndefined();
  });
});
