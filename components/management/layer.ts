import { trusted } from "../config/trusted.js";
import type { LayerDescriptor } from "../layer.js";
import { NodeManagement } from "./management.js";
import { managementRules, managementSchema } from "./schema.js";

/** The management layer: the first-boot unit and the timers other layers contribute (and no others). On every node. */
export const managementLayer: LayerDescriptor = {
  name: "management",
  always: true,
  settings: { key: "management", schema: managementSchema, rules: managementRules },
  build(node, after) {
    const timers = node.contributions.timers;
    const component = new NodeManagement(`${node.name}-management`, trusted({ ...node.args.management, host: node.host, timers }), { parent: node.parent, dependsOn: after ? [after] : [] });
    return { component, ready: component.ready };
  },
};
