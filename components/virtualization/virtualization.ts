import * as pulumi from "@pulumi/pulumi";
import { RemoteStep, type ResolvedHost } from "../host/index.js";
import { checkSettings } from "../config/problems.js";
import { alreadyValidated, settingsOf, trusted } from "../config/trusted.js";
import { virtualizationRules, virtualizationSchema } from "./schema.js";
import {
  XML_MATCH, networkIgnoredPaths, poolIgnoredPaths, rbdClient, rbdSecretUuid, renderNetworkXml, renderPoolXml,
  type LibvirtNetwork, type LibvirtPool,
} from "./libvirt.js";
import { VirtualMachine, type VmSettings } from "./vm.js";

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
export function virtualizationPackages(cockpit: boolean, pools: readonly LibvirtPool[] = []): string[] {
  const types = new Set(pools.map((p) => p.type));
  return [
    ...VIRTUALIZATION_PACKAGES, ...(cockpit ? COCKPIT_PACKAGES : []),
    // libvirt's RBD and ZFS storage drivers, and QEMU's librbd block driver
    ...(types.has("rbd") ? ["libvirt-daemon-driver-storage-rbd", "qemu-block-extra"] : []),
    ...(types.has("zfs") ? ["libvirt-daemon-driver-storage-zfs"] : []),
  ];
}

/** Throws a ConfigError naming each bad field and its value. */
export function validateVirtualizationSettings(s: VirtualizationSettings, field = "virtualization"): void {
  checkSettings(virtualizationSchema, s, field, virtualizationRules);
}

/** Parameters of a network's step. */
export function networkParams(n: LibvirtNetwork): Record<string, string> {
  return { DV_NAME: n.name, DV_XML: renderNetworkXml(n), DV_AUTOSTART: n.autostart === false ? "no" : "yes", DV_IGNORE: networkIgnoredPaths(n).join(" "), DV_XML_MATCH: XML_MATCH };
}

/** Parameters of a pool's step. */
export function poolParams(p: LibvirtPool): Record<string, string> {
  return {
    DV_NAME: p.name, DV_TYPE: p.type, DV_XML: renderPoolXml(p), DV_PATH: p.path ?? "", DV_AUTOSTART: p.autostart === false ? "no" : "yes",
    DV_CEPH_POOL: p.type === "rbd" ? (p.cephPool ?? "rbd") : "", DV_CEPH_CLIENT: p.type === "rbd" ? rbdClient(p) : "", DV_SECRET_UUID: p.type === "rbd" ? rbdSecretUuid(p) : "",
    DV_IGNORE: poolIgnoredPaths(p).join(" "), DV_XML_MATCH: XML_MATCH,
  };
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
    if (!alreadyValidated(args)) validateVirtualizationSettings(settingsOf(args), "virtualization");
    super("debvisor:virtualization:VirtualizationHost", name, {}, opts);
    const host = args.host;
    const allowEmulation = args.allowEmulation ?? false;
    const nested = args.nested ?? false;
    const cockpit = args.cockpit ?? true;
    const networks = args.networks ?? [];
    const pools = args.pools ?? [];

    // One step for the host's own setup: the KVM check (every run: it reports the
    // acceleration), packages, libvirtd and Cockpit; a changed setting runs its own part.
    const setup = new RemoteStep(`${name}-apply`, {
      host,
      parts: [
        { name: "check", script: "virtualization/kvm-check.sh", params: { DV_ALLOW_EMULATION: String(allowEmulation), DV_NESTED: String(nested), DV_NESTED_CONF: NESTED_CONF }, always: true },
        { name: "packages", script: "virtualization/packages.sh", params: { DV_PACKAGES: virtualizationPackages(cockpit, pools).join(" "), DV_NM_CONF: cockpit ? NM_UNMANAGED_CONF : "" } },
        { name: "libvirtd", script: "virtualization/libvirtd.sh", params: { DV_DROPIN: LIBVIRTD_DROPIN } },
        ...(cockpit ? [{ name: "cockpit", script: "virtualization/cockpit.sh", params: { DV_CONF: COCKPIT_CONF, DV_PORT: String(COCKPIT_PORT) } }] : []),
      ],
      timeoutSeconds: 3600,
      partsRecord: "virtualization",
    }, { parent: this, dependsOn: opts?.dependsOn }); // children do not inherit the layer's dependsOn
    this.acceleration = setup.facts.apply((f) => f.acceleration ?? "unknown");
    this.libvirtd = setup.command;
    // One chain, each step after the one before: a step runs only when its own triggers
    // change, so editing one network still runs only that network's step.
    let last: pulumi.Resource = setup.command;
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
    const rbdPools = Object.fromEntries(pools.filter((p) => p.type === "rbd").map((p) => [p.name, { cephPool: p.cephPool ?? "rbd", client: rbdClient(p), secretUuid: rbdSecretUuid(p) }]));
    for (const vm of args.vms ?? []) {
      last = this.vms[vm.name] = new VirtualMachine(`${name}-vm-${vm.name}`, trusted({ ...vm, host, emulation: allowEmulation, ...(Object.keys(rbdPools).length ? { rbdPools } : {}) }), {
        parent: this, dependsOn: [setup.command, ...Object.values(this.networks), ...Object.values(this.pools), last],
      });
    }

    this.ready = last;
    this.registerOutputs({ acceleration: this.acceleration });
  }
}
