// The layering rule (README, "Architecture"): a module imports only from its own layer or below, types
// included. model/ imports nothing from the project but other model files.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

/** Bottom first. Folders on one line are one layer. */
const LAYERS: readonly (readonly string[])[] = [
  ["model"],
  ["util"],
  ["scenario"],
  ["observe"],
  ["load"],
  ["verdict"],
  ["images", "k8s", "workload", "backends"],
  ["runner"],
  ["report", "inspect", "check", "audit"],
  ["bench", "cli"],
];

const SRC = resolve(import.meta.dirname, "../../src");

function layerOf(folder: string): number {
  const i = LAYERS.findIndex((l) => l.includes(folder));
  if (i < 0) throw new Error(`src/${folder} is in no layer: add it to LAYERS`);
  return i;
}

/** Every relative module specifier a file imports or re-exports (static, type-only and dynamic). */
function importsOf(source: string): string[] {
  const specs: string[] = [];
  for (const m of source.matchAll(/(?:import|export)\s[^;]*?\sfrom\s*["'](\.[^"']+)["']/g)) specs.push(m[1] ?? "");
  for (const m of source.matchAll(/import\s*\(\s*["'](\.[^"']+)["']\s*\)/g)) specs.push(m[1] ?? "");
  for (const m of source.matchAll(/^import\s*["'](\.[^"']+)["']/gm)) specs.push(m[1] ?? "");
  return specs;
}

/** "src/a/x.ts imports ../b/y.js (b is above a)" for every import that runs upward. */
function violations(files: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  for (const [file, source] of files) {
    const from = file.split("/")[0] ?? "";
    for (const spec of importsOf(source)) {
      const target = relative(SRC, resolve(SRC, dirname(file), spec));
      const to = target.split("/")[0] ?? "";
      if (target.startsWith("..")) out.push(`src/${file} imports ${spec}, outside src/`);
      else if (from === "model" ? to !== "model" : layerOf(to) > layerOf(from))
        out.push(`src/${file} imports ${spec} (${to} is above ${from})`);
    }
  }
  return out;
}

function sources(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile() || !e.name.endsWith(".ts")) continue;
    const path = join(e.parentPath, e.name);
    files.set(relative(SRC, path), readFileSync(path, "utf8"));
  }
  return files;
}

describe("layers", () => {
  it("no module of src/ imports from a layer above its own (types included)", () => {
    const files = sources(SRC);
    expect(files.size).toBeGreaterThan(100);
    expect(violations(files)).toEqual([]);
  });

  it("the check sees upward imports of every form, and model importing anything outside model", () => {
    const files = new Map([
      ["observe/a.ts", 'import type { LoadResult } from "../load/types.js";'],
      ["verdict/b.ts", 'export { x } from "../backends/backend.js";'],
      ["util/c.ts", 'const m = await import("../runner/run.js");'],
      ["model/d.ts", 'import type { X } from "../util/x.js";'],
      ["runner/ok.ts", 'import type { PodOutcome } from "../model/pod-outcome.js";\nimport { x } from "./y.js";'],
      ["backends/e.ts", 'import {\n  a,\n  type B,\n} from "../../cli/main.js";'],
    ]);
    expect(violations(files)).toEqual([
      "src/observe/a.ts imports ../load/types.js (load is above observe)",
      "src/verdict/b.ts imports ../backends/backend.js (backends is above verdict)",
      "src/util/c.ts imports ../runner/run.js (runner is above util)",
      "src/model/d.ts imports ../util/x.js (util is above model)",
      "src/backends/e.ts imports ../../cli/main.js, outside src/",
    ]);
  });

  it("every folder of src/ is in a layer", () => {
    const folders = readdirSync(SRC, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    for (const f of folders) expect(() => layerOf(f)).not.toThrow();
  });
});
