import * as pulumi from "@pulumi/pulumi";
import { RemoteStep, type ResolvedHost, type StepPart } from "../host/index.js";
import { checkSettings } from "../config/problems.js";
import { alreadyValidated, settingsOf } from "../config/trusted.js";
import { cephRolesOf, storageRules, storageSchema, type StorageSettings } from "./schema.js";
import { cephMgrPyO3Step, cephOsdBootStep, cephPackagesStep } from "./ceph/steps.js";
import { fsStep, hasFilesystems, lvmStep, mdStep, zfsStep } from "./local.js";

export interface StorageHostArgs extends StorageSettings {
  host: ResolvedHost;
}

/**
 * The parts of a node's storage step (`<node>-storage-apply`) for these settings, in
 * order: md arrays, volume groups, filesystems, ZFS, then Ceph's packages and
 * host fixes (the Ceph cluster itself is `CephCluster`'s).
 */
export function storageParts(s: StorageSettings): StepPart[] {
  const roles = cephRolesOf(s);
  return [
    ...((s.mdArrays ?? []).length > 0 ? [{ name: "md", ...mdStep(s) }] : []),
    ...((s.volumeGroups ?? []).length > 0 ? [{ name: "lvm", ...lvmStep(s) }] : []),
    ...(hasFilesystems(s) ? [{ name: "filesystems", ...fsStep(s) }] : []),
    ...((s.zfsPools ?? []).length > 0 ? [{ name: "zfs", ...zfsStep(s) }] : []),
    ...(roles.length > 0 ? [{ name: "ceph-packages", ...cephPackagesStep(roles) }] : []),
    ...(roles.includes("mgr") ? [{ name: "ceph-mgr-pyo3", ...cephMgrPyO3Step(s.ceph?.patchMgrPyO3 ?? true), always: true }] : []),
    ...(roles.includes("osd") ? [{ name: "ceph-osd-boot", ...cephOsdBootStep() }] : []),
  ];
}

/**
 * A node's own storage setup (one step, `<name>-apply`, a part per concern): md arrays,
 * LVM, filesystems and their mounts, ZFS pools and datasets, Ceph's packages for its
 * roles and the host fixes they need. The Ceph cluster itself (identity,
 * daemons, pools) is built across nodes: `CephCluster`.
 */
export class StorageHost extends pulumi.ComponentResource {
  /** The step later steps wait for (undefined: nothing to do on this node). */
  readonly ready?: pulumi.Resource;

  constructor(name: string, args: StorageHostArgs, opts?: pulumi.ComponentResourceOptions) {
    if (!alreadyValidated(args)) {
      checkSettings(storageSchema, settingsOf(args), "storage", (s) => storageRules(s, { args: { host: args.host }, layers: ["storage"] }));
    }
    super("debvisor:storage:StorageHost", name, {}, opts);
    const parts = storageParts(args);
    if (parts.length > 0) {
      this.ready = new RemoteStep(`${name}-apply`, { host: args.host, parts, partsRecord: "storage", timeoutSeconds: 3600 }, { parent: this, dependsOn: opts?.dependsOn }).command;
    }
    this.registerOutputs({});
  }
}
