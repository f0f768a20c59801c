// Images for an existing cluster: the nodes pull from a registry the user names. Each local image is
// tagged by content (the first 12 hex digits of its image ID) under that registry and pushed, so a tag
// never points at different content and the pods' IfNotPresent pull policy is safe.
import type { CommandRunner } from "../../k8s/command.js";
import { checkFixedTag, localImageId } from "../kind/images.js";

/** The repository path of a reference without its registry host, tag or digest. */
export function repositoryPath(ref: string): string {
  const noDigest = ref.split("@")[0] ?? ref;
  const parts = noDigest.split("/");
  const first = parts[0] ?? "";
  if (parts.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost")) parts.shift();
  const last = parts.pop() ?? "";
  const colon = last.lastIndexOf(":");
  parts.push(colon >= 0 ? last.slice(0, colon) : last);
  return parts.join("/");
}

/** registry/repo:<12 hex of the image ID>. */
export function pushedRef(registry: string, ref: string, imageId: string): string {
  const hex = imageId.replace(/^sha256:/, "").slice(0, 12);
  if (!/^[0-9a-f]{12}$/.test(hex)) throw new Error(`unexpected image ID for ${ref}: ${imageId}`);
  return `${registry.replace(/\/+$/, "")}/${repositoryPath(ref)}:${hex}`;
}

/** Tags and pushes each image; returns local ref → pushed ref. */
export async function pushImages(
  run: CommandRunner,
  registry: string,
  refs: string[],
  log?: (line: string) => void,
): Promise<Map<string, string>> {
  const pushed = new Map<string, string>();
  for (const ref of [...new Set(refs)]) {
    checkFixedTag(ref);
    const id = await localImageId(run, ref);
    const target = pushedRef(registry, ref, id);
    log?.(`existing: pushing ${ref} as ${target}`);
    await run("docker", ["tag", ref, target]);
    await run("docker", ["push", target]);
    pushed.set(ref, target);
  }
  return pushed;
}
