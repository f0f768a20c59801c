// Reads manifests as `helm template` / `kustomize build` print them: multi-document YAML files, a
// folder of them, or standard input. Only parsing and the shape every object needs; what the
// objects mean is decided in select.ts.
import { readdir, readFile, stat } from "node:fs/promises";
import { extname, join } from "node:path";
import { type Document, isNode, LineCounter, parseAllDocuments } from "yaml";
import { issueAt, ManifestError, type ManifestIssue, type ManifestObject, type ManifestOrigin } from "./types.js";

/** Alias expansions a document may use (yaml's default, explicit: an alias bomb stops here). */
const MAX_ALIAS_COUNT = 100;
const MANIFEST_EXTENSIONS = [".yaml", ".yml", ".json"];
/** The name standard input gets in errors. */
export const STDIN_NAME = "<stdin>";

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The line of the deepest field of path that exists in the document. */
function lineFinder(doc: Document, lines: LineCounter, prefix: Array<string | number>): ManifestOrigin["lineOf"] {
  return (path) => {
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn([...prefix, ...path.slice(0, n)], true);
      if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
    }
    return undefined;
  };
}

/** What every object must have to be applied: apiVersion, kind, metadata.name. */
function shapeIssues(entry: { object: unknown; origin: ManifestOrigin }): ManifestIssue[] {
  const o = entry.object;
  const at = (path: string[], message: string) => issueAt(entry as ManifestObject, path, message);
  if (!isRecord(o)) return [at([], "expected a Kubernetes object (a mapping with apiVersion, kind, metadata)")];
  const issues: ManifestIssue[] = [];
  for (const field of ["apiVersion", "kind"]) {
    if (typeof o[field] !== "string" || o[field] === "") issues.push(at([field], "required field is missing"));
  }
  const name = isRecord(o.metadata) ? o.metadata.name : undefined;
  if (typeof name !== "string" || name === "") {
    issues.push(at(["metadata", "name"], "required field is missing (generateName is not supported)"));
  }
  return issues;
}

/** The objects of one parsed document: itself, or the items of a List. */
function documentObjects(value: unknown, origin: (within: Array<string | number>) => ManifestOrigin) {
  if (isRecord(value) && value.kind === "List" && Array.isArray(value.items)) {
    return value.items.map((object, j) => ({ object, origin: origin(["items", j]) }));
  }
  return [{ object: value, origin: origin([]) }];
}

/** yaml's message, on one line. */
const oneLine = (message: string) => message.split("\n")[0] ?? message;

/** Parses the text of one manifest stream; every problem is reported at once (ManifestError). */
export function parseManifests(text: string, file: string): ManifestObject[] {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text.replace(/^\ufeff/, ""), {
    lineCounter: lines,
    uniqueKeys: true,
    prettyErrors: false,
  });
  const issues: ManifestIssue[] = [];
  const objects: Array<{ object: unknown; origin: ManifestOrigin }> = [];
  (Array.isArray(docs) ? docs : []).forEach((doc, i) => {
    const document = i + 1;
    const [error] = doc.errors;
    if (error) {
      const line = lines.linePos(error.pos[0]).line;
      issues.push({ file, document, field: "", message: `YAML: ${oneLine(error.message)}`, ...(line ? { line } : {}) });
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (err) {
      issues.push({ file, document, field: "", message: `YAML: ${oneLine((err as Error).message)}` });
      return;
    }
    if (value === null || value === undefined) return; // empty (helm prints them for disabled templates)
    const origin = (prefix: Array<string | number>): ManifestOrigin => ({
      file,
      document,
      within: prefix.length === 0 ? "" : `${prefix[0]}[${prefix[1]}]`,
      lineOf: lineFinder(doc, lines, prefix),
    });
    objects.push(...documentObjects(value, origin));
  });
  for (const entry of objects) issues.push(...shapeIssues(entry));
  if (issues.length > 0) throw new ManifestError(issues);
  return objects as ManifestObject[];
}

/** A file as itself, a folder as its manifest files (sorted, not recursive, as kubectl apply -f). */
async function expand(path: string): Promise<string[]> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new ManifestError([{ file: path, document: 0, field: "", message: "no such file or directory" }]);
  if (!info.isDirectory()) return [path];
  const files = (await readdir(path)).filter((e) => MANIFEST_EXTENSIONS.includes(extname(e))).sort();
  if (files.length === 0) {
    const message = `no manifest files (${MANIFEST_EXTENSIONS.join(", ")}) in this folder`;
    throw new ManifestError([{ file: path, document: 0, field: "", message }]);
  }
  return files.map((e) => join(path, e));
}

/**
 * Reads every file, folder and "-" (readStdin's text, read once) of paths, in order. All files'
 * problems are reported together.
 */
export async function readManifests(
  paths: readonly string[],
  readStdin?: () => Promise<string>,
): Promise<ManifestObject[]> {
  const objects: ManifestObject[] = [];
  const issues: ManifestIssue[] = [];
  for (const path of paths) {
    try {
      if (path === "-") {
        if (!readStdin)
          throw new ManifestError([
            { file: STDIN_NAME, document: 0, field: "", message: "standard input is not available here" },
          ]);
        objects.push(...parseManifests(await readStdin(), STDIN_NAME));
        continue;
      }
      for (const file of await expand(path)) objects.push(...parseManifests(await readFile(file, "utf8"), file));
    } catch (err) {
      if (!(err instanceof ManifestError)) throw err;
      issues.push(...err.issues);
    }
  }
  if (issues.length > 0) throw new ManifestError(issues);
  return objects;
}
