# @include storage/include/disks.sh
# Filesystems and their systemd mount units. A filesystem is made only on a device with
# none (a device with another filesystem is refused, never reformatted), then mounted by
# a mount unit that mounts it at boot too. Params: DV_FILESYSTEMS (one a line:
# devices<TAB>type<TAB>mountpoint<TAB>options<TAB>btrfs profile), DV_WIPE. Devices: disk
# ids, /dev/md/<name>, /dev/<vg>/<lv>.
changed_units=0
while IFS=$'\t' read -r devices type mnt options profile; do
  [ -n "$devices" ] || continue
  read -r -a devs <<<"$devices"
  for d in "${devs[@]}"; do [ -e "$d" ] || dv_die "$d does not exist (for $mnt)"; done
  have=$(blkid -p -o value -s TYPE "${devs[0]}" 2>/dev/null || true)
  if [ -z "$have" ]; then
    for d in "${devs[@]}"; do
      case $d in /dev/disk/by-id/*) dv_disk_preflight "$d" "$([[ " $DV_WIPE " == *" $d "* ]] && echo 1 || echo 0)" ;; esac
    done
    case $type in
      xfs) mkfs.xfs -q "${devs[0]}" >&2 ;;
      ext4) mkfs.ext4 -q "${devs[0]}" >&2 ;;
      btrfs) mkfs.btrfs -q -d "$profile" -m "$profile" "${devs[@]}" >&2 ;;
      *) dv_die "unknown filesystem $type" ;;
    esac
    dv_changed "made $type on ${devs[*]}"
    udevadm settle 2>/dev/null || true
  elif [ "$have" != "$type" ]; then
    dv_die "${devs[0]} holds a $have filesystem, not $type: it is never reformatted (wipe it by hand if its data is to go)"
  fi
  if [ "$type" = btrfs ]; then btrfs device scan >/dev/null 2>&1 || true; fi
  uuid=$(blkid -p -o value -s UUID "${devs[0]}")
  unit=$(systemd-escape -p --suffix=mount "$mnt")
  text=$(printf '# Managed by DebVisor (storage layer).\n[Unit]\nDescription=DebVisor storage %s\n\n[Mount]\nWhat=/dev/disk/by-uuid/%s\nWhere=%s\nType=%s\nOptions=%s\n\n[Install]\nWantedBy=local-fs.target\n' "$mnt" "$uuid" "$mnt" "$type" "$options")
  if dv_write_file "/etc/systemd/system/$unit" 644 "$text"; then changed_units=1; fi
  mkdir -p "$mnt"
  if [ $changed_units = 1 ]; then systemctl daemon-reload; changed_units=0; fi
  systemctl is-enabled --quiet "$unit" || { systemctl enable -q "$unit"; dv_changed "enabled $unit"; }
  if ! mountpoint -q "$mnt"; then
    systemctl start "$unit" || dv_die "cannot mount $mnt ($(systemctl status "$unit" --no-pager 2>&1 | tail -n3 | tr '\n' ' '))"
    dv_changed "mounted $mnt"
  fi
done <<<"$DV_FILESYSTEMS"
