import { describe, expect, it } from "vitest";
import type { PodOutcome } from "../../src/model/pod-outcome.js";
import { exitEvidenceText } from "../../src/report/status.js";

const T = 1_700_000_000_000;
const pod = (exitEvidence: PodOutcome["exitEvidence"]): PodOutcome => ({
  pod: "app-1",
  pid1Cmdline: "/app/entrypoint.sh",
  deleteAt: T,
  sigkilled: false,
  processes: [],
  notes: [],
  ...(exitEvidence ? { exitEvidence } : {}),
});

describe("exitEvidenceText", () => {
  it("names the code's source, every source (the unreliable one marked) and the disagreement", () => {
    const text = exitEvidenceText(
      pod({
        chosen: "runtime",
        code: 143,
        at: T + 2100,
        sources: [
          { source: "runtime", code: 143, at: T + 2100, reliable: true, note: "containerd task exit" },
          { source: "api", code: 137, at: T + 2000, reason: "ContainerStatusUnknown", reliable: false, note: "API" },
        ],
        disagreement: "the API said 137 (ContainerStatusUnknown); the runtime's 143 is used",
        killedAtGraceEnd: false,
        killedWhy: "exited 5.9 s before the grace deadline",
      }),
    );
    expect(text).toBe(
      "exit 143 from the runtime — sources: runtime 143 at +2.10 s; api 137 ContainerStatusUnknown (unreliable) at +2.00 s; " +
        "the API said 137 (ContainerStatusUnknown); the runtime's 143 is used; exited 5.9 s before the grace deadline",
    );
  });

  it("says the code is unknown, and why, when no reliable source gave one", () => {
    const text = exitEvidenceText(
      pod({
        chosen: "api",
        sources: [{ source: "api", code: 137, reason: "ContainerStatusUnknown", reliable: false, note: "API" }],
        unknown: "only the API reported, with ContainerStatusUnknown",
        killedWhy: "cannot tell",
      }),
    );
    expect(text).toContain("exit unknown (only the API reported, with ContainerStatusUnknown)");
    expect(text).toContain("api 137 ContainerStatusUnknown (unreliable) at time unknown");
    expect(exitEvidenceText(pod(undefined))).toBeUndefined();
  });
});
