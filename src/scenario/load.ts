// Reads scenario files (YAML) and turns them into validated Scenario objects, or into
// errors that name the file, the field and what is wrong.
import { readdir, readFile, stat } from "node:fs/promises";
import { dirname, extname, join, resolve } from "node:path";
import { parseDocument } from "yaml";
import type { z } from "zod";
import { GrpcSpecError, grpcDescriptor, resolveGrpcMethod } from "./grpc-method.js";
import { type Scenario, ScenarioSpec, scenarioCrossFieldIssues } from "./schema.js";

/** Alias expansions (weighted by the aliases' own size) a scenario file may use: yaml's default. */
const MAX_ALIAS_COUNT = 100;

export interface ScenarioIssue {
  file: string;
  /** Dotted path of the field, e.g. "load.connections"; "" for the whole document. */
  field: string;
  message: string;
}

/** Thrown when any scenario file is invalid; carries every problem found. */
export class ScenarioValidationError extends Error {
  constructor(readonly issues: ScenarioIssue[]) {
    super(issues.map(formatIssue).join("\n"));
    this.name = "ScenarioValidationError";
  }
}

export interface LoadedScenario {
  file: string;
  scenario: Scenario;
  warnings: string[];
}

export function formatIssue(i: ScenarioIssue): string {
  return `${i.file}: ${i.field === "" ? "(document)" : i.field}: ${i.message}`;
}

function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  return path
    .map((p) => (typeof p === "number" ? `[${p}]` : String(p)))
    .join(".")
    .replace(/\.\[/g, "[");
}

function zodIssues(file: string, error: z.ZodError): ScenarioIssue[] {
  return error.issues.flatMap((i): ScenarioIssue[] => {
    if (i.code === "unrecognized_keys") {
      return i.keys.map((key) => ({
        file,
        field: fieldPath([...i.path, key]),
        message: "unknown field (see fixtures/scenario.schema.json)",
      }));
    }
    if (i.code === "invalid_union" && "errors" in i) {
      // Pick the branch that got furthest, so "image.style: invalid option" beats a generic message.
      const branches = (i.errors as z.core.$ZodIssue[][]).flat();
      const best = branches.find((b) => b.code !== "unrecognized_keys") ?? branches[0];
      if (best) return [{ file, field: fieldPath([...i.path, ...best.path]), message: zodMessage(best.message) }];
    }
    return [{ file, field: fieldPath(i.path), message: zodMessage(i.message) }];
  });
}

/** Zod's message, a missing field said in words. */
function zodMessage(message: string): string {
  const missing = /^Invalid input: expected (\w+), received undefined$/.exec(message);
  return missing ? `required field is missing (expected ${missing[1]})` : message;
}

/** Advice that is not an error: Kubernetes accepts these, but they rarely mean what users want. */
export function scenarioWarnings(s: Scenario): string[] {
  const warnings: string[] = [];
  if (s.preStop.type === "sleep" && s.preStop.seconds >= s.terminationGracePeriodSeconds) {
    warnings.push(
      `preStop sleep (${s.preStop.seconds}s) is not shorter than terminationGracePeriodSeconds ` +
        `(${s.terminationGracePeriodSeconds}s): the grace period counts from the delete and includes preStop, ` +
        "so the kubelet sends SIGTERM with only a 2 s extension left and then SIGKILL",
    );
  }
  return warnings;
}

/**
 * Why these bytes are not UTF-8 text, or undefined when they are. A UTF-8 byte order mark is
 * fine; UTF-16/32 (a byte order mark, or NULs in every other byte, as Windows editors save) and
 * other encodings are named so the user knows what to do.
 */
export function encodingProblem(bytes: Uint8Array): string | undefined {
  const [b0, b1, b2, b3] = bytes;
  const bom32 =
    (b0 === 0xff && b1 === 0xfe && b2 === 0 && b3 === 0) || (b0 === 0 && b1 === 0 && b2 === 0xfe && b3 === 0xff);
  if (bom32) return "not UTF-8 text (looks like UTF-32): save it as UTF-8";
  const bom16 = (b0 === 0xff && b1 === 0xfe) || (b0 === 0xfe && b1 === 0xff);
  const nuls = bytes.reduce((n, b) => (b === 0 ? n + 1 : n), 0);
  if (bom16 || (nuls > 0 && nuls >= bytes.length / 4)) return "not UTF-8 text (looks like UTF-16): save it as UTF-8";
  if (nuls > 0) return `not UTF-8 text (NUL bytes at line ${lineOf(bytes, bytes.indexOf(0))}): save it as UTF-8 text`;
  const decoder = new TextDecoder("utf-8", { fatal: true });
  try {
    decoder.decode(bytes);
  } catch {
    // Find the first line that does not decode, to point at it.
    let start = 0;
    for (let line = 1; start <= bytes.length; line++) {
      const end = bytes.indexOf(0x0a, start);
      const stop = end === -1 ? bytes.length : end;
      try {
        decoder.decode(bytes.subarray(start, stop));
      } catch {
        return `not UTF-8 text (invalid byte sequence at line ${line}; another encoding?): save it as UTF-8`;
      }
      start = stop + 1;
    }
    return "not UTF-8 text: save it as UTF-8";
  }
  return undefined;
}

function lineOf(bytes: Uint8Array, offset: number): number {
  return bytes.subarray(0, offset).reduce((n, b) => (b === 0x0a ? n + 1 : n), 1);
}

/** The yaml library's message, on one line; a stack overflow (absurd nesting) in words. */
function yamlMessage(message: string): string {
  if (/maximum call stack/i.test(message)) return "nested too deeply";
  return message.split("\n")[0] ?? message;
}

/** Parses one scenario file's content: bytes as read (checked to be UTF-8), or already decoded text. */
export function parseScenario(file: string, content: string | Uint8Array): LoadedScenario {
  let text: string;
  if (typeof content === "string") {
    text = content;
    // Read elsewhere as UTF-8 with replacement characters: a UTF-16 file shows as NULs.
    if (text.includes("\u0000")) {
      const utf16 = text.startsWith("\ufffd\ufffd") || text.split("\u0000").length - 1 >= text.length / 4;
      throw new ScenarioValidationError([
        {
          file,
          field: "",
          message: utf16 ? "not UTF-8 text (looks like UTF-16): save it as UTF-8" : "not UTF-8 text (NUL characters)",
        },
      ]);
    }
  } else {
    const problem = encodingProblem(content);
    if (problem) throw new ScenarioValidationError([{ file, field: "", message: problem }]);
    text = new TextDecoder("utf-8").decode(content); // drops a UTF-8 byte order mark
  }
  if (text.startsWith("\ufeff")) text = text.slice(1);
  let doc: ReturnType<typeof parseDocument>;
  try {
    doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  } catch (err) {
    const message = `YAML: ${yamlMessage(err instanceof Error ? err.message : String(err))}`;
    throw new ScenarioValidationError([{ file, field: "", message }]);
  }
  if (doc.errors.length > 0) {
    const messages = doc.errors.map(
      (e) => `YAML: ${yamlMessage(e.message)}${e.linePos ? ` (line ${e.linePos[0].line})` : ""}`,
    );
    throw new ScenarioValidationError([...new Set(messages)].map((message) => ({ file, field: "", message })));
  }
  let data: unknown;
  try {
    // maxAliasCount (the library's default, made explicit) stops an alias bomb (aliases of aliases
    // of ...) before it expands into gigabytes.
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    if (err instanceof ReferenceError && /alias/i.test(err.message)) {
      throw new ScenarioValidationError([
        { file, field: "", message: "YAML: too many alias expansions (an alias bomb?): write the values out" },
      ]);
    }
    throw new ScenarioValidationError([
      { file, field: "", message: `YAML: ${yamlMessage(err instanceof Error ? err.message : String(err))}` },
    ]);
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new ScenarioValidationError([{ file, field: "", message: "expected a mapping (key: value) at the top" }]);
  }
  const parsed = ScenarioSpec.safeParse(data);
  if (!parsed.success) {
    // Zod skips the schema's cross-field checks after some failures: run them on the raw data too.
    const issues = zodIssues(file, parsed.error);
    for (const i of scenarioCrossFieldIssues(data)) {
      const issue = { file, field: fieldPath(i.path), message: i.message };
      if (!issues.some((o) => o.field === issue.field && o.message === issue.message)) issues.push(issue);
    }
    throw new ScenarioValidationError(issues);
  }
  const scenario = withGrpcProto(withManifestPaths(parsed.data, dirname(file)), dirname(file));
  const grpcIssue = grpcMethodIssue(file, scenario);
  if (grpcIssue) throw new ScenarioValidationError([grpcIssue]);
  return { file, scenario, warnings: scenarioWarnings(scenario) };
}

/** load.grpc.proto relative to the scenario file's folder. */
function withGrpcProto(s: Scenario, dir: string): Scenario {
  const grpc = s.load.grpc;
  if (grpc?.proto === undefined) return s;
  return { ...s, load: { ...s.load, grpc: { ...grpc, proto: resolve(dir, grpc.proto) } } };
}

/** The grpc method the load would call, checked now: the proto read, the method found, the request fitting. */
function grpcMethodIssue(file: string, s: Scenario): ScenarioIssue | undefined {
  const grpc = s.load.grpc;
  if (s.load.protocol !== "grpc" || grpc === undefined) return undefined;
  try {
    resolveGrpcMethod(grpc, grpc.proto === undefined ? undefined : grpcDescriptor(grpc.proto));
    return undefined;
  } catch (err) {
    if (!(err instanceof GrpcSpecError)) throw err;
    return { file, field: `load.grpc.${err.field}`, message: err.message };
  }
}

/** workload.manifests relative to the scenario file's folder ("-", standard input, as it is). */
function withManifestPaths(s: Scenario, dir: string): Scenario {
  if (s.workload === undefined) return s;
  const manifests = s.workload.manifests.map((m) => (m === "-" ? m : resolve(dir, m)));
  return { ...s, workload: { ...s.workload, manifests } };
}

async function expand(path: string): Promise<string[]> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new ScenarioValidationError([{ file: path, field: "", message: "no such file or directory" }]);
  if (!info.isDirectory()) return [path];
  const entries = (await readdir(path)).filter((e) => [".yaml", ".yml"].includes(extname(e))).sort();
  return entries.map((e) => join(path, e));
}

/** Loads every scenario named by files or directories; all problems are reported together. */
export async function loadScenarios(paths: string[]): Promise<LoadedScenario[]> {
  const files = (await Promise.all(paths.map((p) => expand(resolve(p))))).flat();
  const loaded: LoadedScenario[] = [];
  const issues: ScenarioIssue[] = [];
  for (const file of files) {
    try {
      loaded.push(parseScenario(file, await readFile(file)));
    } catch (err) {
      if (err instanceof ScenarioValidationError) issues.push(...err.issues);
      else throw err;
    }
  }
  const seen = new Map<string, string>();
  for (const l of loaded) {
    const other = seen.get(l.scenario.name);
    if (other) issues.push({ file: l.file, field: "name", message: `"${l.scenario.name}" is also used by ${other}` });
    seen.set(l.scenario.name, l.file);
  }
  if (issues.length > 0) throw new ScenarioValidationError(issues);
  return loaded;
}
