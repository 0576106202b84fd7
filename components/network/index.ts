export * from "./interfaces.js";
export * from "./network.js";
export * from "./layer.js";
export * from "./schema.js";
