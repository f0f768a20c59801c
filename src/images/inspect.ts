// Local image lookups through the docker CLI (the same engine scripts/build-local-base.sh uses).
import { execa } from "execa";
import { lastLines } from "../util/text.js";

export interface LocalImage {
  /** sha256:... image ID */
  id: string;
  labels: Record<string, string>;
}

/** The image as the local engine knows it, or undefined when it does not exist locally. */
export async function inspectImage(ref: string): Promise<LocalImage | undefined> {
  const result = await execa("docker", ["image", "inspect", "--format", "{{json .Id}} {{json .Config.Labels}}", ref], {
    reject: false,
    stdin: "ignore",
  });
  if (result.exitCode !== 0) {
    const stderr = String(result.stderr ?? "");
    if (/no such (image|object)/i.test(stderr)) return undefined;
    if (result.failed && result.exitCode === undefined) {
      throw new Error(`could not run 'docker image inspect ${ref}': ${result.shortMessage}`);
    }
    throw new Error(`'docker image inspect ${ref}' failed (exit ${result.exitCode}): ${lastLines(stderr, 5)}`);
  }
  const out = String(result.stdout ?? "").trim();
  const space = out.indexOf(" ");
  const id = JSON.parse(out.slice(0, space)) as string;
  const labels = (JSON.parse(out.slice(space + 1)) as Record<string, string> | null) ?? {};
  return { id, labels };
}
