# @include storage/include/disks.sh
# Linux software RAID arrays (mdadm), made once from blank disks, named /dev/md/<name>,
# recorded in mdadm.conf so they assemble at boot. An array already there (or on its
# disks) is kept; nothing is ever stopped or destroyed here. Params: DV_ARRAYS (one a
# line: name<TAB>level<TAB>disk ids), DV_WIPE (disk ids this node may wipe).
dv_install mdadm
while IFS=$'\t' read -r name level disks; do
  [ -n "$name" ] || continue
  read -r -a devs <<<"$disks"
  if [ ! -e "/dev/md/$name" ]; then
    # Its disks may carry it already (assembled at boot by name): assemble before making one.
    if mdadm --assemble "/dev/md/$name" "${devs[@]}" >/dev/null 2>&1; then
      dv_changed "assembled md array $name"
    else
      for d in "${devs[@]}"; do dv_disk_preflight "$d" "$([[ " $DV_WIPE " == *" $d "* ]] && echo 1 || echo 0)"; done
      mdadm --create "/dev/md/$name" --run --level="$level" --raid-devices=${#devs[@]} --metadata=1.2 --name="$name" --homehost=any "${devs[@]}" >&2 ||
        dv_die "mdadm --create $name failed"
      dv_changed "made md RAID$level array $name"
    fi
  fi
  line=$(mdadm --detail --brief "/dev/md/$name" | sed 's/ name=[^ ]*//')
  uuid=$(sed -n 's/.*UUID=\([^ ]*\).*/\1/p' <<<"$line")
  if ! grep -q "UUID=$uuid" /etc/mdadm/mdadm.conf 2>/dev/null; then
    printf 'ARRAY /dev/md/%s metadata=1.2 UUID=%s\n' "$name" "$uuid" >>/etc/mdadm/mdadm.conf
    dv_changed "recorded md array $name in /etc/mdadm/mdadm.conf"
  fi
  dv_fact "md.$name" "$(cat "/sys/block/$(basename "$(readlink -f "/dev/md/$name")")/md/array_state")"
done <<<"$DV_ARRAYS"
