import { describe, expect, it } from "vitest";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { installMocks, type Registration } from "../support/mocks.js";
import { CANARY_KEY, CANARY_TOKEN, fakeFiles, HOST_KEY, validStackConfig } from "../support/fixtures.js";
import { checkResource, REMOTE_COMMAND, RULES, ruleConfig, type CheckOptions } from "../../policy/rules.js";
import { nftOpenings } from "../../policy/firewall.js";
import { renderParams } from "../../components/host/remote-step.js";

// The policy rules, fed with the registrations a real unit run records.
const mocks = await installMocks();
const { deployStack } = await import("../../stacks/index.js");
const { RemoteStep, resolveHost } = await import("../../components/host/index.js");

const SIG_KEY = "4dabf18193072939515e22adb298388d";
/** Was this input sent to the engine as a secret? */
const isSecret = (v: unknown) => v !== null && typeof v === "object" && SIG_KEY in (v as object);

/** Every violation of every registration, as the pack would report them. */
function violations(regs: Registration[], config?: CheckOptions["config"]) {
  return regs.flatMap((r) =>
    checkResource(r.type, r.inputs, { name: r.name, config, secretPayload: isSecret(r.raw.stdin) || undefined }).map((v) => ({ ...v, name: r.name })),
  );
}

/** Registrations of a stack config built with the fixtures. */
async function deploy(cfg: any): Promise<Registration[]> {
  mocks.reset();
  deployStack(cfg, { readFile: fakeFiles });
  return mocks.settle();
}

const rule = (name: string) => RULES.find((r) => r.name === name)!;
const POLICY_DIR = join(import.meta.dirname, "../../policy");

describe("policy pack rules", () => {
  it("the dev-like stack complies (both firewall backends)", async () => {
    const cfg = validStackConfig();
    cfg.nodes[1].security = { firewall: "ufw" };
    cfg.defaults.security = { clusterNetworks: ["10.213.0.0/24"], controllerAddresses: ["10.213.0.1"] };
    const regs = await deploy(cfg);
    const commands = regs.filter((r) => r.type === REMOTE_COMMAND);
    // The firewall is a part of each node's security step.
    expect(commands.filter((r) => r.name.endsWith("-security-apply") && String(r.inputs.stdin).includes("# --- part firewall: security/firewall.sh")).length).toBe(3);
    expect(violations(regs)).toEqual([]);
  });

  it("flags an SSH command without a pinned host key", async () => {
    const cfg = validStackConfig(1);
    delete cfg.nodes[0].hostKeyFile;
    cfg.nodes[0].insecureSkipHostKeyCheck = true;
    const regs = await deploy(cfg);
    const cmd = regs.find((r) => r.type === REMOTE_COMMAND)!;
    expect(checkResource(cmd.type, cmd.inputs, { name: cmd.name })).toEqual([
      { rule: "remote-command-pinned-host-key", message: `step ${cmd.name} (host 10.213.0.12): no pinned hostKey (insecureSkipHostKeyCheck): any man-in-the-middle is accepted` },
    ]);
    // Every step of that node, and only this rule.
    const v = violations(regs);
    expect(new Set(v.map((x) => x.rule))).toEqual(new Set(["remote-command-pinned-host-key"]));
    expect(v.length).toBe(regs.filter((r) => r.type === REMOTE_COMMAND).length);
  });

  it("flags environment variables, previous output in env and key material in a command line", () => {
    const bad = { connection: { host: "h", hostKey: "ssh-ed25519 AAAA" }, environment: { DV_X: "1" }, create: "echo '-----BEGIN OPENSSH PRIVATE KEY-----'" };
    expect(checkResource(REMOTE_COMMAND, bad).map((v) => v.rule).sort()).toEqual([
      "remote-command-no-environment", "remote-command-no-environment", "remote-command-no-key-in-command",
    ]);
  });

  it("every rule has a unique name, a description, and settings with defaults", () => {
    expect(new Set(RULES.map((r) => r.name)).size).toBe(RULES.length);
    for (const r of RULES) {
      expect(r.description.length).toBeGreaterThan(10);
      for (const [k, s] of Object.entries(r.settings ?? {})) expect(s.default, `${r.name}.${k}`).toBeDefined();
    }
  });
});

describe("firewall-no-world-open", () => {
  const worldOpen = (backend: "nftables" | "ufw", from: string[], port: number | string = 8080) => {
    const cfg = validStackConfig(2);
    cfg.defaults.security = { firewall: backend, clusterNetworks: ["10.213.0.0/24"] };
    cfg.nodes[0].security = { extraRules: [{ port, from, comment: "web" }] };
    return cfg;
  };

  it("stops 0.0.0.0/0 on one node's nftables firewall, naming the step, host, rule, port and source", async () => {
    const v = violations(await deploy(worldOpen("nftables", ["0.0.0.0/0"])));
    expect(v).toEqual([{
      rule: "firewall-no-world-open", name: "debvisor-n1-security-apply",
      message: 'step debvisor-n1-security-apply, part firewall (host 10.213.0.12): nftables rule "web" accepts tcp dport 8080 from 0.0.0.0/0 (every IPv4 address)',
    }]);
  });

  it("stops 0.0.0.0/0 and ::/0 on the ufw backend", async () => {
    const v = violations(await deploy(worldOpen("ufw", ["0.0.0.0/0", "::/0"], "8000-8100")));
    expect(v.map((x) => x.message)).toEqual([
      'step debvisor-n1-security-apply, part firewall (host 10.213.0.12): ufw rule "web" accepts tcp port 8000:8100 from 0.0.0.0/0 (every IPv4 address)',
      'step debvisor-n1-security-apply, part firewall (host 10.213.0.12): ufw rule "web" accepts tcp port 8000:8100 from ::/0 (every IPv6 address)',
    ]);
  });

  it("stops ::/0 on nftables, and a prefix shorter than the minimum (configurable)", async () => {
    expect(violations(await deploy(worldOpen("nftables", ["::/0"]))).map((x) => x.message)).toEqual([
      'step debvisor-n1-security-apply, part firewall (host 10.213.0.12): nftables rule "web" accepts tcp dport 8080 from ::/0 (every IPv6 address)',
    ]);
    const regs = await deploy(worldOpen("nftables", ["64.0.0.0/2", "10.0.0.0/8", "2001:db8::/32"]));
    expect(violations(regs).map((x) => x.message)).toEqual([
      'step debvisor-n1-security-apply, part firewall (host 10.213.0.12): nftables rule "web" accepts tcp dport 8080 from 64.0.0.0/2 (a /2, wider than the minimum /8 for IPv4)',
    ]);
    // A stricter site: /16 for IPv4, /48 for IPv6.
    const strict = violations(regs, { "firewall-no-world-open": { minPrefixV4: 16, minPrefixV6: 48 } }).map((x) => x.message);
    expect(strict.length).toBe(2);
    expect(strict[0]).toContain("64.0.0.0/2 (a /2, wider than the minimum /16 for IPv4), 10.0.0.0/8 (a /8, wider than the minimum /16 for IPv4)");
    expect(strict[1]).toContain("2001:db8::/32 (a /32, wider than the minimum /48 for IPv6)");
  });

  it("sees world-wide cluster networks and controller addresses too (every role port, SSH)", async () => {
    const cfg = validStackConfig(1);
    cfg.defaults.security = { clusterNetworks: ["0.0.0.0/0"] };
    const ports = violations(await deploy(cfg)).map((x) => x.message);
    expect(ports.length).toBeGreaterThan(10);
    expect(ports.some((m) => m.includes('rule "ssh" accepts tcp dport 22 from 0.0.0.0/0'))).toBe(true);
    expect(ports.some((m) => m.includes('rule "kube-apiserver" accepts tcp dport 6443 from 0.0.0.0/0'))).toBe(true);
    const ctl = validStackConfig(1);
    ctl.defaults.security = { firewall: "ufw", clusterNetworks: ["10.213.0.0/24"], controllerAddresses: ["::/0"] };
    expect(violations(await deploy(ctl)).map((x) => x.message)).toEqual([
      'step debvisor-n1-security-apply, part firewall (host 10.213.0.12): ufw rule "ssh" accepts tcp port 22 from ::/0 (every IPv6 address)',
    ]);
  });

  it("stops an untrusted interface accepted wholesale, and keeps the default trusted interfaces", async () => {
    const cfg = validStackConfig(1);
    cfg.defaults.security = { trustedInterfaces: ["eth0", "cali*"] };
    const v = violations(await deploy(cfg));
    expect(v.map((x) => x.message)).toEqual([
      'step debvisor-n1-security-apply, part firewall (host 10.213.0.12): nftables rule "trusted interface" accepts every port on interface eth0 from 0.0.0.0/0 (every IPv4 address), ::/0 (every IPv6 address)',
    ]);
    expect(violations(await deploy(cfg), { "firewall-no-world-open": { trustedInterfaces: ["eth*", "cali*"] } })).toEqual([]);
  });

  it("reads hand-written rulesets: no default-deny, no input chain, negated and anonymous sources", () => {
    expect(nftOpenings("table inet t {\n chain input {\n  type filter hook input priority 0; policy accept;\n }\n}\n").problems).toEqual([
      "input chain input has policy accept: every port it does not drop is open to everyone",
    ]);
    expect(nftOpenings("table inet t {\n chain fwd {\n  type filter hook forward priority 0; policy drop;\n }\n}\n").problems).toEqual([
      "no chain hooked to input: inbound traffic is not filtered at all",
    ]);
    const o = nftOpenings([
      "table inet t {", " chain in {", "  type filter hook input priority 0; policy drop;",
      "  ip saddr != 10.0.0.0/8 tcp dport 22 accept", "  ip saddr { 10.1.0.0/16, 0.0.0.0/1 } udp dport { 53, 123 } accept",
      "  tcp dport 443 accept", "  ct state established,related accept", " }", "}",
    ].join("\n")).openings;
    expect(o.map((x) => [x.what, x.from])).toEqual([
      ["tcp dport 22", ["0.0.0.0/0"]],
      ["udp dport { 53, 123 }", ["10.1.0.0/16", "0.0.0.0/1"]],
      ["tcp dport 443", ["0.0.0.0/0", "::/0"]],
    ]);
  });

  it("judges address ranges by the smallest network holding both ends", () => {
    const nft = "table inet t {\n chain input {\n  type filter hook input priority 0; policy drop;\n" +
      "  ip saddr 10.0.0.0-10.255.255.255 tcp dport 22 accept comment \"a\"\n  ip saddr 0.0.0.0-127.255.255.255 tcp dport 80 accept comment \"b\"\n }\n}\n";
    const stdin = `#!/bin/bash\nset -euo pipefail\n${renderParams({ DV_BACKEND: "nftables", DV_NFT: nft })}echo\n`;
    expect(checkResource(REMOTE_COMMAND, { connection: { host: "h", hostKey: HOST_KEY }, addPreviousOutputInEnv: false, stdin }, { name: "s" })).toEqual([{
      rule: "firewall-no-world-open",
      message: 'step s (host h): nftables rule "b" accepts tcp dport 80 from 0.0.0.0-127.255.255.255 (a /1, wider than the minimum /8 for IPv4)',
    }]);
  });

  it("checks a secret payload without printing anything from it", async () => {
    mocks.reset();
    const host = resolveHost({ address: "10.213.0.12", privateKey: CANARY_KEY, hostKey: HOST_KEY });
    const nft = "table inet debvisor {\n chain input {\n  type filter hook input priority filter; policy drop;\n" +
      `  ip saddr 0.0.0.0/0 tcp dport 8443 accept comment "${CANARY_TOKEN}"\n }\n}\n`;
    new RemoteStep("debvisor-n1-security-apply", {
      host, script: "security/firewall.sh",
      params: { DV_BACKEND: "nftables", DV_UFW_RULES: "", DV_UFW_IPIP: "" },
      secretParams: { DV_NFT: pulumi.secret(nft) },
    }, {});
    const regs = await mocks.settle();
    expect(isSecret(regs[0].raw.stdin)).toBe(true);
    const v = violations(regs);
    expect(v).toEqual([{
      rule: "firewall-no-world-open", name: "debvisor-n1-security-apply",
      message: "step debvisor-n1-security-apply (host 10.213.0.12): the firewall opens 1 rule(s) to networks wider than allowed (details withheld: the step's payload is secret)",
    }]);
    // Secret payload recognised from the inputs alone, as the pack sees them.
    expect(checkResource(REMOTE_COMMAND, regs[0].inputs, { name: regs[0].name })).toEqual(v.map(({ rule, message }) => ({ rule, message })));
    for (const x of v) for (const needle of [CANARY_TOKEN, "0.0.0.0", "8443"]) expect(x.message).not.toContain(needle);
  });

  it("a payload it cannot read is a violation, not a pass", () => {
    const props = { connection: { host: "h", hostKey: HOST_KEY }, addPreviousOutputInEnv: false, stdin: "#!/bin/bash\nexport DV_NFT='never closed\n" };
    expect(checkResource(REMOTE_COMMAND, props, { name: "s" }).map((v) => v.message)).toEqual([
      "step s (host h): its stdin parameters cannot be read, so they cannot be checked: parameter DV_NFT: unterminated single quote",
      "step s (host h): its stdin parameters cannot be read, so they cannot be checked: parameter DV_NFT: unterminated single quote",
    ]);
  });
});

// The rule reads the step parameter convention the storage layer uses (DV_WIPE / DV_WIPE_*:
// disks, one per line or space-separated): on synthetic steps built with the real
// RemoteStep, and on the storage layer's own step.
describe("disk-wipe-opt-in", () => {
  const D1 = "/dev/disk/by-id/ata-LABDISK_LAB-n1-d1";
  const D2 = "/dev/disk/by-id/ata-LABDISK_LAB-n1-d2";
  const wipeStep = async (params: Record<string, string>, secret = false) => {
    mocks.reset();
    const host = resolveHost({ address: "10.213.0.11", privateKey: CANARY_KEY, hostKey: HOST_KEY });
    new RemoteStep("debvisor-n1-storage-wipe", {
      host, script: "security/upgrades.sh",
      ...(secret ? { params: {}, secretParams: params } : { params }),
    }, {});
    return mocks.settle();
  };

  it("stops a wipe of a disk the policy config does not name", async () => {
    const regs = await wipeStep({ DV_WIPE: `${D1}\n${D2}` });
    expect(violations(regs)).toEqual([{
      rule: "disk-wipe-opt-in", name: "debvisor-n1-storage-wipe",
      message: `step debvisor-n1-storage-wipe (host 10.213.0.11): DV_WIPE wipes ${D1}, ${D2}: every byte on it is lost; name the disk in this policy's allowedWipes to allow it`,
    }]);
    // Opting in one disk exactly leaves the other flagged; both: nothing.
    expect(violations(regs, { "disk-wipe-opt-in": { allowedWipes: [D1] } }).map((v) => v.message)).toEqual([
      `step debvisor-n1-storage-wipe (host 10.213.0.11): DV_WIPE wipes ${D2}: every byte on it is lost; name the disk in this policy's allowedWipes to allow it`,
    ]);
    expect(violations(regs, { "disk-wipe-opt-in": { allowedWipes: [D1, D2] } })).toEqual([]);
    expect(violations(regs, { "disk-wipe-opt-in": { allowedWipes: ["/dev/disk/by-id/ata-LABDISK_LAB-n1"] } }).length).toBe(1); // no prefixes
  });

  it("checks each part of a layer's multi-part step on its own: two parts with DV_WIPE are two wipes", async () => {
    mocks.reset();
    const host = resolveHost({ address: "10.213.0.11", privateKey: CANARY_KEY, hostKey: HOST_KEY });
    new RemoteStep("debvisor-n1-storage-apply", {
      host,
      parts: [
        { name: "wipe-a", script: "security/upgrades.sh", params: { DV_WIPE: D1 } },
        { name: "wipe-b", script: "security/fail2ban.sh", params: { DV_WIPE: D2 } },
      ],
    }, {});
    expect(violations(await mocks.settle()).map((v) => v.message)).toEqual([
      `step debvisor-n1-storage-apply, part wipe-a (host 10.213.0.11): DV_WIPE wipes ${D1}: every byte on it is lost; name the disk in this policy's allowedWipes to allow it`,
      `step debvisor-n1-storage-apply, part wipe-b (host 10.213.0.11): DV_WIPE wipes ${D2}: every byte on it is lost; name the disk in this policy's allowedWipes to allow it`,
    ]);
  });

  it("stops the storage layer's own wipe opt-in (storage.wipe) unless the policy names the disk", async () => {
    mocks.reset();
    const { DebVisorNode } = await import("../../components/index.js");
    new DebVisorNode("debvisor-n1", {
      host: { address: "10.213.0.11", privateKey: CANARY_KEY, hostKey: HOST_KEY }, profile: "storage", base: { contrib: true },
      storage: { zfsPools: [{ name: "tank", vdevs: [{ type: "mirror", disks: [D1, D2] }] }], wipe: [D2] },
    });
    const regs = await mocks.settle();
    expect(violations(regs).map((v) => v.message)).toEqual([
      `step debvisor-n1-storage-apply, part zfs (host 10.213.0.11): DV_WIPE wipes ${D2}: every byte on it is lost; name the disk in this policy's allowedWipes to allow it`,
    ]);
    expect(violations(regs, { "disk-wipe-opt-in": { allowedWipes: [D2] } })).toEqual([]);
  });

  it("an empty wipe list, or another parameter, is no wipe", async () => {
    expect(violations(await wipeStep({ DV_WIPE: "", DV_WIPED_MARKER: D1, DV_DISKS: D1 }))).toEqual([]);
  });

  it("sees DV_WIPE_* in a secret payload without naming the disks", async () => {
    const v = violations(await wipeStep({ DV_WIPE_DATA: `${D1} ${D2}`, DV_TOKEN: CANARY_TOKEN }, true));
    expect(v.map((x) => x.message)).toEqual([
      "step debvisor-n1-storage-wipe (host 10.213.0.11): DV_WIPE_DATA wipes 2 disk(s) not in allowedWipes (names withheld: the step's payload is secret)",
    ]);
  });

  it("is read from the payload exactly: a wipe list smuggled inside another value is not a parameter", () => {
    const stdin = `#!/bin/bash\nset -euo pipefail\n${renderParams({ DV_NOTE: `x'\nexport DV_WIPE='${D1}'\n'` })}echo\n`;
    expect(checkResource(REMOTE_COMMAND, { connection: { host: "h", hostKey: HOST_KEY }, addPreviousOutputInEnv: false, stdin })).toEqual([]);
  });
});

describe("policy pack config files", () => {
  const files = readdirSync(join(POLICY_DIR, "config")).filter((f) => f.endsWith(".json"));
  const levels = ["advisory", "mandatory", "remediate", "disabled"];

  it("ship a production (all mandatory) and a dev (world-open advisory) config", () => {
    expect(files.sort()).toEqual(["dev.json", "production.json"]);
    const prod = JSON.parse(readFileSync(join(POLICY_DIR, "config/production.json"), "utf8"));
    const dev = JSON.parse(readFileSync(join(POLICY_DIR, "config/dev.json"), "utf8"));
    for (const r of RULES) expect(prod[r.name]?.enforcementLevel ?? prod.all, `production ${r.name}`).toBe("mandatory");
    expect(dev["firewall-no-world-open"].enforcementLevel).toBe("advisory");
  });

  for (const f of files) {
    it(`${f} names only real rules, real levels and declared settings of the right type`, () => {
      const cfg = JSON.parse(readFileSync(join(POLICY_DIR, "config", f), "utf8"));
      for (const [k, v] of Object.entries<any>(cfg)) {
        if (k === "all") {
          expect(levels).toContain(v);
          continue;
        }
        const r = rule(k);
        expect(r, `${f}: ${k} is not a rule`).toBeDefined();
        const settings = typeof v === "string" ? { enforcementLevel: v } : v;
        for (const [s, value] of Object.entries<any>(settings)) {
          if (s === "enforcementLevel") expect(levels).toContain(value);
          else {
            const schema = r.settings?.[s];
            expect(schema, `${f}: ${k}.${s} is not a setting`).toBeDefined();
            expect(schema!.type === "array" ? Array.isArray(value) : typeof value === (schema!.type === "integer" ? "number" : schema!.type), `${f}: ${k}.${s}`).toBe(true);
          }
        }
        expect(() => ruleConfig(r, settings)).not.toThrow();
      }
    });
  }
});
