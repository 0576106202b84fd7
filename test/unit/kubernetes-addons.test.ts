import { beforeEach, describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { installMocks, plaintextOccurrences, parentName, type Registration } from "../support/mocks.js";

const mocks = await installMocks();
const pulumi = await import("@pulumi/pulumi");
const k8s = await import("@pulumi/kubernetes");
const addons = await import("../../components/kubernetes/addons.js");
const { CHARTS } = await import("../../components/kubernetes/versions.js");
import type { CephCluster } from "../../components/storage/ceph/cluster.js";
import type { KubernetesCephInputs } from "../../components/kubernetes/addons.js";

// The storage layer's Ceph cluster is what the add-ons take (checked by the compiler).
export const cephClusterFits = (c: CephCluster): KubernetesCephInputs => c;

const RBD_KEY = "AQCANARYrbdKEYdoNotLeak000000000000000==";
const CEPHFS_KEY = "AQCANARYcephfsKEYdoNotLeak00000000000==";
const FSID = "6f1c2a4e-0b7d-4c1e-9a55-3d2f1e0c9b8a";
const ceph = (): KubernetesCephInputs => ({
  fsid: pulumi.output(FSID),
  monitors: pulumi.output(["10.213.0.12:6789", "10.213.0.13:6789", "10.213.0.14:6789"]),
  clientKeys: pulumi.secret({ "client.kubernetes": RBD_KEY, "client.kubernetes-cephfs": CEPHFS_KEY, "client.admin": "AQCANARYadmin==" }),
  cephfs: { name: "cephfs", subvolumeGroup: "csi" },
  rbdPools: ["rbd", "fast"],
});
let n = 0;
async function build(settings: any, extra: Partial<import("../../components/kubernetes/addons.js").KubernetesAddonsArgs> = { ceph: ceph() }) {
  mocks.reset();
  const name = `addons${++n}`;
  const provider = new k8s.Provider(`${name}-k8s`, { kubeconfig: "apiVersion: v1\nkind: Config\n" });
  const a = new addons.KubernetesAddons(name, { provider, settings, ...extra });
  const regs = await mocks.settle();
  const get = (role: string) => {
    const r = regs.find((x) => x.name === `${name}-${role}`);
    if (!r) throw new Error(`no ${name}-${role} among ${regs.map((x) => x.name).join(", ")}`);
    return r;
  };
  return { a, regs, get, name };
}
const ofType = (regs: Registration[], t: string) => regs.filter((r) => r.type === t);

describe("KubernetesAddons: cluster objects", () => {
  beforeEach(() => mocks.reset());

  it("creates the namespaces (privileged pods allowed), the Ceph CSI cluster lists and Secrets, and every StorageClass under the component", async () => {
    const { regs, name } = await build({ csi: { zfsPools: ["tank"] } });
    const ns = ofType(regs, "kubernetes:core/v1:Namespace").map((r) => r.inputs.metadata);
    expect(ns.map((m) => m.name).sort()).toEqual(["ceph-csi-cephfs", "ceph-csi-rbd", "openebs", "tigera-operator"]);
    expect(ns.every((m) => m.labels["pod-security.kubernetes.io/enforce"] === "privileged")).toBe(true);
    expect(ofType(regs, "kubernetes:storage.k8s.io/v1:StorageClass").map((r) => r.inputs.metadata.name).sort()).toEqual(["ceph-cephfs", "ceph-rbd-fast", "ceph-rbd-rbd", "zfs-tank"]);
    for (const r of regs.filter((x) => x.type.startsWith("kubernetes:") && x.custom && !x.type.startsWith("pulumi:"))) {
      expect(parentName(r), r.name).toBe(name);
    }
  });

  it("writes the Ceph CSI cluster list: clusterID = fsid, the monitors, the CephFS subvolume group", async () => {
    const { get } = await build({});
    const rbd = get("rbd-config").inputs;
    expect(rbd.metadata).toEqual({ name: "ceph-csi-config", namespace: "ceph-csi-rbd" });
    expect(JSON.parse(rbd.data["config.json"])).toEqual([{ clusterID: FSID, monitors: ["10.213.0.12:6789", "10.213.0.13:6789", "10.213.0.14:6789"] }]);
    const fs = get("cephfs-config").inputs;
    expect(fs.metadata).toEqual({ name: "ceph-csi-config", namespace: "ceph-csi-cephfs" });
    expect(JSON.parse(fs.data["config.json"])).toEqual([{ clusterID: FSID, monitors: ["10.213.0.12:6789", "10.213.0.13:6789", "10.213.0.14:6789"], cephFS: { subvolumeGroup: "csi" } }]);
  });

  it("keeps the client keys secret: the Secrets' data is secret, no key appears in plaintext anywhere", async () => {
    const { regs, get } = await build({});
    const rbd = get("rbd-secret");
    expect(rbd.inputs.stringData).toEqual({ userID: "kubernetes", userKey: RBD_KEY });
    expect(plaintextOccurrences(rbd.raw.stringData, RBD_KEY)).toEqual([]);
    expect(plaintextOccurrences(rbd.raw.stringData, "kubernetes")).toEqual([]); // the whole map is one secret
    const fs = get("cephfs-secret");
    expect(fs.inputs.stringData).toEqual({ userID: "kubernetes-cephfs", userKey: CEPHFS_KEY, adminID: "kubernetes-cephfs", adminKey: CEPHFS_KEY });
    for (const key of [RBD_KEY, CEPHFS_KEY, "AQCANARYadmin=="]) {
      for (const r of regs) expect(plaintextOccurrences(r.raw, key), `${r.name} holds a Ceph key in plaintext`).toEqual([]);
    }
    // The admin key is never used.
    expect(regs.some((r) => JSON.stringify(r.inputs).includes("AQCANARYadmin=="))).toBe(false);
  });

  it("pins every StorageClass's parameters; volumes are retained by default", async () => {
    const { get } = await build({ csi: { zfsPools: ["tank", "fast.ssd"] } });
    const secrets = (name: string, ns: string) => ({
      "csi.storage.k8s.io/provisioner-secret-name": name, "csi.storage.k8s.io/provisioner-secret-namespace": ns,
      "csi.storage.k8s.io/controller-expand-secret-name": name, "csi.storage.k8s.io/controller-expand-secret-namespace": ns,
      "csi.storage.k8s.io/node-stage-secret-name": name, "csi.storage.k8s.io/node-stage-secret-namespace": ns,
    });
    const sc = (role: string) => {
      const { apiVersion: _a, kind: _k, ...rest } = get(role).inputs;
      return rest;
    };
    expect(sc("sc-ceph-rbd-rbd")).toEqual({
      metadata: { name: "ceph-rbd-rbd", annotations: { "storageclass.kubernetes.io/is-default-class": "true" } },
      provisioner: "rbd.csi.ceph.com", reclaimPolicy: "Retain", allowVolumeExpansion: true, volumeBindingMode: "Immediate",
      parameters: { clusterID: FSID, pool: "rbd", imageFeatures: "layering", "csi.storage.k8s.io/fstype": "ext4", ...secrets("csi-rbd-secret", "ceph-csi-rbd") },
    });
    expect(sc("sc-ceph-rbd-fast")).toEqual({
      metadata: { name: "ceph-rbd-fast" },
      provisioner: "rbd.csi.ceph.com", reclaimPolicy: "Retain", allowVolumeExpansion: true, volumeBindingMode: "Immediate",
      parameters: { clusterID: FSID, pool: "fast", imageFeatures: "layering", "csi.storage.k8s.io/fstype": "ext4", ...secrets("csi-rbd-secret", "ceph-csi-rbd") },
    });
    expect(sc("sc-ceph-cephfs")).toEqual({
      metadata: { name: "ceph-cephfs" },
      provisioner: "cephfs.csi.ceph.com", reclaimPolicy: "Retain", allowVolumeExpansion: true, volumeBindingMode: "Immediate",
      parameters: { clusterID: FSID, fsName: "cephfs", ...secrets("csi-cephfs-secret", "ceph-csi-cephfs") },
    });
    expect(sc("sc-zfs-tank")).toEqual({
      metadata: { name: "zfs-tank" },
      provisioner: "zfs.csi.openebs.io", reclaimPolicy: "Retain", allowVolumeExpansion: true, volumeBindingMode: "WaitForFirstConsumer",
      parameters: { poolname: "tank", fstype: "zfs" },
    });
    expect(sc("sc-zfs-fast-ssd").parameters).toEqual({ poolname: "fast.ssd", fstype: "zfs" });
    const del = await build({ reclaimPolicy: "Delete" });
    expect(del.get("sc-ceph-cephfs").inputs.reclaimPolicy).toBe("Delete");
  });

  it("without Ceph, or with RBD or CephFS switched off, creates none of it", async () => {
    const none = await build({}, {});
    expect(ofType(none.regs, "kubernetes:storage.k8s.io/v1:StorageClass")).toEqual([]);
    expect(ofType(none.regs, "kubernetes:core/v1:Secret")).toEqual([]);
    expect(none.a.charts.map((c) => c.key)).toEqual(["tigeraOperator"]);
    const rbdOnly = await build({ csi: { cephFs: false } });
    expect(ofType(rbdOnly.regs, "kubernetes:storage.k8s.io/v1:StorageClass").map((r) => r.inputs.metadata.name).sort()).toEqual(["ceph-rbd-fast", "ceph-rbd-rbd"]);
    expect(rbdOnly.a.charts.map((c) => c.key)).toEqual(["tigeraOperator", "cephCsiRbd"]);
    const noFs = await build({}, { ceph: { ...ceph(), cephfs: undefined } });
    expect(noFs.a.charts.map((c) => c.key)).toEqual(["tigeraOperator", "cephCsiRbd"]);
  });

  it("refuses bad settings before registering anything", async () => {
    mocks.reset();
    const provider = new k8s.Provider("bad-k8s", { kubeconfig: "x" });
    expect(() => new addons.KubernetesAddons("bad", { provider, settings: { podCidr: "10.96.0.0/16" } as any })).toThrow(/kubernetes\.podCidr: overlaps the service network/);
    expect(() => new addons.KubernetesAddons("bad2", { provider, settings: { calico: { encapsulation: "IPIP" } } as any })).toThrow(/kubernetes\.calico\.encapsulation/);
    const regs = await mocks.settle();
    expect(regs.filter((r) => r.type !== "pulumi:providers:kubernetes").map((r) => r.name)).toEqual([]);
  });
});

describe("KubernetesAddons: Helm releases", () => {
  beforeEach(() => mocks.reset());

  it("installs the pinned charts through the cluster's provider, Calico first", async () => {
    const { regs, get, name } = await build({ podCidr: "10.50.0.0/16", csi: { zfsPools: ["tank"] } }, { ceph: ceph(), nodeCount: 2 });
    const releases = ofType(regs, "kubernetes:helm.sh/v3:Release");
    const order = ["tigera-operator", "ceph-csi-rbd", "ceph-csi-cephfs", "zfs-localpv"];
    releases.sort((x, y) => order.indexOf(x.inputs.name) - order.indexOf(y.inputs.name));
    expect(releases.map((r) => [r.inputs.name, r.inputs.namespace, r.inputs.chart, r.inputs.version, r.inputs.repositoryOpts?.repo])).toEqual([
      ["tigera-operator", "tigera-operator", "tigera-operator", CHARTS.tigeraOperator.version, "https://docs.tigera.io/calico/charts"],
      ["ceph-csi-rbd", "ceph-csi-rbd", "ceph-csi-rbd", CHARTS.cephCsiRbd.version, "https://ceph.github.io/csi-charts"],
      ["ceph-csi-cephfs", "ceph-csi-cephfs", "ceph-csi-cephfs", CHARTS.cephCsiCephfs.version, "https://ceph.github.io/csi-charts"],
      ["zfs-localpv", "openebs", "zfs-localpv", CHARTS.zfsLocalpv.version, "https://openebs.github.io/zfs-localpv"],
    ]);
    expect(get("chart-tigera-operator").inputs.values).toEqual({
      installation: {
        enabled: true,
        cni: { type: "Calico" },
        calicoNetwork: {
          bgp: "Disabled",
          ipPools: [{ name: "default-ipv4-ippool", cidr: "10.50.0.0/16", encapsulation: "VXLAN", natOutgoing: "Enabled", nodeSelector: "all()", blockSize: 26 }],
          nodeAddressAutodetectionV4: { interface: "br0" },
        },
      },
    });
    const csiValues = { configMapName: "ceph-csi-config", externallyManagedConfigmap: true, secret: { create: false }, storageClass: { create: false }, provisioner: { replicaCount: 2 } };
    expect(get("chart-ceph-csi-rbd").inputs.values).toEqual(csiValues);
    expect(get("chart-ceph-csi-cephfs").inputs.values).toEqual(csiValues);
    expect(get("chart-zfs-localpv").inputs.values).toEqual({ analytics: { enabled: false } });
    // The CSI charts wait for Calico, their namespace, cluster list and Secret.
    expect(get("chart-ceph-csi-rbd").dependsOn).toEqual(expect.arrayContaining([`${name}-chart-tigera-operator`, `${name}-ns-ceph-csi-rbd`, `${name}-rbd-config`, `${name}-rbd-secret`]));
    expect(get("chart-zfs-localpv").dependsOn).toContain(`${name}-chart-tigera-operator`);
    expect(get("chart-tigera-operator").dependsOn).toEqual([`${name}-ns-tigera-operator`]);
    // No provider but the one given (none is created implicitly).
    expect(ofType(regs, "pulumi:providers:kubernetes").map((r) => r.name)).toEqual([`${name}-k8s`]);
  });

  it("Calico with BGP, another encapsulation, interface and MTU", async () => {
    const { get } = await build({ calico: { bgp: true, encapsulation: "IPIPCrossSubnet", interface: "bond0", mtu: 8950 } }, {});
    expect(get("chart-tigera-operator").inputs.values.installation.calicoNetwork).toEqual({
      bgp: "Enabled", mtu: 8950,
      ipPools: [{ name: "default-ipv4-ippool", cidr: "10.244.0.0/16", encapsulation: "IPIPCrossSubnet", natOutgoing: "Enabled", nodeSelector: "all()", blockSize: 26 }],
      nodeAddressAutodetectionV4: { interface: "bond0" },
    });
  });

  it("takes chart sources from a mirror, an OCI registry or a local chart", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dv-charts-"));
    const local = join(dir, "tigera-operator-v3.31.5.tgz");
    writeFileSync(local, "");
    const { get } = await build({
      chartSources: {
        tigeraOperator: { repository: local },
        cephCsiRbd: { repository: "oci://registry.example.org/charts", version: "3.17.1" },
        cephCsiCephfs: { repository: "https://charts.example.org/ceph" },
      },
    });
    const t = get("chart-tigera-operator").inputs;
    expect([t.chart, t.version, t.repositoryOpts]).toEqual([local, undefined, undefined]);
    const r = get("chart-ceph-csi-rbd").inputs;
    expect([r.chart, r.version, r.repositoryOpts]).toEqual(["oci://registry.example.org/charts/ceph-csi-rbd", "3.17.1", undefined]);
    const f = get("chart-ceph-csi-cephfs").inputs;
    expect([f.chart, f.version, f.repositoryOpts]).toEqual(["ceph-csi-cephfs", CHARTS.cephCsiCephfs.version, { repo: "https://charts.example.org/ceph" }]);
  });

  it("refuses a local chart that is not there, naming the field", () => {
    const provider = new k8s.Provider("nochart-k8s", { kubeconfig: "x" });
    expect(() => new addons.KubernetesAddons("nochart", { provider, settings: { chartSources: { zfsLocalpv: { repository: "/nonexistent/zfs-localpv.tgz" } }, csi: { zfsPools: ["tank"] } } }))
      .toThrow('kubernetes.chartSources.zfsLocalpv.repository: no chart at /nonexistent/zfs-localpv.tgz on the machine running Pulumi, got "/nonexistent/zfs-localpv.tgz"');
  });

  it("charts: false installs no chart, but builds and checks every chart's inputs", async () => {
    const { regs, a } = await build({ charts: false, podCidr: "10.60.0.0/16", csi: { zfsPools: ["tank"] }, chartSources: { zfsLocalpv: { repository: "/nonexistent/zfs.tgz" } } });
    expect(ofType(regs, "kubernetes:helm.sh/v3:Release")).toEqual([]);
    expect(a.charts.map((c) => c.key)).toEqual(["tigeraOperator", "cephCsiRbd", "cephCsiCephfs", "zfsLocalpv"]);
    expect((a.charts[0].values as any).installation.calicoNetwork.ipPools[0].cidr).toBe("10.60.0.0/16");
    // The StorageClasses and Secrets are there all the same.
    expect(ofType(regs, "kubernetes:storage.k8s.io/v1:StorageClass")).toHaveLength(4);
    expect(() => new addons.KubernetesAddons("off-bad", { provider: new k8s.Provider("off-bad-k8s", { kubeconfig: "x" }), settings: { charts: false, chartSources: { tigeraOperator: { version: "latest" } } } as any }))
      .toThrow(/kubernetes\.chartSources\.tigeraOperator\.version: must be a chart version/);
  });
});
