// The fixtures' manifests name graceful-e2e's own images by a stable tag, graceful-e2e/<style>:local, as a
// team's chart names its images. The harness provides them: each such name is (re)tagged from the style's
// current build (content-hash tag), built first if needed, so `run fixtures/workloads/...` works from a
// clean clone on every backend (kind then loads the :local image like any other local image).
import { IMAGE_STYLES, type ImageStyle } from "../scenario/schema.js";
import { type EnsureImagesOptions, ensureStyleImages } from "./build.js";

const SAMPLE_TAG = "local";
const SAMPLE_NAME = /^graceful-e2e\/([a-z0-9-]+):local$/;

/** The styles a manifest's image names refer to by their :local tag (others are the user's images). */
export function sampleStylesOf(images: readonly string[]): ImageStyle[] {
  const styles = images.flatMap((ref) => {
    const style = SAMPLE_NAME.exec(ref)?.[1];
    return style !== undefined && (IMAGE_STYLES as readonly string[]).includes(style) ? [style as ImageStyle] : [];
  });
  return [...new Set(styles)];
}

/** Builds (when needed) and tags graceful-e2e/<style>:local for every sample image the manifests name. */
export async function ensureSampleTags(images: readonly string[], opts: EnsureImagesOptions = {}): Promise<string[]> {
  const styles = sampleStylesOf(images);
  if (styles.length === 0) return [];
  const built = await ensureStyleImages(styles, opts);
  const { getContainerRuntimeClient } = await import("testcontainers");
  const docker = (await getContainerRuntimeClient()).container.dockerode;
  const notes: string[] = [];
  for (const b of built) {
    const repo = `graceful-e2e/${b.style}`;
    await docker.getImage(b.ref).tag({ repo, tag: SAMPLE_TAG });
    notes.push(`${repo}:${SAMPLE_TAG} = ${b.ref} (graceful-e2e's own ${b.style} build)`);
  }
  return notes;
}
