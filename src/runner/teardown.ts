// The teardown step, registered before anything starts and run whatever happened: the workload's own
// teardown (or a sweep by run label when deploy never returned a handle), then — when a backend step was
// still in flight at an early end — a second sweep once it settled (bounded), so whatever it created
// after the first one goes too.

import { errorText } from "../util/errors.js";
import { LABEL_RUN } from "../util/labels.js";
import { IN_FLIGHT_SETTLE_MS, type RunContext } from "./context.js";
import { LimitExceeded } from "./limits.js";

/** One removal, bounded by the teardown limit; a failure is added to `problems`, never thrown. */
async function removeOnce(ctx: RunContext, problems: string[], remove: () => Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      remove(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new LimitExceeded("teardown", ctx.limits.teardown, "teardown")),
          ctx.limits.teardown,
        );
      }),
    ]);
  } catch (err) {
    problems.push(errorText(err));
  } finally {
    clearTimeout(timer);
  }
}

/** Waits (bounded) for the steps still in flight, then sweeps by run label again. */
async function sweepAfterInFlight(ctx: RunContext, problems: string[]): Promise<void> {
  const what = [...new Set(ctx.inFlight.values())].join(", ");
  ctx.progress(`teardown: waiting for the ${what} still in flight, then sweeping by run label again`);
  const pending = [...ctx.inFlight.keys()];
  let settleTimer: NodeJS.Timeout | undefined;
  const settledInTime = await Promise.race([
    Promise.all(pending).then(() => true),
    new Promise<false>((r) => {
      settleTimer = setTimeout(() => r(false), Math.min(IN_FLIGHT_SETTLE_MS, ctx.limits.teardown));
    }),
  ]);
  clearTimeout(settleTimer);
  await removeOnce(ctx, problems, () => ctx.backend.sweep(ctx.runId));
  if (!settledInTime) {
    ctx.progress(`teardown: the ${what} is still running; it is swept by run label again when it ends`);
    // For callers that keep the process alive (tests, bench): a last sweep once it settles.
    void Promise.all(pending).then(() => ctx.backend.sweep(ctx.runId).catch(() => undefined));
  }
}

/** Tears the run down; returns what is left in words (and marks the result an error), or undefined. */
export async function teardownStep(ctx: RunContext): Promise<string | undefined> {
  ctx.progress("teardown");
  const problems: string[] = [];
  const workload = ctx.workload;
  await removeOnce(ctx, problems, () => (workload ? workload.teardown() : ctx.backend.sweep(ctx.runId)));
  if (ctx.inFlight.size > 0) await sweepAfterInFlight(ctx, problems);
  if (problems.length === 0) return undefined;
  const leftovers =
    `teardown incomplete: ${[...new Set(problems)].join("; ")} — what is left carries the label ` +
    `${LABEL_RUN}=${ctx.runId}: remove it with 'graceful-e2e clean'`;
  ctx.progress(leftovers);
  const r = ctx.result;
  r.error = r.error ? `${r.error}; ${leftovers}` : leftovers;
  r.status = "error";
  r.pass = false;
  return leftovers;
}
