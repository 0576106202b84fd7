import { isIP } from "node:net";

/** Bond modes DebVisor configures. */
export const BOND_MODES = ["active-backup", "802.3ad"] as const;
export type BondMode = (typeof BOND_MODES)[number];
export const LACP_RATES = ["slow", "fast"] as const;
export const XMIT_HASH_POLICIES = ["layer2", "layer2+3", "layer3+4"] as const;

/** The file DebVisor owns; the host's own files keep everything else. */
export const INTERFACES_FILE = "/etc/network/interfaces.d/debvisor";

/**
 * Placeholders the apply step fills on the host, where the facts live: the interface that
 * carries the host's address (`@@PRIMARY@@`) and its own ifupdown stanza (`@@MIGRATE@@`:
 * the first `iface` line and its options; `@@MIGRATE_MORE@@`: further stanzas, e.g. inet6).
 */
export const PRIMARY_PLACEHOLDER = "@@PRIMARY@@";
export const MIGRATE_PLACEHOLDER = "@@MIGRATE@@";
export const MIGRATE_MORE_PLACEHOLDER = "@@MIGRATE_MORE@@";

/** A Linux interface name as ifupdown takes it (no dots: those are VLANs). */
export const IFACE_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,14}$/;

/** `10.0.0.5/24` or `2001:db8::5/64`: an address with its prefix length. */
export function isAddressWithPrefix(value: unknown): value is string {
  if (typeof value !== "string") return false;
  const [addr, len, ...rest] = value.split("/");
  if (rest.length > 0 || len === undefined || !/^\d{1,3}$/.test(len)) return false;
  const family = isIP(addr);
  return family !== 0 && Number(len) >= 1 && Number(len) <= (family === 4 ? 32 : 128);
}

/** Static addressing of one interface. */
export interface StaticAddress {
  address: string;
  gateway?: string;
  dnsNameservers?: string[];
}

export interface BridgePlan {
  name: string;
  /** Port names; undefined: the detected primary interface. */
  ports?: string[];
  /** Explicit addressing; undefined: migrate the primary interface's own stanza. */
  address?: StaticAddress;
  stp: boolean;
  forwardDelay: number;
}
export interface BondPlan {
  name: string;
  mode: BondMode;
  slaves: string[];
  miimon: number;
  lacpRate?: (typeof LACP_RATES)[number];
  xmitHashPolicy?: (typeof XMIT_HASH_POLICIES)[number];
  primary?: string;
  address?: StaticAddress;
}
export interface VlanPlan {
  id: number;
  link: string;
  address?: StaticAddress;
}
export interface InterfacesPlan {
  bridge?: BridgePlan;
  bonds: BondPlan[];
  vlans: VlanPlan[];
}

export const vlanName = (v: { id: number; link: string }) => `${v.link}.${v.id}`;

function family(a: StaticAddress): "inet" | "inet6" {
  return isIP(a.address.split("/")[0]) === 6 ? "inet6" : "inet";
}

function addressLines(a: StaticAddress): string[] {
  return [
    `\taddress ${a.address}`,
    ...(a.gateway ? [`\tgateway ${a.gateway}`] : []),
    ...(a.dnsNameservers && a.dnsNameservers.length > 0 ? [`\tdns-nameservers ${a.dnsNameservers.join(" ")}`] : []),
  ];
}

function ifaceHead(name: string, a: StaticAddress | undefined): string {
  return a ? `iface ${name} ${family(a)} static` : `iface ${name} inet manual`;
}

/**
 * Interfaces the plan takes over as members (bridge ports and bond slaves): they carry
 * no address of their own. `@@PRIMARY@@` stands for the detected primary interface.
 */
export function memberInterfaces(plan: InterfacesPlan): string[] {
  return [...(plan.bridge ? (plan.bridge.ports ?? [PRIMARY_PLACEHOLDER]) : []), ...plan.bonds.flatMap((b) => b.slaves)];
}

/** Every interface the DebVisor file defines, in the order ifup raises them. */
export function definedInterfaces(plan: InterfacesPlan): string[] {
  return [...plan.bonds.map((b) => b.name), ...(plan.bridge ? [plan.bridge.name] : []), ...plan.vlans.map(vlanName)];
}

/**
 * `/etc/network/interfaces.d/debvisor` (ifupdown syntax): bonds first (a bond can be a
 * bridge port), then the bridge, then VLAN sub-interfaces. Pure: what the host must supply
 * (the primary interface, its migrated stanza) is left as placeholders the apply step fills.
 */
export function renderInterfaces(plan: InterfacesPlan): string {
  const out: string[] = [
    "# Managed by DebVisor (network layer): changes here are overwritten.",
    "# The host's own stanza of the interface that carried its address is commented out",
    "# (#debvisor#) where it was; the original files are kept under /var/lib/debvisor/network.",
  ];
  for (const b of plan.bonds) {
    out.push("", `auto ${b.name}`, ifaceHead(b.name, b.address), ...(b.address ? addressLines(b.address) : []));
    out.push(`\tbond-slaves ${b.slaves.join(" ")}`, `\tbond-mode ${b.mode}`, `\tbond-miimon ${b.miimon}`);
    if (b.mode === "802.3ad") {
      out.push(`\tbond-lacp-rate ${b.lacpRate ?? "slow"}`, `\tbond-xmit-hash-policy ${b.xmitHashPolicy ?? "layer2"}`);
    } else if (b.primary) {
      out.push(`\tbond-primary ${b.primary}`);
    }
  }
  if (plan.bridge) {
    const br = plan.bridge;
    out.push("", `auto ${br.name}`);
    if (br.address) out.push(ifaceHead(br.name, br.address), ...addressLines(br.address));
    else out.push(MIGRATE_PLACEHOLDER);
    out.push(
      `\tbridge-ports ${(br.ports ?? [PRIMARY_PLACEHOLDER]).join(" ")}`,
      `\tbridge-stp ${br.stp ? "on" : "off"}`,
      `\tbridge-fd ${br.forwardDelay}`,
      `\tbridge-maxwait 0`,
    );
    if (!br.address) out.push(MIGRATE_MORE_PLACEHOLDER);
  }
  for (const v of plan.vlans) {
    const name = vlanName(v);
    out.push("", `auto ${name}`, ifaceHead(name, v.address), ...(v.address ? addressLines(v.address) : []), `\tvlan-raw-device ${v.link}`);
  }
  return out.join("\n") + "\n";
}

/** Debian packages the plan needs for ifupdown to raise it. */
export function packagesFor(plan: InterfacesPlan): string[] {
  return [...(plan.bridge ? ["bridge-utils"] : []), ...(plan.vlans.length > 0 ? ["vlan"] : []), ...(plan.bonds.length > 0 ? ["ifenslave"] : [])];
}
