import { stepSpec } from "../host/remote-step.js";
import { renderIgnoreIp, renderJail, type Fail2banOptions } from "./fail2ban.js";
import { renderNftables, renderUfwRules, type FirewallBackend, type FirewallPolicy } from "./firewall.js";
import { renderSshdConfig, type SshdOptions } from "./sshd.js";
import { HOLD_HELPER, PERIODIC, renderUnattendedUpgrades, type UpgradesOptions } from "./upgrades.js";

/** `security/upgrades.sh`: unattended-upgrades config, periodic runs, the held packages and the hold hook. */
export const upgradesStep = (o: UpgradesOptions) =>
  stepSpec("security/upgrades.sh", { DV_CONF: renderUnattendedUpgrades(o), DV_PERIODIC: PERIODIC, DV_HOLD: o.held.join(" "), DV_HOOK: HOLD_HELPER });

/** `security/fail2ban.sh`: the sshd jail and the addresses never banned. */
export const fail2banStep = (o: Fail2banOptions, controllerAddresses: string[]) =>
  stepSpec("security/fail2ban.sh", { DV_JAIL: renderJail(o), DV_IGNORE: renderIgnoreIp(controllerAddresses) });

/**
 * `security/firewall.sh`: the nftables table, or the ufw rules (the other backend gets "").
 * The nodes of a cluster usually share one list of cluster networks (as long as the
 * cluster): equal policies over that same list give the same StepSpec object, rendered
 * once, so a cluster's firewalls cost time linear in its size, not quadratic.
 */
export function firewallStep(backend: FirewallBackend, policy: FirewallPolicy) {
  let byPolicy = firewallSteps.get(policy.clusterNetworks);
  if (!byPolicy) firewallSteps.set(policy.clusterNetworks, (byPolicy = new Map()));
  const key = JSON.stringify([backend, { ...policy, clusterNetworks: undefined }]);
  let spec = byPolicy.get(key);
  if (!spec) byPolicy.set(key, (spec = renderFirewallStep(backend, policy)));
  return spec;
}
const firewallSteps = new WeakMap<readonly string[], Map<string, ReturnType<typeof renderFirewallStep>>>();

function renderFirewallStep(backend: FirewallBackend, policy: FirewallPolicy) {
  const ufw = backend === "ufw" ? renderUfwRules(policy) : undefined;
  return stepSpec("security/firewall.sh", {
    DV_BACKEND: backend,
    DV_NFT: backend === "nftables" ? renderNftables(policy) : "",
    DV_UFW_RULES: ufw ? ufw.rules.join("\n") : "",
    DV_UFW_IPIP: ufw ? ufw.ipipFrom.join(" ") : "",
  });
}

/** `security/sshd.sh`: the sshd drop-in, the provisioning user kept allowed. */
export const sshdStep = (o: SshdOptions) =>
  stepSpec("security/sshd.sh", { DV_SSHD_CONF: renderSshdConfig(o), DV_USER: o.provisioningUser, DV_PERMIT_ROOT: o.permitRootLogin });
