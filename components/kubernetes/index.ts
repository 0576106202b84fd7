export * from "./layer.js";
export * from "./schema.js";
export * from "./versions.js";
