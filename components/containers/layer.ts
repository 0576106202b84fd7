import { trusted } from "../config/trusted.js";
import { DEFAULT_RELEASE } from "../base/sources.js";
import type { LayerDescriptor } from "../layer.js";
import { containersRules, containersSchema } from "./schema.js";
import { ContainersHost } from "./containers.js";
import { CONTAINER_HELD_PACKAGES } from "./versions.js";

/**
 * The containers layer: containerd + crictl, Docker Engine + Compose, from Debian's
 * archive, pinned and held. It opens no port: published container ports are DNAT-ed and
 * forwarded by Docker's own rules, which DebVisor's firewall table leaves alone.
 */
export const containersLayer: LayerDescriptor = {
  name: "containers",
  settings: { key: "containers", schema: containersSchema, rules: (s) => containersRules(s) },
  heldPackages: CONTAINER_HELD_PACKAGES,
  build(node, after) {
    const component = new ContainersHost(`${node.name}-containers`, trusted({
      ...node.args.containers, host: node.host, release: node.args.base?.release ?? DEFAULT_RELEASE, swapOff: node.has("kubernetes"),
    }), { parent: node.parent, dependsOn: after ? [after] : [] });
    return { component, ready: component.ready };
  },
};
