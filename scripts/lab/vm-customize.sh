#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# mmdebstrap customize hook of the VM image (see vm-image.sh): users, sshd, apt
# proxy, fstab, the ZFS module check, and the unit that gives a VM its identity
# at boot from QEMU's fw_cfg (hostname, SSH host keys, /etc/network/interfaces,
# written by the lab per VM: the image itself is shared by every VM).
# Usage: vm-customize.sh <rootfs> <release>
set -euo pipefail
root=$1
release=$2
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ---- the same user, sshd and apt settings as the container hosts
chroot "$root" useradd --create-home --shell /bin/bash --comment 'DebVisor lab' "$LAB_USER"
printf '%s ALL=(ALL:ALL) NOPASSWD: ALL\n' "$LAB_USER" >"$root/etc/sudoers.d/$LAB_USER"
chmod 0440 "$root/etc/sudoers.d/$LAB_USER"
install -d -m 0700 "$root/root/.ssh"
cat >"$root/etc/ssh/sshd_config.d/debvisor-lab.conf" <<'CONF'
HostKey /etc/ssh/ssh_host_ed25519_key
HostKey /etc/ssh/ssh_host_ecdsa_key
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
CONF
rm -f "$root"/etc/ssh/ssh_host_*
: >"$root/etc/machine-id" # each VM makes its own at first boot
rm -f "$root/var/lib/dbus/machine-id"
ln -s /etc/machine-id "$root/var/lib/dbus/machine-id"
rm -f "$root/etc/hostname" "$root/usr/sbin/policy-rc.d"
cat >"$root/etc/apt/apt.conf.d/01debvisor-lab-proxy" <<CONF
Acquire::http::Proxy "$LAB_PROXY";
CONF
# contrib was there for zfs-dkms; a fresh install has main only (the product adds contrib)
sed -i 's/ main contrib$/ main/' "$root/etc/apt/sources.list"

# ---- kernel and the ZFS module (built natively here, never under emulation)
mapfile -t kvers < <(ls "$root/lib/modules")
((${#kvers[@]} == 1)) || { echo "vm-customize: expected one kernel, found: ${kvers[*]}" >&2; exit 1; }
kver=${kvers[0]}
if ! compgen -G "$root/lib/modules/$kver/updates/dkms/zfs.ko*" >/dev/null; then
  echo "vm-customize: zfs.ko was not built for $kver by the package install: running dkms autoinstall"
  chroot "$root" dkms autoinstall -k "$kver"
fi
chroot "$root" depmod -a "$kver"
chroot "$root" modinfo -k "$kver" zfs >/dev/null || { echo "vm-customize: no zfs module for $kver" >&2; exit 1; }
chroot "$root" dkms status
install -d "$root/etc/debvisor-lab"
printf '%s\n' "$kver" >"$root/etc/debvisor-lab/kernel-version"
uuid=$(cat /proc/sys/kernel/random/uuid)
printf '%s\n' "$uuid" >"$root/etc/debvisor-lab/root-uuid"
printf '# <file system> <mount point> <type> <options> <dump> <pass>\nUUID=%s / ext4 errors=remount-ro 0 1\n' "$uuid" >"$root/etc/fstab"

# ---- networking: lo only until the VM's own interfaces file arrives (seed)
printf '%s\n' 'source /etc/network/interfaces.d/*' '' 'auto lo' 'iface lo inet loopback' >"$root/etc/network/interfaces"

# ---- the VM's identity and the lab's view, from QEMU fw_cfg (the lab writes
# two tarballs per VM: "once" on its first boot, "always" at every boot)
cat >"$root/usr/local/sbin/debvisor-lab-seed" <<'SEED'
#!/bin/sh
# DebVisor lab: apply this VM's seed from QEMU fw_cfg (written by the lab on the machine).
set -eu
d=/sys/firmware/qemu_fw_cfg/by_name/opt/org.debvisor.lab
modprobe qemu_fw_cfg 2>/dev/null || true
if [ ! -r "$d/always/raw" ]; then echo "debvisor-lab-seed: no seed from the lab"; exit 0; fi
mkdir -p /etc/debvisor-lab
if [ ! -e /etc/debvisor-lab/seeded ] && [ -r "$d/once/raw" ]; then
  tar -C / --no-overwrite-dir -xf "$d/once/raw"
  touch /etc/debvisor-lab/seeded
  echo "debvisor-lab-seed: first boot as $(cat /etc/hostname)"
fi
tar -C / --no-overwrite-dir -xf "$d/always/raw"
chown -R debvisor:debvisor /home/debvisor/.ssh
hostname "$(cat /etc/hostname)"
SEED
chmod 0755 "$root/usr/local/sbin/debvisor-lab-seed"
cat >"$root/etc/systemd/system/debvisor-lab-seed.service" <<'UNIT'
[Unit]
Description=DebVisor lab: this VM's identity and the lab's hosts (QEMU fw_cfg)
DefaultDependencies=no
After=systemd-remount-fs.service
Before=sysinit.target network-pre.target ssh.service
Wants=network-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/debvisor-lab-seed

[Install]
WantedBy=sysinit.target
UNIT
install -d "$root/etc/systemd/system/sysinit.target.wants"
ln -sf /etc/systemd/system/debvisor-lab-seed.service \
  "$root/etc/systemd/system/sysinit.target.wants/debvisor-lab-seed.service"

printf 'LANG=C.UTF-8\n' >"$root/etc/default/locale"
printf 'DebVisor lab VM (Debian %s, kernel %s)\n' "$release" "$kver" >"$root/etc/motd"
