import { trusted } from "../config/trusted.js";
import type { LayerDescriptor } from "../layer.js";
import { hostNetworkOf, storageFactsOf, virtualizationRules, virtualizationSchema } from "./schema.js";
import { COCKPIT_PORT, VirtualizationHost } from "./virtualization.js";

/** The virtualization layer: KVM/QEMU, libvirt networks, pools and VMs, Cockpit (whose port it opens). */
export const virtualizationLayer: LayerDescriptor = {
  name: "virtualization",
  settings: { key: "virtualization", schema: virtualizationSchema, rules: (s, node) => virtualizationRules(s, hostNetworkOf(node), storageFactsOf(node)) },
  contribute: () => ({ firewallRules: [{ protocol: "tcp", ports: [COCKPIT_PORT, COCKPIT_PORT], comment: "cockpit" }] }),
  build(node, after) {
    const component = new VirtualizationHost(`${node.name}-virtualization`, trusted({ ...node.args.virtualization, host: node.host }), { parent: node.parent, dependsOn: after ? [after] : [] });
    return { component, ready: component.ready };
  },
};
