import { beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { installMocks, parentName, type Registration } from "../support/mocks.js";
import { CANARY_KEY, HOST_KEY, fakeFiles, validStackConfig } from "../support/fixtures.js";

const mocks = await installMocks();
// Names each resource depends on, as sent to the engine.
const deps = { get: (name: string) => mocks.registrations.find((r) => r.name === name)?.dependsOn };
const pulumi = await import("@pulumi/pulumi");
const net = await import("../../components/network/index.js");
const { DebVisorNode, resolveHost, renderPayload } = await import("../../components/index.js");
const { loadStackConfig } = await import("../../stacks/index.js");

const host = { address: "10.213.0.14", user: "debvisor", privateKey: pulumi.secret(CANARY_KEY), hostKey: HOST_KEY };
const render = (s: import("../../components/network/index.js").NetworkSettings) => net.renderInterfaces(net.interfacesPlan(s));

describe("rendering /etc/network/interfaces.d/debvisor", () => {
  it("default: br0 takes over the detected interface and its own stanza (filled on the host)", () => {
    expect(render({})).toBe([
      "# Managed by DebVisor (network layer): changes here are overwritten.",
      "# The host's own stanza of the interface that carried its address is commented out",
      "# (#debvisor#) where it was; the original files are kept under /var/lib/debvisor/network.",
      "",
      "auto br0",
      "@@MIGRATE@@",
      "\tbridge-ports @@PRIMARY@@",
      "\tbridge-stp off",
      "\tbridge-fd 0",
      "\tbridge-maxwait 0",
      "@@MIGRATE_MORE@@",
      "",
    ].join("\n"));
    const p = net.applyParams({});
    expect(p.DV_MIGRATE).toBe("br0");
    expect(p.DV_MEMBERS).toBe("@@PRIMARY@@");
    expect(p.DV_DEFINED).toBe("br0");
    expect(p.DV_PACKAGES).toBe("bridge-utils");
    expect(p.DV_ROLLBACK_SECONDS).toBe("60");
  });
  it("an explicit address replaces the migration; stp and forward delay are rendered", () => {
    const t = render({ bridge: { name: "vmbr0", ports: ["eno1"], address: "192.0.2.10/24", gateway: "192.0.2.1", dnsNameservers: ["192.0.2.53"], stp: true, forwardDelay: 4 } });
    expect(t).toContain("auto vmbr0\niface vmbr0 inet static\n\taddress 192.0.2.10/24\n\tgateway 192.0.2.1\n\tdns-nameservers 192.0.2.53\n\tbridge-ports eno1\n\tbridge-stp on\n\tbridge-fd 4\n");
    expect(t).not.toContain("@@");
    expect(net.applyParams({ bridge: { address: "192.0.2.10/24" } }).DV_MIGRATE).toBe("");
    expect(render({ bridge: { address: "2001:db8::10/64" } })).toContain("iface br0 inet6 static\n\taddress 2001:db8::10/64");
  });
  it("bonds come before the bridge that uses them; 802.3ad and active-backup options", () => {
    const t = render({
      bridge: { ports: ["bond0"] },
      bonds: [
        { name: "bond0", mode: "802.3ad", slaves: ["eno1", "eno2"], lacpRate: "fast", xmitHashPolicy: "layer3+4" },
        { name: "bond1", mode: "active-backup", slaves: ["eno3", "eno4"], primary: "eno3", miimon: 200, address: "10.10.0.5/24" },
      ],
    });
    expect(t).toContain("auto bond0\niface bond0 inet manual\n\tbond-slaves eno1 eno2\n\tbond-mode 802.3ad\n\tbond-miimon 100\n\tbond-lacp-rate fast\n\tbond-xmit-hash-policy layer3+4\n");
    expect(t).toContain("auto bond1\niface bond1 inet static\n\taddress 10.10.0.5/24\n\tbond-slaves eno3 eno4\n\tbond-mode active-backup\n\tbond-miimon 200\n\tbond-primary eno3\n");
    expect(t).toContain("\tbridge-ports bond0\n");
    expect(t.indexOf("auto bond1")).toBeLessThan(t.indexOf("auto br0"));
    const p = net.applyParams({ bridge: { ports: ["bond0"] }, bonds: [{ name: "bond0", mode: "active-backup", slaves: ["eth0"] }] });
    expect(p.DV_MEMBERS).toBe("bond0 eth0");
    expect(p.DV_DEFINED).toBe("bond0 br0");
    expect(p.DV_PACKAGES).toBe("bridge-utils ifenslave");
  });
  it("VLAN sub-interfaces on the bridge and on a bond, after them", () => {
    const t = render({
      bonds: [{ name: "bond0", mode: "active-backup", slaves: ["eno2"] }],
      vlans: [{ id: 100, link: "br0", address: "10.100.0.5/24" }, { id: 20, link: "bond0" }],
    });
    expect(t).toContain("auto br0.100\niface br0.100 inet static\n\taddress 10.100.0.5/24\n\tvlan-raw-device br0\n");
    expect(t).toContain("auto bond0.20\niface bond0.20 inet manual\n\tvlan-raw-device bond0\n");
    expect(t.indexOf("auto br0\n")).toBeLessThan(t.indexOf("auto br0.100"));
    expect(net.applyParams({ vlans: [{ id: 5, link: "br0" }] }).DV_PACKAGES).toBe("bridge-utils vlan");
  });
  it("bridge: false renders no bridge and takes over nothing", () => {
    const p = net.applyParams({ bridge: false, vlans: [{ id: 7, link: "eth1" }] });
    expect(p.DV_INTERFACES).not.toContain("br0");
    expect(p.DV_MIGRATE).toBe("");
    expect(p.DV_MEMBERS).toBe("");
    expect(net.leavesNetworkAlone({ bridge: false })).toBe(true);
    expect(net.leavesNetworkAlone({ bridge: false, vlans: [{ id: 7, link: "eth1" }] })).toBe(false);
    expect(net.leavesNetworkAlone({})).toBe(false);
  });
  it("the generation changes with anything the apply step does, and only then", () => {
    const a = net.applyParams({});
    expect(net.applyParams({}).DV_GENERATION).toBe(a.DV_GENERATION);
    expect(net.applyParams({ rollbackSeconds: 30 }).DV_GENERATION).not.toBe(a.DV_GENERATION);
    expect(net.applyParams({ bridge: { stp: true } }).DV_GENERATION).not.toBe(a.DV_GENERATION);
    expect(net.confirmParams(a)).toEqual({ DV_GENERATION: a.DV_GENERATION, DV_ROLLBACK_SECONDS: "60" });
  });
});

describe("validation names the field and the value", () => {
  const v = (s: any) => () => net.validateNetworkSettings(s, "network");
  it("accepts the defaults, bridge: false and a full setup", () => {
    expect(v({})).not.toThrow();
    expect(v({ bridge: false })).not.toThrow();
    expect(v({
      bridge: { ports: ["bond0"], stp: false, forwardDelay: 0 }, rollbackSeconds: 120,
      bonds: [{ name: "bond0", mode: "802.3ad", slaves: ["eno1", "eno2"] }, { name: "bond1", mode: "active-backup", slaves: ["eno3"] }],
      vlans: [{ id: 100, link: "br0", address: "10.100.0.5/24", gateway: "10.100.0.1" }, { id: 20, link: "bond1" }, { id: 30, link: "eno4" }],
    })).not.toThrow();
  });
  it.each([
    [{ rollbackSeconds: 5 }, "network.rollbackSeconds: must be an integer from 10 to 3600, got 5"],
    [{ bridge: true }, "network.bridge: must be an object or false, got true"],
    [{ bridge: { name: "br.0" } }, 'network.bridge.name: not an interface name'],
    [{ bridge: { name: "averyveryverylongname" } }, 'network.bridge.name: not an interface name (letter first, then letters, digits, _ or -, at most 15), got "averyveryverylongname"'],
    [{ bridge: { ports: [] } }, "network.bridge.ports: must name at least one interface"],
    [{ bridge: { ports: ["eth0", "eth0"] } }, 'network.bridge.ports[1]: listed twice, got "eth0"'],
    [{ bridge: { ports: ["eth 0"] } }, 'network.bridge.ports[0]: not an interface name'],
    [{ bridge: { address: "10.0.0.5" } }, 'network.bridge.address: not an IP address with a prefix length like 10.0.0.5/24, got "10.0.0.5"'],
    [{ bridge: { gateway: "10.0.0.1" } }, 'network.bridge.gateway: needs an explicit address, got "10.0.0.1"'],
    [{ bridge: { address: "10.0.0.5/24", gateway: "ten" } }, 'network.bridge.gateway: not an IP address, got "ten"'],
    [{ bridge: { forwardDelay: 99 } }, "network.bridge.forwardDelay: must be an integer from 0 to 30 (seconds), got 99"],
    [{ vlans: [{ id: 0, link: "br0" }] }, "network.vlans[0].id: must be an integer from 1 to 4094, got 0"],
    [{ vlans: [{ id: 4095, link: "br0" }] }, "network.vlans[0].id: must be an integer from 1 to 4094, got 4095"],
    [{ vlans: [{ id: 10, link: "bond3" }] }, 'network.vlans[0].link: is not defined here (links: br0, or a NIC), got "bond3"'],
    [{ bridge: false, vlans: [{ id: 10, link: "br0" }] }, 'network.vlans[0].link: is not defined here (links: none, or a NIC), got "br0"'],
    [{ vlans: [{ id: 10, link: "br0" }, { id: 10, link: "br0" }] }, "network.vlans[1].id: duplicate of vlans[0] on br0, got 10"],
    [{ bridge: { ports: ["eth0"] }, vlans: [{ id: 10, link: "eth0" }] }, 'network.vlans[0].link: is a port of br0 (put the VLAN on the bridge), got "eth0"'],
    [{ bonds: [{ name: "bond0", mode: "active-backup", slaves: ["eth1"] }], vlans: [{ id: 10, link: "eth1" }] }, 'network.vlans[0].link: is a slave of bond0 (put the VLAN on the bond), got "eth1"'],
    [{ vlans: [{ id: 1000, link: "averylongnic01" }] }, "network.vlans[0]: interface name averylongnic01.1000 is longer than 15 characters"],
    [{ bonds: [{ name: "bond0", mode: "balance-rr", slaves: ["eth1"] }] }, 'network.bonds[0].mode: must be one of active-backup, 802.3ad, got "balance-rr"'],
    [{ bonds: [{ name: "bond0", mode: "active-backup", slaves: [] }] }, "network.bonds[0].slaves: active-backup needs at least 1 slave, got []"],
    [{ bonds: [{ name: "bond0", mode: "802.3ad", slaves: ["eth1"] }] }, 'network.bonds[0].slaves: 802.3ad needs at least 2 slaves, got ["eth1"]'],
    [{ bonds: [{ name: "bond0", mode: "active-backup", slaves: ["eth1"] }, { name: "bond1", mode: "active-backup", slaves: ["eth2", "eth1"] }] }, 'network.bonds[1].slaves[1]: already a slave of bond0, got "eth1"'],
    [{ bonds: [{ name: "bond0", mode: "active-backup", slaves: ["eth1", "eth1"] }] }, 'network.bonds[0].slaves[1]: already a slave of bond0, got "eth1"'],
    [{ bonds: [{ name: "br0", mode: "active-backup", slaves: ["eth1"] }] }, 'network.bonds[0].name: already defined by bridge.name, got "br0"'],
    [{ bridge: { ports: ["eth1"] }, bonds: [{ name: "bond0", mode: "active-backup", slaves: ["eth1"] }] }, 'network.bonds[0].slaves[0]: is also a bridge port (make the bond the port instead), got "eth1"'],
    [{ bonds: [{ name: "bond0", mode: "active-backup", slaves: ["eth1"], lacpRate: "fast" }] }, 'network.bonds[0].lacpRate: applies to 802.3ad bonds only, got "fast"'],
    [{ bonds: [{ name: "bond0", mode: "active-backup", slaves: ["eth1"], primary: "eth2" }] }, 'network.bonds[0].primary: must be one of its slaves (eth1), got "eth2"'],
    [{ bonds: [{ name: "bond0", mode: "active-backup", slaves: ["eth1"], miimon: -1 }] }, "network.bonds[0].miimon: must be an integer from 0 to 10000 (ms), got -1"],
    [{ bridge: { ports: ["bond0"] }, bonds: [{ name: "bond0", mode: "active-backup", slaves: ["eth1"], address: "10.0.0.2/24" }] }, 'network.bonds[0].address: a bridge port carries no address of its own, got "10.0.0.2/24"'],
    [{ bridge: { ports: ["bond7"] } }, 'network.bridge.ports[0]: names a bond that is not defined in bonds, got "bond7"'],
    [{ bridge: { address: "10.0.0.5/24", gateway: "10.0.0.1" }, vlans: [{ id: 9, link: "br0", address: "10.9.0.5/24", gateway: "10.9.0.1" }] }, 'network.vlans[0].gateway: only one default gateway per host (also set by bridge.gateway), got "vlans[0].gateway"'],
  ])("%j", (s, msg) => expect(v(s)).toThrow(msg));
});

describe("the stack schema agrees with the component", () => {
  const withNetwork = (network: unknown) => {
    const c = validStackConfig();
    c.nodes[0].network = network;
    return () => loadStackConfig(c, { readFile: fakeFiles });
  };
  it("accepts bridge: false, the defaults and a full setup", () => {
    expect(withNetwork({ bridge: false })).not.toThrow();
    expect(withNetwork({})).not.toThrow();
    expect(withNetwork({ bridge: { ports: ["bond0"] }, bonds: [{ name: "bond0", mode: "802.3ad", slaves: ["eno1", "eno2"] }], vlans: [{ id: 100, link: "br0" }], rollbackSeconds: 30 })).not.toThrow();
  });
  it.each([
    [{ vlans: [{ id: 5000, link: "br0" }] }, /nodes\[0\]\.network\.vlans\[0\]\.id: must be an integer from 1 to 4094, got 5000/],
    [{ bonds: [{ name: "bond0", mode: "balance-rr", slaves: ["eth1"] }] }, /nodes\[0\]\.network\.bonds\[0\]\.mode: must be one of active-backup, 802.3ad, got "balance-rr"/],
    [{ bridge: { adress: "10.0.0.1/24" } }, /nodes\[0\]\.network\.bridge\.adress: unknown field/],
    [{ bridge: true }, /nodes\[0\]\.network\.bridge/],
    [{ vlans: [{ id: 10, link: "bond3" }] }, /nodes\[0\]\.network\.vlans\[0\]\.link: is not defined here \(links: br0, or a NIC\), got "bond3"/],
    [{ bonds: [{ name: "bond0", mode: "active-backup", slaves: ["eth1"] }, { name: "bond1", mode: "active-backup", slaves: ["eth1"] }] }, /nodes\[0\]\.network\.bonds\[1\]\.slaves\[0\]: already a slave of bond0, got "eth1"/],
    [{ rollbackSeconds: 1 }, /nodes\[0\]\.network\.rollbackSeconds: .*got 1/],
  ])("%j", (network, re) => expect(withNetwork(network)).toThrow(re));
});

describe("HostNetwork under mocks", () => {
  let regs: Registration[];
  beforeAll(async () => {
    mocks.reset();
    new DebVisorNode("st", { host, profile: "storage", network: { rollbackSeconds: 90 } });
    new DebVisorNode("alone", { host: { ...host, address: "10.213.0.15" }, profile: "storage", network: { bridge: false } });
    new DebVisorNode("mini", { host: { ...host, address: "10.213.0.16" }, profile: "minimal" });
    new DebVisorNode("cb", { host: { ...host, address: "10.213.0.17" }, profile: "compute", network: { bridge: false }, virtualization: { allowEmulation: true } });
    regs = [...(await mocks.settle())];
  });
  const reg = (n: string) => regs.find((r) => r.name === n)!;

  it("with nothing to configure the next layer still waits for the one before (an empty component holds nothing back)", () => {
    expect(regs.filter((r) => parentName(r) === "cb-network")).toEqual([]);
    expect(reg("cb-containers-apply").dependsOn).toEqual(["cb-security-apply"]);
  });

  it("registers apply then confirm, parented to the layer, after the security layer", () => {
    expect(regs.filter((r) => parentName(r) === "st-network").map((r) => r.name).sort()).toEqual(["st-network-apply", "st-network-confirm"]);
    expect(reg("st-network").type).toBe("debvisor:network:HostNetwork");
    expect(parentName(reg("st-network"))).toBe("st");
    expect(deps.get("st-network-confirm")).toEqual(["st-network-apply"]);
    // The layer and its first step wait for the security layer's last step.
    expect(deps.get("st-network")).toEqual(["st-security-apply"]);
    expect(deps.get("st-network-apply")).toEqual(["st-security-apply"]);
  });
  it("ties the confirm step to the apply step's generation", async () => {
    const apply = reg("st-network-apply").inputs.stdin as string;
    const confirm = reg("st-network-confirm").inputs.stdin as string;
    const gen = /^export DV_GENERATION='([0-9a-f]+)'$/m.exec(apply)![1];
    expect(confirm).toContain(`export DV_GENERATION='${gen}'`);
    expect(apply).toMatch(/^export DV_ROLLBACK_SECONDS='90'$/m);
  });
  it("the confirm step dials long enough to outlast the rollback window", () => {
    const c = reg("st-network-confirm").inputs.connection;
    const a = reg("st-network-apply").inputs.connection;
    expect(a.dialErrorLimit).toBe(10);
    // Failed dials pause at most 5 s each: (90 s + 60 s) / 5 + 5 attempts.
    expect(c.dialErrorLimit).toBe(35);
    expect(c.dialErrorLimit * 5).toBeGreaterThan(90);
    expect(net.confirmHost(resolveHost({ ...host, dialErrorLimit: 99 }), 10).dialErrorLimit).toBe(99);
  });
  it("bridge: false with nothing else registers no step; profiles without the layer get none", () => {
    expect(regs.filter((r) => r.name.startsWith("alone-network-"))).toEqual([]);
    expect(reg("alone-network").type).toBe("debvisor:network:HostNetwork");
    expect(regs.filter((r) => r.name.startsWith("mini-network"))).toEqual([]);
  });
  it("bad settings throw before anything is registered", async () => {
    mocks.reset();
    expect(() => new DebVisorNode("y", { host, profile: "storage", network: { vlans: [{ id: 9999, link: "br0" }] } })).toThrow("node.network.vlans[0].id: must be an integer from 1 to 4094, got 9999");
    expect(() => new net.HostNetwork("z", { host: resolveHost(host), bonds: [{ name: "bond0", mode: "802.3ad", slaves: ["eth1"] }] })).toThrow("network.bonds[0].slaves: 802.3ad needs at least 2 slaves");
    expect(await mocks.settle()).toEqual([]);
  });
});

const hasShellcheck = spawnSync("shellcheck", ["--version"]).status === 0;
describe.skipIf(!hasShellcheck)("step scripts as rendered", () => {
  it.each(["network/apply.sh", "network/confirm.sh"])("%s passes shellcheck", (script) => {
    const a = net.applyParams({ vlans: [{ id: 10, link: "br0" }] });
    const r = spawnSync("shellcheck", ["-s", "bash", "-"], { input: renderPayload(script, script.endsWith("apply.sh") ? a : net.confirmParams(a)), encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});
