// Where the package lives on disk, found from this module's own location (works from src/ under
// tsx and from dist/ after a build): the nearest ancestor directory holding a package.json.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let cachedRoot: string | undefined;

/** The directory holding graceful-e2e's package.json. */
export function packageRoot(): string {
  if (cachedRoot !== undefined) return cachedRoot;
  const start = dirname(fileURLToPath(import.meta.url));
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, "package.json"))) {
      cachedRoot = dir;
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json found in ${start} or any directory above it`);
    dir = parent;
  }
}

/** The Docker build context of the sample images: images/ (app/ plus one directory per style). */
export function imagesDir(): string {
  return join(packageRoot(), "images");
}
