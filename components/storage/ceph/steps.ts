import { stepSpec } from "../../host/remote-step.js";
import { rbdPoolsOf, type CephClusterSettings, type CephRole } from "../schema.js";

/** Debian's Ceph packages per role (the archive's own: trixie has 18.2, bookworm 16.2). */
export const CEPH_ROLE_PACKAGES: Readonly<Record<CephRole, readonly string[]>> = {
  mon: ["ceph-mon"],
  mgr: ["ceph-mgr"],
  mds: ["ceph-mds"],
  osd: ["ceph-osd", "ceph-volume"],
};
/** On every Ceph node: the CLI and keyring tools, and the FUSE client of CephFS. */
export const CEPH_COMMON_PACKAGES = ["ceph-common", "ceph-fuse"];

/** The packages a node with these roles installs. */
export function cephPackages(roles: readonly CephRole[]): string[] {
  return [...CEPH_COMMON_PACKAGES, ...roles.flatMap((r) => CEPH_ROLE_PACKAGES[r])];
}

/** `storage/ceph/packages.sh`: Ceph's packages. */
export const cephPackagesStep = (roles: readonly CephRole[]) => stepSpec("storage/ceph/packages.sh", { DV_PACKAGES: cephPackages(roles).join(" ") });
/** `storage/ceph/mgr-pyo3.sh`: detects (and by default works around) Debian trixie's ceph-mgr PyO3 defect. */
export const cephMgrPyO3Step = (patch: boolean) => stepSpec("storage/ceph/mgr-pyo3.sh", { DV_PATCH: patch ? "1" : "0" });
/** `storage/ceph/osd-boot.sh`: the unit that activates raw-mode OSDs at boot. */
export const cephOsdBootStep = () => stepSpec("storage/ceph/osd-boot.sh", {});
/** `storage/ceph/bootstrap.sh`: the cluster's fsid and keys, made once on the first monitor. */
export const cephBootstrapStep = () => stepSpec("storage/ceph/bootstrap.sh", {});

/** One Ceph node as the cluster's steps see it. */
export interface CephMember {
  /** Daemon id (the node's name). */
  id: string;
  /** Its address on the public network. */
  address: string;
  roles: readonly CephRole[];
  /** OSD disks, by id. */
  osds: readonly string[];
  /** Disks it may wipe. */
  wipe: readonly string[];
  /** How its new OSDs are made. @default "raw" */
  osdMode?: "raw" | "lvm";
}

/** Copies per pool by default: 3, or fewer when fewer nodes have OSDs. */
export function defaultPoolSize(c: CephClusterSettings, osdNodes: number): { size: number; minSize: number } {
  const size = c.poolSize ?? Math.max(1, Math.min(3, osdNodes));
  return { size, minSize: c.poolMinSize ?? (size >= 3 ? 2 : 1) };
}

/** ceph.conf's [global] settings but the fsid (which the host adds): the same text on every node. */
export function renderCephConf(c: CephClusterSettings, members: readonly CephMember[]): string {
  const mons = members.filter((m) => m.roles.includes("mon"));
  const osdNodes = members.filter((m) => m.osds.length > 0).length;
  const { size, minSize } = defaultPoolSize(c, osdNodes);
  const lines = [
    `mon_host = ${mons.map((m) => m.address).join(",")}`,
    `public_network = ${c.publicNetwork}`,
    ...(c.clusterNetwork ? [`cluster_network = ${c.clusterNetwork}`] : []),
    "auth_cluster_required = cephx",
    "auth_service_required = cephx",
    "auth_client_required = cephx",
    "auth_allow_insecure_global_id_reclaim = false",
    `osd_pool_default_size = ${size}`,
    `osd_pool_default_min_size = ${minSize}`,
    // Copies on different hosts, unless there is only one host with OSDs.
    `osd_crush_chooseleaf_type = ${osdNodes > 1 ? 1 : 0}`,
    `osd_memory_target = ${(c.osdMemoryTargetMiB ?? 896) * 1024 * 1024}`,
    // Pools are never deleted by mistake: deleting one takes turning this on first.
    "mon_allow_pool_delete = false",
    `mon_data_avail_warn = ${c.monDataAvailWarnPercent ?? 30}`,
    `mon_data_avail_crit = ${Math.min(5, (c.monDataAvailWarnPercent ?? 30) - 1)}`,
    // One copy is what the config asks for: Ceph's "no replicas" warning would never clear.
    ...(size === 1 ? ["mon_warn_on_pool_no_redundancy = false"] : []),
  ];
  return lines.join("\n");
}

/** `storage/ceph/node.sh` parameters of one member (the secret ones come from the bootstrap step). */
export function cephNodeParams(member: CephMember, conf: string, initialMons: string): Record<string, string> {
  return {
    DV_CEPH_ID: member.id,
    DV_CEPH_ROLES: member.roles.join(" "),
    DV_CEPH_OSD_MODE: member.osdMode ?? "raw",
    DV_CEPH_CONF: conf,
    DV_CEPH_MONS: initialMons,
    DV_CEPH_OSDS: member.osds.join(" "),
    DV_WIPE: member.wipe.join(" "),
  };
}
/** The secret parameters of `storage/ceph/node.sh`. */
export const CEPH_NODE_SECRETS = ["DV_CEPH_FSID", "DV_CEPH_KEY_MON", "DV_CEPH_KEY_ADMIN", "DV_CEPH_KEY_BOOTSTRAP_OSD"] as const;

/** `monid=address ...` of the monitors. */
export const renderMons = (members: readonly CephMember[]) => members.filter((m) => m.roles.includes("mon")).map((m) => `${m.id}=${m.address}`).join(" ");

/** `storage/ceph/pools.sh`: the file system, RBD pools and client keys. */
export function cephPoolsStep(c: CephClusterSettings, osdNodes: number, healthWaitSeconds = 300) {
  const { size, minSize } = defaultPoolSize(c, osdNodes);
  const pools = rbdPoolsOf(c);
  return stepSpec("storage/ceph/pools.sh", {
    DV_CEPHFS: c.cephfs === false ? "" : (c.cephfs ?? "cephfs"),
    DV_RBD_POOLS: pools.map((p) => `${p.name}:${p.size ?? size}:${p.minSize ?? Math.min(p.size ?? size, minSize)}`).join(" "),
    DV_DISABLE_RESTFUL: c.patchMgrPyO3 === false ? "0" : "1",
    DV_HEALTH_WAIT: String(healthWaitSeconds),
    DV_DRAINED: (c.drainedNodes ?? []).join(" "),
  });
}
