export * from "./profiles.js";
export * from "./units.js";
export * from "./preseed.js";
export * from "./management.js";
export * from "./layer.js";
export * from "./schema.js";
