// The images a user's manifests name, on kind (src/backends/kind/images.ts loadWorkloadImages): those the
// local Docker engine has are `kind load`ed, the others left to the nodes' pulls, a moving tag never loaded.
import { describe, expect, it } from "vitest";
import { loadWorkloadImages } from "../../src/backends/kind/images.js";
import { CommandError, type CommandRunner } from "../../src/k8s/command.js";

/** Docker knows `local`; the nodes have no image yet. Every command is recorded. */
function fakeRun(local: string[]): { run: CommandRunner; calls: string[] } {
  const calls: string[] = [];
  const run: CommandRunner = async (file, args) => {
    calls.push([file, ...args].join(" "));
    if (args[0] === "image" && args[1] === "inspect") {
      const ref = args.at(-1) ?? "";
      if (!local.includes(ref)) throw new CommandError(file, args, 1, `Error: No such image: ${ref}`);
      return { stdout: `sha256:${ref.length}\n`, stderr: "" };
    }
    if (args[0] === "exec") return { stdout: JSON.stringify({ images: [] }), stderr: "" };
    return { stdout: "", stderr: "" };
  };
  return { run, calls };
}

describe("loadWorkloadImages", () => {
  it("loads what the local engine has, leaves the rest to the nodes, never loads a moving tag", async () => {
    const { run, calls } = fakeRun(["graceful-e2e/nginx:local", "shop/web:latest"]);
    const lines = await loadWorkloadImages(
      run,
      "ge",
      ["ge-control-plane"],
      ["graceful-e2e/nginx:local", "registry.example/team/api:1.4.2", "shop/web:latest", "graceful-e2e/nginx:local"],
    );
    expect(lines).toEqual([
      "image graceful-e2e/nginx:local: loaded from the local Docker engine",
      "image registry.example/team/api:1.4.2: not in the local Docker engine; the nodes pull it as the cluster would",
      "image shop/web:latest: not loaded (image shop/web:latest uses :latest: use a fixed tag); the nodes pull it",
    ]);
    expect(calls.filter((c) => c.startsWith("kind load"))).toEqual([
      "kind load docker-image graceful-e2e/nginx:local --name ge",
    ]);
  });
});
