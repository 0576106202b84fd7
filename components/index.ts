/** DebVisor: Pulumi components that turn Debian hosts into DebVisor nodes. */
export * from "./config/index.js";
export * from "./host/index.js";
export * from "./base/index.js";
export * from "./security/index.js";
export * from "./management/index.js";
export * from "./network/index.js";
export * from "./virtualization/index.js";
export * from "./storage/index.js";
export * from "./containers/index.js";
export * from "./kubernetes/index.js";
export type * from "./layer.js";
export * from "./layers.js";
export * from "./node.js";
export * from "./cluster.js";
