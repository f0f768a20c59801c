// `clean` after a crash: the local runtime's volume folders (ConfigMap/Secret files of workload runs)
// are found by their run id in the name and removed — one run's, or every run's.
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { removeLeftoverVolumes, runVolumeNames, runVolumeRoot } from "../../src/backends/local/workload-run.js";
import { newRunId } from "../../src/util/labels.js";

async function leftover(runId: string): Promise<string> {
  const root = runVolumeRoot(runId);
  await mkdir(join(root, "pod-0"), { recursive: true });
  await writeFile(join(root, "pod-0", "proxy.conf"), "daemon off;\n");
  return root;
}

describe("clean: the volume folders a crashed workload run left", () => {
  it("removes only the run asked for", async () => {
    const [a, b] = [newRunId(), newRunId()];
    const [rootA, rootB] = [await leftover(a), await leftover(b)];
    try {
      expect(await removeLeftoverVolumes(a)).toEqual([`graceful-e2e.run-${a}`]);
      expect(existsSync(rootA)).toBe(false);
      expect(existsSync(rootB)).toBe(true);
      expect(await removeLeftoverVolumes(a)).toEqual([]);
    } finally {
      await removeLeftoverVolumes(b);
    }
  });

  // Not run against the real temp folder: other suites' workload runs may be using theirs right now.
  it("without a run: every run's folder, nothing else", () => {
    const entries = ["graceful-e2e.run-20261207-a", "graceful-e2e.run-20261207-b", "graceful-e2e-other", "tsx-0"];
    expect(runVolumeNames(entries)).toEqual(["graceful-e2e.run-20261207-a", "graceful-e2e.run-20261207-b"]);
    expect(runVolumeNames(entries, "20261207-b")).toEqual(["graceful-e2e.run-20261207-b"]);
  });
});
