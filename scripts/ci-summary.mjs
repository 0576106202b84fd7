// Sums the vitest JSON reports in test-artifacts/ into one closing line for CI.
import { existsSync, readdirSync, readFileSync } from "node:fs";

let passed = 0, failed = 0, skipped = 0;
for (const f of existsSync("test-artifacts") ? readdirSync("test-artifacts") : []) {
  if (!/^vitest-.*\.json$/.test(f)) continue;
  const r = JSON.parse(readFileSync(`test-artifacts/${f}`, "utf8"));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += r.numPendingTests + r.numTodoTests;
}
console.log(`ci: ${passed} passed, ${failed} failed, ${skipped} skipped`);
