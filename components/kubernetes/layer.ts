import { DEFAULT_NODE_PORTS, parsePortRange, type RoleRule } from "../security/firewall.js";
import type { LayerDescriptor } from "../layer.js";
import { fail } from "../config/problems.js";
import { kubernetesClusterRules, kubernetesRules, kubernetesSchema, resolveKubernetes, type KubernetesRuleEntry, type KubernetesSettings } from "./schema.js";
import { buildKubernetesCluster } from "./cluster.js";

/**
 * The Kubernetes layer (kubeadm, kubelet, Calico, CSI): its settings are checked (per node
 * and across nodes), and across the cluster it renders the kubeadm configs and the add-ons'
 * chart inputs (`DebVisorCluster.services.kubernetes`, see `buildKubernetesCluster`). Only
 * with `kubernetes.enabled` does it register host steps, all from `buildCluster` (a node's
 * step needs the cluster: its role, the VIP's peers, the rendered config): each node's
 * `<node>-kubernetes-apply` waits for the node's containers layer, and the node's later
 * layers do not wait for it. What it contributes: the control-plane, kubelet, NodePort and
 * Calico ports (NodePort range and WireGuard from the node's `security` settings), and its
 * packages held.
 */
/** Does keepalived move this cluster's VIP (enabled, with a keepalived controlPlaneEndpoint)? Then VRRP must pass the firewall. */
function runsKeepalived(s: KubernetesSettings = {}): boolean {
  const r = resolveKubernetes(s);
  return r.enabled && r.controlPlaneEndpoint?.mode === "keepalived";
}

export const kubernetesLayer: LayerDescriptor = {
  name: "kubernetes",
  settings: {
    key: "kubernetes",
    schema: kubernetesSchema,
    rules: (s, node) => {
      kubernetesRules(s);
      // keepalived's VRRP is a bare IP protocol: the nftables table lets it in; the ufw
      // script has no place for it (changing that script would re-run every ufw host's firewall).
      if (runsKeepalived(s) && node.args.security?.firewall === "ufw") {
        fail("controlPlaneEndpoint.mode", "keepalived needs VRRP through the firewall, which DebVisor adds to its nftables table only: use security.firewall nftables (the default) on Kubernetes nodes", "keepalived");
      }
    },
    clusterRules: (entries) => kubernetesClusterRules(entries as unknown as readonly KubernetesRuleEntry[]),
  },
  heldPackages: ["kubelet", "kubeadm", "kubectl"],
  buildCluster: (cluster) => buildKubernetesCluster(cluster),
  contribute: (args) => {
    const s = args.security ?? {};
    const nodePorts = (s.nodePorts === undefined ? undefined : parsePortRange(s.nodePorts)) ?? DEFAULT_NODE_PORTS;
    const rules: RoleRule[] = [
      { protocol: "tcp", ports: [6443, 6443], comment: "kube-apiserver" },
      { protocol: "tcp", ports: [2379, 2380], comment: "etcd" },
      { protocol: "tcp", ports: [10250, 10250], comment: "kubelet" },
      { protocol: "tcp", ports: nodePorts, comment: "kube-nodeports-tcp" },
      { protocol: "udp", ports: nodePorts, comment: "kube-nodeports-udp" },
      { protocol: "tcp", ports: [179, 179], comment: "calico-bgp" },
      { protocol: "udp", ports: [4789, 4789], comment: "calico-vxlan" },
      { protocol: "tcp", ports: [5473, 5473], comment: "calico-typha" },
      { protocol: "ipip", comment: "calico-ipip" },
      // keepalived's VRRP between the control planes (unicast from the cluster networks).
      ...(runsKeepalived(args.kubernetes) ? [{ protocol: "vrrp" as const, comment: "keepalived-vrrp" }] : []),
      ...(s.wireguard ? [{ protocol: "udp" as const, ports: [51820, 51821] as [number, number], comment: "calico-wireguard" }] : []),
    ];
    return { firewallRules: rules };
  },
};
