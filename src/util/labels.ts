// Every container, network, namespace and cluster the harness creates carries these labels,
// so teardown — and `graceful-e2e clean` after a crash — can find exactly what it made.
import { randomBytes } from "node:crypto";

export const LABEL_ROOT = "graceful-e2e";
export const LABEL_RUN = `${LABEL_ROOT}.run`;

export function runLabels(runId: string): Record<string, string> {
  return { [LABEL_ROOT]: "true", [LABEL_RUN]: runId };
}

/** Short, sortable, DNS-label-safe run id: <yyyymmddhhmmss>-<random>. */
export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:T]/g, "").slice(0, 14);
  return `${stamp}-${randomBytes(3).toString("hex")}`;
}
