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

/** The storage layer's settings on a node (`storage` in the stack config). */
export const storageSchema = z.strictObject({
  /** This node is in the Ceph cluster (set it in `defaults.storage.ceph`). @default none (no Ceph) */
  ceph: cephClusterSchema.optional(),
  /** The Ceph daemons of this node. @default every role: mon, mgr, mds, osd */
  cephRoles: z.array(z.enum(CEPH_ROLES, { error: `must be one of ${CEPH_ROLES.join(", ")}` }), { error: "must be a list" }).optional(),
  /** Disks that become Ceph OSDs (raw BlueStore), by stable id; they must be blank. @default [] */
  osds: z.array(diskId, { error: "must be a list" }).max(64, "at most 64 disks").optional(),
  /**
   * Disks DebVisor may wipe before using them (their data is destroyed): each must be one
   * of the disks this node's storage uses, named exactly. Without it a disk that is not
   * blank is refused. @default []
   */
  wipe: z.array(diskId, { error: "must be a list" }).optional(),
}, { error: "must be an object" });

export type CephClusterSettings = z.infer<typeof cephClusterSchema>;
export type StorageSettings = z.infer<typeof storageSchema>;

/** The Ceph roles of a node with these settings (none without `ceph`). */
export function cephRolesOf(s: StorageSettings): CephRole[] {
  if (!s.ceph) return [];
  const roles = s.cephRoles ?? [...CEPH_ROLES];
  return CEPH_ROLES.filter((r) => roles.includes(r));
}

/** Every disk the node's storage settings use, with the field that names it. */
export function storageDisks(s: StorageSettings): { field: string; disk: string }[] {
  return (s.osds ?? []).map((disk, i) => ({ field: `osds[${i}]`, disk }));
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
