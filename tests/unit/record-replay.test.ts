// Record and replay: a run writes its raw observations next to its result; `replay` rebuilds the
// evidence, verdicts and status from them alone through the runner's own collect and judge functions.
// Here: a run on a fake backend recorded and replayed, the real kind v1.20 field recordings replayed
// through the same entry point (tests/fixtures/recordings), the recording's bounds, bad input, and a
// local run whose pods the replay rebuilds from the local backend's raw observations.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  type Backend,
  type Deployment,
  type DisruptionOutcome,
  imagePod,
  runningWorkload,
} from "../../src/backends/backend.js";
import { LOCAL_OBSERVATION_SOURCE } from "../../src/backends/local/observations.js";
import { observedTermination } from "../../src/backends/local/observed-termination.js";
import { recordLogLine } from "../../src/backends/local/replica.js";
import { terminatePod } from "../../src/backends/local/termination.js";
import { main } from "../../src/cli/main.js";
import type { EventSink, TimelineEvent } from "../../src/model/events.js";
import { readRecordingFile, readRecordings } from "../../src/runner/read-recording.js";
import { RECORDING_FORMAT, RECORDING_VERSION, RunRecorder } from "../../src/runner/recording.js";
import { replayRun } from "../../src/runner/replay.js";
import { runScenario, type ScenarioResult } from "../../src/runner/run.js";
import { parseScenario } from "../../src/scenario/load.js";

const FIELD = join(import.meta.dirname, "..", "fixtures", "recordings", "kind-v1.20.2");
const tmp = () => mkdtempSync(join(tmpdir(), "ge-replay-"));
const plain = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** The parts of a result the replay must give back exactly. */
const judged = (r: ScenarioResult) =>
  plain({
    pods: r.pods,
    timeline: r.timeline,
    verdicts: r.verdicts,
    trust: r.trust,
    status: r.status,
    inconclusive: r.inconclusive,
    pass: r.pass,
    load: r.load,
    warmUp: r.warmUp,
    platform: r.platform,
    error: r.error,
  });

let server: Server;
let port = 0;
beforeAll(async () => {
  // The app names itself in x-served-by, so the disrupted pod's exercise is measured.
  server = createServer((_req, res) => {
    res.setHeader("x-served-by", "p0/app");
    res.end("ok");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

/** Two pods p0 and p1 behind the fake HTTP target. */
const fakeDeployment = (scenario: Deployment["scenario"], runId: string): Deployment => ({
  scenario,
  runId,
  target: { host: "127.0.0.1", port },
  trafficPath: "fake",
  pods: ["p0", "p1"],
  pod: imagePod(scenario, "test", "app"),
  platform: { runtime: "fake" },
});

/** A backend whose pod p0 logs SIGTERM and exits 0 half a second after the delete (events through the sink). */
class FakeBackend implements Backend {
  readonly name = "local" as const;
  private sink?: EventSink;
  deploy: Backend["deploy"] = async (scenario, _image, sink, runId) => {
    this.sink = sink;
    const d = fakeDeployment(scenario, runId);
    return runningWorkload(d, { disrupt: () => this.disrupt(), teardown: async () => {} });
  };
  async disrupt(): Promise<DisruptionOutcome> {
    const at = Date.now();
    const sink = this.sink as EventSink;
    sink.record({ at, kind: "delete-requested", source: "harness", pod: "p0" });
    sink.record({ at: at + 1, kind: "sigterm-sent", source: "harness", pod: "p0" });
    sink.record({
      at: at + 2,
      kind: "app-signal",
      source: "app",
      pod: "p0",
      process: "app",
      detail: { signal: "SIGTERM", pid: 1 },
    });
    sink.record({
      at: at + 500,
      kind: "app-exit",
      source: "app",
      pod: "p0",
      process: "app",
      detail: { code: 0, pid: 1 },
    });
    sink.record({ at: at + 510, kind: "container-exit", source: "runtime", pod: "p0", detail: { exitCode: 0 } });
    return {
      pods: [
        {
          pod: "p0",
          pid1Cmdline: "node server.js",
          deleteAt: at,
          exitedAt: at + 510,
          exitCode: 0,
          sigkilled: false,
          notes: [],
        },
      ],
    };
  }
  async sweep(): Promise<void> {}
}

const loaded = parseScenario(
  "recorded.yaml",
  [
    "name: recorded",
    "image: {ref: 'example/app:1'}",
    "replicas: 2",
    "terminationGracePeriodSeconds: 5",
    "load: {connections: 2, durationSeconds: 2, warmUpSeconds: 1}",
    "disruption: {action: delete, atSeconds: 1}",
  ].join("\n"),
);

/** One run of `loaded` on a FakeBackend, its result file in `dir`. */
const runFake = (dir: string, extra: Partial<Parameters<typeof runScenario>[1]> = {}) =>
  runScenario(loaded, {
    backend: new FakeBackend(),
    resolveImage: async () => ({ style: "custom", ref: "example/app:1" }),
    resultsDir: dir,
    ...extra,
  });

describe("a run recorded on a fake backend, replayed", () => {
  it("--record writes the observations beside the result; the replay gives the same evidence, verdicts and status", async () => {
    const dir = tmp();
    const original = await runFake(dir, { record: true });
    expect(original.error).toBeUndefined();
    expect(readdirSync(dir).sort()).toEqual(["recorded.local.json", "recorded.local.observations.jsonl.gz"]);
    const rec = await readRecordingFile(join(dir, "recorded.local.observations.jsonl.gz"));
    expect(rec.header).toMatchObject({
      format: RECORDING_FORMAT,
      version: RECORDING_VERSION,
      backend: "local",
      runId: original.runId,
    });
    const kinds = new Set(rec.observations.map((o) => o.kind));
    for (const k of ["deployed", "warm-up", "plan", "event", "collect", "end"]) expect(kinds).toContain(k);
    const replayed = replayRun(rec);
    expect(judged(replayed)).toEqual(judged(original));
    expect(original.pods[0]?.exercise?.status).toBe("exercised");
    expect(replayed.warnings.at(-1)).toMatch(/^replayed offline from .*recorded\.local\.observations\.jsonl\.gz$/);
  });

  it("local runs are not recorded unless asked", async () => {
    const dir = tmp();
    await runFake(dir);
    expect(readdirSync(dir)).toEqual(["recorded.local.json"]);
  });
});

describe("the kind v1.20 field recordings, replayed through the same entry point", () => {
  it("shell-form, no preStop: exit 137 by SIGKILL at the end of the 10 s grace period; INCONCLUSIVE (no traffic evidence)", async () => {
    const [rec] = await readRecordings(join(FIELD, "shell-form-no-prestop"));
    const r = replayRun(rec as NonNullable<typeof rec>);
    expect(r.pods).toHaveLength(1);
    const [pod] = r.pods;
    expect(pod).toMatchObject({ pod: "app-865f4f77d6-bqw82", exitCode: 137, sigkilled: true });
    // containerd's exact exit: +10.13 s after the delete, the grace period being 10 s.
    expect(((pod?.exitedAt ?? 0) - (pod?.deleteAt ?? 0)) / 1000).toBeCloseTo(10.13, 1);
    expect(pod?.exitEvidence?.killedAtGraceEnd).toBe(true);
    expect(r.status).toBe("inconclusive");
    expect(pod?.exercise?.status).toBe("unproven");
    // The folder states no expectations (no verdicts); the status says why nothing could be proven.
    expect(r.inconclusive).toEqual([
      expect.stringMatching(/^app-865f4f77d6-bqw82: exercise unproven — no routing record/),
    ]);
  });

  it("exec-form, preStop sleep 3: SIGTERM logged ~3.2 s after the delete, exit 0", async () => {
    const [rec] = await readRecordings(join(FIELD, "exec-form-prestop-sleep-3"));
    const r = replayRun(rec as NonNullable<typeof rec>);
    const [pod] = r.pods;
    expect(pod).toMatchObject({ exitCode: 0, sigkilled: false });
    const sigterm = pod?.processes[0]?.signals.find((s) => s.name === "SIGTERM");
    expect(((sigterm?.at ?? 0) - (pod?.deleteAt ?? 0)) / 1000).toBeGreaterThan(3.0);
    expect(((sigterm?.at ?? 0) - (pod?.deleteAt ?? 0)) / 1000).toBeLessThan(3.5);
    expect(r.timeline?.entries.some((e) => e.kind === "prestop-start" || e.kind === "container-exit")).toBe(true);
  });

  it("`graceful-e2e replay <folder>` writes the same reports as run, exit 3 (inconclusive)", async () => {
    const out = tmp();
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      const code = await main(["node", "graceful-e2e", "replay", join(FIELD, "shell-form-no-prestop"), "-r", out]);
      expect(code).toBe(3);
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
    expect(readdirSync(out).sort()).toEqual(["junit.xml", "report.html", "shell-form-no-prestop.kind.json"]);
    const result = JSON.parse(readFileSync(join(out, "shell-form-no-prestop.kind.json"), "utf8")) as ScenarioResult;
    expect(result.pods[0]?.exitCode).toBe(137);
    expect(result.platform).toEqual({ backend: "kind", kubernetes: "v1.20.2" });
    expect(result.image?.ref).toBe("lab/v-a-shellform:d1");
  });

  it("a directory of field recording folders: each one", async () => {
    const recs = await readRecordings(FIELD);
    expect(recs.map((r) => r.header.scenario.name)).toEqual(["exec-form-prestop-sleep-3", "shell-form-no-prestop"]);
    expect(recs.map((r) => replayRun(r).pods[0]?.exitCode)).toEqual([0, 137]);
  });
});

describe("the recording's bounds", () => {
  const header = {
    scenario: loaded.scenario,
    file: "x.yaml",
    backend: "local" as const,
    runId: "r1",
    startedAt: new Date(0).toISOString(),
    platform: {},
    warnings: [],
  };
  const sink: EventSink = { record: () => {} };

  it("stops streaming at maxObservations with one truncation marker; the end counts what was dropped", () => {
    const rec = new RunRecorder(header, { maxObservations: 3 });
    const s = rec.sinkFor("backend", sink);
    for (let i = 0; i < 6; i++) s.record({ at: i, kind: "app-start", source: "app" });
    rec.note({ kind: "plan", at: 7, victims: ["p0"] });
    const lines = rec
      .finish({ at: 8, durationMs: 8 })
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.kind)).toEqual([undefined, "event", "event", "event", "truncated", "plan", "end"]);
    expect(lines[4]).toEqual({ kind: "truncated", at: 3, limit: "maxObservations", value: 3 });
    expect(lines[6].dropped).toBe(3);
  });

  it("stops at maxBytes; drops managedFields; keeps the first maxRequestRecords request records", () => {
    const rec = new RunRecorder(header, { maxBytes: 400, maxRequestRecords: 2 });
    const s = rec.sinkFor("backend", sink);
    const object = { metadata: { name: "p0", managedFields: [{ manager: "kubelet" }] } };
    s.observe?.({
      at: 1,
      source: "k8s",
      data: { op: "entry", entry: { source: "watch", resource: "pods", receivedAt: 1, type: "ADDED", object } },
    });
    s.observe?.({ at: 2, source: "k8s", data: { op: "settle", padding: "x".repeat(400) } });
    rec.collected({
      at: 3,
      pods: [],
      load: {} as never,
      records: [1, 2, 3, 4, 5].map((n) => ({ sentAt: n, at: n, ok: true })),
    });
    const text = rec.finish({ at: 4, durationMs: 4 });
    expect(text).not.toContain("managedFields");
    const lines = text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.kind)).toEqual([undefined, "raw", "truncated", "collect", "end"]);
    expect(lines[2]).toMatchObject({ limit: "maxBytes", value: 400 });
    expect(lines[3].records).toHaveLength(2);
    expect(lines[3].recordsTotal).toBe(5);
  });

  it("a replay of a truncated recording says so", async () => {
    const dir = tmp();
    await runFake(dir, { record: true, recordingLimits: { maxObservations: 2 } });
    const r = replayRun(await readRecordingFile(join(dir, "recorded.local.observations.jsonl.gz")));
    expect(r.warnings.join("\n")).toMatch(
      /the recording was truncated at its maxObservations bound \(2\): \d+ observation\(s\) dropped/,
    );
  });
});

describe("replay: bad input is one clear line, exit 2, nothing written", () => {
  async function replay(...args: string[]): Promise<{ code: number; stderr: string; out: string }> {
    const out = join(tmp(), "out");
    const chunks: string[] = [];
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      chunks.push(String(chunk));
      return true;
    });
    try {
      const code = await main(["node", "graceful-e2e", "replay", ...args, "-r", out]);
      return { code, stderr: chunks.join(""), out };
    } finally {
      spy.mockRestore();
    }
  }
  const noOutput = (out: string) => expect(() => readdirSync(out)).toThrow(/ENOENT/);

  it("a missing path", async () => {
    const r = await replay("/nonexistent/recording");
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe("error: /nonexistent/recording: no such file or directory");
    noOutput(r.out);
  });

  it("a file that is not a recording, and a directory without one", async () => {
    const dir = tmp();
    const file = join(dir, "x.observations.jsonl");
    writeFileSync(file, '{"hello": "world"}\n');
    const r = await replay(file);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      `error: ${file}: line 1: not a graceful-e2e recording (no "format": "${RECORDING_FORMAT}" header)`,
    );
    noOutput(r.out);
    const empty = tmp();
    const d = await replay(empty);
    expect(d.code).toBe(2);
    expect(d.stderr.trim()).toMatch(new RegExp(`^error: ${empty}: no recording here \\(expected`));
  });

  it("results written among the recordings (they could overwrite the run's own result files)", async () => {
    const dir = tmp();
    const file = join(dir, "x.local.observations.jsonl");
    writeFileSync(
      file,
      `${JSON.stringify({ format: RECORDING_FORMAT, version: 1, scenario: { name: "x" }, backend: "local", runId: "r", startedAt: "t" })}\n`,
    );
    const chunks: string[] = [];
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      chunks.push(String(chunk));
      return true;
    });
    try {
      expect(await main(["node", "graceful-e2e", "replay", dir, "-r", dir])).toBe(2);
    } finally {
      spy.mockRestore();
    }
    expect(chunks.join("").trim()).toMatch(
      /^error: --results .*: the replayed results would be written among the recorded ones/,
    );
    expect(readdirSync(dir)).toEqual(["x.local.observations.jsonl"]);
  });

  it("a newer format version, and a broken line", async () => {
    const dir = tmp();
    const file = join(dir, "new.local.observations.jsonl.gz");
    const header = {
      format: RECORDING_FORMAT,
      version: RECORDING_VERSION + 1,
      scenario: { name: "x" },
      backend: "local",
      runId: "r",
      startedAt: "t",
    };
    writeFileSync(file, gzipSync(`${JSON.stringify(header)}\n`));
    const r = await replay(file);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      `error: ${file}: format version ${RECORDING_VERSION + 1} is newer than this graceful-e2e reads (${RECORDING_VERSION}): replay it with a newer graceful-e2e`,
    );
    const broken = join(dir, "broken.local.observations.jsonl");
    writeFileSync(broken, `${JSON.stringify({ ...header, version: 1 })}\n{"kind":"event","at":1,\n`);
    const b = await replay(broken);
    expect(b.code).toBe(2);
    expect(b.stderr.trim()).toMatch(new RegExp(`^error: ${broken}: line 2: not JSON`));
    expect(gunzipSync(readFileSync(file)).toString()).toContain(RECORDING_FORMAT);
  });
});

// A local run's recording replays to the same pods, rebuilt from the local backend's own raw
// observations (backends/local/observations.ts) rather than taken from what the run decided: a backend
// that terminates its pod exactly as the local backend does (observedTermination around the kubelet's
// sequence, termination.ts) with a fake container, run, recorded, replayed. A recording whose collected
// outcomes differ from what its observations give says so, and a recording made before local
// observations (only the collected outcomes) still replays as recorded.

/**
 * A local-like backend: pod p0's container logs its start, logs SIGTERM when it gets it and exits
 * `code` 40 ms later; its termination is the local backend's (observed, the kubelet's sequence).
 */
class ObservingLocalBackend implements Backend {
  readonly name = "local" as const;
  private sink?: EventSink;
  constructor(private readonly code = 0) {}

  deploy: Backend["deploy"] = async (scenario, _image, sink, runId) => {
    this.sink = sink;
    const d = fakeDeployment(scenario, runId);
    return runningWorkload(d, { disrupt: () => this.disrupt(d), teardown: async () => {} });
  };

  private async disrupt(d: Deployment): Promise<DisruptionOutcome> {
    const sink = this.sink as EventSink;
    const appEvents: TimelineEvent[] = [];
    const line = (json: Record<string, unknown>) =>
      appEvents.push(...recordLogLine(sink, "p0", JSON.stringify({ t: Date.now(), ...json })));
    line({ event: "start", pid: 1, role: "app" });
    let exit: (code: number) => void = () => {};
    const exited = new Promise<number>((r) => {
      exit = r;
    });
    const outcome = await observedTermination({
      pod: "p0",
      node: "local-node-1",
      containers: [
        {
          identity: { role: "app", preStop: { type: "none" } },
          pid1Cmdline: "node /app/server.js",
          processTree: [{ pid: 1, ppid: 0, command: "node /app/server.js" }],
        },
      ],
      sink,
      terminate: (s) =>
        terminatePod({
          pod: "p0",
          graceSeconds: d.pod.terminationGracePeriodSeconds,
          preStop: { type: "none" },
          endpointPropagationMs: 10,
          runtime: {
            runPreStop: async () => {},
            sendSignal: async (signal) => {
              if (signal === "SIGKILL") return exit(137);
              line({ event: "signal", signal, pid: 1 });
              setTimeout(() => {
                line({ event: "exit", code: this.code, pid: 1 });
                exit(this.code);
              }, 40);
            },
            waitForExit: () => exited,
            removeEndpoint: () => {},
          },
          sink: s,
        }),
      afterExit: async () => [{ inspected: { oomKilled: false, finishedAt: new Date().toISOString() }, appEvents }],
      remove: async () => {},
    });
    return { pods: [outcome] };
  }

  async sweep(): Promise<void> {}
}

const LOCAL_FILE = "recorded.local.observations.jsonl.gz";

async function recordedRun(code = 0) {
  const dir = tmp();
  const original = await runScenario(loaded, {
    backend: new ObservingLocalBackend(code),
    resolveImage: async () => ({ style: "custom", ref: "example/app:1" }),
    resultsDir: dir,
    record: true,
  });
  expect(original.error).toBeUndefined();
  return { dir, original, file: join(dir, LOCAL_FILE) };
}

/** Rewrites a recording's lines (JSON objects) through `edit` (undefined: the line is dropped). */
function rewrite(file: string, edit: (o: Record<string, unknown>) => Record<string, unknown> | undefined): void {
  const lines = gunzipSync(readFileSync(file)).toString().trim().split("\n");
  const kept = lines.flatMap((l) => {
    const o = edit(JSON.parse(l) as Record<string, unknown>);
    return o ? [JSON.stringify(o)] : [];
  });
  writeFileSync(file, gzipSync(`${kept.join("\n")}\n`));
}

describe("a local run recorded and replayed: its pods rebuilt from its observations", () => {
  it("the recording holds the local observations; the replay rebuilds the same pods, verdicts and status", async () => {
    const { original, file } = await recordedRun();
    const rec = await readRecordingFile(file);
    const ops = rec.observations.flatMap((o) =>
      o.kind === "raw" && o.source === LOCAL_OBSERVATION_SOURCE ? [(o.data as { op: string }).op] : [],
    );
    expect(ops).toEqual([
      "pod",
      "read-before-signal",
      "delete",
      "stop-signal",
      "exit",
      "inspected",
      "app-events",
      "gone",
    ]);
    const replayed = replayRun(rec);
    expect(judged(replayed)).toEqual(judged(original));
    expect(replayed.warnings.join("\n")).not.toMatch(/differs from what the run decided/);
    const [pod] = replayed.pods;
    expect(pod).toMatchObject({
      pod: "p0",
      node: "local-node-1",
      pid1Cmdline: "node /app/server.js",
      exitCode: 0,
      exitReason: "Completed",
      sigkilled: false,
      stopSignal: { signal: "SIGTERM", from: "default" },
    });
    expect(pod?.exitEvidence?.sources.map((s) => s.source)).toEqual(["runtime", "app"]);
    expect(pod?.processes[0]?.exit?.code).toBe(0);
  });

  it("collected outcomes that differ from the observations: the replay uses the observations, and says so", async () => {
    const { original, file } = await recordedRun(143);
    expect(original.pods[0]?.exitCode).toBe(143);
    // As if the run had decided another exit code than its observations give (an older evidence code).
    rewrite(file, (o) =>
      o.kind === "collect"
        ? { ...o, pods: (o.pods as Array<Record<string, unknown>>).map((p) => ({ ...p, exitCode: 0 })) }
        : o,
    );
    const replayed = replayRun(await readRecordingFile(file));
    expect(replayed.pods[0]?.exitCode).toBe(143);
    expect(replayed.warnings.join("\n")).toMatch(
      /the disrupted pods' evidence rebuilt from the observations differs from what the run decided/,
    );
  });

  it("a local recording made before local observations (only the collected outcomes) replays as recorded", async () => {
    const { original, file } = await recordedRun();
    rewrite(file, (o) => (o.kind === "raw" && o.source === LOCAL_OBSERVATION_SOURCE ? undefined : o));
    // The recorded outcome changed, to tell a replay that took it from one that rebuilt it.
    rewrite(file, (o) =>
      o.kind === "collect"
        ? { ...o, pods: (o.pods as Array<Record<string, unknown>>).map((p) => ({ ...p, node: "as-recorded" })) }
        : o,
    );
    const replayed = replayRun(await readRecordingFile(file));
    expect(replayed.pods[0]?.node).toBe("as-recorded");
    expect(replayed.pods[0]?.exitCode).toBe(original.pods[0]?.exitCode);
    expect(replayed.warnings.join("\n")).not.toMatch(/differs from what the run decided/);
  });
});
