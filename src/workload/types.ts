// The user's own workload, read from manifests: what the backends apply and test. Types only.
import type { KubernetesObject, V1Deployment, V1StatefulSet } from "@kubernetes/client-node";
import { UsageError } from "../util/errors.js";

/** Where one object came from, so every error can name it. */
export interface ManifestOrigin {
  /** The file as given ("-" read as stdin gets the name the caller chose). */
  file: string;
  /** 1-based, as the documents appear in the file (empty ones counted). */
  document: number;
  /** Path inside the document when the object is an item of a List ("items[2]"); "" otherwise. */
  within: string;
  /** Line of a field in the file (1-based), when the parser kept it. */
  lineOf(path: ReadonlyArray<string | number>): number | undefined;
}

/** One object of the manifests with where it came from. */
export interface ManifestObject {
  object: KubernetesObject & { apiVersion: string; kind: string; metadata: { name: string } };
  origin: ManifestOrigin;
}

export type Workload = V1Deployment | V1StatefulSet;
export type WorkloadKind = "Deployment" | "StatefulSet";

/** The port the load goes to: the Service's, and the container port behind it. */
export interface WorkloadPort {
  /** The Service port (number) and its name, when there is a Service. */
  servicePort?: number;
  name?: string;
  /** The container port the traffic reaches. */
  containerPort: number;
  /** The container (or native sidecar) that declares it; undefined when no container names it. */
  container?: string;
}

/** What one set of manifests holds, found and checked; nothing rewritten yet. */
export interface ManifestSet {
  workload: { kind: WorkloadKind; name: string; entry: ManifestObject };
  /** The Service selecting the workload's pods; undefined: the harness makes a NodePort Service. */
  service?: { name: string; entry: ManifestObject };
  port: WorkloadPort;
  /** Every object to apply, the workload and Service included, in the order they were read. */
  objects: ManifestObject[];
  /** Decisions worth a report line (a port chosen among several, custom resources...). */
  notes: string[];
}

export interface ManifestIssue {
  file: string;
  document: number;
  /** Dotted field path ("spec.selector"); "" for the whole document. */
  field: string;
  message: string;
  line?: number;
}

/** One line per problem: file, document, field, what is wrong. */
export function formatManifestIssue(i: ManifestIssue): string {
  const where = `${i.file}: document ${i.document}${i.line !== undefined ? ` (line ${i.line})` : ""}`;
  return `${where}: ${i.field === "" ? "(document)" : i.field}: ${i.message}`;
}

/** Bad manifests: the user must fix them before anything starts (exit 2). */
export class ManifestError extends UsageError {
  override name = "ManifestError";
  constructor(readonly issues: ManifestIssue[]) {
    super(issues.map(formatManifestIssue).join("\n"));
  }
}

/** An issue about a field of an object (the List item prefix and the line added). */
export function issueAt(entry: ManifestObject, path: ReadonlyArray<string | number>, message: string): ManifestIssue {
  const { origin } = entry;
  const field = path
    .map((p) => (typeof p === "number" ? `[${p}]` : p))
    .join(".")
    .replace(/\.\[/g, "[");
  const prefixed = origin.within === "" ? field : field === "" ? origin.within : `${origin.within}.${field}`;
  const line = origin.lineOf(path);
  return { file: origin.file, document: origin.document, field: prefixed, message, ...(line ? { line } : {}) };
}
