import * as pulumi from "@pulumi/pulumi";
import { RemoteStep, type ResolvedHost } from "../host/index.js";
import {
  INTERFACE_NAME, LIBVIRT_OBJECT_NAME, NETWORK_MODES, POOL_IGNORED_PATHS, POOL_PATH, POOL_TYPES, XML_MATCH,
  networkIgnoredPaths, parseIpv4, parseSubnet, renderNetworkXml, renderPoolXml,
  type LibvirtNetwork, type LibvirtPool,
} from "./libvirt.js";
import { VirtualMachine, validateVmSettings, type VmSettings } from "./vm.js";

/** Virtualization settings of a node (stack config `virtualization`). Every field is optional. */
export interface VirtualizationSettings {
  /**
   * Without usable hardware virtualization (`/dev/kvm`, vmx/svm CPU flags) the layer fails
   * before installing anything. `true` turns that into a warning, and this node's VMs run
   * under software emulation (QEMU TCG, domain type `qemu`, much slower) even where KVM
   * exists: for labs and CI. @default false
   */
  allowEmulation?: boolean;
  /** Nested virtualization (`kvm_intel`/`kvm_amd` `nested=1` in /etc/modprobe.d; takes effect when the module next loads, i.e. at boot). @default false */
  nested?: boolean;
  /** Cockpit on port 9090 with its virtual machines, storage and network pages. @default true */
  cockpit?: boolean;
  /** libvirt networks: defined, active and (by default) autostarted. @default [] */
  networks?: LibvirtNetwork[];
  /** libvirt storage pools (`dir`). Removing one undefines it; its directory and volumes are kept. @default [] */
  pools?: LibvirtPool[];
  /**
   * Virtual machines, after libvirtd, the networks and the pools. A NIC's `network` and a
   * disk's `pool` must name a network / pool defined here. @default []
   */
  vms?: VmSettings[];
}

export interface VirtualizationHostArgs extends VirtualizationSettings {
  /** The host to configure. */
  host: ResolvedHost;
}

/** Cockpit's port (its socket unit's default; the security layer opens it for the virtualization role). */
export const COCKPIT_PORT = 9090;

/** QEMU/KVM, libvirt and firmware, without recommends (dnsmasq-base serves DHCP and DNS on nat/isolated networks). */
export const VIRTUALIZATION_PACKAGES = ["qemu-system-x86", "qemu-utils", "libvirt-daemon-system", "libvirt-clients", "dnsmasq-base", "ovmf", "seabios"];
/** Cockpit with its virtual machines, storage and network pages. */
export const COCKPIT_PACKAGES = ["cockpit", "cockpit-machines", "cockpit-storaged", "cockpit-networkmanager"];

/** Written before NetworkManager is installed (by cockpit-networkmanager): it manages no interface. */
export const NM_UNMANAGED_CONF = `# Managed by DebVisor. NetworkManager is installed for Cockpit's network page only:
# it manages no interface (ifupdown and DebVisor's network layer own them) and creates
# no automatic connection.
[main]
no-auto-default=*

[keyfile]
unmanaged-devices=*`;

/**
 * Cockpit's settings: the login page names DebVisor, and an idle session is logged out
 * after 15 minutes (Cockpit's default is none).
 */
export const COCKPIT_CONF = `# Managed by DebVisor.
[WebService]
LoginTitle=DebVisor

[Session]
IdleTimeout=15`;

/** libvirtd without Debian's idle timeout: the daemon stays up (VM autostart, Cockpit). */
export const LIBVIRTD_DROPIN = `# Managed by DebVisor: keep libvirtd running (no --timeout 120 idle exit).
[Service]
Environment=LIBVIRTD_ARGS=`;

/** Loads kvm_intel / kvm_amd with nested virtualization. */
export const NESTED_CONF = `# Managed by DebVisor: nested virtualization (virtualization.nested).
options kvm_intel nested=1
options kvm_amd nested=1`;

/** The packages the layer installs. */
export function virtualizationPackages(cockpit: boolean): string[] {
  return [...VIRTUALIZATION_PACKAGES, ...(cockpit ? COCKPIT_PACKAGES : [])];
}

/** Throws an error naming the field and the value. */
export function validateVirtualizationSettings(s: VirtualizationSettings, field = "virtualization"): void {
  const fail = (f: string, msg: string, v: unknown): never => {
    throw new Error(`${field}.${f}: ${msg}, got ${JSON.stringify(v)}`);
  };
  if (s === null || typeof s !== "object") throw new Error(`${field}: must be an object, got ${JSON.stringify(s)}`);
  for (const f of ["allowEmulation", "nested", "cockpit"] as const) {
    if (s[f] !== undefined && typeof s[f] !== "boolean") fail(f, "must be true or false", s[f]);
  }
  if (s.networks !== undefined && !Array.isArray(s.networks)) fail("networks", "must be a list", s.networks);
  if (s.pools !== undefined && !Array.isArray(s.pools)) fail("pools", "must be a list", s.pools);
  if (s.vms !== undefined && !Array.isArray(s.vms)) fail("vms", "must be a list", s.vms);

  const names = new Map<string, number>();
  const bridges = new Map<string, number>();
  const subnets: { i: number; lo: number; hi: number }[] = [];
  (s.networks ?? []).forEach((n, i) => {
    const f = `networks[${i}]`;
    if (n === null || typeof n !== "object") fail(f, "must be an object", n);
    for (const k of Object.keys(n)) {
      if (!["name", "mode", "bridge", "subnet", "dhcp", "autostart"].includes(k)) fail(`${f}.${k}`, "unknown field", (n as any)[k]);
    }
    if (typeof n.name !== "string" || !LIBVIRT_OBJECT_NAME.test(n.name)) fail(`${f}.name`, "must be 1-50 letters, digits, _ . - (starting with a letter or digit)", n.name);
    if (names.has(n.name)) fail(`${f}.name`, `duplicate of networks[${names.get(n.name)}].name`, n.name);
    names.set(n.name, i);
    if (!NETWORK_MODES.includes(n.mode)) fail(`${f}.mode`, `must be one of ${NETWORK_MODES.join(", ")}`, n.mode);
    if (n.bridge !== undefined && (typeof n.bridge !== "string" || !INTERFACE_NAME.test(n.bridge))) fail(`${f}.bridge`, "not an interface name (at most 15 letters, digits, _ . -)", n.bridge);
    if (n.autostart !== undefined && typeof n.autostart !== "boolean") fail(`${f}.autostart`, "must be true or false", n.autostart);
    if (n.mode === "bridge") {
      if (n.subnet !== undefined) fail(`${f}.subnet`, "not used in bridge mode (addresses come from the bridged network)", n.subnet);
      if (n.dhcp !== undefined) fail(`${f}.dhcp`, "not used in bridge mode (addresses come from the bridged network)", n.dhcp);
      return;
    }
    if (n.bridge !== undefined) {
      if (bridges.has(n.bridge)) fail(`${f}.bridge`, `already the bridge of networks[${bridges.get(n.bridge)}]`, n.bridge);
      bridges.set(n.bridge, i);
    }
    if (n.subnet === undefined) fail(`${f}.subnet`, `required for a ${n.mode} network (an IPv4 CIDR like 192.168.100.0/24)`, n.subnet);
    const sub = parseSubnet(n.subnet!);
    if (!sub) fail(`${f}.subnet`, "must be an IPv4 network in CIDR form with a prefix from /8 to /30 and no host bits", n.subnet);
    const lo = sub!.network;
    const hi = sub!.last + 1;
    const clash = subnets.find((o) => lo <= o.hi && o.lo <= hi);
    if (clash) fail(`${f}.subnet`, `overlaps networks[${clash.i}].subnet`, n.subnet);
    subnets.push({ i, lo, hi });
    if (n.dhcp !== undefined) {
      if (n.dhcp === null || typeof n.dhcp !== "object") fail(`${f}.dhcp`, "must be { start, end }", n.dhcp);
      for (const k of Object.keys(n.dhcp)) if (k !== "start" && k !== "end") fail(`${f}.dhcp.${k}`, "unknown field", (n.dhcp as any)[k]);
      const ends: number[] = [];
      for (const k of ["start", "end"] as const) {
        const a = parseIpv4(n.dhcp[k]);
        if (a === undefined) fail(`${f}.dhcp.${k}`, "not an IPv4 address", n.dhcp[k]);
        if (a! <= sub!.first || a! > sub!.last) fail(`${f}.dhcp.${k}`, `must be inside ${n.subnet} and after the host's address (the first one)`, n.dhcp[k]);
        ends.push(a!);
      }
      if (ends[0] > ends[1]) fail(`${f}.dhcp`, "start must not come after end", n.dhcp);
    }
  });

  const poolNames = new Map<string, number>();
  const paths = new Map<string, number>();
  (s.pools ?? []).forEach((p, i) => {
    const f = `pools[${i}]`;
    if (p === null || typeof p !== "object") fail(f, "must be an object", p);
    for (const k of Object.keys(p)) {
      if (!["name", "type", "path", "autostart"].includes(k)) fail(`${f}.${k}`, "unknown field", (p as any)[k]);
    }
    if (typeof p.name !== "string" || !LIBVIRT_OBJECT_NAME.test(p.name)) fail(`${f}.name`, "must be 1-50 letters, digits, _ . - (starting with a letter or digit)", p.name);
    if (poolNames.has(p.name)) fail(`${f}.name`, `duplicate of pools[${poolNames.get(p.name)}].name`, p.name);
    poolNames.set(p.name, i);
    if (!POOL_TYPES.includes(p.type)) fail(`${f}.type`, `must be one of ${POOL_TYPES.join(", ")} (ZFS and RBD pools come from the storage layer)`, p.type);
    if (typeof p.path !== "string" || !POOL_PATH.test(p.path) || p.path.split("/").some((c) => c === "." || c === "..")) {
      fail(`${f}.path`, "must be an absolute directory path (no spaces, no . or .. components, no trailing /)", p.path);
    }
    if (["/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/run", "/sbin", "/sys", "/usr", "/var", "/tmp", "/home", "/root", "/srv", "/opt", "/mnt", "/media"].includes(p.path)) {
      fail(`${f}.path`, "is a system directory: use a directory of its own (e.g. /srv/vm-images)", p.path);
    }
    if (paths.has(p.path)) fail(`${f}.path`, `already the path of pools[${paths.get(p.path)}]`, p.path);
    paths.set(p.path, i);
    if (p.autostart !== undefined && typeof p.autostart !== "boolean") fail(`${f}.autostart`, "must be true or false", p.autostart);
  });

  const vmNames = new Map<string, number>();
  (s.vms ?? []).forEach((vm, i) => {
    const f = `vms[${i}]`;
    validateVmSettings(vm, `${field}.${f}`);
    if (vmNames.has(vm.name)) fail(`${f}.name`, `duplicate of vms[${vmNames.get(vm.name)}].name`, vm.name);
    vmNames.set(vm.name, i);
    (vm.nics ?? []).forEach((n, j) => {
      if (n.network !== undefined && !names.has(n.network)) {
        fail(`${f}.nics[${j}].network`, `not a network of virtualization.networks (defined: ${[...names.keys()].join(", ") || "none"})`, n.network);
      }
    });
    (vm.disks ?? []).forEach((d, j) => {
      const pool = d.pool ?? "default";
      if (!poolNames.has(pool)) fail(`${f}.disks[${j}].pool`, `not a pool of virtualization.pools (defined: ${[...poolNames.keys()].join(", ") || "none"})`, pool);
    });
  });
}

/** Parameters of a network's step. */
export function networkParams(n: LibvirtNetwork): Record<string, string> {
  return { DV_NAME: n.name, DV_XML: renderNetworkXml(n), DV_AUTOSTART: n.autostart === false ? "no" : "yes", DV_IGNORE: networkIgnoredPaths(n).join(" "), DV_XML_MATCH: XML_MATCH };
}

/** Parameters of a pool's step. */
export function poolParams(p: LibvirtPool): Record<string, string> {
  return { DV_NAME: p.name, DV_XML: renderPoolXml(p), DV_PATH: p.path, DV_AUTOSTART: p.autostart === false ? "no" : "yes", DV_IGNORE: POOL_IGNORED_PATHS.join(" "), DV_XML_MATCH: XML_MATCH };
}

/**
 * The virtualization layer of a node: a KVM check before anything else (fails clearly,
 * or warns when software emulation is allowed), QEMU/KVM + libvirt + OVMF + SeaBIOS
 * (+ Cockpit with its machines, storage and network pages), libvirtd running, Cockpit on
 * 9090, then one step per libvirt network and per storage pool. libvirt objects are
 * defined with virsh over the node's SSH connection, only when the live definition differs.
 */
export class VirtualizationHost extends pulumi.ComponentResource {
  /** The last step of the layer: later layers depend on this. */
  readonly ready: pulumi.Resource;
  /** The step that keeps libvirtd running (VMs depend on it). */
  readonly libvirtd: pulumi.Resource;
  /** Steps of the libvirt networks, by network name. */
  readonly networks: Record<string, pulumi.Resource>;
  /** Steps of the storage pools, by pool name. */
  readonly pools: Record<string, pulumi.Resource>;
  /** The VMs, by name. */
  readonly vms: Record<string, VirtualMachine>;
  /** `kvm` or `tcg`, as the check found it. */
  readonly acceleration: pulumi.Output<string>;

  constructor(name: string, args: VirtualizationHostArgs, opts?: pulumi.ComponentResourceOptions) {
    // Validate before super(): bad input must register nothing.
    validateVirtualizationSettings(args, "virtualization");
    super("debvisor:virtualization:VirtualizationHost", name, {}, opts);
    const host = args.host;
    const allowEmulation = args.allowEmulation ?? false;
    const nested = args.nested ?? false;
    const cockpit = args.cockpit ?? true;
    const networks = args.networks ?? [];
    const pools = args.pools ?? [];

    const check = new RemoteStep(`${name}-check`, {
      host, script: "virtualization/kvm-check.sh",
      params: { DV_ALLOW_EMULATION: String(allowEmulation), DV_NESTED: String(nested), DV_NESTED_CONF: NESTED_CONF },
    }, { parent: this, dependsOn: opts?.dependsOn }); // children do not inherit the layer's dependsOn: the first step takes it
    this.acceleration = check.facts.apply((f) => f.acceleration ?? "unknown");

    const packages = new RemoteStep(`${name}-packages`, {
      host, script: "virtualization/packages.sh",
      params: { DV_PACKAGES: virtualizationPackages(cockpit).join(" "), DV_NM_CONF: cockpit ? NM_UNMANAGED_CONF : "" },
      timeoutSeconds: 1800,
    }, { parent: this, dependsOn: [check.command] });

    const libvirtd = new RemoteStep(`${name}-libvirtd`, {
      host, script: "virtualization/libvirtd.sh", params: { DV_DROPIN: LIBVIRTD_DROPIN },
    }, { parent: this, dependsOn: [packages.command] });
    this.libvirtd = libvirtd.command;
    // One chain, each step after the one before: a step runs only when its own triggers
    // change, so editing one network still runs only that network's step.
    let last: pulumi.Resource = libvirtd.command;
    if (cockpit) {
      last = new RemoteStep(`${name}-cockpit`, {
        host, script: "virtualization/cockpit.sh", params: { DV_CONF: COCKPIT_CONF, DV_PORT: String(COCKPIT_PORT) },
      }, { parent: this, dependsOn: [last] }).command;
    }
    this.networks = {};
    for (const n of networks) {
      last = this.networks[n.name] = new RemoteStep(`${name}-net-${n.name}`, {
        host, script: "virtualization/libvirt-net.sh", params: networkParams(n), runOnDelete: true,
      }, { parent: this, dependsOn: [last] }).command;
    }
    this.pools = {};
    for (const p of pools) {
      last = this.pools[p.name] = new RemoteStep(`${name}-pool-${p.name}`, {
        host, script: "virtualization/libvirt-pool.sh", params: poolParams(p), runOnDelete: true,
      }, { parent: this, dependsOn: [last] }).command;
    }

    // VMs after libvirtd, the networks and the pools (and after Cockpit: `last`).
    this.vms = {};
    for (const vm of args.vms ?? []) {
      last = this.vms[vm.name] = new VirtualMachine(`${name}-vm-${vm.name}`, { ...vm, host, emulation: allowEmulation }, {
        parent: this, dependsOn: [libvirtd.command, ...Object.values(this.networks), ...Object.values(this.pools), last],
      });
    }

    this.ready = last;
    this.registerOutputs({ acceleration: this.acceleration });
  }
}
