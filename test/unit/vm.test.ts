import { beforeAll, describe, expect, it } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { installMocks, parentName, type Registration } from "../support/mocks.js";
import { CANARY_KEY, HOST_KEY } from "../support/fixtures.js";

const mocks = await installMocks();
const pulumi = await import("@pulumi/pulumi");
const vmMod = await import("../../components/virtualization/vm.js");
const { resolveHost } = await import("../../components/host/index.js");
const { vmSchema } = await import("../../components/virtualization/schema.js");
const { renderDomainXml, renderUserData, renderMetaData, resolveVm, validateVmSettings, vmStepParams, VirtualMachine } = vmMod;

const host = resolveHost({ address: "10.213.0.13", user: "root", privateKey: pulumi.secret(CANARY_KEY), hostKey: HOST_KEY });
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMhYv6Wb2y5u1CzZpQ0vQw8Zr3zqk2Zk8m0Qe7yH0K1a ops@example";
const tiny = (over: Partial<import("../../components/virtualization/vm.js").VmSettings> = {}) =>
  resolveVm({ name: "t1", memoryMiB: 128, disks: [{ name: "root", sizeGiB: 1 }], emulation: true, ...over });

// `virsh dumpxml --inactive v1` on bookworm (libvirt 9.0.0) after the step defined it.
const LIBVIRT_9_INACTIVE = `<domain type='qemu'>
  <name>v1</name>
  <uuid>c1ff50cc-ec07-4660-a84b-cb5a25356fca</uuid>
  <memory unit='KiB'>163840</memory>
  <currentMemory unit='KiB'>163840</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os firmware='efi'>
    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
    <firmware>
      <feature enabled='no' name='enrolled-keys'/>
      <feature enabled='no' name='secure-boot'/>
    </firmware>
    <boot dev='hd'/>
  </os>
  <features>
    <acpi/>
    <apic/>
  </features>
  <cpu mode='custom' match='exact' check='none'>
    <model fallback='forbid'>qemu64</model>
  </cpu>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='volume' device='disk'>
      <driver name='qemu' type='qcow2' discard='unmap'/>
      <source pool='default' volume='v1-root.qcow2'/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x0'/>
    </disk>
    <disk type='volume' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source pool='default' volume='v1-seed.iso'/>
      <target dev='sda' bus='sata'/>
      <readonly/>
      <address type='drive' controller='0' bus='0' target='0' unit='0'/>
    </disk>
    <controller type='usb' index='0' model='qemu-xhci'>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </controller>
    <controller type='sata' index='0'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x1f' function='0x2'/>
    </controller>
    <controller type='pci' index='0' model='pcie-root'/>
    <controller type='pci' index='1' model='pcie-root-port'>
      <model name='pcie-root-port'/>
      <target chassis='1' port='0x8'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0' multifunction='on'/>
    </controller>
    <controller type='pci' index='2' model='pcie-root-port'>
      <model name='pcie-root-port'/>
      <target chassis='2' port='0x9'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x1'/>
    </controller>
    <controller type='pci' index='3' model='pcie-root-port'>
      <model name='pcie-root-port'/>
      <target chassis='3' port='0xa'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x2'/>
    </controller>
    <controller type='pci' index='4' model='pcie-root-port'>
      <model name='pcie-root-port'/>
      <target chassis='4' port='0xb'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x3'/>
    </controller>
    <serial type='pty'>
      <log file='/var/log/libvirt/qemu/v1-serial.log' append='on'/>
      <target type='isa-serial' port='0'>
        <model name='isa-serial'/>
      </target>
    </serial>
    <console type='pty'>
      <log file='/var/log/libvirt/qemu/v1-serial.log' append='on'/>
      <target type='serial' port='0'/>
    </console>
    <input type='mouse' bus='ps2'/>
    <input type='keyboard' bus='ps2'/>
    <audio id='1' type='none'/>
    <memballoon model='virtio'>
      <address type='pci' domain='0x0000' bus='0x03' slot='0x00' function='0x0'/>
    </memballoon>
  </devices>
</domain>
`;

describe("domain XML", () => {
  it("uefi: OVMF picked by libvirt (firmware='efi'), secure boot and enrolled keys off, q35, TCG when emulated", () => {
    const xml = renderDomainXml(tiny({ firmware: "uefi" }));
    expect(xml).toMatch(/^<domain type="qemu">/);
    expect(xml).toContain('<os firmware="efi">');
    expect(xml).toContain('<type arch="x86_64" machine="q35">hvm</type>');
    expect(xml).toContain('<feature enabled="no" name="secure-boot"/>');
    expect(xml).toContain('<feature enabled="no" name="enrolled-keys"/>');
    expect(xml).not.toContain("useserial");
    expect(xml).not.toContain("<cpu");
    // libvirt refuses UEFI without ACPI on x86.
    expect(xml).toMatch(/<features>\s*<acpi\/>\s*<apic\/>\s*<\/features>/);
    expect(xml).toContain('<memory unit="KiB">131072</memory>');
    expect(xml).toContain("<vcpu>1</vcpu>");
  });
  it("bios: SeaBIOS (no firmware attribute) told to print on the serial port", () => {
    const xml = renderDomainXml(tiny({ firmware: "bios" }));
    expect(xml).toContain("<os>");
    expect(xml).not.toContain("firmware=");
    expect(xml).toContain('<bios useserial="yes"/>');
  });
  it("defaults: uefi, 1 vCPU, 1024 MiB, kvm with host-passthrough CPU", () => {
    const vm = resolveVm({ name: "d" });
    expect(vm).toMatchObject({ firmware: "uefi", vcpus: 1, memoryMiB: 1024, autostart: true, running: true, deleteDisksOnDestroy: false, shutdownTimeoutSeconds: 60, emulation: false });
    const xml = renderDomainXml(vm);
    expect(xml).toMatch(/^<domain type="kvm">/);
    expect(xml).toContain('<cpu mode="host-passthrough"/>');
    expect(xml).not.toContain("<disk");
    expect(xml).not.toContain("<interface");
  });
  it("serial console is a pty logged to /var/log/libvirt/qemu/<name>-serial.log (console too)", () => {
    const xml = renderDomainXml(tiny());
    expect(xml.match(/<log file="\/var\/log\/libvirt\/qemu\/t1-serial\.log" append="on"\/>/g)).toHaveLength(2);
    expect(xml).toMatch(/<serial type="pty">[\s\S]*<target port="0"\/>[\s\S]*<\/serial>/);
    expect(xml).toMatch(/<console type="pty">[\s\S]*<target type="serial" port="0"\/>/);
  });
  it("disks are pool volumes <vm>-<disk>.<format> on vda, vdb, ...; the seed is a read-only SATA CD-ROM in the first disk's pool", () => {
    const xml = renderDomainXml(tiny({ disks: [{ name: "root", sizeGiB: 10, pool: "fast" }, { name: "data", sizeGiB: 20, format: "raw", pool: "zfs" }], cloudInit: {} }));
    expect(xml).toContain('<source pool="fast" volume="t1-root.qcow2"/>\n      <target dev="vda" bus="virtio"/>');
    expect(xml).toContain('<driver name="qemu" type="raw" discard="unmap"/>\n      <source pool="zfs" volume="t1-data.raw"/>\n      <target dev="vdb" bus="virtio"/>');
    expect(xml).toMatch(/<disk type="volume" device="cdrom">\s*<driver name="qemu" type="raw"\/>\s*<source pool="fast" volume="t1-seed\.iso"\/>\s*<target dev="sda" bus="sata"\/>\s*<readonly\/>/);
    expect(renderDomainXml(tiny())).not.toContain("cdrom");
  });
  it("NICs: br0 or a libvirt network, virtio, stable MACs, VLAN tag as libvirt's <vlan>", () => {
    const vm = tiny({ nics: [{ bridge: "br0" }, { network: "internal", vlan: 42 }, { bridge: "br0", mac: "52:54:00:aa:bb:cc" }] });
    const xml = renderDomainXml(vm);
    expect(xml).toContain(`<interface type="bridge">\n      <mac address="${vmMod.vmMac("t1", 0)}"/>\n      <source bridge="br0"/>\n      <model type="virtio"/>`);
    expect(xml).toContain('<source network="internal"/>\n      <vlan>\n        <tag id="42"/>\n      </vlan>');
    expect(xml).toContain('<mac address="52:54:00:aa:bb:cc"/>');
    expect(vmMod.vmMac("t1", 0)).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
    expect(vmMod.vmMac("t1", 0)).toBe(vmMod.vmMac("t1", 0));
    expect(vmMod.vmMac("t1", 0)).not.toBe(vmMod.vmMac("t1", 1));
    expect(vmMod.renderVlanList(vm)).toBe("network internal 42");
  });
});

describe("cloud-init seed", () => {
  it("merges SSH keys and the host name into the given #cloud-config", () => {
    const vm = tiny({ cloudInit: { userData: "#cloud-config\npackages: [qemu-guest-agent]\nssh_authorized_keys: [\"ssh-rsa AAAA old\"]\n", sshAuthorizedKeys: [KEY], hostname: "web-1" } });
    const ud = renderUserData(vm);
    expect(ud.split("\n")[0]).toBe("#cloud-config");
    expect(parseYaml(ud)).toEqual({ packages: ["qemu-guest-agent"], ssh_authorized_keys: ["ssh-rsa AAAA old", KEY], hostname: "web-1" });
    expect(parseYaml(renderMetaData(vm))).toEqual({ "instance-id": "t1", "local-hostname": "web-1" });
  });
  it("an empty seed is a bare #cloud-config; meta-data names the VM", () => {
    const vm = tiny({ cloudInit: {} });
    expect(renderUserData(vm)).toBe("#cloud-config");
    expect(parseYaml(renderMetaData(vm))).toEqual({ "instance-id": "t1", "local-hostname": "t1" });
  });
  it("step parameters carry the seed only when asked for", () => {
    expect(vmStepParams(tiny())).toMatchObject({ DV_SEED_VOLUME: "", DV_USER_DATA: "", DV_META_DATA: "" });
    expect(vmStepParams(tiny({ cloudInit: {} }))).toMatchObject({ DV_SEED_POOL: "default", DV_SEED_VOLUME: "t1-seed.iso" });
  });
});

describe("step parameters", () => {
  it("disk lines, firmware, lifecycle switches", () => {
    const p = vmStepParams(resolveVm({ name: "t2", firmware: "bios", disks: [{ name: "root", sizeGiB: 8, baseImage: "/srv/images/debian-12.qcow2" }, { name: "data", sizeGiB: 2, pool: "zfs", format: "raw" }], autostart: false, running: false, deleteDisksOnDestroy: true, shutdownTimeoutSeconds: 5 }));
    expect(p.DV_DISKS).toBe("default\tt2-root.qcow2\tqcow2\t8\t/srv/images/debian-12.qcow2\nzfs\tt2-data.raw\traw\t2\t");
    expect(p).toMatchObject({ DV_NAME: "t2", DV_FIRMWARE: "bios", DV_AUTOSTART: "no", DV_RUNNING: "no", DV_DELETE_DISKS: "yes", DV_SHUTDOWN_WAIT: "5", DV_SERIAL_LOG: "/var/log/libvirt/qemu/t2-serial.log" });
    expect(vmStepParams(resolveVm({ name: "t3" }))).toMatchObject({ DV_AUTOSTART: "yes", DV_RUNNING: "yes", DV_DELETE_DISKS: "no", DV_DISKS: "" });
  });
});

describe("validation names the field and the value", () => {
  const F = "virtualization.vms[0]";
  const cases: [Record<string, unknown>, string][] = [
    [{ name: "bad name" }, `${F}.name: must be 1-63 letters, digits, . _ - starting with a letter or digit, got "bad name"`],
    [{ name: "a", firmware: "coreboot" }, `${F}.firmware: must be uefi or bios, got "coreboot"`],
    [{ name: "a", vcpus: 0 }, `${F}.vcpus: must be an integer from 1 to 512, got 0`],
    [{ name: "a", memoryMiB: 32 }, `${F}.memoryMiB: must be an integer from 64 to 16777216, got 32`],
    [{ name: "a", disks: [{ name: "root" }] }, `${F}.disks[0].sizeGiB: is required`],
    [{ name: "a", disks: [{ name: "r", sizeGiB: 1 }, { name: "r", sizeGiB: 1 }] }, `${F}.disks[1].name: is used by another disk of this VM, got "r"`],
    [{ name: "a", disks: [{ name: "seed", sizeGiB: 1 }] }, `${F}.disks[0].name: is reserved for the cloud-init seed, got "seed"`],
    [{ name: "a", disks: [{ name: "r", sizeGiB: 1, baseImage: "images/x.qcow2" }] }, `${F}.disks[0].baseImage: must be an absolute path on the host (letters, digits, . _ + - /), got "images/x.qcow2"`],
    [{ name: "a", disks: [{ name: "r", sizeGiB: 1, baseImage: "/srv/../etc/shadow" }] }, `${F}.disks[0].baseImage: must be an absolute path on the host (letters, digits, . _ + - /), got "/srv/../etc/shadow"`],
    [{ name: "a", disks: [{ name: "r", sizeGiB: 1, format: "vmdk" }] }, `${F}.disks[0].format: must be qcow2 or raw, got "vmdk"`],
    [{ name: "a", disks: [{ name: "r", sizeGiB: 1, pool: "my pool" }] }, `${F}.disks[0].pool: not a libvirt pool name, got "my pool"`],
    [{ name: "a", nics: [{}] }, `${F}.nics[0]: must name exactly one of bridge or network, got {}`],
    [{ name: "a", nics: [{ bridge: "br0", network: "default" }] }, `${F}.nics[0]: must name exactly one of bridge or network, got {"bridge":"br0","network":"default"}`],
    [{ name: "a", nics: [{ bridge: "br0", vlan: 4095 }] }, `${F}.nics[0].vlan: must be an integer from 1 to 4094, got 4095`],
    [{ name: "a", nics: [{ bridge: "br0", mac: "53:54:00:00:00:01" }] }, `${F}.nics[0].mac: is a multicast address, got "53:54:00:00:00:01"`],
    [{ name: "a", cloudInit: {} }, `${F}.cloudInit: needs at least one disk (the seed ISO is stored in the first disk's pool), got {}`],
    [{ name: "a", disks: [{ name: "r", sizeGiB: 1 }], cloudInit: { userData: "packages: [x]" } }, `${F}.cloudInit.userData: must be a #cloud-config document (first line #cloud-config), got "packages: [x]"`],
    [{ name: "a", disks: [{ name: "r", sizeGiB: 1 }], cloudInit: { userData: "#cloud-config\n- a list" } }, `${F}.cloudInit.userData: must be a YAML mapping, got "#cloud-config\\n- a list"`],
    [{ name: "a", disks: [{ name: "r", sizeGiB: 1 }], cloudInit: { sshAuthorizedKeys: ["hunter2"] } }, `${F}.cloudInit.sshAuthorizedKeys[0]: not an SSH public key line, got "hunter2"`],
    [{ name: "a", disks: [{ name: "r", sizeGiB: 1 }], cloudInit: { hostname: "Web_1" } }, `${F}.cloudInit.hostname: not a host name (lowercase letters, digits, -), got "Web_1"`],
    [{ name: "a", running: "yes" }, `${F}.running: must be true or false, got "yes"`],
    [{ name: "a", shutdownTimeoutSeconds: -1 }, `${F}.shutdownTimeoutSeconds: must be an integer from 0 to 3600, got -1`],
  ];
  it.each(cases)("%j", (vm, message) => {
    // One validator (schema + cross-field rules) serves components and the stack loader alike.
    expect(() => validateVmSettings(vm as never, F)).toThrow(message);
  });
  it("a complete VM passes both", () => {
    const vm = { name: "web-1", vcpus: 2, memoryMiB: 2048, firmware: "bios" as const, disks: [{ name: "root", sizeGiB: 20, baseImage: "/var/lib/libvirt/images/debian-12-genericcloud-amd64.qcow2" }],
      cloudInit: { userData: "#cloud-config\npackage_update: true\n", sshAuthorizedKeys: [KEY], hostname: "web-1" }, nics: [{ bridge: "br0" }, { network: "default", vlan: 10 }],
      autostart: true, running: true, deleteDisksOnDestroy: false, shutdownTimeoutSeconds: 120 };
    expect(() => validateVmSettings(vm, F)).not.toThrow();
    expect(vmSchema.safeParse(vm).success).toBe(true);
    expect(vmSchema.safeParse({ ...vm, cpus: 2 }).success).toBe(false); // strict: a typo is an error
  });
});

// The comparison the step makes before redefining: what DebVisor renders must be a subset
// of what libvirt keeps (libvirt 9.0 on bookworm adds uuid, addresses, controllers and
// expands machine q35 to pc-q35-7.2).
const hasPython = spawnSync("python3", ["--version"]).status === 0;
describe.skipIf(!hasPython)("definition comparison (xml_subset in vm.sh)", () => {
  const script = readFileSync(new URL("../../components/virtualization/vm.sh", import.meta.url), "utf8");
  const fn = /^xml_subset\(\) \{[\s\S]*?^\}$/m.exec(script)![0];
  const dir = mkdtempSync(join(tmpdir(), "dv-vm-"));
  const subset = (rendered: string, live: string) => {
    writeFileSync(join(dir, "r.xml"), rendered);
    writeFileSync(join(dir, "l.xml"), live);
    return spawnSync("bash", ["-c", `${fn}\nxml_subset "$1" "$2"`, "x", join(dir, "r.xml"), join(dir, "l.xml")]).status === 0;
  };
  const live = LIBVIRT_9_INACTIVE;
  const rendered = renderDomainXml(resolveVm({ name: "v1", firmware: "uefi", memoryMiB: 160, disks: [{ name: "root", sizeGiB: 1 }], cloudInit: { hostname: "v1" }, emulation: true }));
  it("what libvirt keeps of our definition matches it", () => expect(subset(rendered, live)).toBe(true));
  it("a changed value, a missing device or another machine type does not", () => {
    expect(subset(rendered.replace("163840", "131072"), live)).toBe(false);
    expect(subset(rendered.replace('<boot dev="hd"/>', '<boot dev="hd"/><boot dev="cdrom"/>'), live)).toBe(false);
    expect(subset(rendered.replace("</devices>", '<interface type="bridge"><source bridge="br0"/></interface></devices>'), live)).toBe(false);
    expect(subset(rendered.replace('machine="q35"', 'machine="pc"'), live)).toBe(false);
    expect(subset(rendered.replace('firmware="efi"', ""), live.replace("firmware='efi'", ""))).toBe(true);
  });
});

describe("VirtualMachine under mocks", () => {
  let regs: Registration[];
  beforeAll(async () => {
    mocks.reset();
    const parent = new pulumi.ComponentResource("debvisor:test:Parent", "hv-virt");
    new VirtualMachine("hv-virt-vm-web", { name: "web", host, emulation: true, memoryMiB: 128, disks: [{ name: "root", sizeGiB: 1 }] }, { parent });
    regs = [...(await mocks.settle())];
  });
  const reg = (n: string) => regs.find((r) => r.name === n)!;
  it("one domain step, parented to the VM, the VM to its parent", () => {
    expect(reg("hv-virt-vm-web").type).toBe("debvisor:virtualization:VirtualMachine");
    expect(parentName(reg("hv-virt-vm-web"))).toBe("hv-virt");
    expect(regs.filter((r) => parentName(r) === "hv-virt-vm-web").map((r) => r.name)).toEqual(["hv-virt-vm-web-domain"]);
  });
  it("the step runs vm.sh on create and, with DV_OP=delete, on delete", () => {
    const step = reg("hv-virt-vm-web-domain").inputs;
    expect(step.stdin).toContain("# --- virtualization/vm.sh");
    expect(step.stdin).toMatch(/^export DV_NAME='web'$/m);
    expect(step.stdin).toContain('<domain type="qemu">');
    expect(step.create).toContain("DV_OP=apply");
    expect(step.delete).toContain("DV_OP=delete");
    expect(step.stdin).toMatch(/^export DV_DELETE_DISKS='no'$/m);
  });
  it("bad settings throw before anything is registered", async () => {
    mocks.reset();
    expect(() => new VirtualMachine("x", { name: "x", host, firmware: "coreboot" as never })).toThrow('vm.firmware: must be uefi or bios, got "coreboot"');
    expect(await mocks.settle()).toEqual([]);
  });
});

const hasShellcheck = spawnSync("shellcheck", ["--version"]).status === 0;
describe.skipIf(!hasShellcheck)("vm.sh as rendered", () => {
  it("passes shellcheck with a full parameter set", async () => {
    const { renderPayload } = await import("../../components/host/index.js");
    const p = vmStepParams(resolveVm({ name: "sc", disks: [{ name: "root", sizeGiB: 1 }], cloudInit: { sshAuthorizedKeys: [KEY] }, nics: [{ bridge: "br0", vlan: 3 }] }));
    expect(execFileSync("shellcheck", ["-s", "bash", "-"], { input: renderPayload("virtualization/vm.sh", p), encoding: "utf8" })).toBe("");
  });
});
