import { beforeAll, describe, expect, it } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { installMocks, parentName, partText, type Registration } from "../support/mocks.js";
import { CANARY_KEY, HOST_KEY, fakeFiles, validStackConfig } from "../support/fixtures.js";

const mocks = await installMocks();
const pulumi = await import("@pulumi/pulumi");
const man = await import("../../components/management/index.js");
const { DebVisorNode, resolveHost } = await import("../../components/index.js");
const { loadStackConfig, deployStack } = await import("../../stacks/index.js");
const { renderParams } = await import("../../components/host/index.js");
const sec = await import("../../components/security/index.js");
const storage = await import("../../components/storage/index.js");
const { DEFAULT_HELD_PACKAGES } = await import("../../components/layers.js");
const { roleRules } = await import("../support/roles.js");

const host = { address: "10.213.0.11", user: "debvisor", privateKey: pulumi.secret(CANARY_KEY), hostKey: HOST_KEY };

describe("profiles", () => {
  it("pin each profile's layer set", () => {
    expect(man.PROFILES).toEqual({
      hyperconverged: ["base", "security", "network", "virtualization", "storage", "containers", "kubernetes"],
      compute: ["base", "security", "network", "virtualization", "containers", "kubernetes"],
      containers: ["base", "security", "network", "containers", "kubernetes"],
      storage: ["base", "security", "network", "storage"],
      minimal: ["base", "security"],
    });
    expect(man.DEFAULT_PROFILE).toBe("hyperconverged");
    for (const p of man.PROFILE_NAMES) {
      expect(man.layersOf(p)[0], p).toBe("base");
      expect(man.layersOf(p), p).toContain("security");
    }
  });
});

describe("layers a node gets from its profile, under mocks", () => {
  let regs: Registration[];
  const names = (prefix: string) => regs.filter((r) => r.name.startsWith(`${prefix}-`) && r.type === "command:remote:Command").map((r) => r.name.slice(prefix.length + 1)).sort();
  beforeAll(async () => {
    mocks.reset();
    new DebVisorNode("hc", { host, profile: "hyperconverged" });
    new DebVisorNode("cp", { host, profile: "compute" });
    new DebVisorNode("st", { host, profile: "storage", management: { zfsScrubPools: ["tank"], zfsScrubSchedule: "Sat *-*-* 04:00:00" } });
    new DebVisorNode("mi", { host, profile: "minimal", management: { firstBoot: true } });
    regs = [...(await mocks.settle())];
  });
  const security = ["security-apply"];
  const base = ["base-apply"];
  const timers = ["management-apply"];
  const network = ["network-apply", "network-confirm"];
  const virtualization = ["virtualization-apply"];
  const containers = ["containers-apply"];

  it("no node gets a health or scrub timer before its Ceph or ZFS exists; every node's timers step removes stale ones", () => {
    expect(names("hc")).toEqual([...base, ...containers, ...timers, ...network, ...security, ...virtualization]);
    expect(names("st")).toEqual([...base, ...timers, ...network, ...security]);
    expect(names("cp")).toEqual([...base, ...containers, ...timers, ...network, ...security, ...virtualization]);
    expect(names("mi")).toEqual([...base, ...timers, ...security]);
    expect(partText(regs.find((r) => r.name === "mi-management-apply")!.inputs.stdin, "firstboot")).toContain("# --- part firstboot: management/firstboot.sh");
    expect(() => partText(regs.find((r) => r.name === "hc-management-apply")!.inputs.stdin, "firstboot")).toThrow();
    expect(partText(regs.find((r) => r.name === "hc-management-apply")!.inputs.stdin, "timers")).toContain("export DV_KEEP=''");
  });
  it("parents the layers to the node", () => {
    for (const n of ["hc-security", "hc-management", "mi-management", "cp-management"]) expect(parentName(regs.find((r) => r.name === n)!), n).toBe(n.split("-")[0]);
  });
  it("timer steps carry the schedule and pools, and the timers step keeps exactly them", async () => {
    mocks.reset();
    new man.NodeManagement("tm", {
      host: resolveHost(host),
      timers: [["ceph-health", storage.cephHealthTimer()], ["zfs-scrub", storage.zfsScrubTimer("Sat *-*-* 04:00:00", ["tank"])]],
    });
    const tregs = await mocks.settle();
    const stdin = tregs.find((r) => r.name === "tm-apply")!.inputs.stdin as string;
    expect(partText(stdin, "timer-zfs-scrub")).toContain("OnCalendar=Sat *-*-* 04:00:00");
    expect(partText(stdin, "timer-zfs-scrub")).toContain('Environment=DEBVISOR_ZFS_POOLS="tank"');
    expect(partText(stdin, "timer-ceph-health")).toContain("OnCalendar=*:0/5");
    // Last: the timers part keeps exactly these.
    expect(partText(stdin, "timers")).toContain("export DV_KEEP='debvisor-ceph-health debvisor-zfs-scrub'");
    expect(stdin.indexOf("# --- part timers:")).toBeGreaterThan(stdin.indexOf("# --- part timer-zfs-scrub:"));
  });
});

describe("timer units and check scripts", () => {
  it("log one parseable line per run with a syslog priority, under the unit's identifier", () => {
    const t = storage.cephHealthTimer();
    expect(man.renderTimerService(t)).toContain("SyslogIdentifier=debvisor-ceph-health");
    expect(man.renderTimerService(t)).toContain("ExecStart=/usr/local/lib/debvisor/debvisor-ceph-health");
    expect(man.renderTimerUnit(t)).toMatch(/\[Timer\]\nOnCalendar=\*:0\/5\n/);
    expect(man.renderTimerUnit(t)).toContain("WantedBy=timers.target");
    expect(storage.CEPH_HEALTH_SCRIPT).toContain("ceph --connect-timeout 30 health --format json");
    expect(storage.CEPH_HEALTH_SCRIPT).toContain('echo "<6>$tag status=$status checks=$checks"');
    expect(storage.ZFS_SCRUB_SCRIPT).toContain("reason=zpool-missing");
    expect(man.renderTimerUnit(storage.zfsScrubTimer())).toContain("Persistent=true");
  });
  it("the first-boot unit runs once (marker) and is enabled for multi-user", () => {
    expect(man.FIRSTBOOT_SERVICE).toContain(`ConditionPathExists=!${man.FIRSTBOOT_MARKER}`);
    expect(man.FIRSTBOOT_SERVICE).toContain("Type=oneshot");
    expect(man.FIRSTBOOT_SERVICE).toContain("WantedBy=multi-user.target");
    // The marker is written only after the provisioning script succeeded.
    expect(man.FIRSTBOOT_RUNNER_SCRIPT.indexOf('mv -f "$marker.tmp" "$marker"')).toBeGreaterThan(man.FIRSTBOOT_RUNNER_SCRIPT.indexOf(`if ${man.PROVISION_SCRIPT}; then`));
  });
  it("validation names the field and value", () => {
    expect(() => man.validateManagementSettings({ cephHealthSchedule: "every 5 min; rm" })).toThrow('management.cephHealthSchedule: not a systemd OnCalendar expression (like daily, *:0/5 or Sun *-*-01..07 03:00:00), got "every 5 min; rm"');
    expect(() => man.validateManagementSettings({ zfsScrubPools: ["9bad"] })).toThrow('management.zfsScrubPools[0]: not a ZFS pool name, got "9bad"');
    expect(() => man.validateManagementSettings({ firstBootScript: "#!/bin/sh\ntrue\n" })).toThrow("management.firstBoot: must be true when firstBootScript is set");
  });
});

const hasShellcheck = spawnSync("shellcheck", ["--version"]).status === 0;
describe.skipIf(!hasShellcheck)("host helper scripts pass shellcheck", () => {
  it.each([
    ["ceph health", storage.CEPH_HEALTH_SCRIPT], ["zfs scrub", storage.ZFS_SCRUB_SCRIPT],
    ["first-boot runner", man.FIRSTBOOT_RUNNER_SCRIPT], ["default provisioning", man.DEFAULT_PROVISION_SCRIPT],
  ])("%s", (_n, text) => {
    expect(execFileSync("shellcheck", ["-s", "sh", "-"], { input: text, encoding: "utf8" })).toBe("");
  });
  it("the preseed's late script", () => {
    expect(execFileSync("shellcheck", ["-s", "sh", "-"], { input: `#!/bin/sh\n${man.renderLateScript(preseedOptions("bookworm"))}`, encoding: "utf8" })).toBe("");
  });
});

function preseedOptions(release: "bookworm" | "trixie"): import("../../components/management/index.js").PreseedOptions {
  return {
    hostname: "hv1", user: "debvisor", release, locale: "en_US.UTF-8", timezone: "Europe/Berlin",
    mirror: "http://deb.debian.org/debian", securityMirror: "http://deb.debian.org/debian-security", aptProxy: "http://10.213.0.1:3142",
    contrib: true, nonFree: false, installDisk: "/dev/disk/by-id/nvme-SYSTEM_1", partitioning: "lvm", authorizedKeys: [HOST_KEY],
  };
}

const hasDebconf = spawnSync("debconf-set-selections", ["--help"]).error === undefined;
describe("preseed", () => {
  it.each(["bookworm", "trixie"] as const)("%s: release, locale, timezone, mirror, recipe, key and late command", (release) => {
    const p = man.renderPreseed(preseedOptions(release));
    expect(p).toContain(`d-i mirror/suite string ${release}`);
    expect(p).toContain("d-i debian-installer/locale string en_US.UTF-8");
    expect(p).toContain("d-i time/zone string Europe/Berlin");
    expect(p).toContain("d-i mirror/http/hostname string deb.debian.org\nd-i mirror/http/directory string /debian\nd-i mirror/http/proxy string http://10.213.0.1:3142");
    expect(p).toContain("d-i partman-auto/disk string /dev/disk/by-id/nvme-SYSTEM_1");
    expect(p).toContain("d-i partman-auto/method string lvm");
    expect(p).toContain("d-i passwd/username string debvisor");
    expect(p).toContain("d-i passwd/user-password-crypted password !");
    const late = /^d-i preseed\/late_command string in-target sh -c 'echo ([A-Za-z0-9+/=]+) \| base64 -d/m.exec(p);
    expect(late).not.toBeNull();
    const script = Buffer.from(late![1], "base64").toString();
    expect(script).toContain("systemctl enable debvisor-firstboot.service");
    expect(script).toContain(Buffer.from(`${HOST_KEY}\n`).toString("base64"));
    expect(script).toContain(Buffer.from(man.FIRSTBOOT_SERVICE).toString("base64"));
  });
  it.skipIf(!hasDebconf).each(["bookworm", "trixie"] as const)("%s passes debconf-set-selections --checkonly", (release) => {
    const dir = mkdtempSync(join(tmpdir(), "preseed-"));
    try {
      const file = join(dir, "preseed.cfg");
      writeFileSync(file, man.renderPreseed(preseedOptions(release)));
      const r = spawnSync("debconf-set-selections", ["--checkonly", file], { encoding: "utf8" });
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      // The check can fail: a broken line is reported.
      writeFileSync(file, "d-i broken-line-without-type\n");
      expect(spawnSync("debconf-set-selections", ["--checkonly", file], { encoding: "utf8" }).status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it("validation names the field and value", () => {
    expect(() => man.renderPreseed({ ...preseedOptions("bookworm"), installDisk: "sda" })).toThrow('preseed.installDisk: must be a /dev/disk/by-id/ path or a /dev/<name> disk, got "sda"');
    expect(() => man.renderPreseed({ ...preseedOptions("bookworm"), authorizedKeys: [] })).toThrow("preseed.authorizedKeys: at least one SSH public key is required");
    expect(() => man.renderPreseed({ ...preseedOptions("bookworm"), partitioning: "zfs" as any })).toThrow('preseed.partitioning: must be one of atomic, lvm, got "zfs"');
  });
  it("the stack config renders a node's preseed from the same settings", async () => {
    mocks.reset();
    const cfg = validStackConfig();
    cfg.defaults.release = "trixie";
    cfg.defaults.preseed = { authorizedKeys: [HOST_KEY] };
    cfg.nodes[1].preseed = { installDisk: "/dev/sda" };
    const cluster = deployStack(cfg, { readFile: fakeFiles });
    await mocks.settle();
    expect(cluster.nodes.n1.preseed).toBeUndefined();
    const p = cluster.nodes.n2.preseed!;
    expect(p).toContain("d-i mirror/suite string trixie");
    expect(p).toContain("d-i netcfg/hostname string n2");
    expect(p).toContain("d-i partman-auto/disk string /dev/sda");
    expect(p).toContain("d-i mirror/http/proxy string http://10.213.0.1:3142");
  });
});

describe("stack config: security, management and preseed fields", () => {
  const load = (mutate: (c: any) => void) => {
    const cfg = validStackConfig();
    mutate(cfg);
    return () => loadStackConfig(cfg, { readFile: fakeFiles });
  };
  it("defaults the cluster networks to the nodes' addresses and merges objects over defaults", () => {
    const args = load((c) => {
      c.defaults.security = { controllerAddresses: ["10.213.0.1"], permitRootLogin: "no" };
      c.nodes[2].security = { firewall: "ufw" };
    })();
    expect(args.nodes[0].security?.clusterNetworks).toEqual(["10.213.0.12/32", "10.213.0.13/32", "10.213.0.14/32"]);
    expect(args.nodes[2].security).toMatchObject({ firewall: "ufw", controllerAddresses: ["10.213.0.1"], permitRootLogin: "no" });
    expect(args.nodes[0].security?.firewall).toBeUndefined();
  });
  it.each([
    [(c: any) => (c.defaults.security = { firewall: "pf" }), /defaults\.security\.firewall: must be one of nftables, ufw, got "pf"/],
    [(c: any) => (c.nodes[1].security = { clusterNetworks: ["10.0.0.0/8", "300.0.0.0/8"] }), /nodes\[1\]\.security\.clusterNetworks\[1\]: not an IP address or CIDR network, got "300.0.0.0\/8"/],
    [(c: any) => (c.defaults.security = { nodePorts: "32767-30000" }), /defaults\.security\.nodePorts: must be a port range "first-last", got "32767-30000"/],
    [(c: any) => (c.defaults.security = { extraRules: [{ port: "80", protocl: "tcp" }] }), /defaults\.security\.extraRules\[0\]\.protocl: unknown field/],
    [(c: any) => (c.nodes[0].security = { sshdSettings: { PermitRootLogin: "yes" } }), /nodes\[0\]\.security\.sshdSettings\.PermitRootLogin: is managed by DebVisor/],
    [(c: any) => { c.defaults.user = "root"; c.defaults.security = { permitRootLogin: "no" }; }, /defaults\.security\.permitRootLogin: would lock out the provisioning user root/],
    [(c: any) => (c.nodes[0].management = { zfsScrubSchedule: "daily; reboot" }), /nodes\[0\]\.management\.zfsScrubSchedule: not a systemd OnCalendar expression/],
    [(c: any) => (c.nodes[0].management = { firstBootScript: "#!/bin/sh\n" }), /nodes\[0\]\.management\.firstBoot: must be true when firstBootScript is set/],
    [(c: any) => { c.nodes[0].disks = ["/dev/disk/by-id/ata-A"]; c.nodes[0].preseed = { installDisk: "/dev/disk/by-id/ata-A", authorizedKeys: [HOST_KEY] }; }, /nodes\[0\]\.preseed\.installDisk: is one of the node's storage disks/],
    [(c: any) => (c.nodes[0].preseed = { installDisk: "/dev/sda" }), /nodes\[0\]\.preseed\.authorizedKeys: at least one SSH public key is required/],
    [(c: any) => (c.nodes[0].address = "n1.example"), /nodes\[0\]\.security\.clusterNetworks: required when node addresses are host names/],
  ])("%#: fails naming the field", (mutate, expected) => {
    expect(load(mutate)).toThrow(expected);
  });
});

describe("step parameters survive the shell round trip", () => {
  // Every text DebVisor sends must come back intact (a value holding both ' and ! once
  // came back as "it's \!" with a quoting library).
  const roundTrip = (params: Record<string, string>) => {
    const script = `${renderParams(params)}\nfor k in ${Object.keys(params).join(" ")}; do printf '%s\\0' "\${!k}"; done`;
    const out = execFileSync("bash", ["-c", script], { encoding: "utf8" }).split("\0").slice(0, -1);
    return Object.fromEntries(Object.keys(params).map((k, i) => [k, out[i]]));
  };
  const policy = {
    clusterNetworks: ["10.213.0.0/24"], controllerAddresses: ["10.213.0.1"], sshPorts: [22], roleRules: roleRules({ storage: true, kubernetes: true, virtualization: true }, { wireguard: true }),
    trustedInterfaces: sec.DEFAULT_TRUSTED_INTERFACES, extraRules: [],
  };
  it.each([
    ["first boot", man.firstBootParams()],
    ["ceph health timer", man.timerParams(storage.cephHealthTimer())],
    ["zfs scrub timer", man.timerParams(storage.zfsScrubTimer(undefined, ["tank", "fast"]))],
    ["firewall", { DV_NFT: sec.renderNftables(policy), DV_UFW_RULES: sec.renderUfwRules(policy).rules.join("\n") }],
    ["sshd", { DV_SSHD_CONF: sec.renderSshdConfig({ permitRootLogin: "no", allowUsers: ["a"], settings: { Banner: "/etc/issue.net" }, provisioningUser: "debvisor" }) }],
    ["fail2ban", { DV_JAIL: sec.renderJail({ sshPorts: [22], maxRetry: 5, findTime: "10m", banTime: "1h" }) }],
    ["upgrades", { DV_CONF: sec.renderUnattendedUpgrades({ release: "bookworm", securityOnly: true, held: DEFAULT_HELD_PACKAGES }), DV_PERIODIC: sec.PERIODIC }],
  ])("%s", (_n, params) => {
    expect(roundTrip(params)).toEqual(params);
  });
});
