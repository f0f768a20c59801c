// Fails early, with what to do, when no Docker engine is reachable.
import { getContainerRuntimeClient } from "testcontainers";
import { PrerequisiteError } from "../util/errors.js";
import { configureTestcontainersOffline } from "../util/testcontainers-env.js";

export async function assertDockerReachable(): Promise<void> {
  configureTestcontainersOffline();
  try {
    const client = await getContainerRuntimeClient();
    await client.container.dockerode.ping();
  } catch (err) {
    const why = err instanceof Error ? err.message.split("\n")[0] : String(err);
    throw new PrerequisiteError(
      `no Docker engine is reachable (${why}). Start one: 'bash scripts/ensure-docker.sh' installs and starts ` +
        "Debian's docker.io as root; elsewhere install Docker Engine or Docker Desktop, or set DOCKER_HOST.",
    );
  }
}
