// load.grpc read and checked when the scenario is loaded: the proto relative to the scenario file,
// one clear line naming load.grpc.<field> for each way it can be wrong, and the request encoded as
// the method's message says.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import { grpcDescriptor, HEALTH_CHECK_METHOD, resolveGrpcMethod } from "../../src/scenario/grpc-method.js";
import { parseScenario, ScenarioValidationError } from "../../src/scenario/load.js";

const dir = mkdtempSync(join(tmpdir(), "ge-scenario-grpc-"));
writeFileSync(
  join(dir, "cart.proto"),
  [
    'syntax = "proto3";',
    "package shop.v1;",
    'import "google/protobuf/timestamp.proto";',
    "message Item { string sku = 1; int64 count = 2; Kind kind = 3; repeated Tag tags = 4; map<string, int32> stock = 5;",
    "  google.protobuf.Timestamp at = 6; }",
    "message Tag { string name = 1; }",
    "enum Kind { KIND_UNSPECIFIED = 0; BOOK = 1; }",
    "message Ack { bool ok = 1; }",
    "service Cart { rpc Add(Item) returns (Ack); rpc Watch(Item) returns (stream Ack); }",
  ].join("\n"),
);
writeFileSync(join(dir, "broken.proto"), 'syntax = "proto3"; message {');

function issue(grpc: string): string {
  try {
    parseScenario(
      join(dir, "s.yaml"),
      `name: s\nimage: { style: exec-form }\nload: { protocol: grpc, grpc: ${grpc} }\n`,
    );
  } catch (err) {
    if (err instanceof ScenarioValidationError) return err.message;
    throw err;
  }
  return "";
}

describe("load.grpc when the scenario is loaded", () => {
  it("resolves proto against the scenario's folder; a valid request passes", () => {
    const { scenario } = parseScenario(
      join(dir, "s.yaml"),
      "name: s\nimage: { style: exec-form }\nload: { protocol: grpc, grpc: { proto: cart.proto, method: shop.v1.Cart/Add, " +
        'request: { sku: b, count: "12", kind: BOOK, tags: [{ name: x }], stock: { a: 1 }, at: { seconds: 1 } } } }\n',
    );
    expect(scenario.load.grpc).toMatchObject({ proto: join(dir, "cart.proto"), notServing: "answer" });
  });

  it("names the field and the problem", () => {
    const f = join(dir, "s.yaml");
    expect(issue("{ proto: none.proto, method: shop.v1.Cart/Add }")).toBe(
      `${f}: load.grpc.proto: no such file: ${join(dir, "none.proto")}`,
    );
    expect(issue("{ proto: broken.proto, method: shop.v1.Cart/Add }")).toMatch(
      /: load\.grpc\.proto: .*broken\.proto is not a valid \.proto file: /,
    );
    expect(issue("{ proto: cart.proto, method: shop.v1.Cart/Remove }")).toMatch(
      /load\.grpc\.method: shop\.v1\.Cart has no method Remove in .*cart\.proto \(methods: Add, Watch\)$/,
    );
    expect(issue("{ proto: cart.proto, method: shop.v2.Cart/Add }")).toMatch(
      /load\.grpc\.method: service shop\.v2\.Cart is not in .*\(services: shop\.v1\.Cart\)$/,
    );
    expect(issue("{ proto: cart.proto, method: shop.v1.Cart/Watch }")).toMatch(/a streaming method/);
    expect(issue("{ method: shop.v1.Cart/Add }")).toMatch(/load\.grpc\.method: shop\.v1\.Cart\/Add needs its \.proto/);
    expect(issue('{ method: "Cart.Add" }')).toMatch(/load\.grpc\.method: package\.Service\/Method/);
    const request = (r: string) => issue(`{ proto: cart.proto, method: shop.v1.Cart/Add, request: ${r} }`);
    expect(request("{ sku: 3 }")).toMatch(
      /load\.grpc\.request: does not fit shop\.v1\.Item: sku: expected string, got 3$/,
    );
    expect(request("{ skus: a }")).toMatch(/skus: no such field \(fields: sku, count, kind, tags, stock, at\)$/);
    expect(request("{ kind: CD }")).toMatch(/kind: expected one of KIND_UNSPECIFIED, BOOK, got "CD"$/);
    expect(request("{ count: 1.5 }")).toMatch(/count: expected int64, got 1\.5$/);
    expect(request("{ tags: [{ nam: x }] }")).toMatch(/tags\[0\]\.nam: no such field/);
    expect(request("{ tags: x }")).toMatch(/tags: expected a list$/);
    expect(issue("{ method: graceful.Echo/Say, request: { message: a } }")).toMatch(
      /load\.grpc\.request: graceful\.Echo\/Say's request is made by the load/,
    );
  });

  it("Health/Check's request: service, default \"\"; the answer's status read", () => {
    const m = resolveGrpcMethod({ method: HEALTH_CHECK_METHOD });
    expect(m.path).toBe("/grpc.health.v1.Health/Check");
    expect(Buffer.from(m.request(1, 0))).toEqual(Buffer.alloc(0));
    const named = resolveGrpcMethod({ method: HEALTH_CHECK_METHOD, request: { service: "shop" } });
    expect(Buffer.from(named.request(1, 0))).toEqual(Buffer.from([0x0a, 4, ...Buffer.from("shop")]));
    expect(m.healthStatus(Uint8Array.from([0x08, 2]))).toBe("NOT_SERVING");
    expect(m.healthStatus(Uint8Array.from([]))).toBe("UNKNOWN");
  });

  it("the compiled descriptor stands in for the file (the in-cluster Job)", () => {
    const descriptor = grpcDescriptor(join(dir, "cart.proto"));
    const m = resolveGrpcMethod(
      { proto: "/elsewhere/cart.proto", method: "shop.v1.Cart/Add", request: { sku: "b" } },
      descriptor,
    );
    const Item = protobuf.Root.fromJSON(descriptor).lookupType("shop.v1.Item");
    expect(Item.toObject(Item.decode(m.request(7, 0)))).toEqual({ sku: "b" });
  });
});
