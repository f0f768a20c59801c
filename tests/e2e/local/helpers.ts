// Shared by the local e2e suites: run a fixture (or an inline scenario) on the local backend
// and pick facts out of its result.
import { join } from "node:path";
import { LocalBackend } from "../../../src/backends/local/backend.js";
import type { TimelineEventKind } from "../../../src/model/events.js";
import type { TimelineEntry } from "../../../src/model/timeline.js";
import { runScenario, type ScenarioResult } from "../../../src/runner/run.js";
import { loadScenarios, parseScenario } from "../../../src/scenario/load.js";

export const FIXTURES = join(import.meta.dirname, "../../../fixtures/scenarios");
const RESULTS = join(import.meta.dirname, "../../../results/e2e-local");

const backend = new LocalBackend();

/** `subdir`: results apart from the style runs' (which the README's tables are generated from). */
export async function runFixture(name: string, subdir?: string): Promise<ScenarioResult> {
  const [loaded] = await loadScenarios([join(FIXTURES, `${name}.yaml`)]);
  if (!loaded) throw new Error(`no fixture ${name}`);
  return runScenario(loaded, { backend, resultsDir: subdir ? join(RESULTS, subdir) : RESULTS });
}

export async function runInline(yaml: string): Promise<ScenarioResult> {
  return runScenario(parseScenario("inline.yaml", yaml), { backend, resultsDir: RESULTS });
}

/** Entries of one kind for the disrupted pod (the first one), in time order. */
export function entries(result: ScenarioResult, kind: TimelineEventKind): TimelineEntry[] {
  const pod = result.pods[0]?.pod;
  return (result.timeline?.entries ?? []).filter((e) => e.kind === kind && (pod === undefined || e.pod === pod));
}

/** Time (ms after the delete) of the first entry of a kind for the disrupted pod. */
export function at(result: ScenarioResult, kind: TimelineEventKind): number | undefined {
  return entries(result, kind)[0]?.t;
}

/** Failed requests relative to the delete: when each was seen, by kind. */
export function failures(result: ScenarioResult): Array<{ t: number; kind: string }> {
  const origin = result.timeline?.origin ?? 0;
  return (result.load?.failures ?? []).map((f) => ({ t: f.at - origin, kind: f.kind }));
}
