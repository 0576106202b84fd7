export * from "./timers.js";
export * from "./layer.js";
export * from "./schema.js";
export * from "./storage.js";
export * from "./ceph/cluster.js";
export * from "./ceph/steps.js";
export * from "./local.js";
