import * as pulumi from "@pulumi/pulumi";
import { hostDefaults, type HostArgs } from "./host/index.js";
import { hostKeyRules, hostSchema } from "./host/schema.js";
import { DEFAULT_RELEASE, type DebianBase, type DebianBaseArgs } from "./base/index.js";
import type { HostSecurity, SecuritySettings } from "./security/index.js";
import { DEFAULT_PROFILE, renderPreseed, type ManagementSettings, type NodeManagement, type PreseedSettings } from "./management/index.js";
import { preseedRules, preseedSchema } from "./management/schema.js";
import type { HostNetwork, NetworkSettings } from "./network/index.js";
import type { VirtualizationHost, VirtualizationSettings } from "./virtualization/index.js";
import { ConfigError, ruleProblems, schemaProblems } from "./config/problems.js";
import { alreadyValidated } from "./config/trusted.js";
import { DEFAULT_CATALOG, contributionsOf, heldPackagesOf, layersOfProfile, type LayerCatalog } from "./layers.js";
import type { BuiltLayer, NodeContext } from "./layer.js";
import type { ResolvedHost } from "./host/host.js";
import type { StorageSettings } from "./storage/schema.js";
import type { ContainersSettings } from "./containers/schema.js";
import type { KubernetesSettings } from "./kubernetes/schema.js";

export interface DebVisorNodeArgs {
  /** How to reach the host. */
  host: HostArgs;
  /** Which layers the node gets: a profile of the catalog. @default "hyperconverged" */
  profile?: string;
  /** Debian base layer settings. @default {} (bookworm, deb.debian.org, en_US.UTF-8, UTC) */
  base?: Omit<DebianBaseArgs, "host">;
  /** Security layer settings (every profile has the security layer). @default {} (nftables, security-only upgrades, key-only SSH) */
  security?: SecuritySettings;
  /** Management settings: first-boot unit, Ceph health and ZFS scrub timers (storage layer only). @default {} */
  management?: ManagementSettings;
  /** Network layer settings: br0, VLANs, bonds (profiles with the network layer). @default {} */
  network?: NetworkSettings;
  /** Storage layer settings: Ceph, ZFS, LVM/mdadm, filesystems (profiles with the storage layer). @default {} */
  storage?: StorageSettings;
  /** Containers layer settings: containerd, crictl, Docker Engine + Compose (profiles with the containers layer). @default {} */
  containers?: ContainersSettings;
  /** Kubernetes layer settings: kubeadm, kubelet, the cluster objects (profiles with the kubernetes layer). @default {} */
  kubernetes?: KubernetesSettings;
  /** Virtualization layer settings: KVM/QEMU, libvirt, VMs, Cockpit (profiles with the virtualization layer). @default {} */
  virtualization?: VirtualizationSettings;
  /**
   * The port sshd listens on now, when it is not `host.port`: the node then moves sshd to
   * `host.port` first (commit-confirmed, rolled back if the new port does not answer).
   * The stack program reads it from the stack's previous outputs. @default host.port (no move)
   */
  currentSshPort?: number;
  /** Debian installer settings: when set, the node's `preseed` output is rendered. @default none */
  preseed?: PreseedSettings;
  /** The layers and profiles to build from (extend `DEFAULT_CATALOG` to add a layer of your own). @default DEFAULT_CATALOG */
  catalog?: LayerCatalog;
}

/** Every problem of a node's args, each naming the field (`node.network.vlans[0].id: ...`). */
export function nodeArgsProblems(args: DebVisorNodeArgs, field = "node"): string[] {
  const catalog = args.catalog ?? DEFAULT_CATALOG;
  const problems: string[] = [];
  const host = schemaProblems(hostSchema, args.host, `${field}.host`);
  problems.push(...host.problems);
  if (host.problems.length === 0) problems.push(...ruleProblems(`${field}.host`, () => hostKeyRules(args.host)));
  if (args.currentSshPort !== undefined && !(Number.isInteger(args.currentSshPort) && args.currentSshPort >= 1 && args.currentSshPort <= 65535)) {
    problems.push(`${field}.currentSshPort: must be an integer from 1 to 65535, got ${JSON.stringify(args.currentSshPort)}`);
  }
  if (args.profile !== undefined && !(args.profile in catalog.profiles)) {
    problems.push(`${field}.profile: must be one of ${Object.keys(catalog.profiles).join(", ")}, got ${JSON.stringify(args.profile)}`);
  }
  const values = args as unknown as Record<string, unknown>;
  const layers = layersOfProfile(args.profile ?? DEFAULT_PROFILE, catalog).map((l) => l.name);
  for (const layer of catalog.layers) {
    if (!layer.settings) continue;
    const { key, schema, rules } = layer.settings;
    const value = values[key];
    problems.push(...ignoredSettingsProblems(layer.name, key, value, layers, args.profile ?? DEFAULT_PROFILE, field));
    const r = schemaProblems(schema, value ?? {}, `${field}.${key}`);
    problems.push(...r.problems);
    if (r.problems.length === 0 && rules) problems.push(...ruleProblems(`${field}.${key}`, () => rules(r.data, { args, layers })));
  }
  if (args.preseed !== undefined) {
    const r = schemaProblems(preseedSchema, args.preseed, `${field}.preseed`);
    problems.push(...r.problems);
    if (r.problems.length === 0) problems.push(...ruleProblems(`${field}.preseed`, () => preseedRules(r.data!)));
  }
  return problems;
}

/**
 * Settings a node sets for a layer its profile does not have would be silently ignored:
 * that is a problem (settings inherited from a stack's `defaults` are not checked here).
 */
export function ignoredSettingsProblems(layer: string, key: string, value: unknown, layers: readonly string[], profile: string, field: string): string[] {
  if (layers.includes(layer) || value === undefined || (typeof value === "object" && value !== null && Object.keys(value).length === 0)) return [];
  return [`${field}.${key}: the node's profile "${profile}" has no ${layer} layer, so these settings would be ignored (pick a profile with it, or remove them)`];
}

/** Throws a ConfigError listing every problem of a node's args. */
export function validateDebVisorNodeArgs(args: DebVisorNodeArgs, field = "node"): void {
  const problems = nodeArgsProblems(args, field);
  if (problems.length > 0) throw new ConfigError(problems);
}

/** One Debian host turned into a DebVisor node; its profile picks the layers of the catalog. */
export class DebVisorNode extends pulumi.ComponentResource {
  readonly address: string;
  /** The SSH port every step dials (sshd's port once the node has converged). */
  readonly port: number;
  readonly profile: string;
  /** The node's layers, in build order. */
  readonly layers: readonly string[];
  /** Each built layer's component, by layer name (`base`, `security`, ...). */
  readonly components: Readonly<Record<string, pulumi.ComponentResource>>;
  /** The Debian base layer. */
  get base(): DebianBase {
    return this.components.base as DebianBase;
  }
  /** The security layer (every built-in profile has it). */
  get security(): HostSecurity | undefined {
    return this.components.security as HostSecurity | undefined;
  }
  /** First-boot unit and health/scrub timers (absent when the node needs neither). */
  get management(): NodeManagement | undefined {
    return this.components.management as NodeManagement | undefined;
  }
  /** The network layer (br0, VLANs, bonds). */
  get network(): HostNetwork | undefined {
    return this.components.network as HostNetwork | undefined;
  }
  /** The virtualization layer (KVM/QEMU, libvirt, VMs, Cockpit). */
  get virtualization(): VirtualizationHost | undefined {
    return this.components.virtualization as VirtualizationHost | undefined;
  }
  /** Per layer of the node: its last step up to and including that layer (cluster-wide steps wait for it). */
  readonly readyAfter: Readonly<Record<string, pulumi.Resource | undefined>>;
  /** The node's resolved host (connection settings with defaults applied). */
  readonly host: ResolvedHost;
  /** The node's settings, as validated. */
  readonly args: DebVisorNodeArgs;
  /** Host facts reported by the base layer. */
  readonly facts: pulumi.Output<Record<string, string>>;
  /** The Debian installer preseed for this node, when `preseed` is configured. */
  readonly preseed?: string;

  constructor(name: string, args: DebVisorNodeArgs, opts?: pulumi.ComponentResourceOptions) {
    // Validate before super(): bad input must register nothing.
    if (!alreadyValidated(args)) validateDebVisorNodeArgs(args); // DebVisorCluster validated its nodes already
    super("debvisor:index:DebVisorNode", name, {}, opts);
    const catalog = args.catalog ?? DEFAULT_CATALOG;
    const host = hostDefaults(args.host);
    this.address = host.address;
    this.port = host.port;
    this.profile = args.profile ?? DEFAULT_PROFILE;
    const present = layersOfProfile(this.profile, catalog);
    this.layers = present.map((l) => l.name);
    const node: NodeContext = {
      name, parent: this, host, args, layers: this.layers, has: (l) => this.layers.includes(l),
      contributions: contributionsOf(present, args), heldPackages: heldPackagesOf(catalog),
    };

    // Each layer starts once the one before it is done; their inputs never depend on
    // another layer's outputs (a changed package list touches only the base's packages step).
    const components: Record<string, pulumi.ComponentResource> = {};
    const readyAfter: Record<string, pulumi.Resource | undefined> = {};
    let ready: pulumi.Resource | undefined;
    for (const layer of present) {
      const built: BuiltLayer | undefined = layer.build?.(node, ready);
      if (built) {
        components[layer.name] = built.component;
        ready = built.ready ?? ready; // a layer with nothing to do holds nothing back
      }
      readyAfter[layer.name] = ready;
    }
    this.components = components;
    this.readyAfter = readyAfter;
    this.host = host;
    this.args = args;

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
    this.registerOutputs({ address: this.address, port: this.port, profile: this.profile, facts: this.facts });
  }
}
