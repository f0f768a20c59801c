// Checks every package in the lockfile declares an engines.node range that this
// Node satisfies (the newest releases of some dependencies need Node 22).
import { readFileSync } from "node:fs";
import semver from "semver";

const lock = JSON.parse(readFileSync(new URL("../package-lock.json", import.meta.url), "utf8"));
const bad = [];
for (const [where, pkg] of Object.entries(lock.packages ?? {})) {
  const range = pkg.engines?.node;
  if (!where || !range || pkg.optional) continue;
  if (!semver.satisfies(process.version, range, { includePrerelease: true })) bad.push(`${where}: node ${range}`);
}
if (bad.length) {
  console.error(`Packages whose engines exclude ${process.version}:\n  ${bad.join("\n  ")}`);
  process.exit(1);
}
console.log(`engines: every locked package accepts ${process.version}`);
