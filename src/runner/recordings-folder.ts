// The field recordings' folder format (shared/recordings/kind-v1.20.2/*, tests/fixtures/recordings: a
// pod deletion under load recorded on a real kind cluster with kubectl and ctr) read as a run's
// recording, so `replay` and the tests take the field reports as they are. Files: meta.json (manifests,
// the delete, the load), pods.jsonl / endpointslices.jsonl / endpoints.jsonl / events.jsonl (one watch
// event per line: {receivedAt, type, object}), logs-<pod>.txt (`kubectl logs -f --timestamps`),
// containerd-events.txt (`ctr events`, tab-separated receivedAt), requests.jsonl (autocannon's failures
// and 100 ms buckets). What the folder lacks is left out, never made up: the load's request records and
// connections (so the exercise is unproven and the run INCONCLUSIVE), the harness's saturation figures.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { parse as parseYaml } from "yaml";
import { parseContainerdEventLine } from "../backends/kind/containerd-events.js";
import type { DriverObservation } from "../k8s/observations.js";
import { parseTime, type RecordedEntry, type WatchResource } from "../k8s/timeline-from-watch.js";
import type { FailedRequest, LoadResult } from "../load/types.js";
import { ScenarioSpec } from "../scenario/schema.js";
import { errorText, UsageError } from "../util/errors.js";
import { type Observation, RECORDING_FORMAT, RECORDING_LIMITS, RECORDING_VERSION } from "./recording.js";
import type { Recording } from "./replay.js";

/** The parts of meta.json the replay reads. */
export interface FieldMeta {
  image: string;
  deleted: { pod: string; containerID: string; deleteCmdStartedAt: string };
  otherPod: { pod: string };
  loadStartedAt: string;
  loadEndedAt: string;
  loadTarget?: string;
  load?: { connections?: number; durationS?: number; deleteAtS?: number };
  manifests?: string;
  serverVersion?: { gitVersion?: string };
}

/** The folder's observations in the shapes the timeline builder reads. */
export interface FieldRecording {
  dir: string;
  meta: FieldMeta;
  /** Watch events and log lines (the kubelet's timestamp stands in for a log line's arrival). */
  entries: RecordedEntry[];
  /** containerd-events.txt through the kind backend's parser. */
  runtime: RecordedEntry[];
}

/** The node the recordings were made on (one-node cluster). */
const FIELD_NODE = "containerd on node kind-control-plane";

export function isFieldRecording(dir: string): boolean {
  return existsSync(join(dir, "meta.json")) && existsSync(join(dir, "pods.jsonl"));
}

function jsonLines(file: string): Array<Record<string, unknown>> {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l, i) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch (err) {
        throw new UsageError(`${file}: line ${i + 1}: not JSON (${errorText(err)})`);
      }
    });
}

/** Reads the folder's watch streams, log lines and runtime events (endpointFile: which endpoint stream). */
export function readFieldEntries(
  dir: string,
  endpointFile: "endpointslices" | "endpoints" = "endpointslices",
): FieldRecording {
  const entries: RecordedEntry[] = [];
  for (const resource of ["pods", endpointFile, "events"] as WatchResource[]) {
    const file = join(dir, `${resource}.jsonl`);
    if (!existsSync(file)) continue;
    for (const j of jsonLines(file)) {
      const receivedAt = Date.parse(String(j.receivedAt));
      entries.push({ source: "watch", resource, receivedAt, type: String(j.type), object: j.object });
    }
  }
  for (const file of readdirSync(dir).filter((f) => f.startsWith("logs-") && f.endsWith(".txt"))) {
    const pod = file.slice("logs-".length, -".txt".length);
    let last = 0;
    for (const line of readFileSync(join(dir, file), "utf8").split("\n")) {
      if (line.trim() === "") continue;
      // The kubelet's timestamp stands in for the arrival time (the recording has no other).
      const at = parseTime(line.split(" ")[0]) ?? last + 1;
      last = at;
      entries.push({ source: "log", pod, container: "app", receivedAt: at, line });
    }
  }
  const runtimeFile = join(dir, "containerd-events.txt");
  const runtime = existsSync(runtimeFile)
    ? readFileSync(runtimeFile, "utf8")
        .split("\n")
        .map((l) => parseContainerdEventLine(l, FIELD_NODE))
        .filter((e): e is NonNullable<typeof e> => e !== undefined)
    : [];
  const meta = JSON.parse(readFileSync(join(dir, "meta.json"), "utf8")) as FieldMeta;
  return { dir, meta, entries, runtime };
}

/** A field recording folder as a run's recording (backend kind), for replayRun(). */
export function readFieldRecording(dir: string): Recording {
  let field: FieldRecording;
  try {
    field = readFieldEntries(dir);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`${dir}: not a readable field recording (${errorText(err)})`);
  }
  const { meta } = field;
  const deleteAt = Date.parse(meta.deleted?.deleteCmdStartedAt ?? "");
  const loadStartedAt = Date.parse(meta.loadStartedAt ?? "");
  if (Number.isNaN(deleteAt) || Number.isNaN(loadStartedAt)) {
    throw new UsageError(`${join(dir, "meta.json")}: deleted.deleteCmdStartedAt and loadStartedAt must be times`);
  }
  const raw = (data: DriverObservation, at: number): Observation => ({ kind: "raw", at, source: "k8s", data });
  const observations: Observation[] = [
    {
      kind: "deployed",
      at: loadStartedAt,
      image: { style: "custom", ref: meta.image },
      platform: { backend: "kind", kubernetes: meta.serverVersion?.gitVersion ?? "?" },
      trafficPath: meta.loadTarget ?? "?",
      pods: [meta.deleted.pod, meta.otherPod?.pod].filter((p): p is string => typeof p === "string"),
    },
    raw({ op: "options", options: { eventsSince: loadStartedAt - 10_000, container: "app" } }, loadStartedAt),
  ];
  // In arrival order, the harness's delete call in its place (as the driver would have made it).
  const stream = [...field.entries, ...field.runtime].sort((a, z) => a.receivedAt - z.receivedAt);
  let deleted = false;
  for (const entry of stream) {
    if (!deleted && entry.receivedAt >= deleteAt) {
      observations.push(raw({ op: "delete-called", pod: meta.deleted.pod, at: deleteAt }, deleteAt));
      deleted = true;
    }
    observations.push(raw({ op: "entry", entry }, entry.receivedAt));
  }
  if (!deleted) observations.push(raw({ op: "delete-called", pod: meta.deleted.pod, at: deleteAt }, deleteAt));
  const endAt = stream.at(-1)?.receivedAt ?? deleteAt;
  observations.push(raw({ op: "settle" }, endAt));
  observations.push(raw({ op: "outcomes", pods: [meta.deleted.pod], readings: {}, notes: [] }, endAt));
  observations.push({
    kind: "collect",
    at: endAt,
    pods: [],
    load: fieldLoad(dir, meta, deleteAt),
    records: [],
    recordsTotal: 0,
  });
  observations.push({ kind: "end", at: endAt, durationMs: endAt - loadStartedAt, dropped: 0 });
  return { from: dir, header: fieldHeader(dir, meta), observations };
}

// biome-ignore lint/suspicious/noExplicitAny: free-form Kubernetes manifests, read field by field
type Manifest = Record<string, any>;

/** The scenario the folder's manifests describe (the Deployment's app container, the delete under load). */
function fieldHeader(dir: string, meta: FieldMeta): Recording["header"] {
  const docs = (meta.manifests ?? "").split(/^---$/m).map((d) => parseYaml(d) as Manifest | null);
  const spec = docs.find((d) => d?.kind === "Deployment")?.spec as Manifest | undefined;
  const pod = spec?.template?.spec;
  const container = pod?.containers?.[0];
  const preStop = container?.lifecycle?.preStop?.exec?.command as string[] | undefined;
  const parsed = ScenarioSpec.safeParse({
    name: basename(dir)
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, "-")
      .slice(0, 52),
    image: { ref: meta.image },
    replicas: spec?.replicas ?? 2,
    ...(container?.ports?.[0]?.containerPort ? { port: container.ports[0].containerPort } : {}),
    ...(pod?.terminationGracePeriodSeconds !== undefined
      ? { terminationGracePeriodSeconds: pod.terminationGracePeriodSeconds }
      : {}),
    preStop: preStop ? { type: "exec", command: preStop } : { type: "none" },
    load: { connections: meta.load?.connections ?? 10, durationSeconds: meta.load?.durationS ?? 12 },
    disruption: { action: "delete", atSeconds: meta.load?.deleteAtS ?? 3 },
  });
  if (!parsed.success) {
    throw new UsageError(`${join(dir, "meta.json")}: its manifests do not make a scenario (${parsed.error.message})`);
  }
  return {
    format: RECORDING_FORMAT,
    version: RECORDING_VERSION,
    scenario: parsed.data,
    file: join(dir, "meta.json"),
    backend: "kind",
    runId: basename(dir),
    startedAt: meta.loadStartedAt,
    platform: { recordedWith: "kubectl watches and ctr events (field recording folder)" },
    warnings: [
      "field recording folder: the load's request records and connections were not recorded (exercise unproven); " +
        "the load figures are autocannon's (requests.jsonl), which miss requests lost on closed connections",
    ],
    limits: { ...RECORDING_LIMITS },
  };
}

/** requests.jsonl as a LoadResult: 100 ms buckets of successes, and the failed requests autocannon reported. */
function fieldLoad(dir: string, meta: FieldMeta, deleteAt: number): LoadResult {
  const file = join(dir, "requests.jsonl");
  const lines = existsSync(file) ? jsonLines(file) : [];
  const successBuckets: LoadResult["successBuckets"] = [];
  const failures: FailedRequest[] = [];
  let succeeded = 0;
  let failed = 0;
  let non2xx = 0;
  for (const l of lines) {
    const at = deleteAt + Number(l.relDeleteS ?? 0) * 1000;
    if ("bucket" in l) {
      const ok = Number(l.ok2xx ?? 0);
      succeeded += ok;
      failed += Number(l.non2xx ?? 0) + Number(l.errors ?? 0);
      non2xx += Number(l.non2xx ?? 0);
      successBuckets.push({ at: Date.parse(String(l.bucket)), count: ok });
    } else if ("kind" in l) {
      const status = typeof l.status === "number" ? l.status : undefined;
      failures.push({
        sentAt: at,
        at,
        kind: status ? "non-2xx" : "error",
        code: status ?? String(l.code ?? l.kind),
        path: "/",
      });
    }
  }
  return {
    target: meta.loadTarget ?? "127.0.0.1:30080",
    startedAt: Date.parse(meta.loadStartedAt),
    endedAt: Date.parse(meta.loadEndedAt),
    sent: succeeded + failed,
    succeeded,
    failed,
    failedByKind: { reset: 0, refused: 0, timeout: 0, "non-2xx": non2xx, closed: 0, error: failed - non2xx },
    inFlightAtEnd: 0,
    failures,
    successBuckets,
    latencies: [],
    servedBy: [],
    autocannon: { requests: succeeded + failed, errors: failed - non2xx, timeouts: 0, non2xx, resets: 0 },
  };
}
