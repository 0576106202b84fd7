import { loadScript } from "../host/scripts.js";
import { XMLBuilder } from "fast-xml-parser";
import { createHash } from "node:crypto";

/** How a libvirt network reaches the outside. */
export const NETWORK_MODES = ["bridge", "nat", "isolated"] as const;
export type LibvirtNetworkMode = (typeof NETWORK_MODES)[number];
/**
 * Storage pool types: a directory, an RBD pool of the node's Ceph cluster (the storage
 * layer's), a ZFS dataset of the node's pools (the storage layer's).
 */
export const POOL_TYPES = ["dir", "rbd", "zfs"] as const;
export type LibvirtPoolType = (typeof POOL_TYPES)[number];

/** One libvirt network (stack config `virtualization.networks[]`). */
export interface LibvirtNetwork {
  /** libvirt network name: letters, digits, `_`, `.`, `-` (at most 50). */
  name: string;
  /** `bridge`: VMs join an existing host bridge; `nat`: a libvirt bridge with NAT to the host's uplink; `isolated`: a libvirt bridge with no way out. */
  mode: LibvirtNetworkMode;
  /**
   * `bridge` mode: the existing host bridge VMs attach to. `nat`/`isolated`: the name of the
   * bridge libvirt creates: keep it `virbr*`, the interfaces the security layer trusts by
   * default (else the firewall drops the guests' DHCP and DNS to the host).
   * @default "br0" in bridge mode; chosen by libvirt (virbrN) otherwise
   */
  bridge?: string;
  /** `nat`/`isolated`: the IPv4 subnet (CIDR, /8 to /30); the host takes its first address. Required there, not allowed in bridge mode. */
  subnet?: string;
  /** `nat`/`isolated`: libvirt's DHCP server hands out addresses from start to end (inside the subnet). @default none (no DHCP) */
  dhcp?: { start: string; end: string };
  /** Started when libvirtd starts. @default true */
  autostart?: boolean;
}

/** One libvirt storage pool (stack config `virtualization.pools[]`). */
export interface LibvirtPool {
  /** libvirt pool name: letters, digits, `_`, `.`, `-` (at most 50). */
  name: string;
  /** Pool type. `rbd` needs the node in a Ceph cluster, `zfs` a dataset of the node's ZFS pools. */
  type: LibvirtPoolType;
  /** `dir`: the directory holding the volumes (created when missing; never deleted). */
  path?: string;
  /** `rbd`: the Ceph RBD pool holding the volumes (one of `storage.ceph.rbdPools`). @default "rbd" */
  cephPool?: string;
  /** `zfs`: the dataset holding the volumes (zvols), e.g. `tank/vm`. */
  dataset?: string;
  /** Started when libvirtd starts. @default true */
  autostart?: boolean;
}

export const LIBVIRT_OBJECT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,49}$/;
export const INTERFACE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;
/** An absolute path without whitespace, `..` components or a trailing slash. */
export const POOL_PATH = /^(\/[A-Za-z0-9_.+@:-]+)+$/;

// --- IPv4 helpers --------------------------------------------------------------

export function parseIpv4(s: string): number | undefined {
  if (typeof s !== "string") return undefined;
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const o = m.slice(1).map(Number);
  if (o.some((x, i) => x > 255 || (m[i + 1].length > 1 && m[i + 1].startsWith("0")))) return undefined;
  return ((o[0] << 24) >>> 0) + (o[1] << 16) + (o[2] << 8) + o[3];
}

export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** `{network, prefix, first, last}` of a canonical IPv4 CIDR with a prefix from 8 to 30, else undefined. */
export function parseSubnet(cidr: string): { network: number; prefix: number; first: number; last: number } | undefined {
  if (typeof cidr !== "string") return undefined;
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(cidr);
  if (!m) return undefined;
  const network = parseIpv4(m[1]);
  const prefix = Number(m[2]);
  if (network === undefined || prefix < 8 || prefix > 30) return undefined;
  const size = 2 ** (32 - prefix);
  if (network % size !== 0) return undefined;
  return { network, prefix, first: network + 1, last: network + size - 2 };
}

/** The gateway address the host takes on a nat/isolated network: the subnet's first address. */
export function gatewayOf(subnet: string): string {
  const s = parseSubnet(subnet);
  if (!s) throw new Error(`not an IPv4 subnet: ${subnet}`);
  return formatIpv4(s.first);
}

// --- XML rendering -----------------------------------------------------------

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: "@_", format: true, indentBy: "  ", suppressEmptyNode: true });

/** The network's libvirt XML (`virsh net-define`), rendered by fast-xml-parser (it escapes). */
export function renderNetworkXml(n: LibvirtNetwork): string {
  const net: Record<string, unknown> = { name: n.name };
  if (n.mode === "bridge") {
    net.forward = { "@_mode": "bridge" };
    net.bridge = { "@_name": n.bridge ?? "br0" };
  } else {
    if (n.mode === "nat") net.forward = { "@_mode": "nat" };
    if (n.bridge !== undefined) net.bridge = { "@_name": n.bridge, "@_stp": "on", "@_delay": "0" };
    const s = parseSubnet(n.subnet ?? "");
    if (!s) throw new Error(`network ${n.name}: a ${n.mode} network needs an IPv4 subnet`);
    net.ip = {
      "@_address": formatIpv4(s.first),
      "@_prefix": String(s.prefix),
      ...(n.dhcp ? { dhcp: { range: { "@_start": n.dhcp.start, "@_end": n.dhcp.end } } } : {}),
    };
  }
  return builder.build({ network: net }).trim();
}

/** The pool's libvirt XML (`virsh pool-define`). An RBD pool's monitors are added on the host, from its ceph.conf. */
export function renderPoolXml(p: LibvirtPool): string {
  if (p.type === "rbd") {
    return builder.build({ pool: { "@_type": "rbd", name: p.name, source: { name: p.cephPool ?? "rbd", auth: { "@_username": rbdClient(p), "@_type": "ceph", secret: { "@_uuid": rbdSecretUuid(p) } } } } }).trim();
  }
  if (p.type === "zfs") return builder.build({ pool: { "@_type": "zfs", name: p.name, source: { name: p.dataset } } }).trim();
  return builder.build({ pool: { "@_type": p.type, name: p.name, target: { path: p.path } } }).trim();
}

/** The Ceph client libvirt and QEMU use for an RBD pool (made by the pool's step, `profile rbd` on that pool only). */
export const rbdClient = (p: LibvirtPool) => `libvirt-${p.cephPool ?? "rbd"}`;
/** The libvirt secret holding that client's key: a fixed uuid per Ceph pool, so VM definitions can name it. */
export function rbdSecretUuid(p: LibvirtPool): string {
  const h = createHash("sha1").update(`debvisor libvirt rbd secret ${p.cephPool ?? "rbd"}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h.slice(16, 18), 16) & 0x3f) | 0x80).toString(16)}${h.slice(18, 20)}-${h.slice(20, 32)}`;
}

/**
 * Element paths that libvirt adds to a definition on its own and the comparison ignores
 * when DebVisor did not render them (uuid, MAC, NAT port range, an auto-named bridge;
 * a pool's sizes, source and permissions).
 */
export function networkIgnoredPaths(n: LibvirtNetwork): string[] {
  const paths = ["uuid", "mac", "forward/nat"];
  if (n.mode !== "bridge" && n.bridge === undefined) paths.push("bridge");
  return paths;
}
export const POOL_IGNORED_PATHS = ["uuid", "capacity", "allocation", "available", "source", "target/permissions"];
/** The same for a pool of this type (ZFS and RBD pools get a target of libvirt's choosing). */
export const poolIgnoredPaths = (p: LibvirtPool) => (p.type === "dir" ? POOL_IGNORED_PATHS : [...POOL_IGNORED_PATHS, "target", "source/device"]);

/**
 * Compares a rendered definition (env DV_WANT) with libvirt's (env DV_LIVE), python3 (on
 * every Debian host): exit 0 when they agree. Every element, attribute and text rendered
 * must be in the live one; every live element must have a rendered counterpart unless its
 * path is in DV_IGNORE (space-separated). Attributes libvirt adds (stp, delay) are allowed,
 * so a definition is not rewritten just because libvirt filled in its defaults, while a
 * removed DHCP range or IP block is still seen.
 */
export const XML_MATCH = loadScript("virtualization/files/xml-match.py");
