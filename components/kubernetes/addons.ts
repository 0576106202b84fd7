import { existsSync } from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { ConfigError, checkSettings } from "../config/problems.js";
import { alreadyValidated } from "../config/trusted.js";
import { kubernetesRules, kubernetesSchema, resolveKubernetes, type KubernetesSettings, type ResolvedKubernetes } from "./schema.js";
import type { ChartKey } from "./versions.js";

/**
 * What the Kubernetes add-ons need from the storage layer's Ceph cluster (structurally
 * typed: the storage layer's `CephClusterOutputs`, a `CephCluster`, satisfy it).
 */
export interface KubernetesCephInputs {
  /** The cluster's fsid: Ceph CSI's clusterID. */
  fsid: pulumi.Input<string>;
  /** Monitor addresses (`host:port`, messenger v1). */
  monitors: pulumi.Input<string[]>;
  /** cephx keys by entity (`client.kubernetes`), secret. */
  clientKeys: pulumi.Input<Record<string, string>>;
  /** The CephFS file system and the CSI subvolume group; undefined: no CephFS. */
  cephfs?: { name: string; subvolumeGroup: string };
  /** RBD pools, one StorageClass each. */
  rbdPools: readonly string[];
}

export interface KubernetesAddonsArgs {
  /** The cluster's Kubernetes provider (none is created implicitly). */
  provider: k8s.Provider;
  /** The cluster's kubernetes settings (one cluster's: as on any of its nodes). @default {} */
  settings?: KubernetesSettings;
  /** The Ceph cluster the CSI drivers use; undefined: no Ceph CSI. */
  ceph?: KubernetesCephInputs;
  /** Ceph users of the CSI drivers (their keys come from `ceph.clientKeys`). @default { rbd: "kubernetes", cephfs: "kubernetes-cephfs" } */
  cephUsers?: { rbd?: string; cephfs?: string };
  /** Nodes in the cluster: the CSI provisioners run min(3, nodes) replicas. @default 3 */
  nodeCount?: number;
}

/** Namespaces of the add-ons. */
export const ADDON_NAMESPACES = { tigeraOperator: "tigera-operator", cephCsiRbd: "ceph-csi-rbd", cephCsiCephfs: "ceph-csi-cephfs", zfsLocalpv: "openebs" } as const satisfies Record<ChartKey, string>;
export const CEPH_CSI_CONFIGMAP = "ceph-csi-config";
export const CEPH_RBD_SECRET = "csi-rbd-secret";
export const CEPH_CEPHFS_SECRET = "csi-cephfs-secret";
export const CEPH_RBD_PROVISIONER = "rbd.csi.ceph.com";
export const CEPH_CEPHFS_PROVISIONER = "cephfs.csi.ceph.com";
export const ZFS_PROVISIONER = "zfs.csi.openebs.io";

/** One Helm release the add-ons install: the inputs of its `k8s.helm.v3.Release`. */
export interface ChartRelease {
  key: ChartKey;
  /** Release name (also the child's role: `<name>-chart-<release>`). */
  name: string;
  namespace: string;
  /** A chart name (with `repositoryOpts`), an `oci://` reference, or a local path. */
  chart: string;
  /** Unset for a local chart (its Chart.yaml says). */
  version?: string;
  repositoryOpts?: { repo: string };
  values: Record<string, unknown>;
  /** The settings field that names the chart's source (for error messages). */
  field: string;
}

/** Where a chart comes from, as a Release takes it. */
function chartSource(s: ResolvedKubernetes, key: ChartKey): Pick<ChartRelease, "chart" | "version" | "repositoryOpts"> {
  const { chart, version, repository } = s.chartSources[key];
  if (repository.startsWith("/")) return { chart: repository };
  if (repository.startsWith("oci://")) return { chart: `${repository.replace(/\/$/, "")}/${chart}`, version };
  return { chart, version, repositoryOpts: { repo: repository } };
}

/** The Calico `Installation` the tigera-operator chart creates (`installation` value). */
export function calicoInstallation(s: ResolvedKubernetes): Record<string, unknown> {
  return {
    enabled: true,
    cni: { type: "Calico" },
    calicoNetwork: {
      bgp: s.calico.bgp ? "Enabled" : "Disabled",
      ...(s.calico.mtu !== undefined ? { mtu: s.calico.mtu } : {}),
      ipPools: [{ name: "default-ipv4-ippool", cidr: s.podCidr, encapsulation: s.calico.encapsulation, natOutgoing: "Enabled", nodeSelector: "all()", blockSize: 26 }],
      // Calico's default (first-found) may pick a storage NIC: name the interface.
      nodeAddressAutodetectionV4: { interface: s.calico.interface },
    },
  };
}

/**
 * The Helm releases of a cluster's settings, in install order (Calico first: the CSI pods
 * need the pod network). Built, and their sources checked, whether or not `charts` is on.
 */
export function addonCharts(s: ResolvedKubernetes, options: { ceph: boolean; cephfs: boolean; nodeCount?: number } = { ceph: true, cephfs: true }): ChartRelease[] {
  const replicas = Math.max(1, Math.min(3, options.nodeCount ?? 3));
  const release = (key: ChartKey, values: Record<string, unknown>): ChartRelease => ({
    key, name: s.chartSources[key].chart, namespace: ADDON_NAMESPACES[key], ...chartSource(s, key), values, field: `chartSources.${key}`,
  });
  const cephCsi = {
    configMapName: CEPH_CSI_CONFIGMAP,
    // DebVisor writes the cluster list (fsid, monitors) and the secrets itself.
    externallyManagedConfigmap: true,
    secret: { create: false },
    storageClass: { create: false },
    provisioner: { replicaCount: replicas },
  };
  const out = [release("tigeraOperator", { installation: calicoInstallation(s) })];
  if (options.ceph && s.csi.cephRbd) out.push(release("cephCsiRbd", cephCsi));
  if (options.ceph && options.cephfs && s.csi.cephFs) out.push(release("cephCsiCephfs", cephCsi));
  if (s.csi.zfsPools.length > 0) out.push(release("zfsLocalpv", { analytics: { enabled: false } }));
  return out;
}

/** Problems of the chart sources that only show when the charts are installed: a local chart that is not there. */
export function chartSourceProblems(charts: readonly ChartRelease[], prefix = "kubernetes"): string[] {
  return charts.filter((c) => c.chart.startsWith("/") && !existsSync(c.chart))
    .map((c) => `${prefix}.${c.field}.repository: no chart at ${c.chart} on the machine running Pulumi, got ${JSON.stringify(c.chart)}`);
}

/**
 * The cluster's add-ons, through the cluster's Kubernetes provider: Calico (tigera-operator),
 * Ceph CSI for RBD and CephFS (their namespaces, the cluster list ConfigMap, the client
 * Secrets, one StorageClass per RBD pool and one for CephFS) and ZFS LocalPV (a
 * StorageClass per pool). StorageClasses keep volumes on release (`Retain`) unless
 * `reclaimPolicy: Delete`. `charts: false` installs no chart (a site, or the lab, where no
 * chart can be fetched); the chart inputs are built and checked all the same (`charts`).
 */
export class KubernetesAddons extends pulumi.ComponentResource {
  /** The Helm releases, installed or not. */
  readonly charts: ChartRelease[];
  /** Names of the StorageClasses. */
  readonly storageClasses: string[];

  constructor(name: string, args: KubernetesAddonsArgs, opts?: pulumi.ComponentResourceOptions) {
    const settings = args.settings ?? {};
    // Validate before super(): bad input must register nothing.
    if (!alreadyValidated(args)) checkSettings(kubernetesSchema, settings, "kubernetes", kubernetesRules);
    const s = resolveKubernetes(settings);
    const charts = addonCharts(s, { ceph: args.ceph !== undefined, cephfs: args.ceph?.cephfs !== undefined, nodeCount: args.nodeCount });
    if (s.charts) {
      const problems = chartSourceProblems(charts);
      if (problems.length > 0) throw new ConfigError(problems);
    }
    super("debvisor:kubernetes:KubernetesAddons", name, {}, opts);
    this.charts = charts;
    this.storageClasses = [];
    const child = (deps: pulumi.Resource[] = []): pulumi.CustomResourceOptions => ({ parent: this, provider: args.provider, dependsOn: deps });
    const namespaces = new Map<string, k8s.core.v1.Namespace>();
    const namespace = (ns: string) => {
      let n = namespaces.get(ns);
      if (!n) {
        // CNI and CSI node plugins are privileged pods.
        n = new k8s.core.v1.Namespace(`${name}-ns-${ns}`, {
          metadata: { name: ns, labels: { "pod-security.kubernetes.io/enforce": "privileged", "app.kubernetes.io/managed-by": "debvisor" } },
        }, child());
        namespaces.set(ns, n);
      }
      return n;
    };
    const storageClass = (scName: string, provisioner: string, parameters: Record<string, pulumi.Input<string>>, extra: Partial<k8s.types.input.storage.v1.StorageClass> = {}, deps: pulumi.Resource[] = []) => {
      this.storageClasses.push(scName);
      return new k8s.storage.v1.StorageClass(`${name}-sc-${scName}`, {
        metadata: { name: scName, ...(extra.metadata ?? {}) },
        provisioner, parameters, reclaimPolicy: s.reclaimPolicy, allowVolumeExpansion: true, volumeBindingMode: "Immediate", ...extra,
      }, child(deps));
    };

    // Ceph CSI: per driver, its namespace, the cluster list and the client's Secret.
    const users = { rbd: args.cephUsers?.rbd ?? "kubernetes", cephfs: args.cephUsers?.cephfs ?? "kubernetes-cephfs" };
    const cephDeps = new Map<ChartKey, pulumi.Resource[]>();
    const ceph = args.ceph;
    if (ceph !== undefined) {
      const fsid = pulumi.output(ceph.fsid);
      const keyOf = (user: string) => pulumi.secret(pulumi.output(ceph.clientKeys).apply((keys) => {
        const key = keys[`client.${user}`];
        if (key === undefined) throw new Error(`${name}: the Ceph outputs hold no key for client.${user} (they hold ${Object.keys(keys).join(", ") || "none"})`);
        return key;
      }));
      const driver = (key: "cephCsiRbd" | "cephCsiCephfs", secretName: string, user: string, cluster: Record<string, unknown>) => {
        const ns = namespace(ADDON_NAMESPACES[key]);
        const config = new k8s.core.v1.ConfigMap(`${name}-${key === "cephCsiRbd" ? "rbd" : "cephfs"}-config`, {
          metadata: { name: CEPH_CSI_CONFIGMAP, namespace: ADDON_NAMESPACES[key] },
          data: { "config.json": pulumi.all([fsid, ceph.monitors]).apply(([id, monitors]) => JSON.stringify([{ clusterID: id, monitors, ...cluster }])) },
        }, child([ns]));
        const userKey = keyOf(user);
        const secret = new k8s.core.v1.Secret(`${name}-${key === "cephCsiRbd" ? "rbd" : "cephfs"}-secret`, {
          metadata: { name: secretName, namespace: ADDON_NAMESPACES[key] },
          // CephFS provisioning reads adminID/adminKey, mounting userID/userKey: one client for both.
          stringData: pulumi.secret(userKey.apply((k): Record<string, string> => (key === "cephCsiRbd" ? { userID: user, userKey: k } : { userID: user, userKey: k, adminID: user, adminKey: k }))),
        }, child([ns]));
        cephDeps.set(key, [ns, config, secret]);
      };
      const secretParams = (secretName: string, ns: string) => ({
        "csi.storage.k8s.io/provisioner-secret-name": secretName,
        "csi.storage.k8s.io/provisioner-secret-namespace": ns,
        "csi.storage.k8s.io/controller-expand-secret-name": secretName,
        "csi.storage.k8s.io/controller-expand-secret-namespace": ns,
        "csi.storage.k8s.io/node-stage-secret-name": secretName,
        "csi.storage.k8s.io/node-stage-secret-namespace": ns,
      });
      if (s.csi.cephRbd) {
        driver("cephCsiRbd", CEPH_RBD_SECRET, users.rbd, {});
        ceph.rbdPools.forEach((pool, i) => storageClass(`ceph-rbd-${pool}`, CEPH_RBD_PROVISIONER, {
          clusterID: fsid, pool, imageFeatures: "layering", "csi.storage.k8s.io/fstype": "ext4", ...secretParams(CEPH_RBD_SECRET, ADDON_NAMESPACES.cephCsiRbd),
        }, i === 0 ? { metadata: { name: `ceph-rbd-${pool}`, annotations: { "storageclass.kubernetes.io/is-default-class": "true" } } } : {}));
      }
      if (s.csi.cephFs && ceph.cephfs !== undefined) {
        driver("cephCsiCephfs", CEPH_CEPHFS_SECRET, users.cephfs, { cephFS: { subvolumeGroup: ceph.cephfs.subvolumeGroup } });
        storageClass("ceph-cephfs", CEPH_CEPHFS_PROVISIONER, {
          clusterID: fsid, fsName: ceph.cephfs.name, ...secretParams(CEPH_CEPHFS_SECRET, ADDON_NAMESPACES.cephCsiCephfs),
        });
      }
    }
    // ZFS LocalPV: volumes are datasets of a node's pool, bound where the pod lands.
    for (const pool of s.csi.zfsPools) {
      storageClass(`zfs-${pool.toLowerCase().replace(/[^a-z0-9-]/g, "-")}`, ZFS_PROVISIONER, { poolname: pool, fstype: "zfs" }, { volumeBindingMode: "WaitForFirstConsumer" });
    }

    if (s.charts) {
      let calico: k8s.helm.v3.Release | undefined;
      for (const c of charts) {
        const ns = namespace(c.namespace);
        const deps = [ns, ...(cephDeps.get(c.key) ?? []), ...(calico && c.key !== "tigeraOperator" ? [calico] : [])];
        const release = new k8s.helm.v3.Release(`${name}-chart-${c.name}`, {
          name: c.name, namespace: c.namespace, chart: c.chart,
          ...(c.version !== undefined ? { version: c.version } : {}),
          ...(c.repositoryOpts !== undefined ? { repositoryOpts: c.repositoryOpts } : {}),
          values: c.values,
        }, child(deps));
        if (c.key === "tigeraOperator") calico = release;
      }
    }
    this.registerOutputs({ storageClasses: this.storageClasses });
  }
}
