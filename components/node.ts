import * as pulumi from "@pulumi/pulumi";
import { resolveHost, validateHostArgs, type HostArgs } from "./host/index.js";
import { DebianBase, validateDebianBaseArgs, type DebianBaseArgs } from "./base/index.js";
import { HostSecurity, validateSecuritySettings, type SecuritySettings } from "./security/index.js";
import {
  DEFAULT_PROFILE, NodeManagement, PROFILE_NAMES, layersOf, renderPreseed, validateManagementSettings, validatePreseedSettings,
  type Layer, type ManagementSettings, type PreseedSettings, type Profile,
} from "./management/index.js";
import { DEFAULT_RELEASE } from "./base/index.js";
import { HostNetwork, validateNetworkSettings, type NetworkSettings } from "./network/index.js";
import { VirtualizationHost, validateVirtualizationSettings, type VirtualizationSettings } from "./virtualization/index.js";

export interface DebVisorNodeArgs {
  /** How to reach the host. */
  host: HostArgs;
  /** Which layers the node gets. @default "hyperconverged" */
  profile?: Profile;
  /** Debian base layer settings. @default {} (bookworm, deb.debian.org, en_US.UTF-8, UTC) */
  base?: Omit<DebianBaseArgs, "host">;
  /** Security layer settings (every profile has the security layer). @default {} (nftables, security-only upgrades, key-only SSH) */
  security?: SecuritySettings;
  /** Management settings: first-boot unit, Ceph health and ZFS scrub timers (storage layer only). @default {} */
  management?: ManagementSettings;
  /** Network layer settings: br0, VLANs, bonds (profiles with the network layer). @default {} */
  network?: NetworkSettings;
  /** Virtualization layer settings: KVM/QEMU, libvirt, VMs, Cockpit (profiles with the virtualization layer). @default {} */
  virtualization?: VirtualizationSettings;
  /** Debian installer settings: when set, the node's `preseed` output is rendered. @default none */
  preseed?: PreseedSettings;
}

export function validateDebVisorNodeArgs(args: DebVisorNodeArgs, field = "node"): void {
  validateHostArgs(args.host, `${field}.host`);
  if (args.profile !== undefined && !PROFILE_NAMES.includes(args.profile)) {
    throw new Error(`${field}.profile: must be one of ${PROFILE_NAMES.join(", ")}, got ${JSON.stringify(args.profile)}`);
  }
  validateDebianBaseArgs(args.base ?? {}, `${field}.base`);
  validateSecuritySettings(args.security ?? {}, `${field}.security`, args.host.user ?? "root");
  validateManagementSettings(args.management ?? {}, `${field}.management`);
  validateNetworkSettings(args.network ?? {}, `${field}.network`);
  validateVirtualizationSettings(args.virtualization ?? {}, `${field}.virtualization`);
  if (args.preseed !== undefined) validatePreseedSettings(args.preseed, `${field}.preseed`);
}

/** One Debian host turned into a DebVisor node; its profile picks the layers. */
export class DebVisorNode extends pulumi.ComponentResource {
  readonly address: string;
  readonly profile: Profile;
  readonly layers: readonly Layer[];
  readonly base: DebianBase;
  /** The security layer (every profile has it). */
  readonly security?: HostSecurity;
  /** First-boot unit and health/scrub timers (absent when the node needs neither). */
  readonly management?: NodeManagement;
  /** The network layer (br0, VLANs, bonds). */
  readonly network?: HostNetwork;
  /** The virtualization layer (KVM/QEMU, libvirt, VMs, Cockpit). */
  readonly virtualization?: VirtualizationHost;
  /** Host facts reported by the base layer. */
  readonly facts: pulumi.Output<Record<string, string>>;
  /** The Debian installer preseed for this node, when `preseed` is configured. */
  readonly preseed?: string;

  constructor(name: string, args: DebVisorNodeArgs, opts?: pulumi.ComponentResourceOptions) {
    // Validate before super(): bad input must register nothing.
    validateDebVisorNodeArgs(args);
    super("debvisor:index:DebVisorNode", name, {}, opts);
    const host = resolveHost(args.host);
    this.address = host.address;
    this.profile = args.profile ?? DEFAULT_PROFILE;
    this.layers = layersOf(this.profile);
    this.base = new DebianBase(`${name}-base`, { ...args.base, host }, { parent: this });
    const has = (l: Layer) => this.layers.includes(l);

    // Later layers start once the base is done; their inputs never depend on the base's
    // own settings (a changed package list touches only the base's packages step).
    let ready: pulumi.Resource = this.base.ready;
    if (has("security")) {
      this.security = new HostSecurity(`${name}-security`, {
        ...args.security, host, release: args.base?.release ?? DEFAULT_RELEASE,
        roles: { storage: has("storage"), kubernetes: has("kubernetes"), virtualization: has("virtualization") },
      }, { parent: this, dependsOn: [ready] });
      ready = this.security.ready;
    }
    if (has("network")) {
      this.network = new HostNetwork(`${name}-network`, { ...args.network, host }, { parent: this, dependsOn: [ready] });
      ready = this.network.ready ?? ready; // `bridge: false` and nothing else: no step
    }
    if (has("virtualization")) {
      this.virtualization = new VirtualizationHost(`${name}-virtualization`, { ...args.virtualization, host }, { parent: this, dependsOn: [ready] });
      ready = this.virtualization.ready;
    }
    if (args.management?.firstBoot || has("storage")) {
      this.management = new NodeManagement(`${name}-management`, { ...args.management, host, storage: has("storage") }, { parent: this, dependsOn: [ready] });
    }

    if (args.preseed !== undefined) {
      const b = args.base ?? {};
      this.preseed = renderPreseed({
        ...args.preseed, hostname: args.preseed.hostname ?? name, user: host.user,
        release: b.release ?? DEFAULT_RELEASE, locale: b.locale ?? "en_US.UTF-8", timezone: b.timezone ?? "UTC",
        mirror: b.mirror ?? "http://deb.debian.org/debian", securityMirror: b.securityMirror ?? "http://deb.debian.org/debian-security",
        aptProxy: b.aptProxy, contrib: b.contrib ?? false, nonFree: b.nonFree ?? false,
        provisionScript: args.management?.firstBootScript,
      });
    }
    this.facts = this.base.facts;
    this.registerOutputs({ address: this.address, profile: this.profile, facts: this.facts });
  }
}
