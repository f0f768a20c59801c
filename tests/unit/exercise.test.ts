import { describe, expect, it } from "vitest";
import type { RequestRecord, TrafficAttribution } from "../../src/model/exercise.js";
import { attributeRequests, busiestPods, exerciseEvidence, podOfHeader } from "../../src/observe/exercise.js";
import { answeredPods } from "../../src/runner/warm-up.js";

const T = 1_000_000; // the delete

const proxy = (connections: TrafficAttribution["connections"]): TrafficAttribution => ({
  source: "service-proxy",
  joinableByClientPort: true,
  connections,
});

describe("attributeRequests", () => {
  it("prefers x-served-by, else joins the request to the latest connection on its client port", () => {
    const attribution = proxy([
      { clientPort: 5000, pod: "a", openedAt: T - 5000, closedAt: T - 4000 },
      // the port is reused later for a connection to b
      { clientPort: 5000, pod: "b", openedAt: T - 3000 },
    ]);
    const requests: RequestRecord[] = [
      { sentAt: T - 4500, at: T - 4400, ok: true, clientPort: 5000 },
      { sentAt: T - 2000, at: T - 1900, ok: true, clientPort: 5000 },
      { sentAt: T - 2000, at: T - 1900, ok: true, clientPort: 5000, pod: "c/app-1" },
      { sentAt: T - 2000, at: T - 1900, ok: false },
    ];
    expect(attributeRequests(requests, attribution).map((r) => [r.attributedPod, r.attributedBy])).toEqual([
      ["a", "service-proxy"],
      ["b", "service-proxy"],
      ["c", "x-served-by"],
      [undefined, undefined],
    ]);
  });

  it("does not join by port when the routing point's ports are not the client's (kind: docker-proxy)", () => {
    const attribution: TrafficAttribution = {
      source: "conntrack",
      joinableByClientPort: false,
      connections: [{ clientPort: 5000, pod: "a", openedAt: T - 5000 }],
    };
    const [r] = attributeRequests([{ sentAt: T - 10, at: T - 5, ok: true, clientPort: 5000 }], attribution);
    expect(r?.attributedPod).toBeUndefined();
  });

  it("reads the pod out of x-served-by", () => {
    expect(podOfHeader("pod-1/app-2")).toBe("pod-1");
    expect(podOfHeader("pod-1")).toBe("pod-1");
    expect(podOfHeader("")).toBeUndefined();
  });
});

describe("exerciseEvidence", () => {
  it("a pod with open connections at the delete and answers before it was exercised; the last new connection is measured", () => {
    const attribution = proxy([
      { clientPort: 1, pod: "a", openedAt: T - 3000 },
      { clientPort: 2, pod: "a", openedAt: T - 2000, closedAt: T - 1000 },
      { clientPort: 3, pod: "a", openedAt: T + 310, closedAt: T + 320 },
      { clientPort: 4, pod: "b", openedAt: T + 900 },
    ]);
    const requests = attributeRequests(
      [
        { sentAt: T - 600, at: T - 500, ok: true, clientPort: 1 },
        { sentAt: T - 300, at: T - 200, ok: true, clientPort: 1 },
        { sentAt: T + 2100, at: T + 2200, ok: true, clientPort: 1 },
        { sentAt: T + 300, at: T + 315, ok: false, clientPort: 3 },
      ],
      attribution,
    );
    const e = exerciseEvidence({ pod: "a", deleteAt: T, sigtermAt: T + 2000, attribution, requests });
    expect(e).toMatchObject({
      status: "exercised",
      sources: ["service-proxy"],
      openConnectionsAtDelete: 1,
      servedInSecondBeforeDelete: 2,
      answeredAfterSigterm: 1,
      servedTotal: 3,
      connectionsRouted: 3,
      lastNewConnectionMs: 310,
      newConnectionsAfterDelete: 1,
    });
    expect(e.summary).toContain("last new connection routed to it at +0.31 s");
  });

  it("a pod that carried nothing (no open connection, no answer in the second before) was not exercised", () => {
    const attribution = proxy([
      { clientPort: 1, pod: "a", openedAt: T - 5000, closedAt: T - 4000 },
      { clientPort: 2, pod: "b", openedAt: T - 3000 },
    ]);
    const requests = attributeRequests(
      [
        { sentAt: T - 4600, at: T - 4500, ok: true, clientPort: 1 },
        { sentAt: T - 100, at: T - 50, ok: true, clientPort: 2 },
      ],
      attribution,
    );
    const e = exerciseEvidence({ pod: "a", deleteAt: T, attribution, requests });
    expect(e).toMatchObject({ status: "not-exercised", openConnectionsAtDelete: 0, servedInSecondBeforeDelete: 0 });
    expect(e.lastNewConnectionMs).toBe(-5000);
    expect(e.summary).toContain("NOT exercised");
  });

  it("answers named by x-served-by alone are evidence (an existing cluster without node access)", () => {
    const requests = attributeRequests([{ sentAt: T - 300, at: T - 200, ok: true, pod: "a/app" }], undefined);
    expect(exerciseEvidence({ pod: "a", deleteAt: T, requests })).toMatchObject({
      status: "exercised",
      sources: ["x-served-by"],
      servedInSecondBeforeDelete: 1,
    });
    expect(exerciseEvidence({ pod: "b", deleteAt: T, requests }).status).toBe("not-exercised");
  });

  it("nothing to measure with: unproven, never exercised", () => {
    const requests = attributeRequests([{ sentAt: T - 300, at: T - 200, ok: true }], undefined);
    const e = exerciseEvidence({ pod: "a", deleteAt: T, requests });
    expect(e.status).toBe("unproven");
    expect(e.summary).toContain("unproven");
  });

  it("on kind, conntrack alone proves it through open connections", () => {
    const attribution: TrafficAttribution = {
      source: "conntrack",
      joinableByClientPort: false,
      connections: [{ clientPort: 40000, pod: "a", openedAt: T - 2000 }],
    };
    const requests = attributeRequests([{ sentAt: T - 300, at: T - 200, ok: true, clientPort: 5 }], attribution);
    const e = exerciseEvidence({ pod: "a", deleteAt: T, attribution, requests });
    expect(e).toMatchObject({ status: "exercised", openConnectionsAtDelete: 1, sources: ["conntrack"] });
    expect(e.servedInSecondBeforeDelete).toBeUndefined();
  });
});

describe("exerciseEvidence with the pod's own socket table", () => {
  it("proves the exercise when no routing record exists, and is reported beside one", () => {
    const requests = attributeRequests([{ sentAt: T - 300, at: T - 200, ok: true }], undefined);
    expect(exerciseEvidence({ pod: "a", deleteAt: T, requests, socketTableAtDelete: 3 })).toMatchObject({
      status: "exercised",
      sources: ["socket-table"],
      openConnectionsAtDelete: 3,
      socketTableAtDelete: 3,
    });
    expect(exerciseEvidence({ pod: "a", deleteAt: T, requests, socketTableAtDelete: 0 }).status).toBe("not-exercised");
    const attribution = proxy([{ clientPort: 1, pod: "a", openedAt: T - 10 }]);
    const both = exerciseEvidence({ pod: "a", deleteAt: T, attribution, requests, socketTableAtDelete: 2 });
    expect(both).toMatchObject({ openConnectionsAtDelete: 1, socketTableAtDelete: 2 });
    expect(both.summary).toContain("socket table held 2");
  });
});

describe("exerciseEvidence from the load's summary (an in-cluster load reports no single requests)", () => {
  const servedBy = [
    { pod: "a/app", count: 300, first: T - 5000, last: T + 2100 },
    { pod: "b/app", count: 40, first: T - 5000, last: T - 3000 },
    { pod: "(unknown)", count: 5, first: T - 5000, last: T + 1 },
  ];

  it("answers named by x-served-by that spanned the delete prove it", () => {
    const e = exerciseEvidence({ pod: "a", deleteAt: T, requests: [], servedBy });
    expect(e).toMatchObject({
      status: "exercised",
      servedAroundDelete: true,
      servedTotal: 300,
      sources: ["x-served-by"],
    });
  });

  it("a pod whose answers stopped long before the delete, or that never answered, was not exercised", () => {
    expect(exerciseEvidence({ pod: "b", deleteAt: T, requests: [], servedBy }).status).toBe("not-exercised");
    expect(exerciseEvidence({ pod: "c", deleteAt: T, requests: [], servedBy })).toMatchObject({
      status: "not-exercised",
      servedTotal: 0,
    });
  });

  it("answers nobody named prove nothing", () => {
    const unnamed = [{ pod: "(unknown)", count: 500, first: T - 5000, last: T + 2000 }];
    expect(exerciseEvidence({ pod: "a", deleteAt: T, requests: [], servedBy: unnamed }).status).toBe("unproven");
  });

  it("single attributed requests take precedence over the summary", () => {
    const requests = attributeRequests([{ sentAt: T - 5000, at: T - 4900, ok: true, pod: "a/app" }], undefined);
    const e = exerciseEvidence({ pod: "a", deleteAt: T, requests, servedBy });
    expect(e.servedAroundDelete).toBeUndefined();
    expect(e.status).toBe("not-exercised");
  });
});

describe("busiestPods", () => {
  it("picks the pods with the most open connections, then the most recent answers, then by name", () => {
    const attribution = proxy([
      { clientPort: 1, pod: "b", openedAt: T - 100 },
      { clientPort: 2, pod: "b", openedAt: T - 100 },
      { clientPort: 3, pod: "c", openedAt: T - 100 },
      { clientPort: 4, pod: "a", openedAt: T - 900, closedAt: T - 800 },
    ]);
    expect(busiestPods(["a", "b", "c"], 1, T, attribution, []).pods).toEqual(["b"]);
    expect(busiestPods(["a", "b", "c"], 2, T, attribution, []).pods).toEqual(["b", "c"]);
    const recent = attributeRequests([{ sentAt: T - 50, at: T - 40, ok: true, pod: "a" }], undefined);
    expect(busiestPods(["a", "d"], 1, T, undefined, recent).pods).toEqual(["a"]);
    expect(busiestPods(["d", "a"], 1, T, undefined, []).basis).toContain("first by name");
  });
});

describe("warm-up: answeredPods", () => {
  it("joins probes to pods by port, or by x-served-by", () => {
    const attribution = proxy([
      { clientPort: 1, pod: "a", openedAt: T, closedAt: T + 5 },
      { clientPort: 2, pod: "b", openedAt: T + 10, closedAt: T + 15 },
    ]);
    const probes = [
      { sentAt: T, at: T + 4, ok: true, clientPort: 1 },
      { sentAt: T + 10, at: T + 14, ok: false, clientPort: 2 },
    ];
    expect([...answeredPods(probes, attribution, T)]).toEqual(["a"]);
    expect([...answeredPods([{ sentAt: T, at: T + 1, ok: true, pod: "z/app" }], undefined, T)]).toEqual(["z"]);
  });

  it("kind (not joinable): a pod counts once a connection was routed to it and answers followed with no failure", () => {
    const attribution: TrafficAttribution = {
      source: "conntrack",
      joinableByClientPort: false,
      connections: [
        { clientPort: 9, pod: "a", openedAt: T + 1 },
        { clientPort: 8, pod: "b", openedAt: T + 20 },
      ],
    };
    const probes = [
      { sentAt: T, at: T + 5, ok: true },
      { sentAt: T + 19, at: T + 25, ok: false },
    ];
    expect([...answeredPods(probes, attribution, T)]).toEqual([]);
    expect([...answeredPods(probes.slice(0, 1), attribution, T)]).toEqual(["a"]);
  });
});
