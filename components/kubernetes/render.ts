import { ipv4ToInt } from "./net.js";
import { DEFAULTS, KUBERNETES_KEYRING, KUBERNETES_PINNED_PACKAGES } from "./versions.js";

/**
 * Files the Kubernetes layer's host steps write, rendered here (pure functions, tested
 * directly): the apt source and pin of the Kubernetes repository, and keepalived's
 * configuration for the control-plane VIP.
 */

const MANAGED = "# Managed by DebVisor (kubernetes layer)";

/** `1.34.4` of `v1.34.4`: the upstream part of the repository's package versions (`1.34.4-1.1`). */
export const packageVersion = (version: string) => version.replace(/^v/, "");

/** The apt source line of a flat repository (suite `/`), signed by DebVisor's keyring. */
export function renderAptSource(url: string): string {
  return `${MANAGED}\ndeb [signed-by=${KUBERNETES_KEYRING}] ${url} /`;
}

/** kubeadm, kubelet and kubectl pinned to the cluster's version (any revision of the repository). */
export function renderKubernetesAptPin(version: string): string {
  return `${MANAGED}\n# The cluster's Kubernetes version, pinned by DebVisor.\n\nPackage: ${KUBERNETES_PINNED_PACKAGES.join(" ")}\nPin: version ${packageVersion(version)}-*\nPin-Priority: 1001`;
}

/** One control plane of the VIP: its name and address (config order: the first has the highest priority). */
export interface VipMember {
  name: string;
  address: string;
}

/** VRRP priority of the i-th control plane; a failing health check takes HEALTH_WEIGHT off. */
export const vipPriority = (i: number) => 200 - 10 * i;
/** Larger than any gap between priorities: a healthy control plane always outranks an unhealthy one. */
export const VIP_HEALTH_WEIGHT = -100;
/** The health check keepalived runs (root-owned, not writable by others: keepalived's script security). */
export const VIP_CHECK_PATH = "/etc/keepalived/debvisor-apiserver-check";

/** VRRP router id of a VIP: from its address (1-255), the same on every control plane. */
export const vipRouterId = (address: string) => ((ipv4ToInt(address) ?? 0) % 255) + 1;

/** The health check: the local kube-apiserver answers /healthz (anonymous; TLS not verified, it is localhost). */
export function renderVipCheck(port: number = DEFAULTS.apiServerPort): string {
  return `#!/bin/sh\n${MANAGED}: exits 0 when the local kube-apiserver answers.\nexec curl -sfk --max-time 2 -o /dev/null https://127.0.0.1:${port}/healthz`;
}

/**
 * keepalived.conf of one control plane: one VRRP instance on the VIP's interface, unicast
 * to the other control planes (no multicast on the site's network), every instance BACKUP
 * with a priority by config order. The health check lowers the priority instead of
 * failing the instance: while no kube-apiserver runs yet (before `kubeadm init`) the first
 * control plane still holds the VIP, which init needs (kubeadm talks to the API through
 * the controlPlaneEndpoint); afterwards a healthy control plane always wins.
 */
export function renderKeepalivedConf(o: { vip: string; interface: string; members: readonly VipMember[]; self: string }): string {
  const i = o.members.findIndex((m) => m.name === o.self);
  if (i < 0) throw new Error(`keepalived: ${o.self} is not a control plane`);
  const me = o.members[i];
  const peers = o.members.filter((m) => m.name !== o.self);
  const lines = [
    MANAGED,
    `# The control-plane VIP ${o.vip}: ${o.members.map((m, k) => `${m.name} ${vipPriority(k)}`).join(", ")}.`,
    "global_defs {",
    `  router_id ${me.name}`,
    "  enable_script_security",
    "  script_user root",
    "}",
    "",
    "vrrp_script debvisor_apiserver {",
    `  script "${VIP_CHECK_PATH}"`,
    "  interval 3",
    "  timeout 3",
    "  fall 3",
    "  rise 2",
    `  weight ${VIP_HEALTH_WEIGHT}`,
    "}",
    "",
    "vrrp_instance debvisor_apiserver {",
    "  state BACKUP",
    `  interface ${o.interface}`,
    `  virtual_router_id ${vipRouterId(o.vip)}`,
    `  priority ${vipPriority(i)}`,
    "  advert_int 1",
    ...(peers.length > 0 ? [`  unicast_src_ip ${me.address}`, "  unicast_peer {", ...peers.map((p) => `    ${p.address}`), "  }"] : []),
    "  virtual_ipaddress {",
    `    ${o.vip}/32 dev ${o.interface}`,
    "  }",
    "  track_script {",
    "    debvisor_apiserver",
    "  }",
    "}",
  ];
  return lines.join("\n");
}
