#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# mmdebstrap customize hook: turns the fresh minbase tree into the shared base
# of every lab host.  Usage (by base.sh): base-customize.sh <rootfs> <release>
# Per-host identity (hostname, machine-id, SSH host keys, authorized keys) is
# NOT set here: each host gets its own on its overlay (see fleet.sh).
set -euo pipefail
root=$1
release=$2
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The non-root user the product connects as; passwordless sudo.
chroot "$root" useradd --create-home --shell /bin/bash --comment 'DebVisor lab' "$LAB_USER"
printf '%s ALL=(ALL:ALL) NOPASSWD: ALL\n' "$LAB_USER" >"$root/etc/sudoers.d/$LAB_USER"
chmod 0440 "$root/etc/sudoers.d/$LAB_USER"
install -d -m 0700 "$root/root/.ssh"

# Keys only. ed25519 and ecdsa host keys (no RSA: generating it costs ~1.3 s
# per host and the product pins ed25519).
cat >"$root/etc/ssh/sshd_config.d/debvisor-lab.conf" <<'EOF'
HostKey /etc/ssh/ssh_host_ed25519_key
HostKey /etc/ssh/ssh_host_ecdsa_key
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
EOF

# Identity is per host: no host keys, an empty machine-id in the base.
rm -f "$root"/etc/ssh/ssh_host_*
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
ln -s /etc/machine-id "$root/var/lib/dbus/machine-id"
rm -f "$root/etc/hostname" "$root/usr/sbin/policy-rc.d"

# apt goes through the lab's apt-cacher-ng: the hosts have no route out.
cat >"$root/etc/apt/apt.conf.d/01debvisor-lab-proxy" <<EOF
Acquire::http::Proxy "$LAB_PROXY";
EOF

# Disks. In a container systemd skips udevd because /sys is read-only, but
# udevd works (kernel uevents reach every network namespace owned by the
# initial user namespace): lift the condition. The host's own udev rules
# (written per host by fleet.sh) create the nodes of its loop disks and their
# by-id names; debvisor-lab-disks.service replays their "add" events at boot.
for unit in systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket; do
  install -d "$root/etc/systemd/system/$unit.d"
  printf '[Unit]\nConditionPathIsReadWrite=\n' >"$root/etc/systemd/system/$unit.d/debvisor-lab.conf"
done
install -d "$root/etc/debvisor-lab"
: >"$root/etc/debvisor-lab/loops"
cat >"$root/etc/systemd/system/debvisor-lab-disks.service" <<'EOF'
[Unit]
Description=DebVisor lab: announce this host's loop disks to udev
DefaultDependencies=no
After=systemd-udevd.service
Requires=systemd-udevd.service
Before=local-fs-pre.target sysinit.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'for d in $(cat /etc/debvisor-lab/loops); do for s in /sys/class/block/$d /sys/class/block/$d/$d*; do [ -e $s/uevent ] && echo add >$s/uevent; done; done; udevadm settle -t 10'

[Install]
WantedBy=sysinit.target
EOF
install -d "$root/etc/systemd/system/sysinit.target.wants"
ln -sf /etc/systemd/system/debvisor-lab-disks.service \
  "$root/etc/systemd/system/sysinit.target.wants/debvisor-lab-disks.service"

# /proc/sys is read-only under systemd-nspawn; a host's network sysctls belong to its
# own network namespace, so make /proc/sys/net writable as on a real host (libvirt's
# NAT and isolated networks, ip_forward for Docker and Kubernetes need it).
cat >"$root/etc/systemd/system/debvisor-lab-sysctl-net.service" <<'EOF'
[Unit]
Description=DebVisor lab: writable /proc/sys/net (the host's own network namespace)
DefaultDependencies=no
Before=sysinit.target systemd-sysctl.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'mountpoint -q /proc/sys/net || { mount --bind /proc/sys/net /proc/sys/net && mount -o remount,bind,rw /proc/sys/net; }'

[Install]
WantedBy=sysinit.target
EOF
ln -sf /etc/systemd/system/debvisor-lab-sysctl-net.service \
  "$root/etc/systemd/system/sysinit.target.wants/debvisor-lab-sysctl-net.service"

printf 'LANG=C.UTF-8\n' >"$root/etc/default/locale"
printf 'DebVisor lab host (Debian %s)\n' "$release" >"$root/etc/motd"
