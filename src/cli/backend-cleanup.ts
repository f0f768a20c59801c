// The backend's part of a Ctrl-C, registered once its runs are about to start.
import type { Backend } from "../backends/backend.js";
import { close, drain, drainsInBackground, isClosable } from "../backends/capabilities.js";
import { registerCleanup } from "../util/cleanup.js";

/**
 * Registers what Ctrl-C must do for the backend once every run's own teardown is done (cleanups run most
 * recent first, and the runs register after this): wait for whatever their teardowns left finishing in
 * the background (kind/existing: the namespaces being deleted), then close the backend.
 */
export function registerBackendCleanup(backend: Backend): () => void {
  if (!drainsInBackground(backend) && !isClosable(backend)) return () => {};
  return registerCleanup(`backend ${backend.name}`, async () => {
    await drain(backend);
    await close(backend);
  });
}
