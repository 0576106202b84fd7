import { afterAll, describe, expect, it } from "vitest";
import { readdirSync } from "node:fs";
import { lab, ok, run } from "./support/run.js";
import { renderCommand, renderPayload } from "../../components/host/index.js";
import { sample } from "../support/step-samples.js";
import * as network from "./samples/network.js";
import * as virtualization from "./samples/virtualization.js";
import * as vm from "./samples/vm.js";

// Scripts in run order (later ones need what earlier ones installed).
const ORDER = [
  "base/apt-sources.sh", "base/packages.sh", "base/locale.sh", "base/facts.sh",
  "security/upgrades.sh", "security/fail2ban.sh", "security/firewall.sh", "security/sshd.sh",
  "management/firstboot.sh", "management/timer.sh", "management/timers.sh",
  ...network.order, ...virtualization.order, ...vm.order,
  // Last: sshd moves to port 2222 (the move over port 22, the confirm over 2222).
  "security/ssh-move.sh", "security/ssh-confirm.sh",
];
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
  const scripts = (readdirSync("components", { recursive: true }) as string[]).filter((f) => f.endsWith(".sh") && f !== "host/lib.sh" && !f.includes("/files/")).sort();

  it("every script has sample parameters and a place in the run order", () => {
    expect([...ORDER].sort()).toEqual(scripts);
  });

  it.each(scripts)("%s passes shellcheck as rendered", async (script) => {
    const r = await run("shellcheck", ["-s", "bash", "-"], { input: renderPayload(script, sample("bookworm")[script]) });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  afterAll(async () => {
    if (ranOnLab) await lab.cmd("down");
  });

  for (const release of ["bookworm", "trixie"] as const) {
    it(`each script converges on ${release}, and its second run changes nothing`, async () => {
      ranOnLab = true;
      await lab.fresh("--hosts", "1", "--release", release);
      sshPort = "22";
      for (const script of ORDER) {
        const first = await ok(runStep("n1", script, sample(release)[script]), `${script} first run on ${release}`);
        if (script === "security/ssh-confirm.sh") sshPort = sample(release)[script].DV_TO;
        const second = await ok(runStep("n1", script, sample(release)[script]), `${script} second run on ${release}`);
        expect(second.stdout.split("\n").filter((l) => l.startsWith("@changed")), `${script} second run on ${release}`).toEqual([]);
        if (script !== "base/facts.sh") expect(first.stdout, `${script} first run changed something`).toContain("@changed");
      }
      const facts = (await runStep("n1", "base/facts.sh", {})).stdout;
      expect(facts).toContain(`@fact codename=${release}`);
      expect(facts).toContain("@fact locale=en_US.UTF-8");
      // sshd left port 22: the firewall and sshd answer only on 2222 now.
      expect((await run("ssh", ["-F", `${process.env.DEBVISOR_LAB_DIR ?? "/var/lib/debvisor-lab"}/ssh_config`, "-o", "ConnectTimeout=5", "root@n1", "true"])).code).not.toBe(0);
    });
  }
});
