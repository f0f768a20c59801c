import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["tests/unit/**/*.test.ts"],
          testTimeout: 30_000,
          // Every core (vitest's default leaves one idle: a single worker on 2 cores), and one module
          // graph per worker instead of one per file: importing the sources again for each of ~90 files
          // cost more CPU than the tests (measured: 197 s → see the report of this change). No unit test
          // mocks modules. The unit project runs alone, before the file-sequential e2e projects (vitest
          // puts projects with fileParallelism: false in a group after the others), so this never
          // overlaps a timing-sensitive e2e file.
          maxWorkers: Math.max(2, availableParallelism()),
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
