import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { LAB_DIR, ROOT, lab, ok, run } from "./support/run.js";

// Changing a converged node's SSH port through the engine: sshd moves (commit-confirmed),
// the firewall follows, the next up dials the new port and changes nothing; a port that
// cannot be opened is rolled back and the host answers on its old port.
const STACK = "e2e-sshport";
const ENV = { PULUMI_CONFIG_PASSPHRASE: "debvisor-e2e-sshport", DEBVISOR_SKIP_BUILD: "1" };
const HOST = "n3";
const ADDRESS = "10.213.0.13";
const configFile = join(ROOT, `Pulumi.${STACK}.yaml`);
const pulumi = (...args: string[]) => run("bash", ["scripts/pulumi.sh", ...args, "--stack", STACK], { env: ENV });
const up = () => pulumi("up", "--yes", "--skip-preview", "--non-interactive");
const writeCluster = (port: number) => {
  const current = existsSync(configFile) ? (parse(readFileSync(configFile, "utf8")) ?? {}) : {};
  const cluster = {
    defaults: { user: "debvisor", privateKeyFile: `${LAB_DIR}/id_ed25519`, aptProxy: "http://10.213.0.1:3142", security: { controllerAddresses: ["10.213.0.1"], portMoveRollbackSeconds: 20 } },
    nodes: [{ name: HOST, address: ADDRESS, hostKeyFile: `${LAB_DIR}/hostkeys/${HOST}.pub`, profile: "minimal", port }],
  };
  writeFileSync(configFile, stringify({ ...current, config: { ...current.config, "debvisor:cluster": cluster } }));
};
/** A command on the host as root over the given SSH port. */
const on = (port: number, command: string) => run("ssh", ["-F", `${LAB_DIR}/ssh_config`, "-p", String(port), "-o", "ConnectTimeout=5", `root@${HOST}`, command]);
const out = async (port: number, command: string) => (await ok(on(port, command), `on ${HOST}:${port}: ${command}`)).stdout.trim();
const sshdPorts = (port: number) => out(port, "ss -Hltnp | grep '\"sshd\"' | awk '{print $4}' | sed 's/.*://' | sort -un | xargs");
const stepsRun = async (port: number) => Number(await out(port, "journalctl -q -t debvisor -o cat --no-pager | grep -c '^step ' || true"));

describe.sequential("changing a node's SSH port", () => {
  beforeAll(async () => {
    await ok(run("bash", ["scripts/setup.sh"]), "npm run setup");
    await ok(run("npm", ["run", "--silent", "build"]), "npm run build");
    await lab.freshHosts(3, "bookworm", HOST);
    await pulumi("stack", "rm", "--yes", "--force");
    await ok(pulumi("stack", "init"), `pulumi stack init ${STACK}`);
    writeCluster(22);
    await ok(up(), "first up on port 22");
  });
  afterAll(async () => {
    await pulumi("stack", "rm", "--yes", "--force");
    rmSync(configFile, { force: true });
    await lab.cmd("reset", HOST); // sshd back on 22 for the next tests
  });

  it("a port another program holds is refused on the host; nothing changes and sshd stays on 22", async () => {
    await ok(on(22, "systemd-run --unit=e2e-blocker python3 -m http.server 2223 >/dev/null 2>&1; sleep 2"), "a program on port 2223");
    writeCluster(2223);
    const r = await up();
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toContain("port 2223 is taken on this host");
    expect(await sshdPorts(22)).toBe("22");
    await ok(on(22, "systemctl stop e2e-blocker"), "stop the blocker");
  });

  it("a port the controller cannot reach is rolled back by the host itself: it answers on 22 again", async () => {
    // Connections to 2224 are rejected in a table of the test's own (DebVisor's firewall cannot open it).
    await ok(on(22, "nft add table inet e2eblock && nft add chain inet e2eblock input '{ type filter hook input priority -10; }' && nft add rule inet e2eblock input tcp dport 2224 reject with tcp reset"), "block 2224");
    writeCluster(2224);
    const r = await up();
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/ssh 10\.213\.0\.13:2224: could not connect/);
    expect(await out(22, "cat /var/lib/debvisor/ssh-port/state")).toBe("rolledback 22 2224");
    expect(await sshdPorts(22)).toBe("22");
    expect(await out(22, "nft list chain inet debvisor input | grep -c debvisor-ssh-move || true")).toBe("0");
    expect(await out(22, "journalctl -o cat --no-pager | grep -c 'no connection on port 2224 within 20 s: sshd is back on port 22' || true")).toBe("1");
    await ok(on(22, "nft delete table inet e2eblock"), "unblock");
  });

  it("moves sshd to 2222: the firewall opens 2222 and closes 22; the next up dials 2222 and runs no step", async () => {
    writeCluster(2222);
    await ok(up(), "up with port 2222");
    expect(await sshdPorts(2222)).toBe("2222");
    expect(await out(2222, "cat /var/lib/debvisor/ssh-port/state")).toBe("committed 2222");
    const rules = await out(2222, "nft list chain inet debvisor input");
    expect(rules).toMatch(/tcp dport 2222 accept comment "ssh"/);
    expect(rules).not.toMatch(/tcp dport 22 accept/);
    expect(rules).not.toContain("debvisor-ssh-move");
    expect((await on(22, "true")).code).not.toBe(0); // closed
    expect(await out(2222, "grep -h '^port' /etc/fail2ban/jail.d/*.local | head -n1")).toContain("2222");
    const before = await stepsRun(2222);
    await ok(up(), "next up");
    expect(await stepsRun(2222)).toBe(before);
    const preview = await pulumi("preview", "--expect-no-changes", "--non-interactive");
    expect(preview.code, preview.stdout + preview.stderr).toBe(0);
  });
});
