// Ctrl-C at any point of a run tears down everything it started — including a deploy that is still
// starting containers — and exits 130; a crash leaves only labelled containers that
// `graceful-e2e clean` removes. Real child processes, real signals, the real Docker engine.
import { connect, createServer } from "node:net";
import { execa } from "execa";
import { GenericContainer, getContainerRuntimeClient } from "testcontainers";
import { describe, expect, it } from "vitest";
import { imageForScenario } from "../../../src/images/build.js";
import { newRunId, runLabels } from "../../../src/util/labels.js";
import { configureTestcontainersOffline } from "../../../src/util/testcontainers-env.js";
import { cli, ROOT } from "./cli.js";

/** Containers (any state) carrying one run's label. */
async function containersOfRun(runId: string): Promise<string[]> {
  const { stdout } = await execa("docker", [
    "ps",
    "-a",
    "--filter",
    `label=graceful-e2e.run=${runId}`,
    "--format",
    "{{.Names}}",
  ]);
  return stdout.split("\n").filter(Boolean);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

const RUN_ID = /run (\d{14}-[0-9a-f]{6}) on local/;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Interruption {
  fixture: string;
  /** A progress line that marks the phase. */
  marker: RegExp;
  delayMs: number;
  /** Wait until the run has at least one container before the signal (a deploy in flight). */
  untilContainers?: boolean;
  signal?: "SIGINT" | "SIGTERM" | "SIGKILL";
}

/** Starts `graceful-e2e run`, sends the signal once the phase is reached, returns what happened. */
async function interrupt(c: Interruption) {
  const servicePort = await freePort();
  const child = execa(
    process.execPath,
    [
      "--import",
      "tsx",
      "src/cli/bin.ts",
      "run",
      "--service-port",
      String(servicePort),
      "--results",
      "results/e2e-local/cleanup",
      `fixtures/scenarios/${c.fixture}.yaml`,
    ],
    { cwd: ROOT, reject: false, stdin: "ignore" },
  );
  let stderr = "";
  let runId: string | undefined;
  let signalledAt: number | undefined;
  let containersAtSignal: string[] = [];
  let triggered = false;
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
    runId ??= RUN_ID.exec(stderr)?.[1];
    if (triggered || !c.marker.test(stderr)) return;
    triggered = true;
    void (async () => {
      await sleep(c.delayMs);
      if (c.untilContainers && runId) {
        const deadline = Date.now() + 20_000;
        while (Date.now() < deadline && (await containersOfRun(runId)).length === 0) await sleep(50);
      }
      containersAtSignal = runId ? await containersOfRun(runId) : [];
      signalledAt = Date.now();
      child.kill(c.signal ?? "SIGINT");
    })();
  });
  const result = await child;
  const exitMs = signalledAt === undefined ? undefined : Date.now() - signalledAt;
  return {
    result,
    stderr,
    runId,
    exitMs,
    containersAtSignal,
    left: runId ? await containersOfRun(runId) : ["(no run id seen)"],
    servicePort,
  };
}

describe("a signal tears down what the run started", () => {
  it.each<Interruption & { phase: string; before?: RegExp; beforeDeploy?: boolean }>([
    {
      phase: "SIGINT during image/prepare",
      fixture: "exec-form-prestop-sleep",
      marker: /setup: image/,
      delayMs: 0,
      // Caught before the deploy: no container was ever made.
      before: /deploying/,
      beforeDeploy: true,
    },
    {
      phase: "SIGINT during deploy, containers starting",
      fixture: "exec-form-prestop-sleep",
      marker: /deploying \d+ replica/,
      delayMs: 0,
      untilContainers: true,
      before: /\] load: /,
    },
    {
      phase: "SIGINT under load, before the disruption",
      fixture: "exec-form-prestop-sleep",
      marker: /\] load: \d+ connection/,
      delayMs: 500,
      before: /disruption: /,
    },
    {
      phase: "SIGINT while the preStop sleep runs",
      fixture: "exec-form-prestop-sleep",
      marker: /disruption: delete/,
      delayMs: 800,
      before: /disrupted pod\(s\) ended/,
    },
    {
      phase: "SIGINT while waiting out the grace period of an image that ignores SIGTERM",
      fixture: "shell-form-prestop-sleep",
      marker: /disruption: delete/,
      delayMs: 4000,
      before: /disrupted pod\(s\) ended/,
    },
    {
      phase: "SIGTERM under load",
      fixture: "exec-form-prestop-sleep",
      marker: /\] load: \d+ connection/,
      delayMs: 500,
      signal: "SIGTERM",
      before: /disruption: /,
    },
  ])("$phase", async (c) => {
    const r = await interrupt(c);
    const signal = c.signal ?? "SIGINT";
    const context = `${r.stderr}\n(exit after ${r.exitMs} ms)`;
    expect(r.runId, context).toBeDefined();
    expect(r.result.exitCode, context).toBe(signal === "SIGINT" ? 130 : 143);
    // Interrupted in the phase asked for, not later.
    if (c.before) expect(r.stderr.split(`${signal} received`)[0]).not.toMatch(c.before);
    // There was something to tear down (except when caught before the deploy).
    if (c.beforeDeploy) expect(r.containersAtSignal).toEqual([]);
    else expect(r.containersAtSignal.length, context).toBeGreaterThan(0);
    expect(r.stderr).toContain(`${signal} received: tearing down what this run started`);
    expect(r.stderr).toMatch(/cleaning up: scenario /);
    expect(r.stderr).toContain(`cleaned up after ${signal}: everything this run started is torn down`);
    expect(r.left).toEqual([]);
    expect(await listening(r.servicePort)).toBe(false);
    // Teardown does not wait for the grace period or the load window to run out.
    expect(r.exitMs).toBeLessThan(15_000);
    process.stderr.write(`[cleanup e2e] ${c.phase}: exit ${r.result.exitCode} ${r.exitMs} ms after ${signal}\n`);
  });
});

describe("graceful-e2e clean", () => {
  it("after a real crash (SIGKILL under load) only labelled containers are left, and clean removes them", async () => {
    const r = await interrupt({
      fixture: "exec-form-prestop-sleep",
      marker: /\] load: \d+ connection/,
      delayMs: 500,
      signal: "SIGKILL",
    });
    expect(r.result.signal).toBe("SIGKILL");
    expect(r.runId).toBeDefined();
    const runId = r.runId as string;
    // Nothing ran teardown: the replicas are still there, and every one carries the run label.
    expect(r.left.length).toBe(2);
    expect(await listening(r.servicePort)).toBe(false);
    const c = await cli(["clean", "--run", runId]);
    expect(c.exitCode, c.all).toBe(0);
    expect(c.stdout).toMatch(/^removed 2: /);
    expect(await containersOfRun(runId)).toEqual([]);
  });

  it("removes the containers a crashed run left behind (they carry the run label)", async () => {
    configureTestcontainersOffline();
    const image = await imageForScenario({ style: "exec-form" });
    const runId = newRunId();
    const name = `ge-crashed-${runId.slice(-6)}`;
    // What a crash leaves: a running replica, and one created but never started (a create in flight).
    const running = await new GenericContainer(image.ref)
      .withName(`${name}-0`)
      .withLabels({ ...runLabels(runId), "graceful-e2e.scenario": "crashed" })
      .start();
    const client = await getContainerRuntimeClient();
    await client.container.dockerode.createContainer({
      name: `${name}-1`,
      Image: image.ref,
      Labels: { ...runLabels(runId), "graceful-e2e.scenario": "crashed" },
    });
    try {
      expect((await containersOfRun(runId)).sort()).toEqual([`${name}-0`, `${name}-1`]);
      // Scoped to this run: other runs on this engine (other test suites) are left alone.
      const r = await cli(["clean", "--run", runId]);
      expect(r.exitCode, r.all).toBe(0);
      expect(r.stdout).toMatch(/^removed 2: /);
      expect(r.stdout).toContain(`${name}-0`);
      expect(r.stdout).toContain(`${name}-1`);
      expect(await containersOfRun(runId)).toEqual([]);
      const again = await cli(["clean", "--run", runId]);
      expect(again.stdout).toBe("nothing to remove");
    } finally {
      await running.stop().catch(() => undefined);
      await execa("docker", ["rm", "-f", `${name}-0`, `${name}-1`], { reject: false });
    }
  });
});
