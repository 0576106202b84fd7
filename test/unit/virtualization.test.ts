import { beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { installMocks, parentName, type Registration, partText } from "../support/mocks.js";
import { CANARY_KEY, HOST_KEY, fakeFiles, validStackConfig } from "../support/fixtures.js";

const mocks = await installMocks();
// Names each resource depends on, as sent to the engine.
const deps = { get: (name: string) => mocks.registrations.find((r) => r.name === name)?.dependsOn };
const pulumi = await import("@pulumi/pulumi");
const virt = await import("../../components/virtualization/index.js");
const { DebVisorNode, resolveHost } = await import("../../components/index.js");
const { virtualizationSchema } = await import("../../components/virtualization/schema.js");
const { loadStackConfig } = await import("../../stacks/index.js");

const host = { address: "10.213.0.11", user: "debvisor", privateKey: pulumi.secret(CANARY_KEY), hostKey: HOST_KEY };
const nets: import("../../components/virtualization/index.js").LibvirtNetwork[] = [
  { name: "lan", mode: "bridge" },
  { name: "vnat", mode: "nat", subnet: "192.168.150.0/24", dhcp: { start: "192.168.150.100", end: "192.168.150.200" } },
  { name: "iso", mode: "isolated", subnet: "10.77.0.0/24", bridge: "virbr-iso", autostart: false },
];
const pools = [{ name: "images", type: "dir" as const, path: "/srv/vm-images" }];

describe("libvirt XML", () => {
  it("renders a bridged network onto br0 by default, and names no address", () => {
    expect(virt.renderNetworkXml(nets[0])).toBe("<network>\n  <name>lan</name>\n  <forward mode=\"bridge\"/>\n  <bridge name=\"br0\"/>\n</network>");
    expect(virt.renderNetworkXml({ name: "lan2", mode: "bridge", bridge: "br1" })).toContain('<bridge name="br1"/>');
  });
  it("renders NAT with the subnet's first address for the host and the DHCP range", () => {
    expect(virt.renderNetworkXml(nets[1])).toBe([
      "<network>", "  <name>vnat</name>", '  <forward mode="nat"/>', '  <ip address="192.168.150.1" prefix="24">', "    <dhcp>",
      '      <range start="192.168.150.100" end="192.168.150.200"/>', "    </dhcp>", "  </ip>", "</network>",
    ].join("\n"));
  });
  it("renders an isolated network without <forward>, with its own bridge when named", () => {
    const x = virt.renderNetworkXml(nets[2]);
    expect(x).not.toContain("forward");
    expect(x).toContain('<bridge name="virbr-iso" stp="on" delay="0"/>');
    expect(x).toContain('<ip address="10.77.0.1" prefix="24"/>');
  });
  it("renders a dir pool", () => {
    expect(virt.renderPoolXml(pools[0])).toBe('<pool type="dir">\n  <name>images</name>\n  <target>\n    <path>/srv/vm-images</path>\n  </target>\n</pool>');
  });
  it("escapes what it renders (no hand-made escaping)", () => {
    expect(virt.renderPoolXml({ name: "p", type: "dir", path: "/srv/a&b<c" })).toContain("<path>/srv/a&amp;b&lt;c</path>");
  });
  it("ignores only what libvirt adds on its own", () => {
    expect(virt.networkIgnoredPaths(nets[0])).toEqual(["uuid", "mac", "forward/nat"]);
    expect(virt.networkIgnoredPaths(nets[1])).toEqual(["uuid", "mac", "forward/nat", "bridge"]); // libvirt picks virbrN
    expect(virt.networkIgnoredPaths(nets[2])).toEqual(["uuid", "mac", "forward/nat"]);
    expect(virt.POOL_IGNORED_PATHS).toEqual(["uuid", "capacity", "allocation", "available", "source", "target/permissions"]);
  });
});

// The comparison the steps run on the host (python3), against definitions as libvirt 9.0
// (bookworm) returns them from `net-dumpxml` / `pool-dumpxml`.
const hasPython = spawnSync("python3", ["--version"]).status === 0;
describe.skipIf(!hasPython)("definition comparison (desired covered by live, nothing unexpected in live)", () => {
  const match = (want: string, live: string, ignore: string[]) =>
    spawnSync("python3", ["-c", virt.XML_MATCH], { env: { ...process.env, DV_WANT: want, DV_LIVE: live, DV_IGNORE: ignore.join(" ") } }).status === 0;
  const liveNat = (range: string, extra = "") => `<network>
  <name>vnat</name>
  <uuid>0de7846a-25d4-49e2-b406-50a40030e688</uuid>
  <forward mode='nat'>
    <nat>
      <port start='1024' end='65535'/>
    </nat>
  </forward>
  <bridge name='virbr1' stp='on' delay='0'/>
  <mac address='52:54:00:c7:0b:8c'/>
  <ip address='192.168.150.1' prefix='24'>
    <dhcp>
      ${range}${extra}
    </dhcp>
  </ip>
</network>`;
  const want = virt.renderNetworkXml(nets[1]);
  const ign = virt.networkIgnoredPaths(nets[1]);
  it("accepts libvirt's own additions (uuid, mac, bridge, NAT ports, stp/delay)", () => {
    expect(match(want, liveNat("<range start='192.168.150.100' end='192.168.150.200'/>"), ign)).toBe(true);
  });
  it("sees a changed DHCP range, an extra range and a removed DHCP block", () => {
    expect(match(want, liveNat("<range start='192.168.150.100' end='192.168.150.201'/>"), ign)).toBe(false);
    expect(match(want, liveNat("<range start='192.168.150.100' end='192.168.150.200'/>", "<range start='192.168.150.210' end='192.168.150.220'/>"), ign)).toBe(false);
    expect(match(virt.renderNetworkXml({ ...nets[1], dhcp: undefined }), liveNat("<range start='192.168.150.100' end='192.168.150.200'/>"), ign)).toBe(false);
  });
  it("sees another bridge, mode or name", () => {
    const live = "<network><name>lan</name><uuid>4462</uuid><forward mode='bridge'/><bridge name='br0'/></network>";
    expect(match(virt.renderNetworkXml(nets[0]), live, virt.networkIgnoredPaths(nets[0]))).toBe(true);
    expect(match(virt.renderNetworkXml({ ...nets[0], bridge: "br1" }), live, [])).toBe(false);
    expect(match(virt.renderNetworkXml({ name: "lan", mode: "nat", subnet: "10.1.0.0/24" }), live, ign)).toBe(false);
    expect(match(virt.renderNetworkXml({ ...nets[0], name: "lan2" }), live, ign)).toBe(false);
  });
  it("compares pools by name and path, not by size or permissions", () => {
    const live = (path: string) => `<pool type='dir'><name>images</name><uuid>d42b</uuid><capacity unit='bytes'>270553174016</capacity>
      <allocation unit='bytes'>1</allocation><available unit='bytes'>2</available><source>
  </source><target><path>${path}</path><permissions><mode>0755</mode><owner>0</owner><group>0</group></permissions></target></pool>`;
    expect(match(virt.renderPoolXml(pools[0]), live("/srv/vm-images"), virt.POOL_IGNORED_PATHS)).toBe(true);
    expect(match(virt.renderPoolXml(pools[0]), live("/srv/other"), virt.POOL_IGNORED_PATHS)).toBe(false);
  });
  it("treats unreadable live XML as different", () => {
    expect(match(want, "", ign)).toBe(false);
  });
});

describe("validateVirtualizationSettings", () => {
  const v = (s: any) => () => virt.validateVirtualizationSettings(s, "virtualization");
  it("accepts the defaults and a full config", () => {
    expect(v({})).not.toThrow();
    expect(v({ allowEmulation: true, nested: true, cockpit: false, networks: nets, pools })).not.toThrow();
  });
  it("names the field and the bad value", () => {
    expect(v({ networks: [nets[0], { name: "x", mode: "foo" }] })).toThrow('virtualization.networks[1].mode: must be one of bridge, nat, isolated, got "foo"');
    expect(v({ allowEmulation: "yes" })).toThrow('virtualization.allowEmulation: must be true or false, got "yes"');
    expect(v({ networks: [{ name: "bad name", mode: "bridge" }] })).toThrow(/virtualization\.networks\[0\]\.name: .*got "bad name"/);
    expect(v({ networks: [{ name: "a", mode: "bridge", bridge: "a-very-long-bridge" }] })).toThrow(/networks\[0\]\.bridge: not an interface name/);
    expect(v({ networks: [nets[0], { ...nets[0] }] })).toThrow('virtualization.networks[1].name: duplicate of networks[0].name, got "lan"');
  });
  it("checks subnets and DHCP ranges of nat/isolated networks", () => {
    expect(v({ networks: [{ name: "n", mode: "nat" }] })).toThrow(/networks\[0\]\.subnet: required for a nat network/);
    expect(v({ networks: [{ name: "n", mode: "nat", subnet: "192.168.1.1/24" }] })).toThrow(/networks\[0\]\.subnet: must be an IPv4 network .* got "192.168.1.1\/24"/);
    expect(v({ networks: [{ name: "n", mode: "nat", subnet: "10.0.0.0/31" }] })).toThrow(/networks\[0\]\.subnet/);
    expect(v({ networks: [{ name: "b", mode: "bridge", subnet: "10.0.0.0/24" }] })).toThrow(/networks\[0\]\.subnet: not used in bridge mode/);
    expect(v({ networks: [{ ...nets[1], dhcp: { start: "192.168.150.1", end: "192.168.150.9" } }] })).toThrow(/networks\[0\]\.dhcp\.start: must be inside 192.168.150.0\/24 and after the host's address/);
    expect(v({ networks: [{ ...nets[1], dhcp: { start: "192.168.150.10", end: "192.168.151.9" } }] })).toThrow(/networks\[0\]\.dhcp\.end: must be inside/);
    expect(v({ networks: [{ ...nets[1], dhcp: { start: "192.168.150.20", end: "192.168.150.10" } }] })).toThrow(/networks\[0\]\.dhcp: start must not come after end/);
    expect(v({ networks: [nets[1], { name: "n2", mode: "isolated", subnet: "192.168.0.0/16" }] })).toThrow(/networks\[1\]\.subnet: overlaps networks\[0\]\.subnet/);
    expect(v({ networks: [nets[2], { name: "n2", mode: "isolated", subnet: "10.78.0.0/24", bridge: "virbr-iso" }] })).toThrow(/networks\[1\]\.bridge: already the bridge of networks\[0\]/);
  });
  it("checks pools: type, path, duplicates", () => {
    expect(v({ pools: [{ name: "z", type: "lvm", path: "/tank" }] })).toThrow(/pools\[0\]\.type: must be one of dir, rbd, zfs/);
    expect(v({ pools: [{ name: "z", type: "zfs", path: "/tank" }] })).toThrow(/pools\[0\]\.path: is for dir pools, this one is zfs/);
    expect(v({ pools: [{ name: "z", type: "zfs" }] })).toThrow(/pools\[0\]\.dataset: a zfs pool needs its dataset/);
    expect(v({ pools: [{ name: "z", type: "dir" }] })).toThrow(/pools\[0\]\.path: a dir pool needs its directory/);
    expect(v({ pools: [{ name: "c", type: "rbd", cephPool: "bad pool" }] })).toThrow(/pools\[0\]\.cephPool: not a Ceph pool name/);
    expect(v({ pools: [{ name: "p", type: "dir", path: "relative" }] })).toThrow(/pools\[0\]\.path: must be an absolute directory path/);
    expect(v({ pools: [{ name: "p", type: "dir", path: "/srv/../etc" }] })).toThrow(/pools\[0\]\.path/);
    expect(v({ pools: [{ name: "p", type: "dir", path: "/var" }] })).toThrow(/pools\[0\]\.path: is a system directory/);
    expect(v({ pools: [pools[0], { name: "q", type: "dir", path: "/srv/vm-images" }] })).toThrow(/pools\[1\]\.path: already the path of pools\[0\]/);
    expect(v({ pools: [{ ...pools[0], size: 1 }] })).toThrow(/pools\[0\]\.size: unknown field/);
  });
  it("checks that VMs use defined networks and pools", () => {
    expect(v({ networks: nets, pools, vms: [{ name: "vm1", nics: [{ network: "vnat" }, { bridge: "br0" }], disks: [{ name: "root", sizeGiB: 1, pool: "images" }] }] })).not.toThrow();
    expect(v({ networks: nets, pools, vms: [{ name: "vm1", nics: [{ network: "default" }] }] })).toThrow(/virtualization\.vms\[0\]\.nics\[0\]\.network: not a network of virtualization\.networks .* got "default"/);
    expect(v({ networks: nets, pools, vms: [{ name: "vm1", disks: [{ name: "root", sizeGiB: 1 }] }] })).toThrow(/virtualization\.vms\[0\]\.disks\[0\]\.pool: not a pool .* got "default"/);
    expect(v({ vms: [{ name: "vm1" }, { name: "vm1" }] })).toThrow(/vms\[1\]\.name: duplicate/);
  });
  it("the stack schema agrees (zod reports the same rule at the same field)", () => {
    const r = virtualizationSchema.safeParse({ networks: [{ name: "x", mode: "foo" }] });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0].path).toEqual(["networks", 0, "mode"]);
    const u = virtualizationSchema.safeParse({ pools: [{ name: "p", type: "dir", path: "/srv/p", extra: 1 }] });
    expect(u.success).toBe(false);
    expect(virtualizationSchema.safeParse({ allowEmulation: true, nested: true, cockpit: true, networks: nets, pools }).success).toBe(true);
  });
  it("the stack loader checks the rules across fields on the settings merged over defaults", () => {
    const withVirt = (defaults: unknown, node: unknown) => {
      const c = validStackConfig();
      c.defaults.virtualization = defaults;
      c.nodes[0].virtualization = node;
      return () => loadStackConfig(c, { readFile: fakeFiles });
    };
    // A node's VMs may use the networks and pools its defaults define...
    const vm = { name: "vm1", disks: [{ name: "root", sizeGiB: 1, pool: "images" }], nics: [{ network: "lan" }] };
    expect(withVirt({ networks: nets, pools }, { vms: [vm] })).not.toThrow();
    // ...and a reference to one defined nowhere fails naming the node's field.
    expect(withVirt({ pools }, { vms: [vm] })).toThrow(/nodes\[0\]\.virtualization\.vms\[0\]\.nics\[0\]\.network: not a network/);
    expect(withVirt({}, { networks: [{ ...nets[1], dhcp: { start: "192.168.150.20", end: "192.168.150.10" } }] }))
      .toThrow(/nodes\[0\]\.virtualization\.networks\[0\]\.dhcp: .*start must not come after end/);
  });
});

describe("VirtualizationHost under mocks", () => {
  let regs: Registration[];
  beforeAll(async () => {
    mocks.reset();
    new DebVisorNode("hv", { host, profile: "compute", virtualization: { allowEmulation: true, nested: true, networks: nets, pools } });
    new DebVisorNode("hw", { host: { ...host, address: "10.213.0.12" }, profile: "compute", virtualization: { cockpit: false } });
    regs = [...(await mocks.settle())];
  });
  const cmd = (n: string) => regs.find((r) => r.name === n)!;
  const stdin = (n: string) => cmd(n).inputs.stdin as string;
  /** One part of a node's setup step (check, packages, libvirtd, cockpit). */
  const part = (node: string, name: string) => partText(stdin(`${node}-virtualization-apply`), name);

  it("registers the setup step (check, packages, libvirtd, Cockpit) and one step per network and pool, parented to the layer", () => {
    expect(regs.filter((r) => parentName(r) === "hv-virtualization").map((r) => r.name)).toEqual([
      "hv-virtualization-apply", "hv-virtualization-net-lan", "hv-virtualization-net-vnat", "hv-virtualization-net-iso", "hv-virtualization-pool-images",
    ]);
    expect(cmd("hv-virtualization").type).toBe("debvisor:virtualization:VirtualizationHost");
    expect(regs.filter((r) => parentName(r) === "hw-virtualization").map((r) => r.name)).toEqual(["hw-virtualization-apply"]);
    const at = (node: string, p: string) => stdin(`${node}-virtualization-apply`).indexOf(`# --- part ${p}: `);
    expect(at("hv", "check")).toBeLessThan(at("hv", "packages"));
    expect(at("hv", "packages")).toBeLessThan(at("hv", "libvirtd"));
    expect(at("hv", "libvirtd")).toBeLessThan(at("hv", "cockpit"));
    expect(at("hw", "cockpit")).toBe(-1);
    // The check runs every time (it reports the acceleration); the others once per content.
    expect(part("hv", "check")).not.toContain("dv_part_due");
    expect(part("hv", "packages")).toContain("dv_part_due packages");
  });
  it("runs the KVM check first: before any package, after the layers before it", () => {
    // A component's dependsOn does not hold its children back: the first step carries it.
    expect(deps.get("hv-virtualization")!.length).toBe(1);
    expect(deps.get("hv-virtualization")![0]).toMatch(/^hv-containers/);
    expect(deps.get("hv-virtualization-apply")).toEqual(deps.get("hv-virtualization"));
    expect(deps.get("hv-virtualization-net-lan")).toEqual(["hv-virtualization-apply"]);
    expect(deps.get("hv-virtualization-pool-images")).toEqual(["hv-virtualization-net-iso"]);
  });
  it("passes allowEmulation and nested to the check (nested: kvm_intel and kvm_amd nested=1 in modprobe.d)", () => {
    expect(part("hv", "check")).toMatch(/^export DV_ALLOW_EMULATION='true'$/m);
    expect(part("hv", "check")).toMatch(/^export DV_NESTED='true'$/m);
    expect(virt.NESTED_CONF).toMatch(/^options kvm_intel nested=1$/m);
    expect(virt.NESTED_CONF).toMatch(/^options kvm_amd nested=1$/m);
    expect(part("hw", "check")).toMatch(/^export DV_ALLOW_EMULATION='false'$/m);
    expect(part("hw", "check")).toMatch(/^export DV_NESTED='false'$/m);
  });
  it("the check's failure names /dev/kvm and the setting to change", () => {
    expect(part("hw", "check")).toContain("/dev/kvm is missing");
    expect(part("hw", "check")).toContain("set virtualization.allowEmulation: true");
  });
  it("installs QEMU, libvirt, firmware and Cockpit's pages, and keeps NetworkManager off every interface", () => {
    const p = part("hv", "packages");
    expect(p).toContain("export DV_PACKAGES='qemu-system-x86 qemu-utils libvirt-daemon-system libvirt-clients dnsmasq-base ovmf seabios cockpit cockpit-machines cockpit-storaged cockpit-networkmanager'");
    expect(p).toContain("\nunmanaged-devices=*");
    expect(p).toMatch(/^no-auto-default=\*$/m);
    // The drop-in is written before dv_install runs.
    const script = p.slice(p.indexOf("# --- part packages: virtualization/packages.sh"));
    expect(script.indexOf("dv_write_file \"$nm_conf\"")).toBeLessThan(script.indexOf("dv_install \"${pkgs[@]}\""));
    const hw = part("hw", "packages");
    expect(hw).toContain("export DV_PACKAGES='qemu-system-x86 qemu-utils libvirt-daemon-system libvirt-clients dnsmasq-base ovmf seabios'");
    expect(hw).toMatch(/^export DV_NM_CONF=''$/m);
  });
  it("network and pool steps run on delete too (DV_OP=delete); the others do not", () => {
    for (const n of ["hv-virtualization-net-vnat", "hv-virtualization-pool-images"]) expect(cmd(n).inputs.delete).toContain("DV_OP=delete");
    expect(cmd("hv-virtualization-apply").inputs.delete).toBeUndefined();
  });
  it("a pool is never deleted: pool-destroy and pool-undefine only, its directory kept", () => {
    const s = stdin("hv-virtualization-pool-images");
    expect(s).toContain("pool-undefine");
    const code = s.slice(s.indexOf("# --- virtualization/libvirt-pool.sh")).split("\n").filter((l) => !/^\s*#/.test(l)).join("\n");
    expect(code).toContain("pool-destroy");
    expect(code).not.toMatch(/pool-delete|vol-delete|rm -r|rmdir/);
  });
  it("each network's step carries only its own definition (editing one touches one trigger)", () => {
    const other = (edit: boolean) => virt.networkParams(edit ? { ...nets[1], dhcp: { start: "192.168.150.100", end: "192.168.150.150" } } : nets[1]);
    expect(other(true)).not.toEqual(other(false));
    expect(stdin("hv-virtualization-net-lan")).not.toContain("192.168.150");
    expect(stdin("hv-virtualization-net-iso")).toMatch(/^export DV_AUTOSTART='no'$/m);
    expect(stdin("hv-virtualization-net-vnat")).toMatch(/^export DV_AUTOSTART='yes'$/m);
  });
  it("bad settings throw before anything is registered", async () => {
    mocks.reset();
    expect(() => new virt.VirtualizationHost("x", { host: resolveHost(host), networks: [{ name: "x", mode: "foo" as any }] })).toThrow('virtualization.networks[0].mode: must be one of bridge, nat, isolated, got "foo"');
    expect(() => new DebVisorNode("y", { host, virtualization: { pools: [{ name: "p", type: "dir", path: "x" }] } })).toThrow(/^node\.virtualization\.pools\[0\]\.path: /);
    expect(await mocks.settle()).toEqual([]);
  });
});
