import { z } from "zod";
import { isIP } from "node:net";
import { addressOf, cidrContains } from "../config/formats.js";
import { fail } from "../config/problems.js";
import { BOND_MODES, IFACE_NAME, LACP_RATES, XMIT_HASH_POLICIES, isAddressWithPrefix, vlanName } from "./interfaces.js";

const ifaceName = z.string({ error: "not an interface name (letter first, then letters, digits, _ or -, at most 15)" })
  .regex(IFACE_NAME, "not an interface name (letter first, then letters, digits, _ or -, at most 15)");
const addressWithPrefix = z.unknown().refine(isAddressWithPrefix, "not an IP address with a prefix length like 10.0.0.5/24").transform((v) => v as string);
const ipAddress = z.string({ error: "not an IP address" }).refine((v) => isIP(v) !== 0, "not an IP address");
const int = (min: number, max: number, unit = "") => z.number({ error: `must be an integer from ${min} to ${max}${unit}` })
  .int(`must be an integer from ${min} to ${max}${unit}`).min(min, `must be an integer from ${min} to ${max}${unit}`).max(max, `must be an integer from ${min} to ${max}${unit}`);

export const bridgeSchema = z.strictObject({
  name: ifaceName.optional(),
  ports: z.array(ifaceName).min(1, "must name at least one interface (leave it out for the one carrying the host's address)").optional(),
  address: addressWithPrefix.optional(),
  gateway: ipAddress.optional(),
  dnsNameservers: z.array(ipAddress, { error: "must be a list of IP addresses" }).optional(),
  stp: z.boolean({ error: "must be true or false" }).optional(),
  forwardDelay: int(0, 30, " (seconds)").optional(),
}, { error: "must be an object or false" });

export const bondSchema = z.strictObject({
  name: ifaceName,
  mode: z.enum(BOND_MODES, { error: `must be one of ${BOND_MODES.join(", ")}` }),
  slaves: z.array(ifaceName, { error: "must be a list of interfaces" }),
  address: addressWithPrefix.optional(),
  gateway: ipAddress.optional(),
  miimon: int(0, 10000, " (ms)").optional(),
  lacpRate: z.enum(LACP_RATES, { error: `must be one of ${LACP_RATES.join(", ")}` }).optional(),
  xmitHashPolicy: z.enum(XMIT_HASH_POLICIES, { error: `must be one of ${XMIT_HASH_POLICIES.join(", ")}` }).optional(),
  primary: ifaceName.optional(),
}, { error: "must be an object" });

export const vlanSchema = z.strictObject({
  id: int(1, 4094),
  link: ifaceName,
  address: addressWithPrefix.optional(),
  gateway: ipAddress.optional(),
}, { error: "must be an object" });

/**
 * `NetworkSettings`, field by field (stack config `network`). `bridge: false` leaves the
 * host's network as it is; it is parsed by hand so that a problem inside the bridge
 * object keeps its own path (a union would report only "Invalid input").
 */
export const networkSchema = z.strictObject({
  bridge: z.unknown().transform((v, ctx): z.infer<typeof bridgeSchema> | false | undefined => {
    if (v === false || v === undefined) return v;
    const r = bridgeSchema.safeParse(v);
    if (r.success) return r.data;
    for (const issue of r.error.issues) ctx.addIssue({ ...issue } as Parameters<typeof ctx.addIssue>[0]);
    return z.NEVER;
  }).optional(),
  vlans: z.array(vlanSchema, { error: "must be a list" }).optional(),
  bonds: z.array(bondSchema, { error: "must be a list" }).optional(),
  rollbackSeconds: int(10, 3600).optional(),
});

type Network = z.infer<typeof networkSchema>;

/** The bridge name when none is given. */
export const DEFAULT_BRIDGE_NAME = "br0";

/**
 * Rules across fields: names defined once, slaves used once, links that exist, one
 * default gateway, gateways inside their interface's network; and, given the node's SSH
 * address, a bridge that takes over the host's interface keeps that address.
 */
export function networkRules(s: Network, nodeAddress?: string): void {
  const addressing = (f: string, o: { address?: string; gateway?: string; dnsNameservers?: string[] }) => {
    if (o.gateway !== undefined && o.address === undefined) fail(`${f}.gateway`, "needs an explicit address", o.gateway);
    if (o.dnsNameservers !== undefined && o.address === undefined) fail(`${f}.dnsNameservers`, "needs an explicit address", o.dnsNameservers);
    if (o.gateway !== undefined && o.address !== undefined && !cidrContains(o.address, o.gateway)) {
      fail(`${f}.gateway`, `is outside ${o.address}'s network (a default route through it would be dead)`, o.gateway);
    }
  };
  const bridge = s.bridge === false ? undefined : (s.bridge ?? {});
  const bonds = s.bonds ?? [];
  const vlans = s.vlans ?? [];

  const virtual = new Map<string, string>(); // name -> field that defines it
  let bridgeName: string | undefined;
  let ports: string[] = [];
  if (bridge) {
    bridgeName = bridge.name ?? DEFAULT_BRIDGE_NAME;
    virtual.set(bridgeName, "bridge.name");
    (bridge.ports ?? []).forEach((p, i, all) => {
      if (all.indexOf(p) !== i) fail(`bridge.ports[${i}]`, "listed twice", p);
      if (p === bridgeName) fail(`bridge.ports[${i}]`, "is the bridge itself", p);
    });
    ports = bridge.ports ?? [];
    addressing("bridge", bridge);
    // Without explicit ports the bridge takes over the interface that carries the SSH
    // address; DebVisor reconnects to that address to confirm the change.
    if (bridge.ports === undefined && bridge.address !== undefined && nodeAddress !== undefined && isIP(nodeAddress) !== 0 && addressOf(bridge.address) !== nodeAddress) {
      fail("bridge.address", `must keep the node's SSH address ${nodeAddress} (the bridge takes over the interface that carries it, and DebVisor reconnects to that address)`, bridge.address);
    }
  }

  const slaveOf = new Map<string, string>();
  bonds.forEach((b, i) => {
    const f = `bonds[${i}]`;
    if (virtual.has(b.name)) fail(`${f}.name`, `already defined by ${virtual.get(b.name)}`, b.name);
    virtual.set(b.name, `${f}.name`);
    const min = b.mode === "802.3ad" ? 2 : 1;
    if (b.slaves.length < min) fail(`${f}.slaves`, `${b.mode} needs at least ${min} slave${min > 1 ? "s" : ""}`, b.slaves);
    b.slaves.forEach((sl, j) => {
      if (slaveOf.has(sl)) fail(`${f}.slaves[${j}]`, `already a slave of ${slaveOf.get(sl)}`, sl);
      slaveOf.set(sl, b.name);
      if (ports.includes(sl)) fail(`${f}.slaves[${j}]`, "is also a bridge port (make the bond the port instead)", sl);
    });
    if (b.lacpRate !== undefined && b.mode !== "802.3ad") fail(`${f}.lacpRate`, "applies to 802.3ad bonds only", b.lacpRate);
    if (b.xmitHashPolicy !== undefined && b.mode !== "802.3ad") fail(`${f}.xmitHashPolicy`, "applies to 802.3ad bonds only", b.xmitHashPolicy);
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

/** The static addresses a node's network settings give it, with the field of each. */
export function staticAddresses(s: Network): { path: string; address: string }[] {
  const bridge = s.bridge === false ? undefined : s.bridge;
  return [
    ...(bridge?.address ? [{ path: "bridge.address", address: addressOf(bridge.address) }] : []),
    ...(s.bonds ?? []).flatMap((b, i) => (b.address ? [{ path: `bonds[${i}].address`, address: addressOf(b.address) }] : [])),
    ...(s.vlans ?? []).flatMap((v, i) => (v.address ? [{ path: `vlans[${i}].address`, address: addressOf(v.address) }] : [])),
  ];
}

const nodeField = (layerField: string) => layerField.replace(/\.network$/, "");

/** Rules across nodes: no static address on two nodes (nor another node's SSH address). */
export function networkClusterRules(nodes: readonly { field: string; settings: Network; node: { args: { host: { address: string } } } }[]): string[] {
  const problems: string[] = [];
  const owner = new Map<string, string>();
  nodes.forEach((n) => {
    if (isIP(n.node.args.host.address) !== 0) owner.set(n.node.args.host.address, `the SSH address of ${nodeField(n.field)}`);
  });
  nodes.forEach((n) => {
    for (const { path, address } of staticAddresses(n.settings)) {
      const field = `${n.field}.${path}`;
      const other = owner.get(address);
      if (other !== undefined && other !== `the SSH address of ${nodeField(n.field)}`) problems.push(`${field}: ${address} is already ${other}, got ${JSON.stringify(address)}`);
      else owner.set(address, field);
    }
  });
  return problems;
}
