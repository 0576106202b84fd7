export * from "./layer.js";
