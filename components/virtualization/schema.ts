import { z } from "zod";
import { parse as parseYaml } from "yaml";
import { HOST_LABEL, addressOf, cidrContains, isPublicKey } from "../config/formats.js";
import { DEFAULT_ZFS_DATASETS } from "../storage/local.js";
import { rbdPoolsOf } from "../storage/schema.js";
import { fail } from "../config/problems.js";
import { INTERFACE_NAME, LIBVIRT_OBJECT_NAME, NETWORK_MODES, POOL_PATH, POOL_TYPES, formatIpv4, parseIpv4, parseSubnet } from "./libvirt.js";

/** Formats of the VM settings (exported for callers that build VM definitions). */
export const VM_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
export const DISK_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;
/** libvirt pool and network names a VM may refer to. */
export const LIBVIRT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const BRIDGE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,14}$/;
export const IMAGE_PATH = /^\/[A-Za-z0-9._+\/-]+$/;
export const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
export const HOSTNAME = HOST_LABEL;
export const FIRMWARES = ["uefi", "bios"] as const;
export const DISK_FORMATS = ["qcow2", "raw"] as const;
const MAX_DISKS = 20;
/** Directories a storage pool may not take over. */
const SYSTEM_DIRS = ["/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/run", "/sbin", "/sys", "/usr", "/var", "/tmp", "/home", "/root", "/srv", "/opt", "/mnt", "/media"];

const int = (min: number, max: number) => z.number({ error: `must be an integer from ${min} to ${max}` })
  .int(`must be an integer from ${min} to ${max}`).min(min, `must be an integer from ${min} to ${max}`).max(max, `must be an integer from ${min} to ${max}`);
const bool = z.boolean({ error: "must be true or false" });
const libvirtObjectName = z.string({ error: "must be 1-50 letters, digits, _ . - (starting with a letter or digit)" })
  .regex(LIBVIRT_OBJECT_NAME, "must be 1-50 letters, digits, _ . - (starting with a letter or digit)");
const ipv4 = z.string({ error: "not an IPv4 address" }).refine((v) => parseIpv4(v) !== undefined, "not an IPv4 address");

const diskSchema = z.strictObject({
  name: z.string({ error: "must be 1-32 letters, digits, _ - starting with a letter or digit" }).regex(DISK_NAME, "must be 1-32 letters, digits, _ - starting with a letter or digit"),
  sizeGiB: int(1, 65536),
  pool: z.string().regex(LIBVIRT_NAME, "not a libvirt pool name").optional(),
  baseImage: z.string().refine((p) => IMAGE_PATH.test(p) && !p.split("/").includes(".."), "must be an absolute path on the host (letters, digits, . _ + - /)").optional(),
  format: z.enum(DISK_FORMATS, { error: "must be qcow2 or raw" }).optional(),
}, { error: "must be an object" });

const nicSchema = z.strictObject({
  bridge: z.string().regex(BRIDGE_NAME, "not an interface name (1-15 letters, digits, . _ -)").optional(),
  network: z.string().regex(LIBVIRT_NAME, "not a libvirt network name").optional(),
  vlan: int(1, 4094).optional(),
  mac: z.string().regex(MAC, "must be a lowercase MAC address like 52:54:00:12:34:56").refine((m) => !(parseInt(m.slice(0, 2), 16) & 1), "is a multicast address").optional(),
}, { error: "must be an object" });

const cloudInitSchema = z.strictObject({
  userData: z.string().optional(),
  sshAuthorizedKeys: z.array(z.string().refine((k) => isPublicKey(k) && !/[\r\n]/.test(k), "not an SSH public key line")).optional(),
  hostname: z.string().regex(HOSTNAME, "not a host name (lowercase letters, digits, -)").optional(),
}, { error: "must be an object" });

/** `VmSettings`, field by field (one of `virtualization.vms[]`). */
export const vmSchema = z.strictObject({
  name: z.string({ error: "must be 1-63 letters, digits, . _ - starting with a letter or digit" }).regex(VM_NAME, "must be 1-63 letters, digits, . _ - starting with a letter or digit"),
  vcpus: int(1, 512).optional(),
  memoryMiB: int(64, 16 * 1024 * 1024).optional(),
  firmware: z.enum(FIRMWARES, { error: "must be uefi or bios" }).optional(),
  disks: z.array(diskSchema, { error: "must be a list" }).max(MAX_DISKS, `at most ${MAX_DISKS} disks`).optional(),
  cloudInit: cloudInitSchema.optional(),
  nics: z.array(nicSchema, { error: "must be a list" }).optional(),
  autostart: bool.optional(),
  running: bool.optional(),
  shutdownTimeoutSeconds: int(0, 3600).optional(),
  deleteDisksOnDestroy: bool.optional(),
}, { error: "must be an object" });

type Vm = z.infer<typeof vmSchema>;

/** Rules across a VM's fields (paths relative to the VM). */
export function vmRules(vm: Vm, at = ""): void {
  const disks = vm.disks ?? [];
  const diskNames = new Set<string>();
  disks.forEach((d, i) => {
    const f = `${at}.disks[${i}]`;
    if (diskNames.has(d.name)) fail(`${f}.name`, "is used by another disk of this VM", d.name);
    if (d.name === "seed") fail(`${f}.name`, "is reserved for the cloud-init seed", d.name);
    diskNames.add(d.name);
  });
  const macs = new Set<string>();
  (vm.nics ?? []).forEach((n, i) => {
    const f = `${at}.nics[${i}]`;
    if ((n.bridge !== undefined) === (n.network !== undefined)) fail(f, "must name exactly one of bridge or network", n);
    if (n.mac !== undefined) {
      if (macs.has(n.mac)) fail(`${f}.mac`, "is used by another NIC of this VM", n.mac);
      macs.add(n.mac);
    }
  });
  const ci = vm.cloudInit;
  if (ci !== undefined) {
    if (disks.length === 0) fail(`${at}.cloudInit`, "needs at least one disk (the seed ISO is stored in the first disk's pool)", ci);
    if (ci.userData !== undefined) {
      if (!/^#cloud-config[ \t]*\r?\n?/.test(ci.userData)) fail(`${at}.cloudInit.userData`, "must be a #cloud-config document (first line #cloud-config)", ci.userData);
      let doc: unknown;
      try {
        doc = parseYaml(ci.userData);
      } catch (e) {
        fail(`${at}.cloudInit.userData`, `is not valid YAML (${(e as Error).message.split("\n")[0]})`, ci.userData);
      }
      if (doc !== null && doc !== undefined && (typeof doc !== "object" || Array.isArray(doc))) fail(`${at}.cloudInit.userData`, "must be a YAML mapping", ci.userData);
    }
  }
}

const libvirtNetworkSchema = z.strictObject({
  name: libvirtObjectName,
  mode: z.enum(NETWORK_MODES, { error: `must be one of ${NETWORK_MODES.join(", ")}` }),
  bridge: z.string({ error: "not an interface name (at most 15 letters, digits, _ . -)" }).regex(INTERFACE_NAME, "not an interface name (at most 15 letters, digits, _ . -)").optional(),
  subnet: z.string().refine((v) => parseSubnet(v) !== undefined, "must be an IPv4 network in CIDR form with a prefix from /8 to /30 and no host bits").optional(),
  dhcp: z.strictObject({ start: ipv4, end: ipv4 }, { error: "must be { start, end }" }).optional(),
  autostart: bool.optional(),
}, { error: "must be an object" });

const poolSchema = z.strictObject({
  name: libvirtObjectName,
  type: z.enum(POOL_TYPES, { error: `must be one of ${POOL_TYPES.join(", ")}` }),
  path: z.string({ error: "must be an absolute directory path (no spaces, no . or .. components, no trailing /)" })
    .refine((p) => POOL_PATH.test(p) && !p.split("/").some((c) => c === "." || c === ".."), "must be an absolute directory path (no spaces, no . or .. components, no trailing /)")
    .refine((p) => !SYSTEM_DIRS.includes(p), "is a system directory: use a directory of its own (e.g. /srv/vm-images)").optional(),
  cephPool: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, "not a Ceph pool name").optional(),
  dataset: z.string().regex(/^[A-Za-z][A-Za-z0-9_.:-]{0,62}(\/[A-Za-z0-9][A-Za-z0-9_.:-]{0,62})+$/, "must be a ZFS dataset like tank/vm").optional(),
  autostart: bool.optional(),
}, { error: "must be an object" });

/** `VirtualizationSettings`, field by field (stack config `virtualization`). */
export const virtualizationSchema = z.strictObject({
  allowEmulation: bool.optional(),
  nested: bool.optional(),
  cockpit: bool.optional(),
  networks: z.array(libvirtNetworkSchema, { error: "must be a list" }).optional(),
  pools: z.array(poolSchema, { error: "must be a list" }).optional(),
  vms: z.array(vmSchema, { error: "must be a list" }).optional(),
}, { error: "must be an object" });

/** What the virtualization layer needs to know of the host's own network. */
export interface HostNetworkFacts {
  /** The node's SSH address. */
  address?: string;
  /** The network layer's bridge (with its address/prefix when configured), when the node has one. */
  bridge?: { name: string; address?: string };
}

/** The host network facts of a node, from its args and layers. */
export function hostNetworkOf(node: { args: { host?: { address?: string }; network?: { bridge?: false | { name?: string; address?: string } } }; layers: readonly string[] }): HostNetworkFacts {
  const bridge = node.layers.includes("network") && node.args.network?.bridge !== false ? (node.args.network?.bridge || {}) : undefined;
  return { address: node.args.host?.address, bridge: bridge && { name: bridge.name ?? "br0", address: bridge.address } };
}

/** What the node's storage layer provides to libvirt pools (undefined: not known, not checked). */
export interface StorageFacts {
  /** The RBD pools of the node's Ceph cluster (undefined: the node is in none). */
  cephPools?: string[];
  /** The datasets of the node's ZFS pools (`tank/vm`). */
  zfsDatasets: string[];
}

/** The storage facts of a node as its layers' rules see it. */
export function storageFactsOf(node: { args: { storage?: { ceph?: { rbdPools?: { name: string }[] }; zfsPools?: { name: string; datasets?: { name: string }[] }[] } }; layers: readonly string[] }): StorageFacts {
  const st = node.layers.includes("storage") ? node.args.storage ?? {} : {};
  return {
    cephPools: st.ceph ? rbdPoolsOf(st.ceph).map((p) => p.name) : undefined,
    zfsDatasets: (st.zfsPools ?? []).flatMap((p) => (p.datasets ?? DEFAULT_ZFS_DATASETS).map((d) => `${p.name}/${d.name}`)),
  };
}

/**
 * Rules across fields: unique names and paths, subnets and DHCP ranges, what the VMs
 * refer to; and, given the host's network, NAT and isolated subnets apart from the
 * host's own network, and bridges that something on the node creates.
 */
export function virtualizationRules(s: z.infer<typeof virtualizationSchema>, host: HostNetworkFacts = {}, storage?: StorageFacts): void {
  // Bridges something on this node creates: the network layer's, and libvirt's own.
  const createdBridges = new Set([...(host.bridge ? [host.bridge.name] : []), ...(s.networks ?? []).flatMap((n) => (n.mode !== "bridge" && n.bridge ? [n.bridge] : []))]);
  const checkBridge = (f: string, name: string) => {
    if (host.bridge && !createdBridges.has(name)) fail(f, `nothing on this node creates bridge ${name} (the network layer's bridge is ${host.bridge.name})`, name);
  };
  const names = new Map<string, number>();
  const bridges = new Map<string, number>();
  const subnets: { i: number; lo: number; hi: number }[] = [];
  (s.networks ?? []).forEach((n, i) => {
    const f = `networks[${i}]`;
    if (names.has(n.name)) fail(`${f}.name`, `duplicate of networks[${names.get(n.name)}].name`, n.name);
    names.set(n.name, i);
    if (n.mode === "bridge") {
      if (n.bridge !== undefined) checkBridge(`${f}.bridge`, n.bridge);
      if (n.subnet !== undefined) fail(`${f}.subnet`, "not used in bridge mode (addresses come from the bridged network)", n.subnet);
      if (n.dhcp !== undefined) fail(`${f}.dhcp`, "not used in bridge mode (addresses come from the bridged network)", n.dhcp);
      return;
    }
    if (n.bridge !== undefined) {
      if (bridges.has(n.bridge)) fail(`${f}.bridge`, `already the bridge of networks[${bridges.get(n.bridge)}]`, n.bridge);
      bridges.set(n.bridge, i);
    }
    if (n.subnet === undefined) fail(`${f}.subnet`, `required for a ${n.mode} network (an IPv4 CIDR like 192.168.100.0/24)`, n.subnet);
    const sub = parseSubnet(n.subnet)!;
    for (const own of [host.address, host.bridge?.address].filter((a): a is string => a !== undefined && parseIpv4(addressOf(a)) !== undefined)) {
      if (cidrContains(n.subnet!, addressOf(own)) || cidrContains(own, formatIpv4(sub.network))) fail(`${f}.subnet`, `overlaps the host's own network (${own}): the host would route its own LAN into the ${n.mode} network`, n.subnet);
    }
    const lo = sub.network;
    const hi = sub.last + 1;
    const clash = subnets.find((o) => lo <= o.hi && o.lo <= hi);
    if (clash) fail(`${f}.subnet`, `overlaps networks[${clash.i}].subnet`, n.subnet);
    subnets.push({ i, lo, hi });
    if (n.dhcp !== undefined) {
      const ends = (["start", "end"] as const).map((k) => {
        const a = parseIpv4(n.dhcp![k])!;
        if (a <= sub.first || a > sub.last) fail(`${f}.dhcp.${k}`, `must be inside ${n.subnet} and after the host's address (the first one)`, n.dhcp![k]);
        return a;
      });
      if (ends[0] > ends[1]) fail(`${f}.dhcp`, "start must not come after end", n.dhcp);
    }
  });

  const poolNames = new Map<string, number>();
  const paths = new Map<string, number>();
  (s.pools ?? []).forEach((p, i) => {
    const f = `pools[${i}]`;
    if (poolNames.has(p.name)) fail(`${f}.name`, `duplicate of pools[${poolNames.get(p.name)}].name`, p.name);
    poolNames.set(p.name, i);
    const fields = { dir: "path", rbd: "cephPool", zfs: "dataset" } as const;
    for (const [type, field] of Object.entries(fields)) {
      if (type !== p.type && p[field] !== undefined) fail(`${f}.${field}`, `is for ${type} pools, this one is ${p.type}`, p[field]);
    }
    if (p.type === "dir") {
      if (p.path === undefined) fail(`${f}.path`, "a dir pool needs its directory", p.path);
      if (paths.has(p.path)) fail(`${f}.path`, `already the path of pools[${paths.get(p.path)}]`, p.path);
      paths.set(p.path, i);
    }
    if (p.type === "zfs" && p.dataset === undefined) fail(`${f}.dataset`, "a zfs pool needs its dataset (e.g. tank/vm)", p.dataset);
    if (storage && p.type === "rbd") {
      if (!storage.cephPools) fail(`${f}.type`, "an rbd pool needs the node in a Ceph cluster (storage.ceph)", p.type);
      else if (!storage.cephPools.includes(p.cephPool ?? "rbd")) fail(`${f}.cephPool`, `not an RBD pool of storage.ceph.rbdPools (${storage.cephPools.join(", ")})`, p.cephPool ?? "rbd");
    }
    if (storage && p.type === "zfs" && p.dataset !== undefined && !storage.zfsDatasets.includes(p.dataset)) {
      fail(`${f}.dataset`, `not a dataset of the node's storage.zfsPools (${storage.zfsDatasets.join(", ") || "none"})`, p.dataset);
    }
  });

  const vmNames = new Map<string, number>();
  (s.vms ?? []).forEach((vm, i) => {
    const f = `vms[${i}]`;
    vmRules(vm, f);
    if (vmNames.has(vm.name)) fail(`${f}.name`, `duplicate of vms[${vmNames.get(vm.name)}].name`, vm.name);
    vmNames.set(vm.name, i);
    (vm.nics ?? []).forEach((n, j) => {
      if (n.bridge !== undefined) checkBridge(`${f}.nics[${j}].bridge`, n.bridge);
      if (n.network !== undefined && !names.has(n.network)) {
        fail(`${f}.nics[${j}].network`, `not a network of virtualization.networks (defined: ${[...names.keys()].join(", ") || "none"})`, n.network);
      }
    });
    (vm.disks ?? []).forEach((d, j) => {
      const pool = d.pool ?? "default";
      if (!poolNames.has(pool)) fail(`${f}.disks[${j}].pool`, `not a pool of virtualization.pools (defined: ${[...poolNames.keys()].join(", ") || "none"})`, pool);
      const type = s.pools![poolNames.get(pool)!].type;
      if (type === "rbd" && d.format === "qcow2") fail(`${f}.disks[${j}].format`, `a disk in RBD pool ${pool} is raw (RBD images are raw)`, d.format);
      if (type !== "dir" && d.baseImage !== undefined) fail(`${f}.disks[${j}].baseImage`, `copying a base image is done into directory pools only (${pool} is ${type})`, d.baseImage);
      if (j === 0 && vm.cloudInit && type !== "dir") fail(`${f}.disks[0].pool`, `the cloud-init seed ISO lives in the first disk's pool, which must be a dir pool (${pool} is ${type})`, pool);
    });
  });
}
