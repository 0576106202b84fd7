export * from "./host.js";
export * from "./remote-step.js";
export { loadScript } from "./scripts.js";
