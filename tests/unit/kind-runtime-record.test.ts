// The node runtime's record of one container's exit (crictl inspect -o json, as cri-tools prints it:
// {"status": <CRI ContainerStatus, defaults included>, "info": …}, times RFC3339Nano), read with a fake
// command runner: what the driver feeds the timeline when containerd's event stream missed an exit.
import { describe, expect, it } from "vitest";
import { parseCrictlExit, readExitOnNode } from "../../src/backends/kind/runtime-record.js";
import { CommandError, type CommandRunner } from "../../src/k8s/command.js";

const ID = "06ef295a1dc6a89a7d1ee848dfcac5a8edf498cb3341d6415290def083050fb5";

/** crictl inspect -o json of a kind node's container (containerd 1.6), trimmed of labels and mounts. */
function crictlInspect(state: string, exitCode: number, finishedAt: string, reason = ""): string {
  return JSON.stringify(
    {
      status: {
        id: ID,
        metadata: { attempt: 0, name: "app" },
        state,
        createdAt: "2026-12-07T15:49:41.112873551Z",
        startedAt: "2026-12-07T15:49:41.529774130Z",
        finishedAt,
        exitCode,
        image: { annotations: {}, image: "docker.io/graceful-e2e/tini:d5119b87494c" },
        imageRef: "sha256:4c2a3f0e9b8d7c6a5b4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a",
        reason,
        message: "",
        labels: { "io.kubernetes.container.name": "app", "io.kubernetes.pod.namespace": "ge-tini-no-prestop-34b9b10b" },
        annotations: { "io.kubernetes.container.restartCount": "0" },
        mounts: [],
        logPath: `/var/log/pods/ge-tini-no-prestop-34b9b10b_app-6484cddfbb-sn7j6_uid/app/0.log`,
      },
      info: { sandboxID: "5bdd8f0cc62e", pid: 0, removing: false, snapshotKey: ID, snapshotter: "overlayfs" },
    },
    null,
    2,
  );
}

describe("parseCrictlExit", () => {
  it("CONTAINER_EXITED: the exit code and finishedAt (ns, cut to the ms)", () => {
    expect(parseCrictlExit(crictlInspect("CONTAINER_EXITED", 143, "2026-12-07T15:49:49.690123456Z", "Error"))).toEqual({
      state: "CONTAINER_EXITED",
      exitCode: 143,
      finishedAt: Date.parse("2026-12-07T15:49:49.690Z"),
    });
    // exitCode 0 is printed (EmitDefaults), RFC3339Nano drops trailing zeros, a non-UTC node says its offset.
    expect(parseCrictlExit(crictlInspect("CONTAINER_EXITED", 0, "2026-12-07T16:49:49.7+01:00", "Completed"))).toEqual({
      state: "CONTAINER_EXITED",
      exitCode: 0,
      finishedAt: Date.parse("2026-12-07T15:49:49.700Z"),
    });
  });

  it("a running container (finishedAt is Go's zero time) has no exit", () => {
    expect(parseCrictlExit(crictlInspect("CONTAINER_RUNNING", 0, "0001-01-01T00:00:00Z"))).toEqual({
      state: "CONTAINER_RUNNING",
    });
  });

  it("refuses what is not crictl's shape, saying what is wrong", () => {
    expect(() => parseCrictlExit("FATA[0000] no such container")).toThrow(/did not print JSON/);
    expect(() => parseCrictlExit('{"info":{}}')).toThrow(/no status.state/);
    expect(() => parseCrictlExit(crictlInspect("CONTAINER_EXITED", 1, "yesterday"))).toThrow(
      /CONTAINER_EXITED without a usable exitCode\/finishedAt \(1, "yesterday"\)/,
    );
  });
});

describe("readExitOnNode", () => {
  const runner = (reply: (args: readonly string[]) => string | Error) => {
    const calls: string[][] = [];
    const run: CommandRunner = async (file, args) => {
      calls.push([file, ...args]);
      const r = reply(args);
      if (r instanceof Error) throw r;
      return { stdout: r, stderr: "" };
    };
    return { calls, run };
  };

  it("reads the exit on the container's node with an argument array: a runtime exit naming what read it", async () => {
    const f = runner(() => crictlInspect("CONTAINER_EXITED", 143, "2026-12-07T15:49:49.690123456Z", "Error"));
    const read = await readExitOnNode(f.run, "graceful-e2e-worker", `containerd://${ID}`, 5000);
    expect(f.calls).toEqual([["docker", "exec", "graceful-e2e-worker", "crictl", "inspect", "-o", "json", ID]]);
    expect(read).toEqual({
      entry: {
        source: "runtime",
        receivedAt: 5000,
        origin:
          "containerd on node graceful-e2e-worker, read with crictl inspect (the event stream had not delivered the exit)",
        event: "exit",
        at: Date.parse("2026-12-07T15:49:49.690Z"),
        containerId: ID,
        taskId: ID,
        exitStatus: 143,
      },
    });
  });

  it("a container still running, already removed, or a refused id: missing, with the reason; never throws", async () => {
    const running = runner(() => crictlInspect("CONTAINER_RUNNING", 0, "0001-01-01T00:00:00Z"));
    expect(await readExitOnNode(running.run, "w", ID, 1)).toEqual({
      missing: `docker exec w crictl inspect -o json ${ID}: the container is CONTAINER_RUNNING, not exited`,
    });
    const removed = runner(
      () =>
        new CommandError(
          "docker",
          ["exec", "w", "crictl", "inspect", "-o", "json", ID],
          1,
          `time="2026-12-07T15:49:52Z" level=fatal msg="getting the status of the container \\"${ID}\\": rpc error: code = NotFound desc = an error occurred when try to find container \\"${ID}\\": not found"\n`,
        ),
    );
    const gone = await readExitOnNode(removed.run, "w", ID, 1);
    expect("missing" in gone && gone.missing).toMatch(/crictl inspect -o json .* failed: .*NotFound/);
    const refused = await readExitOnNode(removed.run, "w", "x; rm -rf /", 1);
    expect("missing" in refused && refused.missing).toMatch(/not a container id/);
    expect(removed.calls).toHaveLength(1);
  });
});
