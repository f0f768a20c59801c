import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["tests/unit/**/*.test.ts"],
          testTimeout: 30_000,
          // One module graph per worker instead of one per file: importing the sources again for each
          // of ~90 files cost over a third of the project's time (CI: 197 s, of which 72 s outside any
          // test). Each file restores what it changes (fake timers, servers); the one that mocks
          // modules (images-known) loads its own graph. Two workers (vitest's default on 2 cores is
          // one): the timing-sensitive tests wait on events and conditions, not on wall-clock races, so
          // a file beside them on a loaded machine does not break them. The unit project runs alone,
          // before the file-sequential e2e projects (vitest groups projects with fileParallelism: false
          // after the others), so it never overlaps a timing-sensitive e2e file.
          maxWorkers: 2,
          isolate: false,
        },
      },
      {
        test: {
          name: "e2e-local",
          include: ["tests/e2e/local/**/*.test.ts"],
          // Containers, real signals and grace periods: minutes, not milliseconds.
          testTimeout: 180_000,
          hookTimeout: 300_000,
          // One scenario at a time: they share 2 cores and timing matters.
          fileParallelism: false,
          globalSetup: ["tests/e2e/global-setup.ts"],
        },
      },
      {
        test: {
          name: "browser",
          include: ["tests/browser/**/*.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "e2e-kind",
          include: ["tests/e2e/kind/**/*.test.ts"],
          testTimeout: 600_000,
          hookTimeout: 900_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
