// Before the local e2e suite: a Docker engine must answer and every sample image must exist,
// so individual tests measure scenarios, not image builds. `npm test` runs scripts/setup.sh (which
// builds or finds every image) just before vitest and says so with GRACEFUL_E2E_IMAGES_READY=1: the
// same check again would cost ~3 s (base image choice, app bundle, hashing every build context).
import { assertDockerReachable } from "../../src/backends/docker-check.js";
import { ensureStyleImages } from "../../src/images/build.js";
import { IMAGE_STYLES } from "../../src/scenario/schema.js";

export default async function setup(): Promise<void> {
  await assertDockerReachable();
  if (process.env.GRACEFUL_E2E_IMAGES_READY === "1") return;
  await ensureStyleImages([...IMAGE_STYLES], { onProgress: (line) => process.stderr.write(`${line}\n`) });
}
