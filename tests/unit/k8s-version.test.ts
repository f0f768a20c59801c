// What the kind / existing backends decide from the server's version and its /apis list.
import { describe, expect, it } from "vitest";
import { buildManifests } from "../../src/k8s/manifests.js";
import {
  type ApiGroupListLike,
  capabilities,
  endpointApiFromGroups,
  endpointApiFromVersion,
  parseServerVersion,
} from "../../src/k8s/version.js";
import { watchPaths } from "../../src/k8s/watch.js";
import { ScenarioSpec } from "../../src/scenario/schema.js";

const v = (gitVersion: string) => parseServerVersion({ gitVersion });

/** /apis as the servers list the discovery group. */
const groups = (...versions: string[]): ApiGroupListLike => ({
  groups: [
    { name: "apps", versions: [{ groupVersion: "apps/v1", version: "v1" }] },
    ...(versions.length > 0
      ? [
          {
            name: "discovery.k8s.io",
            versions: versions.map((version) => ({ groupVersion: `discovery.k8s.io/${version}`, version })),
          },
        ]
      : []),
  ],
});

describe("parseServerVersion", () => {
  it("reads gitVersion, also with vendor suffixes", () => {
    expect(v("v1.20.2")).toEqual({ major: 1, minor: 20, gitVersion: "v1.20.2" });
    expect(v("v1.29.1-gke.1589018")).toMatchObject({ major: 1, minor: 29 });
  });
  it("falls back to major/minor and drops '+'", () => {
    expect(parseServerVersion({ major: "1", minor: "27+" })).toMatchObject({
      major: 1,
      minor: 27,
      gitVersion: "v1.27",
    });
    expect(() => parseServerVersion({})).toThrow(/cannot parse/);
  });
});

// version → [endpoint API by version rules, what /apis lists, conditions, preStop sleep]
const table: Array<[string, string, string[], string, boolean]> = [
  ["v1.20.2", "discovery.k8s.io/v1beta1", ["v1beta1"], "feature-gated", false],
  ["v1.21.14", "discovery.k8s.io/v1", ["v1", "v1beta1"], "feature-gated", false],
  ["v1.25.16", "discovery.k8s.io/v1", ["v1"], "serving-terminating", false],
  ["v1.29.14", "discovery.k8s.io/v1", ["v1"], "serving-terminating", false],
  ["v1.30.13", "discovery.k8s.io/v1", ["v1"], "serving-terminating", true],
  ["v1.33.1", "discovery.k8s.io/v1", ["v1"], "serving-terminating", true],
];

describe("capabilities per version", () => {
  for (const [git, byVersion, served, conditions, sleep] of table) {
    it(`${git}: endpoints from ${byVersion}, conditions ${conditions}, preStop sleep ${sleep}`, () => {
      const version = v(git);
      expect(endpointApiFromVersion(version)).toBe(byVersion);
      const discovered = capabilities(version, groups(...served));
      expect(discovered.endpointApi).toBe(byVersion);
      expect(discovered.endpointApiSource).toBe("discovery");
      expect(discovered.endpointConditions).toBe(conditions);
      expect(discovered.preStopSleep).toBe(sleep);
      const fromRules = capabilities(version);
      expect(fromRules.endpointApi).toBe(byVersion);
      expect(fromRules.endpointApiSource).toBe("version-rules");
    });
  }

  it("1.29: the sleep action is alpha, so a preStop sleep falls back to exec with a note", () => {
    const caps = capabilities(v("v1.29.14"));
    expect(caps.notes.join(" ")).toMatch(/alpha \(gate PodLifecycleSleepAction off by default\)/);
    const s = ScenarioSpec.parse({ name: "s", image: { style: "exec-form" }, preStop: { type: "sleep", seconds: 3 } });
    const m = buildManifests({ scenario: s, image: "x:1", runId: "r1", preStopSleep: caps.preStopSleep });
    expect(m.deployment.spec?.template.spec?.containers[0]?.lifecycle?.preStop).toEqual({
      exec: { command: ["sleep", "3"] },
    });
    expect(m.notes.join(" ")).toMatch(/runs as exec/);
  });

  it("1.30 and 1.33: the built-in sleep action; sleep 0 only from 1.33", () => {
    for (const git of ["v1.30.13", "v1.33.1"]) {
      const caps = capabilities(v(git));
      const s = ScenarioSpec.parse({
        name: "s",
        image: { style: "exec-form" },
        preStop: { type: "sleep", seconds: 3 },
      });
      const m = buildManifests({ scenario: s, image: "x:1", runId: "r1", ...caps });
      expect(m.deployment.spec?.template.spec?.containers[0]?.lifecycle?.preStop).toEqual({ sleep: { seconds: 3 } });
      expect(m.notes).toEqual([]);
    }
    expect(capabilities(v("v1.30.13")).preStopSleepZero).toBe(false);
    expect(capabilities(v("v1.33.1")).preStopSleepZero).toBe(true);
  });

  it("1.20: notes say endpoints just disappear (no terminating condition by default)", () => {
    expect(capabilities(v("v1.20.2")).notes.join(" ")).toMatch(/simply disappears/);
  });

  it("discovery wins over the version table; no discovery group means core Endpoints", () => {
    // A 1.22 server with the group disabled (or filtered by RBAC) would still answer /apis.
    expect(endpointApiFromGroups(groups())).toBe("v1/endpoints");
    expect(capabilities(v("v1.16.15")).endpointApi).toBe("v1/endpoints");
    expect(endpointApiFromGroups(groups("v1beta1"))).toBe("discovery.k8s.io/v1beta1");
  });

  it("the watch paths follow the chosen API", () => {
    expect(watchPaths("ns1", "discovery.k8s.io/v1").map((w) => w.path)).toEqual([
      "/api/v1/namespaces/ns1/pods",
      "/apis/discovery.k8s.io/v1/namespaces/ns1/endpointslices",
      "/api/v1/namespaces/ns1/events",
    ]);
    expect(watchPaths("ns1", "discovery.k8s.io/v1beta1")[1]?.path).toBe(
      "/apis/discovery.k8s.io/v1beta1/namespaces/ns1/endpointslices",
    );
    expect(watchPaths("ns1", "v1/endpoints")[1]).toEqual({
      resource: "endpoints",
      path: "/api/v1/namespaces/ns1/endpoints",
    });
  });
});
