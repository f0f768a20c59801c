// A third-party gRPC server that implements ONLY grpc.health.v1 (images/grpc-health: Debian's
// python3-grpcio; no HTTP/1.1, no x-served-by) under the grpc load's default method while its
// container is stopped as a pod's would be (SIGTERM, then SIGKILL after the grace period). No Service
// in front: the load goes straight to the container's published port, so what is measured is the
// load's counting against what the server does — NOT_SERVING answers through its drain (answers,
// counted apart; or failures with notServing "failure"), then nothing once it stopped.
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { ensureStyleImages } from "../../../src/images/build.js";
import { resultProblems } from "../../../src/load/accounting.js";
import { startLoad } from "../../../src/load/generator.js";
import { grpcCallOnce } from "../../../src/load/grpc.js";
import type { LoadRunResult } from "../../../src/load/types.js";
import { LoadSpec } from "../../../src/scenario/schema.js";
import { newRunId } from "../../../src/util/labels.js";

const RUN_ID = newRunId();
/** The server's drain (NOT_SERVING, still answering) before server.stop: its DRAIN_SECONDS. */
const DRAIN_MS = 2000;
const started: string[] = [];

afterAll(async () => {
  for (const id of started) await execa("docker", ["rm", "-f", id], { reject: false });
});

async function startServer(): Promise<{ id: string; port: number }> {
  const [image] = await ensureStyleImages(["grpc-health"]);
  const { stdout: id } = await execa("docker", [
    "run",
    "-d",
    "--label",
    "graceful-e2e=true",
    "--label",
    `graceful-e2e.run=${RUN_ID}`,
    "-e",
    `DRAIN_SECONDS=${DRAIN_MS / 1000}`,
    "-p",
    "127.0.0.1::8080",
    image?.ref ?? "",
  ]);
  started.push(id);
  const { stdout } = await execa("docker", ["port", id, "8080/tcp"]);
  const port = Number(stdout.split("\n")[0]?.split(":").pop());
  const load = LoadSpec.parse({ protocol: "grpc" });
  const deadline = Date.now() + 30_000;
  let last: string | undefined = "no answer";
  while (Date.now() < deadline) {
    last = await grpcCallOnce({ host: "127.0.0.1", port }, load, 1000);
    if (last === undefined) return { id, port };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`grpc-health never answered a Check: ${last}`);
}

/** Load for 1.5 s, docker stop (SIGTERM; SIGKILL after 10 s), load 1.5 s more after the exit. */
async function loadThroughStop(notServing: "answer" | "failure") {
  const { id, port } = await startServer();
  const opts = LoadSpec.parse({
    protocol: "grpc",
    connections: 4,
    rate: 200,
    requestTimeoutSeconds: 2,
    freshConnectionIntervalMs: 50,
    grpc: { notServing },
  });
  const run = startLoad({ host: "127.0.0.1", port }, opts);
  await new Promise((r) => setTimeout(r, 1500));
  const sigtermAt = Date.now();
  await execa("docker", ["stop", "-t", "10", id]);
  const exitedAt = Date.now();
  await new Promise((r) => setTimeout(r, 1500));
  const result = await run.stop();
  const { stdout: exit } = await execa("docker", ["inspect", "-f", "{{.State.ExitCode}}", id]);
  const { stdout: logs } = await execa("docker", ["logs", id]);
  return { result, records: run.requestRecords(), sigtermAt, exitedAt, exitCode: Number(exit), logs };
}

function expectCounted(r: LoadRunResult) {
  expect(resultProblems(r)).toEqual([]);
  expect(r.sent).toBe(r.succeeded + r.failed + r.inFlightAtEnd);
  expect(r.grpc?.method).toBe("grpc.health.v1.Health/Check");
}

describe("grpc-health (grpc.health.v1 only) stopped under load", () => {
  it("NOT_SERVING through the drain is answered and counted apart; only calls after the server stopped fail", async () => {
    const m = await loadThroughStop("answer");
    const r = m.result;
    expectCounted(r);
    // The server's own account: SIGTERM → NOT_SERVING → stop → exit 0, within the grace period.
    expect(m.logs).toMatch(/SIGTERM: NOT_SERVING/);
    expect(m.logs).toMatch(/stopped/);
    expect(m.exitCode).toBe(0);
    expect(m.exitedAt - m.sigtermAt).toBeLessThan(10_000);
    const health = r.grpc?.health;
    expect(health?.serving).toBeGreaterThan(100);
    // 2 s of drain at 200 calls/s: hundreds of NOT_SERVING answers, none of them a failure.
    expect(health?.notServing).toBeGreaterThan(100);
    expect((health?.serving ?? 0) + (health?.notServing ?? 0)).toBe(r.succeeded);
    expect(r.failedByKind["grpc-not-serving"] ?? 0).toBe(0);
    // Failures are true to the server: none while it answered (before SIGTERM and through the
    // drain), every call after it stopped (nothing listens: no Service moves them elsewhere).
    expect(r.failed).toBeGreaterThan(0);
    for (const f of r.failures) expect(f.at).toBeGreaterThanOrEqual(m.sigtermAt + DRAIN_MS - 100);
    // Measured: besides the calls to the stopped server (grpc-unavailable), a few CANCELLED (grpc-other 1,
    // about one per channel): calls that reached the server as server.stop began, which C-core cancels
    // rather than answers — the server's doing, counted as what it is. On the clean CI machine once an
    // INTERNAL (grpc-other 13) instead, at the same moment (after the drain): the stop resetting the stream.
    const allowed = ["grpc-unavailable", "goaway-refused", "timeout", "grpc-other 1", "grpc-other 13"];
    const kinds = r.failures.map((f) => (f.kind === "grpc-other" ? `${f.kind} ${f.code}` : f.kind));
    expect(kinds.filter((k) => !allowed.includes(k))).toEqual([]);
    // No x-served-by from a third-party server: each call carries its connection's client port, the
    // join key of the Service proxy's records (a call opened while its channel was reconnecting may not).
    const ok = m.records.filter((x) => x.ok);
    expect(ok.every((x) => x.pod === undefined)).toBe(true);
    expect(ok.filter((x) => x.clientPort !== undefined).length).toBe(ok.length);
  });

  it('notServing "failure": the drain\'s NOT_SERVING answers are the failures, with the status', async () => {
    const m = await loadThroughStop("failure");
    const r = m.result;
    expectCounted(r);
    const notServing = r.failedByKind["grpc-not-serving"] ?? 0;
    expect(notServing).toBeGreaterThan(100);
    expect(notServing).toBe(r.grpc?.health?.notServing);
    const during = r.failures.filter((f) => f.kind === "grpc-not-serving");
    expect(during.every((f) => f.code === "NOT_SERVING" && f.at >= m.sigtermAt)).toBe(true);
    expect(r.succeeded).toBe(r.grpc?.health?.serving);
  });
});
