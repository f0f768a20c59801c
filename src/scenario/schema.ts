// The scenario file format: image × preStop × grace period × load × disruption × expectations.
// One zod schema is the single source of truth: it validates YAML, gives the TypeScript types
// and exports the JSON Schema editors use (fixtures/scenario.schema.json).
import { z } from "zod";

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
] as const;
export type ImageStyle = (typeof IMAGE_STYLES)[number];

const seconds = (max: number) => z.number().min(0).max(max);

export const ImageSpec = z.union([
  z.strictObject({ style: z.enum(IMAGE_STYLES).describe("an entrypoint style under images/") }),
  z.strictObject({
    ref: z
      .string()
      .min(1)
      .refine((r) => !r.endsWith(":latest"), "use a fixed tag, not :latest")
      .describe("any image reference (must exist locally for the local backend)"),
  }),
]);

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

export const LoadSpec = z.strictObject({
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
  /** Upper bound on requests per second per connection (0 = as fast as possible). */
  ratePerConnection: z.number().int().min(0).max(100_000).default(0),
});

export const DisruptionSpec = z.discriminatedUnion("action", [
  z.strictObject({
    action: z.literal("delete"),
    count: z.number().int().min(1).default(1),
    atSeconds: seconds(600).default(3),
    /** Overrides the pod's terminationGracePeriodSeconds for this delete (like --grace-period). */
    gracePeriodSeconds: seconds(3600).optional(),
  }),
  z.strictObject({ action: z.literal("rollout"), atSeconds: seconds(600).default(3) }),
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

export const ExpectationsSpec = z.strictObject({
  maxFailedRequests: z.number().int().min(0).optional(),
  /**
   * At least this many failed requests: for scenarios that demonstrate a failure mode, so that
   * the harness's own detection is checked too (a drop that goes unseen fails the run).
   */
  minFailedRequests: z.number().int().min(1).optional(),
  /**
   * Per process role (as the app logs it, e.g. "app", "app-1", "app-2"; "*" = every process seen):
   * whether it must have received SIGTERM.
   */
  sigterm: z.record(z.string().min(1), z.boolean()).optional(),
  /**
   * graceful: every process exited on its own (0/143) before the grace period ended;
   * killed: SIGKILLed at the end of the grace period;
   * abrupt: no SIGKILL, but processes died without their exit line (killed when PID 1 exited).
   */
  exit: z.enum(["graceful", "killed", "abrupt"]).optional(),
  /** From the delete to the container's exit. */
  terminationSeconds: TerminationBounds.optional(),
});

export const LocalBackendSpec = z.strictObject({
  /** How long after the delete the endpoint leaves the Service (kube-proxy lag). */
  endpointPropagationMs: z.number().int().min(0).max(60_000).default(1000),
});

export const ScenarioSpec = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z0-9]([a-z0-9-]{0,50}[a-z0-9])?$/, "lower-case letters, digits and '-', at most 52 characters"),
  description: z.string().optional(),
  image: ImageSpec,
  port: z.number().int().min(1).max(65535).default(8080),
  /** Readiness probe path (HTTP GET on port; 2xx/3xx = ready). */
  readinessPath: z.string().startsWith("/").default("/healthz"),
  replicas: z.number().int().min(1).max(20).default(2),
  env: z
    .record(
      z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/),
      z.union([z.string(), z.number(), z.boolean()]).transform(String),
    )
    .default({}),
  preStop: PreStopSpec.default({ type: "none" }),
  terminationGracePeriodSeconds: seconds(3600).default(30),
  load: LoadSpec.prefault({}),
  disruption: DisruptionSpec.prefault({ action: "delete" }),
  expectations: ExpectationsSpec.default({}),
  local: LocalBackendSpec.prefault({}),
  tags: z.array(z.string()).default([]),
});

export type Scenario = z.output<typeof ScenarioSpec>;
export type ScenarioInput = z.input<typeof ScenarioSpec>;
export type PreStop = z.output<typeof PreStopSpec>;
export type LoadOptions = z.output<typeof LoadSpec>;
export type Disruption = z.output<typeof DisruptionSpec>;
export type Expectations = z.output<typeof ExpectationsSpec>;
export type ImageRef = z.output<typeof ImageSpec>;

/** JSON Schema for editors (yaml-language-server: $schema=...). */
export function scenarioJsonSchema(): unknown {
  return z.toJSONSchema(ScenarioSpec, { io: "input", target: "draft-7" });
}
