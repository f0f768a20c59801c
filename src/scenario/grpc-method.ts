// Which unary method the grpc load calls (scenario load.grpc), decided once: the standard health
// check grpc.health.v1.Health/Check (the default), the sample app's graceful.Echo/Say, or any unary
// method of the user's .proto with a JSON request. Read and checked when the scenario is loaded (a
// clear error naming the field), compiled to a protobufjs descriptor (JSON) that travels with the
// load options to the in-cluster load Job, which has no file system of the user's.
import { existsSync } from "node:fs";
import protobuf from "protobufjs";
import { GRACEFUL_PROTO, HEALTH_PROTO } from "./grpc-protos.js";

export const HEALTH_CHECK_METHOD = "grpc.health.v1.Health/Check";
export const ECHO_SAY_METHOD = "graceful.Echo/Say";
/** "package.Service/Method" as written in load.grpc.method. */
export const GRPC_METHOD_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\/[A-Za-z_][A-Za-z0-9_]*$/;

/** grpc.health.v1.HealthCheckResponse.ServingStatus by number. */
export const HEALTH_STATUS_NAMES = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"] as const;
export type HealthStatusName = (typeof HEALTH_STATUS_NAMES)[number];

/** What is wrong with load.grpc, and which field of it. */
export class GrpcSpecError extends Error {
  override name = "GrpcSpecError";
  constructor(
    readonly field: "proto" | "method" | "request",
    message: string,
  ) {
    super(message);
  }
}

/** The method the load calls, ready to encode requests and read answers. */
export interface GrpcMethod {
  /** "package.Service/Method". */
  name: string;
  /** "/package.Service/Method": the path on the wire. */
  path: string;
  /** health: Check's answers carry a serving status; echo: the slow share works (delay_ms). */
  kind: "health" | "echo" | "custom";
  /** The request of one call: echo's message names the unit, delay_ms makes it slow; the others are fixed. */
  request(id: number, delayMs: number): Uint8Array;
  /** health only: the serving status of an answer. */
  healthStatus(reply: Uint8Array): HealthStatusName;
}

/** load.grpc as the schema gives it (proto already resolved against the scenario file's folder). */
export interface GrpcCallSpec {
  method: string;
  proto?: string;
  request?: Record<string, unknown>;
}

const BUILT_IN: Record<string, string> = { [HEALTH_CHECK_METHOD]: HEALTH_PROTO, [ECHO_SAY_METHOD]: GRACEFUL_PROTO };

/**
 * The user's .proto (and what it imports, relative to its folder; google/protobuf/* are known)
 * compiled to a protobufjs descriptor. Throws GrpcSpecError("proto") naming the file's problem.
 */
export function grpcDescriptor(protoPath: string): protobuf.INamespace {
  if (!existsSync(protoPath)) throw new GrpcSpecError("proto", `no such file: ${protoPath}`);
  try {
    const root = new protobuf.Root().loadSync(protoPath, { keepCase: true });
    root.resolveAll();
    return root.toJSON();
  } catch (err) {
    throw new GrpcSpecError("proto", `${protoPath} is not a valid .proto file: ${(err as Error).message}`);
  }
}

function builtInRoot(method: string): protobuf.Root | undefined {
  const text = BUILT_IN[method];
  return text === undefined ? undefined : protobuf.parse(text, { keepCase: true }).root;
}

function lookupMethod(root: protobuf.Root, name: string, where: string): protobuf.Method {
  const [service = "", method = ""] = name.split("/");
  const svc = root.lookup(service);
  if (!(svc instanceof protobuf.Service)) {
    const known = servicesOf(root);
    throw new GrpcSpecError(
      "method",
      `service ${service} is not in ${where}${known.length > 0 ? ` (services: ${known.join(", ")})` : ""}`,
    );
  }
  const m = svc.methods[method];
  if (!m) {
    throw new GrpcSpecError(
      "method",
      `${service} has no method ${method} in ${where} (methods: ${Object.keys(svc.methods).join(", ")})`,
    );
  }
  if (m.requestStream || m.responseStream) {
    throw new GrpcSpecError("method", `${name} is a streaming method: the load makes unary calls`);
  }
  m.resolve();
  return m;
}

function servicesOf(ns: protobuf.NamespaceBase): string[] {
  return ns.nestedArray.flatMap((n) =>
    n instanceof protobuf.Service
      ? [n.fullName.replace(/^\./, "")]
      : n instanceof protobuf.Namespace
        ? servicesOf(n)
        : [],
  );
}

/**
 * The method load.grpc names, checked: it exists, is unary, and the JSON request fits its message.
 * `descriptor`: the user's proto compiled (grpcDescriptor), required when spec.proto is given.
 */
export function resolveGrpcMethod(spec: GrpcCallSpec, descriptor?: protobuf.INamespace): GrpcMethod {
  const { method: name } = spec;
  let root: protobuf.Root | undefined;
  if (spec.proto !== undefined) {
    if (!descriptor) throw new GrpcSpecError("proto", `${spec.proto} was not read`);
    root = protobuf.Root.fromJSON(descriptor);
  } else root = builtInRoot(name);
  if (!root) {
    throw new GrpcSpecError(
      "method",
      `${name} needs its .proto (load.grpc.proto); without one the load knows ${Object.keys(BUILT_IN).join(" and ")}`,
    );
  }
  const m = lookupMethod(root, name, spec.proto ?? "the built-in protos");
  const reqType = m.resolvedRequestType as protobuf.Type;
  const resType = m.resolvedResponseType as protobuf.Type;
  const kind = name === HEALTH_CHECK_METHOD ? "health" : name === ECHO_SAY_METHOD ? "echo" : "custom";
  if (kind === "echo" && spec.request !== undefined) {
    throw new GrpcSpecError(
      "request",
      `${ECHO_SAY_METHOD}'s request is made by the load (message, delay_ms): remove it`,
    );
  }
  const problem = requestProblem(reqType, spec.request ?? {}, "");
  if (problem) throw new GrpcSpecError("request", `does not fit ${reqType.fullName.replace(/^\./, "")}: ${problem}`);
  const fixed = reqType.encode(reqType.fromObject(spec.request ?? {})).finish();
  return {
    name,
    path: `/${name}`,
    kind,
    request: (id, delayMs) =>
      kind === "echo" ? reqType.encode(reqType.fromObject({ message: `#${id}`, delay_ms: delayMs })).finish() : fixed,
    healthStatus: (reply) => {
      const status = (resType.decode(reply) as unknown as { status?: number }).status ?? 0;
      return HEALTH_STATUS_NAMES[status] ?? "UNKNOWN";
    },
  };
}

const INTEGER_TYPES = new Set(["int32", "uint32", "sint32", "fixed32", "sfixed32"]);
const LONG_TYPES = new Set(["int64", "uint64", "sint64", "fixed64", "sfixed64"]);

/** Why `value` is not a JSON `type` (proto3 JSON mapping), or undefined; `at` names the field. */
function valueProblem(field: protobuf.Field, value: unknown, at: string): string | undefined {
  const t = field.resolvedType;
  if (t instanceof protobuf.Type) {
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? requestProblem(t, value as Record<string, unknown>, `${at}.`)
      : `${at}: expected an object (${t.name})`;
  }
  if (t instanceof protobuf.Enum) {
    if (typeof value === "string" && value in t.values) return undefined;
    if (Number.isInteger(value)) return undefined;
    return `${at}: expected one of ${Object.keys(t.values).join(", ")}, got ${JSON.stringify(value)}`;
  }
  const ok =
    field.type === "string" || field.type === "bytes"
      ? typeof value === "string"
      : field.type === "bool"
        ? typeof value === "boolean"
        : field.type === "double" || field.type === "float"
          ? typeof value === "number"
          : INTEGER_TYPES.has(field.type)
            ? Number.isInteger(value)
            : LONG_TYPES.has(field.type)
              ? Number.isInteger(value) || (typeof value === "string" && /^-?\d+$/.test(value))
              : false;
  return ok ? undefined : `${at}: expected ${field.type}, got ${JSON.stringify(value)}`;
}

/** Why `obj` is not a JSON form of message `type` (unknown fields included), or undefined. */
export function requestProblem(type: protobuf.Type, obj: Record<string, unknown>, prefix: string): string | undefined {
  for (const [key, value] of Object.entries(obj)) {
    const field = type.fields[key] ?? type.fieldsArray.find((f) => protobuf.util.camelCase(f.name) === key);
    const at = `${prefix}${key}`;
    if (!field) {
      const known = type.fieldsArray.map((f) => f.name);
      return `${at}: no such field (fields: ${known.length > 0 ? known.join(", ") : "none"})`;
    }
    field.resolve();
    if (value === null) continue;
    if (field.repeated) {
      if (!Array.isArray(value)) return `${at}: expected a list`;
      for (const [i, v] of value.entries()) {
        const p = valueProblem(field, v, `${at}[${i}]`);
        if (p) return p;
      }
    } else if (field.map) {
      if (typeof value !== "object" || Array.isArray(value)) return `${at}: expected a map (object)`;
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        const p = valueProblem(field, v, `${at}.${k}`);
        if (p) return p;
      }
    } else {
      const p = valueProblem(field, value, at);
      if (p) return p;
    }
  }
  return undefined;
}
