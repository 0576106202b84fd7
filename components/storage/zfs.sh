# @include storage/include/disks.sh
# ZFS pools and datasets. Pools are made once from blank disks (an existing or exported
# pool of that name is kept, imported if needed); datasets are made and their properties
# set; nothing is ever destroyed (a pool or dataset left out of the config stays).
# Params: DV_POOLS (one pool a line: name<TAB>ashift<TAB>prop=value,...<TAB>vdev spec as
# zpool create takes it), DV_DATASETS (one a line: pool/name<TAB>prop=value,...),
# DV_WIPE (disk ids this node may wipe).
if [ "$(systemd-detect-virt -c 2>/dev/null || true)" != none ]; then
  dv_die "ZFS needs its kernel module, and a container cannot load one: run ZFS pools on a VM or bare-metal host"
fi
dv_install zfsutils-linux
if ! modinfo zfs >/dev/null 2>&1; then
  # No module for this kernel yet: build it with dkms (minutes; needs the kernel's headers).
  dv_install zfs-dkms "linux-headers-$(uname -r)"
fi
if ! grep -q '^zfs ' /proc/modules; then
  modprobe zfs 2>/dev/null || dv_die "the zfs kernel module does not load on kernel $(uname -r) ($(modprobe zfs 2>&1 | tail -n1)); with Secure Boot, enroll dkms's key (mokutil --import /var/lib/dkms/mok.pub) or sign the module"
  dv_changed "loaded the zfs module"
fi

while IFS=$'\t' read -r pool ashift props spec; do
  [ -n "$pool" ] || continue
  if zpool list -H "$pool" >/dev/null 2>&1; then
    continue
  fi
  if zpool import -d /dev/disk/by-id "$pool" >/dev/null 2>&1; then
    dv_changed "imported ZFS pool $pool (it was on the disks already)"
    continue
  fi
  # A new pool: every disk blank (or opted in to a wipe) before anything is written.
  read -r -a words <<<"$spec"
  for w in "${words[@]}"; do
    case $w in /dev/*) dv_disk_preflight "$w" "$([[ " $DV_WIPE " == *" $w "* ]] && echo 1 || echo 0)" ;; esac
  done
  opts=(-o "ashift=$ashift")
  IFS=, read -r -a kv <<<"$props"
  for p in "${kv[@]}"; do if [ -n "$p" ]; then opts+=(-O "$p"); fi; done
  zpool create "${opts[@]}" -m none "$pool" "${words[@]}" >&2 || dv_die "zpool create $pool failed"
  dv_changed "made ZFS pool $pool ($spec)"
done <<<"$DV_POOLS"

while IFS=$'\t' read -r ds props; do
  [ -n "$ds" ] || continue
  if ! zfs list -H "$ds" >/dev/null 2>&1; then
    zfs create "$ds" >&2
    dv_changed "made dataset $ds"
  fi
  IFS=, read -r -a kv <<<"$props"
  for p in "${kv[@]}"; do
    [ -n "$p" ] || continue
    if [ "$(zfs get -H -o value "${p%%=*}" "$ds")" != "${p#*=}" ]; then
      zfs set "$p" "$ds"
      dv_changed "$ds: $p"
    fi
  done
done <<<"$DV_DATASETS"
# Pools come back at boot from the cache file.
systemctl is-enabled --quiet zfs-import-cache.service 2>/dev/null || systemctl enable -q zfs-import-cache.service zfs-mount.service zfs.target 2>/dev/null || true
while IFS=$'\t' read -r pool _; do
  if [ -n "$pool" ]; then dv_fact "zfs.$pool" "$(zpool list -H -o health "$pool")"; fi
done <<<"$DV_POOLS"
