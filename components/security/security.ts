import * as pulumi from "@pulumi/pulumi";
import { RemoteStep, type ResolvedHost } from "../host/index.js";
import { DEFAULT_RELEASE, type DebianRelease } from "../base/sources.js";
import {
  DEFAULT_NODE_PORTS, DEFAULT_TRUSTED_INTERFACES, FIREWALL_BACKENDS, isCanonicalCidr, isCidr, parsePortRange,
  renderNftables, renderUfwRules, type FirewallBackend, type FirewallPolicy, type FirewallRule,
} from "./firewall.js";
import { MANAGED_SSHD_KEYWORDS, ROOT_LOGIN_POLICIES, SSHD_KEYWORD, renderSshdConfig, type RootLoginPolicy } from "./sshd.js";
import { renderIgnoreIp, renderJail } from "./fail2ban.js";
import { DEFAULT_HELD_PACKAGES, HOLD_HELPER, PERIODIC, isPackageGlob, renderUnattendedUpgrades } from "./upgrades.js";

/** Security settings of a node (stack config `security`). Every field is optional. */
export interface SecuritySettings {
  /** Firewall backend. @default "nftables" */
  firewall?: FirewallBackend;
  /**
   * The cluster's own networks (CIDR): the only sources the role ports (Ceph, Kubernetes,
   * Calico, Cockpit) and SSH are open to. @default [] (the stack loader defaults it to
   * every node's address)
   */
  clusterNetworks?: string[];
  /**
   * The provisioning controller's addresses (or CIDRs): SSH stays open to them and
   * fail2ban never bans them. The address the step's own SSH session comes from is
   * always added on the host as well. @default []
   */
  controllerAddresses?: string[];
  /** Kubernetes NodePort range, `"first-last"`. @default "30000-32767" */
  nodePorts?: string;
  /** Calico WireGuard encryption: opens 51820-51821/udp. @default false */
  wireguard?: boolean;
  /** Extra inbound rules. @default [] */
  extraRules?: FirewallRule[];
  /** Interfaces whose inbound traffic is left to the software that made them. @default Calico, libvirt and Docker interfaces */
  trustedInterfaces?: string[];
  /** sshd PermitRootLogin. @default "prohibit-password" */
  permitRootLogin?: RootLoginPolicy;
  /** Only these users may log in over SSH (the provisioning user is always added). @default [] (no restriction) */
  sshAllowUsers?: string[];
  /** Extra sshd_config keywords (`{MaxSessions: "4"}`), checked with `sshd -t` before any reload. @default {} */
  sshdSettings?: Record<string, string>;
  /** fail2ban sshd jail: failures within findTime before a ban. @default 5 */
  fail2banMaxRetry?: number;
  /** fail2ban findtime (fail2ban time syntax). @default "10m" */
  fail2banFindTime?: string;
  /** fail2ban bantime. @default "1h" */
  fail2banBanTime?: string;
  /** unattended-upgrades installs security updates only. @default true */
  securityUpdatesOnly?: boolean;
  /** Extra package globs held and excluded from unattended-upgrades (on top of kubelet, kubeadm, kubectl, containerd, ceph, zfs). @default [] */
  heldPackages?: string[];
}

export interface HostSecurityArgs extends SecuritySettings {
  /** The host to configure. */
  host: ResolvedHost;
  /** Debian release (names the security suite unattended-upgrades follows). @default "bookworm" */
  release?: DebianRelease;
  /** Which role ports the firewall opens (from the node's profile layers). @default all false */
  roles?: { storage?: boolean; kubernetes?: boolean; virtualization?: boolean };
}

const FIND_TIME = /^\d+[smhdw]?$/;
const USER = /^[a-z_][a-z0-9_-]{0,31}$/;

/** Throws an error naming the field and the value. */
export function validateSecuritySettings(s: SecuritySettings, field = "security", provisioningUser?: string): void {
  const fail = (f: string, msg: string, v: unknown): never => {
    throw new Error(`${field}.${f}: ${msg}, got ${JSON.stringify(v)}`);
  };
  if (s.firewall !== undefined && !FIREWALL_BACKENDS.includes(s.firewall)) fail("firewall", `must be one of ${FIREWALL_BACKENDS.join(", ")}`, s.firewall);
  for (const f of ["clusterNetworks", "controllerAddresses"] as const) {
    (s[f] ?? []).forEach((c, i) => {
      if (!isCidr(c)) fail(`${f}[${i}]`, "not an IP address or CIDR network", c);
      if (!isCanonicalCidr(c)) fail(`${f}[${i}]`, "host bits set: use the network address", c);
    });
  }
  if (s.nodePorts !== undefined) {
    const r = parsePortRange(s.nodePorts);
    if (!r || r[0] === r[1] || typeof s.nodePorts !== "string") fail("nodePorts", 'must be a port range "first-last"', s.nodePorts);
  }
  (s.extraRules ?? []).forEach((r, i) => {
    const f = `extraRules[${i}]`;
    if (r === null || typeof r !== "object") fail(f, "must be an object", r);
    if (parsePortRange(r.port) === undefined) fail(`${f}.port`, 'must be a port 1-65535 or a range "first-last"', r.port);
    if (r.protocol !== undefined && r.protocol !== "tcp" && r.protocol !== "udp") fail(`${f}.protocol`, "must be tcp or udp", r.protocol);
    (r.from ?? []).forEach((c, j) => {
      if (!isCidr(c) || !isCanonicalCidr(c)) fail(`${f}.from[${j}]`, "not an IP address or CIDR network", c);
    });
    if (r.from !== undefined && r.from.length === 0) fail(`${f}.from`, "must name at least one network (leave it out for the cluster networks)", r.from);
    if (r.comment !== undefined && !/^[A-Za-z0-9 ._:-]{1,64}$/.test(r.comment)) fail(`${f}.comment`, "must be 1-64 letters, digits, space, . _ : -", r.comment);
  });
  (s.trustedInterfaces ?? []).forEach((n, i) => {
    if (!/^[A-Za-z0-9._-]{1,15}\*?$/.test(n)) fail(`trustedInterfaces[${i}]`, "not an interface name (a trailing * is a wildcard)", n);
  });
  if (s.permitRootLogin !== undefined && !ROOT_LOGIN_POLICIES.includes(s.permitRootLogin)) fail("permitRootLogin", `must be one of ${ROOT_LOGIN_POLICIES.join(", ")}`, s.permitRootLogin);
  if (provisioningUser === "root" && s.permitRootLogin === "no") {
    fail("permitRootLogin", "would lock out the provisioning user root (log in as a sudoer, or keep prohibit-password)", s.permitRootLogin);
  }
  (s.sshAllowUsers ?? []).forEach((u, i) => {
    if (!USER.test(u)) fail(`sshAllowUsers[${i}]`, "not a valid user name", u);
  });
  for (const [k, v] of Object.entries(s.sshdSettings ?? {})) {
    if (!SSHD_KEYWORD.test(k)) fail(`sshdSettings.${k}`, "not an sshd_config keyword", k);
    if (MANAGED_SSHD_KEYWORDS.includes(k.toLowerCase())) fail(`sshdSettings.${k}`, "is managed by DebVisor (use permitRootLogin / sshAllowUsers)", v);
    if (typeof v !== "string" || v.trim() === "" || /[\n\r#]/.test(v)) fail(`sshdSettings.${k}`, "must be a one-line value", v);
  }
  if (s.fail2banMaxRetry !== undefined && !(Number.isInteger(s.fail2banMaxRetry) && s.fail2banMaxRetry >= 1 && s.fail2banMaxRetry <= 100)) fail("fail2banMaxRetry", "must be an integer from 1 to 100", s.fail2banMaxRetry);
  for (const f of ["fail2banFindTime", "fail2banBanTime"] as const) {
    if (s[f] !== undefined && !FIND_TIME.test(s[f]!)) fail(f, 'must be a fail2ban time like "600", "10m", "1h", "1d"', s[f]);
  }
  (s.heldPackages ?? []).forEach((p, i) => {
    if (!isPackageGlob(p)) fail(`heldPackages[${i}]`, "not a package name or glob", p);
  });
}

/** The firewall policy of one node, defaults applied. */
export function firewallPolicy(args: HostSecurityArgs): FirewallPolicy {
  return {
    clusterNetworks: args.clusterNetworks ?? [],
    controllerAddresses: args.controllerAddresses ?? [],
    sshPorts: [args.host.port],
    roles: { storage: args.roles?.storage ?? false, kubernetes: args.roles?.kubernetes ?? false, virtualization: args.roles?.virtualization ?? false },
    nodePorts: (args.nodePorts === undefined ? undefined : parsePortRange(args.nodePorts)) ?? DEFAULT_NODE_PORTS,
    wireguard: args.wireguard ?? false,
    trustedInterfaces: args.trustedInterfaces ?? DEFAULT_TRUSTED_INTERFACES,
    extraRules: args.extraRules ?? [],
  };
}

/**
 * The security layer of a node: unattended-upgrades (security only, no reboot, DebVisor's
 * own packages held), fail2ban (sshd jail on the journal, controller never banned), the
 * host firewall (nftables table `inet debvisor`, or ufw) and sshd hardening (key-only,
 * `sshd -t` before reload, provisioning user kept allowed). One step each, in that order.
 */
export class HostSecurity extends pulumi.ComponentResource {
  /** The last step: later layers depend on this. */
  readonly ready: pulumi.Resource;
  /** The firewall backend in use. */
  readonly firewall: FirewallBackend;
  /** The nftables file (or ufw rules) the firewall step applies. */
  readonly firewallRules: string;

  constructor(name: string, args: HostSecurityArgs, opts?: pulumi.ComponentResourceOptions) {
    // Validate before super(): bad input must register nothing.
    validateSecuritySettings(args, "security", args.host.user);
    super("debvisor:security:HostSecurity", name, {}, opts);
    const host = args.host;
    const policy = firewallPolicy(args);
    const controller = args.controllerAddresses ?? [];
    this.firewall = args.firewall ?? "nftables";

    const held = [...new Set([...DEFAULT_HELD_PACKAGES, ...(args.heldPackages ?? [])])];
    const upgrades = new RemoteStep(`${name}-upgrades`, {
      host, script: "security/upgrades.sh",
      params: {
        DV_CONF: renderUnattendedUpgrades({ release: args.release ?? DEFAULT_RELEASE, securityOnly: args.securityUpdatesOnly ?? true, held }),
        DV_PERIODIC: PERIODIC,
        DV_HOLD: held.join(" "),
        DV_HOOK: HOLD_HELPER,
      },
      // Children do not inherit the layer's dependsOn: the first step takes it.
    }, { parent: this, dependsOn: opts?.dependsOn });

    const fail2ban = new RemoteStep(`${name}-fail2ban`, {
      host, script: "security/fail2ban.sh",
      params: {
        DV_JAIL: renderJail({ sshPorts: policy.sshPorts, maxRetry: args.fail2banMaxRetry ?? 5, findTime: args.fail2banFindTime ?? "10m", banTime: args.fail2banBanTime ?? "1h" }),
        DV_IGNORE: renderIgnoreIp(controller),
      },
    }, { parent: this, dependsOn: [upgrades.command] });

    const nft = renderNftables(policy);
    const ufw = renderUfwRules(policy);
    this.firewallRules = this.firewall === "nftables" ? nft : ufw.rules.join("\n");
    const firewall = new RemoteStep(`${name}-firewall`, {
      host, script: "security/firewall.sh",
      params: {
        DV_BACKEND: this.firewall,
        DV_NFT: this.firewall === "nftables" ? nft : "",
        DV_UFW_RULES: this.firewall === "ufw" ? ufw.rules.join("\n") : "",
        DV_UFW_IPIP: this.firewall === "ufw" ? ufw.ipipFrom.join(" ") : "",
      },
    }, { parent: this, dependsOn: [fail2ban.command] });

    const permitRoot = args.permitRootLogin ?? "prohibit-password";
    const sshd = new RemoteStep(`${name}-sshd`, {
      host, script: "security/sshd.sh",
      params: {
        DV_SSHD_CONF: renderSshdConfig({ permitRootLogin: permitRoot, allowUsers: args.sshAllowUsers ?? [], settings: args.sshdSettings ?? {}, provisioningUser: host.user }),
        DV_USER: host.user,
        DV_PERMIT_ROOT: permitRoot,
      },
    }, { parent: this, dependsOn: [firewall.command] });

    this.ready = sshd.command;
    this.registerOutputs({ firewall: this.firewall });
  }
}

