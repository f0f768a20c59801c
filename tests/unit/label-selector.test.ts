// Label selectors, the one implementation: matching (matchLabels + matchExpressions, a Service's plain
// map) and the API's labelSelector syntax, read back the way the API server (the fake kit) reads it.
import type { V1LabelSelector } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { pdbObject } from "../../src/k8s/pdb-object.js";
import { podSelectorOf } from "../../src/workload/deployed-pod.js";
import { labelSelectorText, selectorGiven, selects, serviceSelects } from "../../src/workload/label-selector.js";
import { labelSelectorMatches, parseLabelSelector } from "./fake-api-server.js";

const set: V1LabelSelector = {
  matchLabels: { app: "web" },
  matchExpressions: [
    { key: "track", operator: "In", values: ["stable", "beta"] },
    { key: "zone", operator: "NotIn", values: ["eu-1"] },
    { key: "tier", operator: "Exists" },
    { key: "canary", operator: "DoesNotExist" },
  ],
};

describe("label selectors", () => {
  it("matchLabels and every operator of matchExpressions", () => {
    const labels = { app: "web", track: "beta", tier: "front" };
    expect(selects(set, labels, false)).toBe(true);
    expect(selects(set, { ...labels, track: "canary" }, false)).toBe(false);
    expect(selects(set, { ...labels, zone: "eu-1" }, false)).toBe(false);
    expect(selects(set, { app: "web", track: "beta" }, false)).toBe(false);
    expect(selects(set, { ...labels, canary: "" }, false)).toBe(false);
    expect(selects(set, { ...labels, app: "www" }, false)).toBe(false);
    expect(selects({}, labels, true)).toBe(true);
    expect(selects({}, labels, false)).toBe(false);
    expect(selects(undefined, labels, true)).toBe(false);
    expect(selects({ matchExpressions: [{ key: "a", operator: "Bogus" }] }, { a: "1" }, false)).toBe(false);
  });

  it("a Service's plain selector: every label equal; an empty one selects nothing", () => {
    expect(serviceSelects({ app: "web" }, { app: "web", x: "1" })).toBe(true);
    expect(serviceSelects({ app: "web", x: "2" }, { app: "web", x: "1" })).toBe(false);
    expect(serviceSelects({}, { app: "web" })).toBe(false);
    expect(serviceSelects(undefined, { app: "web" })).toBe(false);
  });

  it("the API's syntax, read back by the API server's rules into the same selector", () => {
    const text = labelSelectorText(set);
    expect(text).toBe("app=web,track in (stable,beta),zone notin (eu-1),tier,!canary");
    expect(parseLabelSelector(text)).toEqual(set);
    expect(labelSelectorText({ matchLabels: { a: "b", c: "d" } })).toBe("a=b,c=d");
    expect(labelSelectorText({})).toBe("");
    expect(() => labelSelectorText({ matchExpressions: [{ key: "a", operator: "Near" }] })).toThrow(
      'label selector: unknown operator "Near" for key a',
    );
    expect(labelSelectorMatches("a!=b", { a: "c" })).toBe(true);
    expect(labelSelectorMatches("a!=b", { a: "b" })).toBe(false);
    expect(labelSelectorMatches(null, {})).toBe(true);
  });

  it("a workload's pods are found by its own selector; the scenario's budget selects them the same way", () => {
    const w = (selector?: V1LabelSelector) =>
      ({
        kind: "Deployment",
        spec: { selector, template: { metadata: { labels: { app: "web", tier: "front" } } } },
      }) as never;
    expect(podSelectorOf(w(set))).toEqual(set);
    expect(podSelectorOf(w(undefined))).toEqual({ matchLabels: { app: "web", tier: "front" } });
    expect(selectorGiven({ matchExpressions: [{ key: "a", operator: "Exists" }] })).toBe(true);
    expect(selectorGiven({ matchLabels: {} })).toBe(false);
    const pdb = pdbObject({ minAvailable: 1 }, { namespace: "n", labels: {}, selector: set, version: "policy/v1" });
    expect(pdb.spec.selector).toEqual(set);
    expect(pdb.spec.selector).not.toBe(set);
  });
});
