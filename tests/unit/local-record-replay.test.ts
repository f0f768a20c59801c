// A local run's recording replays to the same pods, rebuilt from the local backend's own raw
// observations (backends/local/observations.ts) rather than taken from what the run decided: a backend
// that terminates its pod exactly as the local backend does (observedTermination around the kubelet's
// sequence, termination.ts) with a fake container, run, recorded, replayed. A recording whose collected
// outcomes differ from what its observations give says so, and a recording made before local
// observations (only the collected outcomes) still replays as recorded.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
import type { EventSink, TimelineEvent } from "../../src/model/events.js";
import { readRecordingFile } from "../../src/runner/read-recording.js";
import { replayRun } from "../../src/runner/replay.js";
import { runScenario, type ScenarioResult } from "../../src/runner/run.js";
import { parseScenario } from "../../src/scenario/load.js";

const tmp = () => mkdtempSync(join(tmpdir(), "ge-local-replay-"));
const plain = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
const judged = (r: ScenarioResult) =>
  plain({ pods: r.pods, timeline: r.timeline, verdicts: r.verdicts, status: r.status, pass: r.pass, trust: r.trust });

let server: Server;
let port = 0;
beforeAll(async () => {
  server = createServer((_req, res) => {
    res.setHeader("x-served-by", "p0/app");
    res.end("ok");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

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
    const d: Deployment = {
      scenario,
      runId,
      target: { host: "127.0.0.1", port },
      trafficPath: "fake",
      pods: ["p0", "p1"],
      pod: imagePod(scenario, "test", "app"),
      platform: { runtime: "fake" },
    };
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

const loaded = parseScenario(
  "local-recorded.yaml",
  [
    "name: local-recorded",
    "image: {ref: 'example/app:1'}",
    "replicas: 2",
    "terminationGracePeriodSeconds: 5",
    "load: {connections: 2, durationSeconds: 2, warmUpSeconds: 1}",
    "disruption: {action: delete, atSeconds: 1}",
  ].join("\n"),
);

const FILE = "local-recorded.local.observations.jsonl.gz";

async function recordedRun(code = 0) {
  const dir = tmp();
  const original = await runScenario(loaded, {
    backend: new ObservingLocalBackend(code),
    resolveImage: async () => ({ style: "custom", ref: "example/app:1" }),
    resultsDir: dir,
    record: true,
  });
  expect(original.error).toBeUndefined();
  return { dir, original, file: join(dir, FILE) };
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
