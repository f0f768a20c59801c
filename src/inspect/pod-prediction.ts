// What the process tree read before any signal predicts for a disrupted container, in words: decided
// here for every backend (the backends only read the tree and the stop signal; they never predict).
import type { ContainerOutcome } from "../model/pod-outcome.js";
import { predict } from "./predict.js";

export function podPrediction(
  c: Pick<ContainerOutcome, "inspection" | "stopSignal">,
  port?: number,
): string | undefined {
  const processes = c.inspection?.processes ?? [];
  if (processes.length === 0) return undefined;
  return predict(processes, {
    ...(port !== undefined ? { port } : {}),
    ...(c.stopSignal ? { stopSignal: c.stopSignal } : {}),
  }).summary;
}
