// Builds the sample images (one per entrypoint style) with testcontainers' image builder
// (dockerode's build API: no buildx needed), tagged graceful-e2e/<style>:<context hash> so an
// image is built once and rebuilt exactly when its context or base image changes.
import { execa } from "execa";
import type { ResolvedImage } from "../model/backend.js";
import type { ImageRef, ImageStyle } from "../scenario/schema.js";
import { imagesDir } from "../util/paths.js";
import { configureTestcontainersOffline } from "../util/testcontainers-env.js";
import { ensureAppVendor } from "./app-vendor.js";
import { BASE_IMAGE_ENV, type BaseImage, registryReachable, resolveBaseImage } from "./base.js";
import { contextHash } from "./context-hash.js";
import { inspectImage, type LocalImage } from "./inspect.js";

export const IMAGE_REPOSITORY_PREFIX = "graceful-e2e";
const OUTPUT_TAIL_LINES = 25;

export interface EnsureImagesOptions {
  onProgress?: (line: string) => void;
  /** Rebuild even when the tag exists. */
  force?: boolean;
  /** A base image already chosen by the caller (default: resolveBaseImage()). */
  base?: BaseImage;
}

export type BuildStep =
  | "resolve base image"
  | "pull base image"
  | "hash build context"
  | "docker build"
  | "verify image";

export class ImageBuildError extends Error {
  override name = "ImageBuildError";
  constructor(
    readonly style: string,
    readonly step: BuildStep,
    message: string,
    /** The last lines of the build output, when there was any. */
    readonly outputTail: string[] = [],
  ) {
    super(
      `image ${style}: ${step} failed: ${message}${
        outputTail.length > 0
          ? `\n--- last ${outputTail.length} lines of the build output ---\n${outputTail.join("\n")}`
          : ""
      }`,
    );
  }
}

export function styleImageTag(style: string, hash: string): string {
  return `${IMAGE_REPOSITORY_PREFIX}/${style}:${hash}`;
}

const errorMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));

// Images this process found in the engine (the base, the style tags): every scenario of a run asks for
// its style, and each `docker image inspect` is a process of its own (0.1–0.3 s on a busy 2-core
// machine, twice per scenario). A tag names its content (context hash), so a found tag stays right;
// only an image removed while the process runs goes unnoticed here (the container's start then fails
// with the engine's "no such image"). A failed or empty lookup is not kept: the next one asks again.
const knownImages = new Map<string, LocalImage>();

async function knownImage(ref: string): Promise<LocalImage | undefined> {
  const known = knownImages.get(ref);
  if (known) return known;
  const info = await inspectImage(ref);
  if (info) knownImages.set(ref, info);
  return info;
}

// One base image choice per process and GRACEFUL_E2E_BASE_IMAGE value: every scenario asks.
const baseChoices = new Map<string, Promise<BaseImage>>();

function chooseBase(onProgress?: (line: string) => void): Promise<BaseImage> {
  const key = process.env[BASE_IMAGE_ENV] ?? "";
  let choice = baseChoices.get(key);
  if (!choice) {
    choice = resolveBaseImage({ onProgress }).then((base) => {
      onProgress?.(`base image: ${base.ref} (${base.kind}: ${base.reason})`);
      return base;
    });
    // A failed choice is not cached: the next call tries again.
    choice.catch(() => baseChoices.delete(key));
    baseChoices.set(key, choice);
  }
  return choice;
}

/**
 * Makes sure one image per style exists locally (building what is missing) and returns them in
 * the order asked for.
 */
export async function ensureStyleImages(
  styles: readonly ImageStyle[],
  opts: EnsureImagesOptions = {},
): Promise<ResolvedImage[]> {
  const { onProgress } = opts;
  if (styles.length === 0) return [];
  const unique = [...new Set(styles)];

  let base: BaseImage;
  try {
    base = opts.base ?? (await chooseBase(onProgress));
  } catch (err) {
    throw new ImageBuildError(unique.join(", "), "resolve base image", errorMessage(err));
  }

  // Before testcontainers is first used: no reaper (pulled from Docker Hub) unless it can be pulled.
  configureTestcontainersOffline(base.kind === "local" ? false : await registryReachable());

  let baseInfo = await knownImage(base.ref);
  if (!baseInfo) {
    // Pull first so the base image ID is part of the hash from the first build on.
    onProgress?.(`pulling base image ${base.ref}...`);
    try {
      const { getContainerRuntimeClient, ImageName } = await import("testcontainers");
      const client = await getContainerRuntimeClient();
      await client.image.pull(ImageName.fromString(base.ref));
    } catch (err) {
      throw new ImageBuildError(unique.join(", "), "pull base image", `${base.ref}: ${errorMessage(err)}`);
    }
    baseInfo = await knownImage(base.ref);
    if (!baseInfo) {
      throw new ImageBuildError(
        unique.join(", "),
        "pull base image",
        `${base.ref} is still not present after the pull (registry unreachable? set ${BASE_IMAGE_ENV}=local to build offline)`,
      );
    }
  }

  const context = imagesDir();
  // images/app/vendor/protocols.cjs (APP_PROTOCOL=http2|grpc|websocket): part of every style's context.
  await ensureAppVendor({ imagesDir: context, onProgress });
  const built = new Map<ImageStyle, ResolvedImage>();
  // One at a time: builds share the machine with everything else and their output stays readable.
  for (const style of unique) {
    let hash: string;
    try {
      hash = await contextHash({ imagesDir: context, style, baseRef: base.ref, baseId: baseInfo.id });
    } catch (err) {
      throw new ImageBuildError(style, "hash build context", errorMessage(err));
    }
    const ref = styleImageTag(style, hash);
    if (!opts.force && (await knownImage(ref))) {
      onProgress?.(`image ${style}: ${ref} (cached)`);
    } else {
      onProgress?.(`image ${style}: building ${ref} FROM ${base.ref}...`);
      const started = Date.now();
      await buildStyleImage(context, style, ref, base.ref, onProgress);
      onProgress?.(`image ${style}: built ${ref} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      knownImages.delete(ref);
    }
    built.set(style, { style, ref });
  }
  return styles.map((s) => built.get(s) as ResolvedImage);
}

async function buildStyleImage(
  context: string,
  style: string,
  ref: string,
  baseRef: string,
  onProgress?: (line: string) => void,
): Promise<void> {
  const tail: string[] = [];
  let buildError: string | undefined;
  let stepContainer: string | undefined;
  const unsubscribe = await subscribeBuildOutput(ref, (raw) => {
    const parsed = parseBuildLine(raw);
    if (parsed.error) buildError ??= parsed.error;
    for (const line of parsed.lines) {
      stepContainer = /^ ---> Running in ([0-9a-f]{12,64})$/.exec(line)?.[1] ?? stepContainer;
      tail.push(line);
      if (tail.length > OUTPUT_TAIL_LINES) tail.shift();
      onProgress?.(`[${style}] ${line}`);
    }
  });
  try {
    const { GenericContainer } = await import("testcontainers");
    await GenericContainer.fromDockerfile(context, `${style}/Dockerfile`)
      .withBuildArgs({ BASE_IMAGE: baseRef })
      .build(ref, { deleteOnExit: false });
  } catch (err) {
    buildError ??= errorMessage(err);
  } finally {
    unsubscribe();
  }
  // testcontainers ends the build when the output stream ends, error or not: a failed step only
  // shows in the output (and, with --force, the previous image may still carry the tag).
  if (buildError) {
    // The legacy builder keeps the container of a failed RUN step (testcontainers cannot ask for
    // --force-rm): remove it, it is ours.
    if (stepContainer) await execa("docker", ["rm", "-f", stepContainer], { reject: false, stdin: "ignore" });
    throw new ImageBuildError(style, "docker build", buildError, tail);
  }
  const image = await inspectImage(ref).catch((err: unknown) => {
    throw new ImageBuildError(style, "verify image", errorMessage(err), tail);
  });
  if (!image) throw new ImageBuildError(style, "verify image", `${ref} does not exist after the build`, tail);
  if (image.labels[`${IMAGE_REPOSITORY_PREFIX}.style`] !== style) {
    throw new ImageBuildError(
      style,
      "verify image",
      `${ref} lacks the label ${IMAGE_REPOSITORY_PREFIX}.style=${style} (check images/${style}/Dockerfile)`,
      tail,
    );
  }
}

/** One line of dockerode's build stream (JSON) as text lines and/or an error message. */
export function parseBuildLine(raw: string): { lines: string[]; error?: string } {
  const text = raw.trim();
  if (text === "") return { lines: [] };
  let msg: {
    stream?: unknown;
    status?: unknown;
    progress?: unknown;
    error?: unknown;
    errorDetail?: { message?: unknown };
  };
  try {
    msg = JSON.parse(text) as typeof msg;
  } catch {
    return { lines: [text] };
  }
  const lines: string[] = [];
  const rawError =
    typeof msg.error === "string"
      ? msg.error
      : typeof msg.errorDetail?.message === "string"
        ? msg.errorDetail.message
        : undefined;
  const error = rawError === undefined ? undefined : stripAnsi(rawError).trim();
  if (typeof msg.stream === "string") {
    for (const l of stripAnsi(msg.stream).split("\n")) if (l.trim() !== "") lines.push(l.trimEnd());
  } else if (typeof msg.status === "string") {
    lines.push(typeof msg.progress === "string" ? `${msg.status} ${msg.progress}` : msg.status);
  }
  if (error) lines.push(`ERROR: ${error}`);
  return error ? { lines, error } : { lines };
}

// The legacy builder colours a RUN step's stderr.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching terminal escape sequences is the point
const ANSI_ESCAPE = /\u001b\[[0-9;]*[A-Za-z]/g;
function stripAnsi(text: string): string {
  return text.replace(ANSI_ESCAPE, "");
}

// testcontainers hands every line of the build stream to its "testcontainers:build" logger (and
// drops it unless DEBUG enables that namespace); it does not report build errors itself. The
// logger is wrapped once so the lines reach the build that produced them (keyed by image name).
// The logger's behaviour for the user's DEBUG setting is kept.
type BuildLineListener = (line: string) => void;
interface TestcontainersLogger {
  enabled(): boolean;
  trace(message: string, options?: { imageName?: string }): void;
}
const buildListeners = new Map<string, BuildLineListener>();
let buildLogHooked: Promise<boolean> | undefined;

function hookBuildLog(): Promise<boolean> {
  buildLogHooked ??= (async () => {
    try {
      const mod = (await import("testcontainers/build/common/logger.js")) as { buildLog?: unknown };
      const logger = mod.buildLog as Partial<TestcontainersLogger> | undefined;
      if (!logger || typeof logger.enabled !== "function" || typeof logger.trace !== "function") return false;
      const originalEnabled = logger.enabled.bind(logger);
      const originalTrace = logger.trace.bind(logger);
      logger.enabled = () => true;
      logger.trace = (message: string, options?: { imageName?: string }) => {
        const listener = options?.imageName ? buildListeners.get(options.imageName) : undefined;
        if (listener) {
          try {
            listener(message);
          } catch {
            // a progress callback must not break the build stream
          }
        }
        if (originalEnabled()) originalTrace(message, options);
      };
      return true;
    } catch {
      return false;
    }
  })();
  return buildLogHooked;
}

async function subscribeBuildOutput(ref: string, listener: BuildLineListener): Promise<() => void> {
  const hooked = await hookBuildLog();
  if (!hooked) {
    listener(
      JSON.stringify({ stream: "(build output unavailable: testcontainers' build logger has an unexpected shape)" }),
    );
    return () => {};
  }
  // testcontainers names the image as ImageName.fromString(ref).string: the same text for a
  // graceful-e2e/<style>:<hash> reference.
  buildListeners.set(ref, listener);
  return () => buildListeners.delete(ref);
}

/**
 * The image a scenario runs: a style is built when missing (ensureStyleImages); an image
 * reference is used as is and must already exist locally.
 */
/** The entrypoint styles these images use, each once, in order (what a run of them must build and load). */
export function stylesOf(images: ReadonlyArray<ImageRef | undefined>): ImageStyle[] {
  // A workload or target scenario (no image) uses none of the styles.
  return [...new Set(images.flatMap((i) => (i !== undefined && "style" in i ? [i.style] : [])))];
}

export async function imageForScenario(image: ImageRef, opts: EnsureImagesOptions = {}): Promise<ResolvedImage> {
  if ("style" in image) {
    const [resolved] = await ensureStyleImages([image.style], opts);
    if (!resolved) throw new ImageBuildError(image.style, "verify image", "no image was returned");
    return resolved;
  }
  let info: Awaited<ReturnType<typeof inspectImage>>;
  try {
    info = await inspectImage(image.ref);
  } catch (err) {
    throw new Error(`cannot check the scenario's image ${image.ref}: ${errorMessage(err)}`);
  }
  if (!info) {
    throw new Error(
      `the scenario's image ${image.ref} does not exist locally: pull or build it first (docker pull ${image.ref}), or use image.style`,
    );
  }
  return { style: "custom", ref: image.ref };
}
