// Before the local e2e suite: a Docker engine must answer and every sample image must exist,
// so individual tests measure scenarios, not image builds.
import { assertDockerReachable } from "../../src/backends/docker-check.js";
import { ensureStyleImages } from "../../src/images/build.js";
import { IMAGE_STYLES } from "../../src/scenario/schema.js";

export default async function setup(): Promise<void> {
  await assertDockerReachable();
  await ensureStyleImages([...IMAGE_STYLES], { onProgress: (line) => process.stderr.write(`${line}\n`) });
}
