// Fails early, with what to do, when no Docker engine is reachable. Both paths the harness uses
// must answer: the Docker CLI (image inspection, builds' bookkeeping) and the API through
// testcontainers (containers). They can disagree: testcontainers falls back to the default socket
// when DOCKER_HOST points nowhere, the CLI does not.
import { execa } from "execa";
import { getContainerRuntimeClient } from "testcontainers";
import { PrerequisiteError } from "../util/errors.js";
import { configureTestcontainersOffline } from "../util/testcontainers-env.js";

const HOW_TO_START =
  "Start one: 'bash scripts/ensure-docker.sh' installs and starts Debian's docker.io as root; elsewhere " +
  "install Docker Engine or Docker Desktop, or set DOCKER_HOST to a running engine.";

export async function assertDockerReachable(): Promise<void> {
  const cli = await execa("docker", ["version", "--format", "{{.Server.Version}}"], {
    reject: false,
    timeout: 15_000,
    stdin: "ignore",
  });
  if (cli.exitCode !== 0) {
    const why = (cli.stderr || cli.shortMessage || "").split("\n").find((l) => l.trim() !== "") ?? "no answer";
    throw new PrerequisiteError(`no Docker engine is reachable (docker: ${why.trim()}). ${HOW_TO_START}`);
  }
  configureTestcontainersOffline();
  try {
    const client = await getContainerRuntimeClient();
    await client.container.dockerode.ping();
  } catch (err) {
    const why = err instanceof Error ? err.message.split("\n")[0] : String(err);
    throw new PrerequisiteError(`no Docker engine is reachable (${why}). ${HOW_TO_START}`);
  }
}
