// One esbuild bundle for the images' Node 18 (Debian bookworm's nodejs): the in-cluster load
// generator and the sample app's protocol libraries are both built this way, so neither image installs
// anything from npm. esbuild comes with tsx (a dev dependency): loaded only when a bundle is made.
import { packageRoot } from "../util/paths.js";

interface EsbuildLike {
  build(options: Record<string, unknown>): Promise<{
    outputFiles?: Array<{ contents: Uint8Array }>;
    errors: Array<{ text: string }>;
  }>;
}

export interface BundleRequest {
  /** The entry module's source (resolved from the package root). */
  entry: string;
  /** Names the entry in messages and the bundle's comments. */
  entryName: string;
  outfile: string;
  /** Keep the libraries' licence headers at the end (default: none). */
  legalComments?: "eof" | "none";
  /** What the bundle is, for the error message ("the load generator"). */
  what: string;
}

/** Bundles to one CommonJS file for node >= 18. Deterministic for the same sources and versions. */
export async function bundleForNode18(req: BundleRequest): Promise<Buffer> {
  let esbuild: EsbuildLike;
  try {
    esbuild = (await import("esbuild")) as unknown as EsbuildLike;
  } catch (err) {
    throw new Error(
      `building ${req.what} needs esbuild (npm i -D esbuild), which is not installed: ${(err as Error).message}`,
    );
  }
  const root = packageRoot();
  const result = await esbuild.build({
    stdin: { contents: req.entry, resolveDir: root, sourcefile: req.entryName, loader: "ts" },
    // Paths in the bundle's comments are relative to this: the same bytes from any working directory.
    absWorkingDir: root,
    bundle: true,
    platform: "node",
    target: "node18",
    format: "cjs",
    write: false,
    outfile: req.outfile,
    legalComments: req.legalComments ?? "none",
    logLevel: "silent",
  });
  const out = result.outputFiles?.[0];
  if (!out || result.errors.length > 0) {
    throw new Error(`bundling ${req.what} failed: ${result.errors.map((e) => e.text).join("; ")}`);
  }
  return Buffer.from(out.contents);
}
