import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadScenarios, parseScenario, ScenarioValidationError } from "../../src/scenario/load.js";
import { scenarioJsonSchema } from "../../src/scenario/schema.js";

const BAD = join(import.meta.dirname, "../fixtures/bad-scenarios");

/** What each bad file must be rejected for: the field named and a word of the reason. */
const EXPECTED: Record<string, { field: string; reason: RegExp }> = {
  "malformed-yaml.yaml": { field: "", reason: /YAML/ },
  "unknown-field.yaml": { field: "replicaz", reason: /unknown field/ },
  "wrong-type.yaml": { field: "replicas", reason: /expected number/ },
  "rollout-zero-surge-zero-unavailable.yaml": {
    field: "disruption.strategy",
    reason: /maxSurge and maxUnavailable may not both be 0.*maxUnavailable 0/,
  },
  "negative-duration.yaml": { field: "terminationGracePeriodSeconds", reason: />=0/ },
  "absurd-duration.yaml": { field: "load.durationSeconds", reason: /<=600/ },
  "unknown-style.yaml": { field: "image.style", reason: /expected one of/ },
  "latest-tag.yaml": { field: "image.ref", reason: /latest/ },
  "prestop-missing-seconds.yaml": { field: "preStop.seconds", reason: /required field is missing \(expected number\)/ },
  "bad-name.yaml": { field: "name", reason: /lower-case/ },
  "not-a-mapping.yaml": { field: "", reason: /mapping/ },
  "inverted-bounds.yaml": { field: "expectations.terminationSeconds", reason: /minSeconds/ },
  "unknown-disruption.yaml": { field: "disruption.action", reason: /delete|rollout|scaleDown|Invalid/ },
  "alias-bomb.yaml": { field: "", reason: /^YAML: too many alias expansions/ },
  "windows-unicode.yaml": { field: "", reason: /^not UTF-8 text \(looks like UTF-16\): save it as UTF-8$/ },
  "count-over-replicas.yaml": { field: "disruption.count", reason: /deletes 3 pods but replicas is 2/ },
  "scaledown-not-below-replicas.yaml": { field: "disruption.to", reason: /less than replicas \(3\)/ },
  "min-over-max.yaml": { field: "expectations.minFailedRequests", reason: /minFailedRequests \(2\) exceeds/ },
  "min-over-max-merged.yaml": {
    field: "expectations.backends.kubernetes",
    reason:
      /^on kind and existing, merged with the base expectations: minFailedRequests \(1\) exceeds maxFailedRequests \(0\)$/,
  },
  "image-ref-injection.yaml": { field: "image.ref", reason: /not a valid image reference: ";" is not allowed/ },
  "image-ref-upper-case.yaml": { field: "image.ref", reason: /lower-case \("MyApp"\)/ },
  "image-and-workload.yaml": {
    field: "workload",
    reason: /^give one of image, workload and target, not image and workload$/,
  },
  "no-image.yaml": {
    field: "image",
    reason:
      /^required: image \(a sample or your image\), workload \(your manifests\) or target \(a running workload\)$/,
  },
  "workload-with-port.yaml": {
    field: "port",
    reason: /^with workload: the port comes from the manifests' Service: use workload\.port$/,
  },
  "workload-no-manifests.yaml": { field: "workload.manifests", reason: /^required field is missing/ },
  "target-bad-kind.yaml": {
    field: "target.workload",
    reason: /^expected deployment\/<name> or statefulset\/<name>, got "pod\/web"$/,
  },
  "target-with-prestop.yaml": {
    field: "preStop",
    reason: /^with target: a running workload is not changed: remove preStop$/,
  },
};

describe("scenario validation", () => {
  const files = readdirSync(BAD).filter((f) => f.endsWith(".yaml"));

  it("has an expectation for every file of the bad corpus", () => {
    expect(files.sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const file of files) {
    it(`rejects ${file} naming the file, the field and the reason`, () => {
      const expected = EXPECTED[file];
      const path = join(BAD, file);
      let error: unknown;
      try {
        parseScenario(path, readFileSync(path, "utf8"));
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ScenarioValidationError);
      const issue = (error as ScenarioValidationError).issues[0];
      expect(issue?.file).toBe(path);
      expect(issue?.field).toBe(expected?.field);
      expect(issue?.message).toMatch(expected?.reason ?? /never/);
      expect((error as Error).message).toContain(path);
    });
  }

  it("reports every bad file of a directory at once", async () => {
    const err = await loadScenarios([BAD]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScenarioValidationError);
    const filesNamed = new Set((err as ScenarioValidationError).issues.map((i) => i.file));
    expect(filesNamed.size).toBe(files.length);
  });

  it("fills defaults a user would expect", () => {
    const { scenario } = parseScenario("x.yaml", "name: x\nimage: {style: exec-form}\n");
    expect(scenario).toMatchObject({
      port: 8080,
      replicas: 2,
      terminationGracePeriodSeconds: 30,
      preStop: { type: "none" },
      disruption: { action: "delete", count: 1, atSeconds: 3, victims: "busiest" },
      load: { keepAlive: true, connections: 10, freshConnectionIntervalMs: 30, warmUpSeconds: 20 },
      local: { endpointPropagationMs: 1000, balancing: "random", endpointAddDelayMs: 750, replacementPod: true },
    });
  });

  it("warns (but accepts) when the grace period is not longer than the preStop sleep", () => {
    const { warnings } = parseScenario(
      "x.yaml",
      "name: x\nimage: {style: exec}\npreStop: {type: sleep, seconds: 10}\nterminationGracePeriodSeconds: 5\n",
    );
    expect(warnings.join()).toMatch(/2 s extension/);
  });

  it("rejects two scenarios with the same name", async () => {
    const dir = join(import.meta.dirname, "../fixtures/duplicate-names");
    const err = await loadScenarios([dir]).catch((e: unknown) => e);
    expect((err as ScenarioValidationError).issues[0]).toMatchObject({ field: "name" });
  });

  it("loads every shipped fixture", async () => {
    const loaded = await loadScenarios([join(import.meta.dirname, "../../fixtures/scenarios")]);
    expect(loaded.length).toBeGreaterThanOrEqual(16);
  });

  it("keeps fixtures/scenario.schema.json in step with the schema", () => {
    const committed = JSON.parse(
      readFileSync(join(import.meta.dirname, "../../fixtures/scenario.schema.json"), "utf8"),
    );
    expect(committed).toEqual(scenarioJsonSchema());
  });
});
