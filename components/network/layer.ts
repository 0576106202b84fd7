import { trusted } from "../config/trusted.js";
import type { LayerDescriptor } from "../layer.js";
import { HostNetwork } from "./network.js";
import { networkClusterRules, networkRules, networkSchema } from "./schema.js";

/** The network layer: br0, VLANs, bonds, commit-confirmed. */
export const networkLayer: LayerDescriptor = {
  name: "network",
  settings: { key: "network", schema: networkSchema, rules: (s, node) => networkRules(s, node.args.host?.address), clusterRules: networkClusterRules },
  build(node, after) {
    const component = new HostNetwork(`${node.name}-network`, trusted({ ...node.args.network, host: node.host }), { parent: node.parent, dependsOn: after ? [after] : [] });
    return { component, ready: component.ready }; // `bridge: false` and nothing else: no step
  },
};
