# @include host/include/apt.sh
# Installs Ceph from the configured archive for this node's roles. Params: DV_PACKAGES
# (space-separated).
read -r -a pkgs <<<"$DV_PACKAGES"
dv_install_refreshed "${pkgs[@]}"
# nvme-cli (pulled in by ceph-base) ships a boot unit for NVMe over Fabrics that fails
# in a container, leaving the host "degraded"; it has no use there.
if [ "$(systemd-detect-virt -c 2>/dev/null || true)" != none ] &&
  [ "$(systemctl is-enabled nvmf-autoconnect.service 2>/dev/null || true)" = enabled ]; then
  systemctl mask -q nvmf-autoconnect.service
  systemctl reset-failed nvmf-autoconnect.service 2>/dev/null || true
  dv_changed "masked nvmf-autoconnect.service (NVMe over Fabrics cannot run in a container)"
fi
