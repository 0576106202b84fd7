import { defineConfig } from "vitest/config";

// Three tiers, selected with --project: unit and policy run in `npm test` (no root, no
// network); e2e drives the real Pulumi engine against the local lab.
export default defineConfig({
  test: {
    // e2e files share one lab: never run two test files at once.
    fileParallelism: false,
    projects: [
      { test: { name: "unit", include: ["test/unit/**/*.test.ts"], testTimeout: 30_000 } },
      { test: { name: "policy", include: ["test/policy/**/*.test.ts"], testTimeout: 30_000 } },
      {
        test: {
          name: "e2e", include: ["test/e2e/**/*.test.ts"], testTimeout: 1_800_000, hookTimeout: 1_800_000,
          sequence: { concurrent: false },
        },
      },
    ],
  },
});
