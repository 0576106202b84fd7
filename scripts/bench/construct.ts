// `npm run bench [-- --json] [-- --runs K]`: program construction under mocks for 1, 10,
// 100 and 1000 nodes. Each measurement runs in its own process (peak RSS is per
// process); the table shows the median of K runs (default 3).
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const json = process.argv.includes("--json");
const runsArg = process.argv.indexOf("--runs");
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 3;
const sizes = [1, 10, 100, 1000];
const one = fileURLToPath(new URL("./construct-one.js", import.meta.url));

interface Sample { nodes: number; resources: number; ms: number; peakRssMiB: number }
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const rows: { nodes: number; resources: number; ms: number; peakRssMiB: number; msPerNode: number }[] = [];
for (const n of sizes) {
  const samples: Sample[] = [];
  for (let r = 0; r < runs; r++) {
    const s: Sample = JSON.parse(execFileSync(process.execPath, [one, String(n)], { encoding: "utf8" }).trim().split("\n").pop()!);
    samples.push(s);
    if (json) console.log(JSON.stringify({ bench: "construct", run: r + 1, ...s }));
  }
  const ms = median(samples.map((s) => s.ms));
  rows.push({ nodes: n, resources: samples[0].resources, ms, peakRssMiB: median(samples.map((s) => s.peakRssMiB)), msPerNode: ms / n });
}

if (!json) {
  console.log(`program construction under mocks (median of ${runs} runs, one process each)`);
  console.log("nodes  resources   wall ms   ms/node   peak RSS MiB");
  for (const r of rows) {
    console.log(`${String(r.nodes).padStart(5)}  ${String(r.resources).padStart(9)}  ${r.ms.toFixed(0).padStart(8)}  ${r.msPerNode.toFixed(2).padStart(8)}  ${r.peakRssMiB.toFixed(0).padStart(13)}`);
  }
}
