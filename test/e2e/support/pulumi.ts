export * from "../../../scripts/support/pulumi.js";
