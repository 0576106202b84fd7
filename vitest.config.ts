import { defineConfig } from "vitest/config";

// Four tiers, selected with --project: unit and policy run in `npm test` (no root, no
// network); e2e drives the real Pulumi engine against the local lab; vm runs against
// the lab's VMs.
// Each run also writes a JSON report (test-artifacts/vitest-<tiers>.json) that .ci/run
// sums into one closing line.
const tiers = process.argv.flatMap((a, i) => (process.argv[i - 1] === "--project" ? [a] : [])).join("-") || "all";

export default defineConfig({
  test: {
    reporters: ["default", "json"],
    outputFile: { json: `test-artifacts/vitest-${tiers}.json` },
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
      {
        // The lab's VM tier (QEMU, software emulation): slow; one file at a time (fileParallelism above).
        // `npm run test:vm`; CI runs only test/vm/smoke.test.ts (`npm run test:vm:smoke`).
        test: {
          name: "vm", include: ["test/vm/**/*.test.ts"], testTimeout: 3_600_000, hookTimeout: 3_600_000,
          sequence: { concurrent: false },
        },
      },
    ],
  },
});
