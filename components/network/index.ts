export * from "./interfaces.js";
export * from "./network.js";
