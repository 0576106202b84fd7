import { stepSpec } from "../host/remote-step.js";
import type { StorageSettings } from "./schema.js";

/** Tools on every storage node, with its base packages: xfs, btrfs and LVM2 (mdadm and ZFS come with what needs them). */
export const STORAGE_TOOLS = ["xfsprogs", "btrfs-progs", "lvm2"];
/** Pool-wide ZFS properties unless the pool sets its own. */
export const DEFAULT_ZFS_PROPERTIES: Readonly<Record<string, string>> = { compression: "lz4", atime: "off", xattr: "sa", acltype: "posixacl" };
/** The datasets of a pool that names none: one for VM disks, one for Docker, one for Kubernetes. */
export const DEFAULT_ZFS_DATASETS: readonly { name: string; properties?: Record<string, string> }[] = [
  { name: "vm", properties: { recordsize: "64K" } }, { name: "docker" }, { name: "k8s" },
];

const kv = (props: Record<string, string>) => Object.keys(props).sort().map((k) => `${k}=${props[k]}`).join(",");
/** `md:<name>` -> /dev/md/<name>; disks stay as they are. */
const device = (d: string) => (d.startsWith("md:") ? `/dev/md/${d.slice(3)}` : d);
const wipe = (s: StorageSettings) => (s.wipe ?? []).join(" ");

/** `storage/zfs.sh`: pools (`zpool create` vdev spec) and datasets with their properties. */
export function zfsStep(s: StorageSettings) {
  const pools = s.zfsPools ?? [];
  const spec = (p: (typeof pools)[number]) => [
    ...p.vdevs.flatMap((v) => [...(v.type === "stripe" ? [] : [v.type]), ...v.disks]),
    ...(p.special ? ["special", ...(p.special.type === "stripe" ? [] : [p.special.type]), ...p.special.disks] : []),
    ...(p.log ? ["log", ...(p.log.type === "stripe" ? [] : [p.log.type]), ...p.log.disks] : []),
    ...(p.cache?.length ? ["cache", ...p.cache] : []),
  ].join(" ");
  return stepSpec("storage/zfs.sh", {
    DV_POOLS: pools.map((p) => [p.name, String(p.ashift ?? 12), kv(p.properties ?? DEFAULT_ZFS_PROPERTIES), spec(p)].join("\t")).join("\n"),
    DV_DATASETS: pools.flatMap((p) => (p.datasets ?? DEFAULT_ZFS_DATASETS).map((d) => [`${p.name}/${d.name}`, kv(d.properties ?? {})].join("\t"))).join("\n"),
    DV_WIPE: wipe(s),
  });
}

/** `storage/md.sh`: mdadm arrays. */
export const mdStep = (s: StorageSettings) => stepSpec("storage/md.sh", {
  DV_ARRAYS: (s.mdArrays ?? []).map((a) => [a.name, String(a.level), a.disks.join(" ")].join("\t")).join("\n"),
  DV_WIPE: wipe(s),
});

/** `storage/lvm.sh`: volume groups and logical volumes. */
export const lvmStep = (s: StorageSettings) => stepSpec("storage/lvm.sh", {
  DV_VGS: (s.volumeGroups ?? []).map((g) => [g.name, g.devices.map(device).join(" ")].join("\t")).join("\n"),
  DV_LVS: (s.volumeGroups ?? []).flatMap((g) => (g.volumes ?? []).map((v) => [g.name, v.name, v.size].join("\t"))).join("\n"),
  DV_WIPE: wipe(s),
});

/** `storage/fs.sh`: filesystems on logical volumes, md arrays and disks, mounted by systemd. */
export function fsStep(s: StorageSettings) {
  const lines = [
    ...(s.volumeGroups ?? []).flatMap((g) => (g.volumes ?? []).filter((v) => v.filesystem && v.mountpoint)
      .map((v) => [`/dev/${g.name}/${v.name}`, v.filesystem!, v.mountpoint!, v.options ?? "defaults", v.filesystem === "btrfs" ? "single" : ""])),
    ...(s.filesystems ?? []).map((f) => [f.devices.map(device).join(" "), f.filesystem, f.mountpoint, f.options ?? "defaults",
      f.filesystem === "btrfs" ? (f.btrfsProfile ?? (f.devices.length > 1 ? "raid1" : "single")) : ""]),
  ];
  return stepSpec("storage/fs.sh", { DV_FILESYSTEMS: lines.map((l) => l.join("\t")).join("\n"), DV_WIPE: wipe(s) });
}

/** Does the node have filesystems to make and mount? */
export const hasFilesystems = (s: StorageSettings) =>
  (s.filesystems ?? []).length > 0 || (s.volumeGroups ?? []).some((g) => (g.volumes ?? []).some((v) => v.mountpoint));
