import { trusted } from "../config/trusted.js";
import type { LayerDescriptor } from "../layer.js";
import { NodeManagement } from "./management.js";
import { managementRules, managementSchema } from "./schema.js";

/** The management layer: the first-boot unit and the timers other layers contribute. On every node that needs either. */
export const managementLayer: LayerDescriptor = {
  name: "management",
  always: true,
  settings: { key: "management", schema: managementSchema, rules: managementRules },
  build(node, after) {
    const timers = node.contributions.timers;
    if (!node.args.management?.firstBoot && timers.length === 0) return undefined;
    const component = new NodeManagement(`${node.name}-management`, trusted({ ...node.args.management, host: node.host, timers }), { parent: node.parent, dependsOn: [after] });
    return { component, ready: component.ready };
  },
};
