// Reads recordings for `graceful-e2e replay`: one <…>.observations.jsonl[.gz] file, a directory of them
// (a results directory), a field recording folder (meta.json + pods.jsonl …, recordings-folder.ts) or a
// directory of such folders.
// A recording is input: anything wrong is one UsageError naming the file, the line and what is wrong.
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { gunzip } from "node:zlib";
import { isDriverObservation, K8S_OBSERVATION_SOURCE } from "../k8s/observations.js";
import { isBackendName } from "../model/backend.js";
import { errorText, UsageError } from "../util/errors.js";
import { OBSERVATION_KINDS, type Observation, RECORDING_FORMAT, RECORDING_VERSION } from "./recording.js";
import { isFieldRecording, readFieldRecording } from "./recordings-folder.js";
import type { Recording } from "./replay.js";

const RECORDING_FILE = /\.observations\.jsonl(\.gz)?$/;

/** Every recording at `path` (a file, a directory of recordings, or a field recording folder). */
export async function readRecordings(path: string): Promise<Recording[]> {
  const s = await stat(path).catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(
      err.code === "ENOENT" ? `${path}: no such file or directory` : `${path}: cannot read (${errorText(err)})`,
    );
  });
  if (s.isFile()) return [await readRecordingFile(path)];
  if (isFieldRecording(path)) return [readFieldRecording(path)];
  const names = (await readdir(path)).sort();
  const files = names.filter((n) => RECORDING_FILE.test(n));
  // A folder of field recording folders (shared/recordings/kind-v1.20.2): each one.
  const folders = names.map((n) => join(path, n)).filter((d) => isFieldRecording(d));
  if (files.length === 0 && folders.length > 0) return folders.map((d) => readFieldRecording(d));
  if (files.length === 0) {
    throw new UsageError(
      `${path}: no recording here (expected <scenario>.<backend>.observations.jsonl.gz files, or a field ` +
        "recording folder with meta.json and pods.jsonl)",
    );
  }
  return Promise.all(files.map((f) => readRecordingFile(join(path, f))));
}

/** One recording file (gzip or plain JSON lines). */
export async function readRecordingFile(file: string): Promise<Recording> {
  const bytes = await readFile(file);
  let text: string;
  try {
    text = (bytes[0] === 0x1f && bytes[1] === 0x8b ? await promisify(gunzip)(bytes) : bytes).toString("utf8");
  } catch (err) {
    throw new UsageError(`${file}: not a readable gzip file (${errorText(err)})`);
  }
  const lines = text.split("\n");
  const header = parseHeader(file, lines[0] ?? "");
  const observations: Observation[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] ?? "";
    if (line.trim() !== "") observations.push(parseObservation(file, i + 1, line));
  }
  return { from: file, header, observations };
}

function parseJson(file: string, n: number, line: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (err) {
    throw new UsageError(`${file}: line ${n}: not JSON (${errorText(err)})`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new UsageError(`${file}: line ${n}: expected a JSON object`);
  }
  return v as Record<string, unknown>;
}

function parseHeader(file: string, line: string): Recording["header"] {
  const notRecording = `${file}: line 1: not a graceful-e2e recording (no "format": "${RECORDING_FORMAT}" header)`;
  let h: Record<string, unknown>;
  try {
    h = parseJson(file, 1, line);
  } catch {
    throw new UsageError(notRecording);
  }
  if (h.format !== RECORDING_FORMAT) throw new UsageError(notRecording);
  const version = h.version;
  if (typeof version !== "number" || !Number.isInteger(version) || version < 1) {
    throw new UsageError(`${file}: line 1: "version" must be a whole number from 1, got ${JSON.stringify(version)}`);
  }
  if (version > RECORDING_VERSION) {
    throw new UsageError(
      `${file}: format version ${version} is newer than this graceful-e2e reads (${RECORDING_VERSION}): ` +
        "replay it with a newer graceful-e2e",
    );
  }
  const scenario = h.scenario as { name?: unknown } | undefined;
  if (typeof scenario?.name !== "string") throw new UsageError(`${file}: line 1: "scenario" has no name`);
  if (typeof h.backend !== "string" || !isBackendName(h.backend)) {
    throw new UsageError(`${file}: line 1: "backend" is not a backend: ${JSON.stringify(h.backend)}`);
  }
  for (const field of ["runId", "startedAt"] as const) {
    if (typeof h[field] !== "string") throw new UsageError(`${file}: line 1: "${field}" must be a string`);
  }
  return { ...h, warnings: Array.isArray(h.warnings) ? h.warnings : [] } as unknown as Recording["header"];
}

function parseObservation(file: string, n: number, line: string): Observation {
  const o = parseJson(file, n, line);
  if (typeof o.kind !== "string" || !OBSERVATION_KINDS.has(o.kind as Observation["kind"])) {
    throw new UsageError(`${file}: line ${n}: unknown observation kind ${JSON.stringify(o.kind)}`);
  }
  if (typeof o.at !== "number") throw new UsageError(`${file}: line ${n}: "at" must be a number (epoch ms)`);
  if (o.kind === "raw" && o.source === K8S_OBSERVATION_SOURCE && !isDriverObservation(o.data)) {
    throw new UsageError(`${file}: line ${n}: a "${K8S_OBSERVATION_SOURCE}" observation without a known "op"`);
  }
  if (o.kind === "collect" && (typeof o.load !== "object" || !Array.isArray(o.pods) || !Array.isArray(o.records))) {
    throw new UsageError(`${file}: line ${n}: "collect" needs "load", "pods" and "records"`);
  }
  return o as unknown as Observation;
}
