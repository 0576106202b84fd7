// `npm run bench [-- --json] [-- --runs K] [-- --sizes 100,1000,3000] [-- --profiles a,b]`: program
// construction under mocks for each profile at 100, 1000 and 3000 nodes, with the default
// cluster networks (every node's address in every node's firewall), plus one /8 for the
// cluster at 1000 hyperconverged nodes. Each measurement runs in its own process (peak
// RSS is per process); the table shows the median of K runs (default 3), and per profile
// the ratio of time per node at the largest size to the smallest (1.00 = linear).
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const json = process.argv.includes("--json");
const runsArg = process.argv.indexOf("--runs");
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 3;
const one = fileURLToPath(new URL("./construct-one.js", import.meta.url));
const sizesArg = process.argv.indexOf("--sizes");
const sizes = sizesArg > 0 ? process.argv[sizesArg + 1].split(",").map(Number) : [100, 1000, 3000];
const profilesArg = process.argv.indexOf("--profiles");
const profiles = profilesArg > 0 ? process.argv[profilesArg + 1].split(",") : ["minimal", "storage", "compute", "hyperconverged"];
const cases: [number, string, string][] = [
  ...profiles.flatMap((p) => sizes.map((n) => [n, p, "per-node"] as [number, string, string])),
  ...(profiles.includes("hyperconverged") ? [[1000, "hyperconverged", "cidr"] as [number, string, string]] : []),
];

const perNode = new Map<string, number>();
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
  perNode.set(`${profile}/${networks}/${n}`, median(samples.map((s) => s.ms)) / n);
  if (!json) {
    const ms = median(samples.map((s) => s.ms));
    const rss = median(samples.map((s) => s.peakRssMiB));
    console.log(`${profile.padEnd(15)} ${networks.padEnd(8)} ${String(n).padStart(6)}  ${String(samples[0].resources).padStart(9)}  ${ms.toFixed(0).padStart(8)}  ${(ms / n).toFixed(2).padStart(8)}  ${rss.toFixed(0).padStart(13)}`);
  }
}

// Time per node at the largest size over the smallest: 1.00 is linear growth.
for (const profile of profiles) {
  const [lo, hi] = [Math.min(...sizes), Math.max(...sizes)];
  const ratio = perNode.get(`${profile}/per-node/${hi}`)! / perNode.get(`${profile}/per-node/${lo}`)!;
  if (json) console.log(JSON.stringify({ bench: "construct-scaling", profile, from: lo, to: hi, msPerNodeRatio: ratio }));
  else console.log(`${profile.padEnd(15)} ms/node at ${hi} / at ${lo}: ${ratio.toFixed(2)}`);
}
