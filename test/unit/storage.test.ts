import { describe, expect, it } from "vitest";
import { installMocks } from "../support/mocks.js";
import { CANARY_KEY, fakeFiles, validStackConfig } from "../support/fixtures.js";

// The storage layer's Ceph: settings refused naming the field, the steps a Ceph stack
// registers (identity made once on the first monitor, handed on as secrets), and what a
// joining node changes.
const KEY = "AQBtestkeymaterialCANARY0000000000000000==";
const mocks = await installMocks({
  stdout: (name) => (name === "debvisor-ceph-bootstrap" ? ["fsid=0b3c6a6e-1111-4222-8333-944455556666", "key.mon=M" + KEY, "key.admin=A" + KEY, "key.bootstrap-osd=B" + KEY].map((f) => `@fact ceph.${f}`).join("\n") : ""),
});
const { loadStackConfig } = await import("../../stacks/index.js");
const { DebVisorCluster } = await import("../../components/index.js");
const { renderCephConf, cephPackages, cephPoolsStep, cephNodeParams, storageParts, zfsStep, fsStep, lvmStep } = await import("../../components/storage/index.js");

const disk = (n: number, d = 1) => `/dev/disk/by-id/ata-LAB-n${n}-d${d}`;
/** Three storage nodes in one Ceph cluster, one OSD disk each. */
function cephConfig(mutate: (c: any) => void = () => {}) {
  const c = validStackConfig(3);
  c.defaults.profile = "storage";
  c.defaults.storage = { ceph: { publicNetwork: "10.213.0.0/24" } };
  c.nodes.forEach((n: any, i: number) => (n.storage = { osds: [disk(i + 1)] }));
  mutate(c);
  return c;
}
const load = (mutate: (c: any) => void = () => {}) => loadStackConfig(cephConfig(mutate), { readFile: fakeFiles });

describe("storage settings: refused naming the field", () => {
  it("accepts a 3-node cluster", () => expect(() => load()).not.toThrow());
  it.each([
    ["an OSD disk the node does not list", (c: any) => (c.nodes[0].disks = [disk(1, 2)]), /nodes\[0\]\.storage\.osds\[0\]: is not one of the node's disks \(nodes\[0\]\.disks\)/],
    ["an OSD disk by kernel name", (c: any) => (c.nodes[0].storage.osds = ["/dev/sdb"]), /nodes\[0\]\.storage\.osds\[0\]: must be a \/dev\/disk\/by-id\/ path/],
    ["one disk twice", (c: any) => (c.nodes[1].storage.osds = [disk(2), disk(2)]), /nodes\[1\]\.storage\.osds\[1\]: is also osds\[0\]: one disk, one use/],
    ["a wipe opt-in for a disk not used", (c: any) => (c.nodes[0].storage.wipe = [disk(1, 2)]), /nodes\[0\]\.storage\.wipe\[0\]: names a disk this node's storage does not use/],
    ["a public network without the node", (c: any) => (c.defaults.storage.ceph.publicNetwork = "10.9.0.0/24"), /defaults\.storage\.ceph\.publicNetwork: does not contain the node's address 10\.213\.0\.12/],
    ["a bad network", (c: any) => (c.defaults.storage.ceph.publicNetwork = "10.213.0.0/33"), /defaults\.storage\.ceph\.publicNetwork: must be a network like 10\.0\.0\.0\/24/],
    ["min_size above size", (c: any) => Object.assign(c.defaults.storage.ceph, { poolSize: 2, poolMinSize: 3 }), /ceph\.poolMinSize: is more than poolSize \(2\)/],
    ["a pool's min_size above its size", (c: any) => (c.defaults.storage.ceph.rbdPools = [{ name: "vm", size: 2, minSize: 3 }]), /ceph\.rbdPools\[0\]\.minSize: is more than its size \(2\)/],
    ["a pool twice", (c: any) => (c.defaults.storage.ceph.rbdPools = [{ name: "vm" }, { name: "vm" }]), /ceph\.rbdPools\[1\]\.name: duplicate of rbdPools\[0\]/],
    ["more copies than OSD nodes", (c: any) => (c.defaults.storage.ceph.poolSize = 4), /ceph\.poolSize: 4 copies need 4 nodes with OSDs, the cluster has 3/],
    ["two monitors", (c: any) => (c.nodes[2].storage.cephRoles = ["osd"]), /nodes\[1\]\.storage\.cephRoles: 2 monitors .*use an odd number/],
    ["no monitor", (c: any) => c.nodes.forEach((n: any) => (n.storage.cephRoles = ["osd", "mgr", "mds"])), /nodes\[0\]\.storage\.cephRoles: no node of the Ceph cluster has the mon role/],
    ["CephFS without a metadata server", (c: any) => c.nodes.forEach((n: any) => (n.storage.cephRoles = ["mon", "mgr", "osd"])), /the CephFS "cephfs" needs a node with the mds role/],
    ["cluster settings that differ between nodes", (c: any) => (c.nodes[2].storage.ceph = { publicNetwork: "10.213.0.0/16" }), /nodes\[2\]\.storage\.ceph: differs from nodes\[0\]\.storage\.ceph/],
    ["OSDs on a node in no Ceph cluster", (c: any) => { delete c.defaults.storage; }, /nodes\[0\]\.storage\.osds: are set but the node is in no Ceph cluster/],
    ["an OSD role without a disk", (c: any) => (c.nodes[0].storage = { cephRoles: ["osd"] }), /nodes\[0\]\.storage\.osds: the node has the osd role but no disk for it/],
    ["an unknown role", (c: any) => (c.nodes[0].storage.cephRoles = ["rgw"]), /nodes\[0\]\.storage\.cephRoles\[0\]: must be one of mon, mgr, mds, osd/],
    ["a memory target under Ceph's minimum", (c: any) => (c.defaults.storage.ceph.osdMemoryTargetMiB = 512), /defaults\.storage\.ceph\.osdMemoryTargetMiB: must be an integer from 896/],
  ])("%s", (_, mutate, message) => {
    expect(() => load(mutate)).toThrow(message);
  });
});

/** One node with local storage (no Ceph): ZFS, md, LVM, filesystems. */
const local = (storage: any, mutate: (c: any) => void = () => {}) => load((c) => {
  delete c.defaults.storage;
  c.nodes.forEach((n: any) => delete n.storage);
  c.defaults.contrib = true;
  c.nodes[0].storage = storage;
  mutate(c);
});
const d = (i: number) => `/dev/disk/by-id/ata-LAB-n1-d${i}`;

describe("local storage settings: refused naming the field", () => {
  const good = {
    zfsPools: [{ name: "tank", vdevs: [{ type: "mirror", disks: [d(1), d(2)] }] }],
    mdArrays: [{ name: "data", level: 1, disks: [d(3), d(4)] }],
    volumeGroups: [{ name: "vg0", devices: ["md:data"], volumes: [{ name: "srv", size: "2G", filesystem: "xfs", mountpoint: "/srv/data" }] }],
    filesystems: [{ devices: [d(5), d(6)], filesystem: "btrfs", mountpoint: "/srv/btrfs" }],
  };
  it("accepts ZFS, md + LVM + xfs and a btrfs RAID1 on one node", () => expect(() => local(good)).not.toThrow());
  it.each([
    ["ZFS without contrib", (s: any, c: any) => (c.defaults.contrib = false), /nodes\[0\]\.storage\.zfsPools: ZFS's tools \(zfsutils-linux\) are in Debian's contrib/],
    ["a mirror of one disk", (s: any) => (s.zfsPools[0].vdevs[0].disks = [d(1)]), /zfsPools\[0\]\.vdevs\[0\]\.disks: a mirror vdev needs at least 2 disks, got 1/],
    ["a reserved pool name", (s: any) => (s.zfsPools[0].name = "mirror1"), /zfsPools\[0\]\.name: is a name ZFS reserves/],
    ["one disk in a pool and an array", (s: any) => (s.mdArrays[0].disks = [d(1), d(4)]), /mdArrays\[0\]\.disks\[0\]: is also zfsPools\[0\]\.vdevs\[0\]\.disks\[0\]: one disk, one use/],
    ["RAID10 of three disks", (s: any) => Object.assign(s.mdArrays[0], { level: 10, disks: [d(3), d(4), d(7)] }), /mdArrays\[0\]\.disks: RAID10 here takes an even number of disks, at least 4; got 3/],
    ["a volume group on an array that does not exist", (s: any) => (s.volumeGroups[0].devices = ["md:nope"]), /volumeGroups\[0\]\.devices\[0\]: names no array of this node's mdArrays/],
    ["xfs over two disks", (s: any) => (s.filesystems[0].filesystem = "xfs"), /filesystems\[0\]\.devices: xfs lives on one device/],
    ["a volume with a filesystem but no mount point", (s: any) => delete s.volumeGroups[0].volumes[0].mountpoint, /volumeGroups\[0\]\.volumes\[0\]\.mountpoint: a filesystem and a mount point go together/],
    ["two filesystems on one mount point", (s: any) => (s.filesystems[0].mountpoint = "/srv/data/"), /filesystems\[0\]\.mountpoint: is also volumeGroups\[0\]\.volumes\[0\]\.mountpoint/],
    ["a system directory as mount point", (s: any) => (s.filesystems[0].mountpoint = "/var"), /filesystems\[0\]\.mountpoint: is a system directory/],
    ["a bad size", (s: any) => (s.volumeGroups[0].volumes[0].size = "lots"), /volumeGroups\[0\]\.volumes\[0\]\.size: must be a size like 10G/],
    ["a bad ZFS property value", (s: any) => (s.zfsPools[0].properties = { compression: "lz4; rm -rf /" }), /zfsPools\[0\]\.properties\.compression: not a ZFS property value/],
  ])("%s", (_, mutate, message) => {
    const s = structuredClone(good);
    expect(() => local(s, (c) => mutate(s, c))).toThrow(message);
  });
  it("renders the pool, its default datasets and the filesystems for the host", () => {
    const z = zfsStep({ zfsPools: [{ name: "tank", vdevs: [{ type: "mirror", disks: [d(1), d(2)] }], log: { type: "stripe", disks: [d(3)] }, cache: [d(4)] }] });
    expect(z.params.DV_POOLS).toBe(`tank\t12\tacltype=posixacl,atime=off,compression=lz4,xattr=sa\tmirror ${d(1)} ${d(2)} log ${d(3)} cache ${d(4)}`);
    expect(z.params.DV_DATASETS.split("\n")).toEqual(["tank/vm\trecordsize=64K", "tank/docker\t", "tank/k8s\t"]);
    expect(lvmStep(good as any).params).toMatchObject({ DV_VGS: "vg0\t/dev/md/data", DV_LVS: "vg0\tsrv\t2G" });
    expect(fsStep(good as any).params.DV_FILESYSTEMS.split("\n")).toEqual([
      "/dev/vg0/srv\txfs\t/srv/data\tdefaults\t", `${d(5)} ${d(6)}\tbtrfs\t/srv/btrfs\tdefaults\traid1`,
    ]);
    expect(storageParts(good as any).map((p) => p.name)).toEqual(["md", "lvm", "filesystems", "zfs"]);
    expect(storageParts({})).toEqual([]); // no step: the tools come with the base packages
  });
});

describe("libvirt pools on the storage layer's RBD pools and ZFS datasets", async () => {
  const { renderPoolXml, renderDomainXml, resolveVm, poolParams, virtualizationPackages } = await import("../../components/virtualization/index.js");
  const hc = (mutate: (c: any) => void) => load((c) => {
    c.defaults.profile = "hyperconverged";
    c.defaults.virtualization = { allowEmulation: true };
    mutate(c);
  });
  it.each([
    ["an rbd pool on a node in no Ceph cluster", (c: any) => { delete c.defaults.storage; c.nodes.forEach((n: any) => delete n.storage); c.nodes[0].virtualization = { pools: [{ name: "ceph", type: "rbd" }] }; }, /nodes\[0\]\.virtualization\.pools\[0\]\.type: an rbd pool needs the node in a Ceph cluster/],
    ["an rbd pool on a Ceph pool the cluster does not have", (c: any) => (c.nodes[0].virtualization = { pools: [{ name: "ceph", type: "rbd", cephPool: "vms" }] }), /pools\[0\]\.cephPool: not an RBD pool of storage\.ceph\.rbdPools \(rbd\)/],
    ["a zfs pool on a dataset the node does not have", (c: any) => (c.nodes[0].virtualization = { pools: [{ name: "z", type: "zfs", dataset: "tank/vm" }] }), /pools\[0\]\.dataset: not a dataset of the node's storage\.zfsPools \(none\)/],
    ["a qcow2 disk in an rbd pool", (c: any) => (c.nodes[0].virtualization = { pools: [{ name: "ceph", type: "rbd" }], vms: [{ name: "vm1", disks: [{ name: "root", sizeGiB: 1, pool: "ceph", format: "qcow2" }] }] }), /vms\[0\]\.disks\[0\]\.format: a disk in RBD pool ceph is raw/],
    ["a cloud-init seed in an rbd pool", (c: any) => (c.nodes[0].virtualization = { pools: [{ name: "ceph", type: "rbd" }], vms: [{ name: "vm1", disks: [{ name: "root", sizeGiB: 1, pool: "ceph" }], cloudInit: { hostname: "vm1" } }] }), /vms\[0\]\.disks\[0\]\.pool: the cloud-init seed ISO lives in the first disk's pool, which must be a dir pool/],
  ])("refuses %s", (_, mutate, message) => expect(() => hc(mutate)).toThrow(message));
  it("accepts a VM on the cluster's RBD pool", () => expect(() => hc((c) => (c.nodes[0].virtualization = { pools: [{ name: "ceph", type: "rbd" }], vms: [{ name: "vm1", disks: [{ name: "root", sizeGiB: 1, pool: "ceph" }] }] }))).not.toThrow());
  it("renders the rbd pool (monitors added on the host), its secret's fixed uuid, and the VM's network disk", () => {
    const pool = { name: "ceph", type: "rbd" as const };
    const xml = renderPoolXml(pool);
    expect(xml).toMatch(/<pool type="rbd">\s*<name>ceph<\/name>\s*<source>\s*<name>rbd<\/name>\s*<auth username="libvirt-rbd" type="ceph">\s*<secret uuid="([0-9a-f-]{36})"/);
    expect(poolParams(pool)).toMatchObject({ DV_TYPE: "rbd", DV_CEPH_POOL: "rbd", DV_CEPH_CLIENT: "libvirt-rbd", DV_PATH: "" });
    expect(poolParams(pool).DV_SECRET_UUID).toBe(poolParams({ name: "other", type: "rbd" }).DV_SECRET_UUID); // per Ceph pool, stable
    expect(poolParams(pool).DV_SECRET_UUID).not.toBe(poolParams({ name: "v", type: "rbd", cephPool: "vms" }).DV_SECRET_UUID);
    const vm = resolveVm({ name: "vm1", disks: [{ name: "root", sizeGiB: 1, pool: "ceph" }], rbdPools: { ceph: { cephPool: "rbd", client: "libvirt-rbd", secretUuid: poolParams(pool).DV_SECRET_UUID } } });
    expect(vm.disks[0].format).toBe("raw");
    const dom = renderDomainXml(vm);
    expect(dom).toContain('<disk type="network" device="disk">');
    expect(dom).toContain('<source protocol="rbd" name="rbd/vm1-root.raw"');
    expect(dom).toContain(`<secret type="ceph" uuid="${poolParams(pool).DV_SECRET_UUID}"`);
    expect(renderPoolXml({ name: "z", type: "zfs", dataset: "tank/vm" })).toMatch(/<pool type="zfs">\s*<name>z<\/name>\s*<source>\s*<name>tank\/vm<\/name>/);
    expect(virtualizationPackages(false, [pool, { name: "z", type: "zfs", dataset: "tank/vm" }])).toEqual(expect.arrayContaining(["libvirt-daemon-driver-storage-rbd", "qemu-block-extra", "libvirt-daemon-driver-storage-zfs"]));
    expect(virtualizationPackages(false, [])).not.toContain("qemu-block-extra");
  });
});

describe("a node with OSDs leaves the cluster only once drained", () => {
  const withPrevious = (mutate: (c: any) => void) => () => loadStackConfig(cephConfig(mutate), { readFile: fakeFiles, previousCephOsdNodes: ["n1", "n2", "n3"] });
  it("refuses a node removed from the config, naming it", () => {
    expect(withPrevious((c) => c.nodes.push({ ...c.nodes[2], name: "n4", address: "10.213.0.15", storage: { osds: [disk(4)], cephRoles: ["osd"] } }))).not.toThrow();
    expect(withPrevious((c) => { c.nodes.pop(); c.nodes[1].storage.cephRoles = ["osd"]; })).toThrow(/defaults\.storage\.ceph\.drainedNodes: node n3 had Ceph OSDs and is leaving the cluster \(or its osds\): drain them first/);
  });
  it("refuses a node that drops its OSDs", () => {
    expect(withPrevious((c) => (c.nodes[1].storage = { cephRoles: ["mon", "mgr", "mds"] }))).toThrow(/node n2 had Ceph OSDs/);
  });
  it("lets a drained node go, and the pools step checks it is", () => {
    expect(withPrevious((c) => { c.nodes.pop(); c.nodes[1].storage.cephRoles = ["mon", "mgr", "mds", "osd"]; c.nodes.push({ name: "n5", address: "10.213.0.16", hostKeyFile: "/lab/hostkeys/n5.pub", storage: { osds: [disk(5)] } }); c.defaults.storage.ceph.drainedNodes = ["n3"]; })).not.toThrow();
    expect(cephPoolsStep({ publicNetwork: "10.0.0.0/24", drainedNodes: ["n3"] }, 3).params.DV_DRAINED).toBe("n3");
  });
});

describe("ceph.conf, packages and pools", () => {
  const members = [1, 2, 3].map((i) => ({ id: `n${i}`, address: `10.0.0.${i}`, roles: ["mon", "mgr", "mds", "osd"] as const, osds: [disk(i)], wipe: [] }));
  it("lists the monitors, the networks, copies on different hosts, pool deletion off", () => {
    const conf = renderCephConf({ publicNetwork: "10.0.0.0/24", clusterNetwork: "10.1.0.0/24" }, members);
    expect(conf.split("\n")).toEqual(expect.arrayContaining([
      "mon_host = 10.0.0.1,10.0.0.2,10.0.0.3", "public_network = 10.0.0.0/24", "cluster_network = 10.1.0.0/24",
      "osd_pool_default_size = 3", "osd_pool_default_min_size = 2", "osd_crush_chooseleaf_type = 1",
      "mon_allow_pool_delete = false", "auth_allow_insecure_global_id_reclaim = false", `osd_memory_target = ${896 * 1024 * 1024}`,
    ]));
    expect(conf).not.toMatch(/fsid/); // the host adds it: it comes from the first monitor
  });
  it("one OSD host: copies on different OSDs of it, size 1", () => {
    const conf = renderCephConf({ publicNetwork: "10.0.0.0/24" }, [members[0]]);
    expect(conf).toMatch(/osd_crush_chooseleaf_type = 0/);
    expect(conf).toMatch(/osd_pool_default_size = 1\n/);
    expect(conf).toMatch(/mon_warn_on_pool_no_redundancy = false/); // one copy was asked for: no warning that never clears
  });
  it("makes new OSDs raw unless the node asks for LVM", () => {
    expect(cephNodeParams(members[0], "", "").DV_CEPH_OSD_MODE).toBe("raw");
    expect(cephNodeParams({ ...members[0], osdMode: "lvm" }, "", "").DV_CEPH_OSD_MODE).toBe("lvm");
    expect(() => load((c) => (c.nodes[0].storage.osdMode = "zfs"))).toThrow(/nodes\[0\]\.storage\.osdMode: must be raw or lvm/);
  });
  it("installs per role", () => {
    expect(cephPackages(["osd"])).toEqual(["ceph-common", "ceph-fuse", "ceph-osd", "ceph-volume"]);
    expect(cephPackages(["mon", "mgr", "mds"])).toEqual(["ceph-common", "ceph-fuse", "ceph-mon", "ceph-mgr", "ceph-mds"]);
  });
  it("pools take the cluster's copies unless they set their own", () => {
    const step = cephPoolsStep({ publicNetwork: "10.0.0.0/24", rbdPools: [{ name: "rbd" }, { name: "vm", size: 2 }], cephfs: "fs1" }, 3);
    expect(step.params).toMatchObject({ DV_RBD_POOLS: "rbd:3:2 vm:2:2", DV_CEPHFS: "fs1", DV_DISABLE_RESTFUL: "1" });
  });
});

describe("a Ceph stack's steps", async () => {
  const cluster = new DebVisorCluster("debvisor", load());
  await new Promise((r) => setTimeout(r, 300));
  const steps = () => mocks.registrations.filter((r) => r.type === "command:remote:Command");
  const step = (name: string) => steps().find((r) => r.name === name)!;

  it("registers each node's storage step, the identity, each node's daemons and the pools", () => {
    const names = steps().map((r) => r.name).filter((n) => /ceph|storage/.test(n));
    expect(names.sort()).toEqual([
      "debvisor-ceph-bootstrap", "debvisor-ceph-n1", "debvisor-ceph-n2", "debvisor-ceph-n3", "debvisor-ceph-pools",
      "debvisor-n1-storage-apply", "debvisor-n2-storage-apply", "debvisor-n3-storage-apply",
    ]);
    expect(cluster.services.storage).toBeDefined();
  });
  it("makes the identity on the first monitor, after its packages, and keeps its output secret", () => {
    const b = step("debvisor-ceph-bootstrap");
    expect(JSON.stringify(b.raw.connection)).toContain("10.213.0.12");
    expect(b.dependsOn).toContain("debvisor-n1-storage-apply");
    expect(b.options.additionalSecretOutputs).toEqual(expect.arrayContaining(["stdout", "stderr"]));
    expect(b.raw.logging).toBe("stderr"); // shown: its script prints no key there (and masks any)
  });
  it("hands the keys to every node's step as a secret payload, never on the command line", () => {
    for (const n of ["n1", "n2", "n3"]) {
      const s = step(`debvisor-ceph-${n}`);
      expect(s.dependsOn).toEqual(expect.arrayContaining(["debvisor-ceph-bootstrap", `debvisor-${n}-storage-apply`]));
      expect(JSON.stringify(s.raw.stdin)).toContain("1b47061264138c4ac30d75fd1eb44270"); // the secret signature
      expect(s.raw.create).not.toMatch(/DV_CEPH|key/i);
      expect(s.options.additionalSecretOutputs).toEqual(expect.arrayContaining(["stdout"]));
    }
  });
  it("runs the pools after every node's daemons", () => {
    expect(step("debvisor-ceph-pools").dependsOn).toEqual(expect.arrayContaining(["debvisor-ceph-n1", "debvisor-ceph-n2", "debvisor-ceph-n3"]));
  });
  it("adds the Ceph health timer where Ceph runs", () => {
    const mgmt = steps().find((r) => r.name === "debvisor-n1-management-apply" || r.name.startsWith("debvisor-n1-management"));
    expect(JSON.stringify(mgmt?.inputs.stdin ?? "")).toContain("debvisor-ceph-health");
  });
  it("never puts a key in plaintext inputs", () => {
    // The inputs as the engine stores them, with what is inside secrets taken out.
    const plain = (v: any): any => (Array.isArray(v) ? v.map(plain) : v && typeof v === "object"
      ? (v["4dabf18193072939515e22adb298388d"] === "1b47061264138c4ac30d75fd1eb44270" ? "[secret]" : Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)])))
      : v);
    const raw = JSON.stringify(steps().map((s) => plain(s.raw)));
    expect(raw).not.toContain(CANARY_KEY.slice(40, 80));
    expect(raw).not.toContain(KEY);
    // ...and the keys do reach the nodes' payloads (inside the secrets)
    expect(JSON.stringify(step("debvisor-ceph-n2").inputs.stdin)).toContain(`DV_CEPH_KEY_ADMIN='A${KEY}'`);
  });
});
