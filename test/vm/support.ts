import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LAB_DIR, ROOT, lab, ok, run, type Result } from "../../scripts/support/run.js";

// Helpers of the VM tier's tests: VMs under QEMU (software emulation) beside the
// container hosts, on the same bridge, with the same lab.json contract.
export { LAB_DIR, ROOT, lab, ok, run };

export interface LabHost { name: string; address: string; user: string; hostKeyFile: string; disks: string[]; kind?: string; interfaces?: { name: string; mac: string; tap: string }[] }
export interface LabJson { release: string; hosts: LabHost[]; privateKeyFile: string; sshConfigFile: string; knownHostsFile: string; aptProxy: string }

export const labJson = (): LabJson | undefined => {
  const f = `${LAB_DIR}/lab.json`;
  return existsSync(f) ? JSON.parse(readFileSync(f, "utf8")) : undefined;
};

/** The address of VM v<i>. */
export const vmAddress = (i: number) => `10.213.0.${100 + i}`;

/**
 * The VM tier as asked, leaving the container hosts alone: beside a running fleet
 * (`up --vms N ...` replaces only the VM tier), or VMs only when the lab is down.
 * (`hostsWhenDown` container hosts beside them then). Returns how it went, with the
 * seconds `up` took, and how to put the lab back.
 */
export async function vmsUp(upArgs: string[], hostsWhenDown = 0): Promise<{ seconds: number; restore: () => Promise<void>; result: Result }> {
  const before = labJson();
  const containerHosts = before?.hosts.filter((h) => h.kind !== "vm").length ?? 0;
  const args = before ? ["up", ...upArgs] : ["up", "--hosts", String(hostsWhenDown), ...upArgs];
  const t0 = Date.now();
  const result = await ok(lab.cmd(...args), `lab ${args.join(" ")}`);
  const seconds = (Date.now() - t0) / 1000;
  const restore = async () => {
    if (process.env.DEBVISOR_VM_KEEP === "1") return;
    if (containerHosts > 0) await ok(lab.cmd("up", "--vms", "0"), "lab up --vms 0 (VMs off again)");
    else await ok(lab.cmd("down"), "lab down");
  };
  return { seconds, restore, result };
}

/** RSS of a VM's QEMU process in MiB (what the VM costs the machine), from `lab status`. */
export async function qemuRssMiB(name: string): Promise<number> {
  const st = (await lab.cmd("status")).stdout;
  const m = st.match(new RegExp(`^${name}\\s.*RSS (\\d+) MiB`, "m"));
  if (!m) throw new Error(`no RSS for ${name} in lab status:\n${st}`);
  return Number(m[1]);
}

/** Memory used inside the guest (MiB, `free`'s used column). */
export async function guestUsedMiB(name: string): Promise<number> {
  return Number(await lab.out(name, "free -m | awk '/^Mem:/ { print $3 }'"));
}

/** Records measured figures in test-artifacts/vm-figures.json (merged by key) and prints them. */
export function recordFigures(key: string, figures: Record<string, unknown>) {
  const dir = join(ROOT, "test-artifacts");
  mkdirSync(dir, { recursive: true });
  const f = join(dir, "vm-figures.json");
  const all = existsSync(f) ? JSON.parse(readFileSync(f, "utf8")) : {};
  all[key] = { ...figures, at: new Date().toISOString() };
  writeFileSync(f, JSON.stringify(all, null, 2) + "\n");
  console.log(`[vm figures] ${key}: ${JSON.stringify(figures)}`);
}

/** How long `up` reported the VM image build took (0 when the image was cached). */
export const imageBuildSeconds = (r: Result) => Number((r.stdout + r.stderr).match(/VM image built in (\d+)s/)?.[1] ?? 0);

/** Seconds until all VMs answered SSH, as the lab logs it: since `up` started, and since their QEMU started (boot alone). */
export function sshSeconds(r: Result): { sinceUp: number; boot: number } {
  const m = (r.stdout + r.stderr).match(/all VMs answer SSH \((\d+)s; (\d+)s after/);
  return { sinceUp: Number(m?.[1] ?? NaN), boot: Number(m?.[2] ?? NaN) };
}
