// Runs the real CLI as a child process (from source, through tsx), as a user would.
import { join } from "node:path";
import { execa } from "execa";

export const ROOT = join(import.meta.dirname, "../../..");

export function cli(args: string[], env: Record<string, string> = {}) {
  return execa(process.execPath, ["--import", "tsx", "src/cli/bin.ts", ...args], {
    cwd: ROOT,
    env,
    reject: false,
    all: true,
    stdin: "ignore",
  });
}

/** Containers a run created (carrying the run label) for a scenario name. */
export async function runContainers(scenario: string): Promise<string[]> {
  const { stdout } = await execa("docker", [
    "ps",
    "-a",
    "--filter",
    "label=graceful-e2e.run",
    "--filter",
    `label=graceful-e2e.scenario=${scenario}`,
    "--format",
    "{{.Names}}",
  ]);
  return stdout.split("\n").filter(Boolean);
}
