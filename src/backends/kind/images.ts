// Gets the scenario's images onto the kind nodes: `kind load docker-image <ref> --name N`, skipped when
// every node already has that tag with the same content (image ID from the local engine compared with
// `crictl images` inside each node), and loaded only into the nodes that lack it. Fixed tags only: a
// moving tag would make "already present" a lie. The runner prepares each scenario's own image only.
import { CommandError, type CommandRunner } from "../../k8s/command.js";

export interface ImageLoadResult {
  ref: string;
  action: "present" | "loaded";
}

/** Refuses references the nodes could not pin: no tag, :latest. */
export function checkFixedTag(ref: string): void {
  const lastSlash = ref.lastIndexOf("/");
  const name = ref.slice(lastSlash + 1);
  if (ref.includes("@sha256:")) return;
  if (!name.includes(":")) throw new Error(`image ${ref} has no tag: use a fixed tag (never :latest)`);
  if (name.endsWith(":latest")) throw new Error(`image ${ref} uses :latest: use a fixed tag`);
}

/** The name containerd records for a Docker reference: docker.io/library/x:t, docker.io/org/x:t, host/x:t. */
export function normalizeRef(ref: string): string {
  const first = ref.split("/")[0] ?? "";
  const hasRegistry = ref.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
  if (hasRegistry) return ref;
  return ref.includes("/") ? `docker.io/${ref}` : `docker.io/library/${ref}`;
}

interface CrictlImages {
  images?: Array<{ id?: string; repoTags?: string[] | null }>;
}

/** Whether a node has `ref` with image ID `id`; false when it cannot tell (then we load). */
export async function nodeHasImage(run: CommandRunner, node: string, ref: string, id: string): Promise<boolean> {
  try {
    const { stdout } = await run("docker", ["exec", node, "crictl", "images", "-o", "json"]);
    const data = JSON.parse(stdout) as CrictlImages;
    const want = normalizeRef(ref);
    return (data.images ?? []).some((img) => img.id === id && (img.repoTags ?? []).includes(want));
  } catch {
    return false;
  }
}

export async function localImageId(run: CommandRunner, ref: string): Promise<string> {
  try {
    const { stdout } = await run("docker", ["image", "inspect", "--format", "{{.Id}}", ref]);
    return stdout.trim();
  } catch (err) {
    const stderr = err instanceof CommandError ? err.stderr : String(err);
    if (/no such (image|object)/i.test(stderr)) {
      throw new Error(`image ${ref} is not in the local Docker engine: build it first (kind load reads it from there)`);
    }
    throw err;
  }
}

export async function loadImages(
  run: CommandRunner,
  clusterName: string,
  nodes: string[],
  refs: string[],
  log?: (line: string) => void,
): Promise<ImageLoadResult[]> {
  const results: ImageLoadResult[] = [];
  for (const ref of [...new Set(refs)]) {
    checkFixedTag(ref);
    const id = await localImageId(run, ref);
    const present = await Promise.all(nodes.map((n) => nodeHasImage(run, n, ref, id)));
    if (nodes.length > 0 && present.every(Boolean)) {
      results.push({ ref, action: "present" });
      continue;
    }
    // Only into the nodes that lack it (kind load saves the image once and imports it per node).
    const lacking = nodes.filter((_, i) => !present[i]);
    const some = lacking.length > 0 && lacking.length < nodes.length;
    log?.(`kind: loading ${ref} into cluster "${clusterName}"${some ? ` (node ${lacking.join(", ")})` : ""}`);
    await run("kind", [
      "load",
      "docker-image",
      ref,
      "--name",
      clusterName,
      ...(some ? ["--nodes", lacking.join(",")] : []),
    ]);
    results.push({ ref, action: "loaded" });
  }
  return results;
}

/**
 * The images a user's manifests name: those the local Docker engine has are loaded (as loadImages does),
 * the others are left to the nodes, which pull them as the cluster would. Resolves with one line each.
 */
export async function loadWorkloadImages(
  run: CommandRunner,
  clusterName: string,
  nodes: string[],
  refs: string[],
  log?: (line: string) => void,
): Promise<string[]> {
  const lines: string[] = [];
  for (const ref of [...new Set(refs)]) {
    const local = await localImageId(run, ref).then(
      () => true,
      () => false,
    );
    if (!local) {
      lines.push(`image ${ref}: not in the local Docker engine; the nodes pull it as the cluster would`);
      continue;
    }
    try {
      checkFixedTag(ref);
    } catch (err) {
      // A moving tag is pulled again by the kubelet (imagePullPolicy Always): loading it would prove nothing.
      lines.push(`image ${ref}: not loaded (${(err as Error).message}); the nodes pull it`);
      continue;
    }
    const [r] = await loadImages(run, clusterName, nodes, [ref], log);
    lines.push(
      `image ${ref}: ${r?.action === "present" ? "already on every node" : "loaded from the local Docker engine"}`,
    );
  }
  return lines;
}
