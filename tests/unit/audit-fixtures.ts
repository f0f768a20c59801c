// Process trees of the sample images as the audit reads them (masks read from the running sample
// containers with docker top + /proc/<host pid>/status on this machine), and workload facts around them.
import type { ContainerFacts, WorkloadFacts } from "../../src/audit/types.js";
import type { InspectedProcess } from "../../src/model/process-tree.js";
import { maskHas } from "../../src/observe/proc.js";

export const MASKS = {
  node: { caught: "0000000108026e07", ignored: "0000000001001000", blocked: "0000000000000000" },
  bash: { caught: "0000000000010002", ignored: "0000000000000004", blocked: "0000000000010000" },
  bashTrap: { caught: "0000000000014002", ignored: "0000000000000004", blocked: "0000000000010000" },
  dash: { caught: "0000000000000000", ignored: "0000000000000000", blocked: "0000000000000000" },
  tini: { caught: "0000000000000000", ignored: "0000000000300000", blocked: "0000000000000000" },
  nginx: { caught: "0000000018016a07", ignored: "0000000040001000", blocked: "0000000000000000" },
  apache2: { caught: "00000000080046eb", ignored: "0000000001001000", blocked: "0000000000000000" },
  gunicorn: { caught: "0000000008314a07", ignored: "0000000001001000", blocked: "0000000000000000" },
  uvicorn: { caught: "0000000000004002", ignored: "0000000001001000", blocked: "0000000000000000" },
  go: { caught: "fffffffd7fc1feff", ignored: "0000000000000000", blocked: "0000000000000000" },
} as const;

export function proc(
  pid: number,
  ppid: number,
  argv: string[],
  masks: { caught: string; ignored: string; blocked: string },
  o: { waits?: boolean; listens?: number[]; pgid?: number; name?: string } = {},
): InspectedProcess {
  const hex = (h: string) => BigInt(`0x${h}`);
  const caught = maskHas(hex(masks.caught), 15);
  const ignored = maskHas(hex(masks.ignored), 15);
  const blocked = maskHas(hex(masks.blocked), 15);
  return {
    pid,
    ppid,
    hostPid: 10_000 + pid,
    pgid: o.pgid ?? pid,
    sid: 1,
    argv,
    command: argv.join(" "),
    name: o.name ?? (argv[0] ?? "").split("/").pop()?.slice(0, 15) ?? "",
    sigterm: {
      disposition: ignored ? "ignored" : caught ? "caught" : blocked ? "blocked" : "default",
      caught,
      ignored,
      blocked,
    },
    masks: { ...masks },
    waitsForSignals: o.waits ?? false,
    listens: o.listens ?? [],
  };
}

const NODE = ["node", "/app/server.js"];

/** The live process tree of each sample style (pids as measured: shell-form's node is pid 7...). */
export const STYLE_TREES: Record<string, InspectedProcess[]> = {
  "exec-form": [proc(1, 0, NODE, MASKS.node, { listens: [8080] })],
  exec: [proc(1, 0, NODE, MASKS.node, { listens: [8080] })],
  "no-handler": [proc(1, 0, NODE, MASKS.node, { listens: [8080] })],
  "shell-form": [
    proc(1, 0, ["/bin/sh", "-c", "node /app/server.js"], MASKS.dash, { name: "sh" }),
    proc(7, 1, NODE, MASKS.node, { listens: [8080], pgid: 1 }),
  ],
  script: [
    proc(1, 0, ["/bin/bash", "/app/entrypoint.sh"], MASKS.bash, { name: "entrypoint.sh" }),
    proc(7, 1, NODE, MASKS.node, { listens: [8080], pgid: 1 }),
  ],
  trap: [
    proc(1, 0, ["/bin/bash", "/app/entrypoint.sh"], MASKS.bashTrap, { name: "entrypoint.sh" }),
    proc(7, 1, NODE, MASKS.node, { listens: [8080], pgid: 1 }),
    proc(8, 1, NODE, MASKS.node, { listens: [8081], pgid: 1 }),
  ],
  tini: [
    proc(1, 0, ["tini", "--", "/app/entrypoint.sh"], MASKS.tini, { waits: true }),
    proc(7, 1, ["/bin/bash", "/app/entrypoint.sh"], MASKS.dash, { pgid: 7, name: "entrypoint.sh" }),
    proc(8, 7, NODE, MASKS.node, { listens: [8080], pgid: 7 }),
    proc(9, 7, NODE, MASKS.node, { listens: [8081], pgid: 7 }),
  ],
  "tini-group": [
    proc(1, 0, ["tini", "-g", "--", "/app/entrypoint.sh"], MASKS.tini, { waits: true }),
    proc(6, 1, ["/bin/bash", "/app/entrypoint.sh"], MASKS.dash, { pgid: 6, name: "entrypoint.sh" }),
    proc(7, 6, NODE, MASKS.node, { listens: [8080], pgid: 6 }),
    proc(8, 6, NODE, MASKS.node, { listens: [8081], pgid: 6 }),
  ],
  nginx: [
    proc(1, 0, ["nginx: master process nginx"], MASKS.nginx, { listens: [8080], name: "nginx" }),
    proc(7, 1, ["nginx: worker process"], MASKS.nginx, { listens: [8080], name: "nginx", pgid: 1 }),
  ],
  apache2: [
    proc(1, 0, ["apache2", "-DFOREGROUND"], MASKS.apache2, { listens: [8080] }),
    proc(7, 1, ["apache2", "-DFOREGROUND"], MASKS.apache2, { listens: [8080], pgid: 1 }),
  ],
  gunicorn: [
    proc(
      1,
      0,
      ["python3", "-m", "gunicorn", "--bind", "0.0.0.0:8080", "--graceful-timeout", "5", "app:app"],
      MASKS.gunicorn,
      {
        listens: [8080],
        name: "python3",
      },
    ),
  ],
  uvicorn: [
    proc(1, 0, ["python3", "-m", "uvicorn", "--host", "0.0.0.0", "--port", "8080", "app:app"], MASKS.uvicorn, {
      listens: [8080],
      name: "python3",
    }),
  ],
  go: [proc(1, 0, ["/server"], MASKS.go, { listens: [8080], name: "server" })],
};

/** What the README's styles table measured for each style's exit (local, both preStop rows). */
export const MEASURED_EXIT: Record<string, "graceful" | "killed" | "abrupt"> = {
  "exec-form": "graceful",
  exec: "graceful",
  trap: "graceful",
  "shell-form": "killed",
  script: "killed",
  "no-handler": "killed",
  tini: "abrupt",
  "tini-group": "abrupt",
};

export function container(o: Partial<ContainerFacts> & { processes?: InspectedProcess[] } = {}): ContainerFacts {
  const { processes, ...rest } = o;
  return {
    name: "app",
    image: "graceful-e2e/exec-form:1",
    stopSignal: { signal: "SIGTERM", from: "default" },
    readiness: null,
    ports: [8080],
    notes: [],
    ...(processes
      ? {
          inspection: {
            containerId: "c0ffee",
            at: 0,
            source: "host-proc" as const,
            sourceDetail: "read from the host: /proc/<host pid>/status",
            processes,
            notes: [],
          },
        }
      : {}),
    ...rest,
  };
}

export function compose(name: string, c: ContainerFacts, o: Partial<WorkloadFacts> = {}): WorkloadFacts {
  return {
    backend: "local",
    kind: "ComposeService",
    namespace: "shop",
    name,
    id: `compose/shop/${name}`,
    replicas: 1,
    instances: [`shop-${name}-1`],
    inspected: `shop-${name}-1`,
    grace: { seconds: 10, from: "Docker's default stop timeout (10 s)" },
    containers: [c],
    notes: [],
    ...o,
  };
}

export function deployment(name: string, c: ContainerFacts, o: Partial<WorkloadFacts> = {}): WorkloadFacts {
  return {
    backend: "kind",
    kind: "Deployment",
    namespace: "default",
    name,
    id: `Deployment/default/${name}`,
    replicas: 2,
    instances: [`${name}-1`, `${name}-2`],
    inspected: `${name}-1`,
    grace: { seconds: 30, from: "terminationGracePeriodSeconds" },
    strategy: { type: "RollingUpdate" },
    pdbs: [{ name: `${name}-pdb`, maxUnavailable: 1 }],
    exposedBy: [name],
    containers: [
      {
        ...c,
        preStop: c.preStop ?? { type: "sleep", seconds: 5, description: "sleep action, 5 s" },
        readiness: c.readiness ?? "readinessProbe httpGet / on 8080",
      },
    ],
    notes: [],
    ...o,
  };
}
