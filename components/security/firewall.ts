import { isIP } from "node:net";

/** Firewall backends DebVisor can manage. */
export const FIREWALL_BACKENDS = ["nftables", "ufw"] as const;
export type FirewallBackend = (typeof FIREWALL_BACKENDS)[number];

export type Protocol = "tcp" | "udp";

/** One extra inbound rule from config. */
export interface FirewallRule {
  /** A port (`8443`) or an inclusive range (`"8000-8100"`). */
  port: number | string;
  /** @default "tcp" */
  protocol?: Protocol;
  /** Source networks (CIDR or address). @default the cluster networks */
  from?: string[];
  /** Shown in the ruleset next to the rule. @default "extra" */
  comment?: string;
}

/** What the firewall of one node opens. */
export interface FirewallPolicy {
  /** Networks (CIDR) of the cluster: the only sources the role ports are open to. */
  clusterNetworks: string[];
  /** Addresses (or CIDRs) of the provisioning controller: SSH is always open to them. */
  controllerAddresses: string[];
  /** SSH ports (the port DebVisor connects to is always included). */
  sshPorts: number[];
  /** What the node's other layers need open (their descriptors' contributions), in layer order. */
  roleRules: RoleRule[];
  /** Interfaces whose inbound traffic other software (Calico, libvirt, Docker) polices itself; `*` at the end is a wildcard. */
  trustedInterfaces: string[];
  /** Extra rules from config. */
  extraRules: FirewallRule[];
}

/** IP protocols without ports a layer may let in: IP-in-IP (Calico) and VRRP (keepalived's VIP). */
export type BareProtocol = "ipip" | "vrrp";

/** One resolved inbound rule: a port range of a protocol (or a bare IP protocol), from some networks. */
export interface PortRule {
  protocol: Protocol | BareProtocol;
  /** [first, last]; absent for a bare IP protocol. */
  ports?: [number, number];
  from: string[];
  comment: string;
}

/** A port a layer needs open; `from` defaults to the cluster networks. */
export type RoleRule = Omit<PortRule, "from"> & { from?: string[] };

export const DEFAULT_NODE_PORTS: [number, number] = [30000, 32767];
/** Calico's, libvirt's and Docker's own interfaces: they filter what comes in on them. */
export const DEFAULT_TRUSTED_INTERFACES = ["cali*", "vxlan.calico", "vxlan-v6.calico", "tunl0", "wireguard.cali", "wg-v6.cali", "virbr*", "docker0"];

const CIDR4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(\/(\d{1,2}))?$/;

/** An IPv4/IPv6 address, or a network in CIDR notation. */
export function isCidr(value: string): boolean {
  if (typeof value !== "string") return false;
  const [addr, len, ...rest] = value.split("/");
  if (rest.length > 0) return false;
  const family = isIP(addr);
  if (family === 0) return false;
  if (len === undefined) return true;
  if (!/^\d{1,3}$/.test(len)) return false;
  return Number(len) <= (family === 4 ? 32 : 128);
}

/** A network whose host bits are zero (nft refuses `10.0.0.5/24` in a set). */
export function isCanonicalCidr(value: string): boolean {
  const m = CIDR4.exec(value);
  if (!m || m[6] === undefined) return true; // IPv6 and bare addresses are left to nft -c
  const n = (((Number(m[1]) << 24) >>> 0) + (Number(m[2]) << 16) + (Number(m[3]) << 8) + Number(m[4])) >>> 0;
  const len = Number(m[6]);
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return ((n & ~mask) >>> 0) === 0;
}

export function family(cidr: string): 4 | 6 {
  return isIP(cidr.split("/")[0]) === 6 ? 6 : 4;
}

/** `"8000-8100"` or `8443` -> [first, last], or undefined when malformed. */
export function parsePortRange(port: number | string): [number, number] | undefined {
  const ok = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65535;
  if (typeof port === "number") return ok(port) ? [port, port] : undefined;
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(String(port));
  if (!m) return undefined;
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  return ok(a) && ok(b) && a <= b ? [a, b] : undefined;
}

/** The inbound rules a node's roles need, in a stable order. */
export function firewallRules(p: FirewallPolicy): PortRule[] {
  const cluster = p.clusterNetworks;
  const rules: PortRule[] = [];
  const add = (protocol: Protocol, ports: [number, number], comment: string, from = cluster) => rules.push({ protocol, ports, from, comment });
  for (const port of [...new Set(p.sshPorts)].sort((a, b) => a - b)) add("tcp", [port, port], "ssh", [...new Set([...cluster, ...p.controllerAddresses])]);
  for (const r of p.roleRules) rules.push({ ...r, from: r.from ?? cluster });
  p.extraRules.forEach((r, i) => add(r.protocol ?? "tcp", parsePortRange(r.port)!, r.comment ?? `extra-${i}`, r.from ?? cluster));
  return rules;
}

const portExpr = ([a, b]: [number, number]) => (a === b ? `${a}` : `${a}-${b}`);
const nftString = (s: string) => `"${s.replace(/[^A-Za-z0-9 ._*:/+-]/g, "")}"`;

/**
 * The nftables file: it replaces only DebVisor's own table (`table inet debvisor`),
 * atomically (declare, delete, define again in one transaction), never `flush ruleset`,
 * so the tables of Calico, kube-proxy, libvirt, Docker and fail2ban stay. It filters
 * only inbound traffic to this host: no forward hook, so pod and VM traffic it does not
 * own is never dropped here.
 */
export function renderNftables(p: FirewallPolicy): string {
  const rules = firewallRules(p);
  const lines: string[] = [
    "#!/usr/sbin/nft -f",
    "# Managed by DebVisor: changes here are overwritten. Only table inet debvisor is replaced.",
    "table inet debvisor",
    "delete table inet debvisor",
    "table inet debvisor {",
  ];
  // Named sets per source list, so a rule reads `ip saddr @cluster4 tcp dport ... accept`.
  const sets = new Map<string, string>();
  const clusterKey = [...new Set(p.clusterNetworks)].join(",");
  let extra = 0;
  const setFor = (from: string[], fam: 4 | 6, label: string): string | undefined => {
    const members = [...new Set(from.filter((c) => family(c) === fam))];
    if (members.length === 0) return undefined;
    const key = `${fam}:${members.join(",")}`;
    let name = sets.get(key);
    if (!name) {
      const all = [...new Set(from)].join(",");
      name = `${label === "ssh" ? "ssh" : all === clusterKey ? "cluster" : `src${extra++}`}_v${fam}`;
      sets.set(key, name);
      lines.push(`  set ${name} {`, `    type ipv${fam}_addr`, "    flags interval", "    auto-merge", `    elements = { ${members.join(", ")} }`, "  }");
    }
    return name;
  };
  const body: string[] = [];
  for (const r of rules) {
    for (const fam of [4, 6] as const) {
      const set = setFor(r.from, fam, r.comment);
      if (!set) continue;
      const src = `${fam === 4 ? "ip" : "ip6"} saddr @${set}`;
      const match = r.protocol === "ipip" || r.protocol === "vrrp" ? (fam === 4 ? `ip protocol ${r.protocol}` : undefined) : `${r.protocol} dport ${portExpr(r.ports!)}`;
      if (match) body.push(`    ${src} ${match} accept comment ${nftString(r.comment)}`);
    }
  }
  lines.push(
    "  chain input {",
    "    type filter hook input priority filter; policy drop;",
    "    ct state established,related accept",
    "    ct state invalid drop",
    '    iifname "lo" accept',
    ...p.trustedInterfaces.map((i) => `    iifname ${nftString(i)} accept comment "trusted interface"`),
    "    meta l4proto icmp accept",
    "    meta l4proto ipv6-icmp accept",
    "    ip6 saddr fe80::/10 udp dport 546 accept comment \"dhcpv6 client\"",
    ...body,
    "  }",
    "}",
  );
  return `${lines.join("\n")}\n`;
}

/**
 * ufw rules as `ufw` arguments, in the canonical form `ufw show added` prints them,
 * so the step can add what is missing and delete what is no longer wanted.
 * IP-in-IP (protocol 4) has no ufw syntax: it goes into before.rules (see the script).
 * VRRP has none either, and the ufw script does not place it: the Kubernetes layer refuses
 * a keepalived VIP with the ufw backend (its rules), so none reaches here.
 */
export function renderUfwRules(p: FirewallPolicy): { rules: string[]; ipipFrom: string[] } {
  const out: string[] = [];
  let ipipFrom: string[] = [];
  for (const r of firewallRules(p)) {
    if (r.protocol === "ipip") {
      ipipFrom = r.from.filter((c) => family(c) === 4);
      continue;
    }
    if (r.protocol === "vrrp") continue;
    const [a, b] = r.ports!;
    const port = a === b ? `${a}` : `${a}:${b}`;
    for (const src of r.from) out.push(`allow from ${src} to any port ${port} proto ${r.protocol} comment '${r.comment.replace(/'/g, "")}'`);
  }
  return { rules: [...new Set(out)], ipipFrom };
}
