// The embedded protos (scenario/grpc-protos.ts) as proto-loader package definitions, for gRPC servers
// written with @grpc/grpc-js: the sample app (its vendor bundle) and the tests' servers.
import * as protoLoader from "@grpc/proto-loader";
import protobuf from "protobufjs";
import { GRACEFUL_PROTO, HEALTH_PROTO } from "../scenario/grpc-protos.js";

/** graceful.Echo/Say's full path on the wire. */
export const ECHO_SAY_PATH = "/graceful.Echo/Say";

export interface SayRequest {
  message: string;
  delay_ms: number;
}

export interface SayReply {
  message: string;
  served_by: string;
}

function packageDefinition(proto: string): protoLoader.PackageDefinition {
  const json = protobuf.parse(proto, { keepCase: true }).root.toJSON();
  return protoLoader.fromJSON(json, { keepCase: true, longs: String, enums: String, defaults: true });
}

/** graceful.Echo as a proto-loader package definition (field names as in the .proto). */
export function echoPackageDefinition(): protoLoader.PackageDefinition {
  return packageDefinition(GRACEFUL_PROTO);
}

/** grpc.health.v1.Health as a proto-loader package definition (enums as their names). */
export function healthPackageDefinition(): protoLoader.PackageDefinition {
  return packageDefinition(HEALTH_PROTO);
}
