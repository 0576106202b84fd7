// `npm run bench [-- --json] [-- --runs K]`: program construction under mocks for 1, 10,
// 100 and 1000 nodes, for the smallest profile (minimal: base + security) and the
// largest (hyperconverged), plus the default per-node cluster networks at 1000 nodes.
// Each measurement runs in its own process (peak RSS is per process); the table shows
// the median of K runs (default 3).
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const json = process.argv.includes("--json");
const runsArg = process.argv.indexOf("--runs");
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 3;
const one = fileURLToPath(new URL("./construct-one.js", import.meta.url));
const cases: [number, string, string][] = [
  ...[1, 10, 100, 1000].map((n) => [n, "minimal", "cidr"] as [number, string, string]),
  ...[1, 10, 100, 1000].map((n) => [n, "hyperconverged", "cidr"] as [number, string, string]),
  [1000, "hyperconverged", "per-node"],
];

interface Sample { nodes: number; profile: string; networks: string; resources: number; ms: number; peakRssMiB: number }
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

if (!json) {
  console.log(`program construction under mocks (median of ${runs} runs, one process each)`);
  console.log("profile         networks  nodes  resources   wall ms   ms/node   peak RSS MiB");
}
for (const [n, profile, networks] of cases) {
  const samples: Sample[] = [];
  for (let r = 0; r < runs; r++) {
    const s: Sample = JSON.parse(execFileSync(process.execPath, [one, String(n), profile, networks], { encoding: "utf8" }).trim().split("\n").pop()!);
    samples.push(s);
    if (json) console.log(JSON.stringify({ bench: "construct", run: r + 1, ...s }));
  }
  if (!json) {
    const ms = median(samples.map((s) => s.ms));
    const rss = median(samples.map((s) => s.peakRssMiB));
    console.log(`${profile.padEnd(15)} ${networks.padEnd(8)} ${String(n).padStart(6)}  ${String(samples[0].resources).padStart(9)}  ${ms.toFixed(0).padStart(8)}  ${(ms / n).toFixed(2).padStart(8)}  ${rss.toFixed(0).padStart(13)}`);
  }
}
