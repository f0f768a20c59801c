// The load generator as a program of its own, for load generated from inside the cluster (the
// existing-cluster backend's load Job, src/k8s/load-job.ts). Bundled with autocannon into one file by
// src/backends/existing/loadgen-image.ts and run by images/loadgen/Dockerfile: `node job-main.cjs`.
//
// Contract (environment → stdout):
//   GRACEFUL_E2E_TARGET                 host:port of the Service (its cluster DNS name); resolved ONCE,
//                                       so DNS is not part of every reconnect
//   GRACEFUL_E2E_LOAD                   the scenario's LoadOptions as JSON (defaults filled by LoadSpec)
//   GRACEFUL_E2E_RUN_SECONDS            stop on its own after this long (the window the harness computed)
//   GRACEFUL_E2E_CAP_SECONDS            the generator's hard cap (default RUN_SECONDS + 30)
//   GRACEFUL_E2E_READY_TIMEOUT_SECONDS  wait at most this long for GET /healthz → 2xx before starting
//   GRACEFUL_E2E_HEALTH_PATH            default /healthz (grpc: no HTTP probe; one call of the load's method
//                                       must answer OK instead)
//   GRACEFUL_E2E_GRPC_DESCRIPTOR        load.grpc.proto compiled (protobufjs JSON): the Job has no copy of
//                                       the user's file; required when load.grpc.proto is set
// SIGTERM / SIGINT (the harness deleting the pod, activeDeadlineSeconds, `docker stop`) end the window
// at once. Exactly these lines go to stdout, everything else to stderr:
//   GRACEFUL_E2E_LOAD_STARTED {"at","startedAt","firstSuccessAt","target","host"}  after the first 2xx
//   GRACEFUL_E2E_LOAD_RESULT <LoadRunResult JSON>                                   at the end, exit 0
//   GRACEFUL_E2E_LOAD_ERROR {"message", "result"?}                                  instead, exit 1/2
// This module has no side effects: the bundle's entry calls main().
import { lookup } from "node:dns/promises";
import { get } from "node:http";
import { isIP } from "node:net";
import { LoadSpec } from "../scenario/schema.js";
import { startLoad } from "./generator.js";
import { grpcCallOnce } from "./grpc.js";
import { LoadAccountingError, type LoadRun } from "./types.js";

export const STARTED_MARKER = "GRACEFUL_E2E_LOAD_STARTED";
export const RESULT_MARKER = "GRACEFUL_E2E_LOAD_RESULT";
export const ERROR_MARKER = "GRACEFUL_E2E_LOAD_ERROR";

export const JOB_ENV = {
  target: "GRACEFUL_E2E_TARGET",
  load: "GRACEFUL_E2E_LOAD",
  runSeconds: "GRACEFUL_E2E_RUN_SECONDS",
  capSeconds: "GRACEFUL_E2E_CAP_SECONDS",
  readyTimeoutSeconds: "GRACEFUL_E2E_READY_TIMEOUT_SECONDS",
  healthPath: "GRACEFUL_E2E_HEALTH_PATH",
  grpcDescriptor: "GRACEFUL_E2E_GRPC_DESCRIPTOR",
} as const;

/** What STARTED carries. Times are epoch ms of the load generator's clock (the node's). */
export interface LoadStartedInfo {
  /** When the line was written. */
  at: number;
  /** The load window's start (startLoad). */
  startedAt: number;
  /** The first successful response. */
  firstSuccessAt: number;
  /** The address load goes to (the Service's ClusterIP after the one DNS lookup). */
  target: string;
  /** The host as given. */
  host: string;
}

export interface JobConfig {
  host: string;
  port: number;
  load: ReturnType<typeof LoadSpec.parse>;
  runSeconds: number;
  capSeconds: number;
  readyTimeoutSeconds: number;
  healthPath: string;
  /** load.grpc.proto compiled (GRACEFUL_E2E_GRPC_DESCRIPTOR). */
  grpcDescriptor?: unknown;
}

export class JobConfigError extends Error {
  override name = "JobConfigError";
}

function positiveNumber(env: NodeJS.ProcessEnv, name: string, fallback?: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") {
    if (fallback === undefined) throw new JobConfigError(`${name} is required`);
    return fallback;
  }
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new JobConfigError(`${name} must be a positive number, got "${raw}"`);
  return n;
}

/** Reads and checks the environment; throws JobConfigError naming the variable. */
export function jobConfigFromEnv(env: NodeJS.ProcessEnv): JobConfig {
  const target = env[JOB_ENV.target] ?? "";
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(target);
  const port = Number(m?.[2]);
  if (!m?.[1] || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new JobConfigError(`${JOB_ENV.target} must be host:port, got "${target}"`);
  }
  let loadJson: unknown;
  try {
    loadJson = JSON.parse(env[JOB_ENV.load] ?? "{}");
  } catch (err) {
    throw new JobConfigError(`${JOB_ENV.load} is not JSON: ${(err as Error).message}`);
  }
  const parsed = LoadSpec.safeParse(loadJson);
  if (!parsed.success) {
    throw new JobConfigError(
      `${JOB_ENV.load} is not valid LoadOptions: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  }
  const runSeconds = positiveNumber(env, JOB_ENV.runSeconds);
  const capSeconds = positiveNumber(env, JOB_ENV.capSeconds, runSeconds + 30);
  if (capSeconds < runSeconds) {
    throw new JobConfigError(`${JOB_ENV.capSeconds} (${capSeconds}) is below ${JOB_ENV.runSeconds} (${runSeconds})`);
  }
  const grpcDescriptor = descriptorFromEnv(env, parsed.data);
  const healthPath = env[JOB_ENV.healthPath] || "/healthz";
  if (!healthPath.startsWith("/")) throw new JobConfigError(`${JOB_ENV.healthPath} must start with /`);
  return {
    host: m[1].replace(/^\[|\]$/g, ""),
    port,
    load: parsed.data,
    runSeconds,
    capSeconds,
    readyTimeoutSeconds: positiveNumber(env, JOB_ENV.readyTimeoutSeconds, 60),
    healthPath,
    ...(grpcDescriptor !== undefined ? { grpcDescriptor } : {}),
  };
}

/** GRACEFUL_E2E_GRPC_DESCRIPTOR, when load.grpc.proto needs it. */
function descriptorFromEnv(env: NodeJS.ProcessEnv, load: JobConfig["load"]): unknown {
  if (load.protocol !== "grpc" || load.grpc?.proto === undefined) return undefined;
  const raw = env[JOB_ENV.grpcDescriptor];
  if (!raw) throw new JobConfigError(`${JOB_ENV.grpcDescriptor} is required with load.grpc.proto`);
  try {
    return JSON.parse(raw);
  } catch (err) {
    throw new JobConfigError(`${JOB_ENV.grpcDescriptor} is not JSON: ${(err as Error).message}`);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function hostForUrl(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

/** GET url → status code (node:http: fetch refuses some ports outright). */
export function httpStatusOf(url: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = get(url, { timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
  });
}

export interface JobIo {
  stdout: (line: string) => Promise<void>;
  stderr: (line: string) => void;
  /** Resolves when a stop signal arrives. */
  stopRequested: Promise<string>;
}

/**
 * The whole program without process globals: returns the exit code. Never throws: every failure
 * ends as one ERROR line.
 */
export async function runJob(env: NodeJS.ProcessEnv, io: JobIo): Promise<number> {
  let stopReason: string | undefined;
  void io.stopRequested.then((why) => {
    stopReason = why;
  });
  let config: JobConfig;
  try {
    config = jobConfigFromEnv(env);
  } catch (err) {
    await io.stdout(`${ERROR_MARKER} ${JSON.stringify({ message: (err as Error).message })}`);
    return 2;
  }
  const fail = async (message: string, result?: unknown) => {
    io.stderr(`loadgen: ${message}`);
    await io.stdout(`${ERROR_MARKER} ${JSON.stringify({ message, ...(result ? { result } : {}) })}`);
    return 1;
  };

  // One DNS lookup: the Service's ClusterIP does not change during a run.
  let address = config.host;
  if (isIP(config.host) === 0) {
    try {
      address = (await lookup(config.host)).address;
    } catch (err) {
      return fail(`cannot resolve ${config.host}: ${(err as Error).message}`);
    }
  }
  const base = `http://${hostForUrl(address)}:${config.port}`;
  io.stderr(`loadgen: target ${config.host}:${config.port} → ${address}:${config.port}`);

  // The Service must answer before the window opens (the harness's reachability check): GET healthPath,
  // or for grpc (servers need not speak HTTP/1.1) one call of the load's method.
  const probeTarget =
    config.load.protocol === "grpc"
      ? `${address}:${config.port} (${config.host})`
      : `${base}${config.healthPath} (${config.host})`;
  const probe = async (): Promise<string | undefined> => {
    if (config.load.protocol === "grpc") {
      return grpcCallOnce({ host: address, port: config.port }, config.load, 2000, config.grpcDescriptor);
    }
    const status = await httpStatusOf(`${base}${config.healthPath}`, 2000);
    return status >= 200 && status < 300 ? undefined : `HTTP ${status}`;
  };
  const readyDeadline = Date.now() + config.readyTimeoutSeconds * 1000;
  let last: string | undefined = "";
  for (;;) {
    if (stopReason) return fail(`stopped (${stopReason}) before the Service answered`);
    try {
      last = await probe();
      if (last === undefined) break;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > readyDeadline) {
      const answer = config.load.protocol === "grpc" ? "OK" : "2xx";
      return fail(`${probeTarget} did not answer ${answer} within ${config.readyTimeoutSeconds} s: ${last}`);
    }
    await sleep(250);
  }

  let run: LoadRun;
  try {
    run = startLoad({ host: address, port: config.port }, config.load, {
      safetyCapSeconds: config.capSeconds,
      ...(config.grpcDescriptor !== undefined ? { grpcDescriptor: config.grpcDescriptor } : {}),
      progressIntervalMs: 1000,
      onProgress: (s) =>
        io.stderr(
          `loadgen: +${(s.elapsedMs / 1000).toFixed(1)}s sent=${s.sent} ok=${s.succeeded} failed=${s.failed} inFlight=${s.inFlight}`,
        ),
    });
  } catch (err) {
    return fail(`the load generator did not start: ${(err as Error).message}`);
  }
  const windowEnd = run.startedAt + config.runSeconds * 1000;

  // STARTED after the first success: the harness's clock for the disruption starts there.
  let started = false;
  while (!stopReason && Date.now() < windowEnd) {
    if (!started && run.snapshot().succeeded > 0) {
      started = true;
      const info: LoadStartedInfo = {
        at: Date.now(),
        startedAt: run.startedAt,
        firstSuccessAt: Date.now(),
        target: `${address}:${config.port}`,
        host: config.host,
      };
      await io.stdout(`${STARTED_MARKER} ${JSON.stringify(info)}`);
    }
    await Promise.race([sleep(started ? 200 : 10), io.stopRequested]);
  }
  io.stderr(`loadgen: window closed (${stopReason ?? `${config.runSeconds} s elapsed`})`);

  try {
    const result = await run.stop();
    await io.stdout(`${RESULT_MARKER} ${JSON.stringify(result)}`);
    return 0;
  } catch (err) {
    if (err instanceof LoadAccountingError) return fail(err.message, err.result);
    return fail(`the load generator failed: ${(err as Error).message}`);
  }
}

/** The bundle's entry: process wiring around runJob. */
export async function main(): Promise<void> {
  let onStop: (why: string) => void = () => {};
  const stopRequested = new Promise<string>((resolve) => {
    onStop = resolve;
  });
  for (const sig of ["SIGTERM", "SIGINT"] as const) process.on(sig, () => onStop(sig));
  const code = await runJob(process.env, {
    stdout: (line) =>
      new Promise<void>((resolve) => {
        // One write per marker line; a pipe on Linux writes synchronously, the callback confirms.
        process.stdout.write(`${line}\n`, () => resolve());
      }),
    stderr: (line) => process.stderr.write(`${line}\n`),
    stopRequested,
  });
  // autocannon may leave timers behind: exit explicitly, after stdout was flushed above.
  process.exit(code);
}
