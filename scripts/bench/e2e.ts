// `npm run bench:e2e` (root; uses the lab): in one run,
//  1. the physical limit: `apt-get install` of the layers' packages on three fresh hosts
//     in parallel (the apt cache warmed first, so both runs fetch from the same cache);
//  2. DebVisor's first converge of the dev stack on three fresh hosts (`pulumi up`);
//  3. a no-op `pulumi up`, and how many remote steps it started (journal count).
import { BASE_PACKAGES } from "../../components/base/index.js";
import { virtualizationPackages } from "../../components/virtualization/index.js";
import { lab, ok } from "../support/run.js";
import { pulumi } from "../support/pulumi.js";

const HOSTS = ["n1", "n2", "n3"];
const json = process.argv.includes("--json");
const log = (m: string) => { if (!json) console.error(`[bench:e2e] ${m}`); };
const seconds = async <T>(f: () => Promise<T>): Promise<[number, T]> => {
  const t = process.hrtime.bigint();
  const r = await f();
  return [Number(process.hrtime.bigint() - t) / 1e9, r];
};
// What the dev stack's layers install (base, security with nftables, network with br0,
// virtualization with Cockpit): the same set for the raw run. Checked on the hosts after
// the converge, so a drift fails the bench.
const PACKAGES = [...BASE_PACKAGES, "fail2ban", "python3-systemd", "nftables", "unattended-upgrades", "bridge-utils", ...virtualizationPackages(true)];
const rawInstall = () => Promise.all(HOSTS.map((h) => ok(lab.sh(h, `apt-get -q update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get -q -y install --no-install-recommends ${PACKAGES.join(" ")} >/dev/null`), `apt-get install on ${h}`)));

log("warming the apt cache");
await lab.fresh("--hosts", "3");
await rawInstall();
log("raw apt-get install on three fresh hosts");
await lab.fresh("--hosts", "3");
const [raw] = await seconds(rawInstall);
log("pulumi up (first converge) on three fresh hosts");
await lab.fresh("--hosts", "3");
await pulumi.freshStack();
pulumi.writeCluster(pulumi.devCluster());
const [first] = await seconds(() => ok(pulumi.up(), "first pulumi up"));
await Promise.all(HOSTS.map((h) => ok(lab.sh(h, `dpkg-query -W ${PACKAGES.join(" ")} >/dev/null`), `layer packages on ${h}`)));
const stepsBefore = await Promise.all(HOSTS.map((h) => lab.stepsRun(h)));
log("no-op pulumi up");
const [noop] = await seconds(() => ok(pulumi.up(), "no-op pulumi up"));
const stepsAfter = await Promise.all(HOSTS.map((h) => lab.stepsRun(h)));
const noopSteps = stepsAfter.reduce((a, b) => a + b, 0) - stepsBefore.reduce((a, b) => a + b, 0);
await pulumi.run("destroy", "--yes", "--skip-preview", "--non-interactive");
await pulumi.run("stack", "rm", "--yes", "--force");
pulumi.removeConfig();
await lab.cmd("down");

const rows = [
  { bench: "e2e", what: "raw apt-get install, 3 fresh hosts", seconds: raw },
  { bench: "e2e", what: "first pulumi up (dev stack), 3 fresh hosts", seconds: first, ratioToRaw: first / raw, steps: stepsBefore.reduce((a, b) => a + b, 0) },
  { bench: "e2e", what: "no-op pulumi up", seconds: noop, steps: noopSteps },
];
if (json) for (const r of rows) console.log(JSON.stringify(r));
else {
  console.log("end-to-end against the lab (one run)");
  for (const r of rows) console.log(`${r.what.padEnd(46)} ${r.seconds.toFixed(1).padStart(7)} s${r.ratioToRaw ? `  (${r.ratioToRaw.toFixed(2)}x raw)` : ""}${r.steps !== undefined ? `  remote steps: ${r.steps}` : ""}`);
}
