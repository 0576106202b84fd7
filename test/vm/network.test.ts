import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { LAB_DIR, ROOT, lab, ok, run, vmAddress, vmsUp } from "./support.js";

// The network layer's VLAN and bond, unit-only on the container hosts (no 8021q or
// bonding in their kernel), brought up for real on two VMs (two NICs each) through the
// real Pulumi engine: br0 over an active-backup bond0 of eth0 + eth1 carries each VM's
// address, a VLAN 100 on br0 links the two VMs; a ping over the VLAN survives pulling
// v1's eth0 cable from the machine's side (the bond fails over to eth1, SSH keeps
// working), and a second `up` changes nothing.
const STACK = "vm-network";
const ENV = { PULUMI_CONFIG_PASSPHRASE: "debvisor-vm-network", DEBVISOR_SKIP_BUILD: "1" };
const configFile = join(ROOT, `Pulumi.${STACK}.yaml`);
const VMS = ["v1", "v2"];
const VLAN_ADDR: Record<string, string> = { v1: "10.100.0.1", v2: "10.100.0.2" };
let restore: () => Promise<void> = async () => {};

const pulumi = {
  run: (...args: string[]) => run("bash", ["scripts/pulumi.sh", ...args, "--stack", STACK], { env: ENV }),
  up: () => pulumi.run("up", "--yes", "--skip-preview", "--non-interactive"),
};

function cluster(): any {
  const c = parse(readFileSync(join(ROOT, "Pulumi.dev.yaml"), "utf8")).config["debvisor:cluster"];
  c.defaults.profile = "storage";
  c.defaults.security = { clusterNetworks: ["10.213.0.0/24", "10.100.0.0/24"], controllerAddresses: ["10.213.0.1"] };
  c.nodes = VMS.map((name, i) => ({
    name,
    address: vmAddress(i + 1),
    hostKeyFile: `${LAB_DIR}/hostkeys/${name}.pub`,
    network: {
      bridge: { ports: ["bond0"] },
      bonds: [{ name: "bond0", mode: "active-backup", slaves: ["eth0", "eth1"], primary: "eth0", miimon: 100 }],
      vlans: [{ id: 100, link: "br0", address: `${VLAN_ADDR[name]}/24` }],
      rollbackSeconds: 120,
    },
  }));
  return c;
}
function write(c: unknown) {
  const current = existsSync(configFile) ? (parse(readFileSync(configFile, "utf8")) ?? {}) : {};
  writeFileSync(configFile, stringify({ ...current, config: { ...current.config, "debvisor:cluster": c } }));
}
const sshWorks = async (h: string) =>
  (await run("ssh", ["-F", `${LAB_DIR}/ssh_config`, "-o", "ConnectTimeout=10", `debvisor@${h}`, "sudo -n true"])).code === 0;
const bonding = (h: string) => lab.out(h, "cat /proc/net/bonding/bond0");
const activeSlave = async (h: string) => (await bonding(h)).match(/Currently Active Slave: (\S+)/)?.[1];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.sequential("network layer (VLAN, bond) on two VMs through the engine", () => {
  beforeAll(async () => {
    await ok(run("bash", ["scripts/setup.sh"]), "npm run setup");
    await ok(run("npm", ["run", "--silent", "build"]), "npm run build");
    // Fresh VMs: the tier is replaced (container hosts stay as they are).
    if (labJson2VmCount() > 0) await ok(lab.cmd("up", "--vms", "0"), "lab up --vms 0");
    restore = (await vmsUp(["--vms", "2", "--vm-nics", "2"])).restore;
    await pulumi.run("stack", "rm", "--yes", "--force");
    await ok(pulumi.run("stack", "init"), `pulumi stack init ${STACK}`);
    write(cluster());
  });
  afterAll(async () => {
    await pulumi.run("stack", "rm", "--yes", "--force");
    rmSync(configFile, { force: true });
    await lab.cmd("link", "v1", "eth0", "up");
    await restore();
  });

  it("up: br0 over an active-backup bond of eth0 and eth1 carries each VM's address, VLAN 100 on br0", async () => {
    await ok(pulumi.up(), "first pulumi up");
    for (const [i, h] of VMS.entries()) {
      expect(await lab.out(h, "ip -4 -o addr show dev br0 | awk '{print $4}'"), h).toBe(`${vmAddress(i + 1)}/24`);
      expect(await lab.out(h, "ip -4 -o addr show dev br0.100 | awk '{print $4}'"), h).toBe(`${VLAN_ADDR[h]}/24`);
      expect(await lab.out(h, "ip -d -o link show dev br0.100"), h).toMatch(/vlan protocol 802\.1Q id 100/);
      expect(await lab.out(h, "ip -o link show dev bond0 | grep -o 'master [^ ]*'"), h).toBe("master br0");
      const b = await bonding(h);
      expect(b, h).toContain("Bonding Mode: fault-tolerance (active-backup)");
      expect(b, h).toMatch(/Slave Interface: eth0\nMII Status: up/);
      expect(b, h).toMatch(/Slave Interface: eth1\nMII Status: up/);
      expect(await activeSlave(h), h).toBe("eth0");
      expect(await sshWorks(h), h).toBe(true);
    }
  });

  it("the VMs ping each other over VLAN 100", async () => {
    const r = await lab.sh("v1", `ping -c 5 -i 0.3 -W 2 ${VLAN_ADDR.v2}`);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/5 packets transmitted, 5 received/);
    const back = await lab.sh("v2", `ping -c 3 -W 2 -I br0.100 ${VLAN_ADDR.v1}`);
    expect(back.code, back.stdout + back.stderr).toBe(0);
    // the VLAN's own counters saw the traffic (tagged frames on the wire)
    expect(Number(await lab.out("v1", "awk '/total frames received/ { print $NF }' /proc/net/vlan/br0.100"))).toBeGreaterThan(0);
  });

  it("a second up changes nothing and runs no remote command", async () => {
    await ok(pulumi.run("preview", "--expect-no-changes", "--non-interactive"), "preview --expect-no-changes");
    const steps = (h: string) => lab.out(h, "journalctl -q -t debvisor -o short-iso --no-pager | grep ' step ' || true");
    const before = await Promise.all(VMS.map(steps));
    const second = await ok(pulumi.up(), "second pulumi up");
    const after = await Promise.all(VMS.map(steps));
    // no step started on either VM (the new lines, if any, name them)
    expect(after.map((a, i) => a.slice(before[i].length).trim()), second.stdout.slice(-3000)).toEqual(["", ""]);
  });

  it("the bond keeps a ping over the VLAN going when v1's eth0 cable is pulled from the machine's side", async () => {
    expect(await activeSlave("v1")).toBe("eth0");
    // 150 pings, 0.2 s apart (30 s), started on v1 in the background
    await ok(lab.sh("v1", `rm -f /tmp/dv-ping.log; setsid nohup ping -n -i 0.2 -c 150 -W 1 ${VLAN_ADDR.v2} >/tmp/dv-ping.log 2>&1 </dev/null &`), "start ping");
    await sleep(8000);
    await ok(lab.cmd("link", "v1", "eth0", "down"), "lab link v1 eth0 down");
    await sleep(5000);
    const after = await bonding("v1");
    expect(after).toContain("Currently Active Slave: eth1");
    expect(after).toMatch(/Slave Interface: eth0\nMII Status: down/);
    expect(after).toMatch(/Slave Interface: eth0\n[\s\S]*?Link Failure Count: [1-9]/);
    // the management address rides on the same bond: SSH still gets in
    expect(await sshWorks("v1")).toBe(true);
    let log = "";
    for (let t = 0; t < 60; t++) {
      log = (await lab.sh("v1", "cat /tmp/dv-ping.log")).stdout;
      if (/packets transmitted/.test(log)) break;
      await sleep(2000);
    }
    const m = log.match(/(\d+) packets transmitted, (\d+) received/);
    expect(m, log.slice(-500)).not.toBeNull();
    const [sent, received] = [Number(m![1]), Number(m![2])];
    console.log(`[vm figures] bond failover: ${received}/${sent} pings answered across the cut`);
    expect(sent).toBe(150);
    expect(received).toBeGreaterThanOrEqual(140);
    // replies kept coming after the cut (the last pings were answered)
    expect(log).toMatch(/icmp_seq=14\d .*time=/);
  });

  it("plugging the cable back makes eth0 the active slave again (primary)", async () => {
    await ok(lab.cmd("link", "v1", "eth0", "up"), "lab link v1 eth0 up");
    let active: string | undefined;
    for (let t = 0; t < 20 && active !== "eth0"; t++) {
      await sleep(1000);
      active = await activeSlave("v1");
    }
    expect(active).toBe("eth0");
    expect(await bonding("v1")).toMatch(/Slave Interface: eth0\nMII Status: up/);
    const r = await lab.sh("v1", `ping -c 3 -W 2 ${VLAN_ADDR.v2}`);
    expect(r.code, r.stdout).toBe(0);
  });
});

function labJson2VmCount(): number {
  const f = `${LAB_DIR}/lab.json`;
  if (!existsSync(f)) return 0;
  return JSON.parse(readFileSync(f, "utf8")).hosts.filter((h: { kind?: string }) => h.kind === "vm").length;
}
