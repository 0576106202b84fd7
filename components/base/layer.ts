import { trusted } from "../config/trusted.js";
import type { LayerDescriptor } from "../layer.js";
import { DebianBase } from "./debian-base.js";
import { baseSchema } from "./schema.js";

/** The Debian base layer: apt sources, base packages, locale, timezone, facts. On every node. */
export const baseLayer: LayerDescriptor = {
  name: "base",
  always: true,
  // In the stack config these fields sit directly on a node (release, mirror, packages, ...).
  settings: { key: "base", schema: baseSchema },
  build(node, after) {
    // Other layers' tools come with the base packages (one step fewer per node).
    const extra = node.contributions.packages;
    // (before the node's own, so a user's list stays the end of the line `preview --diff` shows)
    const base = extra.length > 0 ? { ...node.args.base, packages: [...extra, ...(node.args.base?.packages ?? [])] } : node.args.base;
    const component = new DebianBase(`${node.name}-base`, trusted({ ...base, host: node.host }), { parent: node.parent, dependsOn: after ? [after] : [] });
    return { component, ready: component.ready };
  },
};
