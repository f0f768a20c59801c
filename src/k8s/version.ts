// What the API server can do, decided from its version (/version) and, better, from what it serves
// (/apis). Pure functions: the calls that fetch /version and /apis live in cluster-run.ts.

/** Which policy group version a PodDisruptionBudget and an Eviction are written in. */
export type PolicyVersion = "policy/v1" | "policy/v1beta1";

export interface PolicyVersions {
  pdb: PolicyVersion;
  eviction: PolicyVersion;
}

/** Parsed /version. minor may carry a suffix on managed clusters ("27+"); it is dropped. */
export interface ServerVersion {
  major: number;
  minor: number;
  /** e.g. "v1.20.2" or "v1.29.1-gke.1589018" */
  gitVersion: string;
}

/** The shape of /version (client-node's VersionInfo) that we need. */
export interface VersionInfoLike {
  major?: string;
  minor?: string;
  gitVersion?: string;
}

/** The shape of /apis (client-node's V1APIGroupList) that we need. */
export interface ApiGroupListLike {
  groups: Array<{ name: string; versions: Array<{ groupVersion: string; version: string }> }>;
}

/** Where endpoint changes are read from. */
export type EndpointApi = "discovery.k8s.io/v1" | "discovery.k8s.io/v1beta1" | "v1/endpoints";

/**
 * Which EndpointSlice conditions exist:
 * - "ready-only": only `ready` (no serving/terminating field at all);
 * - "feature-gated": serving/terminating exist in the API but the controller fills them only when the
 *   alpha gate EndpointSliceTerminatingCondition is on (1.20, 1.21: off by default);
 * - "serving-terminating": the controller publishes terminating endpoints with ready=false,
 *   serving=<readiness>, terminating=true (beta on by default since 1.22, GA 1.26).
 */
export type EndpointConditions = "ready-only" | "feature-gated" | "serving-terminating";

export interface ClusterCapabilities {
  version: ServerVersion;
  endpointApi: EndpointApi;
  /** "discovery" when /apis was read, "version-rules" when we fell back to the version table. */
  endpointApiSource: "discovery" | "version-rules";
  endpointConditions: EndpointConditions;
  /** The built-in preStop `sleep` action (KEP-3960) is usable with default feature gates. */
  preStopSleep: boolean;
  /** `sleep: {seconds: 0}` is accepted (PodLifecycleSleepActionAllowZero, beta on by default in 1.33). */
  preStopSleepZero: boolean;
  /** The policy group version of PodDisruptionBudget and of the Eviction body (policy/v1 from 1.21 / 1.22). */
  policy: PolicyVersions;
  /** Human-readable facts for the report. */
  notes: string[];
}

export function parseServerVersion(info: VersionInfoLike): ServerVersion {
  const git = info.gitVersion ?? "";
  const m = /^v?(\d+)\.(\d+)/.exec(git);
  if (m?.[1] && m[2]) return { major: Number(m[1]), minor: Number(m[2]), gitVersion: git };
  const major = Number.parseInt(info.major ?? "", 10);
  const minor = Number.parseInt(info.minor ?? "", 10);
  if (Number.isNaN(major) || Number.isNaN(minor)) {
    throw new Error(`cannot parse the server version from /version: ${JSON.stringify(info)}`);
  }
  return { major, minor, gitVersion: git || `v${major}.${minor}` };
}

/** True when the server is at least major.minor. */
export function atLeast(v: ServerVersion, major: number, minor: number): boolean {
  return v.major > major || (v.major === major && v.minor >= minor);
}

/** The version table: v1 since 1.21; v1beta1 from 1.17 until its removal in 1.25; else core Endpoints. */
export function endpointApiFromVersion(v: ServerVersion): EndpointApi {
  if (atLeast(v, 1, 21)) return "discovery.k8s.io/v1";
  if (atLeast(v, 1, 17)) return "discovery.k8s.io/v1beta1";
  return "v1/endpoints";
}

/** What /apis says is served: the newest discovery.k8s.io version, else core v1 Endpoints. */
export function endpointApiFromGroups(groups: ApiGroupListLike): EndpointApi {
  const discovery = groups.groups.find((g) => g.name === "discovery.k8s.io");
  const versions = new Set(discovery?.versions.map((v) => v.version) ?? []);
  if (versions.has("v1")) return "discovery.k8s.io/v1";
  if (versions.has("v1beta1")) return "discovery.k8s.io/v1beta1";
  return "v1/endpoints";
}

export function endpointConditionsFor(v: ServerVersion): EndpointConditions {
  if (atLeast(v, 1, 22)) return "serving-terminating";
  if (atLeast(v, 1, 20)) return "feature-gated";
  return "ready-only";
}

/** preStop `sleep`: alpha (gate off) in 1.29, beta on by default since 1.30. */
export function supportsPreStopSleep(v: ServerVersion): boolean {
  return atLeast(v, 1, 30);
}

/** Native sidecars (initContainers with restartPolicy Always): alpha (gate off) in 1.28, beta on by default since 1.29. */
export function supportsNativeSidecars(v: ServerVersion): boolean {
  return atLeast(v, 1, 29);
}

/**
 * PodDisruptionBudget: policy/v1 where /apis serves it (from 1.21), else the version table. The Eviction
 * subresource takes policy/v1 only from 1.22 (one release later than the PDB), so it follows the version
 * too; policy/v1beta1 before (1.20: the only one).
 */
export function policyVersions(v: ServerVersion, groups?: ApiGroupListLike): PolicyVersions {
  const policy = groups?.groups.find((g) => g.name === "policy");
  const servesV1 = policy ? policy.versions.some((x) => x.version === "v1") : atLeast(v, 1, 21);
  return {
    pdb: servesV1 ? "policy/v1" : "policy/v1beta1",
    eviction: servesV1 && atLeast(v, 1, 22) ? "policy/v1" : "policy/v1beta1",
  };
}

export function capabilities(v: ServerVersion, groups?: ApiGroupListLike): ClusterCapabilities {
  const endpointApi = groups ? endpointApiFromGroups(groups) : endpointApiFromVersion(v);
  const endpointConditions = endpointConditionsFor(v);
  const preStopSleep = supportsPreStopSleep(v);
  const notes: string[] = [];
  notes.push(
    groups
      ? `endpoint changes read from ${endpointApi} (discovered via /apis)`
      : `endpoint changes read from ${endpointApi} (chosen from the server version: /apis not read)`,
  );
  if (endpointConditions === "feature-gated") {
    notes.push(
      `Kubernetes ${v.gitVersion}: EndpointSlice serving/terminating conditions are alpha (gate ` +
        "EndpointSliceTerminatingCondition, off by default): a deleted pod's endpoint simply disappears",
    );
  } else if (endpointConditions === "ready-only") {
    notes.push(`Kubernetes ${v.gitVersion}: no terminating condition; a deleted pod's endpoint disappears`);
  }
  if (!preStopSleep) {
    notes.push(
      `Kubernetes ${v.gitVersion}: the preStop sleep action is ${
        v.major === 1 && v.minor === 29 ? "alpha (gate PodLifecycleSleepAction off by default)" : "not available"
      }; a preStop sleep runs as exec ["sleep", N] inside the container`,
    );
  }
  return {
    version: v,
    endpointApi,
    endpointApiSource: groups ? "discovery" : "version-rules",
    endpointConditions,
    preStopSleep,
    preStopSleepZero: atLeast(v, 1, 33),
    policy: policyVersions(v, groups),
    notes,
  };
}
