# @include storage/include/disks.sh
# LVM volume groups and logical volumes. A group is made from blank devices (disks, or
# this node's md arrays) and extended by new ones; volumes are made once and never
# shrunk or removed (one left out of the config stays, with its data). Params: DV_VGS
# (one a line: vg<TAB>devices), DV_LVS (one a line: vg<TAB>lv<TAB>size), DV_WIPE.
while IFS=$'\t' read -r vg devices; do
  [ -n "$vg" ] || continue
  read -r -a devs <<<"$devices"
  new=()
  for d in "${devs[@]}"; do
    if [ "$(pvs --noheadings -o vg_name "$d" 2>/dev/null | tr -d ' ')" = "$vg" ]; then continue; fi
    dv_disk_preflight "$d" "$([[ " $DV_WIPE " == *" $d "* ]] && echo 1 || echo 0)"
    new+=("$d")
  done
  [ ${#new[@]} -gt 0 ] || continue
  pvcreate -q "${new[@]}" >&2
  if vgs "$vg" >/dev/null 2>&1; then
    vgextend -q "$vg" "${new[@]}" >&2
    dv_changed "extended volume group $vg with ${new[*]}"
  else
    vgcreate -q "$vg" "${new[@]}" >&2
    dv_changed "made volume group $vg on ${new[*]}"
  fi
done <<<"$DV_VGS"

while IFS=$'\t' read -r vg lv size; do
  [ -n "$vg" ] || continue
  if lvs "$vg/$lv" >/dev/null 2>&1; then continue; fi
  case $size in
    *%*) lvcreate -q -y --wipesignatures y -n "$lv" -l "$size" "$vg" >&2 ;;
    *) lvcreate -q -y --wipesignatures y -n "$lv" -L "$size" "$vg" >&2 ;;
  esac
  dv_changed "made logical volume $vg/$lv ($size)"
done <<<"$DV_LVS"
