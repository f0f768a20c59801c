// Per-backend expectations: a scenario states what holds everywhere, and under
// `expectations.backends` what differs on one backend (the same fields; null removes one).
import { BACKEND_NAMES, type BackendName } from "../model/backend.js";
import type { Expectations, ExpectationsOverride, ScenarioExpectations } from "./schema.js";

/** The backends a scenario's expectations can name one by one: every backend. */
export const SCENARIO_BACKENDS = BACKEND_NAMES;
export type ScenarioBackend = BackendName;

/**
 * The expectations the given backend checks. Pure. Starting from the base fields (everything but
 * `backends`), each layer replaces whole fields: first `backends.kubernetes` (kind and existing
 * only), then `backends.<backend>`; a field set to null in a layer removes it, a field the layer
 * leaves out keeps what the layers below gave. So the precedence is the backend's own key, then
 * kubernetes, then the base.
 */
export function expectationsFor(expectations: ScenarioExpectations, backend: ScenarioBackend): Expectations {
  const { backends, ...base } = expectations;
  const merged: Record<string, unknown> = { ...base };
  const layers: Array<ExpectationsOverride | undefined> = [
    backend === "local" ? undefined : backends?.kubernetes,
    backends?.[backend],
  ];
  for (const layer of layers) {
    for (const [field, value] of Object.entries(layer ?? {})) {
      if (value === null) delete merged[field];
      else if (value !== undefined) merged[field] = value;
    }
  }
  return merged as Expectations;
}
