import { afterAll, describe, expect, it } from "vitest";
import { readdirSync } from "node:fs";
import { lab, ok, run } from "./support/run.js";
import { renderCommand, renderPartsPayload, renderPayload, type StepPart } from "../../components/host/index.js";
import { sample } from "../support/step-samples.js";
import * as network from "./samples/network.js";
import * as virtualization from "./samples/virtualization.js";
import * as vm from "./samples/vm.js";
import * as containers from "./samples/containers.js";
import * as storage from "./samples/storage.js";
import * as kubernetes from "./samples/kubernetes.js";

// Scripts in run order (later ones need what earlier ones installed).
const ORDER = [
  "base/apt-sources.sh", "base/packages.sh", "base/locale.sh", "base/facts.sh",
  "security/upgrades.sh", "security/fail2ban.sh", "security/firewall.sh", "security/sshd.sh",
  "management/firstboot.sh", "management/timer.sh", "management/timers.sh",
  ...network.order, ...virtualization.order, ...vm.order, ...containers.order,
];
// Last, after the multi-part check: sshd moves to port 2222 (the move over port 22, the confirm over 2222).
const SSH_ORDER = ["security/ssh-move.sh", "security/ssh-confirm.sh"];
// The port sshd listens on (it moves during the run); the confirm step always comes in on the new one.
let sshPort = "22";
const portOf = (script: string, params: Record<string, string>) => (script === "security/ssh-confirm.sh" ? params.DV_TO : sshPort);

function runStep(host: string, script: string, params: Record<string, string>) {
  return run("ssh", ["-F", `${process.env.DEBVISOR_LAB_DIR ?? "/var/lib/debvisor-lab"}/ssh_config`, "-p", portOf(script, params), `root@${host}`, renderCommand("root", 900, `script-tier-${script}`)], {
    input: renderPayload(script, params),
  });
}

let ranOnLab = false;

describe("step scripts", () => {
  const scripts = (readdirSync("components", { recursive: true }) as string[]).filter((f) => f.endsWith(".sh") && f !== "host/lib.sh" && !f.includes("/files/") && !f.includes("/include/")).sort();

  it("every script has sample parameters and a place in the run order", () => {
    expect([...ORDER, ...SSH_ORDER, ...storage.elsewhere, ...kubernetes.elsewhere].sort()).toEqual(scripts);
  });

  it.each(scripts)("%s passes shellcheck as rendered", async (script) => {
    const r = await run("shellcheck", ["-s", "bash", "-"], { input: renderPayload(script, sample("bookworm")[script]) });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  afterAll(async () => {
    if (ranOnLab) await lab.cmd("down");
  });

  // A layer's step: its scripts as parts of one payload (base and security here).
  const layerParts = (release: "bookworm" | "trixie"): StepPart[] => [
    ...(["apt-sources", "packages", "locale"] as const).map((p) => ({ name: p, script: `base/${p}.sh`, params: sample(release)[`base/${p}.sh`] })),
    { name: "facts", script: "base/facts.sh", params: {}, always: true },
    ...(["upgrades", "fail2ban", "firewall", "sshd"] as const).map((p) => ({ name: p, script: `security/${p}.sh`, params: sample(release)[`security/${p}.sh`] })),
  ];

  it("a layer step's multi-part payload passes shellcheck", async () => {
    const r = await run("shellcheck", ["-s", "bash", "-"], { input: renderPartsPayload("script-tier", layerParts("bookworm")) });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  for (const release of ["bookworm", "trixie"] as const) {
    it(`each script converges on ${release}, and its second run changes nothing`, async () => {
      ranOnLab = true;
      await lab.fresh("--hosts", "1", "--release", release);
      sshPort = "22";
      const converge = async (scripts: string[]) => {
        for (const script of scripts) {
          const first = await ok(runStep("n1", script, sample(release)[script]), `${script} first run on ${release}`);
          if (script === "security/ssh-confirm.sh") sshPort = sample(release)[script].DV_TO;
          const second = await ok(runStep("n1", script, sample(release)[script]), `${script} second run on ${release}`);
          expect(second.stdout.split("\n").filter((l) => l.startsWith("@changed")), `${script} second run on ${release}`).toEqual([]);
          if (script !== "base/facts.sh") expect(first.stdout, `${script} first run changed something`).toContain("@changed");
        }
      };
      await converge(ORDER);
      // The same scripts as one multi-part step: applied already (each script ran above, but
      // no part is recorded), so its first run changes nothing; its second skips every part
      // but facts.
      const parts = renderPartsPayload("script-tier", layerParts(release));
      const multi = (what: string) => ok(run("ssh", ["-F", `${process.env.DEBVISOR_LAB_DIR ?? "/var/lib/debvisor-lab"}/ssh_config`, "-p", sshPort, "root@n1", renderCommand("root", 1800, "script-tier-parts")], { input: parts }), what);
      expect((await multi(`multi-part first run on ${release}`)).stdout).not.toContain("@changed");
      const again = await multi(`multi-part second run on ${release}`);
      expect(again.stdout).not.toContain("@changed");
      expect(again.stdout).toContain(`@fact codename=${release}`);
      expect(await lab.out("n1", "journalctl -q -t debvisor -o cat --no-pager | grep '^part script-tier/' | tail -n 7")).toBe(
        ["apt-sources", "packages", "locale", "upgrades", "fail2ban", "firewall", "sshd"].map((p) => `part script-tier/${p} skipped: applied already`).join("\n"));
      await converge(SSH_ORDER);
      // The move let only the controller (this machine on the lab bridge) through to 2222
      // until the firewall step replaces the table.
      const opening = await run("ssh", ["-F", `${process.env.DEBVISOR_LAB_DIR ?? "/var/lib/debvisor-lab"}/ssh_config`, "-p", sshPort, "root@n1", "nft list chain inet debvisor input | grep debvisor-ssh-move"]);
      expect(opening.stdout.trim()).toMatch(/^ip saddr 10\.213\.0\.1 tcp dport 2222 accept comment "debvisor-ssh-move"$/);
      const facts = (await runStep("n1", "base/facts.sh", {})).stdout;
      expect(facts).toContain(`@fact codename=${release}`);
      expect(facts).toContain("@fact locale=en_US.UTF-8");
      // sshd left port 22: the firewall and sshd answer only on 2222 now.
      expect((await run("ssh", ["-F", `${process.env.DEBVISOR_LAB_DIR ?? "/var/lib/debvisor-lab"}/ssh_config`, "-o", "ConnectTimeout=5", "root@n1", "true"])).code).not.toBe(0);
    });
  }
});
