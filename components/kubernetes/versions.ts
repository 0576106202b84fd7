/**
 * Versions the Kubernetes layer pins: the one place. Each can be overridden in the
 * settings (`kubernetes.version`, `kubernetes.chartSources.<chart>`).
 *
 * `scripts/toolchain/kubernetes/kubeadm.sh` reads `KUBERNETES_VERSION` from this file:
 * keep it one line of exactly this form.
 */

/** Default Kubernetes version (kubeadm's `kubernetesVersion`; the kubeadm the toolchain builds). */
export const KUBERNETES_VERSION = "v1.34.4";

/** The oldest minor whose kubeadm reads the `kubeadm.k8s.io/v1beta4` config DebVisor renders. */
export const MIN_KUBERNETES_MINOR = 31;

/** A Helm chart: its name, version and repository (an https or oci:// repository, or a local chart path). */
export interface ChartPin {
  chart: string;
  version: string;
  repository: string;
}

/**
 * The charts the Kubernetes layer installs, by key (`kubernetes.chartSources.<key>`
 * overrides `version` and `repository`, e.g. to a mirror or a local `.tgz` for
 * air-gapped sites).
 */
export const CHARTS = {
  /** Calico through its operator (the chart version is Calico's). */
  tigeraOperator: { chart: "tigera-operator", version: "v3.31.5", repository: "https://docs.tigera.io/calico/charts" },
  /** Ceph CSI, RBD block volumes. */
  cephCsiRbd: { chart: "ceph-csi-rbd", version: "3.17.0", repository: "https://ceph.github.io/csi-charts" },
  /** Ceph CSI, CephFS shared file volumes. */
  cephCsiCephfs: { chart: "ceph-csi-cephfs", version: "3.17.0", repository: "https://ceph.github.io/csi-charts" },
  /** OpenEBS ZFS LocalPV: node-local volumes as ZFS datasets. */
  zfsLocalpv: { chart: "zfs-localpv", version: "2.8.0", repository: "https://openebs.github.io/zfs-localpv" },
} as const satisfies Record<string, ChartPin>;

export type ChartKey = keyof typeof CHARTS;
export const CHART_KEYS = Object.keys(CHARTS) as ChartKey[];

/** Defaults of the cluster-wide settings. */
export const DEFAULTS = {
  clusterName: "debvisor",
  podCidr: "10.244.0.0/16",
  serviceCidr: "10.96.0.0/12",
  dnsDomain: "cluster.local",
  apiServerPort: 6443,
  vipMode: "keepalived",
  vipInterface: "br0",
  calicoEncapsulation: "VXLAN",
  calicoInterface: "br0",
  reclaimPolicy: "Retain",
  criSocket: "unix:///run/containerd/containerd.sock",
  etcdDataDir: "/var/lib/etcd",
} as const;

/**
 * What the `packages` part installs from the Kubernetes apt repository: kubeadm, kubelet
 * and kubectl at the cluster's version (pinned in apt and checked after install), and
 * cri-tools (crictl, which kubeadm's preflight needs) and kubernetes-cni (the CNI plugins
 * kubelet expects under /opt/cni/bin) at whatever the repository of that minor has. All
 * are held: kubelet/kubeadm/kubectl and cri-tools by the layers' `heldPackages` (the
 * security layer's hold hook), kubernetes-cni by the part itself (`apt-mark hold`), so the
 * list every node holds stays the one converged hosts have.
 */
export const KUBERNETES_PINNED_PACKAGES = ["kubeadm", "kubelet", "kubectl"] as const;
export const KUBERNETES_REPO_PACKAGES = ["cri-tools", "kubernetes-cni"] as const;
/**
 * Debian packages kubeadm's preflight looks for (which of them fail or only warn has changed
 * between kubeadm versions: all are installed), and the tools the init and join scripts use
 * (jq reads kubeadm's token list, openssl hashes the CA, curl checks a join token against
 * the cluster's public cluster-info).
 */
export const KUBERNETES_DEBIAN_PACKAGES = ["conntrack", "socat", "ethtool", "jq", "openssl", "curl"] as const;
/** keepalived and the health check's client, from Debian's archive (control planes with a VIP). */
export const VIP_PACKAGES = ["keepalived", "curl"] as const;

/** Where the repository's signing key (binary, dearmored) and apt source are written on a host. */
export const KUBERNETES_KEYRING = "/etc/apt/keyrings/debvisor-kubernetes.gpg";
export const KUBERNETES_APT_SOURCE = "/etc/apt/sources.list.d/debvisor-kubernetes.list";
/** Root-only folder of the layer's files on a host (configs, join records). */
export const KUBERNETES_STATE_DIR = "/etc/kubernetes/debvisor";
