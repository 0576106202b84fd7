import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { ROOT, lab, ok, run } from "./support/run.js";

// Stacks converged by an earlier DebVisor see exactly the changes this one means to make,
// and nothing else: no other URN renamed, no other step replaced, and on the hosts
// nothing changes but what was meant to. The baseline is the last
// commit before the layer descriptors (one shape for every layer), which changed no step;
// the changes since are listed in CHANGES, each with its reason. A change that renames or
// re-triggers any other step fails here.
const BASELINE = "938de89eec904b6d9cddd47499581b4426dda4b2";
const STACK = "e2e-compat";
const ENV = { PULUMI_CONFIG_PASSPHRASE: "debvisor-e2e-compat" };
const HOSTS = ["n1", "n2"];
/** [operation, step] the preview must show, and only these. */
const merged = (node: string, layer: string, parts: string[]): [string, string][] => [
  ...parts.map((p): [string, string] => ["delete", `debvisor-${node}-${layer}-${p}`]),
  ["create", `debvisor-${node}-${layer}-apply`],
];
const CHANGES: [string, string][] = [
  // One step per layer (each script a part the host skips when it applied it already):
  // the steps of a layer merge into one. The locale part now fails when locale-gen did not
  // generate the locale; the firewall part removes an SSH port move's temporary opening.
  ...["n1", "n2"].flatMap((n) => [
    ...merged(n, "base", ["apt", "packages", "locale", "facts"]),
    ...merged(n, "security", ["upgrades", "fail2ban", "firewall", "sshd"]),
  ]),
  ...merged("n1", "virtualization", ["check", "packages", "libvirtd", "cockpit"]),
  // Timers exist only where their subject does: no Ceph or ZFS yet, so the health and
  // scrub timers go (the management step removes them from the hosts).
  ...merged("n1", "management", ["firstboot", "ceph-health", "zfs-scrub"]),
  ...merged("n2", "management", ["firstboot"]),
  // Every step's prelude bounds each apt-get update (a vanished proxy hung it for good):
  // the steps that stay steps of their own are replaced too, and change nothing.
  ...["n1-network-apply", "n1-network-confirm", "n1-virtualization-net-lab-nat", "n1-virtualization-net-lab-br", "n1-virtualization-pool-default"]
    .map((s): [string, string] => ["replace", `debvisor-${s}`]),
  // A new layer on the hyperconverged node: containers (containerd, Docker Engine +
  // Compose). What it installs is its own to test; here it only has to be a new step that
  // changes nothing else. (The storage layer's tools come with the base packages; no
  // storage step without Ceph, ZFS, md, LVM or filesystems configured.)
  ["create", "debvisor-n1-containers-apply"],
];
/** Steps of layers new since the baseline: their own changes on the hosts are expected. */
const NEW_LAYER_STEPS = new Set(["debvisor-n1-containers-apply"]);

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
    // Per host: the new layer steps (n1: base, security, virtualization, management; n2:
    // base, security, management) and n1's replaced network and libvirt steps (5, and the
    // 3 libvirt ones' old deletes, skipped as superseded), nothing else.
    // ... and the new containers layer's step on n1.
    expect(await Promise.all(HOSTS.map((h) => lab.stepsRun(h)))).toEqual([before[0] + 13, before[1] + 3]);
    // They changed nothing on the hosts but the intended: the stale timers removed.
    const created = new Set(CHANGES.filter(([op, n]) => op !== "delete" && !NEW_LAYER_STEPS.has(n)).map(([, n]) => n));
    const state = JSON.parse((await ok(pulumiIn(ROOT, "stack", "export"), "stack export")).stdout);
    const changed = state.deployment.resources
      .filter((r: { urn: string; outputs?: { stdout?: unknown } }) => created.has(r.urn.split("::").pop()!) && typeof r.outputs?.stdout === "string")
      .flatMap((r: { urn: string; outputs: { stdout: string } }) => r.outputs.stdout.split("\n").filter((l) => l.startsWith("@changed")).map((l) => `${r.urn.split("::").pop()}: ${l}`));
    expect(changed.sort()).toEqual([
      "debvisor-n1-management-apply: @changed removed timer debvisor-ceph-health (nothing on this node needs it)",
      "debvisor-n1-management-apply: @changed removed timer debvisor-zfs-scrub (nothing on this node needs it)",
      // The containers layer holds its packages (docker.io, runc, compose, ...) on every node.
      "debvisor-n1-security-apply: @changed wrote /etc/apt/apt.conf.d/52debvisor-unattended-upgrades",
      "debvisor-n1-security-apply: @changed wrote /etc/debvisor/held-packages",
      "debvisor-n2-security-apply: @changed wrote /etc/apt/apt.conf.d/52debvisor-unattended-upgrades",
      "debvisor-n2-security-apply: @changed wrote /etc/debvisor/held-packages",
    ]);
    expect(await lab.out("n1", "systemctl list-unit-files 'debvisor-*.timer' --no-legend | wc -l")).toBe("0");
    const again = await pulumiIn(ROOT, "preview", "--expect-no-changes", "--non-interactive");
    expect(again.code, again.stdout + again.stderr).toBe(0);
  });
});
