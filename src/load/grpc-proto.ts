// The gRPC service the grpc load calls and the sample app serves: fixtures/proto/graceful.proto,
// embedded here (a unit test keeps the two identical) so that bundles — the in-cluster load
// generator, the sample app's vendor bundle — need no file next to them.
import * as protoLoader from "@grpc/proto-loader";
import protobuf from "protobufjs";

export const GRACEFUL_PROTO = `// The sample app's gRPC service (images/app/server.js with APP_PROTOCOL=grpc), and what graceful-e2e's
// grpc load calls (scenario load.protocol: grpc). To check your own gRPC server, implement this one
// method next to your services, or point the load at a copy of the sample app.
syntax = "proto3";

package graceful;

service Echo {
  // Answers with the request's message; after delay_ms when it is set (the load's slow share).
  // The answer's initial metadata names the answering process: x-served-by: <pod>/<role>.
  rpc Say (SayRequest) returns (SayReply);
}

message SayRequest {
  string message = 1;
  uint32 delay_ms = 2;
}

message SayReply {
  string message = 1;
  string served_by = 2;
}
`;

/** The method's full path on the wire. */
export const ECHO_SAY_PATH = "/graceful.Echo/Say";

export interface SayRequest {
  message: string;
  delay_ms: number;
}

export interface SayReply {
  message: string;
  served_by: string;
}

/** graceful.Echo as a proto-loader package definition (field names as in the .proto). */
export function echoPackageDefinition(): protoLoader.PackageDefinition {
  const json = protobuf.parse(GRACEFUL_PROTO, { keepCase: true }).root.toJSON();
  return protoLoader.fromJSON(json, { keepCase: true, longs: String, enums: String, defaults: true });
}
