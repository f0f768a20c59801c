// What the protocol load tests share: cleanup after each test, bounded waits, a load started with
// the protocol's small defaults, and the accounting checks every result must pass.
import { afterEach, expect } from "vitest";
import { resultProblems } from "../../src/load/accounting.js";
import { startLoad } from "../../src/load/generator.js";
import type { LoadRun, LoadRunResult } from "../../src/load/types.js";
import { LOAD_UNITS, type LoadProtocol } from "../../src/load/types.js";
import { type LoadOptions, LoadSpec } from "../../src/scenario/schema.js";

export const HOST = "127.0.0.1";

/** Registers the afterEach that runs every cleanup pushed during a test, last first. */
export function cleanupList(): Array<() => Promise<void> | void> {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()?.();
  });
  return cleanups;
}

export async function waitFor(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** options(), load() and expectSound() for one protocol; no fresh-connection stream unless asked. */
export function protocolLoad(
  protocol: Exclude<LoadProtocol, "http1">,
  defaults: Record<string, unknown>,
  cleanups: Array<() => Promise<void> | void>,
) {
  const options = (o: Record<string, unknown> = {}): LoadOptions =>
    LoadSpec.parse({
      protocol,
      connections: 2,
      requestTimeoutSeconds: 5,
      freshConnectionIntervalMs: 0,
      ...defaults,
      ...o,
    });
  const load = (port: number, o: Record<string, unknown> = {}): LoadRun => {
    const run = startLoad({ host: HOST, port }, options(o));
    cleanups.push(async () => {
      await run.stop().catch(() => {});
    });
    return run;
  };
  const expectSound = (r: LoadRunResult) => {
    expect(resultProblems(r)).toEqual([]);
    expect(r.sent).toBe(r.succeeded + r.failed + r.inFlightAtEnd);
    expect(r.protocol).toBe(protocol);
    expect(r.unit).toBe(LOAD_UNITS[protocol]);
    // Paced (the default): every unit due on the long-lived connections was sent (on time or late)
    // or counted as not sent. (websocket paces itself: its due is sent + not sent by definition.)
    if (r.pacing?.mode === "paced" && protocol !== "websocket") {
      expect(r.sent - r.fresh.sent).toBe((r.pacing.due ?? 0) - r.pacing.notSent);
    }
  };
  return { options, load, expectSound };
}

/**
 * Paced at 100/s: the count follows the clock, not the server (closed loop sends thousands a second),
 * each unit counted once; then rate max on the same server: the closed loop, reported as such.
 */
export async function expectPacedThenMax(
  port: number,
  answered: () => number,
  load: (port: number, o?: Record<string, unknown>) => LoadRun,
  expectSound: (r: LoadRunResult) => void,
): Promise<void> {
  const run = load(port, { rate: 100 });
  await waitFor("40 answers", () => answered() >= 40);
  const r = await run.stop();
  expectSound(r);
  expect(r.pacing).toMatchObject({ mode: "paced", rateAsked: 100 });
  expect(r.sent).toBeLessThanOrEqual((100 * (r.endedAt - r.startedAt)) / 1000 + 20);
  const max = load(port, { rate: "max" });
  await waitFor("200 more answers", () => answered() >= r.succeeded + 200);
  const m = await max.stop();
  expectSound(m);
  expect(m.pacing).toMatchObject({ mode: "max", late: 0, notSent: 0 });
}
