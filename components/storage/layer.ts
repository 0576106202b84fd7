import type { LayerDescriptor } from "../layer.js";
import { cephHealthTimer, zfsScrubTimer } from "./timers.js";

/**
 * The storage layer (Ceph, ZFS, LVM/mdadm): not built yet. What it already contributes
 * to the other layers: Ceph's ports, its packages held, and the Ceph health and ZFS scrub
 * timers (schedules from the node's `management` settings).
 */
export const storageLayer: LayerDescriptor = {
  name: "storage",
  heldPackages: ["ceph*", "librados*", "librbd*", "libcephfs*", "python3-ceph*", "python3-rados", "python3-rbd", "python3-cephfs", "python3-rgw", "radosgw", "rbd-*", "zfs*", "libzfs*", "libzpool*", "libnvpair*", "libuutil*"],
  contribute: (args) => ({
    firewallRules: [
      { protocol: "tcp", ports: [3300, 3300], comment: "ceph-mon-msgr2" },
      { protocol: "tcp", ports: [6789, 6789], comment: "ceph-mon" },
      { protocol: "tcp", ports: [6800, 7300], comment: "ceph-osd-mgr-mds" },
    ],
    timers: [
      ["ceph-health", cephHealthTimer(args.management?.cephHealthSchedule)],
      ["zfs-scrub", zfsScrubTimer(args.management?.zfsScrubSchedule, args.management?.zfsScrubPools)],
    ],
  }),
};
