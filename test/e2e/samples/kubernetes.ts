import type { DebianRelease } from "../../../components/base/index.js";
import {
  clusterConfiguration, imagesStep, initStep, joinStep, kubeadmPlan, kubeletStep, kubernetesPackagesStep, kubernetesRepoStep,
  renderInitConfig, renderJoinConfig, resolveKubernetes, tokensStep, vipStep,
} from "../../../components/kubernetes/index.js";
import { stringify } from "yaml";

// Samples of components/kubernetes/*.sh, as the Kubernetes layer renders them for a lab of
// three control planes and a worker behind a VIP. A lab container host cannot run a
// kubelet, so these run on the lab VMs (scripts/lab/, the Kubernetes e2e), not in the
// script tier's one-host run; here they are shellchecked and their DV_ names checked.
const members = [
  { name: "n1", address: "10.213.0.11", settings: { role: "controlPlane" as const } },
  { name: "n2", address: "10.213.0.12", settings: { role: "controlPlane" as const } },
  { name: "n3", address: "10.213.0.13", settings: { role: "controlPlane" as const } },
  { name: "n4", address: "10.213.0.14", settings: { role: "worker" as const } },
].map((m) => ({ ...m, settings: { ...m.settings, enabled: true, controlPlaneEndpoint: { address: "10.213.0.10" } } }));
const plan = kubeadmPlan(members);
const s = resolveKubernetes(members[0].settings);

/** Scripts proven on lab VMs, with no place in the script tier's run order. */
export const elsewhere: string[] = [
  "kubernetes/repo.sh", "kubernetes/packages.sh", "kubernetes/kubelet.sh", "kubernetes/vip.sh", "kubernetes/images.sh",
  "kubernetes/init.sh", "kubernetes/tokens.sh", "kubernetes/join.sh",
];
export const sample = (_release: DebianRelease): Record<string, Record<string, string>> => ({
  "kubernetes/repo.sh": kubernetesRepoStep({ ...s.packageRepository, version: s.version }).params,
  "kubernetes/packages.sh": kubernetesPackagesStep(s.version).params,
  "kubernetes/kubelet.sh": kubeletStep().params,
  "kubernetes/vip.sh": vipStep({ vip: "10.213.0.10", interface: "br0", members: plan.controlPlanes, self: "n1" }).params,
  "kubernetes/images.sh": imagesStep(renderInitConfig(plan)).params,
  "kubernetes/init.sh": initStep(plan, renderInitConfig(plan)).params,
  "kubernetes/tokens.sh": tokensStep(plan, "n2", stringify(clusterConfiguration(plan))).params,
  "kubernetes/join.sh": {
    ...joinStep(plan, "n2", "debvisor-k8s-token-n2").params,
    DV_JOIN_CONFIG: renderJoinConfig(plan, "n2", { token: "abcdef.0123456789abcdef", caCertHash: `sha256:${"ab".repeat(32)}`, certificateKey: "cd".repeat(32) }),
  },
});
