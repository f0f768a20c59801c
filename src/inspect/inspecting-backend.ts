// A Backend wrapper that reads every pod's process tree right after deploy — once every replica
// is ready and before the load starts or any signal is sent. Only the local backend runs the
// containers on this machine's Docker engine; on the others the inspection is skipped.
import { getContainerRuntimeClient } from "testcontainers";
import type { Backend, Deployment, DisruptionOutcome, ResolvedImage } from "../backends/backend.js";
import type { EventSink } from "../observe/events.js";
import type { Disruption, Scenario } from "../scenario/schema.js";
import { LABEL_ROOT, LABEL_RUN } from "../util/labels.js";
import { configureTestcontainersOffline } from "../util/testcontainers-env.js";
import { inspectProcessTree } from "./inspect.js";
import type { ProcessTreeInspection } from "./types.js";

export const LABEL_POD = `${LABEL_ROOT}.pod`;

/** The local backend's containers of one run, by pod (replica) name. */
export async function containersOfRun(runId: string): Promise<Map<string, string>> {
  configureTestcontainersOffline();
  const client = await getContainerRuntimeClient();
  const list = await client.container.dockerode.listContainers({
    all: true,
    filters: { label: [`${LABEL_RUN}=${runId}`] },
  });
  const byPod = new Map<string, string>();
  for (const c of list) {
    const pod = c.Labels[LABEL_POD];
    if (pod) byPod.set(pod, c.Id);
  }
  return byPod;
}

export class InspectingBackend implements Backend {
  /** Inspection per pod name, filled at deploy. */
  readonly inspections = new Map<string, ProcessTreeInspection>();
  readonly notes: string[] = [];

  constructor(
    private readonly inner: Backend,
    private readonly onInspected?: (deployment: Deployment, inspections: Map<string, ProcessTreeInspection>) => void,
  ) {}

  get name() {
    return this.inner.name;
  }

  prepare(images: ResolvedImage[]): Promise<void> {
    return this.inner.prepare(images);
  }

  async deploy(scenario: Scenario, image: ResolvedImage, sink: EventSink, runId: string): Promise<Deployment> {
    const deployment = await this.inner.deploy(scenario, image, sink, runId);
    if (this.inner.name !== "local") {
      this.notes.push(`process-tree inspection needs the local backend (this run: ${this.inner.name})`);
    } else {
      const containers = await containersOfRun(runId);
      for (const pod of deployment.pods) {
        const id = containers.get(pod);
        if (id) this.inspections.set(pod, await inspectProcessTree(id));
        else this.notes.push(`no container found for ${pod}`);
      }
    }
    this.onInspected?.(deployment, this.inspections);
    return deployment;
  }

  disrupt(deployment: Deployment, disruption: Disruption): Promise<DisruptionOutcome> {
    return this.inner.disrupt(deployment, disruption);
  }

  teardown(deployment: Deployment | undefined, runId: string): Promise<void> {
    return this.inner.teardown(deployment, runId);
  }

  async close(): Promise<unknown> {
    return this.inner.close?.();
  }
}
