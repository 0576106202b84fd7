# Reports host facts as @fact lines; changes nothing.
# shellcheck source=/dev/null
. /etc/os-release
dv_fact debianVersion "$(cat /etc/debian_version)"
dv_fact codename "${VERSION_CODENAME:-unknown}"
dv_fact kernel "$(uname -r)"
dv_fact architecture "$(dpkg --print-architecture)"
dv_fact cpuVirtFlags "$(grep -owE 'vmx|svm' /proc/cpuinfo | sort -u | paste -sd, -)"
dv_fact kvm "$([ -c /dev/kvm ] && echo yes || echo no)"
dv_fact memoryMiB "$(awk '/^MemTotal:/ {print int($2/1024)}' /proc/meminfo)"
dv_fact cpus "$(nproc)"
# Whole disks by stable id (no partitions, no duplicate wwn- aliases).
dv_fact disksById "$(find /dev/disk/by-id -mindepth 1 -maxdepth 1 ! -name '*-part*' ! -name 'wwn-*' -printf '%f\n' 2>/dev/null | sort | paste -sd, -)"
dv_fact locale "$(sed -n 's/^LANG=//p' /etc/default/locale 2>/dev/null)"
dv_fact timezone "$(cat /etc/timezone 2>/dev/null || true)"
