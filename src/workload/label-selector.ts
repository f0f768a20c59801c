// Label selectors, the one implementation: whether a LabelSelector (matchLabels + matchExpressions: a
// Deployment's, StatefulSet's or PodDisruptionBudget's) or a Service's plain selector picks a pod's
// labels, and the selector as the API's `labelSelector` parameter takes it (`app=web,tier in (a,b),
// track notin (canary),beta,!legacy`). Pure; the audit, the manifests' checks, the kind/existing driver
// and the fake API servers of the tests all use these.
import type { V1LabelSelector } from "@kubernetes/client-node";

/** Whether a LabelSelector (matchLabels + matchExpressions) selects these labels. Pure. */
export function selects(
  sel: V1LabelSelector | undefined,
  labels: Record<string, string>,
  emptySelectsAll: boolean,
): boolean {
  if (!sel) return false;
  const ml = Object.entries(sel.matchLabels ?? {});
  const me = sel.matchExpressions ?? [];
  if (ml.length === 0 && me.length === 0) return emptySelectsAll;
  if (!ml.every(([k, v]) => labels[k] === v)) return false;
  return me.every((e) => {
    const has = e.key in labels;
    const v = labels[e.key];
    switch (e.operator) {
      case "In":
        return has && (e.values ?? []).includes(v ?? "");
      case "NotIn":
        return !has || !(e.values ?? []).includes(v ?? "");
      case "Exists":
        return has;
      case "DoesNotExist":
        return !has;
      default:
        return false;
    }
  });
}

/** A Service selector (a plain map) selecting these labels; an empty or absent selector selects nothing. */
export function serviceSelects(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}

/** True when the selector says something (an empty one selects everything or nothing, by kind). */
export function selectorGiven(sel: V1LabelSelector | undefined): boolean {
  return Object.keys(sel?.matchLabels ?? {}).length > 0 || (sel?.matchExpressions ?? []).length > 0;
}

/** One requirement in the API's syntax; undefined for an operator the API does not have. */
function requirementText(e: { key: string; operator: string; values?: string[] }): string | undefined {
  const values = `(${(e.values ?? []).join(",")})`;
  switch (e.operator) {
    case "In":
      return `${e.key} in ${values}`;
    case "NotIn":
      return `${e.key} notin ${values}`;
    case "Exists":
      return e.key;
    case "DoesNotExist":
      return `!${e.key}`;
    default:
      return undefined;
  }
}

/**
 * The selector as the API's labelSelector parameter takes it ("a=b,c in (x,y),!d"); a plain map (a
 * Service's selector) goes as { matchLabels }. Throws on an operator the API does not have (the API
 * server refuses such a workload before it exists: only a hand-written object reaches here).
 */
export function labelSelectorText(sel: V1LabelSelector): string {
  const parts = Object.entries(sel.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of sel.matchExpressions ?? []) {
    const text = requirementText(e);
    if (text === undefined) throw new Error(`label selector: unknown operator "${e.operator}" for key ${e.key}`);
    parts.push(text);
  }
  return parts.join(",");
}
