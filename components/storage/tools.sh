# Filesystem and volume tools every storage node has (xfs, btrfs, LVM2; mdadm and ZFS
# come with the arrays and pools that need them). Params: DV_PACKAGES (space-separated).
read -r -a pkgs <<<"$DV_PACKAGES"
for p in "${pkgs[@]}"; do
  if ! dv_installed "$p" && ! apt-cache show "$p" >/dev/null 2>&1; then
    dv_apt_update
    break
  fi
done
dv_install "${pkgs[@]}"
