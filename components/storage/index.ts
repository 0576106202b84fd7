export * from "./timers.js";
export * from "./layer.js";
