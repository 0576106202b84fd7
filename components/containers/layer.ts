import type { LayerDescriptor } from "../layer.js";

/** The containers layer (Docker Engine + Compose, containerd + crictl): not built yet; its runtimes are held. */
export const containersLayer: LayerDescriptor = {
  name: "containers",
  heldPackages: ["containerd", "containerd.io"],
};
