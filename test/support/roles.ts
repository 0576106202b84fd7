import { contributionsOf, layersNamed } from "../../components/layers.js";
import type { RoleRule } from "../../components/security/firewall.js";

/** Roles as the old firewall policy named them, turned into the role rules the layers contribute. */
export function roleRules(roles: { storage?: boolean; kubernetes?: boolean; virtualization?: boolean }, security: { nodePorts?: string; wireguard?: boolean } = {}): RoleRule[] {
  const names = (["storage", "kubernetes", "virtualization"] as const).filter((r) => roles[r]);
  return contributionsOf(layersNamed(...names), { security }).firewallRules;
}
