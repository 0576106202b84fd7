import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { LAB_DIR, ROOT, lab, ok, run } from "./support/run.js";
import { applyParams } from "../../components/network/index.js";

// The network layer through the real engine against two fresh lab hosts (n4, n5; profile
// storage: base, security, network): br0 takes over eth0 and the host's address, survives
// a reboot, and a config that cuts the host off is rolled back automatically.
// VLANs and bonds cannot be raised here (the lab's kernel has neither): their rendered
// stanzas are checked with ifupdown's own parser on a host instead.
const STACK = "e2e-network";
const ENV = { PULUMI_CONFIG_PASSPHRASE: "debvisor-e2e-network", DEBVISOR_SKIP_BUILD: "1" };
const configFile = join(ROOT, `Pulumi.${STACK}.yaml`);
const HOSTS = ["n4", "n5"];
const ADDR: Record<string, string> = { n4: "10.213.0.14", n5: "10.213.0.15" };

const pulumi = {
  run: (...args: string[]) => run("bash", ["scripts/pulumi.sh", ...args, "--stack", STACK], { env: ENV }),
  up: () => pulumi.run("up", "--yes", "--skip-preview", "--non-interactive"),
};

/** The dev stack's lab cluster, reduced to n4 and n5 with the storage profile. */
function cluster(mutate: (c: any) => void = () => {}): any {
  const c = parse(readFileSync(join(ROOT, "Pulumi.dev.yaml"), "utf8")).config["debvisor:cluster"];
  c.defaults.profile = "storage";
  c.defaults.security = { clusterNetworks: ["10.213.0.0/24"], controllerAddresses: ["10.213.0.1"] };
  c.nodes = HOSTS.map((h) => ({ name: h, address: ADDR[h], hostKeyFile: `${LAB_DIR}/hostkeys/${h}.pub` }));
  mutate(c);
  return c;
}
/** Sets `debvisor:cluster`, keeping what `stack init` wrote (the encryption salt). */
function write(c: unknown) {
  const current = existsSync(configFile) ? (parse(readFileSync(configFile, "utf8")) ?? {}) : {};
  writeFileSync(configFile, stringify({ ...current, config: { ...current.config, "debvisor:cluster": c } }));
}
/** SSH as the provisioning user, through the lab's pinned config: does the host answer? */
const sshWorks = async (h: string) =>
  (await run("ssh", ["-F", `${LAB_DIR}/ssh_config`, "-o", "ConnectTimeout=5", `debvisor@${h}`, "sudo -n true"])).code === 0;
const bridgeOf = async (h: string) => ({
  br0: await lab.out(h, "ip -4 -o addr show dev br0 | awk '{print $4}'"),
  eth0: await lab.out(h, "ip -4 -o addr show dev eth0 | awk '{print $4}'"),
  master: await lab.out(h, "ip -o link show dev eth0 | grep -o 'master [^ ]*' | cut -d' ' -f2 || true"),
});

describe.sequential("network layer against the lab", () => {
  beforeAll(async () => {
    await ok(run("bash", ["scripts/setup.sh"]), "npm run setup");
    await ok(run("npm", ["run", "--silent", "build"]), "npm run build");
    await lab.freshHosts(5, "bookworm", ...HOSTS);
    await pulumi.run("stack", "rm", "--yes", "--force");
    await ok(pulumi.run("stack", "init"), `pulumi stack init ${STACK}`);
    write(cluster());
  });
  afterAll(async () => {
    await pulumi.run("stack", "rm", "--yes", "--force");
    rmSync(configFile, { force: true });
  });

  it("up: br0 takes over eth0 and the host's address, SSH still works", async () => {
    await ok(pulumi.up(), "first pulumi up");
    for (const h of HOSTS) {
      expect(await bridgeOf(h), h).toEqual({ br0: `${ADDR[h]}/24`, eth0: "", master: "br0" });
      expect(await sshWorks(h), h).toBe(true);
      // The host's own stanza no longer configures the address; DebVisor's file does.
      expect(await lab.out(h, "grep -c '^#debvisor# iface eth0 inet static' /etc/network/interfaces"), h).toBe("1");
      const q = await lab.out(h, "ifquery br0");
      expect(q.split("\n"), h).toEqual(expect.arrayContaining([`address: ${ADDR[h]}`, "netmask: 255.255.255.0", "bridge-ports: eth0"]));
      // Committed: no rollback left armed.
      expect(await lab.out(h, "systemctl is-active debvisor-network-rollback.timer || true"), h).toBe("inactive");
    }
  });

  it("a second up changes nothing and runs no remote command", async () => {
    await ok(pulumi.run("preview", "--expect-no-changes", "--non-interactive"), "preview --expect-no-changes");
    const before = await Promise.all(HOSTS.map((h) => lab.stepsRun(h)));
    await ok(pulumi.up(), "second pulumi up");
    expect(await Promise.all(HOSTS.map((h) => lab.stepsRun(h)))).toEqual(before);
  });

  it("br0 comes back with the address after a reboot", async () => {
    await ok(lab.cmd("restart", "n4"), "reboot n4");
    expect(await bridgeOf("n4")).toEqual({ br0: `${ADDR.n4}/24`, eth0: "", master: "br0" });
    expect(await sshWorks("n4")).toBe(true);
  });

  it("a config that cuts the host off is rolled back automatically and the host answers again", async () => {
    const before = await lab.out("n4", "cat /etc/network/interfaces.d/debvisor /etc/network/interfaces");
    // Without `ports` the loader refuses a bridge address other than the node's (the bridge
    // takes over the interface that carries it); naming the port passes the loader, and the
    // host is cut off all the same.
    expect((await pulumi.run("preview", "--non-interactive")).code).toBe(0);
    write(cluster((c) => (c.nodes[0].network = { bridge: { address: "192.0.2.14/24" }, rollbackSeconds: 20 })));
    const refused = await pulumi.run("preview", "--non-interactive");
    expect(refused.code).not.toBe(0);
    expect(refused.stdout + refused.stderr).toContain("must keep the node's SSH address 10.213.0.14");
    write(cluster((c) => (c.nodes[0].network = { bridge: { ports: ["eth0"], address: "192.0.2.14/24" }, rollbackSeconds: 20 })));
    const t0 = Date.now();
    const r = await pulumi.up();
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toContain("the new network config was rolled back: the host did not answer a new SSH connection within 20 s");
    expect(Date.now() - t0).toBeGreaterThan(20_000);
    expect(await sshWorks("n4")).toBe(true);
    expect(await bridgeOf("n4")).toEqual({ br0: `${ADDR.n4}/24`, eth0: "", master: "br0" });
    expect(await lab.out("n4", "cat /etc/network/interfaces.d/debvisor /etc/network/interfaces")).toBe(before);
    expect(await lab.out("n4", "journalctl -o cat -u debvisor-network-rollback.service --no-pager | grep -c 'rollback .* done'")).toBe("1");
    // The same bad config keeps failing (it is still not applied) without touching the host.
    const again = await pulumi.up();
    expect(again.code).not.toBe(0);
    expect(again.stdout + again.stderr).toContain("rolled back");
    expect(await bridgeOf("n4")).toEqual({ br0: `${ADDR.n4}/24`, eth0: "", master: "br0" });
  });

  it("the good config converges again", async () => {
    write(cluster());
    await ok(pulumi.up(), "pulumi up with the good config");
    await ok(pulumi.run("preview", "--expect-no-changes", "--non-interactive"), "preview --expect-no-changes");
    expect(await bridgeOf("n4")).toEqual({ br0: `${ADDR.n4}/24`, eth0: "", master: "br0" });
    expect(await sshWorks("n4")).toBe(true);
  });

  it("bond and VLAN stanzas parse with ifupdown (not raised: no kernel support in the lab)", async () => {
    const p = applyParams({
      bridge: { ports: ["bond0"], address: "10.213.0.99/24" },
      bonds: [{ name: "bond0", mode: "802.3ad", slaves: ["eth1", "eth2"], lacpRate: "fast" }, { name: "bond1", mode: "active-backup", slaves: ["eth3", "eth4"], primary: "eth3" }],
      vlans: [{ id: 100, link: "br0", address: "10.100.0.5/24" }, { id: 20, link: "bond1" }],
    });
    await ok(lab.sh("n5", "apt-get install -y -q --no-install-recommends ifenslave vlan >/dev/null"), "install ifenslave vlan on n5");
    await ok(lab.sh("n5", "cat >/tmp/dv-interfaces", p.DV_INTERFACES), "staged file");
    expect((await lab.out("n5", "ifquery -i /tmp/dv-interfaces --list -a")).split("\n").filter((i) => i !== "lo")).toEqual(["bond0", "bond1", "br0", "br0.100", "bond1.20"]);
    expect(await lab.out("n5", "ifquery -i /tmp/dv-interfaces bond0")).toMatch(/bond-slaves: eth1 eth2\n[\s\S]*bond-mode: 802.3ad[\s\S]*bond-lacp-rate: fast/);
    expect(await lab.out("n5", "ifquery -i /tmp/dv-interfaces bond1")).toContain("bond-primary: eth3");
    expect(await lab.out("n5", "ifquery -i /tmp/dv-interfaces br0.100")).toMatch(/^address: 10.100.0.5\nvlan-raw-device: br0\n[\s\S]*netmask: 255.255.255.0/);
    // ifup's dry run plans every interface, the VLANs on their links, without an error.
    const dry = await lab.sh("n5", "mkdir -p /tmp/dv-state && ifup --no-act -v -i /tmp/dv-interfaces --state-dir /tmp/dv-state -a 2>&1; echo rc=$?");
    expect(dry.stdout).toMatch(/rc=0\s*$/);
    for (const i of ["bond0", "bond1", "br0", "br0.100", "bond1.20"]) expect(dry.stdout).toContain(`ifup: configuring interface ${i}=${i} (inet)`);
    expect(dry.stdout).toContain("ip link add link br0 name br0.100 type vlan id 100");
    expect(dry.stdout).toContain("ip link add link bond1 name bond1.20 type vlan id 20");
  });
});
