// The Eviction API as `kubectl drain` uses it: one POST of an Eviction to the pod's eviction subresource
// (policy/v1 from 1.22, policy/v1beta1 before), a 429 (a PodDisruptionBudget holds) retried every
// retryInterval until the timeout, any other answer not retried. Every answer is an EvictionAttempt with
// the API's own status and message. The calls go through @kubernetes/client-node; the clock is injected.
import type { CoreV1Api, V1Eviction } from "@kubernetes/client-node";
import type { EvictionAttempt } from "../model/disruption.js";
import { errorText } from "../util/errors.js";
import type { PolicyVersion } from "./version.js";
import type { Clock } from "./wait.js";

/** The Eviction object for a pod, in the policy version the server takes. */
export function evictionBody(pod: string, namespace: string, version: PolicyVersion): V1Eviction {
  return { apiVersion: version, kind: "Eviction", metadata: { name: pod, namespace } };
}

/** The shape of a Status the API answers with (a 429's details.causes name the budget). */
interface StatusLike {
  code?: number;
  message?: string;
  reason?: string;
  details?: { causes?: Array<{ reason?: string; message?: string }> };
}

function statusOf(err: unknown): StatusLike | undefined {
  const body = (err as { body?: unknown } | undefined)?.body;
  if (body === undefined || body === null) return undefined;
  try {
    return (typeof body === "string" ? JSON.parse(body) : body) as StatusLike;
  } catch {
    return undefined;
  }
}

/**
 * A failed call → the attempt's result, status and message: the Status's message verbatim, followed by
 * the DisruptionBudget cause's own message when there is one ("The disruption budget app needs 2 healthy
 * pods and has 2 currently": the words the local backend's arithmetic uses too, src/k8s/pdb.ts).
 */
export function answerOfError(err: unknown): Pick<EvictionAttempt, "result" | "status" | "message"> {
  const code = (err as { code?: unknown } | undefined)?.code;
  const status = statusOf(err);
  const httpStatus = typeof code === "number" ? code : (status?.code ?? 0);
  const cause = status?.details?.causes?.find((c) => c.reason === "DisruptionBudget")?.message;
  const message = status?.message ? [status.message, cause].filter(Boolean).join(" ") : errorText(err);
  return { result: httpStatus === 429 ? "refused" : "error", status: httpStatus, message };
}

export interface EvictOptions {
  core: CoreV1Api;
  namespace: string;
  version: PolicyVersion;
  clock: Clock;
  retryIntervalMs: number;
  /** No attempt is started at or after this time (epoch ms, the clock's). */
  deadline: number;
  node?: string;
  /** Each answer, as it comes (for the timeline). */
  onAttempt: (attempt: EvictionAttempt) => void;
  /** Stops retrying (Ctrl-C, the run ending). */
  signal?: AbortSignal;
}

/** How the evictions of one pod ended. */
export interface EvictionResult {
  pod: string;
  evicted: boolean;
  attempts: EvictionAttempt[];
  /** Why it was not evicted, in words. */
  why?: string;
}

/** Evicts one pod, retrying 429s every retryIntervalMs until the deadline. Never throws. */
export async function evictPod(pod: string, o: EvictOptions): Promise<EvictionResult> {
  const attempts: EvictionAttempt[] = [];
  for (;;) {
    let answer: Pick<EvictionAttempt, "result" | "status" | "message">;
    try {
      await o.core.createNamespacedPodEviction({
        name: pod,
        namespace: o.namespace,
        body: evictionBody(pod, o.namespace, o.version),
      });
      answer = { result: "accepted", status: 201, message: "evicted" };
    } catch (err) {
      answer = answerOfError(err);
    }
    const attempt: EvictionAttempt = {
      pod,
      ...(o.node !== undefined ? { node: o.node } : {}),
      at: o.clock.now(),
      attempt: attempts.length + 1,
      ...answer,
    };
    attempts.push(attempt);
    o.onAttempt(attempt);
    if (answer.result === "accepted") return { pod, evicted: true, attempts };
    if (answer.result === "error") {
      return { pod, evicted: false, attempts, why: `the API answered ${answer.status}: ${answer.message}` };
    }
    const refused = `refused ${attempts.length} time(s) (429: ${answer.message})`;
    if (o.signal?.aborted) return { pod, evicted: false, attempts, why: `${refused}; stopped` };
    if (o.clock.now() + o.retryIntervalMs >= o.deadline) {
      return { pod, evicted: false, attempts, why: `${refused} until the timeout` };
    }
    await o.clock.sleep(o.retryIntervalMs);
    // Stopped while waiting (the run's teardown, Ctrl-C): no call after the run's end (a target's pod stays).
    if (o.signal?.aborted) return { pod, evicted: false, attempts, why: `${refused}; stopped` };
  }
}
