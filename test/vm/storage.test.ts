import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { LAB_DIR, ROOT, lab, labJson, ok, run, vmAddress, vmsUp } from "./support.js";

// The storage layer's local storage, which the container hosts' kernel cannot do, on a
// VM with seven virtio disks, through the real engine: a ZFS mirror with its datasets and
// properties and a real scrub; an md RAID1 under LVM with an xfs and a btrfs volume; a
// btrfs RAID1 over two disks; an LVM-mode Ceph OSD (device-mapper, which the container
// hosts lack) joining the Ceph cluster of container host n1 (same stack); all back after
// a reboot; a second `up` runs no step. The VM also maps an RBD image and mounts CephFS
// with its kernel's own clients.
const STACK = "vm-storage";
const ENV = { PULUMI_CONFIG_PASSPHRASE: "debvisor-vm-storage", DEBVISOR_SKIP_BUILD: "1" };
const configFile = join(ROOT, `Pulumi.${STACK}.yaml`);
const VM = "v1";
const vd = (i: number) => `/dev/disk/by-id/virtio-LAB-v1-d${i}`;
let restore: () => Promise<void> = async () => {};

const pulumi = {
  run: (...args: string[]) => run("bash", ["scripts/pulumi.sh", ...args, "--stack", STACK], { env: ENV }),
  up: () => pulumi.run("up", "--yes", "--skip-preview", "--non-interactive"),
};

const CEPH = { publicNetwork: "10.213.0.0/24", poolSize: 1, monDataAvailWarnPercent: 5 };
function cluster(): any {
  return {
    defaults: {
      user: "debvisor", privateKeyFile: `${LAB_DIR}/id_ed25519`, release: "trixie", aptProxy: "http://10.213.0.1:3142", profile: "storage",
      security: { controllerAddresses: ["10.213.0.1"], clusterNetworks: ["10.213.0.0/24"] },
    },
    nodes: [
      {
        name: "n1", address: "10.213.0.11", hostKeyFile: `${LAB_DIR}/hostkeys/n1.pub`,
        storage: { ceph: CEPH, osds: ["/dev/disk/by-id/ata-LABDISK_LAB-n1-d1"] },
      },
      {
        name: VM, address: vmAddress(1), hostKeyFile: `${LAB_DIR}/hostkeys/${VM}.pub`, contrib: true,
        disks: [1, 2, 3, 4, 5, 6, 7].map(vd),
        storage: {
          ceph: CEPH, cephRoles: ["osd"], osds: [vd(7)], osdMode: "lvm",
          zfsPools: [{ name: "tank", vdevs: [{ type: "mirror", disks: [vd(1), vd(2)] }] }],
          mdArrays: [{ name: "data", level: 1, disks: [vd(3), vd(4)] }],
          volumeGroups: [{
            name: "vg0", devices: ["md:data"], volumes: [
              { name: "xfsvol", size: "2G", filesystem: "xfs", mountpoint: "/srv/xfs" },
              { name: "btrvol", size: "2G", filesystem: "btrfs", mountpoint: "/srv/btrfs" },
            ],
          }],
          filesystems: [{ devices: [vd(5), vd(6)], filesystem: "btrfs", mountpoint: "/srv/mirror" }],
        },
      },
    ],
  };
}
function write(c: unknown) {
  const current = existsSync(configFile) ? (parse(readFileSync(configFile, "utf8")) ?? {}) : {};
  writeFileSync(configFile, stringify({ ...current, config: { ...current.config, "debvisor:cluster": c } }));
}
const sh = (cmd: string) => lab.out(VM, cmd);
/** What must hold on the VM after `up`, and again after a reboot. */
async function expectLocalStorage() {
  expect(await sh("zpool list -H -o name,health tank")).toBe("tank\tONLINE");
  expect(await sh("zpool status tank | grep -c 'virtio-LAB-v1-d[12] *ONLINE'")).toBe("2");
  expect(await sh("zfs list -H -o name -r tank | sort | paste -sd,")).toBe("tank,tank/docker,tank/k8s,tank/vm");
  expect(await sh("zfs get -H -o value compression,atime tank | paste -sd,")).toBe("lz4,off");
  expect(["sa", "on"]).toContain(await sh("zfs get -H -o value xattr tank")); // OpenZFS 2.2+ reports xattr=sa as "on"
  expect(await sh("zfs get -H -o value recordsize tank/vm")).toBe("64K");
  expect(await sh("cat /sys/block/$(basename $(readlink -f /dev/md/data))/md/level")).toBe("raid1");
  expect(await sh("findmnt -n -o FSTYPE /srv/xfs")).toBe("xfs");
  expect(await sh("findmnt -n -o SOURCE /srv/xfs")).toBe("/dev/mapper/vg0-xfsvol");
  expect(await sh("findmnt -n -o FSTYPE /srv/btrfs")).toBe("btrfs");
  expect(await sh("findmnt -n -o FSTYPE /srv/mirror")).toBe("btrfs");
  expect(await sh("btrfs filesystem df /srv/mirror | grep -o '^Data, RAID1'")).toBe("Data, RAID1");
  // The LVM-mode OSD: a logical volume on its disk, up in the cluster.
  expect(await sh(`pvs --noheadings -o vg_name ${vd(7)} | grep -c ceph-`)).toBe("1");
  const osd = await sh("ceph-volume lvm list --format json | python3 -c 'import json,sys; print(list(json.load(sys.stdin))[0])'");
  await waitFor(async () => (await lab.out("n1", `ceph osd dump -f json | python3 -c 'import json,sys; print([o["up"] for o in json.load(sys.stdin)["osds"] if o["osd"]==${osd}][0])'`)) === "1", 300, `osd.${osd} (v1, lvm) up`);
}
async function waitFor(check: () => Promise<boolean>, seconds: number, what: string) {
  for (const t0 = Date.now(); Date.now() - t0 < seconds * 1000; await new Promise((r) => setTimeout(r, 5000))) if (await check()) return;
  throw new Error(`${what}: not within ${seconds} s`);
}

describe.sequential("storage layer on a VM: ZFS, md + LVM + xfs/btrfs, btrfs RAID1, kernel Ceph clients", () => {
  beforeAll(async () => {
    await ok(run("bash", ["scripts/setup.sh"]), "npm run setup");
    await ok(run("npm", ["run", "--silent", "build"]), "npm run build");
    // A trixie container host with disks for the Ceph node; the VM tier beside it.
    const fleet = labJson();
    const hosts = fleet?.hosts.filter((h) => h.kind !== "vm") ?? [];
    if (!(fleet?.release === "trixie" && hosts.length >= 1 && hosts[0].disks.length >= 1)) {
      await lab.cmd("down");
      await ok(lab.cmd("up", "--hosts", "1", "--release", "trixie", "--disks", "2:10G"), "lab up (one trixie host)");
    } else {
      await ok(lab.cmd("reset", "n1"), "lab reset n1");
    }
    await ok(run("bash", ["-c", `d=$(losetup -j ${LAB_DIR}/disks/n1-d1.img -O NAME -n); blockdev --setrw $d; wipefs -qaf $d; dd if=/dev/zero of=$d bs=1M count=32 oflag=direct status=none`]), "blank n1-d1");
    if ((labJson()?.hosts.filter((h) => h.kind === "vm").length ?? 0) > 0) await ok(lab.cmd("up", "--vms", "0"), "lab up --vms 0");
    restore = (await vmsUp(["--vms", "1", "--vm-memory", "3072", "--vm-disks", "7:6G"])).restore;
    // The disk images outlive the VMs: whatever an earlier run left on them goes (arrays
    // assembled at boot, volume groups, pools), so the preflight finds them blank.
    await sh([
      "zpool export -a 2>/dev/null || true", "vgchange -q -an 2>/dev/null || true",
      "for md in /dev/md/* /dev/md[0-9]*; do [ -e \"$md\" ] && mdadm --stop \"$md\" >/dev/null 2>&1; done; true",
      `for d in ${[1, 2, 3, 4, 5, 6, 7].map(vd).join(" ")}; do wipefs -qaf $d; dd if=/dev/zero of=$d bs=1M count=64 oflag=direct status=none; done`,
    ].join("\n"));
    await pulumi.run("stack", "rm", "--yes", "--force");
    await ok(pulumi.run("stack", "init"), `pulumi stack init ${STACK}`);
    write(cluster());
  });
  afterAll(async () => {
    await pulumi.run("stack", "rm", "--yes", "--force");
    rmSync(configFile, { force: true });
    await restore();
  });

  it("up: the ZFS mirror with its datasets, md RAID1 + LVM with xfs and btrfs, a btrfs RAID1, all mounted", async () => {
    const t0 = Date.now();
    await ok(pulumi.up(), "first pulumi up");
    console.log(`vm storage: up in ${Math.round((Date.now() - t0) / 1000)} s`);
    await expectLocalStorage();
    await sh("echo on-xfs >/srv/xfs/f && echo on-btrfs >/srv/btrfs/f && echo on-mirror >/srv/mirror/f && sync");
    // The management layer's scrub timer exists where the pool does; its script runs a real scrub.
    expect(await sh("systemctl is-enabled debvisor-zfs-scrub.timer")).toBe("enabled");
    await sh("systemctl start debvisor-zfs-scrub.service");
    expect(await sh("zpool status tank | grep -o 'scrub repaired 0B.*with 0 errors'")).toMatch(/scrub repaired 0B/);
    expect(await sh("journalctl -t debvisor-zfs-scrub -o cat | tail -n1")).toContain("pool=tank status=OK");
  });

  it("a second up runs no step", async () => {
    const before = await lab.stepsRun(VM);
    await ok(pulumi.up(), "second pulumi up");
    expect(await lab.stepsRun(VM)).toBe(before);
  });

  it("everything comes back after a reboot, data included", async () => {
    await ok(lab.cmd("restart", VM), `lab restart ${VM}`);
    await expectLocalStorage();
    expect(await sh("cat /srv/xfs/f /srv/btrfs/f /srv/mirror/f | paste -sd,")).toBe("on-xfs,on-btrfs,on-mirror");
  });

  it("the VM maps an RBD image and mounts CephFS with its kernel's clients, from the Ceph cluster on n1", async () => {
    await lab.out("n1", "ceph auth get-or-create client.vmtest mon 'profile rbd, allow r' osd 'profile rbd pool=rbd, allow rw tag cephfs data=cephfs' mds 'allow rw fsname=cephfs' mgr 'profile rbd pool=rbd' >/dev/null");
    // The VM is a node of the cluster (its OSD): ceph.conf and ceph-common are there already.
    const key = await lab.out("n1", "ceph auth print-key client.vmtest");
    await ok(lab.sh(VM, "umask 077; cat >/etc/ceph/vmtest.secret", key), "client key on the VM");
    await sh(`rbd --id vmtest --keyfile /etc/ceph/vmtest.secret create rbd/vmdisk --size 128M`);
    expect(await sh("rbd --id vmtest --keyfile /etc/ceph/vmtest.secret map rbd/vmdisk")).toMatch(/^\/dev\/rbd\d+$/);
    await sh("mkfs.ext4 -q /dev/rbd/rbd/vmdisk && mkdir -p /mnt/rbd && mount /dev/rbd/rbd/vmdisk /mnt/rbd && echo on-rbd >/mnt/rbd/f && umount /mnt/rbd && rbd --id vmtest --keyfile /etc/ceph/vmtest.secret unmap rbd/vmdisk");
    await sh("mkdir -p /mnt/cephfs && mount -t ceph 10.213.0.11:6789:/ /mnt/cephfs -o name=vmtest,secretfile=/etc/ceph/vmtest.secret && echo from-the-vm >/mnt/cephfs/vm && sync && umount /mnt/cephfs");
    expect(await lab.out("n1", "mkdir -p /mnt/c && ceph-fuse /mnt/c >/dev/null 2>&1 && cat /mnt/c/vm; umount /mnt/c")).toBe("from-the-vm");
  });
});
