// The scenario's `pdb:` as a PodDisruptionBudget object over the run's pods, in the policy version the
// server serves (policy/v1 from 1.21, policy/v1beta1 before: client-node has no typed v1beta1 client, so
// both go through the generic object API). It lives in the run's namespace and carries the run's labels:
// the namespace's deletion removes it, `clean` finds it. The arithmetic it triggers is the API server's
// (src/k8s/pdb.ts is the same arithmetic for the local backend).
import { type KubeConfig, KubernetesObjectApi, type V1LabelSelector } from "@kubernetes/client-node";
import type { VoluntaryDisruptionRecord } from "../model/disruption.js";
import type { Pdb } from "../scenario/schema.js";
import { selects } from "../workload/label-selector.js";
import type { PolicyVersion } from "./version.js";

export const PDB_NAME = "app";

/** A PodDisruptionBudget object (the fields both policy versions share). */
export interface PdbObject {
  apiVersion: PolicyVersion;
  kind: "PodDisruptionBudget";
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  spec: {
    minAvailable?: number | string;
    maxUnavailable?: number | string;
    selector: V1LabelSelector;
  };
}

/** The PDB selecting the workload's pods (the workload's own selector, matchExpressions included). Pure. */
export function pdbObject(
  pdb: Pdb,
  o: { namespace: string; labels: Record<string, string>; selector: V1LabelSelector; version: PolicyVersion },
): PdbObject {
  return {
    apiVersion: o.version,
    kind: "PodDisruptionBudget",
    metadata: { name: PDB_NAME, namespace: o.namespace, labels: { ...o.labels } },
    spec: {
      ...(pdb.minAvailable !== undefined ? { minAvailable: pdb.minAvailable } : {}),
      ...(pdb.maxUnavailable !== undefined ? { maxUnavailable: pdb.maxUnavailable } : {}),
      selector: structuredClone(o.selector),
    },
  };
}

/** What the record says of the budget in force. */
export function pdbRecord(obj: PdbObject): NonNullable<VoluntaryDisruptionRecord["pdb"]> {
  return {
    name: obj.metadata.name,
    ...(obj.spec.minAvailable !== undefined ? { minAvailable: obj.spec.minAvailable } : {}),
    ...(obj.spec.maxUnavailable !== undefined ? { maxUnavailable: obj.spec.maxUnavailable } : {}),
  };
}

/**
 * The budget in force over pods with these labels in a namespace the run did not create (a target's):
 * the first PodDisruptionBudget whose selector picks them (policy/v1: an empty selector picks every
 * pod), as the record names it. Read only, for the report: the API server enforces it either way.
 */
export async function budgetOver(
  kc: KubeConfig,
  o: { namespace: string; labels: Record<string, string>; version: PolicyVersion },
): Promise<NonNullable<VoluntaryDisruptionRecord["pdb"]> | undefined> {
  const list = await KubernetesObjectApi.makeApiClient(kc).list<PdbObject>(
    o.version,
    "PodDisruptionBudget",
    o.namespace,
  );
  const found = list.items.find((b) => selects(b.spec?.selector, o.labels, o.version === "policy/v1"));
  return found ? pdbRecord(found) : undefined;
}

/** Creates the PDB through the API (the generic object client finds the resource by discovery). */
export async function createPdb(kc: KubeConfig, obj: PdbObject): Promise<void> {
  await KubernetesObjectApi.makeApiClient(kc).create(obj);
}
