import { loadScript } from "../host/scripts.js";

const PACKAGE_GLOB = /^[a-z0-9][a-z0-9+.*-]*$/;
export function isPackageGlob(value: string): boolean {
  return typeof value === "string" && PACKAGE_GLOB.test(value);
}

/** A shell glob as the anchored Python regex unattended-upgrades matches blacklist entries with. */
export function globToRegex(glob: string): string {
  return `^${glob.replace(/[.+]/g, (c) => `\\${c}`).replace(/\*/g, ".*")}$`;
}

export interface UpgradesOptions {
  /** Debian release codename. */
  release: string;
  /** Only the security archive (true) or also point-release updates of the release. */
  securityOnly: boolean;
  /** Package globs held and excluded. */
  held: string[];
}

/**
 * apt.conf for unattended-upgrades. `#clear` drops the lists Debian's
 * 50unattended-upgrades set, so this file's origins and exclusions are the only ones.
 */
export function renderUnattendedUpgrades(o: UpgradesOptions): string {
  const origins = [
    `"origin=Debian,codename=${o.release}-security,label=Debian-Security";`,
    ...(o.securityOnly ? [] : [`"origin=Debian,codename=${o.release},label=Debian";`, `"origin=Debian,codename=${o.release}-updates,label=Debian";`]),
  ];
  return [
    "// Managed by DebVisor: changes here are overwritten.",
    `// ${o.securityOnly ? "Security updates only." : "Security and point-release updates."} No automatic reboot.`,
    "#clear Unattended-Upgrade::Origins-Pattern;",
    "Unattended-Upgrade::Origins-Pattern {",
    ...origins.map((l) => `  ${l}`),
    "};",
    "#clear Unattended-Upgrade::Package-Blacklist;",
    "Unattended-Upgrade::Package-Blacklist {",
    ...o.held.map((g) => `  "${globToRegex(g)}";`),
    "};",
    'Unattended-Upgrade::Automatic-Reboot "false";',
    'Unattended-Upgrade::Automatic-Reboot-WithUsers "false";',
    'Unattended-Upgrade::Remove-Unused-Kernel-Packages "true";',
    'Unattended-Upgrade::SyslogEnable "true";',
    "",
  ].join("\n");
}

export const PERIODIC = [
  "// Managed by DebVisor: daily package lists and unattended-upgrade run.",
  'APT::Periodic::Update-Package-Lists "1";',
  'APT::Periodic::Unattended-Upgrade "1";',
  "",
].join("\n");

/**
 * The hold helper, run by apt after every dpkg run (DPkg::Post-Invoke) and by the
 * upgrades step: holds the installed packages that match /etc/debvisor/held-packages.
 * Inside apt the dpkg frontend lock is apt's own, so dpkg is told it is already held.
 */
export const HOLD_HELPER = loadScript("security/files/hold-packages.sh");
