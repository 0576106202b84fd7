import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LAB_DIR, imageBuildSeconds, guestUsedMiB, lab, labJson, qemuRssMiB, recordFigures, run, sshSeconds, vmAddress, vmsUp } from "./support.js";

// The VM tier's short subset (CI runs it: `npm run test:vm:smoke`): one Debian VM under
// QEMU's software emulation beside whatever container hosts run, with the lab's contract
// (lab.json, pinned host key, debvisor + sudo, the installer's interfaces file), its own
// Debian kernel loading what the container hosts cannot (md, dm, rbd, zfs, 8021q,
// bonding), and a RAID1 + LVM logical volume on its two virtio disks.
const VM = "v1";
const DISKS = ["/dev/disk/by-id/virtio-LAB-v1-d1", "/dev/disk/by-id/virtio-LAB-v1-d2"];
let restore: () => Promise<void> = async () => {};

const sh = (cmd: string) => lab.out(VM, cmd);
/** The disks blank again: whatever an earlier (failed) run left on them goes (md and LVM too). */
const CLEAN = [
  "umount /mnt/dvtest 2>/dev/null || true",
  "vgchange -q -an dvtest >/dev/null 2>&1 || true",
  "for md in /dev/md/* /dev/md[0-9]*; do [ -e \"$md\" ] && mdadm --stop \"$md\" >/dev/null 2>&1; done; true",
  // discard (holes in the sparse image: reads give zeros) or zero the start of each disk
  ...DISKS.map((d) => `blkdiscard -f ${d} 2>/dev/null || dd if=/dev/zero of=${d} bs=1M count=64 oflag=direct status=none`),
  `for d in ${DISKS.join(" ")}; do if blkid -p "$d" >/dev/null 2>&1; then echo "$d is not blank" >&2; exit 1; fi; done`,
].join("\n");

describe.sequential("VM tier smoke: one VM", () => {
  beforeAll(async () => {
    // beside the running container hosts, or beside one of its own: a mixed fleet either way
    const up = await vmsUp(["--vms", "1", "--vm-disks", "2:6G"], 1);
    restore = up.restore;
    const figures = {
      imageBuildSeconds: imageBuildSeconds(up.result),
      upSeconds: Math.round(up.seconds),
      sshSecondsSinceQemuStart: sshSeconds(up.result).boot,
      qemuRssMiB: await qemuRssMiB(VM),
      guestUsedMiB: await guestUsedMiB(VM),
    };
    recordFigures("smoke-1vm", figures);
  });
  afterAll(async () => {
    if ((await lab.sh(VM, CLEAN)).code !== 0) console.warn("could not clean v1's disks");
    await restore();
  });

  it("is in lab.json as a VM with the container hosts' fields, reachable with the pinned key as debvisor with sudo", async () => {
    const v1 = labJson()!.hosts.find((h) => h.name === VM)!;
    expect(v1).toMatchObject({ address: vmAddress(1), user: "debvisor", hostKeyFile: `${LAB_DIR}/hostkeys/v1.pub`, disks: DISKS, kind: "vm" });
    const r = await run("ssh", ["-F", `${LAB_DIR}/ssh_config`, "-o", "StrictHostKeyChecking=yes", `debvisor@${VM}`, "sudo -n id -u; hostname; cat /etc/machine-id"]);
    expect(r.code, r.stderr).toBe(0);
    const [uid, hostname, machineId] = r.stdout.trim().split("\n");
    expect([uid, hostname]).toEqual(["0", VM]);
    expect(machineId).toMatch(/^[0-9a-f]{32}$/);
    // the pinned key is the one the VM serves
    const served = await run("ssh-keyscan", ["-t", "ed25519", vmAddress(1)]);
    const pinned = (await run("cat", [`${LAB_DIR}/hostkeys/v1.pub`])).stdout.trim();
    expect(served.stdout).toContain(pinned.split(" ")[1]);
  });

  it("shares the bridge, the lab.json contract and the ssh config with the container hosts (mixed fleet)", async () => {
    const fleet = labJson()!;
    const n = fleet.hosts.find((h) => h.kind === "nspawn")!;
    expect(n, "a container host in lab.json").toBeDefined();
    expect(Object.keys(fleet.hosts.find((h) => h.name === VM)!)).toEqual(expect.arrayContaining(Object.keys(n)));
    expect((await lab.sh(n.name, "sudo -n true")).code).toBe(0);
    expect(await lab.out(VM, `getent hosts ${n.name} | awk '{print $1}'`)).toBe(n.address);
    const ping = await lab.sh(n.name, `ping -c 2 -W 3 ${vmAddress(1)}`);
    expect(ping.code, ping.stdout + ping.stderr).toBe(0);
  });

  it("boots its own Debian kernel, with the installer's interfaces file and the apt proxy", async () => {
    expect(await sh("uname -r")).toMatch(/-amd64$/);
    expect(await sh("systemd-detect-virt")).toBe("qemu");
    const ifaces = await sh("cat /etc/network/interfaces");
    expect(ifaces).toContain("source /etc/network/interfaces.d/*");
    expect(ifaces).toMatch(/allow-hotplug eth0\niface eth0 inet static\n\taddress 10\.213\.0\.101\/24/);
    expect(await sh("ip -4 -o addr show dev eth0 | awk '{print $4}'")).toBe("10.213.0.101/24");
    expect(await sh("apt-config dump Acquire::http::Proxy")).toContain("http://10.213.0.1:3142");
    expect(await sh("systemctl is-system-running --wait || true")).toMatch(/running|degraded/);
    // The ZFS module was built when the image was made; ZFS's userland is the product's job.
    expect(await sh("dpkg-query -W -f='${db:Status-Status}' zfsutils-linux 2>/dev/null || echo absent")).not.toBe("installed");
  });

  it("loads md_mod, raid1, dm_mod, rbd, zfs, 8021q and bonding", async () => {
    const mods = ["md_mod", "raid1", "dm_mod", "rbd", "zfs", "8021q", "bonding"];
    const r = await lab.sh(VM, `set -e; for m in ${mods.join(" ")}; do modprobe $m; done; lsmod | awk 'NR > 1 { print $1 }'`);
    expect(r.code, r.stderr).toBe(0);
    const loaded = r.stdout.split("\n");
    for (const m of mods) expect(loaded, m).toContain(m);
    expect(await sh("cat /sys/module/zfs/version")).toMatch(/^\d+\.\d+/);
  });

  it("makes a RAID1 on its two virtio disks and an LVM logical volume on it", async () => {
    for (const d of DISKS) expect(await sh(`readlink -f ${d}`)).toMatch(/^\/dev\/vd[b-z]$/);
    await lab.out(VM, CLEAN);
    const r = await lab.sh(VM, [
      "set -e",
      `mdadm --create /dev/md/dvtest --level=1 --raid-devices=2 --metadata=1.2 --run --assume-clean ${DISKS.join(" ")}`,
      "udevadm settle",
      "pvcreate -q /dev/md/dvtest",
      "vgcreate -q dvtest /dev/md/dvtest",
      "lvcreate -q -y -L 1G -n lv0 dvtest",
      "mkfs.ext4 -q /dev/dvtest/lv0",
      "mkdir -p /mnt/dvtest && mount /dev/dvtest/lv0 /mnt/dvtest",
      "echo hello >/mnt/dvtest/file && sync && cat /mnt/dvtest/file",
    ].join("\n"));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split("\n").pop()).toBe("hello");
    const detail = await sh("mdadm --detail /dev/md/dvtest");
    expect(detail).toMatch(/Raid Level : raid1/);
    expect(detail).toMatch(/Active Devices : 2/);
    expect(await sh("lvs --noheadings -o lv_name,vg_name,lv_size --units g dvtest | tr -s ' '")).toBe("lv0 dvtest 1.00g");
    expect(await sh("lsblk -no TYPE /dev/dvtest/lv0")).toBe("lvm");
  });
});
