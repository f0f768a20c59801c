// ensureStyleImages asks the engine (`docker image inspect`, one process each) once per image and process,
// not once per scenario; a missing image is asked again. No Docker: the lookups are counted.
import { afterAll, beforeEach, describe, expect, it, vi } from "vitest";

const present = new Map<string, { id: string; labels: Record<string, string> }>();
const asked: string[] = [];
vi.mock("../../src/images/inspect.js", () => ({
  inspectImage: async (ref: string) => {
    asked.push(ref);
    return present.get(ref);
  },
}));
// The protocol bundle is not what this test is about (and bundling takes seconds).
vi.mock("../../src/images/app-vendor.js", () => ({ ensureAppVendor: async () => ({ path: "", written: false }) }));

// The unit project shares one module graph between files (isolate: false): a file run before this one in
// the same worker may have loaded build.js with the real lookups, and the mocks apply only to modules
// loaded after them. So this file loads its own graph, and leaves none with mocks in it to the next file.
vi.resetModules();
afterAll(() => {
  vi.resetModules();
});
const { ensureStyleImages, styleImageTag } = await import("../../src/images/build.js");
const { contextHash } = await import("../../src/images/context-hash.js");
const { imagesDir } = await import("../../src/util/paths.js");
const base = { ref: "graceful-e2e/base:known-test", kind: "local" as const, reason: "test" };

/** The tag a style gets from this base (what ensureStyleImages looks up), made present. */
async function presentTag(style: string): Promise<string> {
  const hash = await contextHash({ imagesDir: imagesDir(), style, baseRef: base.ref, baseId: "sha256:base" });
  const ref = styleImageTag(style, hash);
  present.set(ref, { id: `sha256:${style}`, labels: { "graceful-e2e.style": style } });
  return ref;
}

beforeEach(() => {
  asked.length = 0;
});

describe("style images: the engine asked once per image and process", () => {
  it("a second scenario of the same style asks nothing; another style asks for its own tag only", async () => {
    present.set(base.ref, { id: "sha256:base", labels: {} });
    const ref = await presentTag("exec-form");
    const tiniRef = await presentTag("tini");
    expect(await ensureStyleImages(["exec-form"], { base })).toEqual([{ style: "exec-form", ref }]);
    expect(asked).toEqual([base.ref, ref]);
    asked.length = 0;
    expect(await ensureStyleImages(["exec-form"], { base })).toEqual([{ style: "exec-form", ref }]);
    expect(asked).toEqual([]);
    expect(await ensureStyleImages(["tini", "exec-form"], { base })).toEqual([
      { style: "tini", ref: tiniRef },
      { style: "exec-form", ref },
    ]);
    expect(asked).toEqual([tiniRef]);
  });
});
