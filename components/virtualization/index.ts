export * from "./virtualization.js";
