// Load generated from inside the cluster: a Job running the load generator (images/loadgen, entry
// src/load/job-main.ts) against the Service's cluster DNS name, for existing clusters whose Service
// is not reachable from this machine.
//
// Pure part: the Job's manifests (buildLoadJob), its timing (loadJobTiming) and the parser of its
// stdout markers (parseLoadJobLine, loadResultFromLog). I/O part: startLoadJob creates the Job, waits
// for its pod, follows the pod's log (the result is read from the stream: a deleted pod's log cannot
// be read later) and resolves once the generator reported its first successful response; stop() ends
// the window by deleting the pod (SIGTERM → the generator prints its result and exits).
//
// The Job gets a namespace of its own (labelled with the run, so the driver's teardown deletes it
// with the run's other namespace): in the app's namespace its pod would be one of the pods the
// driver watches, and rollout / scale-down would count it among the pods to wait for.
import {
  BatchV1Api,
  CoreV1Api,
  type KubeConfig,
  Log,
  type V1Job,
  type V1Namespace,
  type V1ResourceRequirements,
} from "@kubernetes/client-node";
import { ERROR_MARKER, JOB_ENV, type LoadStartedInfo, RESULT_MARKER, STARTED_MARKER } from "../load/job-main.js";
import type { LoadResult } from "../load/types.js";
import { disruptionBudgetSeconds } from "../scenario/disruption-time.js";
import { grpcDescriptor } from "../scenario/grpc-method.js";
import type { LoadOptions, Scenario } from "../scenario/schema.js";
import { apiErrorText as errText } from "../util/errors.js";
import { sleep } from "../util/sleep.js";
import { diagnosePods } from "./driver.js";
import { labelValue, namespaceName, objectLabels, RUN_LABEL } from "./manifests.js";
import { LineSplitter } from "./watch.js";

export const LOAD_JOB_NAME = "loadgen";
export const LOAD_JOB_CONTAINER = "loadgen";
/** Pod template label the harness finds the Job's pod by. */
export const LOAD_ROLE_LABEL = "graceful-e2e.role";

export const DEFAULT_LOAD_JOB_RESOURCES: V1ResourceRequirements = {
  // No CPU limit: throttling the generator would show up as latency of the app.
  requests: { cpu: "500m", memory: "128Mi" },
  // The result (every latency) is held in memory and written as one JSON line.
  limits: { memory: "1Gi" },
};

// ---- timing -----------------------------------------------------------------------------------

export interface LoadJobTiming {
  /** The generator stops on its own after this long (unless stopped earlier by the harness). */
  runSeconds: number;
  /** The generator's hard cap (autocannon's own duration). */
  capSeconds: number;
  /** In the pod: how long to wait for GET /healthz → 2xx through the Service before starting. */
  readyTimeoutSeconds: number;
  /** The harness: how long to wait for the STARTED line (scheduling, image pull, readiness). */
  startTimeoutSeconds: number;
  /** The pod's terminationGracePeriodSeconds: time to print the result after SIGTERM. */
  stopGraceSeconds: number;
  /** The Job's activeDeadlineSeconds: after it, the Job controller ends the pod whatever happens. */
  activeDeadlineSeconds: number;
}

export interface LoadJobTimingOptions {
  /** The runner's safety cap for the load (startLoad's safetyCapSeconds); default from the scenario. */
  safetyCapSeconds?: number;
  startTimeoutSeconds?: number;
  readyTimeoutSeconds?: number;
  stopGraceSeconds?: number;
}

/**
 * The longest the window can legitimately last: the disruption at atSeconds, the load's minimum
 * duration, every disrupted pod's grace period (preStop runs inside it) + 2 s + 30 s for the API to
 * report it gone (rollout: per replica, plus 30 s each), + 60 s margin. The same formula as the
 * runner's safety cap (src/runner/run.ts, disruptionBudgetMs), kept here so the Job can be sized
 * without the runner.
 */
export function defaultLoadWindowSeconds(s: Scenario): number {
  return s.disruption.atSeconds + s.load.durationSeconds + disruptionBudgetSeconds(s) + 60;
}

export function loadJobTiming(s: Scenario, o: LoadJobTimingOptions = {}): LoadJobTiming {
  const runSeconds = Math.ceil(o.safetyCapSeconds ?? defaultLoadWindowSeconds(s));
  if (!(runSeconds > 0)) throw new Error(`invalid load window ${o.safetyCapSeconds}`);
  const capSeconds = runSeconds + 30;
  const readyTimeoutSeconds = Math.ceil(o.readyTimeoutSeconds ?? 60);
  // Scheduling and pulling the image come before the readiness wait.
  const startTimeoutSeconds = Math.ceil(o.startTimeoutSeconds ?? 180 + readyTimeoutSeconds);
  const stopGraceSeconds = Math.ceil(o.stopGraceSeconds ?? 30);
  return {
    runSeconds,
    capSeconds,
    readyTimeoutSeconds,
    startTimeoutSeconds,
    stopGraceSeconds,
    activeDeadlineSeconds: startTimeoutSeconds + capSeconds + stopGraceSeconds,
  };
}

// ---- manifests --------------------------------------------------------------------------------

export interface LoadJobInput {
  scenario: Scenario;
  runId: string;
  /** The loadgen image as the cluster pulls it (fixed tag). */
  image: string;
  /** The Service as seen from inside the cluster: <service>.<namespace>.svc and its port. */
  target: { host: string; port: number };
  load: LoadOptions;
  timing: LoadJobTiming;
  /** Default: loadJobNamespace(scenario.name, runId). */
  namespace?: string;
  resources?: V1ResourceRequirements;
}

export interface LoadJobManifests {
  namespace: V1Namespace;
  job: V1Job;
  names: { namespace: string; job: string; container: string };
  labels: Record<string, string>;
  /** Label selector of the Job's pod. */
  podSelector: string;
}

/** ge-load-<scenario>-<run id short>. */
export function loadJobNamespace(scenarioName: string, runId: string): string {
  return namespaceName(`load-${scenarioName}`, runId);
}

/** The user's .proto compiled, for the Job (it has no copy of the file): load.grpc.proto only. */
function grpcDescriptorEnv(load: LoadOptions): Record<string, string> {
  const proto = load.protocol === "grpc" ? load.grpc?.proto : undefined;
  return proto === undefined ? {} : { [JOB_ENV.grpcDescriptor]: JSON.stringify(grpcDescriptor(proto)) };
}

export function buildLoadJob(input: LoadJobInput): LoadJobManifests {
  const { scenario, runId, timing } = input;
  const ns = input.namespace ?? loadJobNamespace(scenario.name, runId);
  const labels = objectLabels(scenario, runId);
  const podLabels = { ...labels, [LOAD_ROLE_LABEL]: "load", "app.kubernetes.io/name": "graceful-e2e-loadgen" };
  const host = input.target.host.includes(":") ? `[${input.target.host}]` : input.target.host;
  const env: Record<string, string> = {
    [JOB_ENV.target]: `${host}:${input.target.port}`,
    [JOB_ENV.load]: JSON.stringify(input.load),
    [JOB_ENV.runSeconds]: String(timing.runSeconds),
    [JOB_ENV.capSeconds]: String(timing.capSeconds),
    [JOB_ENV.readyTimeoutSeconds]: String(timing.readyTimeoutSeconds),
    ...grpcDescriptorEnv(input.load),
  };
  const namespace: V1Namespace = { apiVersion: "v1", kind: "Namespace", metadata: { name: ns, labels } };
  const job: V1Job = {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: LOAD_JOB_NAME, namespace: ns, labels },
    spec: {
      // One pod, never retried: a second generator would be a different measurement.
      backoffLimit: 0,
      completions: 1,
      parallelism: 1,
      activeDeadlineSeconds: timing.activeDeadlineSeconds,
      // The namespace is deleted at teardown; this only matters when teardown never ran.
      ttlSecondsAfterFinished: 600,
      template: {
        metadata: { labels: podLabels, annotations: { "graceful-e2e/scenario": scenario.name } },
        spec: {
          restartPolicy: "Never",
          terminationGracePeriodSeconds: timing.stopGraceSeconds,
          // The generator never talks to the API server.
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 65534,
            runAsGroup: 65534,
            seccompProfile: { type: "RuntimeDefault" },
          },
          containers: [
            {
              name: LOAD_JOB_CONTAINER,
              image: input.image,
              imagePullPolicy: "IfNotPresent",
              env: Object.entries(env).map(([name, value]) => ({ name, value })),
              resources: input.resources ?? DEFAULT_LOAD_JOB_RESOURCES,
              securityContext: {
                allowPrivilegeEscalation: false,
                privileged: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ["ALL"] },
              },
            },
          ],
        },
      },
    },
  };
  return {
    namespace,
    job,
    names: { namespace: ns, job: LOAD_JOB_NAME, container: LOAD_JOB_CONTAINER },
    labels,
    podSelector: `${RUN_LABEL}=${labelValue(runId)},${LOAD_ROLE_LABEL}=load`,
  };
}

// ---- the generator's stdout -------------------------------------------------------------------

export type LoadJobLine =
  | { kind: "started"; info: LoadStartedInfo }
  | { kind: "result"; result: LoadResult }
  | { kind: "error"; message: string; result?: LoadResult };

/** A marker line that cannot be used, or a log without the result line. */
export class LoadJobOutputError extends Error {
  override name = "LoadJobOutputError";
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** The LoadResult's shape and its invariant (sent = succeeded + failed + inFlightAtEnd); throws otherwise. */
export function checkLoadResult(value: unknown): LoadResult {
  const problems: string[] = [];
  if (!isObject(value)) throw new LoadJobOutputError("the load result is not a JSON object");
  for (const k of ["startedAt", "endedAt", "sent", "succeeded", "failed", "inFlightAtEnd"]) {
    if (!isNum(value[k])) problems.push(`${k} is not a number`);
  }
  if (typeof value.target !== "string") problems.push("target is not a string");
  for (const k of ["failures", "successBuckets", "latencies", "servedBy"]) {
    if (!Array.isArray(value[k])) problems.push(`${k} is not an array`);
  }
  for (const k of ["failedByKind", "autocannon"]) {
    if (!isObject(value[k])) problems.push(`${k} is not an object`);
  }
  if (problems.length === 0) {
    const { sent, succeeded, failed, inFlightAtEnd } = value as unknown as LoadResult;
    if (sent !== succeeded + failed + inFlightAtEnd) {
      problems.push(
        `sent (${sent}) ≠ succeeded (${succeeded}) + failed (${failed}) + inFlightAtEnd (${inFlightAtEnd})`,
      );
    }
    if ((value.failures as unknown[]).length !== failed) {
      problems.push(`${(value.failures as unknown[]).length} failure records for failed = ${failed}`);
    }
  }
  if (problems.length > 0) throw new LoadJobOutputError(`the load result is not valid: ${problems.join("; ")}`);
  return value as unknown as LoadResult;
}

function parseMarkerJson(marker: string, json: string): unknown {
  try {
    return JSON.parse(json);
  } catch (err) {
    const sample = json.length > 80 ? `${json.slice(0, 80)}… (${json.length} characters)` : json;
    throw new LoadJobOutputError(`garbled ${marker} line: ${(err as Error).message}: ${sample}`);
  }
}

/**
 * One log line → what it says; undefined for any other line. A marker may follow an RFC 3339
 * timestamp (logs read with timestamps). Throws LoadJobOutputError for a marker with unusable JSON.
 */
export function parseLoadJobLine(line: string): LoadJobLine | undefined {
  const m = /^(?:\d{4}-\d\d-\d\dT\S+Z )?(GRACEFUL_E2E_LOAD_[A-Z]+)(?: (.*))?$/.exec(line.replace(/\r$/, ""));
  if (!m?.[1]) return undefined;
  const marker = m[1];
  const json = m[2] ?? "";
  switch (marker) {
    case STARTED_MARKER: {
      const v = parseMarkerJson(marker, json);
      if (!isObject(v) || !isNum(v.at) || !isNum(v.startedAt) || typeof v.target !== "string") {
        throw new LoadJobOutputError(`${marker} line without at/startedAt/target: ${json.slice(0, 200)}`);
      }
      return { kind: "started", info: v as unknown as LoadStartedInfo };
    }
    case RESULT_MARKER:
      return { kind: "result", result: checkLoadResult(parseMarkerJson(marker, json)) };
    case ERROR_MARKER: {
      const v = parseMarkerJson(marker, json);
      const message = isObject(v) && typeof v.message === "string" ? v.message : json;
      const result = isObject(v) && isObject(v.result) ? (v.result as unknown as LoadResult) : undefined;
      return { kind: "error", message, ...(result ? { result } : {}) };
    }
    default:
      return undefined;
  }
}

function tail(lines: string[], n = 10): string {
  const t = lines.slice(-n);
  return t.length > 0
    ? `; its last lines:\n  ${t.map((l) => (l.length > 300 ? `${l.slice(0, 300)}…` : l)).join("\n  ")}`
    : "";
}

/** The LoadResult in a whole log; throws LoadJobOutputError saying why when there is none. */
export function loadResultFromLog(text: string): LoadResult {
  const others: string[] = [];
  for (const line of text.split("\n")) {
    const parsed = parseLoadJobLine(line);
    if (!parsed) {
      if (line.trim() !== "") others.push(line);
      continue;
    }
    if (parsed.kind === "result") return parsed.result;
    if (parsed.kind === "error") throw new LoadJobOutputError(`the load generator failed: ${parsed.message}`);
  }
  throw new LoadJobOutputError(`the load generator's log has no ${RESULT_MARKER} line${tail(others)}`);
}

// ---- running it -------------------------------------------------------------------------------

export interface StartLoadJobOptions extends LoadJobInput {
  kc: KubeConfig;
  log?: (line: string) => void;
  now?: () => number;
  /** Pod polling interval (default 500 ms). */
  pollMs?: number;
}

export interface RunningLoadJob {
  namespace: string;
  pod: string;
  started: LoadStartedInfo;
  /**
   * This machine's clock minus the generator's (node's), measured at the STARTED line: an upper
   * bound that includes the log's delivery delay. The result's times are the node's.
   */
  clockOffsetMs: number;
  /** Settles when the generator printed its result (or failed), whoever ended the window. */
  readonly done: Promise<LoadResult>;
  /** Ends the window now (deletes the pod: SIGTERM) unless it already ended; resolves with the result. */
  stop(): Promise<LoadResult>;
  /** Stops following the log (teardown); the Job itself goes with its namespace. */
  close(): void;
}

export class LoadJobError extends Error {
  override name = "LoadJobError";
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: Error): void;
  settled: boolean;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Nobody may be listening yet: never an unhandled rejection.
  promise.catch(() => {});
  const d: Deferred<T> = {
    promise,
    settled: false,
    resolve: (v) => {
      if (d.settled) return;
      d.settled = true;
      resolve(v);
    },
    reject: (e) => {
      if (d.settled) return;
      d.settled = true;
      reject(e);
    },
  };
  return d;
}

function httpStatus(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === "number" ? code : undefined;
}

function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(onTimeout()), Math.max(0, ms));
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Waiting reasons that will not go away by waiting. */
const FATAL_WAITING = /^(ImagePullBackOff|InvalidImageName|ErrImageNeverPull|CreateContainerConfigError)$/;

/**
 * Creates the Job (and its namespace), waits until its generator got a first successful response
 * through the Service, and returns a handle to stop it and read its result.
 */
export async function startLoadJob(o: StartLoadJobOptions): Promise<RunningLoadJob> {
  const now = o.now ?? Date.now;
  const api: JobApi = { core: o.kc.makeApiClient(CoreV1Api), batch: o.kc.makeApiClient(BatchV1Api) };
  const m = buildLoadJob(o);
  const ns = m.names.namespace;
  const deadline = now() + o.timing.startTimeoutSeconds * 1000;
  await createJob(api, m, o);
  const pod = await waitForJobPod(api, m, o, deadline);
  const log = new JobLog(o.kc, api.core, { namespace: ns, pod, container: m.names.container }, now);
  await log.follow(0);
  const { info, clockOffsetMs } = await awaitStarted(log, o, deadline - now());
  let stopping: Promise<LoadResult> | undefined;
  const stop = (): Promise<LoadResult> => {
    stopping ??= stopJob(api, m, pod, log, o, clockOffsetMs);
    return stopping;
  };
  return { namespace: ns, pod, started: info, clockOffsetMs, done: log.done.promise, stop, close: () => log.close() };
}

interface JobApi {
  core: CoreV1Api;
  batch: BatchV1Api;
}

type LoadJobObjects = ReturnType<typeof buildLoadJob>;

async function createJob({ core, batch }: JobApi, m: LoadJobObjects, o: StartLoadJobOptions): Promise<void> {
  const ns = m.names.namespace;
  try {
    await core.createNamespace({ body: m.namespace });
  } catch (err) {
    throw new LoadJobError(`could not create the load Job's namespace ${ns}: ${errText(err)}`);
  }
  try {
    await batch.createNamespacedJob({ namespace: ns, body: m.job });
  } catch (err) {
    throw new LoadJobError(`could not create the load Job in ${ns}: ${errText(err)}`);
  }
  o.log?.(`load Job ${ns}/${m.names.job}: ${o.image} → ${o.target.host}:${o.target.port}`);
}

/** Warning events of the namespace (FailedCreate: PodSecurity, quota...), for error messages. */
async function namespaceWarnings(core: CoreV1Api, namespace: string): Promise<string> {
  try {
    const list = await core.listNamespacedEvent({ namespace });
    const w = list.items
      .filter((e) => e.type === "Warning")
      .slice(-3)
      .map((e) => `${e.involvedObject?.kind}/${e.involvedObject?.name}: ${e.reason}: ${e.message}`);
    return w.length > 0 ? ` Warning events: ${w.join(" | ")}` : "";
  } catch {
    return "";
  }
}

/** The Job's pod, once its container runs (or already ended); a clear error when it cannot or does not start. */
async function waitForJobPod(
  { core }: JobApi,
  m: LoadJobObjects,
  o: StartLoadJobOptions,
  deadline: number,
): Promise<string> {
  const now = o.now ?? Date.now;
  const ns = m.names.namespace;
  for (;;) {
    const list = await core.listNamespacedPod({ namespace: ns, labelSelector: m.podSelector });
    const pod = [...list.items].sort((a, b) =>
      String(a.metadata?.creationTimestamp ?? "").localeCompare(String(b.metadata?.creationTimestamp ?? "")),
    )[0];
    const cs = pod?.status?.containerStatuses?.find((c) => c.name === m.names.container);
    if (pod && (cs?.state?.running || cs?.state?.terminated)) {
      const name = pod.metadata?.name;
      if (!name) throw new LoadJobError(`the load Job's pod has no name (${diagnosePods(list.items)})`);
      return name;
    }
    const reason = cs?.state?.waiting?.reason ?? "";
    if (FATAL_WAITING.test(reason)) {
      throw new LoadJobError(
        `the load Job's pod cannot start: ${diagnosePods(list.items)}${await namespaceWarnings(core, ns)}`,
      );
    }
    if (now() > deadline) {
      throw new LoadJobError(
        `the load Job's pod did not start within ${o.timing.startTimeoutSeconds} s: ${diagnosePods(list.items)}` +
          (await namespaceWarnings(core, ns)),
      );
    }
    await sleep(o.pollMs ?? 500);
  }
}

/** Waits for the generator's STARTED line (bounded by the start deadline); the node's clock offset noted. */
async function awaitStarted(
  log: JobLog,
  o: StartLoadJobOptions,
  remainingMs: number,
): Promise<{ info: LoadStartedInfo; clockOffsetMs: number }> {
  let info: LoadStartedInfo;
  try {
    info = await withTimeout(
      log.started.promise,
      remainingMs,
      () =>
        new LoadJobError(
          `the load generator reported no successful response within ${o.timing.startTimeoutSeconds} s of the Job's creation${tail(log.others)}`,
        ),
    );
  } catch (err) {
    log.close();
    throw err;
  }
  const clockOffsetMs = log.startedSeenAt - info.at;
  if (Math.abs(clockOffsetMs) > 1000) {
    o.log?.(
      `load Job: the node's clock differs from this machine's by ~${clockOffsetMs} ms (log delay included): ` +
        "the load's times in the timeline are the node's",
    );
  }
  o.log?.(`load Job: first successful response at ${new Date(info.firstSuccessAt).toISOString()} (${info.target})`);
  return { info, clockOffsetMs };
}

/** Ends the window (deletes the pod: SIGTERM) unless it already ended, and waits for the result line. */
async function stopJob(
  { core, batch }: JobApi,
  m: LoadJobObjects,
  pod: string,
  log: JobLog,
  o: StartLoadJobOptions,
  clockOffsetMs: number,
): Promise<LoadResult> {
  const ns = m.names.namespace;
  try {
    if (!log.done.settled) {
      // No replacement pod (a deleted pod was not counted as failed before Kubernetes 1.26).
      await batch
        .patchNamespacedJob({
          name: m.names.job,
          namespace: ns,
          body: [{ op: "replace", path: "/spec/parallelism", value: 0 }],
        })
        .catch(() => {});
      try {
        await core.deleteNamespacedPod({ name: pod, namespace: ns, gracePeriodSeconds: o.timing.stopGraceSeconds });
      } catch (err) {
        if (httpStatus(err) !== 404) throw new LoadJobError(`could not stop the load Job's pod: ${errText(err)}`);
      }
    }
    const result = await withTimeout(
      log.done.promise,
      (o.timing.stopGraceSeconds + 15) * 1000,
      () =>
        new LoadJobError(
          `the load generator printed no ${RESULT_MARKER} line within ${o.timing.stopGraceSeconds + 15} s of being stopped${tail(log.others)}`,
        ),
    );
    if (Math.abs(clockOffsetMs) > 1000) {
      const anomalies = (result as { anomalies?: unknown }).anomalies;
      if (Array.isArray(anomalies)) {
        anomalies.push(`the generator's (node's) clock differs from the harness's by ~${clockOffsetMs} ms`);
      }
    }
    return result;
  } finally {
    log.close();
  }
}

/**
 * The generator's log, followed: its STARTED and RESULT markers (seen twice when a stream is resumed from
 * the start: idempotent), its other lines kept for error messages; resumed while the container runs.
 */
class JobLog {
  readonly started = deferred<LoadStartedInfo>();
  readonly done = deferred<LoadResult>();
  readonly others: string[] = [];
  startedSeenAt = 0;
  private readonly controllers = new Set<AbortController>();
  private closed = false;

  constructor(
    private readonly kc: KubeConfig,
    private readonly core: CoreV1Api,
    private readonly at: { namespace: string; pod: string; container: string },
    private readonly now: () => number,
  ) {}

  async follow(attempt: number): Promise<void> {
    const { namespace, pod, container } = this.at;
    const splitter = new LineSplitter((line) => this.onLine(line));
    splitter.on("finish", () => {
      if (this.closed || this.done.settled) return;
      this.afterStream(attempt).catch((err: unknown) =>
        this.fail(`reading the load Job's log failed: ${errText(err)}`),
      );
    });
    try {
      const c = await new Log(this.kc).log(namespace, pod, container, splitter, { follow: true });
      if (this.closed) c.abort();
      else this.controllers.add(c);
    } catch (err) {
      if (this.closed || this.done.settled) return;
      this.afterStream(attempt, err).catch((e: unknown) =>
        this.fail(`reading the load Job's log failed: ${errText(e)}`),
      );
    }
  }

  close(): void {
    this.closed = true;
    for (const c of this.controllers) c.abort();
    this.controllers.clear();
  }

  private fail(message: string): void {
    const e = new LoadJobError(message);
    this.started.reject(e);
    this.done.reject(e);
  }

  private onLine(line: string): void {
    let parsed: LoadJobLine | undefined;
    try {
      parsed = parseLoadJobLine(line);
    } catch (err) {
      this.fail(`the load generator's output is unusable: ${(err as Error).message}`);
      return;
    }
    if (!parsed) {
      this.others.push(line);
      if (this.others.length > 50) this.others.shift();
      return;
    }
    if (parsed.kind === "started") {
      if (!this.started.settled) this.startedSeenAt = this.now();
      this.started.resolve(parsed.info);
    } else if (parsed.kind === "result") {
      this.done.resolve(parsed.result);
      // A window that ended before STARTED (stopped at once) still has its result.
      this.started.reject(new LoadJobError("the load generator ended before its first successful response"));
    } else {
      this.fail(`the load generator failed: ${parsed.message}${tail(this.others)}`);
    }
  }

  private async containerState() {
    const { namespace, pod, container } = this.at;
    try {
      const p = await this.core.readNamespacedPod({ name: pod, namespace });
      return { exists: true, cs: p.status?.containerStatuses?.find((c) => c.name === container) };
    } catch (err) {
      if (httpStatus(err) === 404) return { exists: false, cs: undefined };
      throw err;
    }
  }

  /** The stream ended (or could not start) without the result: resume while the container runs, else read once more. */
  private async afterStream(attempt: number, streamError?: unknown): Promise<void> {
    const { namespace, pod, container } = this.at;
    await sleep(500);
    const st = await this.containerState().catch(() => ({ exists: false, cs: undefined }));
    if (this.done.settled || this.closed) return;
    if (st.exists && st.cs?.state?.running && attempt < 5) {
      await this.follow(attempt + 1);
      return;
    }
    if (st.exists) {
      try {
        const text = await this.core.readNamespacedPodLog({ name: pod, namespace, container });
        for (const line of text.split("\n")) if (line !== "") this.onLine(line);
      } catch {
        /* the pod went away meanwhile */
      }
    }
    if (this.done.settled) return;
    const term = st.cs?.state?.terminated;
    this.fail(
      `the load Job's pod ${namespace}/${pod} ended without a ${RESULT_MARKER} line` +
        (term ? ` (exit code ${term.exitCode}${term.reason ? `, ${term.reason}` : ""})` : "") +
        (st.exists ? "" : " (the pod is gone)") +
        (streamError ? ` (following its log failed: ${errText(streamError)})` : "") +
        tail(this.others),
    );
  }
}
