// The scenario file format: image × preStop × grace period × load × disruption × expectations.
// One zod schema is the single source of truth: it validates YAML, gives the TypeScript types
// and exports the JSON Schema editors use (fixtures/scenario.schema.json).
import { z } from "zod";
import { SIGNAL_NAMES } from "../util/signals.js";
import { expectationsFor, SCENARIO_BACKENDS } from "./expectations.js";
import { ECHO_SAY_METHOD, GRPC_METHOD_NAME, HEALTH_CHECK_METHOD } from "./grpc-method.js";

/** Entrypoint styles shipped under images/<style>/. */
export const IMAGE_STYLES = [
  "shell-form",
  "script",
  "exec",
  "exec-form",
  "trap",
  "tini",
  "tini-group",
  "no-handler",
  // Real servers with their own signal semantics (README "Servers, measured").
  "nginx",
  "nginx-quit",
  "apache2",
  "apache2-winch",
  "gunicorn",
  "uvicorn",
  "go",
  "go-graceful",
  // A third-party gRPC server with only grpc.health.v1 (no HTTP/1.1: readiness and warm-up need gRPC).
  "grpc-health",
] as const;
export type ImageStyle = (typeof IMAGE_STYLES)[number];

const seconds = (max: number) => z.number().min(0).max(max);
const DEFAULT_REPLICAS = 2;
const MAX_REPLICAS = 20;
const DEFAULT_DELETE_COUNT = 1;

// The Docker reference grammar (github.com/distribution/reference, regexp.go):
// [domain[:port]/]path-component[/path-component...][:tag][@digest]
const ALPHANUMERIC = "[a-z0-9]+";
const SEPARATOR = "(?:[._]|__|-+)";
const PATH_COMPONENT = `${ALPHANUMERIC}(?:${SEPARATOR}${ALPHANUMERIC})*`;
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?`;
const NAME = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const TAG = "[\\w][\\w.-]{0,127}";
const DIGEST = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
/** A whole image reference; groups: 1 name, 2 tag, 3 digest. */
export const IMAGE_REFERENCE = new RegExp(`^(${NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);
const NAME_TOTAL_LENGTH_MAX = 255;

/**
 * What is wrong with an image reference, or undefined when it is valid: Docker's grammar, and no
 * :latest (a moving target; a digest pins it). A reference without a tag is accepted, as before.
 */
export function imageRefProblem(ref: string): string | undefined {
  const expected = "expected [registry[:port]/]name[:tag][@digest]";
  if (ref.length > 1024) return `not a valid image reference (${ref.length} characters; ${expected})`;
  const bad = /[^A-Za-z0-9._:/@[\]+-]/.exec(ref);
  if (bad) return `not a valid image reference: ${JSON.stringify(bad[0])} is not allowed (${expected})`;
  const m = IMAGE_REFERENCE.exec(ref);
  if (!m) {
    const name = ref.replace(/@.*$/, "").replace(/:[^/:]*$/, "");
    const [first = "", ...rest] = name.split("/");
    const repository = rest.length > 0 && (/[.:]/.test(first) || first === "localhost") ? rest.join("/") : name;
    if (/[A-Z]/.test(repository))
      return `not a valid image reference: the repository name must be lower-case (${JSON.stringify(repository)})`;
    return `not a valid image reference: ${JSON.stringify(ref)} (${expected}; name components lower-case letters and digits separated by '.', '_', '__' or '-')`;
  }
  const [, name = "", tag, digest] = m;
  if (name.length > NAME_TOTAL_LENGTH_MAX)
    return `not a valid image reference: the name is longer than ${NAME_TOTAL_LENGTH_MAX} characters`;
  if (tag === "latest" && digest === undefined) return "use a fixed tag, not :latest";
  return undefined;
}

export const ImageSpec = z.union([
  z.strictObject({ style: z.enum(IMAGE_STYLES).describe("an entrypoint style under images/") }),
  z.strictObject({
    ref: z
      .string()
      .min(1)
      .superRefine((r, ctx) => {
        const problem = imageRefProblem(r);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
      })
      .describe(
        "any image reference, [registry[:port]/]name[:tag][@digest], never :latest " +
          "(must exist locally for the local backend)",
      ),
  }),
]);

/** A DNS-1123 label (namespaces, Services) and subdomain (Deployments, StatefulSets), as the API checks them. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_MESSAGE = "lower-case letters, digits and '-', at most 63 characters, starting and ending alphanumeric";
/** A named port as the API allows it (IANA_SVC_NAME): at most 15 characters, a letter among them. */
const PORT_NAME = /^(?=.{1,15}$)(?=.*[a-z])[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export const WorkloadSpec = z
  .strictObject({
    manifests: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .transform((m) => (typeof m === "string" ? [m] : m))
      .describe(
        "YAML files or directories as `helm template` / `kustomize build` print them (multi-document), " +
          "relative to the scenario file",
      ),
    name: z
      .string()
      .regex(DNS_SUBDOMAIN, "a Kubernetes object name (lower-case letters, digits, '-' and '.')")
      .optional()
      .describe("the Deployment or StatefulSet under test (metadata.name) when the manifests hold several"),
    port: z
      .union([z.number().int().min(1).max(65535), z.string().regex(PORT_NAME, "a port name (IANA_SVC_NAME)")])
      .optional()
      .describe("the Service port (its number or name) the load goes to when the Service has several"),
  })
  .describe("your manifests instead of image: applied into the run's namespace, the workload under test found in them");

/** `kubectl`'s names for the two workload kinds a target may name. */
const TARGET_KINDS: Record<string, "Deployment" | "StatefulSet"> = {
  deployment: "Deployment",
  deployments: "Deployment",
  deploy: "Deployment",
  statefulset: "StatefulSet",
  statefulsets: "StatefulSet",
  sts: "StatefulSet",
};

/** "deployment/web" → {kind, name}, or the problem with it. */
export function parseWorkloadRef(ref: string): { kind: "Deployment" | "StatefulSet"; name: string } | string {
  const [kind = "", name = "", ...rest] = ref.split("/");
  const k = TARGET_KINDS[kind.toLowerCase()];
  if (k === undefined || rest.length > 0 || name === "")
    return `expected deployment/<name> or statefulset/<name>, got ${JSON.stringify(ref)}`;
  if (!DNS_SUBDOMAIN.test(name)) return `${JSON.stringify(name)} is not a Kubernetes object name`;
  return { kind: k, name };
}

export const TargetSpec = z
  .strictObject({
    namespace: z.string().regex(DNS_LABEL, LABEL_MESSAGE).describe("the namespace the workload runs in"),
    workload: z
      .string()
      .transform((ref, ctx) => {
        const parsed = parseWorkloadRef(ref);
        if (typeof parsed !== "string") return parsed;
        ctx.addIssue({ code: "custom", message: parsed });
        return z.NEVER;
      })
      .describe('"deployment/<name>" or "statefulset/<name>"'),
    service: z
      .string()
      .regex(DNS_LABEL, LABEL_MESSAGE)
      .optional()
      .describe("the Service the load goes through (default: the one selecting the workload's pods)"),
  })
  .describe(
    "a workload already running (backends existing and kind): nothing is deployed and nothing of it changed but " +
      "its disrupted pods: delete deletes them, evict evicts them through the Eviction API (its namespace's " +
      "PodDisruptionBudgets honoured), drain cordons their node, evicts the workload's pods on it and uncordons " +
      "it at teardown (also on Ctrl-C); rollout and scaleDown would change the workload and are refused. " +
      "The result's mutations list every change. existing: needs --allow-mutations",
  );

export const StopSignalSpec = z
  .string()
  .refine((s) => SIGNAL_NAMES.includes(s), {
    message: 'a signal name as Kubernetes writes it, e.g. "SIGTERM", "SIGQUIT", "SIGWINCH", "SIGRTMIN+3"',
  })
  .describe(
    "The signal that starts the container's termination instead of the image's STOPSIGNAL (default SIGTERM). " +
      "local: sent to PID 1; kind/existing: lifecycle.stopSignal, which needs Kubernetes 1.33+ with the " +
      "ContainerStopSignals feature gate (alpha); without this field the runtime sends the image's STOPSIGNAL.",
  );

export const PreStopSpec = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("none") }),
  z.strictObject({
    type: z.literal("sleep"),
    seconds: seconds(600).describe("how long the kubelet waits before SIGTERM"),
  }),
  z.strictObject({
    type: z.literal("exec"),
    command: z.array(z.string().min(1)).min(1).describe("argv run inside the container"),
  }),
  z.strictObject({
    type: z.literal("httpGet"),
    path: z.string().startsWith("/"),
    port: z.number().int().min(1).max(65535).optional(),
  }),
]);

/** The protocols the load speaks (README "Protocols"). */
export const LOAD_PROTOCOLS = ["http1", "http2", "grpc", "websocket"] as const;
export type LoadProtocolName = (typeof LOAD_PROTOCOLS)[number];
/** load.streamsPerConnection when not given (http2, grpc). */
export const DEFAULT_STREAMS_PER_CONNECTION = 4;
/** load.messageIntervalMs when not given (websocket). */
export const DEFAULT_MESSAGE_INTERVAL_MS = 50;

/**
 * load.rate when not given, at most: units per second over the long-lived connections (besides the
 * fresh-connection stream). Steady traffic on every connection, not maximum throughput: 200/s over the
 * default 10 connections is one unit per connection every 50 ms, so every connection — and every pod
 * one is pinned to — carries traffic through a preStop or a drain, while the load generator stays a
 * small share of a 2-core machine (README "Load").
 */
export const DEFAULT_LOAD_RATE = 200;
/** The default rate keeps the connections at most this busy (bursts and a disruption need headroom). */
export const DEFAULT_RATE_UTILISATION = 0.7;
/** What a fast answer is assumed to take when the default rate is sized (local, loaded 2-core machine). */
const ASSUMED_FAST_ANSWER_MS = 5;
const RATE_ERROR = 'must be a positive number (units per second) or "max"';

/** Which protocols each protocol-specific load field applies to, and when a value counts as given. */
const PROTOCOL_FIELDS: ReadonlyArray<{
  field: string;
  protocols: readonly LoadProtocolName[];
  /** The value the message names ("" = any value). */
  value: string;
  given: (v: unknown) => boolean;
}> = [
  { field: "streamsPerConnection", protocols: ["http2", "grpc"], value: "", given: (v) => v !== undefined },
  { field: "retryRefused", protocols: ["http2", "grpc"], value: "", given: (v) => v !== undefined },
  { field: "messageIntervalMs", protocols: ["websocket"], value: "", given: (v) => v !== undefined },
  { field: "grpc", protocols: ["grpc"], value: "", given: (v) => v !== undefined },
  { field: "websocket", protocols: ["websocket"], value: "", given: (v) => v !== undefined },
  { field: "http", protocols: ["http1", "http2"], value: "", given: (v) => v !== undefined },
  // Fields every protocol has, whose non-default values only http1 implements.
  { field: "keepAlive", protocols: ["http1"], value: "false ", given: (v) => v === false },
  { field: "ratePerConnection", protocols: ["http1"], value: "> 0 ", given: (v) => typeof v === "number" && v > 0 },
];

/** A token (RFC 9110 §5.1): what a header name may be. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/**
 * Headers of the connection itself, which the load sets (HTTP/1.1 keep-alive or Connection: close) or
 * HTTP/2 forbids (RFC 9113 §8.2.2); content-length is computed from the body.
 */
const CONNECTION_HEADERS = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te"];
// No HEAD: its answer's Content-Length announces a body that never comes, which autocannon's parser waits for.
export const HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;

export const HttpLoadSpec = z
  .strictObject({
    method: z.enum(HTTP_METHODS).default("GET").describe("the request method (default GET)"),
    headers: z
      .record(z.string().regex(HEADER_NAME, "a header name (letters, digits, '-' and the like)"), z.string())
      .optional()
      .describe(
        "headers every request carries, e.g. Host for ingress-style routing (HTTP/2: sent as :authority), " +
          "Authorization, Content-Type; not the connection's own (Connection, Keep-Alive, Transfer-Encoding, " +
          "Upgrade, TE) nor Content-Length (computed from body)",
      ),
    body: z.string().max(1_000_000).optional().describe("the request body (UTF-8 text), sent with every request"),
  })
  .superRefine((h, ctx) => {
    const seen = new Set<string>();
    for (const [name, value] of Object.entries(h.headers ?? {})) {
      const lower = name.toLowerCase();
      const path = ["headers", name];
      if (CONNECTION_HEADERS.includes(lower) || lower === "content-length") {
        ctx.addIssue({ code: "custom", path, message: "a header of the connection: the load sets it" });
      } else if (seen.has(lower)) {
        ctx.addIssue({ code: "custom", path, message: "given twice (header names ignore case)" });
      } else if (/[\r\n\0]/.test(value)) {
        ctx.addIssue({ code: "custom", path, message: "a header value cannot hold CR, LF or NUL" });
      }
      seen.add(lower);
    }
  })
  .describe("http1, http2 only: what every request is (default GET path, no extra header, no body)");

export const GrpcLoadSpec = z
  .strictObject({
    method: z
      .string()
      .regex(GRPC_METHOD_NAME, "package.Service/Method, e.g. grpc.health.v1.Health/Check")
      .default(HEALTH_CHECK_METHOD)
      .describe(
        `the unary method every call makes, package.Service/Method. Default ${HEALTH_CHECK_METHOD} (the standard ` +
          "health service production servers and Kubernetes' gRPC probes use: no proto needed); " +
          `${ECHO_SAY_METHOD} is the sample app's (its delay_ms makes the slow share); any other needs proto`,
      ),
    proto: z
      .string()
      .min(1)
      .optional()
      .describe("the .proto file declaring method (relative to the scenario file; its imports relative to its folder)"),
    request: z
      .record(z.string(), z.unknown())
      .optional()
      .describe(
        "the request message as JSON (proto3 JSON mapping: enums by name, 64-bit integers as strings), the " +
          'same for every call; checked against the message. Default {} (Health/Check: service "", the whole server)',
      ),
    notServing: z
      .enum(["answer", "failure"])
      .default("answer")
      .describe(
        "Health/Check only: what an answer other than SERVING (NOT_SERVING, SERVICE_UNKNOWN, UNKNOWN) counts as. " +
          "answer (default): the server answered — a server draining reports NOT_SERVING while it still serves " +
          "its calls (its status is for the probes and balancers that stop sending it traffic), so it is not a " +
          "dropped call; counted apart (load.grpcHealth). failure: each one is a failed call (grpc-not-serving), " +
          "for a server that must never say NOT_SERVING to traffic the Service still routes to it.",
      ),
  })
  .describe(`grpc only: which unary method the calls make (default ${HEALTH_CHECK_METHOD}, service "")`);

export const WebSocketLoadSpec = z
  .strictObject({
    send: z
      .string()
      .min(1)
      .max(65_536)
      .optional()
      .describe(
        'the text every message carries. Default {"id":N} (the sample app echoes it; the slow share adds delayMs), ' +
          "matched to its echo by id; a text of yours is matched in order (expect echo: an equal text, any: any message)",
      ),
    expect: z
      .enum(["echo", "any", "none"])
      .default("echo")
      .describe(
        "echo (default): each message succeeds when its echo comes back; any: when any message comes back (one " +
          "answer per message, in order); none: a server that only pushes — nothing is sent; every messageIntervalMs " +
          "each open socket opens one unit that succeeds at the next push on it, fails when no push comes within " +
          "requestTimeoutSeconds (timeout) or when the socket closes other than 1000 normal / 1001 going away " +
          "(ws-abnormal, ws-lost with the code); after a 1000/1001 close the socket reconnects and its waiting units " +
          "succeed at the next push on the new socket (a goodbye with a reconnect is what a graceful push server does)",
      ),
  })
  .superRefine((w, ctx) => {
    if (w.expect === "none" && w.send !== undefined) {
      ctx.addIssue({ code: "custom", path: ["send"], message: "expect none sends nothing: remove send" });
    }
  })
  .describe('websocket only: what each message is and what answers it (default: echoed {"id":N})');

export const LoadSpec = z
  .strictObject({
    protocol: z
      .enum(LOAD_PROTOCOLS)
      .default("http1")
      .describe(
        "http1: keep-alive HTTP/1.1 (autocannon); http2: cleartext h2c with prior knowledge, connections × " +
          "streamsPerConnection concurrent streams; grpc: unary calls (load.grpc: grpc.health.v1.Health/Check by " +
          "default, or a method of your .proto) over long-lived channels, connections × streamsPerConnection " +
          "concurrent calls; websocket: connections long-lived sockets, one message every messageIntervalMs, each " +
          "echoed (load.websocket: or any answer, or a push-only server).",
      ),
    streamsPerConnection: z
      .number()
      .int()
      .min(1)
      .max(100)
      .optional()
      .describe(
        `http2, grpc only: concurrent streams (calls) per connection (channel), each sent again as soon as it ends; default ${DEFAULT_STREAMS_PER_CONNECTION}`,
      ),
    retryRefused: z
      .boolean()
      .optional()
      .describe(
        "http2, grpc only: retry a stream the server refused after its GOAWAY (REFUSED_STREAM: never processed) " +
          "once on a new stream, as grpc-js does transparently; retries are counted apart. Default true.",
      ),
    messageIntervalMs: z
      .number()
      .int()
      .min(1)
      .max(60_000)
      .optional()
      .describe(
        `websocket only: each socket sends one message every this many ms (echo expected); default ${DEFAULT_MESSAGE_INTERVAL_MS}`,
      ),
    http: HttpLoadSpec.optional(),
    grpc: GrpcLoadSpec.optional(),
    websocket: WebSocketLoadSpec.optional(),
    rate: z
      .union([z.number({ error: RATE_ERROR }).positive({ error: RATE_ERROR }).max(100_000), z.literal("max")], {
        error: RATE_ERROR,
      })
      .optional()
      .describe(
        "Units per second over the long-lived connections (requests, streams, calls, messages), sent at fixed " +
          "intended times spread over the connections whatever the answers do (open loop; latencies from the " +
          `intended time; units that found no free connection are counted late or not sent). Default ${DEFAULT_LOAD_RATE}, ` +
          `lowered to ${DEFAULT_RATE_UTILISATION * 100} % of what the connections carry given the slow share (README); ` +
          'websocket: connections × 1000 / messageIntervalMs when that is given. "max": closed loop, each connection ' +
          "sends again as soon as it is answered (throughput studies; not websocket).",
      ),
    connections: z.number().int().min(1).max(500).default(10),
    /** Minimum load duration; the window is extended until disrupted pods are gone. */
    durationSeconds: seconds(600).default(10),
    path: z.string().startsWith("/").default("/"),
    keepAlive: z.boolean().default(true),
    /** Share of requests sent to /slow?ms=slowMs instead of path (0..1). */
    slowShare: z.number().min(0).max(1).default(0),
    slowMs: z.number().int().min(1).max(60_000).default(500),
    /** A request with no answer after this long counts as a timeout. */
    requestTimeoutSeconds: z.number().min(0.1).max(120).default(5),
    /** With rate: max only: upper bound on requests per second per connection (0 = as fast as possible). */
    ratePerConnection: z.number().int().min(0).max(100_000).default(0),
    freshConnectionIntervalMs: z
      .number()
      .int()
      .min(0)
      .max(10_000)
      .default(30)
      .describe(
        "A new short connection (one request, Connection: close) every this many ms besides the keep-alive " +
          "connections, so the last new connection routed to a terminating pod is measured on every backend; 0 = none.",
      ),
    warmUpSeconds: z
      .number()
      .min(0)
      .max(300)
      .default(20)
      .describe(
        "Before the disruption: at most this long to wait until every ready pod has answered through the Service; " +
          "the keep-alive connections open after that. 0 = no wait (connections may all land on one pod).",
      ),
  })
  .superRefine((load, ctx) => {
    for (const issue of rateIssues(load)) ctx.addIssue({ code: "custom", path: ["rate"], message: issue });
    for (const i of slowShareIssues(load)) ctx.addIssue({ code: "custom", path: i.path, message: i.message });
    for (const rule of PROTOCOL_FIELDS) {
      if (!rule.given((load as Record<string, unknown>)[rule.field]) || rule.protocols.includes(load.protocol))
        continue;
      const why = rule.value === "" ? "" : ": the other protocols' connections are long-lived and unpaced by design";
      ctx.addIssue({
        code: "custom",
        path: [rule.field],
        message: `${rule.value}only for protocol ${rule.protocols.join(" or ")} (protocol is ${load.protocol})${why}`,
      });
    }
  });

/**
 * The slow share needs a request the server makes slow: /slow?ms= (HTTP), graceful.Echo/Say's delay_ms
 * (gRPC), the sample app's {"id","delayMs"} message (WebSocket, echo or any).
 */
function slowShareIssues(load: {
  protocol: LoadProtocolName;
  slowShare: number;
  grpc?: { method: string };
  websocket?: { send?: string; expect: string };
}): Array<{ path: string[]; message: string }> {
  if (load.slowShare === 0) return [];
  const method = load.grpc?.method ?? HEALTH_CHECK_METHOD;
  if (load.protocol === "grpc" && method !== ECHO_SAY_METHOD) {
    const message =
      `needs grpc.method ${ECHO_SAY_METHOD} (its delay_ms makes a call slow); ${method} has no slow form: ` +
      `set slowShare 0${load.grpc === undefined ? ` or grpc: { method: ${ECHO_SAY_METHOD} } for the sample app` : ""}`;
    return [{ path: ["slowShare"], message }];
  }
  if (load.protocol === "websocket" && (load.websocket?.send !== undefined || load.websocket?.expect === "none")) {
    const message =
      'needs the default message ({"id":N,"delayMs":slowMs}): set slowShare 0 with websocket.send or expect none';
    return [{ path: ["slowShare"], message }];
  }
  return [];
}

/** What is wrong with load.rate given the other load fields (empty when nothing). */
function rateIssues(load: {
  rate?: number | "max";
  protocol: LoadProtocolName;
  messageIntervalMs?: number;
  ratePerConnection: number;
}): string[] {
  if (load.rate === undefined) return [];
  if (load.protocol === "websocket" && load.rate === "max")
    return ['"max" is not for protocol websocket: its sockets send on a clock (give a number, or messageIntervalMs)'];
  if (load.protocol === "websocket" && load.messageIntervalMs !== undefined)
    return ["give rate or messageIntervalMs, not both (messageIntervalMs is the per-socket form of the rate)"];
  if (load.rate !== "max" && load.ratePerConnection > 0)
    return ['ratePerConnection caps the closed-loop mode: with it, rate must be "max" (or left out)'];
  return [];
}

/**
 * The rate the load runs at, decided once: load.rate, else "max" when ratePerConnection caps the
 * closed loop (the behaviour before rates existed), websocket's messageIntervalMs per socket, or the
 * default: DEFAULT_LOAD_RATE, lowered to what the connections can carry with headroom — a connection
 * (an HTTP/2 or gRPC stream slot) takes one unit at a time, and the slow share holds it slowMs: 8
 * connections with 20 % at 300 ms carry about 125/s, so the default there is 87/s, not 200/s
 * (measured at 200/s: 795 of 1050 sent late, 516 not sent).
 */
export function loadRate(load: {
  rate?: number | "max";
  protocol: LoadProtocolName;
  connections: number;
  streamsPerConnection?: number;
  messageIntervalMs?: number;
  ratePerConnection: number;
  slowShare: number;
  slowMs: number;
}): number | "max" {
  if (load.rate !== undefined) return load.rate;
  if (load.ratePerConnection > 0) return "max";
  if (load.protocol === "websocket") {
    return (load.connections * 1000) / (load.messageIntervalMs ?? DEFAULT_MESSAGE_INTERVAL_MS);
  }
  const lanes =
    load.connections * (load.protocol === "http1" ? 1 : (load.streamsPerConnection ?? DEFAULT_STREAMS_PER_CONNECTION));
  const meanAnswerS = (load.slowShare * load.slowMs + (1 - load.slowShare) * ASSUMED_FAST_ANSWER_MS) / 1000;
  return Math.min(DEFAULT_LOAD_RATE, Math.floor((DEFAULT_RATE_UTILISATION * lanes) / meanAnswerS));
}

/** An integer or a percentage ("50%"), as a Deployment strategy or a PodDisruptionBudget takes it. */
const IntOrPercent = z.union([
  z.number().int().min(0),
  z.string().regex(/^(100|[1-9]?[0-9])%$/, 'a whole percentage from 0% to 100%, e.g. "50%"'),
]);

/** How `kubectl drain` retries an eviction the API refused with 429 (a PodDisruptionBudget holds). */
const EvictionRetry = {
  retryIntervalSeconds: seconds(60).default(5).describe("wait between evictions refused with 429 (kubectl drain: 5 s)"),
  timeoutSeconds: seconds(3600)
    .default(120)
    .describe("give up evicting (and, for drain, waiting for the pods to be gone) after this long; the run says so"),
};

/** A rollout's strategy (a Deployment's spec.strategy.rollingUpdate and friends); absent: as deployed. */
export const RolloutStrategySpec = z
  .strictObject({
    maxSurge: IntOrPercent.optional(),
    maxUnavailable: IntOrPercent.optional(),
    minReadySeconds: seconds(3600).optional(),
    progressDeadlineSeconds: z.number().int().min(1).max(3600).optional(),
  })
  .describe("the Deployment's rolling-update strategy for this rollout (default: the manifests' or the API's 25%/25%)");

export const DisruptionSpec = z.discriminatedUnion("action", [
  z.strictObject({
    action: z.literal("delete"),
    count: z.number().int().min(1).default(DEFAULT_DELETE_COUNT),
    atSeconds: seconds(600).default(3),
    /** Overrides the pod's terminationGracePeriodSeconds for this delete (like --grace-period). */
    gracePeriodSeconds: seconds(3600).optional(),
    victims: z
      .enum(["busiest", "first"])
      .default("busiest")
      .describe(
        "busiest: the pods carrying the most connections at the delete; " +
          "first: the first ready pods by name (the old behaviour, for reproductions)",
      ),
  }),
  z.strictObject({
    action: z.literal("rollout"),
    atSeconds: seconds(600).default(3),
    strategy: RolloutStrategySpec.optional(),
  }),
  z
    .strictObject({
      action: z.literal("evict"),
      count: z.number().int().min(1).default(DEFAULT_DELETE_COUNT),
      atSeconds: seconds(600).default(3),
      victims: z.enum(["busiest", "first"]).default("busiest"),
      ...EvictionRetry,
    })
    .describe("the Eviction API for `count` pods, honouring PodDisruptionBudgets; a 429 retried as kubectl drain does"),
  z
    .strictObject({
      action: z.literal("drain"),
      atSeconds: seconds(600).default(3),
      node: z
        .string()
        .min(1)
        .optional()
        .describe("the node to drain (default: the one running the busiest pod of the workload)"),
      ...EvictionRetry,
    })
    .describe(
      "cordon a node, evict every pod of the workload on it (DaemonSet pods ignored), wait until they are " +
        "gone or timeoutSeconds; the node is uncordoned at teardown, always",
    ),
  z.strictObject({
    action: z.literal("scaleDown"),
    to: z.number().int().min(0),
    atSeconds: seconds(600).default(3),
  }),
]);

export const TerminationBounds = z
  .strictObject({ minSeconds: seconds(3600).optional(), maxSeconds: seconds(3600).optional() })
  .refine((b) => b.minSeconds === undefined || b.maxSeconds === undefined || b.minSeconds <= b.maxSeconds, {
    message: "minSeconds must not exceed maxSeconds",
  });

const maxFailedRequests = z.number().int().min(0).describe("at most this many failed requests");
const minFailedRequests = z
  .number()
  .int()
  .min(1)
  .describe(
    "at least this many failed requests: for scenarios that demonstrate a failure mode, so that the " +
      "harness's own detection is checked too (a drop that goes unseen fails the run)",
  );
const sigterm = z
  .record(z.string().min(1), z.boolean())
  .describe(
    'per process role (as the app logs it, e.g. "app", "app-1", "app-2"; "*" = every process seen): ' +
      "whether it must have received SIGTERM",
  );
const exit = z
  .enum(["graceful", "killed", "abrupt"])
  .describe(
    "graceful: every process exited on its own (0/143) before the grace period ended; " +
      "killed: SIGKILLed at the end of the grace period; " +
      "abrupt: no SIGKILL, but processes died without their exit line (killed when PID 1 exited)",
  );
const terminationSeconds = TerminationBounds.describe("from the delete to the container's exit");
const minReadyEndpoints = z
  .number()
  .int()
  .min(0)
  .describe(
    "the Service never had fewer ready endpoints than this during the window (from the watch; a PDB's promise, measured)",
  );
const maxDrainSeconds = seconds(3600).describe("drain: from the cordon until every evicted pod was gone");
const maxEvictionRefusals = z
  .number()
  .int()
  .min(0)
  .describe("evict/drain: at most this many evictions refused (429: the PodDisruptionBudget held)");

/** What one named container of each disrupted pod must show (multi-container pods). */
export const ContainerExpectationSpec = z.strictObject({
  exit: exit.optional(),
  sigterm: z
    .boolean()
    .optional()
    .describe(
      "whether the container must have received its stop signal, as a record shows it (its own log line, " +
        "a send the harness made); a time only inferred from the kubelet's rule cannot decide it",
    ),
  terminationSeconds: TerminationBounds.optional().describe("from the delete to this container's exit"),
  minFailedRequests: minFailedRequests
    .optional()
    .describe(
      "at least this many failed requests attributed to this container (its listener closed behind its proxy, " +
        "or it stopped without draining: src/verdict/container-attribution.ts); unattributed ones that could " +
        "decide it leave it INCONCLUSIVE",
    ),
  maxFailedRequests: maxFailedRequests
    .optional()
    .describe("at most this many failed requests attributed to this container (0: none of the run's failures is its)"),
});
const containers = z
  .record(z.string().min(1), ContainerExpectationSpec)
  .describe(
    "per container name of the disrupted pods (e.g. an app and its proxy sidecar): its exit, stop signal and " +
      "termination. A name no container of a disrupted pod has fails the verdict (a typo, or the wrong workload); " +
      "a backend that does not name its containers makes it INCONCLUSIVE",
  );

/** The expectations one backend checks (what expectationsFor returns): no per-backend part. */
export const ResolvedExpectationsSpec = z.strictObject({
  maxFailedRequests: maxFailedRequests.optional(),
  minFailedRequests: minFailedRequests.optional(),
  sigterm: sigterm.optional(),
  exit: exit.optional(),
  terminationSeconds: terminationSeconds.optional(),
  minReadyEndpoints: minReadyEndpoints.optional(),
  maxDrainSeconds: maxDrainSeconds.optional(),
  maxEvictionRefusals: maxEvictionRefusals.optional(),
  containers: containers.optional(),
});

/** One backend's changes to the base expectations: a field replaces the base's, null removes it. */
export const ExpectationsOverrideSpec = z
  .strictObject({
    maxFailedRequests: maxFailedRequests.nullable().optional(),
    minFailedRequests: minFailedRequests.nullable().optional(),
    sigterm: sigterm.nullable().optional(),
    exit: exit.nullable().optional(),
    terminationSeconds: terminationSeconds.nullable().optional(),
    minReadyEndpoints: minReadyEndpoints.nullable().optional(),
    maxDrainSeconds: maxDrainSeconds.nullable().optional(),
    maxEvictionRefusals: maxEvictionRefusals.nullable().optional(),
    containers: containers.nullable().optional(),
  })
  .meta({
    id: "ExpectationsOverride",
    description:
      "replaces the base expectations' fields for this backend (a whole field, e.g. all of terminationSeconds); " +
      "null removes the base's expectation",
  });

export const ExpectationsSpec = ResolvedExpectationsSpec.extend({
  backends: z
    .strictObject({
      local: ExpectationsOverrideSpec.optional(),
      kind: ExpectationsOverrideSpec.optional(),
      existing: ExpectationsOverrideSpec.optional(),
      kubernetes: ExpectationsOverrideSpec.optional().describe("kind and existing (a backend's own key wins)"),
    })
    .optional()
    .describe(
      "per-backend changes to the expectations above; precedence: the backend's own key, then kubernetes " +
        "(kind and existing), then the base",
    ),
});

export const LocalBackendSpec = z.strictObject({
  /** How long after the delete the endpoint leaves the Service (kube-proxy lag). */
  endpointPropagationMs: z.number().int().min(0).max(60_000).default(1000),
  balancing: z
    .enum(["random", "round-robin"])
    .default("random")
    .describe("random: kube-proxy iptables mode (one pick per new connection); round-robin: IPVS rr"),
  endpointAddDelayMs: z
    .number()
    .int()
    .min(0)
    .max(60_000)
    .default(750)
    .describe(
      "delay before a newly ready pod joins the Service's rules; measured 0.5–1 s on kind, Kubernetes 1.20, iptables mode",
    ),
  replacementPod: z
    .boolean()
    .default(true)
    .describe("start a replacement pod at a delete, as a Deployment's ReplicaSet does"),
  nodes: z
    .number()
    .int()
    .min(1)
    .max(10)
    .default(2)
    .describe("simulated nodes the replicas are placed on (drain cordons one; replacements go to the others)"),
  kubernetesVersion: z
    .string()
    .regex(/^1\.\d{1,2}$/, 'a Kubernetes minor version such as "1.28"')
    .optional()
    .describe(
      "workload scenarios: the Kubernetes version whose kubelet the local runtime plays (native sidecars " +
        "from 1.29, the preStop sleep action from 1.30); default: current (1.33)",
    ),
});

/** A PodDisruptionBudget over the workload's pods: exactly one of minAvailable and maxUnavailable. */
export const PdbSpec = z
  .strictObject({ minAvailable: IntOrPercent.optional(), maxUnavailable: IntOrPercent.optional() })
  .refine((p) => (p.minAvailable === undefined) !== (p.maxUnavailable === undefined), {
    message: "give exactly one of minAvailable and maxUnavailable",
  })
  .describe("a PodDisruptionBudget selecting the workload's pods (replaces one in your manifests)");

/** Where the replicas run: a drain needs them on more than one node. */
export const PlacementSpec = z
  .enum(["any", "spread", "anti-affinity"])
  .describe(
    "any: the scheduler's choice; spread: topologySpreadConstraints over kubernetes.io/hostname (maxSkew 1, " +
      "ScheduleAnyway); anti-affinity: preferred podAntiAffinity on the hostname. Default: spread for " +
      "drain and evict, any otherwise",
  );

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
/** A valid value for an integer field (the checks between fields skip values their own field refuses). */
const isInt = (v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): v is number =>
  Number.isInteger(v) && (v as number) >= min && (v as number) <= max;

/** The checks between fields of one set of expectations (the base, or one backend's merged result). */
function expectationProblems(e: Record<string, unknown>): Array<{ fields: string[]; message: string }> {
  const { minFailedRequests: min, maxFailedRequests: max } = e;
  if (isInt(min, 1) && isInt(max, 0) && min > max) {
    return [
      {
        fields: ["minFailedRequests", "maxFailedRequests"],
        message: `minFailedRequests (${min}) exceeds maxFailedRequests (${max})`,
      },
    ];
  }
  return [];
}

export interface CrossFieldIssue {
  path: string[];
  message: string;
}

/** Each named container's own bounds (a backend's containers replace the base's whole: checked as written). */
function containerIssues(containers: unknown, path: string[]): CrossFieldIssue[] {
  if (!isRecord(containers)) return [];
  return Object.entries(containers).flatMap(([name, c]) =>
    isRecord(c)
      ? expectationProblems(c).map((p) => ({
          path: [...path, "containers", name, p.fields[0] ?? ""],
          message: p.message,
        }))
      : [],
  );
}

/** The expectations' checks between fields: on the base, and on every backend's merged result. */
function expectationsCrossFieldIssues(e: Record<string, unknown>): CrossFieldIssue[] {
  const issues = expectationProblems(e).map((p) => ({ path: [p.fields[0] ?? ""], message: p.message }));
  issues.push(...containerIssues(e.containers, []));
  const backends: unknown = e.backends;
  if (!isRecord(backends)) return issues;
  for (const [key, layer] of Object.entries(backends))
    if (isRecord(layer)) issues.push(...containerIssues(layer.containers, ["backends", key]));
  // A backend's merged result is blamed on the key that set one of the fields involved (kind and
  // existing wrong because of kubernetes: one issue); one that the base alone causes is reported above.
  const blamed = new Map<string, { key: string; names: string[]; message: string }>();
  for (const name of SCENARIO_BACKENDS) {
    const layers = name === "local" ? [name] : [name, "kubernetes"];
    for (const p of expectationProblems(expectationsFor(e as ScenarioExpectations, name))) {
      const key = layers.find((k) => {
        const layer = backends[k];
        return isRecord(layer) && p.fields.some((f) => layer[f] !== undefined);
      });
      if (key === undefined) continue;
      const entry = blamed.get(`${key} ${p.message}`) ?? { key, names: [], message: p.message };
      entry.names.push(name);
      blamed.set(`${key} ${p.message}`, entry);
    }
  }
  for (const { key, names, message } of blamed.values()) {
    issues.push({
      path: ["backends", key],
      message: `on ${names.join(" and ")}, merged with the base expectations: ${message}`,
    });
  }
  return issues;
}

/** The three ways to name what is tested; a scenario gives exactly one. */
const WORKLOAD_SOURCES = ["image", "workload", "target"] as const;
/** Fields of an image scenario that manifests or a running workload decide instead, and why. */
const NOT_WITH: Record<"workload" | "target", Record<string, string>> = {
  workload: {
    port: "the port comes from the manifests' Service: use workload.port",
    readinessPath: "the manifests' own readiness probes are used: remove readinessPath",
    env: "the environment comes from the manifests: set it there",
  },
  target: Object.fromEntries(
    ["port", "readinessPath", "env", "replicas", "preStop", "terminationGracePeriodSeconds", "stopSignal", "pdb"].map(
      (f) => [f, `a running workload is not changed: remove ${f}`],
    ),
  ),
};

/** Exactly one of image, workload and target; no field the chosen one decides otherwise. */
function workloadSourceIssues(data: Record<string, unknown>): CrossFieldIssue[] {
  const given = WORKLOAD_SOURCES.filter((k) => data[k] !== undefined);
  const [first, second] = given;
  if (first === undefined) {
    const message =
      "required: image (a sample or your image), workload (your manifests) or target (a running workload)";
    return [{ path: ["image"], message }];
  }
  if (second !== undefined) {
    return [{ path: [second], message: `give one of image, workload and target, not ${given.join(" and ")}` }];
  }
  if (first === "image") return [];
  return Object.entries(NOT_WITH[first])
    .filter(([field]) => data[field] !== undefined)
    .map(([field, why]) => ({ path: [field], message: `with ${first}: ${why}` }));
}

/**
 * The checks between fields of a scenario that one field's schema cannot make. Pure; works on the
 * parsed scenario and on raw (possibly invalid) data alike: what it cannot read, it skips; what is
 * missing, it takes at its default.
 */
export function scenarioCrossFieldIssues(data: unknown): CrossFieldIssue[] {
  if (!isRecord(data)) return [];
  const issues: CrossFieldIssue[] = workloadSourceIssues(data);
  // A workload scenario's replicas come from its manifests unless given: checked once they are read.
  const replicas = data.replicas === undefined && data.image !== undefined ? DEFAULT_REPLICAS : data.replicas;
  const d = data.disruption;
  if (isInt(replicas, 1, MAX_REPLICAS) && isRecord(d)) {
    const count = d.count === undefined ? DEFAULT_DELETE_COUNT : d.count;
    if (d.action === "delete" && isInt(count, 1) && count > replicas) {
      issues.push({ path: ["disruption", "count"], message: `deletes ${count} pods but replicas is ${replicas}` });
    }
    if (d.action === "scaleDown" && isInt(d.to, 0) && d.to >= replicas) {
      issues.push({
        path: ["disruption", "to"],
        message: `must be less than replicas (${replicas}): scaling to ${d.to} removes no pod`,
      });
    }
  }
  if (isRecord(d) && d.action === "rollout" && isRecord(d.strategy)) issues.push(...strategyIssues(d.strategy, data));
  if (isRecord(data.expectations)) {
    for (const i of expectationsCrossFieldIssues(data.expectations)) {
      issues.push({ path: ["expectations", ...i.path], message: i.message });
    }
  }
  return issues;
}

/**
 * graceful-e2e's own Deployment's rolling update (image scenarios, every backend): one new pod at a time,
 * never below the desired count — a rollout then disrupts only by the termination sequence under test,
 * not by missing capacity. A rollout's strategy overrides it field by field.
 */
export const IMAGE_ROLLING_UPDATE = { maxSurge: 1, maxUnavailable: 0 } as const;

const isZero = (v: unknown) => v === 0 || v === "0%";

/**
 * maxSurge and maxUnavailable both 0 (the API refuses it: no pod could ever be replaced). An image
 * scenario's Deployment has IMAGE_ROLLING_UPDATE for what the strategy leaves out.
 */
function strategyIssues(strategy: Record<string, unknown>, data: Record<string, unknown>): CrossFieldIssue[] {
  const image = data.image !== undefined;
  const surge = strategy.maxSurge ?? (image ? IMAGE_ROLLING_UPDATE.maxSurge : undefined);
  const unavailable = strategy.maxUnavailable ?? (image ? IMAGE_ROLLING_UPDATE.maxUnavailable : undefined);
  if (!isZero(surge) || !isZero(unavailable)) return [];
  const given = strategy.maxUnavailable === undefined ? " (graceful-e2e's Deployment has maxUnavailable 0)" : "";
  return [
    {
      path: ["disruption", "strategy"],
      message: `maxSurge and maxUnavailable may not both be 0: no pod could ever be replaced${given}`,
    },
  ];
}

/** Defaults of the fields a workload scenario takes as overrides (or refuses): image scenarios only. */
const IMAGE_DEFAULTS = {
  port: 8080,
  readinessPath: "/healthz",
  replicas: DEFAULT_REPLICAS,
  env: {} as Record<string, string>,
  preStop: { type: "none" } as PreStop,
  terminationGracePeriodSeconds: 30,
};
const forImage = (d: unknown) => `(default ${JSON.stringify(d)}; with workload: an override only when given)`;

export const ScenarioSpec = z
  .strictObject({
    name: z
      .string()
      .regex(/^[a-z0-9]([a-z0-9-]{0,50}[a-z0-9])?$/, "lower-case letters, digits and '-', at most 52 characters"),
    description: z.string().optional(),
    image: ImageSpec.optional().describe(
      "the image to deploy as graceful-e2e's own Deployment (or workload, or target)",
    ),
    workload: WorkloadSpec.optional(),
    target: TargetSpec.optional(),
    port: z
      .number()
      .int()
      .min(1)
      .max(65535)
      .optional()
      .describe(`image only: the container port ${forImage(IMAGE_DEFAULTS.port)}`),
    /** Readiness probe path (HTTP GET on port; 2xx/3xx = ready). */
    readinessPath: z.string().startsWith("/").optional().describe('image only (default "/healthz")'),
    replicas: z.number().int().min(1).max(MAX_REPLICAS).optional().describe(forImage(DEFAULT_REPLICAS)),
    env: z
      .record(
        z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/),
        z.union([z.string(), z.number(), z.boolean()]).transform(String),
      )
      .optional()
      .describe("image only: environment of the app container"),
    preStop: PreStopSpec.optional().describe(forImage(IMAGE_DEFAULTS.preStop)),
    terminationGracePeriodSeconds: seconds(3600).optional().describe(forImage(30)),
    stopSignal: StopSignalSpec.optional(),
    load: LoadSpec.prefault({}),
    disruption: DisruptionSpec.prefault({ action: "delete" }),
    pdb: PdbSpec.optional(),
    placement: PlacementSpec.optional(),
    expectations: ExpectationsSpec.default({}),
    local: LocalBackendSpec.prefault({}),
    tags: z.array(z.string()).default([]),
  })
  .superRefine(
    (s, ctx) => {
      for (const i of scenarioCrossFieldIssues(s)) ctx.addIssue({ code: "custom", path: i.path, message: i.message });
    },
    // Also when other fields failed (the value may then be partly invalid; the checks skip what they
    // cannot read). Zod still skips it after an aborting issue: loaders run scenarioCrossFieldIssues
    // on the raw data then.
    { when: () => true },
  )
  .transform((s) => {
    const { preStop, terminationGracePeriodSeconds, replicas, stopSignal } = s;
    return {
      ...s,
      // The image scenario's values, defaults filled (a workload scenario's come from its manifests).
      port: s.port ?? IMAGE_DEFAULTS.port,
      readinessPath: s.readinessPath ?? IMAGE_DEFAULTS.readinessPath,
      env: s.env ?? IMAGE_DEFAULTS.env,
      preStop: preStop ?? IMAGE_DEFAULTS.preStop,
      terminationGracePeriodSeconds: terminationGracePeriodSeconds ?? IMAGE_DEFAULTS.terminationGracePeriodSeconds,
      replicas: replicas ?? IMAGE_DEFAULTS.replicas,
      /** Exactly the pod fields the scenario file sets: what a workload scenario changes in its manifests. */
      overrides: definedOnly({ preStop, terminationGracePeriodSeconds, replicas, stopSignal }) as PodOverrides,
    };
  });

function definedOnly<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The scenario fields that override a workload's pod template (each only when the scenario sets it). */
export interface PodOverrides {
  preStop?: PreStop;
  terminationGracePeriodSeconds?: number;
  replicas?: number;
  stopSignal?: string;
}

export type Scenario = z.output<typeof ScenarioSpec>;
export type ScenarioInput = z.input<typeof ScenarioSpec>;
export type PreStop = z.output<typeof PreStopSpec>;
export type LoadOptions = z.output<typeof LoadSpec>;
export type HttpLoadOptions = z.output<typeof HttpLoadSpec>;
export type GrpcLoadOptions = z.output<typeof GrpcLoadSpec>;
export type WebSocketLoadOptions = z.output<typeof WebSocketLoadSpec>;
export type Disruption = z.output<typeof DisruptionSpec>;
export type RolloutStrategy = z.output<typeof RolloutStrategySpec>;
export type Pdb = z.output<typeof PdbSpec>;
export type Placement = z.output<typeof PlacementSpec>;
/** An integer or a percentage string ("50%"). */
export type IntOrPercentValue = number | string;
/** What one backend checks: the base expectations merged with its per-backend part (expectationsFor). */
export type Expectations = z.output<typeof ResolvedExpectationsSpec>;
/** The expectations as written, with their per-backend part. */
export type ScenarioExpectations = z.output<typeof ExpectationsSpec>;
export type ExpectationsOverride = z.output<typeof ExpectationsOverrideSpec>;
export type ContainerExpectation = z.output<typeof ContainerExpectationSpec>;
export type ImageRef = z.output<typeof ImageSpec>;
export type WorkloadRef = z.output<typeof WorkloadSpec>;
export type Target = z.output<typeof TargetSpec>;

/** JSON Schema for editors (yaml-language-server: $schema=...). */
export function scenarioJsonSchema(): unknown {
  return z.toJSONSchema(ScenarioSpec, { io: "input", target: "draft-7" });
}
