export * from "./problems.js";
export * from "./formats.js";
