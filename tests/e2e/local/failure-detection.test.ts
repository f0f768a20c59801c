// The harness must see every lost request, one at a time. The app's FAULT_AFTER_SIGTERM switch
// fails exactly the first request it receives after SIGTERM, in a scenario that otherwise drops
// nothing (exec-form, preStop sleep longer than the endpoint propagation).
import { describe, expect, it } from "vitest";
import { runInline } from "./helpers.js";

function scenario(fault: string): string {
  return `
name: single-failure-${fault}
image: { style: exec-form }
replicas: 2
env: { FAULT_AFTER_SIGTERM: ${fault} }
preStop: { type: sleep, seconds: 2 }
terminationGracePeriodSeconds: 8
load: { connections: 8, durationSeconds: 6, keepAlive: true, slowShare: 0.2, slowMs: 300 }
disruption: { action: delete, atSeconds: 2 }
expectations: { maxFailedRequests: 0 }
`;
}

describe("a single failed request is detected", () => {
  it.each([
    // Measured: Docker's userland port proxy (docker-proxy) relays the container's RST to the
    // client as an orderly close (FIN), so on the local backend a reset arrives as "closed".
    { fault: "reset", kind: "closed" },
    { fault: "close", kind: "closed" },
    { fault: "500", kind: "non-2xx" },
  ])("fault $fault → exactly one $kind failure, and the zero-failure verdict fails", async ({ fault, kind }) => {
    const r = await runInline(scenario(fault));
    expect(r.error, r.error).toBeUndefined();
    const load = r.load!;
    expect(load.failed).toBe(1);
    expect(load.failures).toHaveLength(1);
    expect(load.failures[0]!.kind).toBe(kind);
    expect(load.sent).toBe(load.succeeded + load.failed + load.inFlightAtEnd);
    const verdict = r.verdicts.find((v) => v.name === "failed requests");
    expect(verdict).toMatchObject({ pass: false, actual: "1" });
    expect(r.pass).toBe(false);
    // The injected fault is logged by the app; the failure follows SIGTERM.
    const sigterm = r.timeline!.entries.find((e) => e.kind === "sigterm-sent")!;
    expect(load.failures[0]!.at).toBeGreaterThanOrEqual(sigterm.at);
  });
});
