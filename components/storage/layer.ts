import { trusted } from "../config/trusted.js";
import type { ClusterContext, LayerDescriptor } from "../layer.js";
import { cephHealthTimer } from "./timers.js";
import { cephRolesOf, storageClusterRules, storageRules, storageSchema, type StorageSettings } from "./schema.js";
import { StorageHost } from "./storage.js";
import { CephCluster, type CephClusterNode } from "./ceph/cluster.js";

/**
 * The storage layer: Ceph (MON, MGR, MDS, OSD; CephFS, RBD) across the nodes whose
 * `storage.ceph` is set; each node's own part is `<node>-storage-apply`, the cluster's
 * `<cluster>-ceph-*`. Contributes Ceph's ports, its packages held, and the Ceph health
 * timer where Ceph runs (a timer exists only where its subject does).
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
    timers: args.storage?.ceph ? [["ceph-health", cephHealthTimer(args.management?.cephHealthSchedule)]] : [],
  }),
  build(node, after) {
    const s = node.args.storage ?? {};
    if (cephRolesOf(s).length === 0) return undefined;
    const component = new StorageHost(`${node.name}-storage`, trusted({ ...s, host: node.host }), { parent: node.parent, dependsOn: after ? [after] : [] });
    return { component, ready: component.ready };
  },
  buildCluster(cluster: ClusterContext) {
    const ceph = cluster.members.filter((m) => m.args.storage?.ceph);
    if (ceph.length === 0) return undefined;
    const nodes: CephClusterNode[] = ceph.map((m) => {
      const s = m.args.storage!;
      return { id: m.name, address: m.host.address, roles: cephRolesOf(s), osds: s.osds ?? [], wipe: s.wipe ?? [], host: m.host, after: m.ready };
    });
    return { ceph: new CephCluster(`${cluster.name}-ceph`, { settings: ceph[0].args.storage!.ceph!, nodes }, { parent: cluster.parent }) };
  },
};
