export * from "./layer.js";
export * from "./schema.js";
export * from "./versions.js";
export * from "./kubeadm.js";
export * from "./addons.js";
export * from "./cluster.js";
