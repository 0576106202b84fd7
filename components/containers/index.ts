export * from "./layer.js";
export * from "./schema.js";
export * from "./versions.js";
export * from "./render.js";
export * from "./steps.js";
export * from "./containers.js";
