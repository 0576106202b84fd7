import { describe, expect, it } from "vitest";
import { installMocks } from "../support/mocks.js";
import { CANARY_KEY, HOST_KEY, fakeFiles, validStackConfig } from "../support/fixtures.js";

// Configs a new user tried that were accepted on 2026-11-30 and broke hosts (or did
// nothing) at deploy. Each is now refused before any resource is registered, naming the
// field and the value; the same rules hold for library users of DebVisorNode.
const mocks = await installMocks();
const pulumi = await import("@pulumi/pulumi");
const { loadStackConfig } = await import("../../stacks/index.js");
const { DebVisorNode, DebVisorCluster } = await import("../../components/index.js");

const load = (mutate: (c: any) => void) => () => {
  const c = validStackConfig();
  mutate(c);
  return loadStackConfig(c, { readFile: fakeFiles });
};
const host = { address: "10.213.0.12", user: "debvisor", privateKey: pulumi.secret(CANARY_KEY), hostKey: HOST_KEY };

describe("config safety: refused before any host is touched", () => {
  it.each([
    // 1. sshd must stay where every step, the firewall and fail2ban expect it.
    ["sshdSettings Port", (c: any) => (c.defaults.security = { sshdSettings: { Port: "2222" } }), /defaults\.security\.sshdSettings\.Port: is managed by DebVisor: every step, the firewall and fail2ban follow the node's `port`/],
    ["sshdSettings ListenAddress", (c: any) => (c.nodes[1].security = { sshdSettings: { listenaddress: "10.0.0.1" } }), /nodes\[1\]\.security\.sshdSettings\.listenaddress: is managed by DebVisor/],
    // 2. One static address on two nodes, directly or through defaults.network.
    ["the same VLAN address on two nodes", (c: any) => {
      c.nodes[0].network = { vlans: [{ id: 20, link: "br0", address: "10.20.0.5/24" }] };
      c.nodes[2].network = { vlans: [{ id: 20, link: "br0", address: "10.20.0.5/24" }] };
    }, /nodes\[2\]\.network\.vlans\[0\]\.address: 10\.20\.0\.5 is already nodes\[0\]\.network\.vlans\[0\]\.address/],
    ["a VLAN address every node gets from defaults", (c: any) => (c.defaults.network = { vlans: [{ id: 30, link: "br0", address: "10.30.0.1/24" }] }), /nodes\[1\]\.network\.vlans\[0\]\.address: 10\.30\.0\.1 is already nodes\[0\]\.network\.vlans\[0\]\.address/],
    ["a bridge address that is another node's SSH address", (c: any) => (c.nodes[0].network = { bridge: { ports: ["eth1"], address: "10.213.0.13/24" } }), /nodes\[0\]\.network\.bridge\.address: 10\.213\.0\.13 is already the SSH address of nodes\[1\]/],
    // 3. A bridge that would move the host off its SSH address; a dead default route.
    ["a bridge address other than the node's", (c: any) => (c.nodes[0].network = { bridge: { address: "10.213.0.99/24" } }), /nodes\[0\]\.network\.bridge\.address: must keep the node's SSH address 10\.213\.0\.12/],
    ["a gateway outside the bridge's network", (c: any) => (c.nodes[0].network = { bridge: { address: "10.213.0.12/24", gateway: "10.9.9.1" } }), /nodes\[0\]\.network\.bridge\.gateway: is outside 10\.213\.0\.12\/24's network/],
    // 4. Settings the node's profile would ignore.
    ["VMs on a minimal node", (c: any) => { c.nodes[0].profile = "minimal"; c.nodes[0].virtualization = { vms: [{ name: "vm1" }] }; }, /nodes\[0\]\.virtualization: the node's profile "minimal" has no virtualization layer/],
    ["VMs on a storage node", (c: any) => { c.nodes[1].profile = "storage"; c.nodes[1].virtualization = { vms: [{ name: "vm1" }] }; }, /nodes\[1\]\.virtualization: the node's profile "storage" has no virtualization layer/],
    ["disks on a compute node", (c: any) => { c.nodes[2].profile = "compute"; c.nodes[2].disks = ["/dev/disk/by-id/ata-X"]; }, /nodes\[2\]\.disks: the node's profile "compute" has no storage layer/],
    // 5. What only the host used to find out.
    ["a timezone that does not exist", (c: any) => (c.defaults.timezone = "Mars/Olympus"), /defaults\.timezone: not a timezone tzdata knows .*got "Mars\/Olympus"/],
    ["a locale Debian does not have", (c: any) => (c.nodes[0].locale = "xx_XX.UTF-8"), /nodes\[0\]\.locale: not a locale Debian supports .*got "xx_XX\.UTF-8"/],
    ["a bad OnCalendar", (c: any) => (c.defaults.management = { zfsScrubSchedule: "Sun 25:00" }), /defaults\.management\.zfsScrubSchedule: not a systemd OnCalendar expression/],
    ["a NAT network on the LAN's subnet", (c: any) => (c.nodes[0].virtualization = { networks: [{ name: "nat", mode: "nat", subnet: "10.213.0.0/24" }] }), /nodes\[0\]\.virtualization\.networks\[0\]\.subnet: overlaps the host's own network \(10\.213\.0\.12\)/],
    ["a bridge network on a bridge nothing creates", (c: any) => (c.nodes[0].virtualization = { networks: [{ name: "lan", mode: "bridge", bridge: "br9" }] }), /nodes\[0\]\.virtualization\.networks\[0\]\.bridge: nothing on this node creates bridge br9 \(the network layer's bridge is br0\)/],
    ["a VM on a bridge nothing creates", (c: any) => (c.nodes[0].virtualization = { pools: [{ name: "default", type: "dir", path: "/srv/vm" }], vms: [{ name: "vm1", nics: [{ bridge: "br1" }] }] }), /nodes\[0\]\.virtualization\.vms\[0\]\.nics\[0\]\.bridge: nothing on this node creates bridge br1/],
  ])("%s", async (_what, mutate, expected) => {
    mocks.reset();
    expect(load(mutate)).toThrow(expected);
    expect(await mocks.settle()).toEqual([]);
  });

  it("what stays allowed: defaults for layers a node lacks, a bridge network on br0 or on a libvirt bridge, a gateway inside the network", () => {
    expect(load((c) => {
      c.defaults.virtualization = { allowEmulation: true };
      c.nodes[0].profile = "minimal";
      c.nodes[1].network = { bridge: { address: "10.213.0.13/24", gateway: "10.213.0.1" } };
      c.nodes[2].virtualization = { networks: [{ name: "nat", mode: "nat", subnet: "192.168.150.0/24", bridge: "virbr9" }, { name: "lan", mode: "bridge", bridge: "br0" }] };
      c.nodes[2].timezone = "Europe/Kiev";
      c.nodes[2].locale = "de_DE.UTF-8";
      c.defaults.management = { cephHealthSchedule: "*:0/5", zfsScrubSchedule: "Sun *-*-01..07 03:00:00" };
    })).not.toThrow();
  });

  it("library users get the same rules", () => {
    expect(() => new DebVisorNode("a", { host, profile: "minimal", virtualization: { vms: [{ name: "x" }] } })).toThrow(/node\.virtualization: the node's profile "minimal" has no virtualization layer/);
    expect(() => new DebVisorNode("b", { host, network: { bridge: { address: "10.213.0.99/24" } } })).toThrow(/node\.network\.bridge\.address: must keep the node's SSH address 10\.213\.0\.12/);
    expect(() => new DebVisorCluster("c", {
      nodes: [
        { name: "a", host, network: { vlans: [{ id: 5, link: "br0", address: "10.5.0.1/24" }] } },
        { name: "b", host: { ...host, address: "10.213.0.13" }, network: { vlans: [{ id: 5, link: "br0", address: "10.5.0.1/24" }] } },
      ],
    })).toThrow(/cluster\.nodes\[1\]\.network\.vlans\[0\]\.address: 10\.5\.0\.1 is already cluster\.nodes\[0\]\.network\.vlans\[0\]\.address/);
  });
});
