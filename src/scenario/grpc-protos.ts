// The two .proto files graceful-e2e knows without being given one, embedded (unit tests keep them
// identical to fixtures/proto/) so that bundles — the in-cluster load generator, the sample app's
// vendor bundle — need no file next to them:
// - graceful.proto: the sample app's graceful.Echo/Say (its delay_ms makes the load's slow share);
// - health.proto: the standard gRPC health service (github.com/grpc/grpc-proto, grpc/health/v1),
//   which production servers and Kubernetes' gRPC probes use: the grpc load's default method.

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

export const HEALTH_PROTO = `// The standard gRPC health checking protocol (grpc/health/v1/health.proto of github.com/grpc/grpc-proto,
// Check and Watch): what graceful-e2e's grpc load calls by default (Check, service "").
syntax = "proto3";

package grpc.health.v1;

message HealthCheckRequest {
  string service = 1;
}

message HealthCheckResponse {
  enum ServingStatus {
    UNKNOWN = 0;
    SERVING = 1;
    NOT_SERVING = 2;
    SERVICE_UNKNOWN = 3;  // Used only by the Watch method.
  }
  ServingStatus status = 1;
}

service Health {
  rpc Check(HealthCheckRequest) returns (HealthCheckResponse);
  rpc Watch(HealthCheckRequest) returns (stream HealthCheckResponse);
}
`;
