// The endpoint propagation a preStop must cover, taken from graceful-e2e's own result files for the
// same target (backend, kind cluster, kubeconfig context) when given (--propagation-from), else an
// assumed value the report names. Measured, in order of preference:
// 1. pods[].exercise.lastNewConnectionMs: delete → the last new connection routed to the terminating
//    pod, as the client saw it (the effective propagation: EndpointSlice controller + kube-proxy);
// 2. timeline entries "endpoint-removed" (t after the delete): the API's endpoint removal, a lower
//    bound (kube-proxy rewrites its rules after that).
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { looksLikeResult } from "../report/write.js";
import { UsageError } from "../util/errors.js";
import type { AuditBackend, PropagationBasis } from "./types.js";

export const ASSUMED_PROPAGATION_MS = 1000;

export interface PropagationTarget {
  backend: AuditBackend;
  /** kind: the cluster name (results carry platform.kindCluster). */
  cluster?: string;
  /** existing: the kubeconfig context (results carry platform.context). */
  context?: string;
}

/** The parts of a ScenarioResult (docs/results-schema.md) this reads. */
export interface ResultLike {
  backend?: string;
  platform?: Record<string, string>;
  pods?: Array<{ pod?: string; exercise?: { lastNewConnectionMs?: number } }>;
  timeline?: { entries?: Array<{ kind?: string; t?: number; pod?: string }> };
}

function matches(r: ResultLike, t: PropagationTarget): boolean {
  if (r.backend !== t.backend) return false;
  if (t.backend === "kind" && t.cluster && r.platform?.kindCluster && r.platform.kindCluster !== t.cluster)
    return false;
  if (t.backend === "existing" && t.context && r.platform?.context && r.platform.context !== t.context) return false;
  return true;
}

/** Pure: the largest measured propagation in these results for this target, else the assumed value. */
export function propagationFromResults(
  results: Array<{ file: string; result: ResultLike }>,
  target: PropagationTarget,
  assumedMs = ASSUMED_PROPAGATION_MS,
): PropagationBasis {
  const own = results.filter((r) => matches(r.result, target));
  const clientSide: Array<{ ms: number; file: string }> = [];
  const apiSide: Array<{ ms: number; file: string }> = [];
  for (const { file, result } of own) {
    const victims = new Set((result.pods ?? []).map((p) => p.pod).filter((p): p is string => p !== undefined));
    for (const p of result.pods ?? []) {
      const ms = p.exercise?.lastNewConnectionMs;
      if (typeof ms === "number" && ms > 0) clientSide.push({ ms, file });
    }
    for (const e of result.timeline?.entries ?? []) {
      if (e.kind !== "endpoint-removed" || typeof e.t !== "number" || e.t < 0) continue;
      if (e.pod !== undefined && victims.size > 0 && !victims.has(e.pod)) continue;
      apiSide.push({ ms: e.t, file });
    }
  }
  const where =
    target.backend === "kind"
      ? `kind cluster ${target.cluster ?? "?"}`
      : target.backend === "existing"
        ? `context ${target.context ?? "?"}`
        : "the local backend";
  const pick = (list: Array<{ ms: number; file: string }>) => list.reduce((a, b) => (b.ms > a.ms ? b : a));
  if (clientSide.length > 0) {
    const best = pick(clientSide);
    return {
      ms: Math.round(best.ms),
      source: "measured",
      detail:
        `the largest delete → last new connection routed to a terminating pod in ${clientSide.length} graceful-e2e ` +
        `measurement(s) on ${where} (${best.file})`,
      files: [...new Set(clientSide.map((c) => c.file))],
    };
  }
  if (apiSide.length > 0) {
    const best = pick(apiSide);
    return {
      ms: Math.round(best.ms),
      source: "measured",
      detail:
        `the largest delete → endpoint removed from the API in ${apiSide.length} graceful-e2e run(s) on ${where} ` +
        `(${best.file}); a lower bound: kube-proxy rewrites its rules after that`,
      files: [...new Set(apiSide.map((c) => c.file))],
    };
  }
  return {
    ms: assumedMs,
    source: "assumed",
    detail:
      own.length > 0 || results.length > 0
        ? `assumed ${assumedMs} ms: the ${results.length} result file(s) given hold no propagation measurement for ${where}`
        : `assumed ${assumedMs} ms (a typical kube-proxy lag on a small cluster): no graceful-e2e measurement given (--propagation-from <results dir>)`,
  };
}

async function jsonFiles(dir: string, depth: number): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const out: string[] = [];
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory() && depth > 0) out.push(...(await jsonFiles(p, depth - 1)));
    else if (e.isFile() && e.name.endsWith(".json") && !e.name.startsWith("audit")) out.push(p);
  }
  return out.sort();
}

/** Reads every result file in the directories (two levels deep); a missing directory is a UsageError. */
export async function propagationFrom(
  dirs: string[],
  target: PropagationTarget,
  assumedMs = ASSUMED_PROPAGATION_MS,
): Promise<PropagationBasis> {
  const results: Array<{ file: string; result: ResultLike }> = [];
  for (const dir of dirs) {
    const s = await stat(dir).catch(() => undefined);
    if (!s?.isDirectory())
      throw new UsageError(`--propagation-from: ${dir} is not a directory of graceful-e2e results`);
    for (const file of await jsonFiles(dir, 2)) {
      try {
        const parsed: unknown = JSON.parse(await readFile(file, "utf8"));
        if (looksLikeResult(parsed)) results.push({ file, result: parsed as ResultLike });
      } catch {
        // not JSON, or not a result: skipped
      }
    }
  }
  return propagationFromResults(results, target, assumedMs);
}
