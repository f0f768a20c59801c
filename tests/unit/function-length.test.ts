// The function-length rule (developers' guide, "Code style"): functions fit on a screen, never more
// than 120 lines in the runner, the backends, the evidence (observe, verdict), Kubernetes, inspect and
// the load. Measured on the syntax tree (the TypeScript compiler API): every function, method, accessor,
// constructor and arrow function with a body, from its first line to its last, nested ones included.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

/** The longest a function may be, in lines. */
const MAX_LINES = 120;

/** The folders of src/ the rule holds in. */
const FOLDERS = ["runner", "backends", "observe", "k8s", "verdict", "inspect", "load"];

/**
 * Functions allowed over the bound for now, as "file:name" with why. Keep it empty: split a function
 * rather than list it here.
 */
const ALLOWED: ReadonlyMap<string, string> = new Map<string, string>([]);

const SRC = resolve(import.meta.dirname, "../../src");

interface LongFunction {
  /** "src/load/http2.ts:114". */
  at: string;
  name: string;
  lines: number;
}

/** A function's name as a reader finds it: its own, or the variable / property / method it is assigned to. */
function nameOf(node: ts.FunctionLikeDeclaration, source: ts.SourceFile): string {
  if (node.name) return node.name.getText(source);
  if (ts.isConstructorDeclaration(node)) return "constructor";
  const parent = node.parent;
  if (
    parent &&
    (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent))
  )
    return parent.name.getText(source);
  return "(anonymous)";
}

/** Every function of `text` longer than `max` lines. */
function longFunctions(file: string, text: string, max = MAX_LINES): LongFunction[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const out: LongFunction[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && "body" in node && node.body !== undefined) {
      const fn = node as ts.FunctionLikeDeclaration;
      const first = source.getLineAndCharacterOfPosition(fn.getStart(source)).line + 1;
      const last = source.getLineAndCharacterOfPosition(fn.getEnd()).line + 1;
      const lines = last - first + 1;
      if (lines > max) out.push({ at: `${file}:${first}`, name: nameOf(fn, source), lines });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

function sourcesUnder(folder: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const e of readdirSync(join(SRC, folder), { withFileTypes: true, recursive: true })) {
    if (!e.isFile() || !e.name.endsWith(".ts")) continue;
    const path = join(e.parentPath, e.name);
    files.set(`src/${relative(SRC, path)}`, readFileSync(path, "utf8"));
  }
  return files;
}

describe("function length", () => {
  it(`no function over ${MAX_LINES} lines in src/{${FOLDERS.join(",")}}`, () => {
    const offenders: string[] = [];
    let files = 0;
    for (const folder of FOLDERS) {
      for (const [file, text] of sourcesUnder(folder)) {
        files++;
        for (const f of longFunctions(file, text)) {
          if (!ALLOWED.has(`${file}:${f.name}`)) offenders.push(`${f.at} ${f.name}: ${f.lines} lines`);
        }
      }
    }
    expect(files).toBeGreaterThan(50);
    expect(offenders).toEqual([]);
  });

  it("every allowed function still exists and is still over the bound (else drop it from the list)", () => {
    for (const key of ALLOWED.keys()) {
      const file = key.slice(0, key.lastIndexOf(":"));
      const name = key.slice(key.lastIndexOf(":") + 1);
      const text = readFileSync(resolve(SRC, "..", file), "utf8");
      expect(
        longFunctions(file, text).map((f) => f.name),
        key,
      ).toContain(name);
    }
  });

  it("the check sees every kind of function, nested ones and methods included, and counts lines exactly", () => {
    const body = (n: number) => Array.from({ length: n }, (_, i) => `  const v${i} = ${i};`).join("\n");
    // A function of exactly MAX_LINES lines passes; one line more does not.
    const atBound = `export function fits() {\n${body(MAX_LINES - 2)}\n}\n`;
    expect(longFunctions("a.ts", atBound)).toEqual([]);
    const text = [
      `export function tooLong() {\n${body(MAX_LINES - 1)}\n}`,
      `const arrow = () => {\n${body(MAX_LINES)}\n};`,
      `class K {\n  method() {\n${body(MAX_LINES)}\n  }\n}`,
      `const o = { prop: function () {\n${body(MAX_LINES)}\n} };`,
      `function outer() {\n  const inner = () => {\n${body(MAX_LINES)}\n  };\n  return inner;\n}`,
    ].join("\n");
    expect(longFunctions("b.ts", text).map((f) => `${f.name} ${f.lines}`)).toEqual([
      `tooLong ${MAX_LINES + 1}`,
      `arrow ${MAX_LINES + 2}`,
      `method ${MAX_LINES + 2}`,
      `prop ${MAX_LINES + 2}`,
      `outer ${MAX_LINES + 5}`,
      `inner ${MAX_LINES + 2}`,
    ]);
    expect(longFunctions("b.ts", text)[0]?.at).toBe("b.ts:1");
  });
});
