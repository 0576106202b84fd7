import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { ROOT, lab, ok, run } from "./support/run.js";

// Stacks converged by an earlier DebVisor see exactly the changes this one means to make,
// and nothing else: no URN renamed, no other step replaced. The baseline is the last
// commit before the layer descriptors (one shape for every layer), which changed no step;
// the changes since are listed in CHANGES, each with its reason. A change that renames or
// re-triggers any other step fails here.
const BASELINE = "938de89eec904b6d9cddd47499581b4426dda4b2";
const STACK = "e2e-compat";
const ENV = { PULUMI_CONFIG_PASSPHRASE: "debvisor-e2e-compat" };
const HOSTS = ["n1", "n2"];
/** [operation, step] the preview must show, and only these. */
const CHANGES: [string, string][] = [
  // The locale step now fails when locale-gen did not generate the locale.
  ["replace", "debvisor-n1-base-locale"], ["replace", "debvisor-n2-base-locale"],
  // Timers exist only where their subject does: no Ceph or ZFS yet, so the health and
  // scrub timers go, and a step removes them from the hosts.
  ["delete", "debvisor-n1-management-ceph-health"], ["delete", "debvisor-n1-management-zfs-scrub"],
  ["create", "debvisor-n1-management-timers"], ["create", "debvisor-n2-management-timers"],
  // The firewall step removes the temporary opening an SSH port move leaves under ufw.
  ["replace", "debvisor-n1-security-firewall"], ["replace", "debvisor-n2-security-firewall"],
];

// Every layer built today: a hyperconverged node (br0, libvirt NAT and bridge networks,
// a pool, first-boot unit, timers, an extra firewall rule) and a minimal one (ufw,
// sshd settings, another timezone).
const cluster = {
  defaults: {
    user: "debvisor", privateKeyFile: "/var/lib/debvisor-lab/id_ed25519", release: "bookworm", aptProxy: "http://10.213.0.1:3142",
    security: { controllerAddresses: ["10.213.0.1"], extraRules: [{ port: "8000-8100", protocol: "udp", comment: "sample" }] },
    virtualization: {
      allowEmulation: true,
      networks: [
        { name: "lab-nat", mode: "nat", subnet: "192.168.150.0/24", dhcp: { start: "192.168.150.10", end: "192.168.150.50" } },
        { name: "lab-br", mode: "bridge", bridge: "br0" },
      ],
      pools: [{ name: "default", type: "dir", path: "/srv/vm-images" }],
    },
    management: { firstBoot: true },
  },
  nodes: [
    { name: "n1", address: "10.213.0.11", hostKeyFile: "/var/lib/debvisor-lab/hostkeys/n1.pub", profile: "hyperconverged", packages: ["hello"] },
    { name: "n2", address: "10.213.0.12", hostKeyFile: "/var/lib/debvisor-lab/hostkeys/n2.pub", profile: "minimal", timezone: "Europe/Berlin", security: { firewall: "ufw", sshdSettings: { MaxSessions: "8" } } },
  ],
};

let old: string;
const pulumiIn = (dir: string, ...args: string[]) => run("bash", [join(dir, "scripts/pulumi.sh"), ...args, "--stack", STACK], { env: { ...ENV, DEBVISOR_SKIP_BUILD: "1" } });
const configIn = (dir: string) => join(dir, `Pulumi.${STACK}.yaml`);

describe.sequential("stacks converged by the previous release", () => {
  beforeAll(async () => {
    await ok(run("bash", ["scripts/setup.sh"]), "npm run setup");
    await ok(run("npm", ["run", "--silent", "build"]), "npm run build");
    // The baseline's code, built beside this checkout (the clone's history has it).
    old = mkdtempSync(join(tmpdir(), "debvisor-baseline-"));
    await ok(run("git", ["-C", ROOT, "worktree", "add", "--detach", "--force", old, BASELINE]), `git worktree add ${BASELINE}`);
    symlinkSync(join(ROOT, "node_modules"), join(old, "node_modules"));
    await ok(run("npm", ["run", "--silent", "--prefix", old, "build"]), "build the baseline");
    await lab.freshHosts(2, "bookworm", ...HOSTS);
    await pulumiIn(old, "stack", "rm", "--yes", "--force");
    await ok(pulumiIn(old, "stack", "init"), `pulumi stack init ${STACK}`);
    const current = parse(readFileSync(configIn(old), "utf8")) ?? {};
    writeFileSync(configIn(old), stringify({ ...current, config: { "debvisor:cluster": cluster } }));
  });
  afterAll(async () => {
    if (existsSync(configIn(ROOT))) await pulumiIn(ROOT, "stack", "rm", "--yes", "--force");
    rmSync(configIn(ROOT), { force: true });
    if (old) {
      await run("git", ["-C", ROOT, "worktree", "remove", "--force", old]);
      rmSync(old, { recursive: true, force: true });
    }
  });

  it("converges with the baseline's code; this code previews exactly the intended changes, applies them, then nothing", async () => {
    await ok(pulumiIn(old, "up", "--yes", "--skip-preview", "--non-interactive"), "pulumi up with the baseline");
    expect(await lab.out("n1", "systemctl list-unit-files 'debvisor-*.timer' --no-legend | wc -l")).toBe("2");
    writeFileSync(configIn(ROOT), readFileSync(configIn(old), "utf8"));
    const preview = await ok(pulumiIn(ROOT, "preview", "--json", "--non-interactive"), "preview with this code");
    const steps: { op: string; urn: string }[] = JSON.parse(preview.stdout).steps ?? [];
    const changes = steps.filter((s) => s.op !== "same" && s.urn.includes("command:remote:Command"))
      .map((s) => [s.op.replace(/^(create-replacement|delete-replaced)$/, "replace"), s.urn.split("::").pop()!])
      .filter(([op, name], i, all) => all.findIndex(([o, n]) => o === op && n === name) === i);
    expect(changes.sort()).toEqual([...CHANGES].sort());
    const before = await Promise.all(HOSTS.map((h) => lab.stepsRun(h)));
    await ok(pulumiIn(ROOT, "up", "--yes", "--skip-preview", "--non-interactive"), "pulumi up with this code");
    // Per host: the locale, firewall and timers steps, nothing else.
    expect(await Promise.all(HOSTS.map((h) => lab.stepsRun(h)))).toEqual(before.map((n) => n + 3));
    expect(await lab.out("n1", "systemctl list-unit-files 'debvisor-*.timer' --no-legend | wc -l")).toBe("0");
    const again = await pulumiIn(ROOT, "preview", "--expect-no-changes", "--non-interactive");
    expect(again.code, again.stdout + again.stderr).toBe(0);
  });
});
