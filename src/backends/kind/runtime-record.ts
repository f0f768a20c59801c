// The node runtime's own record of one container's exit, read on demand when containerd's event stream
// did not deliver it: `docker exec <node> crictl inspect -o json <id>` (argument arrays). crictl prints
// {"status": <CRI ContainerStatus>, "info": …}: status.state "CONTAINER_EXITED", status.exitCode (always
// printed, 0 included), status.finishedAt as RFC3339Nano (cri-tools marshalContainerStatus: the zero time
// "0001-01-01T00:00:00Z" until the container has exited). finishedAt is containerd's own exit time (ns),
// the same record the /tasks/exit event carries: a backfilled exit is a runtime-sourced exit.

import { CommandError, type CommandRunner } from "../../k8s/command.js";
import type { RuntimeBackfill } from "../../k8s/driver.js";
import { containerIdOf } from "../../observe/node-proc.js";
import { parseRfc3339 } from "../../util/time.js";

export interface CrictlExit {
  state: string;
  /** Only for CONTAINER_EXITED. */
  exitCode?: number;
  /** Epoch ms (fraction cut to ms); only for CONTAINER_EXITED. */
  finishedAt?: number;
}

/** Parses `crictl inspect -o json` for the container's state and exit (pure); throws on another shape. */
export function parseCrictlExit(json: string): CrictlExit {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch {
    throw new Error("crictl inspect did not print JSON");
  }
  const status = (data as { status?: Record<string, unknown> } | null)?.status;
  if (!status || typeof status.state !== "string") throw new Error("crictl inspect printed no status.state");
  if (status.state !== "CONTAINER_EXITED") return { state: status.state };
  const finishedAt = parseRfc3339(status.finishedAt);
  if (typeof status.exitCode !== "number" || finishedAt === undefined) {
    throw new Error(
      `crictl inspect: CONTAINER_EXITED without a usable exitCode/finishedAt (${JSON.stringify(status.exitCode)}, ${JSON.stringify(status.finishedAt)})`,
    );
  }
  return { state: status.state, exitCode: status.exitCode, finishedAt };
}

/**
 * Reads one container's exit from its node's runtime. Never throws: a container still running, already
 * removed (the kubelet removes a deleted pod's containers within seconds), an id that is not one or a
 * failed command is a `missing` with the reason.
 */
export async function readExitOnNode(
  run: CommandRunner,
  node: string,
  containerId: string,
  receivedAt: number,
): Promise<RuntimeBackfill> {
  let id: string;
  try {
    id = containerIdOf(containerId);
  } catch (err) {
    return { missing: err instanceof Error ? err.message : String(err) };
  }
  const command = `docker exec ${node} crictl inspect -o json ${id}`;
  let stdout: string;
  try {
    ({ stdout } = await run("docker", ["exec", node, "crictl", "inspect", "-o", "json", id]));
  } catch (err) {
    const why =
      err instanceof CommandError
        ? err.stderr.trim().split("\n").slice(-1)[0] || `exit ${err.exitCode ?? "?"}`
        : err instanceof Error
          ? err.message
          : String(err);
    return { missing: `${command} failed: ${why}` };
  }
  let exit: CrictlExit;
  try {
    exit = parseCrictlExit(stdout);
  } catch (err) {
    return { missing: `${command}: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (exit.exitCode === undefined || exit.finishedAt === undefined) {
    return { missing: `${command}: the container is ${exit.state}, not exited` };
  }
  return {
    entry: {
      source: "runtime",
      receivedAt,
      origin: `containerd on node ${node}, read with crictl inspect (the event stream had not delivered the exit)`,
      event: "exit",
      at: exit.finishedAt,
      containerId: id,
      taskId: id,
      exitStatus: exit.exitCode,
    },
  };
}
