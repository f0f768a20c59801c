import { describe, expect, it } from "vitest";
import type { LoadResult } from "../../src/load/types.js";
import type { VoluntaryDisruptionRecord } from "../../src/model/disruption.js";
import { buildTimeline } from "../../src/observe/timeline.js";
import { renderTimelineSvg } from "../../src/report/html-svg.js";
import { timelineData } from "../../src/report/html-timeline.js";
import { voluntaryLines } from "../../src/report/voluntary.js";
import { voluntaryEvents } from "../../src/runner/collect.js";

const voluntary: VoluntaryDisruptionRecord = {
  evictions: [
    { pod: "p-0", at: 1000, attempt: 1, result: "accepted", status: 201, message: "evicted" },
    { pod: "p-2", at: 1001, attempt: 1, result: "refused", status: 429, message: "Cannot evict pod…" },
    { pod: "p-2", at: 6000, attempt: 2, result: "accepted", status: 201, message: "evicted" },
  ],
  drain: {
    node: "local-node-1",
    chosenBecause: "busiest pod p-2",
    cordonedAt: 1000,
    pods: ["p-0", "p-2"],
    finishedAt: 9500,
    timedOut: false,
    uncordonedAt: 12_000,
  },
  pdb: { name: "web-pdb", minAvailable: 2 },
};
const readyEndpoints = [
  { at: 0, ready: 3, terminating: 0 },
  { at: 1000, ready: 2, terminating: 1 },
  { at: 4000, ready: 3, terminating: 0 },
];
const load = { startedAt: 500, endedAt: 11_000, successBuckets: [], failures: [] } as unknown as LoadResult;

describe("a voluntary disruption in the reports", () => {
  it("the drain, the evictions by answer and the ready endpoints' minimum, in words", () => {
    expect(voluntaryLines({ voluntary, readyEndpoints, load })).toEqual([
      "drain: node local-node-1 (busiest pod p-2) cordoned; its 2 pod(s) gone in 8.50 s; uncordoned 11.00 s after the cordon",
      "evictions: 2 accepted, 1 refused (429), 0 error(s) under PodDisruptionBudget web-pdb",
      "ready endpoints: min 2 ready (of up to 3) over the load window, first at 0.50 s into it; 3 change(s) followed",
    ]);
    const stuck = {
      ...voluntary,
      drain: { ...voluntary.drain!, finishedAt: undefined, timedOut: true, timeoutReason: "why" },
    };
    expect(voluntaryLines({ voluntary: stuck, load })[0]).toContain("TIMED OUT: why");
    // A run ended mid-drain (Ctrl-C): interrupted, how far it got; an uncordon that failed is said loudly.
    const cut = {
      ...voluntary,
      drain: {
        ...voluntary.drain!,
        finishedAt: undefined,
        uncordonedAt: undefined,
        interrupted: true,
        timeoutReason: "the run ended 5.0 s after the cordon, before the drain did: evicted p-0; refused (429) p-2",
        uncordonError: "HTTP 500 etcd timeout",
      },
    };
    expect(voluntaryLines({ voluntary: cut })).toEqual([
      "drain: node local-node-1 (busiest pod p-2) cordoned; INTERRUPTED: the run ended 5.0 s after the cordon, " +
        "before the drain did: evicted p-0; refused (429) p-2; UNCORDON FAILED (HTTP 500 etcd timeout): the node is " +
        "still cordoned, 'graceful-e2e clean' uncordons it",
      "evictions: 2 accepted, 1 refused (429), 0 error(s) under PodDisruptionBudget web-pdb",
    ]);
    expect(voluntaryLines({ load })).toEqual([]);
  });

  it("the HTML timeline: the ready endpoints as a step line, evictions and the cordon as markers", () => {
    const timeline = buildTimeline([
      { at: 1000, kind: "delete-requested", source: "harness", pod: "p-0" },
      ...voluntaryEvents(voluntary),
    ]);
    const data = timelineData({ timeline, pods: [], load, readyEndpoints });
    expect(data?.readyEndpoints).toEqual([
      { t: -1000, ready: 3 },
      { t: 0, ready: 2 },
      { t: 3000, ready: 3 },
    ]);
    expect(data?.markers.map((m) => m.kind)).toEqual(
      expect.arrayContaining(["cordon", "eviction", "eviction-refused"]),
    );
    const svg = renderTimelineSvg(data!, { title: "t" });
    expect(svg).toContain('data-series="ready-endpoints"');
    expect(svg).toContain('data-samples="-1000:3 0:2 3000:3"');
    expect(svg).toMatch(/<polyline points="[^"]+"/);
  });
});
