import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync, readdirSync, rmSync } from "node:fs";
import { LAB_DIR, guestUsedMiB, imageBuildSeconds, lab, labJson, ok, qemuRssMiB, recordFigures, run, sshSeconds, vmsUp } from "./support.js";

// Two VMs from a cold and from a warm image cache: time until both answer SSH and RAM
// per VM, recorded in test-artifacts/vm-figures.json (scripts/lab/README.md quotes them).
// The cold run deletes the cached VM image first only with DEBVISOR_VM_COLD=1 (the
// rebuild takes ~10 minutes); otherwise it reports what the cache gave. Removing the
// VM tier leaves no QEMU process, tap device or loop device behind.
let restore: () => Promise<void> = async () => {};

const vmTaps = async () => (await run("ip", ["-o", "link", "show"])).stdout.split("\n").filter((l) => /: dvlab-v\d+-\d+[:@]/.test(l));
const qemus = async () => (await run("ps", ["-eo", "comm="])).stdout.split("\n").filter((c) => /^dvlab-v\d+$/.test(c.trim()));
const labLoops = async () => (await run("losetup", ["-a"])).stdout.split("\n").filter((l) => l.includes(`${LAB_DIR}/disks/v`));

async function twoVms(label: string) {
  const up = await vmsUp(["--vms", "2", "--vm-disks", "1:6G"]);
  restore = up.restore;
  const fleet = labJson()!;
  expect(fleet.hosts.filter((h) => h.kind === "vm").map((h) => h.name)).toEqual(["v1", "v2"]);
  const ssh = sshSeconds(up.result);
  const figures = {
    imageBuildSeconds: imageBuildSeconds(up.result),
    upToSshSeconds: ssh.sinceUp,
    bootToSshSeconds: ssh.boot,
    qemuRssMiB: [await qemuRssMiB("v1"), await qemuRssMiB("v2")],
    guestUsedMiB: [await guestUsedMiB("v1"), await guestUsedMiB("v2")],
  };
  recordFigures(label, figures);
  expect(ssh.boot).toBeLessThan(420);
  for (const h of ["v1", "v2"]) expect((await lab.sh(h, "sudo -n true")).code, h).toBe(0);
  return figures;
}

async function vmsOff() {
  if ((labJson()?.hosts.filter((h) => h.kind === "vm").length ?? 0) === 0) return;
  const containers = labJson()!.hosts.filter((h) => h.kind !== "vm").length;
  await ok(containers > 0 ? lab.cmd("up", "--vms", "0") : lab.cmd("down"), "VM tier off");
}

describe.sequential("two VMs, cold and warm", () => {
  beforeAll(async () => {
    await vmsOff();
  });
  afterAll(async () => {
    await restore();
  });

  it("from a cold cache (DEBVISOR_VM_COLD=1 rebuilds the image first)", async () => {
    if (process.env.DEBVISOR_VM_COLD === "1") {
      for (const d of readdirSync(`${LAB_DIR}/cache`).filter((d) => d.startsWith("vm-"))) rmSync(`${LAB_DIR}/cache/${d}`, { recursive: true, force: true });
    }
    const f = await twoVms(process.env.DEBVISOR_VM_COLD === "1" ? "2vms-cold" : "2vms-first");
    if (process.env.DEBVISOR_VM_COLD === "1") expect(f.imageBuildSeconds).toBeGreaterThan(0);
  });

  it("the VM tier goes without leaving QEMU, tap or loop devices behind", async () => {
    await vmsOff();
    expect(await qemus()).toEqual([]);
    expect(await vmTaps()).toEqual([]);
    expect(await labLoops()).toEqual([]);
  });

  it("from a warm cache", async () => {
    const f = await twoVms("2vms-warm");
    expect(f.imageBuildSeconds).toBe(0);
  });

  it("status, restart and reset take VMs: a reboot keeps the identity, a reset makes a new one", async () => {
    const st = await lab.cmd("status");
    expect(st.code, st.stdout + st.stderr).toBe(0);
    expect(st.stdout).toMatch(/^v1\s+10\.213\.0\.101\s+up\s+ssh yes/m);
    expect(st.stdout).toMatch(/^v2\s+10\.213\.0\.102\s+up\s+ssh yes/m);
    const bootId = () => lab.out("v2", "cat /proc/sys/kernel/random/boot_id");
    const before = await bootId();
    const key2 = readFileSync(`${LAB_DIR}/hostkeys/v2.pub`, "utf8");
    await ok(lab.cmd("restart", "v2"), "lab restart v2");
    expect(await bootId()).not.toBe(before);
    expect(readFileSync(`${LAB_DIR}/hostkeys/v2.pub`, "utf8")).toBe(key2); // same host key, still pinned
    const key1 = readFileSync(`${LAB_DIR}/hostkeys/v1.pub`, "utf8");
    const id1 = await lab.out("v1", "cat /etc/machine-id");
    await ok(lab.cmd("reset", "v1"), "lab reset v1");
    expect(readFileSync(`${LAB_DIR}/hostkeys/v1.pub`, "utf8")).not.toBe(key1);
    expect(await lab.out("v1", "cat /etc/machine-id")).not.toBe(id1);
    expect((await lab.sh("v1", "sudo -n true")).code).toBe(0);
  });
});
