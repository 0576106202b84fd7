export interface Fail2banOptions {
  /** SSH ports the jail watches. */
  sshPorts: number[];
  /** Failures within findtime before a ban. */
  maxRetry: number;
  findTime: string;
  banTime: string;
}

/** jail.d/debvisor.local after its `[DEFAULT] ignoreip` line (the step adds that). */
export function renderJail(o: Fail2banOptions): string {
  return [
    "# Managed by DebVisor: changes here are overwritten.",
    "banaction = nftables-multiport",
    "banaction_allports = nftables-allports",
    "",
    "[sshd]",
    "enabled = true",
    // Debian 12 and later have no auth.log: the journal is the only source.
    "backend = systemd",
    `port = ${[...new Set(o.sshPorts)].sort((a, b) => a - b).join(",")}`,
    `maxretry = ${o.maxRetry}`,
    `findtime = ${o.findTime}`,
    `bantime = ${o.banTime}`,
  ].join("\n");
}

/** Addresses never banned: loopback and the provisioning controller. */
export function renderIgnoreIp(controllerAddresses: string[]): string {
  return [...new Set(["127.0.0.1/8", "::1", ...controllerAddresses])].join(" ");
}
