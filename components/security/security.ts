import * as pulumi from "@pulumi/pulumi";
import { RemoteStep, type ResolvedHost } from "../host/index.js";
import { checkSettings } from "../config/problems.js";
import { alreadyValidated } from "../config/trusted.js";
import { securityRules, securitySchema } from "./schema.js";
import { DEFAULT_RELEASE, type DebianRelease } from "../base/sources.js";
import {
  DEFAULT_TRUSTED_INTERFACES,
  type FirewallBackend, type FirewallPolicy, type FirewallRule, type RoleRule,
} from "./firewall.js";
import type { RootLoginPolicy } from "./sshd.js";
import { fail2banStep, firewallStep, sshdStep, upgradesStep } from "./steps.js";

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
  /** Seconds a new SSH `port` has to answer after a port move before it is rolled back. @default 60 */
  portMoveRollbackSeconds?: number;
  /** Extra package globs held and excluded from unattended-upgrades (on top of kubelet, kubeadm, kubectl, containerd, ceph, zfs). @default [] */
  heldPackages?: string[];
}

export interface HostSecurityArgs extends SecuritySettings {
  /** The host to configure. */
  host: ResolvedHost;
  /** Debian release (names the security suite unattended-upgrades follows). @default "bookworm" */
  release?: DebianRelease;
  /** Ports the node's other layers need open (DebVisorNode passes its layers' contributions). @default [] (SSH and extraRules only) */
  roleRules?: RoleRule[];
  /**
   * Packages the node's layers version themselves: held and left out of unattended-upgrades,
   * before `heldPackages` (DebVisorNode passes every layer's: `DEFAULT_HELD_PACKAGES`). @default []
   */
  layerPackages?: string[];
}

/** Throws a ConfigError naming each bad field and its value. */
export function validateSecuritySettings(s: SecuritySettings, field = "security", provisioningUser?: string): void {
  checkSettings(securitySchema, s, field, (v) => securityRules(v, provisioningUser));
}

/** The settings part of HostSecurityArgs. */
function securitySettingsOf(args: HostSecurityArgs): SecuritySettings {
  const { host: _h, release: _r, roleRules: _o, layerPackages: _p, ...settings } = args;
  return settings;
}

/** The firewall policy of one node, defaults applied. */
export function firewallPolicy(args: HostSecurityArgs): FirewallPolicy {
  return {
    clusterNetworks: args.clusterNetworks ?? [],
    controllerAddresses: args.controllerAddresses ?? [],
    sshPorts: [args.host.port],
    roleRules: args.roleRules ?? [],
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
    if (!alreadyValidated(args)) validateSecuritySettings(securitySettingsOf(args), "security", args.host.user);
    super("debvisor:security:HostSecurity", name, {}, opts);
    const host = args.host;
    const policy = firewallPolicy(args);
    const controller = args.controllerAddresses ?? [];
    this.firewall = args.firewall ?? "nftables";

    const held = [...new Set([...(args.layerPackages ?? []), ...(args.heldPackages ?? [])])];
    const firewallSpec = firewallStep(this.firewall, policy);
    this.firewallRules = this.firewall === "nftables" ? firewallSpec.params.DV_NFT : firewallSpec.params.DV_UFW_RULES;
    // One step, four parts in this order (sshd last: it checks it still answers).
    const steps = new RemoteStep(`${name}-apply`, {
      host,
      parts: [
        { name: "upgrades", ...upgradesStep({ release: args.release ?? DEFAULT_RELEASE, securityOnly: args.securityUpdatesOnly ?? true, held }) },
        { name: "fail2ban", ...fail2banStep({ sshPorts: policy.sshPorts, maxRetry: args.fail2banMaxRetry ?? 5, findTime: args.fail2banFindTime ?? "10m", banTime: args.fail2banBanTime ?? "1h" }, controller) },
        { name: "firewall", ...firewallSpec },
        { name: "sshd", ...sshdStep({ permitRootLogin: args.permitRootLogin ?? "prohibit-password", allowUsers: args.sshAllowUsers ?? [], settings: args.sshdSettings ?? {}, provisioningUser: host.user }) },
      ],
      timeoutSeconds: 3600,
      partsRecord: "security",
    }, { parent: this, dependsOn: opts?.dependsOn }); // children do not inherit the layer's dependsOn

    this.ready = steps.command;
    this.registerOutputs({ firewall: this.firewall });
  }
}

