// Teardown that must run on success, failure, SIGINT and SIGTERM. Steps register while they
// own something and deregister once they have cleaned it up themselves.
//
// On a signal, two things happen at once: interruptSignal() aborts (every running scenario stops
// its current step — sleep, deploy, disruption, load — and starts its own teardown), and the
// registered cleanups run, most recent first; each scenario's cleanup waits for that teardown.
// Only then does the process exit (130 for SIGINT, 143 for SIGTERM).
type Cleanup = () => Promise<void>;

const pending = new Map<number, { label: string; fn: Cleanup }>();
let nextId = 0;
let installed = false;
let interrupted: NodeJS.Signals | undefined;
let interruptController = new AbortController();
let cleanupDone: Promise<void> | undefined;

export function registerCleanup(label: string, fn: Cleanup): () => void {
  const id = nextId++;
  pending.set(id, { label, fn });
  return () => pending.delete(id);
}

export function interruptedBy(): NodeJS.Signals | undefined {
  return interrupted;
}

/** Aborted (with an InterruptedError as reason) when SIGINT/SIGTERM arrives. */
export function interruptSignal(): AbortSignal {
  return interruptController.signal;
}

export class InterruptedError extends Error {
  override name = "InterruptedError";
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
  }
}

/** Exit code for an interruption: 130 for SIGINT, 143 for SIGTERM (128 + signal number). */
export function exitCodeFor(signal: NodeJS.Signals): number {
  return signal === "SIGINT" ? 130 : 143;
}

/** Resolves once the cleanup started by a signal has finished (undefined when no signal came). */
export function interruptCleanupDone(): Promise<void> | undefined {
  return cleanupDone;
}

/** Runs every pending cleanup (most recent first); errors are reported, not thrown. Returns how many failed. */
export async function runCleanups(log: (line: string) => void = () => {}): Promise<number> {
  const entries = [...pending.entries()].reverse();
  pending.clear();
  let failed = 0;
  for (const [, { label, fn }] of entries) {
    try {
      log(`cleaning up: ${label}`);
      await fn();
    } catch (err) {
      failed++;
      log(`cleanup of ${label} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return failed;
}

/** What a signal does; exported for tests (which must not send real signals to the test runner). */
export function handleInterrupt(signal: NodeJS.Signals, log: (line: string) => void): Promise<void> {
  if (cleanupDone) return cleanupDone;
  interrupted = signal;
  log(`${signal} received: tearing down what this run started...`);
  interruptController.abort(new InterruptedError(signal));
  cleanupDone = runCleanups(log).then((failed) => {
    log(
      failed === 0
        ? `cleaned up after ${signal}: everything this run started is torn down`
        : `cleanup after ${signal}: ${failed} step(s) failed; 'graceful-e2e clean' removes what is left`,
    );
  });
  return cleanupDone;
}

/** On SIGINT/SIGTERM: tear everything down, then exit 130/143. A second signal exits at once. */
export function installSignalHandlers(log: (line: string) => void): void {
  if (installed) return;
  installed = true;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) {
      log(`${signal} again: exiting without waiting for cleanup (run 'graceful-e2e clean' for leftovers)`);
      process.exit(exitCodeFor(signal));
    }
    void handleInterrupt(signal, log).finally(() => process.exit(exitCodeFor(signal)));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}

/** Tests only: forget a previous interruption. */
export function resetInterruptForTests(): void {
  interrupted = undefined;
  cleanupDone = undefined;
  interruptController = new AbortController();
  pending.clear();
}
