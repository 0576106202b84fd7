/** Packages DebVisor versions itself: held, and excluded from unattended-upgrades. */
export const DEFAULT_HELD_PACKAGES = ["kubelet", "kubeadm", "kubectl", "containerd", "containerd.io", "ceph*", "librados*", "librbd*", "libcephfs*", "python3-ceph*", "python3-rados", "python3-rbd", "python3-cephfs", "python3-rgw", "radosgw", "rbd-*", "zfs*", "libzfs*", "libzpool*", "libnvpair*", "libuutil*"];

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
export const HOLD_HELPER = `#!/bin/sh
# Managed by DebVisor: holds the installed packages named (as shell globs) in
# /etc/debvisor/held-packages. Prints the packages it newly held.
set -eu
patterns=$(cat /etc/debvisor/held-packages 2>/dev/null || true)
[ -n "$patterns" ] || exit 0
held=$(dpkg-query -W -f='\${db:Status-Want} \${Package}\\n' 2>/dev/null | awk '$1 == "hold" {print $2}')
new=""
for pkg in $(dpkg-query -W -f='\${db:Status-Status} \${Package}\\n' 2>/dev/null | awk '$1 == "installed" {print $2}'); do
  for pat in $patterns; do
    # shellcheck disable=SC2254
    case "$pkg" in $pat)
      if ! printf '%s\\n' "$held" | grep -qxF "$pkg"; then new="$new $pkg"; fi
      break ;;
    esac
  done
done
[ -n "$new" ] || exit 0
if [ "\${1:-}" = standalone ]; then
  # shellcheck disable=SC2086
  printf '%s hold\\n' $new | dpkg --set-selections
else
  # shellcheck disable=SC2086
  printf '%s hold\\n' $new | DPKG_FRONTEND_LOCKED=1 dpkg --set-selections
fi
echo "\${new# }"
`;
