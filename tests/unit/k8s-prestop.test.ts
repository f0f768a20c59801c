// How long a preStop hook is certain to sleep: one reading (k8s/prestop.ts) for the kind evidence's
// lower bounds (k8s/timeline-from-watch.ts) and the audit. Kubernetes sends SIGTERM only once the hook
// returned, so only sleeps the hook must run through, one after another, count.
import { describe, expect, it } from "vitest";
import { preStopOf, sleepSeconds } from "../../src/k8s/prestop.js";

describe("preStop hooks: one reading, the seconds a hook is certain to sleep", () => {
  it("the sleep commands an exec hook runs one after another, whatever the shell form", () => {
    expect(sleepSeconds(["sleep", "3"])).toBe(3);
    expect(sleepSeconds(["/bin/sleep", "1.5"])).toBe(1.5);
    expect(sleepSeconds(["sh", "-c", "sleep 3"])).toBe(3);
    // Before, the evidence's copy knew only a lone sleep: these gave no lower bound at all on kind.
    expect(sleepSeconds(["/bin/sh", "-c", "sleep 5 && nginx -s quit"])).toBe(5);
    expect(sleepSeconds(["sh", "-c", "sleep 2; sleep 3"])).toBe(5);
    expect(sleepSeconds(["sleep", "5s"])).toBe(5);
    expect(sleepSeconds(["sh", "-c", "sleep 1m"])).toBe(60);
  });

  it("a sleep that may not run or does not hold the hook bounds nothing", () => {
    // Before, the audit's copy summed every `sleep N` in the text: 5 for each of these.
    expect(sleepSeconds(["sh", "-c", "sleep 5 & exec drain"])).toBeUndefined();
    expect(sleepSeconds(["sh", "-c", "drain || sleep 5"])).toBeUndefined();
    expect(sleepSeconds(["sh", "-c", "sleep 5 | cat"])).toBeUndefined();
    expect(sleepSeconds(["/app/drain"])).toBeUndefined();
    expect(sleepSeconds(["sleep", "five"])).toBeUndefined();
  });

  it("handlers as the API returns them", () => {
    expect(preStopOf(null)).toEqual({ type: "none" });
    expect(preStopOf({ sleep: { seconds: 2 } })).toEqual({
      type: "sleep",
      seconds: 2,
      description: "sleep action, 2 s",
    });
    expect(preStopOf({ exec: { command: ["sh", "-c", "sleep 4 && x"] } })).toMatchObject({
      type: "exec",
      seconds: 4,
      command: ["sh", "-c", "sleep 4 && x"],
    });
    expect(preStopOf({ tcpSocket: { port: 80 } })).toMatchObject({ type: "tcpSocket" });
  });
});
