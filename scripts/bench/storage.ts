// `npm run bench:storage` (root; uses the lab, takes it down and up): in one run, three
// empty trixie hosts with a disk each to a HEALTH_OK Ceph cluster (3 MON, 3 MGR, 3 MDS,
// 3 OSD, CephFS, an RBD pool),
//  1. by hand: the same packages, then Ceph's manual bootstrap over SSH
//     (scripts/bench/ceph-by-hand.sh), the apt cache warmed first;
//  2. through DebVisor: `pulumi up` of a 3-node storage stack (which also converges the
//     base, security and network layers: their packages are in the by-hand run too).
import { BASE_PACKAGES } from "../../components/base/index.js";
import { CEPH_ROLES, STORAGE_TOOLS, cephPackages } from "../../components/storage/index.js";
import { LAB_DIR, lab, ok, run } from "../support/run.js";
import { pulumi } from "../support/pulumi.js";

const json = process.argv.includes("--json");
const log = (m: string) => { if (!json) console.error(`[bench:storage] ${m}`); };
const seconds = async <T>(f: () => Promise<T>): Promise<[number, T]> => {
  const t = process.hrtime.bigint();
  const r = await f();
  return [Number(process.hrtime.bigint() - t) / 1e9, r];
};
const HOSTS = [1, 2, 3].map((i) => ({ name: `n${i}`, address: `10.213.0.1${i}`, disk: `/dev/disk/by-id/ata-LABDISK_LAB-n${i}-d1` }));
const PACKAGES = [...BASE_PACKAGES, "fail2ban", "python3-systemd", "nftables", "unattended-upgrades", ...STORAGE_TOOLS, ...cephPackages([...CEPH_ROLES])];
/** Fresh hosts, and their disks blank (the images outlive the hosts). */
async function freshLab() {
  await lab.fresh("--hosts", "3", "--release", "trixie", "--disks", "2:10G");
  for (const h of [1, 2, 3]) {
    await ok(run("bash", ["-c", `d=$(losetup -j ${LAB_DIR}/disks/n${h}-d1.img -O NAME -n); wipefs -qaf $d; dd if=/dev/zero of=$d bs=1M count=32 oflag=direct status=none`]), `blank n${h}-d1`);
  }
}
const byHand = () => ok(run("bash", ["scripts/bench/ceph-by-hand.sh", `${LAB_DIR}/ssh_config`, "10.213.0.0/24", PACKAGES.join(" "), ...HOSTS.map((h) => `${h.name}=${h.address}=${h.disk}`)]), "ceph by hand");
const healthy = async () => (await lab.out("n1", "ceph health")).startsWith("HEALTH_OK");

log("warming the apt cache");
await freshLab();
await Promise.all(HOSTS.map((h) => ok(lab.sh(h.name, `apt-get -q update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get -q -y install --no-install-recommends ${PACKAGES.join(" ")} >/dev/null`), `apt on ${h.name}`)));
log("by hand: packages and Ceph's manual bootstrap on three fresh hosts");
await freshLab();
const [hand] = await seconds(byHand);
if (!(await healthy())) throw new Error("the by-hand cluster is not HEALTH_OK");
log("DebVisor: pulumi up of a 3-node storage stack on three fresh hosts");
await freshLab();
await pulumi.freshStack();
pulumi.writeCluster({
  defaults: {
    user: "debvisor", privateKeyFile: `${LAB_DIR}/id_ed25519`, release: "trixie", aptProxy: "http://10.213.0.1:3142", profile: "storage",
    security: { controllerAddresses: ["10.213.0.1"], clusterNetworks: ["10.213.0.0/24"] },
    storage: { ceph: { publicNetwork: "10.213.0.0/24", monDataAvailWarnPercent: 5 } },
  },
  nodes: HOSTS.map((h) => ({ name: h.name, address: h.address, hostKeyFile: `${LAB_DIR}/hostkeys/${h.name}.pub`, storage: { osds: [h.disk] } })),
});
const [debvisor] = await seconds(() => ok(pulumi.up(), "pulumi up"));
if (!(await healthy())) throw new Error("DebVisor's cluster is not HEALTH_OK");
await Promise.all(HOSTS.map((h) => ok(lab.sh(h.name, `dpkg-query -W ${PACKAGES.join(" ")} >/dev/null`), `the same packages on ${h.name}`)));
await pulumi.run("stack", "rm", "--yes", "--force");
pulumi.removeConfig();
await lab.cmd("down");

const rows = [
  { bench: "storage", what: "by hand: packages + Ceph bootstrap, 3 fresh hosts", seconds: hand },
  { bench: "storage", what: "pulumi up, 3-node storage stack, 3 fresh hosts", seconds: debvisor, ratioToHand: debvisor / hand },
];
if (json) for (const r of rows) console.log(JSON.stringify(r));
else {
  console.log("empty trixie hosts to HEALTH_OK (one run)");
  for (const r of rows) console.log(`${r.what.padEnd(52)} ${r.seconds.toFixed(1).padStart(7)} s${r.ratioToHand ? `  (${r.ratioToHand.toFixed(2)}x by hand)` : ""}`);
}
