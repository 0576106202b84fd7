import { DEFAULT_RELEASE } from "../base/sources.js";
import { trusted } from "../config/trusted.js";
import type { LayerDescriptor } from "../layer.js";
import { securityRules, securitySchema } from "./schema.js";
import { HostSecurity } from "./security.js";

/** The security layer: firewall with the ports the node's layers need, fail2ban, unattended-upgrades, sshd. */
export const securityLayer: LayerDescriptor = {
  name: "security",
  settings: { key: "security", schema: securitySchema, rules: (s, node) => securityRules(s, node.args.host.user ?? "root") },
  build(node, after) {
    const component = new HostSecurity(`${node.name}-security`, trusted({
      ...node.args.security, host: node.host, release: node.args.base?.release ?? DEFAULT_RELEASE,
      roleRules: node.contributions.firewallRules, layerPackages: node.heldPackages,
    }), { parent: node.parent, dependsOn: after ? [after] : [] });
    return { component, ready: component.ready };
  },
};
