import { stepSpec } from "../host/remote-step.js";
import { BOOTSTRAP_TOKEN_TTL, INIT_TOKEN_DESCRIPTION, apiEndpoint, type KubeadmPlan } from "./kubeadm.js";
import { VIP_CHECK_PATH, packageVersion, renderAptSource, renderKeepalivedConf, renderKubernetesAptPin, renderVipCheck, type VipMember } from "./render.js";
import { DEFAULTS, KUBERNETES_DEBIAN_PACKAGES, KUBERNETES_PINNED_PACKAGES, KUBERNETES_REPO_PACKAGES, VIP_PACKAGES } from "./versions.js";

/**
 * Typed builders of the Kubernetes layer's scripts (`components/kubernetes/*.sh`): one per
 * script, used by the components and by the script tier's samples.
 */

/** `kubernetes/repo.sh`: the repository's key, source and the version pin. */
export const kubernetesRepoStep = (o: { url: string; key?: string; keyUrl?: string; version: string }) => stepSpec("kubernetes/repo.sh", {
  DV_KEY: o.key?.trim() ?? "",
  DV_KEY_URL: o.key !== undefined ? "" : (o.keyUrl ?? `${o.url}Release.key`),
  DV_APT_SOURCE: renderAptSource(o.url),
  DV_APT_PIN: renderKubernetesAptPin(o.version),
});

/** `kubernetes/packages.sh`: kubeadm, kubelet, kubectl (pinned, checked), cri-tools, kubernetes-cni, preflight tools. */
export const kubernetesPackagesStep = (version: string) => stepSpec("kubernetes/packages.sh", {
  DV_PACKAGES: [...KUBERNETES_PINNED_PACKAGES, ...KUBERNETES_REPO_PACKAGES, ...KUBERNETES_DEBIAN_PACKAGES].join(" "),
  DV_VERSIONS: KUBERNETES_PINNED_PACKAGES.map((p) => `${p}=${packageVersion(version)}`).join(" "),
  DV_HOLD: "kubernetes-cni",
});

/** `kubernetes/kubelet.sh`: kubelet enabled (kubeadm configures and starts it). */
export const kubeletStep = () => stepSpec("kubernetes/kubelet.sh", {});

/** `kubernetes/vip.sh`: keepalived holding the control-plane VIP on one control plane. */
export const vipStep = (o: { vip: string; interface: string; members: readonly VipMember[]; self: string }) => stepSpec("kubernetes/vip.sh", {
  DV_VIP_PACKAGES: VIP_PACKAGES.join(" "),
  DV_KEEPALIVED_CONF: renderKeepalivedConf(o),
  DV_CHECK_PATH: VIP_CHECK_PATH,
  DV_CHECK_SCRIPT: renderVipCheck(),
});

/** `kubernetes/images.sh`: the control-plane images pulled ahead (control planes only). */
export const imagesStep = (config: string) => stepSpec("kubernetes/images.sh", { DV_CONFIG: config });

/** `kubernetes/init.sh`: `kubeadm init` on the first control plane, once. */
export const initStep = (plan: KubeadmPlan, config: string, waitSeconds = 300) => stepSpec("kubernetes/init.sh", {
  DV_CONFIG: config,
  DV_ENDPOINT: plan.endpoint,
  DV_UPLOAD_CERTS: plan.controlPlanes.length > 1 ? "1" : "0",
  DV_WAIT: String(waitSeconds),
  DV_INIT_TOKEN_DESCRIPTION: INIT_TOKEN_DESCRIPTION,
});

/** `kubernetes/tokens.sh` on the first control plane: the join secrets of one joining node (a step per node: adding one changes no other's step). */
export const tokensStep = (plan: KubeadmPlan, node: string, clusterConfig: string, ttl = BOOTSTRAP_TOKEN_TTL) => {
  const n = joiners(plan).find((j) => j.name === node);
  if (n === undefined) throw new Error(`kubeadm token: ${node} is not a joining node of this cluster`);
  return stepSpec("kubernetes/tokens.sh", {
    DV_JOINERS: `${n.name}:${n.role}`,
    DV_TTL: ttl,
    DV_CLUSTER_CONFIG: clusterConfig,
    DV_CRI_SOCKET: DEFAULTS.criSocket,
    // upload-certs reads an InitConfiguration: the first control plane's own endpoint, as init had it.
    DV_ADVERTISE_ADDRESS: apiEndpoint(plan.controlPlanes[0]).advertiseAddress ?? "",
  });
};

/** `kubernetes/join.sh` of one node (its JoinConfiguration is the secret DV_JOIN_CONFIG). */
export const joinStep = (plan: KubeadmPlan, node: string, tokensStepName: string) => {
  const n = joiners(plan).find((j) => j.name === node);
  if (n === undefined) throw new Error(`kubeadm join: ${node} is not a joining node of this cluster`);
  return stepSpec("kubernetes/join.sh", {
    DV_NODE: node,
    DV_CONTROL_PLANE: n.role === "controlPlane" ? "1" : "0",
    DV_ENDPOINT: plan.endpoint,
    DV_TOKENS_STEP: tokensStepName,
  });
};
/** The secret parameter of `kubernetes/join.sh`. */
export const JOIN_SECRETS = ["DV_JOIN_CONFIG"] as const;

/** The nodes that join (every node but the first control plane): control planes first, then workers, in config order. */
export const joiners = (plan: KubeadmPlan) => [...plan.controlPlanes.slice(1), ...plan.workers];
