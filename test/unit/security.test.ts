import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { installMocks, parentName, partText, type Registration } from "../support/mocks.js";
import { CANARY_KEY, HOST_KEY } from "../support/fixtures.js";
import { roleRules } from "../support/roles.js";

const mocks = await installMocks();
const pulumi = await import("@pulumi/pulumi");
const sec = await import("../../components/security/index.js");
const { DebVisorNode, resolveHost, DEFAULT_HELD_PACKAGES } = await import("../../components/index.js");

const host = { address: "10.213.0.11", user: "debvisor", privateKey: pulumi.secret(CANARY_KEY), hostKey: HOST_KEY };
type Roles = { storage?: boolean; kubernetes?: boolean; virtualization?: boolean };
const policy = ({ roles = {}, nodePorts, wireguard, ...over }: Partial<import("../../components/security/index.js").FirewallPolicy> & { roles?: Roles; nodePorts?: string; wireguard?: boolean } = {}) => ({
  clusterNetworks: ["10.213.0.0/24", "fd00:213::/64"], controllerAddresses: ["192.0.2.1"], sshPorts: [22],
  roleRules: roleRules(roles, { nodePorts, wireguard }),
  trustedInterfaces: sec.DEFAULT_TRUSTED_INTERFACES, extraRules: [], ...over,
});
const ports = (p: ReturnType<typeof policy>) => sec.firewallRules(p).map((r) => `${r.protocol}:${r.ports ? r.ports.join("-") : "-"}`);

describe("firewall rules per role", () => {
  it("opens only SSH on a node without roles", () => {
    expect(ports(policy())).toEqual(["tcp:22-22"]);
    expect(sec.firewallRules(policy())[0].from).toEqual(["10.213.0.0/24", "fd00:213::/64", "192.0.2.1"]);
  });
  it("storage opens Ceph's ports", () => {
    expect(ports(policy({ roles: { storage: true, kubernetes: false, virtualization: false } }))).toEqual(["tcp:22-22", "tcp:3300-3300", "tcp:6789-6789", "tcp:6800-7300"]);
  });
  it("kubernetes opens the API, etcd, kubelet, NodePorts and Calico (IP-in-IP; WireGuard only when on)", () => {
    const k = { roles: { storage: false, kubernetes: true, virtualization: false } };
    expect(ports(policy(k))).toEqual([
      "tcp:22-22", "tcp:6443-6443", "tcp:2379-2380", "tcp:10250-10250", "tcp:30000-32767", "udp:30000-32767",
      "tcp:179-179", "udp:4789-4789", "tcp:5473-5473", "ipip:-",
    ]);
    expect(ports(policy({ ...k, wireguard: true }))).toContain("udp:51820-51821");
    expect(ports(policy({ ...k, nodePorts: "31000-31999" }))).toContain("tcp:31000-31999");
  });
  it("virtualization opens Cockpit; extra rules come last with their own sources", () => {
    const p = policy({ roles: { storage: false, kubernetes: false, virtualization: true }, extraRules: [{ port: "8000-8100", protocol: "udp", from: ["198.51.100.0/24"], comment: "app" }, { port: 8443 }] });
    expect(ports(p)).toEqual(["tcp:22-22", "tcp:9090-9090", "udp:8000-8100", "tcp:8443-8443"]);
    expect(sec.firewallRules(p)[2].from).toEqual(["198.51.100.0/24"]);
    expect(sec.firewallRules(p)[3].from).toEqual(["10.213.0.0/24", "fd00:213::/64"]);
  });
});

describe("nftables ruleset", () => {
  const all = policy({ roles: { storage: true, kubernetes: true, virtualization: true }, wireguard: true });
  const text = sec.renderNftables(all);
  it("replaces only table inet debvisor, atomically, never the whole ruleset", () => {
    expect(text).not.toMatch(/flush ruleset/);
    expect(text).toMatch(/^table inet debvisor\ndelete table inet debvisor\ntable inet debvisor \{$/m);
    expect(text.match(/^table /gm)).toHaveLength(2);
  });
  it("drops inbound by default and has no forward hook (pod and VM traffic is left alone)", () => {
    expect(text).toContain("type filter hook input priority filter; policy drop;");
    expect(text).not.toMatch(/hook forward|hook output|hook prerouting/);
    for (const i of ["cali*", "vxlan.calico", "tunl0", "virbr*"]) expect(text).toContain(`iifname "${i}" accept`);
    expect(text).toContain("ct state established,related accept");
  });
  it("opens each port to the cluster's networks only, per address family", () => {
    expect(text).toMatch(/set ssh_v4 \{[^}]*elements = \{ 10\.213\.0\.0\/24, 192\.0\.2\.1 \}/);
    expect(text).toMatch(/set cluster_v4 \{[^}]*elements = \{ 10\.213\.0\.0\/24 \}/);
    expect(text).toMatch(/set ssh_v6 \{[^}]*elements = \{ fd00:213::\/64 \}/);
    expect(text).toContain('ip saddr @ssh_v4 tcp dport 22 accept comment "ssh"');
    expect(text).toContain('ip6 saddr @ssh_v6 tcp dport 6443 accept comment "kube-apiserver"');
    expect(text).toContain('ip saddr @cluster_v4 tcp dport 6800-7300 accept comment "ceph-osd-mgr-mds"');
    expect(text).toContain('ip saddr @cluster_v4 ip protocol ipip accept comment "calico-ipip"');
    expect(text).not.toMatch(/ip6 saddr \S+ ip protocol ipip/);
    // Every accept of a port names a source set: nothing is open to the world.
    for (const line of text.split("\n").filter((l) => /dport/.test(l) && !/dhcpv6/.test(l))) expect(line).toMatch(/saddr @(ssh|cluster|src\d+)_v[46] /);
  });
  it("is deterministic (the step's trigger must not change between runs)", () => {
    expect(sec.renderNftables(all)).toBe(text);
  });
});

describe("ufw rules", () => {
  it("renders one allow per source and port, IP-in-IP separately", () => {
    const r = sec.renderUfwRules(policy({ roles: { storage: true, kubernetes: true, virtualization: false } }));
    expect(r.rules).toContain("allow from 10.213.0.0/24 to any port 6800:7300 proto tcp comment 'ceph-osd-mgr-mds'");
    expect(r.rules).toContain("allow from 192.0.2.1 to any port 22 proto tcp comment 'ssh'");
    expect(r.rules.some((l) => /ipip/.test(l))).toBe(false);
    expect(r.ipipFrom).toEqual(["10.213.0.0/24"]);
  });
});

describe("sshd, fail2ban and unattended-upgrades files", () => {
  it("sshd: key-only, root policy from config, the provisioning user always allowed", () => {
    const t = sec.renderSshdConfig({ permitRootLogin: "no", allowUsers: ["alice"], settings: { MaxSessions: "4" }, provisioningUser: "debvisor" });
    expect(t).toContain("PasswordAuthentication no\nKbdInteractiveAuthentication no");
    expect(t).toContain("PermitRootLogin no");
    expect(t).toContain("AllowUsers debvisor alice");
    expect(t).toContain("MaxSessions 4");
    expect(t).toContain("MaxAuthTries 4");
    const over = sec.renderSshdConfig({ permitRootLogin: "no", allowUsers: [], settings: { maxauthtries: "6" }, provisioningUser: "debvisor" });
    expect(over.match(/maxauthtries/gi)).toHaveLength(1);
    expect(over).toContain("maxauthtries 6");
    expect(sec.renderSshdConfig({ permitRootLogin: "prohibit-password", allowUsers: [], settings: {}, provisioningUser: "root" })).not.toContain("AllowUsers");
  });
  it("fail2ban: sshd jail on the systemd backend, controller in ignoreip", () => {
    const j = sec.renderJail({ sshPorts: [2222, 22], maxRetry: 5, findTime: "10m", banTime: "1h" });
    expect(j).toMatch(/\[sshd\]\nenabled = true\nbackend = systemd\nport = 22,2222/);
    expect(sec.renderIgnoreIp(["10.213.0.1"])).toBe("127.0.0.1/8 ::1 10.213.0.1");
  });
  it("unattended-upgrades: security only by default, no reboot, DebVisor's packages excluded", () => {
    const u = sec.renderUnattendedUpgrades({ release: "trixie", securityOnly: true, held: DEFAULT_HELD_PACKAGES });
    expect(u).toContain("#clear Unattended-Upgrade::Origins-Pattern;");
    expect(u).toContain('"origin=Debian,codename=trixie-security,label=Debian-Security";');
    expect(u).not.toMatch(/label=Debian";/);
    expect(u).toContain('Unattended-Upgrade::Automatic-Reboot "false";');
    for (const p of ["kubelet", "kubeadm", "kubectl", "containerd"]) expect(u).toContain(`"^${p}$";`);
    for (const p of ["ceph.*", "zfs.*", "libzfs.*"]) expect(u).toContain(`"^${p}$";`);
    expect(sec.renderUnattendedUpgrades({ release: "bookworm", securityOnly: false, held: [] })).toContain('"origin=Debian,codename=bookworm,label=Debian";');
    expect(sec.globToRegex("python3-rados")).toBe("^python3-rados$");
  });
});

describe("validation names the field and value", () => {
  const v = (s: any, user?: string) => () => sec.validateSecuritySettings(s, "security", user);
  it.each([
    [{ firewall: "iptables" }, 'security.firewall: must be one of nftables, ufw, got "iptables"'],
    [{ clusterNetworks: ["10.0.0.0/33"] }, 'security.clusterNetworks[0]: not an IP address or CIDR network, got "10.0.0.0/33"'],
    [{ clusterNetworks: ["10.0.0.5/24"] }, "security.clusterNetworks[0]: host bits set"],
    [{ controllerAddresses: ["controller.local"] }, 'security.controllerAddresses[0]: not an IP address or CIDR network, got "controller.local"'],
    [{ nodePorts: "30000" }, 'security.nodePorts: must be a port range "first-last", got "30000"'],
    [{ extraRules: [{ port: 70000 }] }, "security.extraRules[0].port: must be a port 1-65535"],
    [{ extraRules: [{ port: 80, protocol: "sctp" }] }, 'security.extraRules[0].protocol: must be tcp or udp, got "sctp"'],
    [{ permitRootLogin: "yes" }, 'security.permitRootLogin: must be one of no, prohibit-password, forced-commands-only, got "yes"'],
    [{ sshdSettings: { PasswordAuthentication: "yes" } }, "security.sshdSettings.PasswordAuthentication: is managed by DebVisor"],
    [{ sshdSettings: { "Bad Key": "x" } }, "security.sshdSettings.Bad Key: not an sshd_config keyword"],
    [{ heldPackages: ["Bad Package"] }, 'security.heldPackages[0]: not a package name or glob, got "Bad Package"'],
    [{ fail2banBanTime: "forever" }, 'security.fail2banBanTime: must be a fail2ban time'],
  ])("%j", (s, msg) => expect(v(s)).toThrow(msg));
  it("refuses a root login policy that locks out a root provisioner", () => {
    expect(v({ permitRootLogin: "no" }, "root")).toThrow("security.permitRootLogin: would lock out the provisioning user root");
    expect(v({ permitRootLogin: "no" }, "debvisor")).not.toThrow();
  });
});

describe("HostSecurity under mocks", () => {
  let regs: Registration[];
  beforeAll(async () => {
    mocks.reset();
    new DebVisorNode("hv", { host, profile: "hyperconverged", security: { clusterNetworks: ["10.213.0.0/24"], controllerAddresses: ["10.213.0.1"] } });
    new DebVisorNode("mini", { host: { ...host, address: "10.213.0.12" }, profile: "minimal", security: { firewall: "ufw", clusterNetworks: ["10.213.0.0/24"] } });
    regs = [...(await mocks.settle())];
  });
  const cmd = (n: string) => regs.find((r) => r.name === n)!;
  const part = (node: string, name: string) => partText(cmd(`${node}-security-apply`).inputs.stdin, name);

  it("registers one step of four parts (upgrades, fail2ban, firewall, sshd), parented to the layer, after the base layer", () => {
    expect(regs.filter((r) => parentName(r) === "hv-security").map((r) => r.name).sort()).toEqual(["hv-security-apply"]);
    const stdin = cmd("hv-security-apply").inputs.stdin as string;
    expect(["upgrades", "fail2ban", "firewall", "sshd"].map((p) => stdin.indexOf(`# --- part ${p}: security/${p}.sh`))).toEqual(
      ["upgrades", "fail2ban", "firewall", "sshd"].map((p) => stdin.indexOf(`# --- part ${p}: security/${p}.sh`)).sort((a, b) => a - b));
    expect(cmd("hv-security-apply").dependsOn).toEqual(["hv-base-apply"]);
    expect(parentName(cmd("hv-security"))).toBe("hv");
    expect(cmd("hv-security").type).toBe("debvisor:security:HostSecurity");
  });
  it("opens the role ports of the profile (hyperconverged: all; minimal: SSH only)", () => {
    const hv = part("hv", "firewall");
    for (const p of ["6789", "6443", "9090", "ip protocol ipip"]) expect(hv).toContain(p);
    const mini = part("mini", "firewall");
    expect(mini).toMatch(/^export DV_BACKEND='ufw'$/m);
    expect(mini).not.toContain("6443");
    expect(mini).toContain("allow from 10.213.0.0/24 to any port 22 proto tcp");
  });
  it("keeps the provisioning user and the controller safe", () => {
    expect(part("hv", "sshd")).toMatch(/^export DV_USER='debvisor'$/m);
    expect(part("hv", "fail2ban")).toContain("127.0.0.1/8 ::1 10.213.0.1");
  });
  it("follows the node's release for security updates", () => {
    expect(part("hv", "upgrades")).toContain("codename=bookworm-security");
  });
  it("bad settings throw before anything is registered", async () => {
    mocks.reset();
    expect(() => new sec.HostSecurity("x", { host: resolveHost({ ...host, user: "root" }), permitRootLogin: "no" })).toThrow(/security\.permitRootLogin/);
    expect(() => new DebVisorNode("y", { host, security: { clusterNetworks: ["nope"] } })).toThrow('node.security.clusterNetworks[0]: not an IP address or CIDR network, got "nope"');
    expect(await mocks.settle()).toEqual([]);
  });
});

// The helper scripts installed on hosts are text in TypeScript: shellcheck them here.
const hasShellcheck = spawnSync("shellcheck", ["--version"]).status === 0;
describe.skipIf(!hasShellcheck)("host helper scripts", () => {
  it("the hold helper passes shellcheck", () => {
    expect(execFileSync("shellcheck", ["-s", "sh", "-"], { input: sec.HOLD_HELPER, encoding: "utf8" })).toBe("");
  });
});

beforeEach(() => undefined);
