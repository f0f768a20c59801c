// What a run puts under test (backends/backend.ts WorkloadSource), built once in the prepare step, and
// the scenario as the pods were deployed: the figures every verdict and report is measured against.
import type { DeployedPod, WorkloadSource } from "../backends/backend.js";
import { loadsImages, preparesWorkloads } from "../backends/capabilities.js";
import { imageForScenario } from "../images/build.js";
import { ensureSampleTags } from "../images/sample-tags.js";
import type { ResolvedImage } from "../model/backend.js";
import type { Scenario } from "../scenario/schema.js";
import { loadManifestSet, manifestImages } from "../workload/index.js";
import { oneAtATime, type RunContext } from "./context.js";

/**
 * The scenario with the deployed pod's figures (replicas, grace, the app container's port, preStop and
 * stop signal): for an image scenario the same values; for a workload or target scenario what the manifests
 * (and overrides) or the running workload say, not the image defaults the schema filled in.
 */
export function asDeployed(s: Scenario, pod: DeployedPod): Scenario {
  const { stopSignal: _, ...rest } = s;
  const stopSignal = pod.stopSignal ?? (s.image !== undefined ? s.stopSignal : undefined);
  return {
    ...rest,
    port: pod.port ?? s.port,
    replicas: pod.replicas,
    terminationGracePeriodSeconds: pod.terminationGracePeriodSeconds,
    preStop: pod.preStop ?? s.preStop,
    ...(stopSignal !== undefined ? { stopSignal } : {}),
  };
}

/** The image of an image scenario, found or built and made available to the backend. */
async function imageSource(ctx: RunContext, ref: NonNullable<Scenario["image"]>): Promise<ResolvedImage> {
  const resolveImage = ctx.options.resolveImage ?? imageForScenario;
  const resolved = await resolveImage(ref, { onProgress: (l) => ctx.progress(l) });
  if (loadsImages(ctx.backend)) await ctx.backend.prepare([resolved]);
  ctx.result.image = resolved;
  return resolved;
}

/** Prepares the backend for the user's workload (kind: loads the images found locally); its notes logged. */
async function prepareWorkload(ctx: RunContext, images: string[]): Promise<void> {
  if (!preparesWorkloads(ctx.backend)) return;
  for (const note of await ctx.backend.prepareWorkload(images)) ctx.progress(note);
}

/**
 * The run's WorkloadSource: image as before; workload → the manifests the CLI read at load time (read
 * here only for callers that did not) and the images they name; target → the running workload.
 */
export async function buildSource(ctx: RunContext): Promise<WorkloadSource> {
  const s = ctx.scenario;
  return oneAtATime(async () => {
    if (s.image !== undefined) return { kind: "image", image: await imageSource(ctx, s.image) };
    if (s.workload !== undefined) {
      const set = ctx.options.manifests ?? (await loadManifestSet(s.workload, s.name));
      const images = manifestImages(set);
      for (const note of await ensureSampleTags(images, { onProgress: (l) => ctx.progress(l) })) ctx.progress(note);
      await prepareWorkload(ctx, images);
      return { kind: "manifests", set, images };
    }
    if (s.target !== undefined) {
      await prepareWorkload(ctx, []);
      return { kind: "target", target: s.target };
    }
    throw new Error(`${s.name}: no image, workload or target`);
  }, ctx.signal);
}
