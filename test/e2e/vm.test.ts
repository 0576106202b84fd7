import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { LAB_DIR, ROOT, lab, ok, run } from "./support/run.js";
import { renderCommand, renderPayload, stepTrigger } from "../../components/host/index.js";
import { resolveVm, validateVmSettings, vmStepParams, type VmSettings } from "../../components/virtualization/vm.js";

// The VM step (components/virtualization/vm.sh) on a fresh lab host n3, as the
// VirtualMachine component renders it: tiny VMs under software emulation (no /dev/kvm
// in the lab), each firmware proven by its own lines in the serial console log, the
// second run a no-op, and delete (DV_OP=delete) keeping the disks unless told otherwise.
const HOST = "n3";
const PACKAGES = "qemu-system-x86 qemu-utils libvirt-daemon-system libvirt-clients ovmf seabios python3";
const BASE_IMAGE = "/var/lib/debvisor-e2e/base.qcow2";

const paramsOf = (vm: VmSettings) => {
  validateVmSettings(vm, "vm");
  return vmStepParams(resolveVm({ ...vm, emulation: true }));
};
// As RemoteStep runs it: the command records the step's trigger on apply, and a delete
// whose trigger is not the one applied last (the old half of a replaced step) is skipped.
const step = (params: Record<string, string>, op: "apply" | "delete" = "apply") =>
  run("ssh", ["-F", `${LAB_DIR}/ssh_config`, `root@${HOST}`, renderCommand("root", 900, `e2e-vm-${params.DV_NAME}`, op, stepTrigger("virtualization/vm.sh", params, [], 900))], {
    input: renderPayload("virtualization/vm.sh", params),
  });
const changes = (stdout: string) => stdout.split("\n").filter((l) => l.startsWith("@changed"));
const sh = (cmd: string) => lab.out(HOST, cmd);
const exists = async (path: string) => (await lab.sh(HOST, `test -e ${path}`)).code === 0;
const domainDefined = async (name: string) => (await lab.sh(HOST, `virsh -q dominfo ${name}`)).code === 0;

/** Waits until the VM's serial log shows `pattern` (TCG is slow: OVMF takes a while). */
async function serialLog(name: string, pattern: RegExp, seconds = 150): Promise<string> {
  let log = "";
  for (let t = 0; t < seconds; t += 3) {
    log = (await lab.sh(HOST, `cat /var/log/libvirt/qemu/${name}-serial.log 2>/dev/null`)).stdout;
    if (pattern.test(log)) return log;
    await new Promise((r) => setTimeout(r, 3000));
  }
  throw new Error(`serial log of ${name} never showed ${pattern} in ${seconds}s:\n${log.slice(-2000)}`);
}

/** Both runs of the step: the first changes something, the second nothing. */
async function applyTwice(params: Record<string, string>) {
  const first = await ok(step(params), `${params.DV_NAME}: first run`);
  const second = await ok(step(params), `${params.DV_NAME}: second run`);
  expect(changes(second.stdout), `${params.DV_NAME}: second run`).toEqual([]);
  return changes(first.stdout);
}

/** Fresh n3: no VM running, then reset (retried once). */
async function freshHost() {
  // Never delete the host's bridges here: on a host whose br0 carries its address (a
  // dev-stack lab) that cuts this very SSH session off. The reset is retried once: it once
  // failed with "RTNETLINK answers: File exists" (the lab now waits for the old veth).
  await lab.sh(HOST, "for d in $(virsh -q list --name 2>/dev/null); do virsh -q destroy \"$d\"; done; true");
  try {
    await lab.freshHosts(5, "bookworm", HOST);
  } catch {
    await new Promise((r) => setTimeout(r, 10_000));
    await ok(lab.cmd("reset", HOST), `lab reset ${HOST} (again)`);
  }
}

describe.sequential("VM step against the lab (n3)", () => {
  beforeAll(async () => {
    await freshHost();
    await ok(lab.sh(HOST, `apt-get -q update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get -q -y install --no-install-recommends ${PACKAGES} >/dev/null`), "install qemu and libvirt on n3");
    // The "default" dir pool the VirtualizationHost layer would define, and a base image to clone.
    await ok(lab.sh(HOST, [
      "mkdir -p /var/lib/libvirt/images /var/lib/debvisor-e2e",
      "virsh -q pool-info default >/dev/null 2>&1 || virsh -q pool-define-as default dir --target /var/lib/libvirt/images",
      "virsh -q pool-start default 2>/dev/null || true",
      `qemu-img create -q -f qcow2 ${BASE_IMAGE} 256M`,
    ].join(" && ")), "pool and base image on n3");
  }, 600_000);
  // Leave no emulated VM running: a host reset while qemu still exits can trip over its namespace.
  afterAll(async () => {
    await lab.sh(HOST, "for d in $(virsh -q list --name); do virsh -q destroy \"$d\"; done; ip link del brvm 2>/dev/null; true");
  });

  const uefi = paramsOf({ name: "e2e-uefi", firmware: "uefi", memoryMiB: 128, disks: [{ name: "root", sizeGiB: 1 }], cloudInit: { hostname: "e2e-uefi" }, shutdownTimeoutSeconds: 0 });
  const bios = paramsOf({
    name: "e2e-bios", firmware: "bios", memoryMiB: 128, disks: [{ name: "root", sizeGiB: 1, baseImage: BASE_IMAGE }, { name: "data", sizeGiB: 1, format: "raw" }],
    shutdownTimeoutSeconds: 0, deleteDisksOnDestroy: true,
  });

  it("uefi: volume, seed, definition, autostart, start under TCG; OVMF runs (BdsDxe on the serial console); second run changes nothing", async () => {
    // (packages the host layer did not install are installed by the step itself: xorriso for the seed)
    expect((await applyTwice(uefi)).filter((l) => !l.startsWith("@changed installed "))).toEqual([
      "@changed created volume default/e2e-uefi-root.qcow2 (1 GiB, empty)",
      "@changed wrote cloud-init seed default/e2e-uefi-seed.iso",
      "@changed defined domain e2e-uefi",
      "@changed autostart enabled for domain e2e-uefi",
      "@changed started domain e2e-uefi",
    ]);
    expect(await sh("virsh domstate e2e-uefi")).toBe("running");
    expect(await sh("virsh dumpxml e2e-uefi | grep -o \"<domain type='[a-z]*'\"")).toBe("<domain type='qemu'");
    expect(await sh("virsh -q dominfo e2e-uefi | awk -F': *' '$1 == \"Autostart\" {print $2}'")).toBe("enable");
    const log = await serialLog("e2e-uefi", /BdsDxe/);
    expect(log).not.toContain("SeaBIOS");
    // The NoCloud seed: an ISO 9660 volume labelled cidata holding our meta-data.
    expect(await sh("dd if=/var/lib/libvirt/images/e2e-uefi-seed.iso bs=1 skip=32808 count=6 2>/dev/null")).toBe("cidata");
    expect(await sh("virsh -q domblklist e2e-uefi | awk '{print $1, $2}'")).toBe("vda e2e-uefi-root.qcow2\nsda e2e-uefi-seed.iso");
  }, 300_000);

  it("bios: a disk cloned from a base image (a copy, no backing file) and an empty raw one; SeaBIOS runs and finds nothing to boot", async () => {
    expect(await applyTwice(bios)).toEqual([
      `@changed created volume default/e2e-bios-root.qcow2 (1 GiB) from ${BASE_IMAGE}`,
      "@changed created volume default/e2e-bios-data.raw (1 GiB, empty)",
      "@changed defined domain e2e-bios",
      "@changed autostart enabled for domain e2e-bios",
      "@changed started domain e2e-bios",
    ]);
    const info = JSON.parse(await sh("qemu-img info -U --output=json /var/lib/libvirt/images/e2e-bios-root.qcow2"));
    expect(info.format).toBe("qcow2");
    expect(info["virtual-size"]).toBe(1024 ** 3);
    expect(info["backing-filename"]).toBeUndefined();
    const log = await serialLog("e2e-bios", /No bootable device/);
    expect(log).toContain("SeaBIOS (version");
    expect(log).not.toContain("BdsDxe");
  }, 300_000);

  it("a changed definition is redefined in place (same uuid); the replaced step's delete leaves the VM to the new one", async () => {
    const uuid = await sh("virsh domuuid e2e-uefi");
    const bigger = paramsOf({ name: "e2e-uefi", firmware: "uefi", memoryMiB: 160, disks: [{ name: "root", sizeGiB: 1 }], cloudInit: { hostname: "e2e-uefi" }, shutdownTimeoutSeconds: 0 });
    expect(await applyTwice(bigger)).toEqual(["@changed redefined domain e2e-uefi (the running VM picks it up at its next boot)"]);
    expect(await sh("virsh domuuid e2e-uefi")).toBe(uuid);
    expect(await sh("virsh dumpxml --inactive e2e-uefi | grep -o '<memory unit=.KiB.>[0-9]*'")).toContain("163840");
    // Pulumi replaces a step whose trigger changed: the new one runs, then the old one's delete.
    const old = await ok(step(uefi, "delete"), "delete of the replaced step");
    expect(changes(old.stdout)).toEqual([]);
    expect(await sh("virsh domstate e2e-uefi")).toBe("running");
    // Back to the original definition for the rest.
    expect(await applyTwice(uefi)).toEqual(["@changed redefined domain e2e-uefi (the running VM picks it up at its next boot)"]);
  }, 300_000);

  it("a VLAN tag on a plain Linux bridge is refused before anything is touched", async () => {
    await ok(lab.sh(HOST, "ip link show brvm >/dev/null 2>&1 || { ip link add brvm type bridge && ip link set brvm up; }"), "bridge brvm");
    const r = await step(paramsOf({ name: "e2e-vlan", memoryMiB: 128, nics: [{ bridge: "brvm", vlan: 20 }] }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("brvm is a Linux bridge, and libvirt sets VLAN tags only on Open vSwitch ports");
    expect(await domainDefined("e2e-vlan")).toBe(false);
    // Untagged on the same bridge is fine: the NIC is plugged into it.
    const plain = paramsOf({ name: "e2e-vlan", memoryMiB: 128, nics: [{ bridge: "brvm" }], running: true, shutdownTimeoutSeconds: 0, deleteDisksOnDestroy: true });
    await applyTwice(plain);
    expect(await sh("virsh -q domiflist e2e-vlan | awk '{print $2, $3}'")).toBe("bridge brvm");
    expect(await sh("ip -o link show master brvm | wc -l")).toBe("1");
    await ok(step(plain, "delete"), "delete e2e-vlan");
    expect(await domainDefined("e2e-vlan")).toBe(false);
    await ok(lab.sh(HOST, "ip link del brvm"), "remove bridge brvm");
  }, 300_000);

  it("delete: the domain is stopped and undefined; its disk, seed and UEFI variables are kept; a second delete does nothing", async () => {
    const r = await ok(step(uefi, "delete"), "delete e2e-uefi");
    expect(changes(r.stdout)).toEqual(["@changed stopped domain e2e-uefi", "@changed undefined domain e2e-uefi"]);
    expect(await domainDefined("e2e-uefi")).toBe(false);
    for (const f of ["/var/lib/libvirt/images/e2e-uefi-root.qcow2", "/var/lib/libvirt/images/e2e-uefi-seed.iso", "/var/lib/libvirt/qemu/nvram/e2e-uefi_VARS.fd"]) expect(await exists(f), f).toBe(true);
    expect(changes((await ok(step(uefi, "delete"), "second delete")).stdout)).toEqual([]);
    // Applied again, the VM comes back on its kept disk (nothing recreated).
    expect(await applyTwice(uefi)).toEqual(["@changed defined domain e2e-uefi", "@changed autostart enabled for domain e2e-uefi", "@changed started domain e2e-uefi"]);
  }, 300_000);

  it("delete with deleteDisksOnDestroy: domain and volumes gone", async () => {
    const r = await ok(step(bios, "delete"), "delete e2e-bios");
    expect(changes(r.stdout)).toEqual([
      "@changed stopped domain e2e-bios", "@changed undefined domain e2e-bios",
      "@changed deleted volume default/e2e-bios-root.qcow2", "@changed deleted volume default/e2e-bios-data.raw",
    ]);
    expect(await domainDefined("e2e-bios")).toBe(false);
    for (const f of ["/var/lib/libvirt/images/e2e-bios-root.qcow2", "/var/lib/libvirt/images/e2e-bios-data.raw"]) expect(await exists(f), f).toBe(false);
    expect(await exists(BASE_IMAGE)).toBe(true); // the clone's source is never touched
  }, 300_000);
});

// The same VM through the real engine: VirtualizationHost (packages, libvirtd, a dir pool)
// creates the VirtualMachine; a changed VM replaces its step (Pulumi runs the new step,
// then the old one's delete, which must leave the VM alone); destroy undefines the domain
// and keeps its disk.
const STACK = "e2e-vm";
const ENV = { PULUMI_CONFIG_PASSPHRASE: "debvisor-e2e-vm", DEBVISOR_SKIP_BUILD: "1" };
const configFile = join(ROOT, `Pulumi.${STACK}.yaml`);
const POOL_DIR = "/srv/e2e-vm-images";
const STEP = "debvisor-n3-virtualization-vm-e2e-engine-domain";
const pulumi = {
  run: (...args: string[]) => run("bash", ["scripts/pulumi.sh", ...args, "--stack", STACK], { env: ENV }),
  up: () => pulumi.run("up", "--yes", "--skip-preview", "--non-interactive"),
};
/** The dev stack's lab cluster, n3 only, profile compute, the host network left alone, one VM. */
function cluster(memoryMiB: number): any {
  const c = parse(readFileSync(join(ROOT, "Pulumi.dev.yaml"), "utf8")).config["debvisor:cluster"];
  c.defaults.security = { clusterNetworks: ["10.213.0.0/24"], controllerAddresses: ["10.213.0.1"] };
  c.defaults.profile = "compute";
  c.defaults.network = { bridge: false };
  c.nodes = c.nodes.filter((n: any) => n.name === HOST);
  c.nodes[0].virtualization = {
    allowEmulation: true, cockpit: false,
    pools: [{ name: "images", type: "dir", path: POOL_DIR }],
    vms: [{ name: "e2e-engine", firmware: "bios", memoryMiB, disks: [{ name: "root", sizeGiB: 1, pool: "images" }], shutdownTimeoutSeconds: 0 }],
  };
  return c;
}
function write(c: unknown) {
  const current = existsSync(configFile) ? (parse(readFileSync(configFile, "utf8")) ?? {}) : {};
  writeFileSync(configFile, stringify({ ...current, config: { ...current.config, "debvisor:cluster": c } }));
}
async function stepsSince(skip: number): Promise<string[]> {
  const lines = (await sh("journalctl -q -t debvisor -o cat --no-pager | grep '^step ' || true")).split("\n").filter(Boolean);
  return lines.slice(skip).map((l) => l.replace(/^step /, ""));
}

describe.sequential("VirtualMachine through the engine (n3)", () => {
  beforeAll(async () => {
    await ok(run("bash", ["scripts/setup.sh"]), "npm run setup");
    await ok(run("npm", ["run", "--silent", "build"]), "npm run build");
    await freshHost();
    await pulumi.run("stack", "rm", "--yes", "--force");
    await ok(pulumi.run("stack", "init"), `pulumi stack init ${STACK}`);
  }, 600_000);
  afterAll(async () => {
    await pulumi.run("stack", "rm", "--yes", "--force");
    rmSync(configFile, { force: true });
    await lab.sh(HOST, "for d in $(virsh -q list --name); do virsh -q destroy \"$d\"; done; true");
  });

  it("up defines and starts the VM under TCG (SeaBIOS on its serial console); a second up runs no step", async () => {
    write(cluster(128));
    await ok(pulumi.up(), "pulumi up");
    expect(await sh("virsh domstate e2e-engine")).toBe("running");
    expect(await sh("virsh dumpxml e2e-engine | grep -o \"<domain type='[a-z]*'\"")).toBe("<domain type='qemu'");
    expect(await exists(`${POOL_DIR}/e2e-engine-root.qcow2`)).toBe(true);
    expect(await serialLog("e2e-engine", /SeaBIOS \(version[\s\S]*No bootable device/)).not.toContain("BdsDxe");
    const before = await lab.stepsRun(HOST);
    await ok(pulumi.up(), "second pulumi up");
    expect(await lab.stepsRun(HOST)).toBe(before);
  }, 900_000);

  it("a changed VM is redefined in place: the replaced step's delete leaves the domain running", async () => {
    const uuid = await sh("virsh domuuid e2e-engine");
    const before = await lab.stepsRun(HOST);
    write(cluster(160));
    await ok(pulumi.up(), "pulumi up with more memory");
    expect(await stepsSince(before)).toEqual([`${STEP} start`, `${STEP} delete skipped: superseded by a newer apply`]);
    expect(await sh("virsh domstate e2e-engine")).toBe("running");
    expect(await sh("virsh domuuid e2e-engine")).toBe(uuid);
    expect(await sh("virsh dumpxml --inactive e2e-engine | grep -o '<memory unit=.KiB.>[0-9]*'")).toContain("163840");
  }, 600_000);

  it("destroy undefines the domain and keeps its disk", async () => {
    await ok(pulumi.run("destroy", "--yes", "--skip-preview", "--non-interactive"), "pulumi destroy");
    expect(await domainDefined("e2e-engine")).toBe(false);
    expect(await exists(`${POOL_DIR}/e2e-engine-root.qcow2`)).toBe(true);
  }, 600_000);
});
