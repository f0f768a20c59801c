// `graceful-e2e run` argument validation: every bad value or combination is one clear line and exit
// code 2, found before any scenario runs or anything starts (none of these cases needs Docker).
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach, describe, expect, it, vi } from "vitest";
import { defaultParallelism, main, runPlan } from "../../src/cli/main.js";
import { UsageError } from "../../src/util/errors.js";

const ROOT = join(import.meta.dirname, "../..");
const FIXTURE = join(ROOT, "fixtures/scenarios/exec-form-prestop-sleep.yaml");

/** Runs the CLI in this process; returns its exit code and what it wrote to stderr. */
async function run(...args: string[]): Promise<{ code: number; stderr: string }> {
  const chunks: string[] = [];
  const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  });
  try {
    const code = await main(["node", "graceful-e2e", "run", ...args]);
    return { code, stderr: chunks.join("") };
  } finally {
    spy.mockRestore();
  }
}

afterEach(() => {
  process.exitCode = undefined;
});

describe("run: bad option values exit 2 with one line", () => {
  it.each([
    [["--repeat", "0"], /--repeat must be a whole number from 1 to 1000/],
    [["--repeat", "two"], /argument 'two' is invalid\. --repeat must be a whole number/],
    [["--repeat", "1.5"], /--repeat must be a whole number/],
    [["--parallel", "0"], /--parallel must be a whole number from 1 to 64/],
    [["--parallel", ""], /--parallel must be a whole number/],
    [["--timeout-scale", "0"], /--timeout-scale must be a number above 0 and at most 100/],
    [["--timeout-scale", "-2"], /--timeout-scale must be a number above 0/],
    [["--timeout-scale", "fast"], /--timeout-scale must be a number above 0/],
    [["--timeout-scale", "1e9"], /at most 100/],
    [["--service-port", "70000"], /--service-port must be a whole number from 1 to 65535/],
    [["--service-port", "0"], /--service-port must be a whole number from 1 to 65535/],
    [["--no-such-option"], /unknown option '--no-such-option'/],
  ])("%j", async (args, expected) => {
    const r = await run(...args, FIXTURE);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split("\n");
    // The error, then a pointer to --help instead of the whole help text.
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^error: /);
    expect(lines[0]).toMatch(expected);
    expect(lines[1]).toBe("(graceful-e2e run --help lists the options)");
  });
});

describe("run: options that contradict each other exit 2 with one line", () => {
  it.each([
    [["--backend", "nomad"], 'error: --backend: unknown backend "nomad" (expected one of local, kind, existing)'],
    [
      ["--backend", "kind", "--service-port", "8080"],
      "error: --service-port is for the local backend; the kind backend's Service listens on a NodePort (30080-30087)",
    ],
    [
      ["--backend", "kind", "--parallel", "9"],
      "error: --parallel 9: the kind backend runs at most 8 scenarios at once (one NodePort each: 30080-30087, as kind-config.yaml publishes them)",
    ],
    [
      ["--backend", "existing", "--parallel", "2"],
      "error: --parallel 2: the existing backend runs one scenario per NodePort and has 1 (30080): give one per scenario with --node-ports, e.g. --node-ports 30080-30081",
    ],
    [
      ["--backend", "existing", "--node-ports", "30080-30081", "--parallel", "3"],
      "error: --parallel 3: the existing backend runs one scenario per NodePort and has 2 (30080-30081): give one per scenario with --node-ports, e.g. --node-ports 30080-30082",
    ],
    [
      ["--backend", "existing", "--node-ports", "30087-30080"],
      "error: --node-ports: 30087-30080 is reversed (write 30080-30087)",
    ],
    [
      ["--backend", "existing", "--node-ports", "http"],
      'error: --node-ports: expected a port or a range like 30080-30087, got "http"',
    ],
    [
      ["--backend", "kind", "--node-ports", "30080-30083"],
      "error: --node-ports is for the existing backend; kind uses the NodePorts kind-config.yaml publishes (30080-30087)",
    ],
    [
      ["--service-port", "18080", "--parallel", "2"],
      "error: --parallel 2 with --service-port 18080: runs at the same time cannot share one Service port; drop one of the two",
    ],
  ])("%j", async (args, expected) => {
    const r = await run(...args, FIXTURE);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(expected);
  });

  it("scenario files are all validated before anything starts: the bad corpus, one line per problem", async () => {
    const r = await run(join(ROOT, "tests/fixtures/bad-scenarios"));
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split("\n");
    expect(lines.length).toBeGreaterThanOrEqual(12);
    for (const line of lines) expect(line).toMatch(/bad-scenarios\/[a-z-]+\.yaml: \S+: \S/);
  });

  it("a workload scenario's manifests are read before anything starts: bad ones are one line each, exit 2", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ge-manifests-"));
    try {
      const deployment = (name: string) =>
        `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: ${name}}\nspec:\n  selector: {matchLabels: {app: ${name}}}\n` +
        `  template:\n    metadata: {labels: {app: ${name}}}\n    spec: {containers: [{name: app, image: "x:1", ports: [{containerPort: 80}]}]}\n`;
      await writeFile(
        join(dir, "two.yaml"),
        `${deployment("web")}---\n${deployment("api")}---\napiVersion: v1\nkind: Namespace\nmetadata: {name: other}\n`,
      );
      await writeFile(join(dir, "s.yaml"), "name: mine\nworkload: {manifests: two.yaml}\n");
      const r = await run(join(dir, "s.yaml"));
      expect(r.code).toBe(2);
      const lines = r.stderr.trim().split("\n");
      expect(lines[0]).toMatch(/^error: .*two\.yaml: document 2 \(line \d+\): metadata\.name: two workloads to test/);
      // One problem reported at a time for the workload choice; nothing else was started (no Docker here).
      expect(lines).toHaveLength(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a delete count above the manifests' replicas is refused once they are read (exit 2)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ge-manifests-"));
    try {
      await writeFile(
        join(dir, "one.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 1\n" +
          "  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n" +
          '    spec: {containers: [{name: app, image: "x:1", ports: [{containerPort: 80}]}]}\n',
      );
      await writeFile(
        join(dir, "s.yaml"),
        "name: mine\nworkload: {manifests: one.yaml}\ndisruption: {action: delete, count: 2}\n",
      );
      const r = await run(join(dir, "s.yaml"));
      expect(r.code).toBe(2);
      expect(r.stderr.trim()).toMatch(
        /^error: .*s\.yaml: disruption\.count: deletes 2 pods but replicas is 1 \(Deployment "web" with the scenario's overrides\)$/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.each([
    [["--target", "deployment/web"], /^error: --target needs the workload's namespace \(-n, --namespace\)$/],
    [["-n", "shop"], /^error: --namespace and --service name a running workload: give it with --target$/],
    [
      ["--target", "pod/web", "-n", "shop"],
      /^error: --target: target\.workload: expected deployment\/<name> or statefulset/,
    ],
    [["--target", "deployment/web", "-n", "shop", FIXTURE], /^error: --target makes its own scenario/],
    [
      ["--target", "deployment/web", "-n", "shop"],
      /^error: --target: target: a running workload is tested on --backend kind or existing, not local$/,
    ],
  ])("run %j: the target flags are checked before anything starts", async (args, expected) => {
    const r = await run(...args);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(expected);
  });

  it("a --filter that is not a regular expression", async () => {
    const r = await run("--filter", "(", FIXTURE);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(/^error: --filter: not a valid regular expression: .*Unterminated group$/);
  });

  it("a scenario that matches no filter", async () => {
    const r = await run("--filter", "^nothing-matches$", FIXTURE);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe("error: no scenario matched (check the paths, --filter and --tag)");
  });
});

describe("runPlan", () => {
  it("defaults: one run per 4 cores locally (1 on 2 cores), once each, limits unscaled", () => {
    expect(runPlan({ backend: "local" }, 2)).toEqual({ backend: "local", repeat: 1, parallel: 1, timeoutScale: 1 });
    expect(runPlan({ backend: "local" }, 8).parallel).toBe(2);
    expect(runPlan({ backend: "local", parallel: 3, repeat: 5, timeoutScale: 2.5 }, 2)).toEqual({
      backend: "local",
      repeat: 5,
      parallel: 3,
      timeoutScale: 2.5,
    });
  });

  it("a fixed Service port means one run at a time; kind and existing: 1 by default, up to one per NodePort", () => {
    expect(runPlan({ backend: "local", servicePort: 18080 }, 64)).toMatchObject({ parallel: 1, servicePort: 18080 });
    expect(runPlan({ backend: "kind" }, 64).parallel).toBe(1);
    expect(runPlan({ backend: "kind", parallel: 4 }, 2).parallel).toBe(4);
    expect(runPlan({ backend: "kind", parallel: 8 }, 2).parallel).toBe(8);
    expect(() => runPlan({ backend: "kind", parallel: 9 })).toThrow(UsageError);
    expect(runPlan({ backend: "existing", parallel: 1 }, 64).parallel).toBe(1);
    expect(() => runPlan({ backend: "existing", parallel: 4 })).toThrow(UsageError);
    expect(runPlan({ backend: "existing", parallel: 4, nodePorts: "30080-30083" }).parallel).toBe(4);
    expect(runPlan({ backend: "existing", nodePorts: "30080-30083" }).parallel).toBe(1);
    expect(defaultParallelism("local", 1)).toBe(1);
    expect(defaultParallelism("kind", 64)).toBe(1);
  });
});

describe("the real command (child process)", () => {
  const cli = (args: string[], env: Record<string, string> = {}) =>
    execa(process.execPath, ["--import", "tsx", "src/cli/bin.ts", ...args], {
      cwd: ROOT,
      env,
      reject: false,
      stdin: "ignore",
    });

  it("a bad option value: exit code 2 through bin.ts", async () => {
    const r = await cli(["run", "--parallel", "0", FIXTURE]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/^error: option '--parallel <n>' argument '0' is invalid/);
  });

  it("a grace period shorter than the preStop sleep is warned about (and explained) before the prerequisites", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ge-cli-"));
    const file = join(dir, "grace-shorter-than-prestop.yaml");
    await writeFile(
      file,
      "name: grace-shorter\nimage: {style: exec}\npreStop: {type: sleep, seconds: 10}\nterminationGracePeriodSeconds: 5\n",
    );
    const r = await cli(["run", file], { DOCKER_HOST: "unix:///nonexistent.sock" }).finally(() =>
      rm(dir, { recursive: true, force: true }),
    );
    expect(r.exitCode).toBe(2);
    const [warning, error, ...rest] = r.stderr.trim().split("\n");
    expect(warning).toMatch(
      /^warning: .*grace-shorter-than-prestop\.yaml: preStop sleep \(10s\) is not shorter than terminationGracePeriodSeconds \(5s\).*2 s extension/,
    );
    expect(error).toMatch(/^error: no Docker engine is reachable .*DOCKER_HOST/);
    expect(rest).toEqual([]);
  });
});
