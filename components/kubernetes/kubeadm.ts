import { isIP } from "node:net";
import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import { DEFAULTS } from "./versions.js";
import { kubernetesRoles, resolveKubernetes, type KubernetesSettings, type ResolvedKubernetes } from "./schema.js";

/**
 * kubeadm configuration (`kubeadm.k8s.io/v1beta4`), rendered as YAML documents with the
 * `yaml` package: InitConfiguration + ClusterConfiguration + KubeletConfiguration for the
 * first control plane, a JoinConfiguration for every other node. Field names follow
 * kubeadm's v1beta4 Go types (cmd/kubeadm/app/apis/kubeadm/v1beta4/types.go of
 * Kubernetes v1.34) and the bootstrap token type (bootstraptoken/v1); the e2e tier runs
 * the real `kubeadm config validate` on them.
 *
 * Join secrets (bootstrap token, certificate key) are minted per join on the first control
 * plane and are short-lived (kubeadm: tokens 24 h by default, uploaded certificates 2 h):
 * they are never part of the settings. Joins pin the cluster CA by its hash
 * (`caCertHashes`); `unsafeSkipCAVerification` is never rendered.
 */

export const KUBEADM_API_VERSION = "kubeadm.k8s.io/v1beta4";
export const KUBELET_API_VERSION = "kubelet.config.k8s.io/v1beta1";
/** `abcdef.0123456789abcdef` (kubeadm's bootstrap token format). */
export const BOOTSTRAP_TOKEN = /^[a-z0-9]{6}\.[a-z0-9]{16}$/;
/** The key that encrypts the control-plane certificates kubeadm uploads: 32 bytes, hex. */
export const CERTIFICATE_KEY = /^[a-f0-9]{64}$/;
/** `sha256:<hex>`: the hash of the cluster CA's public key a join pins. */
export const CA_CERT_HASH = /^sha256:[a-f0-9]{64}$/;
/** How long the bootstrap token rendered into an InitConfiguration lives. */
export const BOOTSTRAP_TOKEN_TTL = "1h0m0s";

export type KubernetesRole = "controlPlane" | "worker";

/** One node of the Kubernetes cluster as kubeadm sees it. */
export interface KubeadmNode {
  /** Node name (the kubelet registers under it). */
  name: string;
  /** The node's address: kubelet's node IP and, on a control plane, the API server's advertise address (when an IP). */
  address: string;
  role: KubernetesRole;
}

/** Everything the kubeadm configs are rendered from (one cluster). */
export interface KubeadmPlan {
  settings: ResolvedKubernetes;
  /** Control planes, the first one runs `kubeadm init`. */
  controlPlanes: KubeadmNode[];
  workers: KubeadmNode[];
  /** `host:port` every join and kubeconfig names: the VIP, or the first control plane's address. */
  endpoint: string;
}

/** Plans the cluster from its nodes (config order), each with its kubernetes settings (validated). */
export function kubeadmPlan(members: readonly { name: string; address: string; settings: KubernetesSettings }[]): KubeadmPlan {
  if (members.length === 0) throw new Error("kubeadmPlan: no node has the kubernetes layer");
  const settings = resolveKubernetes(members[0].settings);
  const roles = kubernetesRoles(members);
  const nodes = members.map((m, i) => ({ name: m.name, address: m.address, role: roles[i] }));
  const controlPlanes = nodes.filter((n) => n.role === "controlPlane");
  if (controlPlanes.length === 0) throw new Error("kubeadmPlan: no control plane");
  const vip = settings.controlPlaneEndpoint;
  const endpoint = vip ? `${vip.address}:${vip.port}` : `${hostPart(controlPlanes[0].address)}:${DEFAULTS.apiServerPort}`;
  return { settings, controlPlanes, workers: nodes.filter((n) => n.role === "worker"), endpoint };
}

const hostPart = (address: string) => (isIP(address) === 6 ? `[${address}]` : address);

/**
 * What kubeadm init's own bootstrap token is described as, when DebVisor gives none: kubeadm
 * mints it (init needs one for its cluster-info signature), it lives INIT_TOKEN_TTL, and the
 * init step deletes it by this description (joins get short-lived tokens of their own).
 */
export const INIT_TOKEN_DESCRIPTION = "DebVisor: kubeadm init's own token, deleted after init";
export const INIT_TOKEN_TTL = "15m0s";

/** Secrets of `kubeadm init`, both optional: kubeadm mints a token itself when none is given. */
export interface InitSecrets {
  /** A bootstrap token to create at init (`abcdef.0123456789abcdef`), valid for BOOTSTRAP_TOKEN_TTL. */
  token?: string;
  /** The key to upload the control-plane certificates with (`kubeadm init --upload-certs`), for control-plane joins. */
  certificateKey?: string;
}

/** Secrets and facts of one `kubeadm join`. */
export interface JoinSecrets {
  token: string;
  /** `sha256:<hex>` of the cluster CA's public key (from the first control plane). */
  caCertHash: string;
  /** Needed for a control-plane join. */
  certificateKey?: string;
}

// Checks that never print the value (they are secrets).
function checkSecret(name: string, value: string | undefined, format: RegExp, what: string): void {
  if (value !== undefined && !format.test(value)) throw new Error(`kubeadm ${name}: not ${what} (the value is secret and not shown)`);
}

function nodeRegistration(plan: KubeadmPlan, node: KubeadmNode): Record<string, unknown> {
  return {
    name: node.name,
    criSocket: DEFAULTS.criSocket,
    ...(isIP(node.address) ? { kubeletExtraArgs: [{ name: "node-ip", value: node.address }] } : {}),
    // A control plane keeps kubeadm's NoSchedule taint unless it runs workloads too.
    ...(node.role === "controlPlane" && plan.settings.controlPlaneWorkloads ? { taints: [] } : {}),
  };
}

/**
 * A control plane's `localAPIEndpoint`: its address named (when an IP), since kubeadm's own
 * guess follows the default route, which an air-gapped host (or the lab's VMs) may lack:
 * "cannot use 0.0.0.0 as the bind address for the API Server".
 */
export function apiEndpoint(node: KubeadmNode): { advertiseAddress?: string; bindPort: number } {
  return { ...(isIP(node.address) ? { advertiseAddress: node.address } : {}), bindPort: DEFAULTS.apiServerPort };
}

const yamlDocs = (...docs: Record<string, unknown>[]) => docs.map((d) => stringify(d, { lineWidth: 0 })).join("---\n");

/** The ClusterConfiguration document (no secrets in it). */
export function clusterConfiguration(plan: KubeadmPlan): Record<string, unknown> {
  const s = plan.settings;
  const vip = s.controlPlaneEndpoint;
  return {
    apiVersion: KUBEADM_API_VERSION,
    kind: "ClusterConfiguration",
    clusterName: s.clusterName,
    kubernetesVersion: s.version,
    controlPlaneEndpoint: plan.endpoint,
    networking: { podSubnet: s.podCidr, serviceSubnet: s.serviceCidr, dnsDomain: s.dnsDomain },
    etcd: { local: { dataDir: DEFAULTS.etcdDataDir } },
    apiServer: { certSANs: [...new Set([...(vip ? [vip.address] : []), ...plan.controlPlanes.map((c) => c.address)])] },
    ...(s.imageRepository !== undefined ? { imageRepository: s.imageRepository } : {}),
    ...(s.dnsImageTag !== undefined ? { dns: { imageTag: s.dnsImageTag } } : {}),
  };
}

/** The KubeletConfiguration document every node gets: systemd cgroups, as containerd is set up. */
export function kubeletConfiguration(): Record<string, unknown> {
  return { apiVersion: KUBELET_API_VERSION, kind: "KubeletConfiguration", cgroupDriver: "systemd" };
}

/** `kubeadm init --config` of the first control plane: Init + Cluster + Kubelet configuration. */
export function renderInitConfig(plan: KubeadmPlan, secrets: InitSecrets = {}): string {
  checkSecret("token", secrets.token, BOOTSTRAP_TOKEN, "a bootstrap token ([a-z0-9]{6}.[a-z0-9]{16})");
  checkSecret("certificateKey", secrets.certificateKey, CERTIFICATE_KEY, "a certificate key (64 hex digits)");
  const first = plan.controlPlanes[0];
  const init = {
    apiVersion: KUBEADM_API_VERSION,
    kind: "InitConfiguration",
    ...(secrets.token !== undefined ? {
      bootstrapTokens: [{
        token: secrets.token,
        description: "DebVisor join token",
        ttl: BOOTSTRAP_TOKEN_TTL,
        usages: ["signing", "authentication"],
        groups: ["system:bootstrappers:kubeadm:default-node-token"],
      }],
    } : {
      // No token value: kubeadm generates one; ours are the description and a short life.
      bootstrapTokens: [{
        description: INIT_TOKEN_DESCRIPTION,
        ttl: INIT_TOKEN_TTL,
        usages: ["signing", "authentication"],
        groups: ["system:bootstrappers:kubeadm:default-node-token"],
      }],
    }),
    ...(secrets.certificateKey !== undefined ? { certificateKey: secrets.certificateKey } : {}),
    localAPIEndpoint: apiEndpoint(first),
    nodeRegistration: nodeRegistration(plan, first),
  };
  return yamlDocs(init, clusterConfiguration(plan), kubeletConfiguration());
}

/** `kubeadm join --config` of one node (a control plane other than the first, or a worker). */
export function renderJoinConfig(plan: KubeadmPlan, nodeName: string, secrets: JoinSecrets): string {
  const node = [...plan.controlPlanes, ...plan.workers].find((n) => n.name === nodeName);
  if (node === undefined) throw new Error(`kubeadm join: ${nodeName} is not a node of this cluster`);
  if (node === plan.controlPlanes[0]) throw new Error(`kubeadm join: ${nodeName} is the first control plane: it runs kubeadm init`);
  checkSecret("token", secrets.token, BOOTSTRAP_TOKEN, "a bootstrap token ([a-z0-9]{6}.[a-z0-9]{16})");
  if (!CA_CERT_HASH.test(secrets.caCertHash)) throw new Error(`kubeadm caCertHash: must be sha256:<64 hex digits> (joins pin the cluster CA), got ${JSON.stringify(secrets.caCertHash)}`);
  if (node.role === "controlPlane") {
    if (secrets.certificateKey === undefined) throw new Error(`kubeadm join: ${nodeName} is a control plane: it needs the certificate key`);
    checkSecret("certificateKey", secrets.certificateKey, CERTIFICATE_KEY, "a certificate key (64 hex digits)");
  }
  const join = {
    apiVersion: KUBEADM_API_VERSION,
    kind: "JoinConfiguration",
    discovery: {
      bootstrapToken: { apiServerEndpoint: plan.endpoint, token: secrets.token, caCertHashes: [secrets.caCertHash] },
      tlsBootstrapToken: secrets.token,
    },
    nodeRegistration: nodeRegistration(plan, node),
    ...(node.role === "controlPlane" ? { controlPlane: { localAPIEndpoint: apiEndpoint(node), certificateKey: secrets.certificateKey } } : {}),
  };
  // No KubeletConfiguration here: a joining kubelet takes the cluster's (kubeadm uploads it at init).
  return yamlDocs(join);
}

/** `renderInitConfig` with secrets from other resources: the result is a secret Output. */
export function kubeadmInitConfig(plan: KubeadmPlan, secrets: { token?: pulumi.Input<string>; certificateKey?: pulumi.Input<string> } = {}): pulumi.Output<string> {
  return pulumi.secret(pulumi.all([secrets.token, secrets.certificateKey]).apply(([token, certificateKey]) => renderInitConfig(plan, { token, certificateKey })));
}

/** `renderJoinConfig` with secrets from other resources (the first control plane's): the result is a secret Output. */
export function kubeadmJoinConfig(plan: KubeadmPlan, nodeName: string, secrets: { token: pulumi.Input<string>; caCertHash: pulumi.Input<string>; certificateKey?: pulumi.Input<string> }): pulumi.Output<string> {
  return pulumi.secret(pulumi.all([secrets.token, secrets.caCertHash, secrets.certificateKey])
    .apply(([token, caCertHash, certificateKey]) => renderJoinConfig(plan, nodeName, { token, caCertHash, certificateKey })));
}
