export * from "./sources.js";
export * from "./debian-base.js";
export * from "./layer.js";
export * from "./schema.js";
export * from "./steps.js";
