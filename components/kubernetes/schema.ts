import { existsSync } from "node:fs";
import { z } from "zod";
import { DNS_DOMAIN, NODE_NAME, ZFS_POOL_NAME, isHttpUrl } from "../config/formats.js";
import { fail } from "../config/problems.js";
import { CHARTS, CHART_KEYS, DEFAULTS, KUBERNETES_VERSION, MIN_KUBERNETES_MINOR, type ChartKey, type ChartPin } from "./versions.js";
import { ipv4Contains, ipv4Network, ipv4Overlaps, ipv4Range, ipv4ToInt } from "./net.js";

export const KUBERNETES_ROLES = ["controlPlane", "worker"] as const;
/**
 * How the control-plane VIP moves between control planes. `keepalived` (the default) is
 * Debian's own package (VRRP, health-checked against the local kube-apiserver) and one of
 * kubeadm's documented HA options: it needs nothing but the Debian archive, so it works on
 * air-gapped sites and is what a lab host can run. DebVisor runs it without haproxy: the
 * control plane holding the VIP answers on it with its own kube-apiserver (which listens
 * on every address, port 6443), so `controlPlaneEndpoint.port` must be 6443. kubeadm's
 * keepalived + haproxy recipe spreads API requests over all control planes through a
 * haproxy on another port; here one control plane at a time serves the VIP, which is
 * failover, not load balancing (clients inside the cluster use the `kubernetes` Service,
 * which spreads over every API server anyway). `kube-vip` runs as a static pod from a
 * container image the site must be able to pull (or mirror); the host steps do not set it
 * up yet, so it is refused with `enabled: true`.
 */
export const VIP_MODES = ["keepalived", "kube-vip"] as const;
/** Calico IP pool encapsulations (`IPIP*` and `None` route through BGP). */
export const CALICO_ENCAPSULATIONS = ["VXLAN", "VXLANCrossSubnet", "IPIP", "IPIPCrossSubnet", "None"] as const;
export const RECLAIM_POLICIES = ["Retain", "Delete"] as const;

/** `v1.34.4` */
export const KUBERNETES_VERSION_FORMAT = /^v1\.(\d{1,3})\.(\d{1,3})$/;
/** A container image repository: `registry.example.org:5000/k8s` (no scheme, no tag). */
export const KUBE_IMAGE_REPOSITORY = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/;
/** A container image tag. */
export const KUBE_IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/** A Helm chart version (SemVer, optionally with a leading v as Calico's charts have). */
export const KUBE_CHART_VERSION = /^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$/;
/** A network interface name (Calico's autodetection takes it as a regular expression; keep it a plain name). */
export const KUBE_INTERFACE = /^[A-Za-z0-9._-]{1,15}$/;
/**
 * An ASCII-armored OpenPGP public key block (the apt repository's signing key, given
 * inline): the BEGIN line, optional armor headers, a blank line, base64 lines (the last
 * may be the `=XXXX` checksum), the END line.
 */
export function isArmoredPublicKey(v: string): boolean {
  const lines = v.trim().split(/\r?\n/);
  if (lines[0] !== "-----BEGIN PGP PUBLIC KEY BLOCK-----" || lines[lines.length - 1] !== "-----END PGP PUBLIC KEY BLOCK-----") return false;
  const blank = lines.indexOf("");
  if (blank < 1) return false;
  if (!lines.slice(1, blank).every((l) => /^[A-Za-z][A-Za-z0-9-]*: /.test(l))) return false;
  const body = lines.slice(blank + 1, -1);
  return body.length > 0 && body.every((l) => /^=?[A-Za-z0-9+/]+={0,2}$/.test(l));
}

/** An apt repository URL: http or https, ending in `/` (a flat repository: suite `/`). */
export function isAptRepositoryUrl(v: string): boolean {
  return isHttpUrl(v) && v.endsWith("/") && !/[\s'"\\]/.test(v);
}

const bool = z.boolean({ error: "must be true or false" });
const int = (min: number, max: number) => z.number({ error: `must be an integer from ${min} to ${max}` })
  .int(`must be an integer from ${min} to ${max}`).min(min, `must be an integer from ${min} to ${max}`).max(max, `must be an integer from ${min} to ${max}`);
const ipv4 = z.string({ error: "not an IPv4 address" }).refine((v) => ipv4ToInt(v) !== undefined, "not an IPv4 address");
const ipv4Cidr = (min: number, max: number) => z.string({ error: `must be an IPv4 network in CIDR form (/${min} to /${max})` })
  .refine((v) => { const r = /\//.test(v) ? ipv4Range(v) : undefined; return r !== undefined && r.prefix >= min && r.prefix <= max; }, `must be an IPv4 network in CIDR form (/${min} to /${max})`)
  .refine((v) => !ipv4Range(v)?.hostBits, "host bits set: use the network address");

/** A chart repository: https/http URL, `oci://` reference, or an absolute path to a local chart (directory or .tgz). */
export function isChartRepository(v: string): boolean {
  if (v.startsWith("oci://")) return /^oci:\/\/[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?(\/[a-z0-9._-]+)*$/.test(v);
  if (v.startsWith("/")) return /^(\/[A-Za-z0-9._+-]+)+$/.test(v) && !v.split("/").includes("..");
  return isHttpUrl(v);
}

const chartSourceSchema = z.strictObject({
  version: z.string({ error: "must be a chart version like 3.17.0 or v3.31.5" }).regex(KUBE_CHART_VERSION, "must be a chart version like 3.17.0 or v3.31.5").optional(),
  repository: z.string({ error: "must be an https:// repository, an oci:// reference or an absolute path to a local chart" })
    .refine(isChartRepository, "must be an https:// repository, an oci:// reference or an absolute path to a local chart").optional(),
}, { error: "must be an object" });

/** `KubernetesSettings`, field by field (stack config `kubernetes`). */
export const kubernetesSchema = z.strictObject({
  enabled: bool.optional(),
  packageRepository: z.strictObject({
    url: z.string({ error: "must be an http:// or https:// URL ending in /" }).refine(isAptRepositoryUrl, "must be an http:// or https:// URL ending in /").optional(),
    key: z.string({ error: "must be an ASCII-armored public key block (-----BEGIN PGP PUBLIC KEY BLOCK----- ...)" })
      .refine(isArmoredPublicKey, "must be an ASCII-armored public key block (-----BEGIN PGP PUBLIC KEY BLOCK----- ...)").optional(),
    keyUrl: z.string({ error: "must be an https:// URL" }).refine((v) => isHttpUrl(v) && v.startsWith("https://") && !/[\s'"\\]/.test(v), "must be an https:// URL (a key fetched over plain http could be swapped in transit: give it inline as key)").optional(),
  }, { error: "must be an object { url, key, keyUrl }" }).optional(),
  role: z.enum(KUBERNETES_ROLES, { error: "must be controlPlane or worker" }).optional(),
  version: z.string({ error: "must be a Kubernetes version like v1.34.4" }).regex(KUBERNETES_VERSION_FORMAT, "must be a Kubernetes version like v1.34.4")
    .refine((v) => { const m = KUBERNETES_VERSION_FORMAT.exec(v); return m === null || Number(m[1]) >= MIN_KUBERNETES_MINOR; }, `must be v1.${MIN_KUBERNETES_MINOR} or later (kubeadm.k8s.io/v1beta4)`).optional(),
  clusterName: z.string({ error: "must be a lower-case DNS label" }).regex(NODE_NAME, "must be a lower-case DNS label").optional(),
  podCidr: ipv4Cidr(8, 24).optional(),
  serviceCidr: ipv4Cidr(12, 28).optional(),
  dnsDomain: z.string({ error: "not a DNS domain" }).regex(DNS_DOMAIN, "not a DNS domain").optional(),
  controlPlaneEndpoint: z.strictObject({
    address: ipv4,
    port: int(1, 65535).optional(),
    mode: z.enum(VIP_MODES, { error: "must be keepalived or kube-vip" }).optional(),
    interface: z.string({ error: "not an interface name" }).regex(KUBE_INTERFACE, "not an interface name").optional(),
  }, { error: "must be an object { address, port, mode, interface }" }).optional(),
  controlPlaneWorkloads: bool.optional(),
  imageRepository: z.string({ error: "must be an image repository like registry.example.org:5000/k8s" }).regex(KUBE_IMAGE_REPOSITORY, "must be an image repository like registry.example.org:5000/k8s").optional(),
  dnsImageTag: z.string({ error: "not an image tag" }).regex(KUBE_IMAGE_TAG, "not an image tag").optional(),
  calico: z.strictObject({
    encapsulation: z.enum(CALICO_ENCAPSULATIONS, { error: `must be one of ${CALICO_ENCAPSULATIONS.join(", ")}` }).optional(),
    bgp: bool.optional(),
    interface: z.string({ error: "not an interface name" }).regex(KUBE_INTERFACE, "not an interface name").optional(),
    mtu: int(1280, 9000).optional(),
  }, { error: "must be an object" }).optional(),
  csi: z.strictObject({
    cephRbd: bool.optional(),
    cephFs: bool.optional(),
    zfsPools: z.array(z.string().regex(ZFS_POOL_NAME, "not a ZFS pool name"), { error: "must be a list of ZFS pool names" }).optional(),
  }, { error: "must be an object" }).optional(),
  reclaimPolicy: z.enum(RECLAIM_POLICIES, { error: "must be Retain or Delete" }).optional(),
  addons: bool.optional(),
  charts: bool.optional(),
  chartSources: z.strictObject(Object.fromEntries(CHART_KEYS.map((k) => [k, chartSourceSchema.optional()])) as Record<ChartKey, z.ZodOptional<typeof chartSourceSchema>>, { error: "must be an object" }).optional(),
}, { error: "must be an object" });

export type KubernetesSettings = z.infer<typeof kubernetesSchema>;

/** The settings with every default applied (one cluster's, as the cluster rules check them). */
export interface ResolvedKubernetes {
  /** Whether the layer installs and runs anything on the hosts (off: the plan is only rendered). */
  enabled: boolean;
  /** Where the hosts get kubeadm, kubelet, kubectl, cri-tools and kubernetes-cni (key: inline; else keyUrl, fetched over https). */
  packageRepository: { url: string; key?: string; keyUrl?: string };
  version: string;
  clusterName: string;
  podCidr: string;
  serviceCidr: string;
  dnsDomain: string;
  controlPlaneEndpoint?: { address: string; port: number; mode: (typeof VIP_MODES)[number]; interface: string };
  controlPlaneWorkloads: boolean;
  imageRepository?: string;
  dnsImageTag?: string;
  calico: { encapsulation: (typeof CALICO_ENCAPSULATIONS)[number]; bgp: boolean; interface: string; mtu?: number };
  csi: { cephRbd: boolean; cephFs: boolean; zfsPools: string[] };
  reclaimPolicy: (typeof RECLAIM_POLICIES)[number];
  /** Whether the cluster objects (`KubernetesAddons`) are created through the Kubernetes provider once the cluster is up. */
  addons: boolean;
  charts: boolean;
  chartSources: Record<ChartKey, ChartPin>;
}

/** Applies the defaults (`components/kubernetes/versions.ts`), once. */
export function resolveKubernetes(s: KubernetesSettings = {}): ResolvedKubernetes {
  const vip = s.controlPlaneEndpoint;
  const version = s.version ?? KUBERNETES_VERSION;
  const url = s.packageRepository?.url ?? defaultPackageRepository(version);
  const key = s.packageRepository?.key;
  return {
    enabled: s.enabled ?? false,
    packageRepository: key !== undefined ? { url, key } : { url, keyUrl: s.packageRepository?.keyUrl ?? `${url}Release.key` },
    version,
    clusterName: s.clusterName ?? DEFAULTS.clusterName,
    podCidr: s.podCidr ?? DEFAULTS.podCidr,
    serviceCidr: s.serviceCidr ?? DEFAULTS.serviceCidr,
    dnsDomain: s.dnsDomain ?? DEFAULTS.dnsDomain,
    controlPlaneEndpoint: vip && { address: vip.address, port: vip.port ?? DEFAULTS.apiServerPort, mode: vip.mode ?? DEFAULTS.vipMode, interface: vip.interface ?? DEFAULTS.vipInterface },
    controlPlaneWorkloads: s.controlPlaneWorkloads ?? false,
    imageRepository: s.imageRepository,
    dnsImageTag: s.dnsImageTag,
    calico: {
      encapsulation: s.calico?.encapsulation ?? DEFAULTS.calicoEncapsulation,
      bgp: s.calico?.bgp ?? false,
      interface: s.calico?.interface ?? DEFAULTS.calicoInterface,
      ...(s.calico?.mtu !== undefined ? { mtu: s.calico.mtu } : {}),
    },
    csi: { cephRbd: s.csi?.cephRbd ?? true, cephFs: s.csi?.cephFs ?? true, zfsPools: s.csi?.zfsPools ?? [] },
    reclaimPolicy: s.reclaimPolicy ?? DEFAULTS.reclaimPolicy,
    addons: s.addons ?? true,
    charts: s.charts ?? true,
    chartSources: Object.fromEntries(CHART_KEYS.map((k) => [k, { ...CHARTS[k], ...s.chartSources?.[k] }])) as Record<ChartKey, ChartPin>,
  };
}

/**
 * Rules across one node's fields: the pod network apart from the service network, an
 * encapsulation Calico can route, no ZFS pool twice.
 */
export function kubernetesRules(s: KubernetesSettings): void {
  const r = resolveKubernetes(s);
  if (ipv4Overlaps(r.podCidr, r.serviceCidr)) {
    fail(s.podCidr !== undefined ? "podCidr" : "serviceCidr", `overlaps the ${s.podCidr !== undefined ? `service network ${r.serviceCidr}` : `pod network ${r.podCidr}`}: pods and services need separate ranges`, s.podCidr ?? s.serviceCidr);
  }
  if ((r.calico.encapsulation === "None" || r.calico.encapsulation.startsWith("IPIP")) && !r.calico.bgp) {
    fail("calico.encapsulation", `${r.calico.encapsulation} routes pod traffic through BGP: set calico.bgp: true, or use VXLAN`, r.calico.encapsulation);
  }
  r.csi.zfsPools.forEach((p, i, all) => {
    if (all.indexOf(p) !== i) fail(`csi.zfsPools[${i}]`, "listed twice", p);
  });
  const repo = s.packageRepository;
  if (repo?.key !== undefined && repo.keyUrl !== undefined) {
    fail("packageRepository.keyUrl", "give the key inline (key) or where to fetch it (keyUrl), not both", repo.keyUrl);
  }
  if (repo?.key === undefined && repo?.keyUrl === undefined && !r.packageRepository.url.startsWith("https://")) {
    fail("packageRepository.url", "is plain http and no key is given: the signing key would be fetched from <url>Release.key over http, where it could be swapped in transit; give key (inline) or an https keyUrl", r.packageRepository.url);
  }
  const vip = r.controlPlaneEndpoint;
  // keepalived moves the VIP onto a healthy control plane, whose kube-apiserver listens
  // on the VIP itself (no haproxy in front): the VIP's port is the API server's.
  if (vip?.mode === "keepalived" && vip.port !== DEFAULTS.apiServerPort) {
    fail("controlPlaneEndpoint.port", `must be ${DEFAULTS.apiServerPort} with mode keepalived: the VIP points straight at the kube-apiserver of the control plane holding it (no haproxy in front)`, vip.port);
  }
  if (r.enabled && vip?.mode === "kube-vip") {
    fail("controlPlaneEndpoint.mode", "kube-vip is not set up by the host steps yet: use keepalived (or leave kubernetes.enabled off)", vip.mode);
  }
}

/** pkgs.k8s.io's apt repository of a version's minor (one repository per minor, flat: suite `/`). */
export function defaultPackageRepository(version: string): string {
  const m = KUBERNETES_VERSION_FORMAT.exec(version);
  return `https://pkgs.k8s.io/core:/stable:/v1.${m ? m[1] : "0"}/deb/`;
}

/** A node as the cluster rules see it. */
export interface KubernetesRuleEntry {
  field: string;
  settings: KubernetesSettings;
  node: {
    args: {
      host: { address: string };
      network?: { bridge?: false | { address?: string } };
      security?: { clusterNetworks?: string[] };
    };
    layers: readonly string[];
  };
}

/** Settings every node of a cluster must agree on (set them in `defaults.kubernetes`). */
export const CLUSTER_WIDE_KEYS = [
  "enabled", "packageRepository", "version", "clusterName", "podCidr", "serviceCidr", "dnsDomain", "controlPlaneEndpoint", "controlPlaneWorkloads",
  "imageRepository", "dnsImageTag", "calico", "csi", "reclaimPolicy", "addons", "charts", "chartSources",
] as const satisfies readonly (keyof KubernetesSettings)[];

/**
 * Each Kubernetes node's role: its own `role`, else `controlPlane` for the first node with
 * the kubernetes layer (config order) and `worker` for the others.
 */
export function kubernetesRoles<T extends { settings: KubernetesSettings }>(members: readonly T[]): (typeof KUBERNETES_ROLES)[number][] {
  return members.map((m, i) => m.settings.role ?? (i === 0 ? "controlPlane" : "worker"));
}

type HostNetworkEntry = { cidr: string; field: string; kind: "address" | "bridge" | "allowed" };

/** A node's own networks: its SSH address (/32) and its bridge's address/prefix (the network layer's, when static). */
function ownNetworks(e: KubernetesRuleEntry): HostNetworkEntry[] {
  const out: HostNetworkEntry[] = [];
  const node = e.field.replace(/\.kubernetes$/, "");
  const address = e.node.args.host.address;
  if (ipv4ToInt(address) !== undefined) out.push({ cidr: `${address}/32`, field: `${node}.address`, kind: "address" });
  const bridge = e.node.layers.includes("network") ? e.node.args.network?.bridge : undefined;
  if (bridge && bridge.address !== undefined && ipv4Range(bridge.address) !== undefined) out.push({ cidr: ipv4Network(bridge.address)!, field: `${node}.network.bridge.address`, kind: "bridge" });
  return out;
}

/**
 * The networks a node's host is known to be in: its own, and the cluster networks that
 * hold its address (`security.clusterNetworks`: networks let through the firewall, which
 * may be wider than the hosts' own subnet).
 */
function hostNetworks(e: KubernetesRuleEntry): HostNetworkEntry[] {
  const node = e.field.replace(/\.kubernetes$/, "");
  const address = e.node.args.host.address;
  const out = ownNetworks(e);
  (e.node.args.security?.clusterNetworks ?? []).forEach((c, i) => {
    if (ipv4Range(c) !== undefined && ipv4Contains(c, address)) out.push({ cidr: c, field: `${node}.security.clusterNetworks[${i}]`, kind: "allowed" });
  });
  return out;
}

/**
 * The cluster networks that may clash with the pod network: those overlapping it, no wider
 * than it, and holding some node's address, each named by the first node listing it. Linear
 * in the nodes: the loader's default cluster networks (every node's address) are one list
 * shared by all nodes, read once, and only a network that overlaps the pod network is
 * checked against the nodes' addresses.
 */
function allowedPodClashes(entries: readonly KubernetesRuleEntry[], podCidr: string, podPrefix: number): HostNetworkEntry[] {
  // Per distinct list: its networks that overlap the pod network and are no wider, with their first index.
  const candidates = new Map<readonly string[], { cidr: string; index: number; first: number; last: number }[]>();
  for (const e of entries) {
    const list = e.node.args.security?.clusterNetworks;
    if (list === undefined || candidates.has(list)) continue;
    const found = new Map<string, { cidr: string; index: number; first: number; last: number }>();
    list.forEach((cidr, index) => {
      const r = ipv4Range(cidr);
      if (r !== undefined && r.prefix >= podPrefix && ipv4Overlaps(podCidr, cidr) && !found.has(cidr)) found.set(cidr, { cidr, index, first: r.first, last: r.last });
    });
    candidates.set(list, [...found.values()]);
  }
  const named = new Map<string, HostNetworkEntry>();
  for (const e of entries) {
    const address = ipv4ToInt(e.node.args.host.address);
    const list = e.node.args.security?.clusterNetworks;
    if (address === undefined || list === undefined) continue;
    for (const c of candidates.get(list)!) {
      if (!named.has(c.cidr) && address >= c.first && address <= c.last) {
        named.set(c.cidr, { cidr: c.cidr, field: `${e.field.replace(/\.kubernetes$/, "")}.security.clusterNetworks[${c.index}]`, kind: "allowed" });
      }
    }
  }
  return [...named.values()];
}

/** A control plane's subnet: its bridge's, else the narrowest cluster network holding its address. */
function subnetOf(e: KubernetesRuleEntry): string | undefined {
  const nets = hostNetworks(e);
  const bridge = nets.find((n) => n.kind === "bridge" && ipv4Contains(n.cidr, e.node.args.host.address));
  if (bridge) return bridge.cidr;
  // A bare address (the loader's default cluster networks are the nodes' addresses) is no subnet.
  const allowed = nets.filter((n) => n.kind === "allowed" && ipv4Range(n.cidr)!.prefix < 31).sort((a, b) => ipv4Range(b.cidr)!.prefix - ipv4Range(a.cidr)!.prefix);
  return allowed[0]?.cidr;
}

const show = (v: unknown) => JSON.stringify(v);

/**
 * Rules across nodes: one cluster's settings agree on every node; at least one control
 * plane and an odd number of them (etcd quorum); several control planes need a VIP; the
 * VIP inside the control planes' subnet and no node's address; the pod network apart from
 * the hosts' networks, the service network apart from the hosts' addresses.
 */
export function kubernetesClusterRules(entries: readonly KubernetesRuleEntry[]): string[] {
  const members = entries.filter((e) => e.node.layers.includes("kubernetes"));
  if (members.length === 0) return [];
  const problems: string[] = [];
  const first = members[0];
  for (const key of CLUSTER_WIDE_KEYS) {
    const want = show(first.settings[key]);
    for (const m of members.slice(1)) {
      if (show(m.settings[key]) !== want) {
        problems.push(`${m.field}.${key}: differs from ${first.field}.${key} (${want ?? "not set"}): one cluster has one ${key}; set it in defaults.kubernetes, got ${show(m.settings[key]) ?? "nothing"}`);
      }
    }
  }
  if (problems.length > 0) return problems;
  const s = resolveKubernetes(first.settings);
  const at = (key: string) => `${first.field}.${key}`;

  const roles = kubernetesRoles(members);
  const cps = members.filter((_, i) => roles[i] === "controlPlane");
  if (cps.length === 0) {
    problems.push(`${first.field}.role: no control plane: every node with the kubernetes layer is a worker (make one, or three, controlPlane), got ${show(first.settings.role)}`);
  } else if (cps.length % 2 === 0) {
    const last = cps[cps.length - 1];
    problems.push(`${last.field}.role: ${cps.length} control planes (${cps.map((c) => c.field.replace(/\.kubernetes$/, "")).join(", ")}): etcd needs an odd number (1, 3, 5) to keep a quorum when one fails, got ${show(last.settings.role ?? "controlPlane")}`);
  }
  const vip = s.controlPlaneEndpoint;
  if (cps.length > 1 && vip === undefined) {
    problems.push(`${at("controlPlaneEndpoint")}: required with ${cps.length} control planes: a virtual IP that moves to a healthy control plane (joins and kubeconfigs name it), got nothing`);
  }
  if (vip !== undefined) {
    for (const e of entries) {
      const node = e.field.replace(/\.kubernetes$/, "");
      if (e.node.args.host.address === vip.address) problems.push(`${at("controlPlaneEndpoint.address")}: is the address of ${node}: the VIP must be an address no node has, got ${show(vip.address)}`);
      const bridge = e.node.layers.includes("network") ? e.node.args.network?.bridge : undefined;
      if (bridge && bridge.address !== undefined && bridge.address.split("/")[0] === vip.address) problems.push(`${at("controlPlaneEndpoint.address")}: is the bridge address of ${node}: the VIP must be an address no node has, got ${show(vip.address)}`);
    }
    for (const cp of cps) {
      const node = cp.field.replace(/\.kubernetes$/, "");
      const subnet = subnetOf(cp);
      if (subnet === undefined) {
        problems.push(`${at("controlPlaneEndpoint.address")}: cannot check the VIP against the subnet of control plane ${node} (${cp.node.args.host.address}): give it network.bridge.address with its prefix, or list its subnet in security.clusterNetworks, got ${show(vip.address)}`);
      } else if (!ipv4Contains(subnet, vip.address)) {
        problems.push(`${at("controlPlaneEndpoint.address")}: not inside the subnet of control plane ${node} (${subnet}): the VIP moves between the control planes by ARP, got ${show(vip.address)}`);
      } else {
        const r = ipv4Range(subnet)!;
        const a = ipv4ToInt(vip.address)!;
        if (r.prefix < 31 && (a === r.first || a === r.last)) problems.push(`${at("controlPlaneEndpoint.address")}: is the network or broadcast address of ${subnet}, got ${show(vip.address)}`);
      }
    }
  }
  // The pod network must not reach into the hosts' networks. A cluster network wider than
  // the pod network (a site's 10.0.0.0/8 the pod range is carved from) is no clash.
  const clashes = { pod: [] as string[], service: [] as string[] };
  const podPrefix = ipv4Range(s.podCidr)!.prefix;
  const podSeen = new Set<string>();
  // The widest clash first (a node's own address after a cluster network naming it), each network once.
  const nets = [...entries.flatMap(ownNetworks), ...allowedPodClashes(entries, s.podCidr, podPrefix)]
    .map((n) => ({ ...n, prefix: ipv4Range(n.cidr)!.prefix }))
    .sort((a, b) => a.prefix - b.prefix || Number(a.kind === "allowed") - Number(b.kind === "allowed"));
  for (const n of nets) {
    if (ipv4Overlaps(s.podCidr, n.cidr) && (n.kind !== "allowed" || n.prefix >= podPrefix) && !podSeen.has(n.cidr)) {
      podSeen.add(n.cidr);
      clashes.pod.push(`${n.cidr} (${n.field})`);
    }
    if (n.kind === "address" && ipv4Overlaps(s.serviceCidr, n.cidr)) clashes.service.push(n.field);
  }
  const more = (l: string[]) => (l.length > 1 ? ` and ${l.length - 1} more` : "");
  if (clashes.pod.length > 0) problems.push(`${at("podCidr")}: overlaps the hosts' network ${clashes.pod[0]}${more(clashes.pod)}: pod routes would capture host traffic, got ${show(s.podCidr)}`);
  if (clashes.service.length > 0) problems.push(`${at("serviceCidr")}: holds the address of a host (${clashes.service[0]}${more(clashes.service)}): kube-proxy would capture its traffic, got ${show(s.serviceCidr)}`);
  if (s.charts) {
    for (const key of CHART_KEYS) {
      const repo = first.settings.chartSources?.[key]?.repository;
      if (repo !== undefined && repo.startsWith("/") && !existsSync(repo)) problems.push(`${at(`chartSources.${key}.repository`)}: no chart at ${repo} on the machine running Pulumi (or set charts: false), got ${show(repo)}`);
    }
  }
  if (vip !== undefined && (ipv4Contains(s.podCidr, vip.address) || ipv4Contains(s.serviceCidr, vip.address))) {
    problems.push(`${at("controlPlaneEndpoint.address")}: inside the ${ipv4Contains(s.podCidr, vip.address) ? "pod" : "service"} network, got ${show(vip.address)}`);
  }
  return problems;
}
