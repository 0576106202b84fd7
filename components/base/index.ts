export * from "./sources.js";
export * from "./debian-base.js";
