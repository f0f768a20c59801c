// Image tags (context hash) and base image selection: no Docker, no network.
import { chmod, cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type BaseImageDeps, OFFICIAL_BASE_IMAGE, resolveBaseImage } from "../../src/images/base.js";
import { parseBuildLine, styleImageTag } from "../../src/images/build.js";
import { contextFiles, contextHash } from "../../src/images/context-hash.js";
import { IMAGE_STYLES } from "../../src/scenario/schema.js";
import { imagesDir } from "../../src/util/paths.js";
import { configureTestcontainersOffline } from "../../src/util/testcontainers-env.js";

describe("context hash", () => {
  let dir: string;
  const base = { baseRef: "graceful-e2e/base:test", baseId: "sha256:aaaa" };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "graceful-e2e-images-"));
    await cp(imagesDir(), dir, { recursive: true });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const hashOf = (style: string, extra: Partial<typeof base> = {}) =>
    contextHash({ imagesDir: dir, style, ...base, ...extra });

  it("covers the app and the style's own directory only", async () => {
    const files = await contextFiles(dir, "tini");
    expect(files).toContain("app/server.js");
    expect(files).toContain("tini/Dockerfile");
    expect(files).toContain("tini/entrypoint.sh");
    expect(files.some((f) => f.startsWith("tini-group/"))).toBe(false);
    expect(files).toEqual([...files].sort());
  });

  it("every style has a Dockerfile starting with the BASE_IMAGE argument and is hashable", async () => {
    const hashes = new Set<string>();
    for (const style of IMAGE_STYLES) {
      const dockerfile = await readFile(join(dir, style, "Dockerfile"), "utf8");
      expect(dockerfile.split("\n").slice(0, 2)).toEqual([
        "ARG BASE_IMAGE=node:20-bookworm-slim",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a Dockerfile variable, not a template
        "FROM ${BASE_IMAGE}",
      ]);
      expect(dockerfile).toContain(`graceful-e2e.style="${style}"`);
      const hash = await hashOf(style);
      expect(hash).toMatch(/^[0-9a-f]{12}$/);
      hashes.add(hash);
    }
    expect(hashes.size).toBe(IMAGE_STYLES.length);
  });

  it("is stable while nothing changes and follows every change of the context", async () => {
    const original = await hashOf("exec-form");
    expect(await hashOf("exec-form")).toBe(original);

    const server = join(dir, "app", "server.js");
    const content = await readFile(server, "utf8");
    await writeFile(server, `${content}// changed\n`);
    const changed = await hashOf("exec-form");
    expect(changed).not.toBe(original);
    await writeFile(server, content);
    expect(await hashOf("exec-form")).toBe(original);

    // A file added to the style's directory changes it; another style's directory does not.
    await writeFile(join(dir, "exec-form", "extra.txt"), "x");
    expect(await hashOf("exec-form")).not.toBe(original);
    await rm(join(dir, "exec-form", "extra.txt"));
    await writeFile(join(dir, "tini", "Dockerfile"), "ARG BASE_IMAGE\nFROM $BASE_IMAGE\n");
    expect(await hashOf("exec-form")).toBe(original);

    // The executable bit is part of the image.
    await chmod(join(dir, "exec-form", "Dockerfile"), 0o755);
    expect(await hashOf("exec-form")).not.toBe(original);
    await chmod(join(dir, "exec-form", "Dockerfile"), 0o644);
    expect(await hashOf("exec-form")).toBe(original);
  });

  it("changes with the base image reference and ID", async () => {
    const original = await hashOf("exec");
    expect(await hashOf("exec", { baseRef: "node:20-bookworm-slim" })).not.toBe(original);
    expect(await hashOf("exec", { baseId: "sha256:bbbb" })).not.toBe(original);
    expect(await hashOf("exec", { baseId: undefined })).not.toBe(original);
  });

  it("fails clearly for an unknown style", async () => {
    await expect(hashOf("no-such-style")).rejects.toThrow(/no-such-style is missing/);
  });

  it("tags images graceful-e2e/<style>:<hash>", () => {
    expect(styleImageTag("tini", "0123456789ab")).toBe("graceful-e2e/tini:0123456789ab");
  });
});

describe("base image selection", () => {
  const fail = (what: string) => () => Promise.reject(new Error(`${what} must not be called`));
  const deps = (over: Partial<BaseImageDeps> = {}): BaseImageDeps => ({
    inspect: vi.fn(fail("inspect")),
    probeRegistry: vi.fn(fail("probeRegistry")),
    buildLocalBase: vi.fn(fail("buildLocalBase")),
    ...over,
  });

  it("GRACEFUL_E2E_BASE_IMAGE=official forces the official image without looking around", async () => {
    const d = deps();
    const base = await resolveBaseImage({ env: { GRACEFUL_E2E_BASE_IMAGE: "official" }, deps: d });
    expect(base).toMatchObject({ ref: OFFICIAL_BASE_IMAGE, kind: "official" });
    expect(base.reason).toContain("GRACEFUL_E2E_BASE_IMAGE=official");
    expect(d.probeRegistry).not.toHaveBeenCalled();
  });

  it("GRACEFUL_E2E_BASE_IMAGE=local builds the local base even when the registry would answer", async () => {
    const d = deps({
      probeRegistry: vi.fn(async () => true),
      buildLocalBase: vi.fn(async () => "graceful-e2e/base:bookworm-123"),
    });
    const base = await resolveBaseImage({ env: { GRACEFUL_E2E_BASE_IMAGE: "local" }, deps: d });
    expect(base).toMatchObject({ ref: "graceful-e2e/base:bookworm-123", kind: "local" });
    expect(d.probeRegistry).not.toHaveBeenCalled();
  });

  it("GRACEFUL_E2E_BASE_IMAGE=<ref> uses that reference as is", async () => {
    const d = deps({ inspect: vi.fn(async () => undefined) });
    const base = await resolveBaseImage({ env: { GRACEFUL_E2E_BASE_IMAGE: "mirror.local/node:20-slim" }, deps: d });
    expect(base).toMatchObject({ ref: "mirror.local/node:20-slim", kind: "official" });
    expect(d.buildLocalBase).not.toHaveBeenCalled();

    const labelled = deps({
      inspect: vi.fn(async () => ({ id: "sha256:1", labels: { "graceful-e2e.base": "local" } })),
    });
    const local = await resolveBaseImage({ env: { GRACEFUL_E2E_BASE_IMAGE: "graceful-e2e/base:x" }, deps: labelled });
    expect(local).toMatchObject({ ref: "graceful-e2e/base:x", kind: "local" });
  });

  it("without override: the official image when present locally, without probing", async () => {
    const d = deps({ inspect: vi.fn(async () => ({ id: "sha256:1", labels: {} })) });
    const base = await resolveBaseImage({ env: {}, deps: d });
    expect(base).toMatchObject({ ref: OFFICIAL_BASE_IMAGE, kind: "official" });
    expect(d.inspect).toHaveBeenCalledWith(OFFICIAL_BASE_IMAGE);
    expect(d.probeRegistry).not.toHaveBeenCalled();
  });

  it("without override: the official image when the registry answers", async () => {
    const d = deps({ inspect: vi.fn(async () => undefined), probeRegistry: vi.fn(async () => true) });
    const base = await resolveBaseImage({ env: {}, deps: d });
    expect(base).toMatchObject({ ref: OFFICIAL_BASE_IMAGE, kind: "official" });
    expect(base.reason).toMatch(/reachable/);
    expect(d.buildLocalBase).not.toHaveBeenCalled();
  });

  it("without override: the local base when the registry does not answer, streaming its progress", async () => {
    const progress: string[] = [];
    const d = deps({
      inspect: vi.fn(async () => undefined),
      probeRegistry: vi.fn(async () => false),
      buildLocalBase: vi.fn(async (onProgress?: (line: string) => void) => {
        onProgress?.("[local-base] cached: graceful-e2e/base:bookworm-abc");
        return "graceful-e2e/base:bookworm-abc";
      }),
    });
    const base = await resolveBaseImage({
      env: { GRACEFUL_E2E_BASE_IMAGE: "  " },
      deps: d,
      onProgress: (l) => progress.push(l),
    });
    expect(base).toMatchObject({ ref: "graceful-e2e/base:bookworm-abc", kind: "local" });
    expect(base.reason).toMatch(/did not answer/);
    expect(progress).toEqual(["[local-base] cached: graceful-e2e/base:bookworm-abc"]);
  });

  it("propagates a failed local base build", async () => {
    const d = deps({
      inspect: vi.fn(async () => undefined),
      probeRegistry: vi.fn(async () => false),
      buildLocalBase: vi.fn(async () => {
        throw new Error("building the local base image needs root");
      }),
    });
    await expect(resolveBaseImage({ env: {}, deps: d })).rejects.toThrow(/needs root/);
  });
});

describe("testcontainers environment", () => {
  it("disables the reaper offline and pins the host, keeping what the user set", () => {
    const env: NodeJS.ProcessEnv = {};
    expect(configureTestcontainersOffline(false, env)).toEqual({ ryukDisabled: true, hostOverride: "127.0.0.1" });
    expect(env).toMatchObject({ TESTCONTAINERS_RYUK_DISABLED: "true", TESTCONTAINERS_HOST_OVERRIDE: "127.0.0.1" });

    const online: NodeJS.ProcessEnv = {};
    expect(configureTestcontainersOffline(true, online).ryukDisabled).toBe(false);
    expect(online.TESTCONTAINERS_RYUK_DISABLED).toBeUndefined();

    const user: NodeJS.ProcessEnv = {
      TESTCONTAINERS_RYUK_DISABLED: "false",
      TESTCONTAINERS_HOST_OVERRIDE: "localhost",
    };
    expect(configureTestcontainersOffline(false, user)).toEqual({ ryukDisabled: false, hostOverride: "localhost" });
  });
});

describe("build output parsing", () => {
  it("splits stream text, strips colours and reports errors", () => {
    expect(parseBuildLine('{"stream":"Step 1/3 : FROM x\\n"}')).toEqual({ lines: ["Step 1/3 : FROM x"] });
    expect(parseBuildLine('{"stream":"\\u001b[91mls: oops\\n\\u001b[0m"}')).toEqual({ lines: ["ls: oops"] });
    expect(
      parseBuildLine(
        '{"errorDetail":{"code":2,"message":"returned a non-zero code: 2"},"error":"returned a non-zero code: 2"}',
      ),
    ).toEqual({ lines: ["ERROR: returned a non-zero code: 2"], error: "returned a non-zero code: 2" });
    expect(parseBuildLine("not json")).toEqual({ lines: ["not json"] });
    expect(parseBuildLine("  ")).toEqual({ lines: [] });
  });
});
