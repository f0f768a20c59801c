// Reads scenario files (YAML) and turns them into validated Scenario objects, or into
// errors that name the file, the field and what is wrong.
import { readdir, readFile, stat } from "node:fs/promises";
import { extname, join, resolve } from "node:path";
import { parseDocument } from "yaml";
import type { z } from "zod";
import { type Scenario, ScenarioSpec } from "./schema.js";

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
      if (best) return [{ file, field: fieldPath([...i.path, ...best.path]), message: best.message }];
    }
    const missing = /^Invalid input: expected (\w+), received undefined$/.exec(i.message);
    if (missing)
      return [{ file, field: fieldPath(i.path), message: `required field is missing (expected ${missing[1]})` }];
    return [{ file, field: fieldPath(i.path), message: i.message }];
  });
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

export function parseScenario(file: string, text: string): LoadedScenario {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ScenarioValidationError(
      doc.errors.map((e) => ({
        file,
        field: "",
        message: `YAML: ${e.message.split("\n")[0]}${e.linePos ? ` (line ${e.linePos[0].line})` : ""}`,
      })),
    );
  }
  const data: unknown = doc.toJS();
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new ScenarioValidationError([{ file, field: "", message: "expected a mapping (key: value) at the top" }]);
  }
  const parsed = ScenarioSpec.safeParse(data);
  if (!parsed.success) throw new ScenarioValidationError(zodIssues(file, parsed.error));
  return { file, scenario: parsed.data, warnings: scenarioWarnings(parsed.data) };
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
      loaded.push(parseScenario(file, await readFile(file, "utf8")));
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
