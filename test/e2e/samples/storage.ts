import type { DebianRelease } from "../../../components/base/index.js";
import {
  CEPH_NODE_SECRETS, cephBootstrapStep, cephMgrPyO3Step, cephNodeParams, cephOsdBootStep, cephPackagesStep, cephPoolsStep,
  fsStep, lvmStep, mdStep, renderCephConf, renderMons, zfsStep, type StorageSettings,
} from "../../../components/storage/index.js";

// Samples of components/storage/*.sh, as the storage layer renders them. These scripts
// need disks, a Ceph cluster or kernel modules a lab container host lacks: they run in
// test/e2e/storage.test.ts (Ceph on trixie hosts with loop disks, through the engine)
// and on the VM tier (ZFS, md, LVM), not in the script tier's one-host run.
const disk = (i: number) => `/dev/disk/by-id/virtio-LAB-v1-d${i}`;
const local: StorageSettings = {
  zfsPools: [{ name: "tank", vdevs: [{ type: "mirror", disks: [disk(1), disk(2)] }] }],
  mdArrays: [{ name: "data", level: 1, disks: [disk(3), disk(4)] }],
  volumeGroups: [{ name: "vg0", devices: ["md:data"], volumes: [{ name: "srv", size: "2G", filesystem: "xfs", mountpoint: "/srv/xfs" }] }],
  filesystems: [{ devices: [disk(5), disk(6)], filesystem: "btrfs", mountpoint: "/srv/btrfs" }],
  wipe: [disk(6)],
};
const members = [1, 2, 3].map((i) => ({ id: `n${i}`, address: `10.213.0.1${i}`, roles: ["mon", "mgr", "mds", "osd"] as const, osds: [`/dev/disk/by-id/ata-LABDISK_LAB-n${i}-d1`], wipe: [] }));
const ceph = { publicNetwork: "10.213.0.0/24" };
const secrets = Object.fromEntries(CEPH_NODE_SECRETS.map((k) => [k, k === "DV_CEPH_FSID" ? "0b3c6a6e-1111-4222-8333-944455556666" : "AQBsampleonlysampleonlysampleonlysample=="]));

/** Scripts proven in other tiers (see above), with no place in the script tier's run order. */
export const elsewhere: string[] = [
  "storage/zfs.sh", "storage/md.sh", "storage/lvm.sh", "storage/fs.sh",
  "storage/ceph/packages.sh", "storage/ceph/mgr-pyo3.sh", "storage/ceph/osd-boot.sh", "storage/ceph/bootstrap.sh", "storage/ceph/node.sh", "storage/ceph/pools.sh",
];
export const sample = (_release: DebianRelease): Record<string, Record<string, string>> => ({
  "storage/zfs.sh": zfsStep(local).params,
  "storage/md.sh": mdStep(local).params,
  "storage/lvm.sh": lvmStep(local).params,
  "storage/fs.sh": fsStep(local).params,
  "storage/ceph/packages.sh": cephPackagesStep(["mon", "mgr", "mds", "osd"]).params,
  "storage/ceph/mgr-pyo3.sh": cephMgrPyO3Step(true).params,
  "storage/ceph/osd-boot.sh": cephOsdBootStep().params,
  "storage/ceph/bootstrap.sh": cephBootstrapStep().params,
  "storage/ceph/node.sh": { ...cephNodeParams(members[0], renderCephConf(ceph, members), renderMons(members)), ...secrets },
  "storage/ceph/pools.sh": cephPoolsStep(ceph, 3).params,
});
