import type { LayerDescriptor } from "../layer.js";
import { containersSchema } from "./schema.js";

/** The containers layer (Docker Engine + Compose, containerd + crictl): not built yet; its runtimes are held. */
export const containersLayer: LayerDescriptor = {
  name: "containers",
  settings: { key: "containers", schema: containersSchema },
  heldPackages: ["containerd", "containerd.io"],
};
