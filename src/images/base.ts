// Which base image the sample images build FROM: the official node image when it is here or can
// be pulled, otherwise a local Debian-based image built offline by scripts/build-local-base.sh.
import { join } from "node:path";
import { execa } from "execa";
import { packageRoot } from "../util/paths.js";
import { inspectImage, type LocalImage } from "./inspect.js";

export const OFFICIAL_BASE_IMAGE = "node:20-bookworm-slim";
/** official | local | any image reference */
export const BASE_IMAGE_ENV = "GRACEFUL_E2E_BASE_IMAGE";
export const REGISTRY_PROBE_URL = "https://registry-1.docker.io/v2/";
const REGISTRY_PROBE_TIMEOUT_MS = 3000;
/** Label scripts/build-local-base.sh puts on the image it imports. */
const LOCAL_BASE_LABEL = "graceful-e2e.base";

export type BaseImageKind = "official" | "local";

export interface BaseImage {
  ref: string;
  kind: BaseImageKind;
  /** Why this base was chosen, for the caller to print. */
  reason: string;
}

/** The side effects base selection needs; replaceable in tests. */
export interface BaseImageDeps {
  inspect: (ref: string) => Promise<LocalImage | undefined>;
  /** True when the registry gives any HTTP answer. */
  probeRegistry: () => Promise<boolean>;
  /** Builds (or finds cached) the local base image and returns its tag. */
  buildLocalBase: (onProgress?: (line: string) => void) => Promise<string>;
}

export interface ResolveBaseImageOptions {
  onProgress?: (line: string) => void;
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  deps?: Partial<BaseImageDeps>;
}

export class BaseImageError extends Error {
  override name = "BaseImageError";
}

/** Any HTTP answer from Docker Hub's registry (401 is the normal one) counts as reachable. */
export async function probeRegistry(url = REGISTRY_PROBE_URL, timeoutMs = REGISTRY_PROBE_TIMEOUT_MS): Promise<boolean> {
  try {
    const res = await fetch(url, { method: "GET", signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
    await res.body?.cancel().catch(() => {});
    return true;
  } catch {
    return false;
  }
}

let registryProbe: Promise<boolean> | undefined;

/** probeRegistry(), asked at most once per process. */
export function registryReachable(): Promise<boolean> {
  registryProbe ??= probeRegistry();
  return registryProbe;
}

/** Runs scripts/build-local-base.sh (cached by the script itself); its stdout's last line is the tag. */
export async function buildLocalBase(onProgress?: (line: string) => void): Promise<string> {
  const root = packageRoot();
  const script = join(root, "scripts", "build-local-base.sh");
  // The script takes any failed `docker image inspect` for "not built yet" and starts a
  // debootstrap download: make sure the engine answers first.
  const engine = await execa("docker", ["version", "--format", "{{.Server.Version}}"], {
    reject: false,
    stdin: "ignore",
  });
  if (engine.exitCode !== 0) {
    const why = String(engine.stderr ?? "").trim() || engine.shortMessage;
    throw new BaseImageError(`cannot build the local base image: the Docker engine does not answer (${why})`);
  }
  const sub = execa("bash", [script], { cwd: root, reject: false, stdin: "ignore" });
  const tail: string[] = [];
  for await (const line of sub.iterable({ from: "stderr" })) {
    onProgress?.(line);
    tail.push(line);
    if (tail.length > 30) tail.shift();
  }
  const result = await sub;
  const lines = String(result.stdout ?? "")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  const tag = lines.at(-1);
  if (result.exitCode !== 0 || !tag) {
    const why = result.exitCode === undefined ? result.shortMessage : `exit code ${result.exitCode}`;
    throw new BaseImageError(
      `building the local base image failed (bash ${script}: ${why})${tail.length > 0 ? `:\n${tail.join("\n")}` : ""}`,
    );
  }
  return tag;
}

const defaultDeps: BaseImageDeps = {
  inspect: inspectImage,
  probeRegistry: registryReachable,
  buildLocalBase,
};

/**
 * Chooses the base image. GRACEFUL_E2E_BASE_IMAGE forces it (official | local | an image
 * reference); otherwise: the official image if it is already here, else the official image if
 * the registry answers (the build pulls it), else the local base (built once, offline).
 */
export async function resolveBaseImage(opts: ResolveBaseImageOptions = {}): Promise<BaseImage> {
  const env = opts.env ?? process.env;
  const deps: BaseImageDeps = { ...defaultDeps, ...opts.deps };
  const forced = env[BASE_IMAGE_ENV]?.trim();

  if (forced === "official") {
    return { ref: OFFICIAL_BASE_IMAGE, kind: "official", reason: `${BASE_IMAGE_ENV}=official` };
  }
  if (forced === "local") {
    const ref = await deps.buildLocalBase(opts.onProgress);
    return { ref, kind: "local", reason: `${BASE_IMAGE_ENV}=local` };
  }
  if (forced) {
    const info = await deps.inspect(forced);
    const local = info?.labels[LOCAL_BASE_LABEL] === "local";
    return {
      ref: forced,
      kind: local ? "local" : "official",
      reason: `${BASE_IMAGE_ENV}=${forced}${info ? "" : " (not present locally: the build will try to pull it)"}`,
    };
  }

  if (await deps.inspect(OFFICIAL_BASE_IMAGE)) {
    return { ref: OFFICIAL_BASE_IMAGE, kind: "official", reason: `${OFFICIAL_BASE_IMAGE} is present locally` };
  }
  if (await deps.probeRegistry()) {
    return {
      ref: OFFICIAL_BASE_IMAGE,
      kind: "official",
      reason: `${OFFICIAL_BASE_IMAGE} is not present locally but the registry is reachable: the build pulls it`,
    };
  }
  const ref = await deps.buildLocalBase(opts.onProgress);
  return {
    ref,
    kind: "local",
    reason: `${OFFICIAL_BASE_IMAGE} is not present locally and ${REGISTRY_PROBE_URL} did not answer within ${
      REGISTRY_PROBE_TIMEOUT_MS / 1000
    } s: using the offline base built from Debian packages (scripts/build-local-base.sh)`,
  };
}
