import { z } from "zod";
import { isIP } from "node:net";
import { DISK_BY_ID, cidrContains } from "../config/formats.js";
import { fail } from "../config/problems.js";
import type { RuleContext } from "../layer.js";

/** Ceph daemons a node can run. */
export const CEPH_ROLES = ["mon", "mgr", "mds", "osd"] as const;
export type CephRole = (typeof CEPH_ROLES)[number];

/** A pool name Ceph accepts and a shell never mangles. */
export const CEPH_POOL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
/** The smallest disk the storage layer takes (BlueStore itself needs a few GiB). */
export const MIN_DISK_GIB = 5;

const int = (min: number, max: number) => z.number({ error: `must be an integer from ${min} to ${max}` })
  .int(`must be an integer from ${min} to ${max}`).min(min, `must be an integer from ${min} to ${max}`).max(max, `must be an integer from ${min} to ${max}`);
const bool = z.boolean({ error: "must be true or false" });
const diskId = z.string({ error: "must be a /dev/disk/by-id/ path" }).regex(DISK_BY_ID, "must be a /dev/disk/by-id/ path (never /dev/sdX: those names move between boots)");
const cidr = z.string({ error: "must be a network like 10.0.0.0/24" }).refine((v) => {
  const [net, len, ...rest] = v.split("/");
  const fam = isIP(net ?? "");
  return rest.length === 0 && fam !== 0 && /^\d+$/.test(len ?? "") && Number(len) <= (fam === 4 ? 32 : 128);
}, "must be a network like 10.0.0.0/24");

const rbdPoolSchema = z.strictObject({
  name: z.string({ error: "must be 1-63 letters, digits, _ . - (starting with a letter or digit)" }).regex(CEPH_POOL_NAME, "must be 1-63 letters, digits, _ . - (starting with a letter or digit)"),
  /** Copies of each object. @default the cluster's `poolSize` */
  size: int(1, 10).optional(),
  /** Copies that must be up for I/O. @default the cluster's `poolMinSize` */
  minSize: int(1, 10).optional(),
}, { error: "must be an object" });

/**
 * Settings of the Ceph cluster as a whole: the same on every Ceph node, so they belong in
 * the stack's `defaults.storage.ceph` (a cross-node rule checks it).
 */
export const cephClusterSchema = z.strictObject({
  /** The network Ceph's daemons and clients talk on; every Ceph node's address must be in it. */
  publicNetwork: cidr,
  /** A separate network for OSD replication and recovery. @default publicNetwork */
  clusterNetwork: cidr.optional(),
  /** Default copies per pool. @default min(3, OSD nodes) */
  poolSize: int(1, 10).optional(),
  /** Default copies that must be up for I/O. @default 2 when poolSize >= 3, else 1 */
  poolMinSize: int(1, 10).optional(),
  /** RBD pools (VM disks, Kubernetes volumes). @default [{ name: "rbd" }] */
  rbdPools: z.array(rbdPoolSchema, { error: "must be a list" }).max(32, "at most 32 pools").optional(),
  /** The CephFS file system (needs at least one MDS); false: none. @default "cephfs" */
  cephfs: z.union([z.literal(false), z.string().regex(CEPH_POOL_NAME, "must be 1-63 letters, digits, _ . -")], { error: "must be a file system name or false" }).optional(),
  /**
   * Nodes whose OSDs were drained (`ceph osd out`, then HEALTH_OK) and that may leave the
   * cluster or drop their `osds`: the pools step checks `ceph osd safe-to-destroy` for their
   * OSDs and fails if any still holds data. Nothing is purged. @default []
   */
  drainedNodes: z.array(z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "not a node name"), { error: "must be a list" }).optional(),
  /** BlueStore's memory target per OSD, MiB (Ceph's minimum is 896). @default 896 */
  osdMemoryTargetMiB: int(896, 1024 * 1024).optional(),
  /**
   * HEALTH_WARN when a monitor's filesystem has less free space than this (percent;
   * Ceph's own default 30). @default 30
   */
  monDataAvailWarnPercent: int(2, 99).optional(),
  /**
   * Debian trixie's ceph-mgr 18.2.7 loads bcrypt (a PyO3 module) at the top of mgr_util.py,
   * which sub-interpreters cannot do: most mgr modules fail (MGR_MODULE_DEPENDENCY). When
   * true, DebVisor detects that and moves the import into the one function that needs it
   * (and says so in the step's output); when false it only reports it. @default true
   */
  patchMgrPyO3: bool.optional(),
}, { error: "must be an object" });

/** ZFS dataset and md/LVM names (no path separators, nothing a shell or a unit file would mangle). */
export const LOCAL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
/** ZFS property names and values DebVisor passes on (`-o name=value`). */
const ZFS_PROPERTY = /^[a-z][a-z0-9_:.]{0,63}$/;
const ZFS_VALUE = /^[A-Za-z0-9_.:/+=@-]{1,256}$/;
/** A mount point: absolute, plain characters, not a system directory. */
const MOUNTPOINT = /^\/[A-Za-z0-9_.\/-]*$/;
const SYSTEM_MOUNTS = ["/", "/boot", "/dev", "/etc", "/proc", "/run", "/sys", "/usr", "/var", "/tmp", "/home", "/root", "/bin", "/sbin", "/lib", "/lib64"];
/** Filesystems the storage layer makes. */
export const FILESYSTEMS = ["xfs", "ext4", "btrfs"] as const;
/** ZFS vdev layouts. */
export const VDEV_TYPES = ["stripe", "mirror", "raidz1", "raidz2", "raidz3"] as const;

const localName = (what: string) => z.string({ error: `must be a ${what} name: 1-63 letters, digits, _ . - (starting with a letter or digit)` })
  .regex(LOCAL_NAME, `must be a ${what} name: 1-63 letters, digits, _ . - (starting with a letter or digit)`);
const zfsProperties = z.record(
  z.string().regex(ZFS_PROPERTY, "not a ZFS property name"),
  z.string({ error: "must be a string" }).regex(ZFS_VALUE, "not a ZFS property value (letters, digits, _ . : / + = @ -)"),
  { error: "must be an object of ZFS properties" },
);
const mountpoint = z.string({ error: "must be an absolute path" }).regex(MOUNTPOINT, "must be an absolute path (letters, digits, _ . / -)")
  .refine((m) => !m.split("/").includes("..") && !SYSTEM_MOUNTS.includes(m.replace(/\/+$/, "") || "/"), "is a system directory");
const vdevSchema = z.strictObject({
  type: z.enum(VDEV_TYPES, { error: `must be one of ${VDEV_TYPES.join(", ")}` }),
  disks: z.array(diskId, { error: "must be a list" }).min(1, "needs at least one disk"),
}, { error: "must be an object" });

const zfsPoolSchema = z.strictObject({
  name: z.string({ error: "not a ZFS pool name" }).regex(/^[A-Za-z][A-Za-z0-9_.:-]{0,62}$/, "not a ZFS pool name (a letter, then letters, digits, _ . : -)")
    .refine((n) => !/^(mirror|raidz|draid|spare|log|cache|special|dedup)/.test(n), "is a name ZFS reserves"),
  /** Data vdevs. */
  vdevs: z.array(vdevSchema, { error: "must be a list" }).min(1, "needs at least one vdev"),
  /** Special (metadata) vdev: a mirror of fast disks. */
  special: vdevSchema.optional(),
  /** Separate intent log (SLOG). */
  log: vdevSchema.optional(),
  /** L2ARC cache disks. */
  cache: z.array(diskId, { error: "must be a list" }).optional(),
  /** ashift (sector size exponent). @default 12 */
  ashift: int(9, 16).optional(),
  /** Pool-wide dataset properties. @default { compression: "lz4", atime: "off", xattr: "sa", acltype: "posixacl" } */
  properties: zfsProperties.optional(),
  /**
   * Datasets (`<pool>/<name>`), with their properties. @default vm (recordsize 64K), docker,
   * k8s: what the virtualization, containers and Kubernetes layers use.
   */
  datasets: z.array(z.strictObject({ name: localName("dataset"), properties: zfsProperties.optional() }, { error: "must be an object" }), { error: "must be a list" }).optional(),
}, { error: "must be an object" });

const mdSchema = z.strictObject({
  /** The array's name: `/dev/md/<name>`. */
  name: localName("md array"),
  level: z.union([z.literal(1), z.literal(10)], { error: "must be 1 or 10" }),
  disks: z.array(diskId, { error: "must be a list" }).min(2, "needs at least two disks"),
}, { error: "must be an object" });

const filesystemFields = {
  /** Filesystem made on the device when it has none (never on one that has another). */
  filesystem: z.enum(FILESYSTEMS, { error: `must be one of ${FILESYSTEMS.join(", ")}` }),
  /** Where it is mounted (a systemd mount unit, at boot too). */
  mountpoint,
  /** Mount options. @default "defaults" */
  options: z.string().regex(/^[A-Za-z0-9_=,.:-]{1,200}$/, "not a mount option list (letters, digits, _ = , . : -)").optional(),
};
const lvSchema = z.strictObject({
  name: localName("logical volume"),
  /** Size: `10G`, `500M`, or a share of the group's space like `100%FREE`. */
  size: z.string({ error: "must be a size like 10G or 100%FREE" }).regex(/^(\d+[MGT]|\d{1,3}%(FREE|VG))$/, "must be a size like 10G, 500M or 100%FREE"),
  ...Object.fromEntries(Object.entries(filesystemFields).map(([k, v]) => [k, v.optional()])) as { filesystem: z.ZodOptional<typeof filesystemFields.filesystem>; mountpoint: z.ZodOptional<typeof mountpoint>; options: z.ZodOptional<typeof filesystemFields.options> },
}, { error: "must be an object" });
const vgSchema = z.strictObject({
  name: localName("volume group"),
  /** Physical volumes: disks by id, or md arrays of this node (`md:<name>`). */
  devices: z.array(z.union([diskId, z.string().regex(/^md:[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/)], { error: "must be a /dev/disk/by-id/ path or md:<array name>" }), { error: "must be a list" }).min(1, "needs at least one device"),
  volumes: z.array(lvSchema, { error: "must be a list" }).optional(),
}, { error: "must be an object" });
const fsSchema = z.strictObject({
  /** Disks by id, or one md array (`md:<name>`); several disks: btrfs only (its own RAID). */
  devices: z.array(z.union([diskId, z.string().regex(/^md:[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/)], { error: "must be a /dev/disk/by-id/ path or md:<array name>" }), { error: "must be a list" }).min(1, "needs at least one device"),
  /** btrfs across several disks: data and metadata profile. @default raid1 with two or more disks */
  btrfsProfile: z.enum(["single", "raid1", "raid10"], { error: "must be single, raid1 or raid10" }).optional(),
  ...filesystemFields,
}, { error: "must be an object" });

/** The storage layer's settings on a node (`storage` in the stack config). */
export const storageSchema = z.strictObject({
  /** This node is in the Ceph cluster (set it in `defaults.storage.ceph`). @default none (no Ceph) */
  ceph: cephClusterSchema.optional(),
  /** The Ceph daemons of this node. @default every role: mon, mgr, mds, osd */
  cephRoles: z.array(z.enum(CEPH_ROLES, { error: `must be one of ${CEPH_ROLES.join(", ")}` }), { error: "must be a list" }).optional(),
  /** Disks that become Ceph OSDs (BlueStore), by stable id; they must be blank. @default [] */
  osds: z.array(diskId, { error: "must be a list" }).max(64, "at most 64 disks").optional(),
  /**
   * How new OSDs are made: `raw` BlueStore straight on the disk (works everywhere, even in a
   * container), or `lvm` (`ceph-volume lvm create`: the disk becomes an LVM volume, the
   * layout Ceph's own tools make, with systemd activation; needs device-mapper). OSDs already
   * made keep theirs. @default "raw"
   */
  osdMode: z.enum(["raw", "lvm"], { error: "must be raw or lvm" }).optional(),
  /**
   * Disks DebVisor may wipe before using them (their data is destroyed): each must be one
   * of the disks this node's storage uses, named exactly. Without it a disk that is not
   * blank is refused. @default []
   */
  wipe: z.array(diskId, { error: "must be a list" }).optional(),
  /** ZFS pools and their datasets (needs `contrib`: zfsutils-linux is there). @default [] */
  zfsPools: z.array(zfsPoolSchema, { error: "must be a list" }).optional(),
  /** Linux software RAID (mdadm) arrays from blank disks. @default [] */
  mdArrays: z.array(mdSchema, { error: "must be a list" }).optional(),
  /** LVM volume groups and logical volumes (with a filesystem and mount point each, optionally). @default [] */
  volumeGroups: z.array(vgSchema, { error: "must be a list" }).optional(),
  /** Filesystems straight on disks or md arrays (btrfs may span several disks). @default [] */
  filesystems: z.array(fsSchema, { error: "must be a list" }).optional(),
}, { error: "must be an object" });

export type CephClusterSettings = z.infer<typeof cephClusterSchema>;
export type StorageSettings = z.infer<typeof storageSchema>;

/** The Ceph roles of a node with these settings (none without `ceph`). */
export function cephRolesOf(s: StorageSettings): CephRole[] {
  if (!s.ceph) return [];
  const roles = s.cephRoles ?? [...CEPH_ROLES];
  return CEPH_ROLES.filter((r) => roles.includes(r));
}

/** The cluster's RBD pools (default: one pool `rbd`). */
export const rbdPoolsOf = (c: { rbdPools?: { name: string; size?: number; minSize?: number }[] }) => c.rbdPools ?? [{ name: "rbd" }];

/** Every disk the node's storage settings use, with the field that names it. */
export function storageDisks(s: StorageSettings): { field: string; disk: string }[] {
  const out = (s.osds ?? []).map((disk, i) => ({ field: `osds[${i}]`, disk }));
  (s.zfsPools ?? []).forEach((p, i) => {
    p.vdevs.forEach((v, j) => v.disks.forEach((disk, k) => out.push({ field: `zfsPools[${i}].vdevs[${j}].disks[${k}]`, disk })));
    for (const kind of ["special", "log"] as const) p[kind]?.disks.forEach((disk, k) => out.push({ field: `zfsPools[${i}].${kind}.disks[${k}]`, disk }));
    (p.cache ?? []).forEach((disk, k) => out.push({ field: `zfsPools[${i}].cache[${k}]`, disk }));
  });
  (s.mdArrays ?? []).forEach((a, i) => a.disks.forEach((disk, k) => out.push({ field: `mdArrays[${i}].disks[${k}]`, disk })));
  (s.volumeGroups ?? []).forEach((g, i) => g.devices.forEach((disk, k) => { if (!disk.startsWith("md:")) out.push({ field: `volumeGroups[${i}].devices[${k}]`, disk }); }));
  (s.filesystems ?? []).forEach((f, i) => f.devices.forEach((disk, k) => { if (!disk.startsWith("md:")) out.push({ field: `filesystems[${i}].devices[${k}]`, disk }); }));
  return out;
}

/** Rules across one node's storage fields. */
export function storageRules(s: StorageSettings, node: RuleContext): void {
  const disks = storageDisks(s);
  const seen = new Map<string, string>();
  for (const { field, disk } of disks) {
    if (seen.has(disk)) fail(field, `is also ${seen.get(disk)}: one disk, one use`, disk);
    seen.set(disk, field);
  }
  (s.wipe ?? []).forEach((d, i) => {
    if (!seen.has(d)) fail(`wipe[${i}]`, "names a disk this node's storage does not use (a wipe opt-in must name one of its disks exactly)", d);
  });
  localStorageRules(s, node);
  if (s.cephRoles !== undefined && !s.ceph) fail("cephRoles", "is set but the node is in no Ceph cluster (set storage.ceph, usually in defaults)", s.cephRoles);
  if ((s.osds ?? []).length > 0 && !s.ceph) fail("osds", "are set but the node is in no Ceph cluster (set storage.ceph, usually in defaults)", s.osds);
  const roles = cephRolesOf(s);
  if (roles.includes("osd") && s.ceph && (s.osds ?? []).length === 0 && s.cephRoles !== undefined) fail("osds", "the node has the osd role but no disk for it", []);
  if (s.ceph) {
    const c = s.ceph;
    const address = node.args.host?.address;
    if (address !== undefined && isIP(address) !== 0 && !cidrContains(c.publicNetwork, address)) {
      fail("ceph.publicNetwork", `does not contain the node's address ${address} (Ceph's daemons listen on the public network)`, c.publicNetwork);
    }
    if (c.poolSize !== undefined && c.poolMinSize !== undefined && c.poolMinSize > c.poolSize) fail("ceph.poolMinSize", `is more than poolSize (${c.poolSize})`, c.poolMinSize);
    (c.rbdPools ?? []).forEach((p, i) => {
      if (p.size !== undefined && p.minSize !== undefined && p.minSize > p.size) fail(`ceph.rbdPools[${i}].minSize`, `is more than its size (${p.size})`, p.minSize);
      const j = (c.rbdPools ?? []).findIndex((q) => q.name === p.name);
      if (j !== i) fail(`ceph.rbdPools[${i}].name`, `duplicate of rbdPools[${j}]`, p.name);
      if (p.name === c.cephfs || (c.cephfs !== false && (p.name === `cephfs.${c.cephfs ?? "cephfs"}.meta` || p.name === `cephfs.${c.cephfs ?? "cephfs"}.data`))) fail(`ceph.rbdPools[${i}].name`, "is a pool of the CephFS file system", p.name);
    });
  }
}

/** Rules across the nodes of one Ceph cluster. */
export function storageClusterRules(nodes: readonly { field: string; settings: StorageSettings; node: RuleContext }[]): string[] {
  const ceph = nodes.filter((n) => n.node.layers.includes("storage") && n.settings.ceph);
  if (ceph.length === 0) return [];
  const problems: string[] = [];
  const first = ceph[0];
  const same = JSON.stringify(first.settings.ceph);
  for (const n of ceph.slice(1)) {
    if (JSON.stringify(n.settings.ceph) !== same) problems.push(`${n.field}.ceph: differs from ${first.field}.ceph; one Ceph cluster has one set of cluster settings (set them once in defaults.storage.ceph)`);
  }
  const mons = ceph.filter((n) => cephRolesOf(n.settings).includes("mon"));
  if (mons.length === 0) problems.push(`${first.field}.cephRoles: no node of the Ceph cluster has the mon role (at least one monitor is needed)`);
  else if (mons.length % 2 === 0) problems.push(`${mons[mons.length - 1].field}.cephRoles: ${mons.length} monitors (${mons.map((m) => m.field).join(", ")}): use an odd number, an even one survives no more failures than one fewer and can split the vote`);
  if (!ceph.some((n) => cephRolesOf(n.settings).includes("mgr"))) problems.push(`${first.field}.cephRoles: no node of the Ceph cluster has the mgr role (Ceph reports HEALTH_WARN without a manager)`);
  const cfs = first.settings.ceph!.cephfs;
  if (cfs !== false && !ceph.some((n) => cephRolesOf(n.settings).includes("mds"))) problems.push(`${first.field}.cephRoles: the CephFS "${cfs ?? "cephfs"}" needs a node with the mds role (or set ceph.cephfs: false)`);
  const osdNodes = ceph.filter((n) => (n.settings.osds ?? []).length > 0).length;
  const size = first.settings.ceph!.poolSize;
  if (size !== undefined && size > osdNodes) problems.push(`${first.field}.ceph.poolSize: ${size} copies need ${size} nodes with OSDs, the cluster has ${osdNodes}`);
  return problems;
}

/** The minimum disks per ZFS vdev type. */
const VDEV_MIN: Record<(typeof VDEV_TYPES)[number], number> = { stripe: 1, mirror: 2, raidz1: 2, raidz2: 3, raidz3: 4 };

/** Rules of ZFS pools, md arrays, volume groups and filesystems on one node. */
function localStorageRules(s: StorageSettings, node: RuleContext): void {
  const pools = s.zfsPools ?? [];
  if (pools.length > 0 && node.args.base?.contrib !== true) fail("zfsPools", "ZFS's tools (zfsutils-linux) are in Debian's contrib: set contrib: true on the node (or in defaults)", pools.map((p) => p.name));
  pools.forEach((p, i) => {
    const j = pools.findIndex((q) => q.name === p.name);
    if (j !== i) fail(`zfsPools[${i}].name`, `duplicate of zfsPools[${j}]`, p.name);
    const vdevs: [string, { type: (typeof VDEV_TYPES)[number]; disks: string[] }][] = [...p.vdevs.map((v, k): [string, typeof v] => [`vdevs[${k}]`, v]), ...(["special", "log"] as const).flatMap((k) => (p[k] ? [[k, p[k]!] as [string, typeof p.vdevs[number]]] : []))];
    for (const [f, v] of vdevs) {
      if (v.disks.length < VDEV_MIN[v.type]) fail(`zfsPools[${i}].${f}.disks`, `a ${v.type} vdev needs at least ${VDEV_MIN[v.type]} disks, got ${v.disks.length}`, v.disks);
    }
    (p.datasets ?? []).forEach((d, k) => {
      const m = (p.datasets ?? []).findIndex((e) => e.name === d.name);
      if (m !== k) fail(`zfsPools[${i}].datasets[${k}].name`, `duplicate of datasets[${m}]`, d.name);
    });
  });
  const arrays = s.mdArrays ?? [];
  arrays.forEach((a, i) => {
    const j = arrays.findIndex((b) => b.name === a.name);
    if (j !== i) fail(`mdArrays[${i}].name`, `duplicate of mdArrays[${j}]`, a.name);
    if (a.level === 10 && (a.disks.length < 4 || a.disks.length % 2 !== 0)) fail(`mdArrays[${i}].disks`, `RAID10 here takes an even number of disks, at least 4; got ${a.disks.length}`, a.disks);
  });
  const used = new Map<string, string>();
  const useMd = (field: string, dev: string) => {
    if (!dev.startsWith("md:")) return;
    const name = dev.slice(3);
    if (!arrays.some((a) => a.name === name)) fail(field, `names no array of this node's mdArrays`, dev);
    if (used.has(dev)) fail(field, `is also ${used.get(dev)}: one array, one use`, dev);
    used.set(dev, field);
  };
  const mounts = new Map<string, string>();
  const useMount = (field: string, m: string | undefined) => {
    if (m === undefined) return;
    const key = m.replace(/\/+$/, "");
    if (mounts.has(key)) fail(field, `is also ${mounts.get(key)}`, m);
    mounts.set(key, field);
  };
  const groups = s.volumeGroups ?? [];
  groups.forEach((g, i) => {
    const j = groups.findIndex((h) => h.name === g.name);
    if (j !== i) fail(`volumeGroups[${i}].name`, `duplicate of volumeGroups[${j}]`, g.name);
    g.devices.forEach((d, k) => useMd(`volumeGroups[${i}].devices[${k}]`, d));
    (g.volumes ?? []).forEach((v, k) => {
      const f = `volumeGroups[${i}].volumes[${k}]`;
      const m = (g.volumes ?? []).findIndex((w) => w.name === v.name);
      if (m !== k) fail(`${f}.name`, `duplicate of volumes[${m}]`, v.name);
      if ((v.mountpoint === undefined) !== (v.filesystem === undefined)) fail(v.mountpoint === undefined ? `${f}.mountpoint` : `${f}.filesystem`, "a filesystem and a mount point go together (set both, or neither for a raw volume)", v.mountpoint ?? v.filesystem);
      if (v.options !== undefined && v.mountpoint === undefined) fail(`${f}.options`, "mount options need a mount point", v.options);
      useMount(`${f}.mountpoint`, v.mountpoint);
    });
  });
  (s.filesystems ?? []).forEach((fs, i) => {
    const f = `filesystems[${i}]`;
    fs.devices.forEach((d, k) => useMd(`${f}.devices[${k}]`, d));
    if (fs.devices.length > 1 && fs.filesystem !== "btrfs") fail(`${f}.devices`, `${fs.filesystem} lives on one device (put several disks in an md array, or use btrfs)`, fs.devices);
    if (fs.btrfsProfile !== undefined && fs.filesystem !== "btrfs") fail(`${f}.btrfsProfile`, "is for btrfs only", fs.btrfsProfile);
    const min = { single: 1, raid1: 2, raid10: 4 }[fs.btrfsProfile ?? "single"];
    if (fs.devices.length < min) fail(`${f}.devices`, `btrfs ${fs.btrfsProfile} needs at least ${min} devices, got ${fs.devices.length}`, fs.devices);
    useMount(`${f}.mountpoint`, fs.mountpoint);
  });
}
