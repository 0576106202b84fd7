import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";
import { isIP } from "node:net";
import { RemoteStep, type ResolvedHost } from "../host/index.js";
import {
  BOND_MODES, IFACE_NAME, LACP_RATES, XMIT_HASH_POLICIES, definedInterfaces, isAddressWithPrefix, memberInterfaces, packagesFor, renderInterfaces, vlanName,
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

export const DEFAULT_BRIDGE_NAME = "br0";
export const DEFAULT_ROLLBACK_SECONDS = 60;
const MIN_ROLLBACK = 10;
const MAX_ROLLBACK = 3600;

/** Throws an error naming the field and the value for the first thing wrong. */
export function validateNetworkSettings(s: NetworkSettings, field = "network"): void {
  const fail = (f: string, msg: string, v: unknown): never => {
    throw new Error(`${field}.${f}: ${msg}, got ${JSON.stringify(v)}`);
  };
  const ifname = (f: string, v: unknown) => {
    if (typeof v !== "string" || !IFACE_NAME.test(v)) fail(f, "not an interface name (letter first, then letters, digits, _ or -, at most 15)", v);
  };
  const addressing = (f: string, o: { address?: unknown; gateway?: unknown; dnsNameservers?: unknown }) => {
    if (o.address !== undefined && !isAddressWithPrefix(o.address)) fail(`${f}.address`, "not an IP address with a prefix length like 10.0.0.5/24", o.address);
    if (o.gateway !== undefined) {
      if (o.address === undefined) fail(`${f}.gateway`, "needs an explicit address", o.gateway);
      if (typeof o.gateway !== "string" || isIP(o.gateway) === 0) fail(`${f}.gateway`, "not an IP address", o.gateway);
    }
    if (o.dnsNameservers !== undefined) {
      if (o.address === undefined) fail(`${f}.dnsNameservers`, "needs an explicit address", o.dnsNameservers);
      if (!Array.isArray(o.dnsNameservers)) fail(`${f}.dnsNameservers`, "must be a list of IP addresses", o.dnsNameservers);
      (o.dnsNameservers as unknown[]).forEach((d, i) => {
        if (typeof d !== "string" || isIP(d) === 0) fail(`${f}.dnsNameservers[${i}]`, "not an IP address", d);
      });
    }
  };
  if (s.rollbackSeconds !== undefined && !(Number.isInteger(s.rollbackSeconds) && s.rollbackSeconds >= MIN_ROLLBACK && s.rollbackSeconds <= MAX_ROLLBACK)) {
    fail("rollbackSeconds", `must be an integer from ${MIN_ROLLBACK} to ${MAX_ROLLBACK}`, s.rollbackSeconds);
  }
  if (s.bridge !== undefined && s.bridge !== false && (s.bridge === null || typeof s.bridge !== "object" || Array.isArray(s.bridge))) {
    fail("bridge", "must be an object or false", s.bridge);
  }
  const bridge: BridgeSettings | undefined = s.bridge === false ? undefined : (s.bridge ?? {});
  const bonds = s.bonds ?? [];
  const vlans = s.vlans ?? [];
  if (!Array.isArray(bonds)) fail("bonds", "must be a list", bonds);
  if (!Array.isArray(vlans)) fail("vlans", "must be a list", vlans);

  const virtual = new Map<string, string>(); // name -> field that defines it
  let bridgeName: string | undefined;
  let ports: string[] = [];
  if (bridge) {
    bridgeName = bridge.name ?? DEFAULT_BRIDGE_NAME;
    if (bridge.name !== undefined) ifname("bridge.name", bridge.name);
    virtual.set(bridgeName, "bridge.name");
    if (bridge.ports !== undefined) {
      if (!Array.isArray(bridge.ports) || bridge.ports.length === 0) fail("bridge.ports", "must name at least one interface (leave it out for the one carrying the host's address)", bridge.ports);
      bridge.ports.forEach((p, i) => {
        ifname(`bridge.ports[${i}]`, p);
        if (bridge.ports!.indexOf(p) !== i) fail(`bridge.ports[${i}]`, "listed twice", p);
        if (p === bridgeName) fail(`bridge.ports[${i}]`, "is the bridge itself", p);
      });
      ports = bridge.ports;
    }
    addressing("bridge", bridge);
    if (bridge.stp !== undefined && typeof bridge.stp !== "boolean") fail("bridge.stp", "must be true or false", bridge.stp);
    if (bridge.forwardDelay !== undefined && !(Number.isInteger(bridge.forwardDelay) && bridge.forwardDelay >= 0 && bridge.forwardDelay <= 30)) {
      fail("bridge.forwardDelay", "must be an integer from 0 to 30 (seconds)", bridge.forwardDelay);
    }
  }

  const slaveOf = new Map<string, string>();
  bonds.forEach((b, i) => {
    const f = `bonds[${i}]`;
    if (b === null || typeof b !== "object") fail(f, "must be an object", b);
    ifname(`${f}.name`, b.name);
    if (virtual.has(b.name)) fail(`${f}.name`, `already defined by ${virtual.get(b.name)}`, b.name);
    virtual.set(b.name, `${f}.name`);
    if (!BOND_MODES.includes(b.mode)) fail(`${f}.mode`, `must be one of ${BOND_MODES.join(", ")}`, b.mode);
    if (!Array.isArray(b.slaves)) fail(`${f}.slaves`, "must be a list of interfaces", b.slaves);
    const min = b.mode === "802.3ad" ? 2 : 1;
    if (b.slaves.length < min) fail(`${f}.slaves`, `${b.mode} needs at least ${min} slave${min > 1 ? "s" : ""}`, b.slaves);
    b.slaves.forEach((sl, j) => {
      ifname(`${f}.slaves[${j}]`, sl);
      if (slaveOf.has(sl)) fail(`${f}.slaves[${j}]`, `already a slave of ${slaveOf.get(sl)}`, sl);
      slaveOf.set(sl, b.name);
      if (ports.includes(sl)) fail(`${f}.slaves[${j}]`, "is also a bridge port (make the bond the port instead)", sl);
    });
    if (b.miimon !== undefined && !(Number.isInteger(b.miimon) && b.miimon >= 0 && b.miimon <= 10000)) fail(`${f}.miimon`, "must be an integer from 0 to 10000 (ms)", b.miimon);
    if (b.lacpRate !== undefined) {
      if (b.mode !== "802.3ad") fail(`${f}.lacpRate`, "applies to 802.3ad bonds only", b.lacpRate);
      if (!LACP_RATES.includes(b.lacpRate)) fail(`${f}.lacpRate`, `must be one of ${LACP_RATES.join(", ")}`, b.lacpRate);
    }
    if (b.xmitHashPolicy !== undefined) {
      if (b.mode !== "802.3ad") fail(`${f}.xmitHashPolicy`, "applies to 802.3ad bonds only", b.xmitHashPolicy);
      if (!XMIT_HASH_POLICIES.includes(b.xmitHashPolicy)) fail(`${f}.xmitHashPolicy`, `must be one of ${XMIT_HASH_POLICIES.join(", ")}`, b.xmitHashPolicy);
    }
    if (b.primary !== undefined) {
      if (b.mode !== "active-backup") fail(`${f}.primary`, "applies to active-backup bonds only", b.primary);
      if (!b.slaves.includes(b.primary)) fail(`${f}.primary`, `must be one of its slaves (${b.slaves.join(", ")})`, b.primary);
    }
    addressing(f, b);
    if (ports.includes(b.name) && b.address !== undefined) fail(`${f}.address`, "a bridge port carries no address of its own", b.address);
  });
  // A slave may not be a bond or the bridge.
  for (const [sl, bond] of slaveOf) {
    if (virtual.has(sl)) fail(`bonds[${bonds.findIndex((b) => b.name === bond)}].slaves`, `${sl} is a bond or bridge defined here, not a NIC`, sl);
  }
  // Bridge ports named like a bond must be one.
  ports.forEach((p, i) => {
    if (/^bond/.test(p) && !bonds.some((b) => b.name === p)) fail(`bridge.ports[${i}]`, "names a bond that is not defined in bonds", p);
  });

  const seenVlan = new Map<string, number>();
  vlans.forEach((v, i) => {
    const f = `vlans[${i}]`;
    if (v === null || typeof v !== "object") fail(f, "must be an object", v);
    if (!(Number.isInteger(v.id) && v.id >= 1 && v.id <= 4094)) fail(`${f}.id`, "must be an integer from 1 to 4094", v.id);
    ifname(`${f}.link`, v.link);
    // Names that look like a bridge or a bond must be one defined here.
    if (!virtual.has(v.link) && /^(br|bond)/.test(v.link)) {
      fail(`${f}.link`, `is not defined here (links: ${[...virtual.keys()].join(", ") || "none"}, or a NIC)`, v.link);
    }
    if (slaveOf.has(v.link)) fail(`${f}.link`, `is a slave of ${slaveOf.get(v.link)} (put the VLAN on the bond)`, v.link);
    if (ports.includes(v.link)) fail(`${f}.link`, `is a port of ${bridgeName} (put the VLAN on the bridge)`, v.link);
    const name = vlanName(v);
    if (name.length > 15) fail(`${f}`, `interface name ${name} is longer than 15 characters`, name);
    if (seenVlan.has(name)) fail(`${f}.id`, `duplicate of vlans[${seenVlan.get(name)}] on ${v.link}`, v.id);
    seenVlan.set(name, i);
    addressing(f, v);
  });

  const gateways = [
    ...(bridge && bridge.gateway ? ["bridge.gateway"] : []),
    ...bonds.flatMap((b, i) => (b.gateway ? [`bonds[${i}].gateway`] : [])),
    ...vlans.flatMap((v, i) => (v.gateway ? [`vlans[${i}].gateway`] : [])),
  ];
  if (gateways.length > 1) fail(gateways[1], `only one default gateway per host (also set by ${gateways[0]})`, gateways[1]);
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
    validateNetworkSettings(args, "network");
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
