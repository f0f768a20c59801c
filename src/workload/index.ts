// The user's own workload (issue 16): manifests read, understood, rewritten for one run.
import type { WorkloadRef } from "../scenario/schema.js";
import { readManifests } from "./read.js";
import { selectManifestSet } from "./select.js";
import type { ManifestSet } from "./types.js";

export { manifestImages, podOfWorkload, podSelectorOf, scenarioPreStop } from "./deployed-pod.js";
export { labelSelectorText, selectorGiven, selects, serviceSelects } from "./label-selector.js";
export { localLimitations } from "./local-limits.js";
export { type AppliedWorkload, type ApplyInput, applyOverrides, type ManifestPdb } from "./overrides.js";
export { parseManifests, readManifests, STDIN_NAME } from "./read.js";
export { type SelectOptions, selectManifestSet, servingContainers } from "./select.js";
export * from "./types.js";

/** A scenario's workload.manifests read and understood for a run in namespace; ManifestError when bad. */
export async function loadManifestSet(
  workload: WorkloadRef,
  namespace: string,
  readStdin?: () => Promise<string>,
): Promise<ManifestSet> {
  const objects = await readManifests(workload.manifests, readStdin);
  return selectManifestSet(objects, {
    namespace,
    ...(workload.name !== undefined ? { name: workload.name } : {}),
    ...(workload.port !== undefined ? { port: workload.port } : {}),
  });
}
