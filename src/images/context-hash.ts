// Deterministic content hash of what goes into one style's image: images/app/** and
// images/<style>/** (relative paths, executable bit and bytes) plus the base image (reference and,
// when known, its ID). The image tag carries it, so a tag changes exactly when its input changes.
import { createHash } from "node:crypto";
import { lstat, readdir, readFile, readlink } from "node:fs/promises";
import { join, relative, sep } from "node:path";

/** Directories of the build context that belong to every style's image. */
export const SHARED_CONTEXT_DIRS = ["app"] as const;

/**
 * Other styles' directories a style's Dockerfile copies from: a variant that differs from its
 * original only in STOPSIGNAL reuses the original's configuration, and is rebuilt when it changes.
 */
export const STYLE_CONTEXT_DIRS: Readonly<Record<string, readonly string[]>> = {
  "nginx-quit": ["nginx"],
  "apache2-winch": ["apache2"],
};

export interface ContextHashInput {
  /** The build context: the images/ directory. */
  imagesDir: string;
  style: string;
  baseRef: string;
  /** The base image's ID (sha256:...) when it exists locally. */
  baseId?: string;
}

/** Relative (forward-slash) paths of the files hashed for a style, sorted. */
export async function contextFiles(imagesDir: string, style: string): Promise<string[]> {
  const files: string[] = [];
  for (const dir of [...SHARED_CONTEXT_DIRS, ...(STYLE_CONTEXT_DIRS[style] ?? []), style]) {
    const root = join(imagesDir, dir);
    const st = await lstat(root).catch(() => undefined);
    if (!st?.isDirectory()) throw new Error(`build context directory ${root} is missing`);
    await walk(root, imagesDir, files);
  }
  return files.sort();
}

async function walk(dir: string, base: string, out: string[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  for (const entry of entries) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) await walk(full, base, out);
    else if (entry.isFile() || entry.isSymbolicLink()) out.push(relative(base, full).split(sep).join("/"));
  }
}

/** sha256 of the style's context and base image, first 12 hex digits. */
export async function contextHash(input: ContextHashInput): Promise<string> {
  const files = await contextFiles(input.imagesDir, input.style);
  if (!files.some((f) => f === `${input.style}/Dockerfile`)) {
    throw new Error(`${join(input.imagesDir, input.style, "Dockerfile")} is missing`);
  }
  const hash = createHash("sha256");
  const field = (value: string | Buffer) => {
    const bytes = typeof value === "string" ? Buffer.from(value) : value;
    hash.update(`${bytes.length}:`);
    hash.update(bytes);
  };
  field("graceful-e2e image context v1");
  for (const file of files) {
    const full = join(input.imagesDir, ...file.split("/"));
    const st = await lstat(full);
    field(file);
    if (st.isSymbolicLink()) {
      field("symlink");
      field(await readlink(full));
    } else {
      // Only the executable bit: other mode bits and timestamps do not change the image.
      field((st.mode & 0o111) !== 0 ? "file+x" : "file");
      field(await readFile(full));
    }
  }
  field("base");
  field(input.baseRef);
  field(input.baseId ?? "");
  return hash.digest("hex").slice(0, 12);
}
