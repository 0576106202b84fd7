import type { LayerDescriptor } from "../layer.js";
import { storageSchema } from "./schema.js";

/**
 * The storage layer (Ceph, ZFS, LVM/mdadm): not built yet. What it already contributes
 * to the other layers: Ceph's ports and its packages held. The Ceph health and ZFS scrub
 * timers (`cephHealthTimer`, `zfsScrubTimer`, schedules from the node's `management`
 * settings) come with the Ceph and ZFS it will set up: a timer exists only where its
 * subject does (a health check of a Ceph that is not there fails every five minutes).
 */
export const storageLayer: LayerDescriptor = {
  name: "storage",
  settings: { key: "storage", schema: storageSchema },
  heldPackages: ["ceph*", "librados*", "librbd*", "libcephfs*", "python3-ceph*", "python3-rados", "python3-rbd", "python3-cephfs", "python3-rgw", "radosgw", "rbd-*", "zfs*", "libzfs*", "libzpool*", "libnvpair*", "libuutil*"],
  contribute: () => ({
    firewallRules: [
      { protocol: "tcp", ports: [3300, 3300], comment: "ceph-mon-msgr2" },
      { protocol: "tcp", ports: [6789, 6789], comment: "ceph-mon" },
      { protocol: "tcp", ports: [6800, 7300], comment: "ceph-osd-mgr-mds" },
    ],
  }),
};
