/** PermitRootLogin values DebVisor accepts (password logins are always off). */
export const ROOT_LOGIN_POLICIES = ["no", "prohibit-password", "forced-commands-only"] as const;
export type RootLoginPolicy = (typeof ROOT_LOGIN_POLICIES)[number];

export interface SshdOptions {
  permitRootLogin: RootLoginPolicy;
  /** When non-empty, only these users may log in (the provisioning user is always added). */
  allowUsers: string[];
  /** Extra sshd_config keywords, validated on the host with `sshd -t` before any reload. */
  settings: Record<string, string>;
  /** The provisioning user: always allowed. */
  provisioningUser: string;
}

export const SSHD_KEYWORD = /^[A-Za-z][A-Za-z0-9]*$/;
/** Keywords DebVisor sets itself: `settings` may not override them. */
export const MANAGED_SSHD_KEYWORDS = ["passwordauthentication", "kbdinteractiveauthentication", "challengeresponseauthentication", "pubkeyauthentication", "permitrootlogin", "permitemptypasswords", "allowusers", "authenticationmethods", "match", "include", "port", "listenaddress"];

/** Why a managed keyword is refused, and what to set instead. */
export function managedSshdKeywordMessage(keyword: string): string {
  const k = keyword.toLowerCase();
  if (k === "port" || k === "listenaddress") return "is managed by DebVisor: every step, the firewall and fail2ban follow the node's `port` and `address` (set those instead)";
  return "is managed by DebVisor (use permitRootLogin / sshAllowUsers)";
}

/** Hardening defaults a node's `sshdSettings` may override. */
export const SSHD_DEFAULTS: Record<string, string> = { X11Forwarding: "no", MaxAuthTries: "4", LoginGraceTime: "30" };

/** The drop-in `/etc/ssh/sshd_config.d/00-debvisor.conf`. */
export function renderSshdConfig(o: SshdOptions): string {
  const users = o.allowUsers.length > 0 ? [...new Set([o.provisioningUser, ...o.allowUsers])] : [];
  return [
    "# Managed by DebVisor: changes here are overwritten. Sorts first: sshd keeps the first value it reads.",
    "PubkeyAuthentication yes",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "PermitEmptyPasswords no",
    `PermitRootLogin ${o.permitRootLogin}`,
    ...(users.length > 0 ? [`AllowUsers ${users.join(" ")}`] : []),
    // DebVisor's defaults for these, unless `settings` names them (sshd keeps the first value).
    ...Object.entries(SSHD_DEFAULTS).filter(([k]) => !Object.keys(o.settings).some((s) => s.toLowerCase() === k.toLowerCase())).map(([k, v]) => `${k} ${v}`),
    ...Object.keys(o.settings).sort().map((k) => `${k} ${o.settings[k]}`),
    "",
  ].join("\n");
}
