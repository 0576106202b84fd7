# Disk preflight, shared by every storage user (Ceph OSDs now; ZFS, md and LVM next).
# Included into their scripts. A disk is named by its /dev/disk/by-id/ path only.

# Smallest disk taken, bytes (BlueStore, a ZFS vdev and an md member all need room).
dv_disk_min_bytes=$((5 * 1024 * 1024 * 1024))

# dv_disk_findings DISK: what makes DISK not blank, one finding per line (nothing: blank).
# Only reads: a refused disk is left exactly as it was.
dv_disk_findings() {
  local disk=$1 dev name majmin size sig
  if [ ! -e "$disk" ]; then
    echo "does not exist on this host (ls /dev/disk/by-id/ lists the disks it has)"
    return
  fi
  dev=$(readlink -f "$disk")
  if [ ! -b "$dev" ]; then
    echo "is not a block device ($dev)"
    return
  fi
  name=${dev##*/}
  majmin=$(printf '%d:%d' "0x$(stat -L -c %t "$dev")" "0x$(stat -L -c %T "$dev")")
  size=$(blockdev --getsize64 "$dev" 2>/dev/null || echo 0)
  if [ "$size" -lt "$dv_disk_min_bytes" ]; then
    echo "is smaller than 5 GiB ($((size / 1024 / 1024)) MiB)"
  fi
  # Mounted (by its device number: a bind of /dev/loopN shows up as devtmpfs), or a
  # partition of it mounted.
  if awk -v mm="$majmin" '$3 == mm { found = 1 } END { exit !found }' /proc/self/mountinfo; then
    echo "is mounted ($(awk -v mm="$majmin" '$3 == mm { print $5; exit }' /proc/self/mountinfo))"
  fi
  if grep -q "^$dev " /proc/swaps 2>/dev/null; then echo "is in use as swap"; fi
  local holders=() parts=() p
  for p in "/sys/class/block/$name/holders/"*; do if [ -e "$p" ]; then holders+=("${p##*/}"); fi; done
  for p in "/sys/class/block/$name/$name"*; do if [ -e "$p" ]; then parts+=("${p##*/}"); fi; done
  if [ ${#holders[@]} -gt 0 ]; then echo "is held by ${holders[*]} (device-mapper or md)"; fi
  if [ ${#parts[@]} -gt 0 ]; then echo "has partitions (${parts[*]})"; fi
  # Opened exclusively by the kernel or a program (mounted, an md/dm member, an OSD running on it).
  if ! python3 -c 'import os,sys; os.close(os.open(sys.argv[1], os.O_RDONLY | os.O_EXCL))' "$dev" 2>/dev/null; then
    echo "is held open exclusively (mounted, a RAID/LVM member, or a daemon uses it)"
  fi
  # Signatures: partition tables, filesystems, LVM, ZFS, BlueStore, md RAID (low-level probe).
  sig=$(blkid -p -o export "$dev" 2>/dev/null | sed -n 's/^\(PTTYPE\|TYPE\)=//p' | tr '\n' ' ')
  if [ -n "$sig" ]; then echo "carries the signature(s) ${sig% } (blkid -p)"; fi
  # BlueStore's label at offset 0 even where blkid does not know it.
  if [ "$(head -c 22 "$dev" 2>/dev/null | tr -d '\0')" = "bluestore block device" ] && [[ $sig != *ceph_bluestore* ]]; then
    echo "carries a BlueStore label (a Ceph OSD's disk)"
  fi
}

# dv_disk_preflight DISK WIPE: dies, naming DISK and what was found, unless DISK is blank.
# WIPE=1 (the node's opt-in names this exact disk) wipes signatures first; a disk that is
# mounted, held or too small is refused even then.
dv_disk_preflight() {
  local disk=$1 wipe=${2:-0} findings dev
  findings=$(dv_disk_findings "$disk")
  [ -z "$findings" ] && return 0
  if [ "$wipe" = 1 ] && ! grep -qv -e '^carries' -e '^has partitions' <<<"$findings"; then
    dev=$(readlink -f "$disk")
    dv_log "wiping $disk ($dev) as its wipe opt-in asks: $(tr '\n' ';' <<<"$findings")"
    wipefs -a -f "$dev" >&2 || dv_die "$disk: wipefs failed"
    dd if=/dev/zero of="$dev" bs=1M count=16 oflag=direct status=none conv=fsync
    dd if=/dev/zero of="$dev" bs=1M count=16 oflag=direct status=none conv=fsync \
      seek=$(($(blockdev --getsize64 "$dev") / 1024 / 1024 - 16))
    dv_changed "wiped $disk"
    findings=$(dv_disk_findings "$disk")
    [ -z "$findings" ] && return 0
  fi
  dv_die "$disk is not blank, nothing was written to it: ${findings//$'\n'/; }. Use a blank disk, or list it in storage.wipe to have it wiped (destroys its data)"
}
