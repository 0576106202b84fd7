import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { ROOT, lab, ok, run } from "./support/run.js";

// The virtualization layer through the real engine against two fresh lab hosts (no
// /dev/kvm there): n1 with software emulation allowed, a bridged, a NAT and an isolated
// libvirt network and a dir pool; n2 first WITHOUT allowEmulation (the layer must stop
// before installing anything), then with it and without Cockpit. One stack of its own;
// each test builds on the one before.
const STACK = "e2e-virt";
const ENV = { PULUMI_CONFIG_PASSPHRASE: "debvisor-e2e-virt", DEBVISOR_SKIP_BUILD: "1" };
const configFile = join(ROOT, `Pulumi.${STACK}.yaml`);
const HOSTS = ["n1", "n2"];
const POOL_DIR = "/srv/e2e-vm-images";

const pulumi = {
  run: (...args: string[]) => run("bash", ["scripts/pulumi.sh", ...args, "--stack", STACK], { env: ENV }),
  up: () => pulumi.run("up", "--yes", "--skip-preview", "--non-interactive"),
  /**
   * `up`, once more when it failed on the dpkg lock: the base and security layers of a
   * fresh host can still run apt at the same time (their steps do not wait for each
   * other), and dv_install's "finishing an interrupted dpkg run" does not wait for the
   * lock. Not this layer's bug; without the retry the test would mostly test that race.
   */
  async upRetryingDpkgLock() {
    const r = await pulumi.up();
    if (r.code !== 0 && (r.stdout + r.stderr).includes("dpkg frontend lock was locked")) return pulumi.up();
    return r;
  },
};

const NETWORKS = [
  { name: "lan", mode: "bridge", bridge: "br0" },
  { name: "vnat", mode: "nat", subnet: "192.168.150.0/24", dhcp: { start: "192.168.150.100", end: "192.168.150.200" } },
  { name: "iso", mode: "isolated", subnet: "10.77.0.0/24" },
];
const POOLS = [{ name: "images", type: "dir", path: POOL_DIR }];

/** The dev stack's lab cluster, n1 and n2 only, profile compute, the host network left alone. */
function cluster(mutate: (c: any) => void = () => {}): any {
  const c = parse(readFileSync(join(ROOT, "Pulumi.dev.yaml"), "utf8")).config["debvisor:cluster"];
  c.defaults.security = { clusterNetworks: ["10.213.0.0/24"], controllerAddresses: ["10.213.0.1"] };
  c.defaults.profile = "compute";
  c.defaults.network = { bridge: false };
  c.nodes = c.nodes.filter((n: any) => HOSTS.includes(n.name));
  c.nodes[0].virtualization = { allowEmulation: true, networks: structuredClone(NETWORKS), pools: structuredClone(POOLS) };
  c.nodes[1].virtualization = { allowEmulation: true, cockpit: false };
  mutate(c);
  return c;
}
/** Sets `debvisor:cluster`, keeping what `stack init` wrote (the encryption salt). */
function write(c: unknown) {
  const current = existsSync(configFile) ? (parse(readFileSync(configFile, "utf8")) ?? {}) : {};
  writeFileSync(configFile, stringify({ ...current, config: { ...current.config, "debvisor:cluster": c } }));
}

/** The steps run on a host after the first `skip` (the step wrapper logs `step <name> start|delete`). */
async function stepsSince(host: string, skip: number): Promise<string[]> {
  const lines = (await lab.out(host, "journalctl -q -t debvisor -o cat --no-pager | grep '^step ' || true")).split("\n").filter(Boolean);
  return lines.slice(skip).map((l) => l.replace(/^step /, ""));
}

/** `virsh net-list --all` / `pool-list --all` as {name: "state autostart"}. */
async function virshList(host: string, what: "net" | "pool"): Promise<Record<string, string>> {
  const out = await lab.out(host, `virsh -q ${what}-list --all`);
  return Object.fromEntries(out.split("\n").filter(Boolean).map((l) => l.trim().split(/\s+/)).map(([n, s, a]) => [n, `${s} ${a}`]));
}

/** GET over HTTPS, any certificate (Cockpit's is self-signed). */
function httpsGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((done, fail) => {
    const req = request(url, { rejectUnauthorized: false, timeout: 10_000 }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => done({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", fail);
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.end();
  });
}

describe.sequential("virtualization layer against the lab (bookworm)", () => {
  beforeAll(async () => {
    await ok(run("bash", ["scripts/setup.sh"]), "npm run setup");
    await ok(run("npm", ["run", "--silent", "build"]), "npm run build");
    // The reset is retried once: it once failed with "RTNETLINK answers: File exists"
    // (the old veth outliving its namespace; the lab now waits for it).
    try {
      await lab.freshHosts(5, "bookworm", ...HOSTS);
    } catch {
      await new Promise((r) => setTimeout(r, 10_000));
      await ok(lab.cmd("reset", ...HOSTS), `lab reset ${HOSTS.join(" ")} (again)`);
    }
    // `stack rm` deletes the stack's config file; `stack init` writes its salt into a new one.
    await pulumi.run("stack", "rm", "--yes", "--force");
    await ok(pulumi.run("stack", "init"), `pulumi stack init ${STACK}`);
    // The base and security layers first (profile minimal): the steps of a node's layers
    // do not wait for the layers before them yet, and their apt runs would race with this
    // layer's install (see upRetryingDpkgLock).
    // (A minimal node's own virtualization settings would be refused: they wait for the next stage.)
    write(cluster((c) => {
      c.defaults.profile = "minimal";
      for (const n of c.nodes) delete n.virtualization;
    }));
    await ok(pulumi.upRetryingDpkgLock(), "pulumi up with the base and security layers");
  });
  afterAll(async () => {
    await pulumi.run("stack", "rm", "--yes", "--force");
    rmSync(configFile, { force: true });
  });

  it("without /dev/kvm, a node that demands hardware virtualization fails with a clear message before anything is installed", async () => {
    // n2 alone (n1 would keep installing while the engine stops).
    write(cluster((c) => {
      c.nodes = [c.nodes[1]];
      c.nodes[0].virtualization = { allowEmulation: false }; // Pulumi.dev.yaml's defaults allow it
    }));
    const r = await pulumi.upRetryingDpkgLock();
    expect(r.code).not.toBe(0);
    const text = r.stdout + r.stderr;
    expect(text).toContain("hardware virtualization (KVM) is not usable on n2: /dev/kvm is missing");
    expect(text).toContain("set virtualization.allowEmulation: true");
    const installed = await lab.out("n2", "dpkg-query -W -f='${db:Status-Status} ${Package}\\n' qemu-system-x86 libvirt-daemon-system libvirt-clients cockpit 2>/dev/null | grep '^installed' || true");
    expect(installed).toBe("");
    expect(await lab.out("n2", "command -v virsh qemu-system-x86_64 || true")).toBe("");
  });

  it("up converges: libvirtd active, networks and pools active with autostart, Cockpit on n1 only", async () => {
    write(cluster());
    await ok(pulumi.upRetryingDpkgLock(), "pulumi up");
    for (const h of HOSTS) {
      expect(await lab.out(h, "systemctl is-enabled libvirtd.service; systemctl is-active libvirtd.service"), h).toBe("enabled\nactive");
      for (const p of ["qemu-system-x86", "qemu-utils", "ovmf", "seabios", "libvirt-clients"]) {
        expect(await lab.out(h, `dpkg-query -W -f='\${db:Status-Status}' ${p}`), `${h} ${p}`).toBe("installed");
      }
      // Software emulation was allowed: the warning is in the check's journal... and libvirt can run TCG guests.
      expect(await lab.out(h, "virsh domcapabilities --virttype qemu --arch x86_64 >/dev/null && echo tcg"), h).toBe("tcg");
    }
    const nets = await virshList("n1", "net");
    for (const n of ["lan", "vnat", "iso"]) expect(nets[n], `network ${n}`).toBe("active yes");
    expect((await virshList("n1", "pool")).images).toBe("active yes");
    expect(await lab.out("n1", "virsh pool-dumpxml images | grep '<path>'")).toBe(`<path>${POOL_DIR}</path>`);
    // NAT really is NAT: a bridge with the gateway address, masquerading, a DHCP server.
    expect(await lab.out("n1", "ip -4 -br addr show dev $(virsh net-info vnat | awk '/^Bridge:/ {print $2}')")).toContain("192.168.150.1/24");
    expect(await lab.out("n1", "iptables -t nat -S | grep -c 'MASQUERADE' || true")).not.toBe("0");
    expect(await lab.out("n1", "pgrep -a dnsmasq | grep -q 'dnsmasq/vnat.conf' && echo dhcp")).toBe("dhcp");
    // Cockpit: socket on 9090 on n1; not installed on n2 (cockpit: false).
    expect(await lab.out("n1", "systemctl is-active cockpit.socket")).toBe("active");
    expect(await lab.out("n2", "dpkg-query -W -f='${db:Status-Status}' cockpit 2>/dev/null || echo absent")).not.toBe("installed");
    // NetworkManager came with Cockpit's network page: it manages no interface.
    expect(await lab.out("n1", "cat /etc/NetworkManager/conf.d/90-debvisor-unmanaged.conf")).toContain("unmanaged-devices=*");
    expect(await lab.out("n1", "nmcli -t -f DEVICE,STATE device | sort")).not.toMatch(/:(connected|connecting)/);
    expect(await lab.out("n1", "nmcli -t -f DEVICE,STATE device | grep '^eth0:'")).toBe("eth0:unmanaged");
    // libvirtd stays up (Debian's idle timeout is cleared).
    expect(await lab.out("n1", "systemctl show -p Environment libvirtd.service")).not.toContain("--timeout");
  });

  it("a second up changes nothing and runs no remote command", async () => {
    await ok(pulumi.run("preview", "--expect-no-changes", "--non-interactive"), "preview --expect-no-changes");
    const before = await Promise.all(HOSTS.map((h) => lab.stepsRun(h)));
    await ok(pulumi.up(), "second pulumi up");
    expect(await Promise.all(HOSTS.map((h) => lab.stepsRun(h)))).toEqual(before);
  });

  it("editing one network's DHCP range redefines only that network", async () => {
    const before = await lab.stepsRun("n1");
    const beforeN2 = await lab.stepsRun("n2");
    const isoPid = await lab.out("n1", "pgrep -f 'dnsmasq/[i]so.conf'");
    const uuids = await lab.out("n1", "for n in lan vnat iso; do virsh net-uuid $n; done");
    write(cluster((c) => (c.nodes[0].virtualization.networks[1].dhcp = { start: "192.168.150.50", end: "192.168.150.60" })));
    await ok(pulumi.up(), "pulumi up with a new DHCP range");
    // The step is replaced (new trigger): the new one runs; the old one's delete is skipped
    // (RemoteStep: superseded by a newer apply), so the network is not undefined.
    expect(await stepsSince("n1", before)).toEqual(["debvisor-n1-virtualization-net-vnat start", "debvisor-n1-virtualization-net-vnat delete skipped: superseded by a newer apply"]);
    expect(await stepsSince("n2", beforeN2)).toEqual([]);
    // Defined again in place (same uuid), running with the new range; the others untouched.
    expect(await lab.out("n1", "for n in lan vnat iso; do virsh net-uuid $n; done")).toBe(uuids);
    expect(await lab.out("n1", "virsh net-dumpxml vnat | grep '<range'")).toBe("<range start='192.168.150.50' end='192.168.150.60'/>");
    expect(await lab.out("n1", "virsh net-dumpxml --inactive vnat | grep '<range'")).toBe("<range start='192.168.150.50' end='192.168.150.60'/>");
    expect(await lab.out("n1", "pgrep -f 'dnsmasq/[i]so.conf'")).toBe(isoPid);
    expect((await virshList("n1", "net")).vnat).toBe("active yes");
    await ok(pulumi.run("preview", "--expect-no-changes", "--non-interactive"), "preview --expect-no-changes after the edit");
  });

  it("removing the pool from config undefines it and keeps its directory and volumes", async () => {
    await ok(lab.sh("n1", "virsh vol-create-as images keep.qcow2 16M --format qcow2 >/dev/null && echo data >" + POOL_DIR + "/notes.txt"), "a volume and a file in the pool");
    write(cluster((c) => (c.nodes[0].virtualization.pools = [])));
    await ok(pulumi.up(), "pulumi up without the pool");
    expect(await virshList("n1", "pool")).toEqual({});
    expect(await lab.out("n1", `ls ${POOL_DIR} | sort`)).toBe("keep.qcow2\nnotes.txt");
    expect(await lab.out("n1", `cat ${POOL_DIR}/notes.txt`)).toBe("data");
    expect(await lab.out("n1", `qemu-img info ${POOL_DIR}/keep.qcow2 | grep '^virtual size'`)).toContain("16 MiB");
    // The networks stay.
    expect(Object.keys(await virshList("n1", "net")).sort()).toEqual(["default", "iso", "lan", "vnat"]);
    // Back in config: defined again over the same directory, the volume still there.
    write(cluster());
    await ok(pulumi.up(), "pulumi up with the pool again");
    expect((await virshList("n1", "pool")).images).toBe("active yes");
    expect(await lab.out("n1", "virsh vol-list images | awk 'NR>2 && NF {print $1}' | sort")).toBe("keep.qcow2\nnotes.txt");
  });

  it("removing a network from config destroys and undefines only that network", async () => {
    write(cluster((c) => (c.nodes[0].virtualization.networks = c.nodes[0].virtualization.networks.filter((n: any) => n.name !== "iso"))));
    await ok(pulumi.up(), "pulumi up without the isolated network");
    const nets = await virshList("n1", "net");
    expect(nets.iso).toBeUndefined();
    expect(nets.vnat).toBe("active yes");
    expect(nets.lan).toBe("active yes");
  });

  it("Cockpit answers on 9090 and a headless Chromium loads its login form", async () => {
    const r = await httpsGet("https://10.213.0.11:9090/");
    expect(r.status).toBe(200);
    expect(r.body).toContain("login");
    const chromium = ["chromium", "chromium-browser"].find((b) => existsSync(`/usr/bin/${b}`));
    expect(chromium, "Debian's chromium package is needed on the test machine (apt-get install chromium)").toBeDefined();
    const flags = ["--headless", "--no-sandbox", "--disable-gpu", "--ignore-certificate-errors", "--virtual-time-budget=15000", "--window-size=1280,900"];
    const dom = await ok(run(`/usr/bin/${chromium}`, [...flags, "--dump-dom", "https://10.213.0.11:9090/"]), "chromium --dump-dom");
    // The form Cockpit's login script shows: user, password, the login button.
    expect(dom.stdout).toMatch(/<input[^>]*id="login-user-input"/);
    expect(dom.stdout).toMatch(/<input[^>]*id="login-password-input"[^>]*type="password"|<input[^>]*type="password"[^>]*id="login-password-input"/);
    expect(dom.stdout).toMatch(/<button[^>]*id="login-button"/);
    expect(dom.stdout).toContain("DebVisor"); // LoginTitle from DebVisor's cockpit.conf
    mkdirSync(join(ROOT, "test-artifacts"), { recursive: true });
    const shot = join(ROOT, "test-artifacts", "cockpit-login.png");
    rmSync(shot, { force: true });
    await ok(run(`/usr/bin/${chromium}`, [...flags, `--screenshot=${shot}`, "https://10.213.0.11:9090/"]), "chromium --screenshot");
    expect(statSync(shot).size).toBeGreaterThan(10_000);
  });
});
