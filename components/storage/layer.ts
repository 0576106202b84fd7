import { trusted } from "../config/trusted.js";
import type { ClusterContext, LayerDescriptor } from "../layer.js";
import { cephHealthTimer, zfsScrubTimer } from "./timers.js";
import type { TimerSpec } from "../management/units.js";
import { cephRolesOf, storageClusterRules, storageRules, storageSchema, type StorageSettings } from "./schema.js";
import { StorageHost, storageParts } from "./storage.js";
import { STORAGE_TOOLS } from "./local.js";
import { CephCluster, type CephClusterNode } from "./ceph/cluster.js";

/**
 * The storage layer: xfs/btrfs/LVM tools (with the base packages), md arrays, LVM volumes and mounted
 * filesystems, ZFS pools and datasets (each node's `<node>-storage-apply`), and Ceph
 * (MON, MGR, MDS, OSD; CephFS, RBD) across the nodes whose `storage.ceph` is set (the
 * cluster's `<cluster>-ceph-*`). Contributes Ceph's ports, its packages held, and the
 * Ceph health and ZFS scrub timers where those run (a timer exists only where its subject does).
 */
export const storageLayer: LayerDescriptor<StorageSettings> = {
  name: "storage",
  settings: { key: "storage", schema: storageSchema, rules: storageRules, clusterRules: storageClusterRules },
  heldPackages: ["ceph*", "librados*", "librbd*", "libcephfs*", "python3-ceph*", "python3-rados", "python3-rbd", "python3-cephfs", "python3-rgw", "radosgw", "rbd-*", "zfs*", "libzfs*", "libzpool*", "libnvpair*", "libuutil*"],
  contribute: (args) => ({
    firewallRules: [
      { protocol: "tcp", ports: [3300, 3300], comment: "ceph-mon-msgr2" },
      { protocol: "tcp", ports: [6789, 6789], comment: "ceph-mon" },
      { protocol: "tcp", ports: [6800, 7300], comment: "ceph-osd-mgr-mds" },
    ],
    timers: [
      ...(args.storage?.ceph ? [["ceph-health", cephHealthTimer(args.management?.cephHealthSchedule)] as [string, TimerSpec]] : []),
      ...((args.storage?.zfsPools ?? []).length > 0
        ? [["zfs-scrub", zfsScrubTimer(args.management?.zfsScrubSchedule, args.management?.zfsScrubPools ?? args.storage!.zfsPools!.map((p) => p.name))] as [string, TimerSpec]]
        : []),
    ],
    // xfs, btrfs and LVM tools on every storage node, with the base packages.
    packages: STORAGE_TOOLS,
  }),
  build(node, after) {
    const s = node.args.storage ?? {};
    if (storageParts(s).length === 0) return undefined; // no Ceph, ZFS, md, LVM or filesystem here
    const component = new StorageHost(`${node.name}-storage`, trusted({ ...s, host: node.host }), { parent: node.parent, dependsOn: after ? [after] : [] });
    return { component, ready: component.ready };
  },
  buildCluster(cluster: ClusterContext) {
    const ceph = cluster.members.filter((m) => m.args.storage?.ceph);
    if (ceph.length === 0) return undefined;
    const nodes: CephClusterNode[] = ceph.map((m) => {
      const s = m.args.storage!;
      return { id: m.name, address: m.host.address, roles: cephRolesOf(s), osds: s.osds ?? [], wipe: s.wipe ?? [], ...(s.osdMode ? { osdMode: s.osdMode } : {}), host: m.host, after: m.ready };
    });
    return { ceph: new CephCluster(`${cluster.name}-ceph`, { settings: ceph[0].args.storage!.ceph!, nodes }, { parent: cluster.parent }) };
  },
};
