import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { LAB_DIR, ROOT, lab, ok, run } from "./support/run.js";

// The storage layer's Ceph through the real engine against four fresh trixie lab hosts
// with two loop disks each: a 3-node cluster from empty hosts to HEALTH_OK, no second
// run, CephFS and RBD in use, no key material where it must not be, non-blank disks
// refused untouched, a failed disk replaced, a fourth node joining, a reboot, and a
// destroy that keeps the data. Each test builds on the one before.
const STACK = "e2e-storage";
const ENV = { PULUMI_CONFIG_PASSPHRASE: "debvisor-e2e-storage", DEBVISOR_SKIP_BUILD: "1" };
const configFile = join(ROOT, `Pulumi.${STACK}.yaml`);
const HOSTS = ["n1", "n2", "n3"];
const disk = (n: number, d: number) => `/dev/disk/by-id/ata-LABDISK_LAB-n${n}-d${d}`;
const diskFile = (n: number, d: number) => `${LAB_DIR}/disks/n${n}-d${d}.img`;

const pulumi = {
  run: (...args: string[]) => run("bash", ["scripts/pulumi.sh", ...args, "--stack", STACK], { env: ENV }),
  up: () => pulumi.run("up", "--yes", "--skip-preview", "--non-interactive"),
};

interface Node { name: string; osds: string[]; roles?: string[]; extra?: Record<string, unknown> }
function cluster(nodes: Node[]): any {
  return {
    defaults: {
      user: "debvisor", privateKeyFile: `${LAB_DIR}/id_ed25519`, release: "trixie", aptProxy: "http://10.213.0.1:3142", profile: "storage",
      // The cluster's networks named (not derived from the node list): a joining node then
      // changes no other node's firewall.
      security: { controllerAddresses: ["10.213.0.1"], clusterNetworks: ["10.213.0.0/24"] },
      // The lab's hosts share the machine's disk, which is fuller than Ceph's 30 % warning.
      storage: { ceph: { publicNetwork: "10.213.0.0/24", monDataAvailWarnPercent: 5 } },
    },
    nodes: nodes.map((n) => ({
      name: n.name, address: `10.213.0.1${n.name.slice(1)}`, hostKeyFile: `${LAB_DIR}/hostkeys/${n.name}.pub`,
      storage: { osds: n.osds, ...(n.roles ? { cephRoles: n.roles } : {}) },
      ...n.extra,
    })),
  };
}
const three = (n1disk = disk(1, 1), n3extra: string[] = []): Node[] => [
  { name: "n1", osds: [n1disk] }, { name: "n2", osds: [disk(2, 1)] }, { name: "n3", osds: [disk(3, 1), ...n3extra] },
];
function write(c: unknown) {
  const current = existsSync(configFile) ? (parse(readFileSync(configFile, "utf8")) ?? {}) : {};
  writeFileSync(configFile, stringify({ ...current, config: { ...current.config, "debvisor:cluster": c } }));
}

const cephJson = async (what: string) => JSON.parse(await lab.out("n1", `ceph ${what} -f json`));
/** Polls `ceph health` on n1 until it starts with `want` (or the time is up); returns the last detail. */
async function waitHealth(want: string, seconds: number): Promise<string> {
  let detail = "";
  for (const t0 = Date.now(); Date.now() - t0 < seconds * 1000; await new Promise((r) => setTimeout(r, 5000))) {
    detail = (await lab.sh("n1", "ceph health detail")).stdout;
    if (detail.startsWith(want)) return detail;
  }
  return detail;
}
/** The machine's loop device behind a host's disk. */
const loopOf = async (n: number, d: number) => (await ok(run("losetup", ["-j", diskFile(n, d), "-O", "NAME", "-n"]), `losetup -j ${diskFile(n, d)}`)).stdout.trim();
/** Every lab disk blank and writable again (the images outlive the hosts: an earlier run's OSDs are on them). */
async function blankDisks(hosts: number) {
  for (let n = 1; n <= hosts; n++) for (const d of [1, 2]) {
    const loop = await loopOf(n, d);
    await ok(run("bash", ["-c", `blockdev --setrw ${loop} && wipefs -qaf ${loop} && dd if=/dev/zero of=${loop} bs=1M count=32 oflag=direct status=none`]), `blank ${loop}`);
  }
}
/** sha256 of a disk's first and last MiB, read on its host. */
const edges = (host: string, d: string) => lab.out(host, `dev=$(readlink -f ${d}); { head -c 1048576 $dev; tail -c 1048576 $dev; } | sha256sum | cut -c1-64`);

describe.sequential("storage layer: Ceph on trixie lab hosts", () => {
  const keys: Record<string, string> = {};
  beforeAll(async () => {
    await ok(run("bash", ["scripts/setup.sh"]), "npm run setup");
    await ok(run("npm", ["run", "--silent", "build"]), "npm run build");
    // Four fresh trixie hosts with two disks: the running fleet grown and reset when it is
    // alike (VMs beside it keep running), else a fresh fleet.
    const grown = await lab.cmd("up", "--hosts", "4", "--release", "trixie", "--disks", "2:10G");
    if (grown.code === 0) await ok(lab.cmd("reset", "n1", "n2", "n3", "n4"), "lab reset n1-n4");
    else await lab.fresh("--hosts", "4", "--release", "trixie", "--disks", "2:10G");
    await blankDisks(4);
    await pulumi.run("stack", "rm", "--yes", "--force");
    await ok(pulumi.run("stack", "init"), `pulumi stack init ${STACK}`);
    write(cluster(three()));
  });
  afterAll(async () => {
    await run("bash", ["-c", `blockdev --setrw $(losetup -j ${diskFile(1, 1)} -O NAME -n) 2>/dev/null`]);
    await pulumi.run("stack", "rm", "--yes", "--force");
    rmSync(configFile, { force: true });
    await lab.cmd("down");
  });

  it("up of 3 empty hosts reaches HEALTH_OK: 3 MONs in quorum, an active MGR, 3 OSDs up/in, an active MDS, CephFS and an RBD pool", async () => {
    // Every process on the hosts, sampled while `up` runs: no key may show on a command line.
    for (const h of HOSTS) await ok(lab.sh(h, "systemd-run --unit=dvtest-ps --collect bash -c 'while :; do ps -eo args >>/run/dvtest-ps; sleep 0.3; done' >/dev/null 2>&1"), `ps sampler on ${h}`);
    const t0 = Date.now();
    await ok(pulumi.up(), "first pulumi up");
    console.log(`storage e2e: empty trixie hosts to HEALTH_OK through pulumi up in ${Math.round((Date.now() - t0) / 1000)} s`);
    for (const h of HOSTS) await lab.sh(h, "systemctl stop dvtest-ps");
    const s = await cephJson("status");
    expect(s.health.status).toBe("HEALTH_OK");
    expect(s.quorum_names.sort()).toEqual(["n1", "n2", "n3"]);
    expect(s.mgrmap.available).toBe(true);
    expect([s.osdmap.num_osds, s.osdmap.num_up_osds, s.osdmap.num_in_osds]).toEqual([3, 3, 3]);
    expect((await cephJson("fs status cephfs")).mdsmap.map((m: { state: string }) => m.state)).toContain("active");
    expect((await lab.out("n1", "ceph osd pool ls")).split("\n")).toEqual(expect.arrayContaining(["rbd", "cephfs.cephfs.meta", "cephfs.cephfs.data"]));
    expect(await lab.out("n1", "ceph osd pool get rbd size")).toBe("size: 3");
    // The stack's outputs: fsid and monitors in the clear, the CSI client keys secret.
    const out = JSON.parse((await ok(pulumi.run("stack", "output", "ceph", "--json"), "stack output ceph")).stdout);
    expect(out.fsid).toBe(s.fsid);
    expect(out.monitors).toEqual(["10.213.0.11:6789", "10.213.0.12:6789", "10.213.0.13:6789"]);
    expect(out.clientKeys).toBe("[secret]");
    for (const k of ["mon", "admin", "bootstrap-osd"]) keys[k] = await lab.out("n1", `cat /etc/ceph/debvisor/${k}.key`);
    keys["client.kubernetes"] = await lab.out("n1", "ceph auth print-key client.kubernetes");
    keys["client.kubernetes-cephfs"] = await lab.out("n1", "ceph auth print-key client.kubernetes-cephfs");
    const shown = JSON.parse((await ok(pulumi.run("stack", "output", "ceph", "--json", "--show-secrets"), "stack output --show-secrets")).stdout);
    expect(shown.clientKeys).toEqual({ "client.kubernetes": keys["client.kubernetes"], "client.kubernetes-cephfs": keys["client.kubernetes-cephfs"] });
  });

  it("holds no key in plaintext state, in any command line seen during up, or in the hosts' journals", async () => {
    const plain = (await ok(pulumi.run("stack", "export"), "stack export")).stdout;
    const decrypted = (await ok(pulumi.run("stack", "export", "--show-secrets"), "stack export --show-secrets")).stdout;
    const ps = (await Promise.all(HOSTS.map((h) => lab.out(h, "cat /run/dvtest-ps")))).join("\n");
    expect(ps).toContain("ceph-mon"); // the sampler saw the daemons start
    const journals = (await Promise.all(HOSTS.map((h) => lab.out(h, "journalctl -q --no-pager -o cat")))).join("\n");
    for (const [name, key] of Object.entries(keys)) {
      expect(key, name).toMatch(/^AQ[A-Za-z0-9+/]{30,}={0,2}$/);
      expect(decrypted, `${name} is in the state (encrypted)`).toContain(key); // the check can fail
      expect(plain, `${name} in plaintext state`).not.toContain(key);
      expect(ps, `${name} on a command line`).not.toContain(key);
      expect(journals, `${name} in a journal`).not.toContain(key);
    }
  });

  it("a second up runs no step", async () => {
    await ok(pulumi.run("preview", "--expect-no-changes", "--non-interactive"), "preview --expect-no-changes");
    const before = await Promise.all(HOSTS.map((h) => lab.stepsRun(h)));
    await ok(pulumi.up(), "second pulumi up");
    expect(await Promise.all(HOSTS.map((h) => lab.stepsRun(h)))).toEqual(before);
  });

  it("a file written through CephFS on one host is read on another; an RBD image is created and snapshotted", async () => {
    for (const h of ["n1", "n2"]) await lab.out(h, "mkdir -p /mnt/cephfs && (mountpoint -q /mnt/cephfs || ceph-fuse /mnt/cephfs >/dev/null 2>&1) && mountpoint /mnt/cephfs");
    await lab.out("n1", "echo written-on-n1 >/mnt/cephfs/hello && sync");
    expect(await lab.out("n2", "cat /mnt/cephfs/hello")).toBe("written-on-n1");
    for (const h of ["n1", "n2"]) await lab.out(h, "umount /mnt/cephfs");
    await lab.out("n3", "rbd create rbd/dvtest --size 64M && rbd snap create rbd/dvtest@first");
    expect(await lab.out("n1", "rbd snap ls rbd/dvtest")).toMatch(/\bfirst\b/);
  });

  it("refuses non-blank disks (ext4, GPT, LVM PV, BlueStore label, mounted) by name, and leaves them untouched", async () => {
    const spare = disk(3, 2);
    write(cluster(three(disk(1, 1), [spare])));
    const kinds: [string, string, RegExp][] = [
      ["ext4", `mkfs.ext4 -q -F ${spare}`, /carries the signature\(s\) ext4/],
      ["GPT", `sgdisk -o ${spare} >/dev/null`, /carries the signature\(s\) gpt/],
      ["LVM PV", `pvcreate -qf ${spare} 2>/dev/null`, /carries the signature\(s\) LVM2_member/],
      ["BlueStore label", `printf 'bluestore block device\\n00000000-0000-0000-0000-000000000000\\n' | dd of=${spare} conv=notrunc status=none`, /carries the signature\(s\) ceph_bluestore/],
      // read-only, so that the mounted filesystem itself writes nothing while the sums are compared
      ["mounted", `mkfs.ext4 -q -F ${spare} && mkdir -p /mnt/dvtest && mount -o ro,noload ${spare} /mnt/dvtest`, /is mounted \(\/mnt\/dvtest\)/],
    ];
    for (const [kind, make, found] of kinds) {
      await lab.out("n3", `pvremove -qf ${spare} >/dev/null 2>&1 || true; wipefs -qaf ${spare}; ${make}`);
      const sum = await edges("n3", spare);
      const r = await pulumi.up();
      expect(r.code, kind).not.toBe(0);
      const said = r.stdout + r.stderr;
      expect(said, kind).toContain(`${spare} is not blank, nothing was written to it`);
      expect(said, kind).toMatch(found);
      expect(await edges("n3", spare), `${kind}: first and last MiB unchanged`).toBe(sum);
    }
    await lab.out("n3", `umount /mnt/dvtest; wipefs -qaf ${spare}`);
    write(cluster(three()));
    await ok(pulumi.up(), "up with the spare out of the config again");
  });

  it("a failing OSD disk gives HEALTH_WARN naming that OSD; pointing the config at a blank spare brings HEALTH_OK back", async () => {
    const osd = await lab.out("n1", `ceph-volume raw list --format json | python3 -c 'import json,sys; print([v["osd_id"] for v in json.load(sys.stdin).values()][0])'`);
    const loop = await loopOf(1, 1);
    await ok(run("blockdev", ["--setro", loop]), `blockdev --setro ${loop}`); // writable again after the tests (afterAll)
    await lab.out("n1", "rados -p rbd put dvtest-obj /etc/services"); // I/O the failed disk cannot take
    const warn = await waitHealth("HEALTH_WARN", 180);
    expect(warn).toMatch(new RegExp(`OSD_DOWN[\\s\\S]*osd\\.${osd} \\(root=default,host=n1\\) is down`));
    write(cluster(three(disk(1, 2))));
    await ok(pulumi.up(), "up with n1's OSD on its spare disk");
    expect(await waitHealth("HEALTH_OK", 300)).toMatch(/^HEALTH_OK/);
    const tree = (await cephJson("osd tree")).nodes as { name: string; status?: string; reweight?: number }[];
    expect(tree.find((n) => n.name === `osd.${osd}`)).toMatchObject({ status: "down", reweight: 0 }); // out, kept (not purged)
  });

  it("a fourth node joins: the preview changes only its own steps, and its OSD comes up", async () => {
    write(cluster([...three(disk(1, 2)), { name: "n4", osds: [disk(4, 1)], roles: ["osd"] }]));
    const preview = await ok(pulumi.run("preview", "--json", "--non-interactive"), "preview with n4");
    // (reads: the program reading its own previous outputs)
    const changed = (JSON.parse(preview.stdout).steps ?? []).filter((s: { op: string }) => s.op !== "same" && s.op !== "read").map((s: { op: string; urn: string }) => `${s.op} ${s.urn.split("::").pop()}`);
    expect(changed.length).toBeGreaterThan(0);
    // n4's node and layer components and steps, and its part of the Ceph cluster: nothing of n1-n3, nor the cluster's identity or pools.
    expect(changed.filter((c: string) => !/ (debvisor-n4(-.*)?|debvisor-ceph-n4)$/.test(c))).toEqual([]);
    expect(changed).toEqual(expect.arrayContaining(["create debvisor-ceph-n4", "create debvisor-n4-storage-apply"]));
    const before = await Promise.all(HOSTS.map((h) => lab.stepsRun(h)));
    await ok(pulumi.up(), "up with n4");
    expect(await Promise.all(HOSTS.map((h) => lab.stepsRun(h)))).toEqual(before); // no step ran on n1-n3
    // The new OSD boots after the step: wait for it to be up, then for HEALTH_OK.
    for (const t0 = Date.now(); Date.now() - t0 < 180_000 && (await cephJson("status")).osdmap.num_up_osds < 4; await new Promise((r) => setTimeout(r, 5000)));
    expect(await waitHealth("HEALTH_OK", 300)).toMatch(/^HEALTH_OK/);
    const s = await cephJson("status");
    expect([s.osdmap.num_up_osds, s.osdmap.num_in_osds]).toEqual([4, 4]);
    expect((await cephJson("osd tree")).nodes.some((n: { name: string; type: string }) => n.type === "host" && n.name === "n4")).toBe(true);
  });

  it("a node whose OSDs hold data cannot leave the config", async () => {
    write(cluster(three(disk(1, 2))));
    const r = await pulumi.run("preview", "--non-interactive");
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toContain("defaults.storage.ceph.drainedNodes: node n4 had Ceph OSDs and is leaving the cluster");
  });

  it("a libvirt VM on n1 runs with its disk on the cluster's RBD pool", async () => {
    const vmHost: Node = {
      name: "n1", osds: [disk(1, 2)], extra: {
        profile: "hyperconverged",
        virtualization: {
          allowEmulation: true, cockpit: false, pools: [{ name: "ceph", type: "rbd" }],
          vms: [{ name: "rbdvm", memoryMiB: 256, firmware: "bios", disks: [{ name: "root", sizeGiB: 1, pool: "ceph" }] }],
        },
      },
    };
    write(cluster([vmHost, ...three(disk(1, 2)).slice(1), { name: "n4", osds: [disk(4, 1)], roles: ["osd"] }]));
    await ok(pulumi.up(), "up with a VM on RBD");
    expect(await lab.out("n1", "virsh -q domstate rbdvm")).toBe("running");
    expect(await lab.out("n1", "virsh -q dumpxml rbdvm | grep -o \"protocol='rbd' name='[^']*'\"")).toBe("protocol='rbd' name='rbd/rbdvm-root.raw'");
    expect(await lab.out("n1", "rbd status rbd/rbdvm-root.raw")).toMatch(/watcher=10\.213\.0\.11/); // QEMU has the image open
    // The pool's client key reached libvirt through a file, never a command line or the state.
    const key = await lab.out("n1", "ceph auth print-key client.libvirt-rbd");
    expect((await ok(pulumi.run("stack", "export"), "stack export")).stdout).not.toContain(key);
    const before = await lab.stepsRun("n1");
    await ok(pulumi.up(), "second up with the VM");
    expect(await lab.stepsRun("n1")).toBe(before);
  });

  it("OSDs come back after a reboot", async () => {
    await ok(lab.cmd("restart", "n2"), "lab restart n2");
    expect(await waitHealth("HEALTH_OK", 300)).toMatch(/^HEALTH_OK/);
    expect((await cephJson("status")).osdmap.num_up_osds).toBe(4);
    expect(await lab.out("n2", "systemctl is-active debvisor-ceph-osd-activate.service")).toBe("active");
  });

  it("destroy leaves every OSD and its data", async () => {
    await ok(pulumi.run("destroy", "--yes", "--skip-preview", "--non-interactive"), "pulumi destroy");
    for (const h of [...HOSTS, "n4"]) {
      const osds = JSON.parse(await lab.out(h, "ceph-volume raw list --format json"));
      expect(Object.keys(osds).length, h).toBeGreaterThan(0);
    }
    expect((await cephJson("status")).osdmap.num_up_osds).toBe(4);
    expect(await lab.out("n3", "rbd snap ls rbd/dvtest")).toMatch(/\bfirst\b/);
  });
});
