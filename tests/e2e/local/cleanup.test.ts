// Ctrl-C at any point of a run tears down everything it started; a crash leaves only labelled
// containers that `graceful-e2e clean` removes.
import { execa } from "execa";
import { GenericContainer } from "testcontainers";
import { describe, expect, it } from "vitest";
import { imageForScenario } from "../../../src/images/build.js";
import { newRunId, runLabels } from "../../../src/util/labels.js";
import { configureTestcontainersOffline } from "../../../src/util/testcontainers-env.js";
import { cli, ROOT, runContainers } from "./cli.js";

const SCENARIO = "shell-form-prestop-sleep";

/** Starts `graceful-e2e run`, sends SIGINT once a progress line matches, returns what happened. */
async function interruptWhen(marker: RegExp, extraDelayMs = 0) {
  const child = execa(
    process.execPath,
    ["--import", "tsx", "src/cli/bin.ts", "run", `fixtures/scenarios/${SCENARIO}.yaml`],
    {
      cwd: ROOT,
      reject: false,
      stdin: "ignore",
    },
  );
  let stderr = "";
  let sent = false;
  let seenContainers: string[] = [];
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
    if (!sent && marker.test(stderr)) {
      sent = true;
      setTimeout(async () => {
        seenContainers = await runContainers(SCENARIO);
        child.kill("SIGINT");
      }, extraDelayMs);
    }
  });
  const result = await child;
  return { result, stderr, sent, seenContainers, left: await runContainers(SCENARIO) };
}

describe("SIGINT tears down what the run started", () => {
  it.each([
    { phase: "while the replicas start", marker: /deploying \d+ replica/, delay: 300 },
    { phase: "under load, before the disruption", marker: /load: \d+ connection/, delay: 500 },
    { phase: "during the preStop hook", marker: /disruption: delete/, delay: 800 },
    { phase: "while waiting for the grace period to end", marker: /disruption: delete/, delay: 4000 },
  ])("$phase", async ({ marker, delay }) => {
    const { result, stderr, sent, seenContainers, left } = await interruptWhen(marker, delay);
    expect(sent, stderr).toBe(true);
    expect(result.exitCode, stderr).toBe(130);
    expect(stderr).toContain("SIGINT received: tearing down what this run started");
    expect(stderr).toMatch(/cleaning up: scenario shell-form-prestop-sleep/);
    if (delay >= 500) expect(seenContainers.length).toBeGreaterThan(0);
    expect(left).toEqual([]);
  });
});

describe("graceful-e2e clean", () => {
  it("removes containers a crashed run left behind (they carry the run label)", async () => {
    configureTestcontainersOffline();
    const image = await imageForScenario({ style: "exec-form" });
    const runId = newRunId();
    // What a crash leaves: a replica with the run's labels and nobody to remove it.
    const leftover = await new GenericContainer(image.ref)
      .withName(`ge-crashed-${runId.slice(-6)}`)
      .withLabels({ ...runLabels(runId), "graceful-e2e.scenario": "crashed" })
      .start();
    expect(await runContainers("crashed")).toHaveLength(1);
    const r = await cli(["clean"]);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain(`ge-crashed-${runId.slice(-6)}`);
    expect(await runContainers("crashed")).toEqual([]);
    await leftover.stop().catch(() => undefined);
  });
});
