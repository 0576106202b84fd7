import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { LAB_DIR, lab, ok, run } from "./support/run.js";
import { pulumi } from "./support/pulumi.js";
import { BASE_PACKAGES, renderDebianSources } from "../../components/base/index.js";

// The real Pulumi engine against three fresh lab hosts. Each test builds on the one
// before (one stack, one fleet), so they run in order.
const HOSTS = ["n1", "n2", "n3"];
const steps = () => Promise.all(HOSTS.map((h) => lab.stepsRun(h)));

describe.sequential("pulumi up against the lab", () => {
  beforeAll(async () => {
    await ok(run("bash", ["scripts/setup.sh"]), "npm run setup");
    await ok(run("npm", ["run", "--silent", "build"]), "npm run build");
    await lab.fresh("--hosts", "3");
    await pulumi.freshStack();
    pulumi.writeCluster(pulumi.devCluster());
  });
  afterAll(async () => {
    pulumi.removeConfig();
    await lab.cmd("down");
  });

  it("converges three fresh hosts: locale, timezone and apt sources are what the config says", async () => {
    await ok(pulumi.up(), "first pulumi up");
    const sources = renderDebianSources({
      release: "bookworm", mirror: "http://deb.debian.org/debian", securityMirror: "http://deb.debian.org/debian-security",
      contrib: false, nonFree: false, backports: false,
    });
    for (const h of HOSTS) {
      expect(await lab.out(h, "cat /etc/default/locale"), h).toBe("LANG=en_US.UTF-8");
      expect(await lab.out(h, "locale -a"), h).toContain("en_US.utf8");
      expect(await lab.out(h, "readlink /etc/localtime"), h).toBe("/usr/share/zoneinfo/UTC");
      expect(await lab.out(h, "cat /etc/timezone"), h).toBe("UTC");
      expect(`${await lab.out(h, "cat /etc/apt/sources.list.d/debian.sources")}\n`, h).toBe(sources);
      expect(await lab.out(h, "cat /etc/apt/apt.conf.d/01debvisor-proxy"), h).toContain('Acquire::http::Proxy "http://10.213.0.1:3142";');
      const installed = await lab.out(h, `dpkg-query -W -f='\${Package} \${db:Status-Status}\\n' ${BASE_PACKAGES.join(" ")}`);
      for (const p of BASE_PACKAGES) expect(installed, `${h} ${p}`).toContain(`${p} installed`);
    }
    const nodes = JSON.parse((await ok(pulumi.run("stack", "output", "nodes", "--json", "--show-secrets"), "stack output")).stdout);
    expect(nodes.n2.facts.codename).toBe("bookworm");
    expect(nodes.n2.facts.timezone).toBe("UTC");
    expect(nodes.n2.address).toBe("10.213.0.12");
  });

  it("a second preview expects no changes, and a second up runs no remote command", async () => {
    await ok(pulumi.run("preview", "--expect-no-changes", "--non-interactive"), "preview --expect-no-changes");
    const before = await steps();
    expect(before.every((n) => n >= 4), `steps logged: ${before}`).toBe(true);
    await ok(pulumi.up(), "second pulumi up");
    expect(await steps()).toEqual(before);
  });

  it("keeps the SSH key out of plaintext state, and the policy pack passes", async () => {
    const keyBody = readFileSync(`${LAB_DIR}/id_ed25519`, "utf8").split("\n")[1];
    expect(keyBody.length).toBeGreaterThan(20);
    const exported = (await ok(pulumi.run("stack", "export"), "stack export")).stdout;
    expect(exported).toContain("10.213.0.11"); // the export is real...
    expect(exported).not.toContain(keyBody); // ...and holds no key material in plaintext
    const withSecrets = (await ok(pulumi.run("stack", "export", "--show-secrets"), "stack export --show-secrets")).stdout;
    expect(withSecrets).toContain(keyBody); // the scan can fail: the key is there, encrypted
    const policy = await ok(pulumi.run("preview", "--policy-pack", "policy", "--non-interactive"), "preview --policy-pack policy");
    expect(policy.stdout).toMatch(/debvisor@v0\.1\.0/);
    expect(policy.stdout + policy.stderr).not.toMatch(/mandatory/);
  });

  it("one extra package on one node changes exactly that node's base step, and on the host only its packages part runs", async () => {
    const cluster = pulumi.devCluster();
    cluster.nodes[1].packages = ["hello"];
    pulumi.writeCluster(cluster);
    expect(await pulumi.changes()).toEqual([["replace", "debvisor-n2-base-apply"]]);
    // The diff names the changed parameter: the package list line of the packages part.
    const diff = (await ok(pulumi.run("preview", "--diff", "--non-interactive"), "preview --diff")).stdout;
    expect(diff).toMatch(/^\s*\+ export DV_PACKAGES='locales .* hello'$/m);
    const parts = "journalctl -q -t debvisor -o cat --no-pager | grep '^part base/' || true";
    const partLines = async () => (await lab.out("n2", parts)).split("\n").filter((l) => l !== "");
    const partsBefore = (await partLines()).length;
    const before = await steps();
    await ok(pulumi.up(), "pulumi up with hello on n2");
    expect((await lab.sh("n2", "dpkg -s hello")).code).toBe(0);
    expect((await lab.sh("n1", "dpkg -s hello")).code).not.toBe(0);
    expect(await steps()).toEqual([before[0], before[1] + 1, before[2]]);
    expect((await partLines()).slice(partsBefore)).toEqual([
      "part base/apt skipped: applied already", "part base/packages start", "part base/locale skipped: applied already",
    ]);
  });

  it("a step killed on the host mid-run converges on the next up", async () => {
    const cluster = pulumi.devCluster();
    cluster.nodes[1].packages = ["hello"];
    cluster.nodes[0].packages = ["hello", "sl"];
    pulumi.writeCluster(cluster);
    // On n1: once the packages step has apt-get running, kill the step and apt/dpkg
    // with it (SIGKILL: no cleanup). The [d] keeps the patterns from matching this shell.
    const killer = lab.sh("n1", "for i in $(seq 1 3000); do if pgrep -f '/run/[d]ebvisor-step' >/dev/null && pgrep -x apt-get >/dev/null; then pkill -KILL -f '/run/[d]ebvisor-step'; pkill -KILL -x apt-get; pkill -KILL -x dpkg; echo killed; exit 0; fi; sleep 0.05; done; exit 1");
    const interrupted = await pulumi.up();
    expect((await killer).stdout).toContain("killed");
    expect(interrupted.code, "the interrupted up must fail").not.toBe(0);
    await ok(pulumi.up(), "pulumi up after the kill");
    expect((await lab.sh("n1", "dpkg -s hello && dpkg -s sl")).code).toBe(0);
    await ok(pulumi.run("preview", "--expect-no-changes", "--non-interactive"), "preview after recovery");
  });

  it("a host that is down fails with an error naming it and leaves the others converged", async () => {
    const cluster = pulumi.devCluster();
    Object.assign(cluster.defaults, { dialErrorLimit: 2, perDialTimeout: 5, packages: ["sl"] });
    cluster.nodes[0].packages = ["hello", "sl"];
    cluster.nodes[1].packages = ["hello", "sl"];
    pulumi.writeCluster(cluster);
    await ok(run("ip", ["-n", "dvlab-n3", "link", "set", "eth0", "down"]), "take n3 off the network");
    try {
      const r = await pulumi.up();
      expect(r.code).not.toBe(0);
      expect(r.stdout + r.stderr).toContain("10.213.0.13");
      expect((await lab.sh("n1", "dpkg -s sl")).code).toBe(0);
      expect((await lab.sh("n2", "dpkg -s sl")).code).toBe(0);
    } finally {
      await ok(run("ip", ["-n", "dvlab-n3", "link", "set", "eth0", "up"]), "bring n3 back");
    }
    await ok(pulumi.up(), "pulumi up with n3 back");
    expect((await lab.sh("n3", "dpkg -s sl")).code).toBe(0);
  });

  it("a host whose host key changed is refused before any command runs", async () => {
    const before = await lab.stepsRun("n1");
    await ok(lab.cmd("reset-hostkey", "n1"), "lab reset-hostkey n1");
    expect((await lab.sh("n1", "true")).code, "the lab's own pinned ssh refuses n1 too").not.toBe(0);
    const cluster = pulumi.devCluster();
    Object.assign(cluster.defaults, { dialErrorLimit: 2, perDialTimeout: 5 });
    cluster.nodes[0].packages = ["hello", "sl", "cowsay"];
    pulumi.writeCluster(cluster);
    const r = await pulumi.up();
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/host key|handshake/i);
    expect(await lab.stepsRun("n1", true)).toBe(before);
  });

  it("destroy leaves the hosts reachable and the lab removable", async () => {
    pulumi.writeCluster(pulumi.devCluster());
    await ok(pulumi.run("destroy", "--yes", "--skip-preview", "--non-interactive"), "pulumi destroy");
    for (const h of ["n2", "n3"]) expect(await lab.out(h, "cat /etc/default/locale")).toBe("LANG=en_US.UTF-8");
    await ok(lab.cmd("down"), "lab down");
    expect((await ok(run("ip", ["netns", "list"]), "ip netns list")).stdout).not.toContain("dvlab-");
    expect((await ok(run("ip", ["link", "show"]), "ip link show")).stdout).not.toContain("dvlab0");
  });
});
