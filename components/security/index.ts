export * from "./firewall.js";
export * from "./sshd.js";
export * from "./fail2ban.js";
export * from "./upgrades.js";
export * from "./security.js";
export * from "./layer.js";
export * from "./schema.js";
export * from "./steps.js";
