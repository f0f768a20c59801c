// A generated table in README.md lives between `<!-- NAME:start -->` and `<!-- NAME:end -->`: the table
// scripts replace what is between the markers and nothing else.
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";

/** Replaces the README block named `name` with `content`; throws when the markers are missing. */
export function replaceReadmeBlock(name: string, content: string, file = resolve("README.md")): void {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const text = readFileSync(file, "utf8");
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a === -1 || b < a) throw new Error(`${file} has no ${start} … ${end} block`);
  writeFileSync(file, `${text.slice(0, a + start.length)}\n${content}\n${text.slice(b)}`);
}
