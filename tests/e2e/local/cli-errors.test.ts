// Bad input and missing prerequisites: one clear line each, exit code 2, nothing started.
// Concurrent: each test is its own CLI process that exits before starting anything (no container,
// no load), so they do not disturb one another; most of each one's time is loading the CLI.
import { describe, expect, it } from "vitest";
import { cli, runContainers } from "./cli.js";

const FIXTURE = "fixtures/scenarios/exec-form-prestop-sleep.yaml";

describe.concurrent("graceful-e2e run: bad input and missing prerequisites", () => {
  it("rejects the whole bad-scenario corpus with file, field and reason, exit 2", async () => {
    const r = await cli(["run", "tests/fixtures/bad-scenarios"]);
    expect(r.exitCode).toBe(2);
    const lines = r.stderr.split("\n").filter(Boolean);
    expect(lines.length).toBeGreaterThanOrEqual(12);
    for (const line of lines) expect(line).toMatch(/bad-scenarios\/[a-z-]+\.yaml: \S*.*: .+/);
    expect(r.stderr).toContain("unknown-field.yaml: replicaz: unknown field");
    expect(r.stderr).toContain("unknown-style.yaml: image.style: Invalid option");
  });

  it("validates every file before running any: one bad file stops the whole run", async () => {
    const r = await cli(["run", FIXTURE, "tests/fixtures/bad-scenarios/wrong-type.yaml"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("wrong-type.yaml: replicas:");
    expect(r.stderr).not.toContain("deploying");
    expect(await runContainers("exec-form-prestop-sleep")).toEqual([]);
  });

  it("an unknown backend", async () => {
    const r = await cli(["run", "--backend", "nomad", FIXTURE]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim()).toBe('error: --backend: unknown backend "nomad" (expected one of local, kind, existing)');
  });

  it("a --filter that is not a regular expression", async () => {
    const r = await cli(["run", "--filter", "(", FIXTURE]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/^error: --filter: not a valid regular expression/);
  });

  it("the Docker engine down: says how to start one, starts nothing", async () => {
    const r = await cli(["run", FIXTURE], { DOCKER_HOST: "unix:///nonexistent/docker.sock" });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/^error: no Docker engine is reachable .*scripts\/ensure-docker\.sh/m);
    expect(r.stderr).not.toContain("deploying");
  });

  it("kind missing: names what to install before building or creating anything", async () => {
    const r = await cli(["run", "--backend", "kind", FIXTURE], { PATH: "/usr/bin:/bin" });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/`kind` not found on PATH: install kind/);
    expect(r.stderr).not.toMatch(/image|deploying/);
  });

  it("an existing cluster without the explicit confirmation", async () => {
    const r = await cli([
      "run",
      "--backend",
      "existing",
      "--context",
      "prod",
      "--registry",
      "registry.example:5000",
      "--address",
      "127.0.0.1:30080",
      FIXTURE,
    ]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/--allow-mutations/);
  });

  it("a port in use: --service-port taken: one line, exit 2, nothing started", async () => {
    const { createServer } = await import("node:net");
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, "127.0.0.1", () => r()));
    const port = (taken.address() as { port: number }).port;
    try {
      const r = await cli(["run", "--service-port", String(port), FIXTURE]);
      expect(r.exitCode).toBe(2);
      expect(r.stderr.trim()).toBe(
        `error: --service-port: 127.0.0.1:${port} is in use: choose another port or stop what listens there`,
      );
      expect(await runContainers("exec-form-prestop-sleep")).toEqual([]);
    } finally {
      taken.close();
    }
  });
});
