import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";
import { RemoteStep, type ResolvedHost } from "../host/index.js";
import { checkSettings } from "../config/problems.js";
import { alreadyValidated, settingsOf } from "../config/trusted.js";
import { DEFAULT_BRIDGE_NAME, networkRules, networkSchema } from "./schema.js";
import {
  LACP_RATES, XMIT_HASH_POLICIES, definedInterfaces, memberInterfaces, packagesFor, renderInterfaces,
  type BondMode, type InterfacesPlan, type StaticAddress,
} from "./interfaces.js";

/** The bridge carrying the host's address (stack config `network.bridge`). */
export interface BridgeSettings {
  /** Bridge name. @default "br0" */
  name?: string;
  /**
   * Bridge ports (interfaces or bonds defined in `bonds`).
   * @default [the interface that carries the host's address, detected on the host]
   */
  ports?: string[];
  /**
   * Static address of the bridge with its prefix (`10.0.0.5/24`).
   * @default the address stanza of the interface that carried the host's address
   * (address, netmask, gateway, dns-* ...: whatever its ifupdown stanza says, dhcp included)
   */
  address?: string;
  /** Default gateway (only with `address`). @default none */
  gateway?: string;
  /** DNS servers (`dns-nameservers`, only with `address`; needs resolvconf to take effect). @default none */
  dnsNameservers?: string[];
  /** Spanning tree protocol. @default false */
  stp?: boolean;
  /** Forward delay in seconds (`bridge-fd`). @default 0 */
  forwardDelay?: number;
}

/** A bond (stack config `network.bonds[i]`). */
export interface BondSettings {
  /** Bond name, e.g. `bond0`. */
  name: string;
  /** `active-backup` or `802.3ad` (LACP; the switch must be configured for it). */
  mode: BondMode;
  /** Member interfaces (at least 1; at least 2 for 802.3ad). */
  slaves: string[];
  /** Static address with prefix. @default none (`inet manual`: e.g. a bridge port or a VLAN link) */
  address?: string;
  /** Default gateway (only with `address`). @default none */
  gateway?: string;
  /** MII link monitoring interval in ms. @default 100 */
  miimon?: number;
  /** LACP rate (802.3ad only). @default "slow" */
  lacpRate?: (typeof LACP_RATES)[number];
  /** Transmit hash policy (802.3ad only). @default "layer2" */
  xmitHashPolicy?: (typeof XMIT_HASH_POLICIES)[number];
  /** Preferred slave (active-backup only). @default none */
  primary?: string;
}

/** A VLAN sub-interface `<link>.<id>` (stack config `network.vlans[i]`). */
export interface VlanSettings {
  /** VLAN id, 1-4094. */
  id: number;
  /** The interface it rides on: the bridge, a bond from `bonds`, or a NIC DebVisor does not otherwise use. */
  link: string;
  /** Static address with prefix. @default none (`inet manual`) */
  address?: string;
  /** Default gateway (only with `address`). @default none */
  gateway?: string;
}

/** Network layer settings of a node (stack config `network`). Every field is optional. */
export interface NetworkSettings {
  /**
   * The bridge that takes over the host's address, or `false` to leave the host's own
   * network configuration alone (no bridge; with no VLANs and no bonds either the
   * layer runs nothing at all).
   * @default { name: "br0", ports: [the interface carrying the host's address] }
   */
  bridge?: BridgeSettings | false;
  /** VLAN sub-interfaces. @default [] */
  vlans?: VlanSettings[];
  /** Bonds. @default [] */
  bonds?: BondSettings[];
  /**
   * Seconds the host has to answer a new SSH connection after a network change before
   * the change is rolled back automatically (commit-confirmed). @default 60
   */
  rollbackSeconds?: number;
}

export interface HostNetworkArgs extends NetworkSettings {
  /** The host to configure. */
  host: ResolvedHost;
}

export { DEFAULT_BRIDGE_NAME };
export const DEFAULT_ROLLBACK_SECONDS = 60;

/** Throws a ConfigError naming each bad field and its value. */
export function validateNetworkSettings(s: NetworkSettings, field = "network"): void {
  checkSettings(networkSchema, s, field, networkRules);
}

const staticAddress = (o: { address?: string; gateway?: string; dnsNameservers?: string[] }): StaticAddress | undefined =>
  o.address === undefined ? undefined : { address: o.address, gateway: o.gateway, dnsNameservers: o.dnsNameservers };

/** The settings with defaults applied, as the renderer takes them. */
export function interfacesPlan(s: NetworkSettings): InterfacesPlan {
  const b = s.bridge === false ? undefined : (s.bridge ?? {});
  return {
    bridge: b && {
      name: b.name ?? DEFAULT_BRIDGE_NAME,
      ports: b.ports,
      address: staticAddress(b),
      stp: b.stp ?? false,
      forwardDelay: b.forwardDelay ?? 0,
    },
    bonds: (s.bonds ?? []).map((x) => ({
      name: x.name, mode: x.mode, slaves: x.slaves, miimon: x.miimon ?? 100,
      lacpRate: x.lacpRate, xmitHashPolicy: x.xmitHashPolicy, primary: x.primary, address: staticAddress(x),
    })),
    vlans: (s.vlans ?? []).map((v) => ({ id: v.id, link: v.link, address: staticAddress(v) })),
  };
}

/** Parameters of the apply step (pure: the unit tests and the script tier use them). */
export function applyParams(s: NetworkSettings): Record<string, string> {
  const plan = interfacesPlan(s);
  const params: Record<string, string> = {
    DV_INTERFACES: renderInterfaces(plan),
    DV_DEFINED: definedInterfaces(plan).join(" "),
    DV_MEMBERS: memberInterfaces(plan).join(" "),
    DV_MIGRATE: plan.bridge && !plan.bridge.address ? plan.bridge.name : "",
    DV_PACKAGES: packagesFor(plan).join(" "),
    DV_ROLLBACK_SECONDS: String(s.rollbackSeconds ?? DEFAULT_ROLLBACK_SECONDS),
  };
  return { ...params, DV_GENERATION: generationOf(params) };
}

/** Names one desired network configuration; the confirm step checks that exact one. */
export function generationOf(params: Record<string, string>): string {
  const h = createHash("sha256");
  h.update(JSON.stringify(Object.keys(params).sort().map((k) => [k, params[k]])));
  return h.digest("hex").slice(0, 16);
}

/** Parameters of the confirm step: tied to the apply step's generation. */
export function confirmParams(apply: Record<string, string>): Record<string, string> {
  return { DV_GENERATION: apply.DV_GENERATION, DV_ROLLBACK_SECONDS: apply.DV_ROLLBACK_SECONDS };
}

/**
 * Connection limits of the confirm step: its dials must outlast the rollback window (a
 * dial may fail at once when the host is unreachable; the provider pauses at most 5 s
 * between attempts), so it reaches the host after a rollback as well.
 */
export function confirmHost(host: ResolvedHost, rollbackSeconds: number): ResolvedHost {
  const window = rollbackSeconds + 60;
  return { ...host, dialErrorLimit: Math.max(host.dialErrorLimit, Math.ceil(window / 5) + 5), perDialTimeout: Math.max(host.perDialTimeout, 10) };
}

/** True when the settings leave the host's network alone (nothing to run). */
export function leavesNetworkAlone(s: NetworkSettings): boolean {
  return s.bridge === false && (s.vlans ?? []).length === 0 && (s.bonds ?? []).length === 0;
}

/**
 * The network layer of a node: br0 carrying the host's address, bonds and VLAN
 * sub-interfaces, through the host's own ifupdown. Commit-confirmed: `<name>-apply` backs
 * up the configuration, arms an automatic rollback, switches in a detached unit and
 * waits for it; `<name>-confirm` reaches the host over a new SSH connection and disarms
 * the rollback, or fails saying that the change was rolled back.
 */
export class HostNetwork extends pulumi.ComponentResource {
  /**
   * The confirm step; undefined when there is nothing to configure (a resource depending
   * on an empty component would not wait for the layers before it).
   */
  readonly ready?: pulumi.Resource;
  /** The rendered `/etc/network/interfaces.d/debvisor` template ("" with nothing to configure). */
  readonly interfaces: string;

  constructor(name: string, args: HostNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    // Validate before super(): bad input must register nothing.
    if (!alreadyValidated(args)) validateNetworkSettings(settingsOf(args), "network");
    super("debvisor:network:HostNetwork", name, {}, opts);
    const { host, ...settings } = args;
    if (leavesNetworkAlone(settings)) {
      this.interfaces = "";
      this.registerOutputs({});
      return;
    }
    const params = applyParams(settings);
    this.interfaces = params.DV_INTERFACES;
    const rollbackSeconds = Number(params.DV_ROLLBACK_SECONDS);
    const apply = new RemoteStep(`${name}-apply`, {
      host, script: "network/apply.sh", params,
      timeoutSeconds: rollbackSeconds + 900,
    }, { parent: this, dependsOn: opts?.dependsOn }); // children do not inherit the layer's dependsOn
    const confirm = new RemoteStep(`${name}-confirm`, {
      host: confirmHost(host, rollbackSeconds), script: "network/confirm.sh", params: confirmParams(params),
      timeoutSeconds: rollbackSeconds + 300,
    }, { parent: this, dependsOn: [apply.command] });
    this.ready = confirm.command;
    this.registerOutputs({ interfaces: this.interfaces });
  }
}
