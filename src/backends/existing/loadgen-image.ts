// The image of the in-cluster load generator (images/loadgen): src/load/job-main.ts bundled by esbuild
// (autocannon inside: no npm install in the image, the build works offline) and built FROM the same
// base as the sample images with `docker build`, tagged by content:
// graceful-e2e/loadgen:<12 hex of sha256(Dockerfile, bundle, base ref, base image ID)>.

import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { resolveBaseImage } from "../../images/base.js";
import { bundleForNode18 } from "../../images/bundle.js";
import type { CommandRunner } from "../../k8s/command.js";
import { PrerequisiteError } from "../../util/errors.js";
import { packageRoot } from "../../util/paths.js";

export const LOADGEN_REPOSITORY = "graceful-e2e/loadgen";
export const LOADGEN_BUNDLE_NAME = "job-main.cjs";
/** Changes when the recipe (not the inputs) changes. */
const RECIPE_VERSION = "loadgen-1";

export function loadgenDockerfile(): string {
  return join(packageRoot(), "images", "loadgen", "Dockerfile");
}

/** The entry to bundle: the TypeScript source in a checkout, the compiled module in an install. */
export function loadgenEntry(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [
    join(packageRoot(), "src", "load", "job-main.ts"),
    join(here, "..", "..", "load", "job-main.ts"),
    join(here, "..", "..", "load", "job-main.js"),
  ];
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new Error(`the load generator's entry is missing (looked for ${candidates.join(", ")})`);
  return found;
}

/** Throws a PrerequisiteError when the loadgen image cannot be built here (no esbuild, no entry). */
export async function assertLoadgenBuildable(): Promise<void> {
  try {
    await import("esbuild");
  } catch {
    throw new PrerequisiteError(
      "load from inside the cluster builds its image with esbuild, which is not installed (npm i -D esbuild); " +
        "or give --address to generate the load from this machine",
    );
  }
  try {
    loadgenEntry();
  } catch (err) {
    throw new PrerequisiteError((err as Error).message);
  }
}

/** job-main.ts + autocannon + the rest → one CommonJS file for node >= 18. Deterministic for the same sources. */
export function bundleLoadgen(entry = loadgenEntry()): Promise<Buffer> {
  return bundleForNode18({
    entry: `import { main } from ${JSON.stringify(entry)};\nvoid main();\n`,
    entryName: "loadgen-entry.ts",
    outfile: LOADGEN_BUNDLE_NAME,
    what: "the in-cluster load generator",
  });
}

export function loadgenTag(parts: { dockerfile: string; bundle: Buffer; baseRef: string; baseId: string }): string {
  const h = createHash("sha256");
  for (const p of [RECIPE_VERSION, parts.dockerfile, parts.bundle, parts.baseRef, parts.baseId]) {
    const b = typeof p === "string" ? Buffer.from(p) : p;
    h.update(`${b.length}:`);
    h.update(b);
  }
  return `${LOADGEN_REPOSITORY}:${h.digest("hex").slice(0, 12)}`;
}

async function imageId(run: CommandRunner, ref: string): Promise<string | undefined> {
  try {
    const { stdout } = await run("docker", ["image", "inspect", "--format", "{{.Id}}", ref]);
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

export interface LoadgenImageOptions {
  run: CommandRunner;
  /** The base image (default: the one the sample images use, src/images/base.ts). */
  baseRef?: string;
  log?: (line: string) => void;
  /** Rebuild even when the tag exists. */
  force?: boolean;
}

/** Builds the loadgen image unless an image with the same content tag is already here; returns its tag. */
export async function ensureLoadgenImage(o: LoadgenImageOptions): Promise<string> {
  const base = o.baseRef ?? (await resolveBaseImage({ onProgress: o.log })).ref;
  let baseId = await imageId(o.run, base);
  if (!baseId) {
    o.log?.(`loadgen: pulling base image ${base}`);
    await o.run("docker", ["pull", base]);
    baseId = await imageId(o.run, base);
    if (!baseId) throw new Error(`base image ${base} is not present after docker pull`);
  }
  const dockerfile = await readFile(loadgenDockerfile(), "utf8");
  const bundle = await bundleLoadgen();
  const ref = loadgenTag({ dockerfile, bundle, baseRef: base, baseId });
  if (!o.force && (await imageId(o.run, ref))) {
    o.log?.(`loadgen: ${ref} (cached)`);
    return ref;
  }
  const dir = await mkdtemp(join(tmpdir(), "graceful-e2e-loadgen-"));
  try {
    await writeFile(join(dir, "Dockerfile"), dockerfile);
    await writeFile(join(dir, LOADGEN_BUNDLE_NAME), bundle);
    o.log?.(`loadgen: building ${ref} FROM ${base}`);
    const started = Date.now();
    await o.run("docker", ["build", "--force-rm", "--build-arg", `BASE_IMAGE=${base}`, "-t", ref, dir]);
    o.log?.(`loadgen: built ${ref} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return ref;
}
