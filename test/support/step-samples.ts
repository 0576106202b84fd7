import { BASE_PACKAGES, aptSourcesStep, factsStep, localeStep, packagesStep, type DebianRelease } from "../../components/base/index.js";
import { DEFAULT_TRUSTED_INTERFACES, fail2banStep, firewallStep, sshConfirmStep, sshMoveStep, sshdStep, upgradesStep } from "../../components/security/index.js";
import { firstBootParams, timerParams, timersStep } from "../../components/management/index.js";
import { cephHealthTimer } from "../../components/storage/index.js";
import { DEFAULT_HELD_PACKAGES } from "../../components/layers.js";
import { roleRules } from "./roles.js";
import * as network from "../e2e/samples/network.js";
import * as virtualization from "../e2e/samples/virtualization.js";
import * as vm from "../e2e/samples/vm.js";
import * as containers from "../e2e/samples/containers.js";
import * as storage from "../e2e/samples/storage.js";
import * as kubernetes from "../e2e/samples/kubernetes.js";

// Sample parameters of every step script, built with the same builders the components
// use: the script tier runs them on lab hosts, the unit tier checks them against the
// DV_ names each script reads.
const labPolicy = {
  clusterNetworks: ["10.213.0.0/24"], controllerAddresses: ["10.213.0.1"], sshPorts: [22],
  roleRules: roleRules({ storage: true, kubernetes: true, virtualization: true }, { wireguard: true }),
  trustedInterfaces: DEFAULT_TRUSTED_INTERFACES, extraRules: [{ port: "8000-8100", protocol: "udp" as const, comment: "sample" }],
};

// The script tier: every step script passes shellcheck as the host runs it (prelude and
// parameters included), and runs twice on a real lab host with the second run
// reporting no change. Runs on bookworm and on trixie.
export const sample = (release: DebianRelease): Record<string, Record<string, string>> => ({
  "base/apt-sources.sh": aptSourcesStep({
    release, mirror: "http://deb.debian.org/debian", securityMirror: "http://deb.debian.org/debian-security", contrib: true, nonFree: false, backports: true,
    aptProxy: "http://10.213.0.1:3142",
  }).params,
  "base/packages.sh": packagesStep([...BASE_PACKAGES, "hello"]).params,
  "base/locale.sh": localeStep("en_US.UTF-8", "UTC").params,
  "base/facts.sh": factsStep().params,
  "security/upgrades.sh": upgradesStep({ release, securityOnly: true, held: DEFAULT_HELD_PACKAGES }).params,
  "security/fail2ban.sh": fail2banStep({ sshPorts: [22], maxRetry: 5, findTime: "10m", banTime: "1h" }, ["10.213.0.1"]).params,
  "security/firewall.sh": firewallStep("nftables", labPolicy).params,
  "security/sshd.sh": sshdStep({ permitRootLogin: "prohibit-password", allowUsers: [], settings: { MaxSessions: "8" }, provisioningUser: "root" }).params,
  "management/firstboot.sh": firstBootParams(),
  "management/timer.sh": timerParams(cephHealthTimer()),
  "management/timers.sh": timersStep(["debvisor-zfs-scrub"]).params,
  // The script tier runs these last: sshd ends on port 2222.
  "security/ssh-move.sh": sshMoveStep(22, 2222, 120).params,
  "security/ssh-confirm.sh": sshConfirmStep(22, 2222).params,
  ...network.sample(release),
  ...virtualization.sample(release),
  ...vm.sample(release),
  ...containers.sample(release),
  ...storage.sample(release),
  ...kubernetes.sample(release),
});
