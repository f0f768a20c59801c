// The machine a benchmark ran on, for its report.
import os from "node:os";
import { getContainerRuntimeClient } from "testcontainers";
import { configureTestcontainersOffline } from "../util/testcontainers-env.js";

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  platform: string;
  kernel: string;
  docker?: string;
}

export async function machineInfo(): Promise<MachineInfo> {
  let docker: string | undefined;
  try {
    configureTestcontainersOffline();
    const client = await getContainerRuntimeClient();
    const v = (await client.container.dockerode.version()) as { Version?: string };
    docker = v.Version;
  } catch {
    docker = undefined;
  }
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? "?",
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
    kernel: os.release(),
    ...(docker ? { docker } : {}),
  };
}

export function formatMachine(m: MachineInfo): string {
  return `${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB, Node ${m.node}, ${m.platform} ${m.kernel}, Docker ${m.docker ?? "unreachable"}`;
}
