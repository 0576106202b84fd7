import type * as pulumi from "@pulumi/pulumi";
import type * as k8s from "@pulumi/kubernetes";
import type { ClusterContext } from "../layer.js";
import { KubernetesCluster } from "./hosts.js";
import { trusted } from "../config/trusted.js";
import { KubernetesAddons, addonCharts, type ChartRelease, type KubernetesCephInputs } from "./addons.js";
import { kubeadmInitConfig, kubeadmJoinConfig, kubeadmPlan, renderInitConfig, type KubeadmPlan } from "./kubeadm.js";

/**
 * What the Kubernetes layer builds across nodes (`DebVisorCluster.services.kubernetes`):
 * the cluster's plan and its kubeadm configs, rendered, and the chart releases the add-ons
 * would install, built and checked. With `kubernetes.enabled` it also registers the host
 * steps (`KubernetesCluster`: each node's `<node>-kubernetes-apply`, then `<cluster>-k8s-init`,
 * `-token-<node>`, `-join-<node>`), offers the admin kubeconfig and a provider made from it, and
 * (unless `addons: false`) creates the cluster objects through that provider
 * (`<cluster>-k8s-addons`: `KubernetesAddons` with the storage layer's Ceph cluster). Without
 * it, nothing is registered: the lab's container hosts cannot run a kubelet.
 */
export interface KubernetesClusterPlan {
  /** Control planes (the first runs `kubeadm init`), workers, the API endpoint, the resolved settings. */
  plan: KubeadmPlan;
  /**
   * `kubeadm init --config` of the first control plane, without secrets: kubeadm mints the
   * bootstrap token itself, and `--upload-certs` the certificate key.
   */
  initConfiguration: string;
  /** The same with a token and certificate key minted elsewhere: a secret Output. */
  initConfigurationWith(secrets: { token?: pulumi.Input<string>; certificateKey?: pulumi.Input<string> }): pulumi.Output<string>;
  /** `kubeadm join --config` of a node, from the secrets and CA hash of the first control plane: a secret Output. */
  joinConfiguration(node: string, secrets: { token: pulumi.Input<string>; caCertHash: pulumi.Input<string>; certificateKey?: pulumi.Input<string> }): pulumi.Output<string>;
  /** The chart releases of the add-ons (installed only when `charts` is on and a provider exists). */
  charts: ChartRelease[];
  /** The storage layer's Ceph cluster, when there is one: what the CSI drivers use. */
  ceph?: KubernetesCephInputs;
  /** The host steps (`kubernetes.enabled`); undefined when the layer only renders. */
  cluster?: KubernetesCluster;
  /** The cluster objects (CSI namespaces, ConfigMaps, Secrets, StorageClasses; charts), when enabled with `addons`. */
  addons?: KubernetesAddons;
  /** The admin kubeconfig (secret), when enabled. */
  kubeconfig?: pulumi.Output<string>;
  /**
   * A Kubernetes provider on that kubeconfig, made on first call (it needs the Kubernetes
   * provider plugin, which setup does not build by default). Throws when not enabled.
   */
  provider(): k8s.Provider;
}

/** A value with the shape the CSI drivers need (the storage layer's Ceph cluster). */
function asCeph(value: unknown): KubernetesCephInputs | undefined {
  const v = value as Partial<KubernetesCephInputs> | undefined;
  return v !== undefined && v !== null && v.fsid !== undefined && v.monitors !== undefined && v.clientKeys !== undefined && Array.isArray(v.rbdPools)
    ? (v as KubernetesCephInputs) : undefined;
}

/** The Kubernetes layer's `buildCluster`: renders; registers the host steps only with `kubernetes.enabled`. */
export function buildKubernetesCluster(cluster: ClusterContext): KubernetesClusterPlan {
  const plan = kubeadmPlan(cluster.members.map((m) => ({ name: m.name, address: m.host.address, settings: m.args.kubernetes ?? {} })));
  const ceph = asCeph((cluster.outputs.storage as { ceph?: unknown } | undefined)?.ceph);
  const hosts = plan.settings.enabled
    ? new KubernetesCluster(`${cluster.name}-k8s`, {
      plan,
      members: cluster.members.map((m) => ({ name: m.name, resourceName: `${cluster.name}-${m.name}`, node: m.node, host: m.host, after: m.ready })),
    }, { parent: cluster.parent })
    : undefined;
  // Every member carries the same cluster-wide settings (kubernetesClusterRules checked it).
  const addons = hosts && plan.settings.addons
    ? new KubernetesAddons(`${cluster.name}-k8s-addons`, trusted({
      provider: hosts.provider(), settings: cluster.members[0].args.kubernetes ?? {}, ceph, nodeCount: cluster.members.length,
    }), { parent: cluster.parent })
    : undefined;
  return {
    ...(hosts ? { cluster: hosts, kubeconfig: hosts.kubeconfig } : {}),
    ...(addons ? { addons } : {}),
    provider: () => {
      if (hosts === undefined) throw new Error("kubernetes.enabled is off: DebVisor set up no cluster, so there is no kubeconfig to make a provider from");
      return hosts.provider();
    },
    plan,
    initConfiguration: renderInitConfig(plan),
    initConfigurationWith: (secrets) => kubeadmInitConfig(plan, secrets),
    joinConfiguration: (node, secrets) => kubeadmJoinConfig(plan, node, secrets),
    charts: addonCharts(plan.settings, { ceph: ceph !== undefined, cephfs: ceph?.cephfs !== undefined, nodeCount: cluster.members.length }),
    ceph,
  };
}
