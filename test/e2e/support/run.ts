export * from "../../../scripts/support/run.js";
