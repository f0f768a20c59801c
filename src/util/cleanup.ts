// Teardown that must run on success, failure, SIGINT and SIGTERM. Steps register while they
// own something and deregister once they have cleaned it up themselves.
type Cleanup = () => Promise<void>;

const pending = new Map<number, { label: string; fn: Cleanup }>();
let nextId = 0;
let installed = false;
let interrupted: NodeJS.Signals | undefined;

export function registerCleanup(label: string, fn: Cleanup): () => void {
  const id = nextId++;
  pending.set(id, { label, fn });
  return () => pending.delete(id);
}

export function interruptedBy(): NodeJS.Signals | undefined {
  return interrupted;
}

/** Runs every pending cleanup (most recent first); errors are reported, not thrown. */
export async function runCleanups(log: (line: string) => void = () => {}): Promise<void> {
  const entries = [...pending.entries()].reverse();
  pending.clear();
  for (const [, { label, fn }] of entries) {
    try {
      log(`cleaning up: ${label}`);
      await fn();
    } catch (err) {
      log(`cleanup of ${label} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

/** On SIGINT/SIGTERM: tear everything down, then exit 130/143. A second signal exits at once. */
export function installSignalHandlers(log: (line: string) => void): void {
  if (installed) return;
  installed = true;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) {
      log(`${signal} again: exiting without waiting for cleanup (run 'graceful-e2e clean')`);
      process.exit(signal === "SIGINT" ? 130 : 143);
    }
    interrupted = signal;
    log(`${signal} received: tearing down what this run started...`);
    void runCleanups(log).finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}
