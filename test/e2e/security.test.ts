import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { ROOT, lab, ok, run } from "./support/run.js";
import { renderPreseed, timerParams, timersStep, type PreseedOptions } from "../../components/management/index.js";
import { cephHealthTimer, zfsScrubTimer } from "../../components/storage/index.js";
import { renderCommand, renderPayload } from "../../components/host/index.js";

// The security and management layers through the real engine against three fresh lab
// hosts: n1 hyperconverged (nftables, every role port; no health or scrub timer without Ceph/ZFS), n2
// storage with the ufw backend, n3 minimal with the first-boot unit. One stack of its
// own; each test builds on the one before.
const STACK = "e2e-security";
const ENV = { PULUMI_CONFIG_PASSPHRASE: "debvisor-e2e-security", DEBVISOR_SKIP_BUILD: "1" };
const configFile = join(ROOT, `Pulumi.${STACK}.yaml`);
const HOSTS = ["n1", "n2", "n3"];
const ADDR: Record<string, string> = { n1: "10.213.0.11", n2: "10.213.0.12", n3: "10.213.0.13" };

const pulumi = {
  run: (...args: string[]) => run("bash", ["scripts/pulumi.sh", ...args, "--stack", STACK], { env: ENV }),
  up: () => pulumi.run("up", "--yes", "--skip-preview", "--non-interactive"),
};

/** The dev stack's lab cluster with the layers under test configured. */
function clusterFor(release: "bookworm" | "trixie", mutate: (c: any) => void = () => {}): any {
  const c = parse(readFileSync(join(ROOT, "Pulumi.dev.yaml"), "utf8")).config["debvisor:cluster"];
  c.defaults.release = release;
  c.defaults.security = { clusterNetworks: ["10.213.0.0/24"], controllerAddresses: ["10.213.0.1"] };
  c.nodes[1].profile = "storage";
  c.nodes[1].security = { firewall: "ufw" };
  c.nodes[2].profile = "minimal";
  c.nodes[2].management = { firstBoot: true, firstBootScript: "#!/bin/sh\nset -eu\necho run >>/var/lib/debvisor/provision-runs\necho \"debvisor-firstboot status=provisioned host=$(hostname)\"\n" };
  mutate(c);
  return c;
}
/** Sets `debvisor:cluster`, keeping what `stack init` wrote (the encryption salt). */
function write(c: unknown) {
  const current = existsSync(configFile) ? (parse(readFileSync(configFile, "utf8")) ?? {}) : {};
  writeFileSync(configFile, stringify({ ...current, config: { ...current.config, "debvisor:cluster": c } }));
}

/** From one lab host, does a TCP port on another answer (connect or refuse) or time out? */
async function reach(from: string, to: string, port: number): Promise<"open" | "refused" | "filtered"> {
  const r = await lab.sh(from, `timeout 3 bash -c 'exec 3<>/dev/tcp/${ADDR[to]}/${port}' 2>/dev/null; echo rc=$?`);
  const rc = /rc=(\d+)/.exec(r.stdout)?.[1];
  return rc === "0" ? "open" : rc === "124" ? "filtered" : "refused";
}
/** A throwaway TCP listener on a host (python3 is in every lab host). */
const listen = (host: string, port: number) =>
  ok(lab.sh(host, `systemd-run --unit=dvtest-${port} --collect python3 -m http.server ${port} >/dev/null 2>&1 || true; sleep 1`), `listener ${port} on ${host}`);

for (const release of ["bookworm", "trixie"] as const) describe.sequential(`security and management layers against the lab (${release})`, () => {
  const cluster = (mutate: (c: any) => void = () => {}) => clusterFor(release, mutate);
  beforeAll(async () => {
    await ok(run("bash", ["scripts/setup.sh"]), "npm run setup");
    await ok(run("npm", ["run", "--silent", "build"]), "npm run build");
    await lab.fresh("--hosts", "3", "--release", release);
    // `stack rm` deletes the stack's config file; `stack init` writes its salt into a new one.
    await pulumi.run("stack", "rm", "--yes", "--force");
    await ok(pulumi.run("stack", "init"), `pulumi stack init ${STACK}`);
    write(cluster());
  });
  afterAll(async () => {
    await pulumi.run("stack", "rm", "--yes", "--force");
    rmSync(configFile, { force: true });
    await lab.cmd("down");
  });

  it("up converges: firewall loaded and persistent, fail2ban jail running, upgrades configured, sshd key-only", async () => {
    await ok(pulumi.up(), "first pulumi up");
    for (const h of HOSTS) {
      expect(await lab.out(h, "fail2ban-client status sshd"), h).toContain("Status for the jail: sshd");
      expect(await lab.out(h, "grep ignoreip /etc/fail2ban/jail.d/debvisor.local"), h).toContain("10.213.0.1");
      const sshd = await lab.out(h, "sshd -T -C user=debvisor,host=x,addr=10.213.0.1");
      expect(sshd, h).toMatch(/^passwordauthentication no$/m);
      expect(sshd, h).toMatch(/^kbdinteractiveauthentication no$/m);
      expect(sshd, h).toMatch(/^permitrootlogin without-password$/m);
      // unattended-upgrades plans security updates only, and no reboot.
      const dry = await ok(lab.sh(h, "unattended-upgrade --dry-run --debug 2>&1"), `unattended-upgrade --dry-run on ${h}`);
      expect(dry.stdout, h).toContain(`Allowed origins are: origin=Debian,codename=${release}-security,label=Debian-Security`);
      expect(dry.stdout, h).not.toMatch(/reboot/i);
      expect(await lab.out(h, "apt-config shell v Unattended-Upgrade::Automatic-Reboot"), h).toBe("v='false'");
    }
    for (const h of ["n1", "n3"]) {
      expect(await lab.out(h, "systemctl is-enabled debvisor-firewall.service"), h).toBe("enabled");
      expect(await lab.out(h, "nft list table inet debvisor"), h).toContain("policy drop;");
      expect(await lab.out(h, "head -5 /etc/debvisor/firewall.nft"), h).not.toContain("flush ruleset");
    }
    expect(await lab.out("n2", "ufw status verbose"), "n2").toMatch(/Status: active[\s\S]*Default: deny \(incoming\)/);
    // Held packages: DebVisor's own packages are held as soon as apt installs them.
    await ok(lab.sh("n1", "apt-get install -y -q --no-install-recommends containerd >/dev/null 2>&1"), "install containerd on n1");
    expect((await lab.out("n1", "apt-mark showhold")).split("\n")).toContain("containerd");
  });

  it("from a peer, the role ports answer and the others do not", async () => {
    for (const [h, p] of [["n1", 6443], ["n1", 9090], ["n1", 8081], ["n2", 6789], ["n2", 6443], ["n3", 6443]] as const) await listen(h, p);
    expect(await reach("n2", "n1", 22)).toBe("open");
    expect(await reach("n2", "n1", 6443)).toBe("open"); // kubernetes (hyperconverged)
    expect(await reach("n2", "n1", 9090)).toBe("open"); // cockpit (virtualization)
    expect(await reach("n2", "n1", 6800)).toBe("refused"); // ceph OSD range: allowed, nothing listening
    expect(await reach("n2", "n1", 8081)).toBe("filtered"); // not a role port
    expect(await reach("n1", "n2", 6789)).toBe("open"); // ceph mon on the storage node (ufw)
    expect(await reach("n1", "n2", 6443)).toBe("filtered"); // no kubernetes on a storage node
    expect(await reach("n1", "n3", 22)).toBe("open");
    expect(await reach("n1", "n3", 6443)).toBe("filtered"); // minimal: SSH only
  });

  it("a second up changes nothing and runs no remote command", async () => {
    await ok(pulumi.run("preview", "--expect-no-changes", "--non-interactive"), "preview --expect-no-changes");
    const before = await Promise.all(HOSTS.map((h) => lab.stepsRun(h)));
    await ok(pulumi.up(), "second pulumi up (after hardening: no lockout)");
    expect(await Promise.all(HOSTS.map((h) => lab.stepsRun(h)))).toEqual(before);
  });

  it("a broken sshd setting is rejected by sshd -t, sshd keeps answering, and the next good up converges", async () => {
    write(cluster((c) => (c.nodes[0].security = { sshdSettings: { MaxAuthTries: "many" } })));
    const r = await pulumi.up();
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toContain("sshd -t rejected the new settings");
    expect(await lab.out("n1", "grep -c MaxAuthTries /etc/ssh/sshd_config.d/00-debvisor.conf")).toBe("1"); // DebVisor's own, not "many"
    expect(await lab.out("n1", "grep -c many /etc/ssh/sshd_config.d/00-debvisor.conf || true")).toBe("0");
    expect(await lab.out("n1", "sshd -t && systemctl is-active ssh.service")).toBe("active");
    expect((await run("ssh", ["-F", `${process.env.DEBVISOR_LAB_DIR ?? "/var/lib/debvisor-lab"}/ssh_config`, "debvisor@n1", "sudo -n true"])).code).toBe(0);
    write(cluster((c) => (c.nodes[0].security = { sshdSettings: { MaxSessions: "6" } })));
    await ok(pulumi.up(), "pulumi up with a valid sshd setting");
    expect(await lab.out("n1", "sshd -T | grep -i '^maxsessions'")).toBe("maxsessions 6");
  });

  it("the firewall survives a reboot and replaces only its own table", async () => {
    await ok(lab.sh("n1", "nft add table ip othertool && nft 'add chain ip othertool othchain { type filter hook forward priority 0; policy accept; }'"), "a table of another tool");
    await ok(lab.cmd("restart", "n1"), "reboot n1");
    expect(await lab.out("n1", "nft list table inet debvisor")).toContain("policy drop;");
    expect(await lab.out("n1", "fail2ban-client status sshd")).toContain("Status for the jail: sshd");
    expect(await reach("n2", "n1", 8081)).toBe("filtered");
    // A changed rule set is applied without touching other tables.
    await ok(lab.sh("n1", "nft add table ip othertool && nft 'add chain ip othertool othchain { type filter hook forward priority 0; policy accept; }'"), "a table of another tool");
    write(cluster((c) => (c.nodes[0].security = { sshdSettings: { MaxSessions: "6" }, extraRules: [{ port: 8081, comment: "demo" }] })));
    await ok(pulumi.up(), "pulumi up with an extra rule");
    expect(await lab.out("n1", "nft list tables")).toContain("table ip othertool");
    await listen("n1", 8081);
    expect(await reach("n2", "n1", 8081)).toBe("open");
  });

  it("the first-boot unit runs provisioning exactly once across reboots", async () => {
    expect(await lab.out("n3", "systemctl is-enabled debvisor-firstboot.service")).toBe("enabled");
    expect(await lab.out("n3", "test -e /var/lib/debvisor/firstboot.done && echo done || echo pending")).toBe("pending");
    await ok(lab.cmd("restart", "n3"), "first reboot of n3");
    expect(await lab.out("n3", "cat /var/lib/debvisor/provision-runs")).toBe("run");
    expect(await lab.out("n3", "journalctl -o cat -t debvisor-firstboot --no-pager")).toContain("debvisor-firstboot status=provisioned host=n3");
    await ok(lab.cmd("restart", "n3"), "second reboot of n3");
    expect(await lab.out("n3", "cat /var/lib/debvisor/provision-runs")).toBe("run");
    expect(await lab.out("n3", "journalctl -o cat -t debvisor-firstboot --no-pager | grep -c status=started")).toBe("1");
  });

  it("no health or scrub timer where no Ceph or ZFS exists; the checks log a clear line; stale timers are removed", async () => {
    for (const h of ["n1", "n2", "n3"]) expect(await lab.out(h, "systemctl list-unit-files 'debvisor-*.timer' --no-legend | wc -l"), h).toBe("0");
    // The timers as the storage layer will install them (its steps), on n1.
    const step = (script: string, params: Record<string, string>) =>
      ok(lab.sh("n1", renderCommand("root", 300, `e2e-${script}`), renderPayload(script, params)), script);
    for (const t of [cephHealthTimer(), zfsScrubTimer()]) await step("management/timer.sh", timerParams(t));
    // Neither Ceph nor ZFS is installed in the lab (no kernel ZFS here): a clear failure.
    for (const [svc, msg] of [["debvisor-ceph-health", "status=ERROR reason=ceph-missing"], ["debvisor-zfs-scrub", "status=ERROR reason=zpool-missing"]]) {
      expect((await lab.sh("n1", `systemctl start ${svc}.service`)).code, svc).not.toBe(0);
      const line = await lab.out("n1", `journalctl -o json -t ${svc} --no-pager | tail -1`);
      expect(JSON.parse(line), svc).toMatchObject({ PRIORITY: "3", SYSLOG_IDENTIFIER: svc });
      expect(JSON.parse(line).MESSAGE, svc).toContain(msg);
    }
    // The success path, with a stand-in `ceph` CLI answering as a cluster does.
    const stub = (json: string) => ok(lab.sh("n1", "cat >/usr/local/bin/ceph && chmod 755 /usr/local/bin/ceph", `#!/bin/sh\ncat <<'EOF'\n${json}\nEOF\n`), "stand-in ceph");
    await stub('{"status":"HEALTH_WARN","checks":{"OSD_DOWN":{"severity":"HEALTH_WARN"}}}');
    await ok(lab.sh("n1", "systemctl start debvisor-ceph-health.service"), "ceph health with HEALTH_WARN");
    const warn = JSON.parse(await lab.out("n1", "journalctl -o json -t debvisor-ceph-health --no-pager | tail -1"));
    expect(warn).toMatchObject({ PRIORITY: "4", MESSAGE: "debvisor-ceph-health status=HEALTH_WARN checks=OSD_DOWN" });
    await stub('{"status":"HEALTH_OK","checks":{}}');
    await ok(lab.sh("n1", "systemctl start debvisor-ceph-health.service"), "ceph health with HEALTH_OK");
    expect(await lab.out("n1", "journalctl -o cat -t debvisor-ceph-health --no-pager | tail -1")).toBe("debvisor-ceph-health status=HEALTH_OK checks=");
    await ok(lab.sh("n1", "rm -f /usr/local/bin/ceph"), "remove stand-in");
    // The management layer's timers step: a node keeps only the timers its layers want.
    expect((await step("management/timers.sh", timersStep([]).params)).stdout).toContain("@changed removed timer debvisor-ceph-health");
    expect(await lab.out("n1", "systemctl list-unit-files 'debvisor-ceph-health*' 'debvisor-zfs-scrub*' --no-legend | wc -l; ls /usr/local/lib/debvisor/ | grep -c -e health -e scrub || true")).toBe("0\n0");
  });

  it("fail2ban bans a peer that keeps failing to log in, never the controller", async () => {
    const tries = (from: string) => `for i in 1 2 3 4 5 6 7; do timeout 5 ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=3 nosuchuser@${ADDR.n1} true >/dev/null 2>&1; done; true`;
    await ok(lab.sh("n2", tries("n2")), "failed logins from n2");
    const cfg = `${process.env.DEBVISOR_LAB_DIR ?? "/var/lib/debvisor-lab"}/ssh_config`;
    for (let i = 0; i < 7; i++) await run("ssh", ["-F", cfg, "-o", "BatchMode=yes", "-o", "ConnectTimeout=3", "nosuchuser@n1", "true"]);
    let status = "";
    for (let i = 0; i < 20 && !status.includes(ADDR.n2); i++) {
      await new Promise((r) => setTimeout(r, 1000));
      status = await lab.out("n1", "fail2ban-client status sshd");
    }
    expect(status).toMatch(new RegExp(`Banned IP list:.*${ADDR.n2.replace(/\./g, "\\.")}`));
    expect(status).not.toContain("10.213.0.1 ");
    expect(status).not.toMatch(/Banned IP list:.*10\.213\.0\.1(\s|$)/);
    expect(await reach("n2", "n1", 22)).not.toBe("open");
    expect(await lab.out("n1", "true && echo still-reachable")).toBe("still-reachable");
    await ok(lab.sh("n1", `fail2ban-client set sshd unbanip ${ADDR.n2}`), "unban n2");
  });

  it("the preseed for bookworm and trixie passes debconf-set-selections --checkonly on a lab host", async () => {
    const key = (await lab.out("n1", "cat /etc/ssh/ssh_host_ed25519_key.pub")).split(" ").slice(0, 2).join(" ");
    for (const release of ["bookworm", "trixie"] as const) {
      const o: PreseedOptions = {
        hostname: "n9", user: "debvisor", release, locale: "en_US.UTF-8", timezone: "UTC", mirror: "http://deb.debian.org/debian",
        securityMirror: "http://deb.debian.org/debian-security", aptProxy: "http://10.213.0.1:3142", contrib: false, nonFree: false,
        installDisk: "/dev/sda", partitioning: "lvm", authorizedKeys: [key],
      };
      const r = await lab.sh("n1", "cat >/tmp/preseed.cfg && debconf-set-selections --checkonly /tmp/preseed.cfg && echo checked", renderPreseed(o));
      expect(r.stderr, release).toBe("");
      expect(r.stdout.trim(), release).toBe("checked");
    }
  });
});
