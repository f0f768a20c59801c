// The sample app's FAIL_FIRST_N switch, used by bench/harness.ts to check that failures are
// counted exactly: the first N requests to any path but /healthz get a 500, then all is normal.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { PROBE_HEADER } from "../../src/load/fresh-request.js";
import { packageRoot } from "../../src/util/paths.js";

const SERVER = join(packageRoot(), "images", "app", "server.js");
const children: ChildProcess[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});

async function start(env: Record<string, string>): Promise<{ port: number; lines: Array<Record<string, unknown>> }> {
  const child = spawn(process.execPath, [SERVER], {
    env: { PATH: process.env.PATH ?? "", HOSTNAME: "unit", PORT: "0", HOST: "127.0.0.1", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  const lines: Array<Record<string, unknown>> = [];
  const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const port = await new Promise<number>((resolve, reject) => {
    rl.on("line", (text) => {
      const line = JSON.parse(text) as Record<string, unknown>;
      lines.push(line);
      if (line.event === "listening") resolve(Number(line.port));
    });
    child.on("exit", (code) => reject(new Error(`server exited ${code}`)));
  });
  return { port, lines };
}

async function status(port: number, path: string, headers: Record<string, string> = {}): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers });
  await res.arrayBuffer();
  return res.status;
}

describe("FAIL_FIRST_N", () => {
  it("answers the first N non-/healthz requests with 500, then serves normally", async () => {
    const { port, lines } = await start({ FAIL_FIRST_N: "3" });
    expect(await status(port, "/healthz")).toBe(200);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push(await status(port, i === 1 ? "/slow?ms=1" : "/"));
    expect(statuses).toEqual([500, 500, 500, 200, 200]);
    expect(await status(port, "/healthz")).toBe(200);
    expect(lines.filter((l) => l.event === "fail-first-n-done")).toHaveLength(1);
  });

  it("leaves the harness's probes (the warm-up) alone: the N failures start after them", async () => {
    const { port } = await start({ FAIL_FIRST_N: "2" });
    const probe = { [PROBE_HEADER]: "warm-up" };
    expect([await status(port, "/", probe), await status(port, "/", probe)]).toEqual([200, 200]);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push(await status(port, "/"));
    expect(statuses).toEqual([500, 500, 200]);
  });

  it("is off by default", async () => {
    const { port } = await start({});
    expect(await status(port, "/")).toBe(200);
  });
});
