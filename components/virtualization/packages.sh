# Installs QEMU/KVM, libvirt, firmware and (optionally) Cockpit. Params: DV_PACKAGES
# (space-separated), DV_NM_CONF (NetworkManager drop-in; empty when Cockpit is off).
#
# cockpit-networkmanager (Cockpit's network page) pulls in NetworkManager, which on Debian
# takes over every interface NOT in /etc/network/interfaces. The drop-in is written BEFORE
# the install, so NetworkManager never manages an interface: ifupdown and DebVisor's
# network layer own them all; Cockpit still shows them.
read -r -a pkgs <<<"$DV_PACKAGES"
nm_conf=/etc/NetworkManager/conf.d/90-debvisor-unmanaged.conf
if [ -n "$DV_NM_CONF" ] && dv_write_file "$nm_conf" 644 "$DV_NM_CONF"; then
  if systemctl is-active --quiet NetworkManager.service; then
    systemctl reload NetworkManager.service >&2 || systemctl restart NetworkManager.service >&2
  fi
fi
# The package lists may be older than the packages (or missing): refresh them once.
for p in "${pkgs[@]}"; do
  if ! dv_installed "$p" && ! apt-cache show "$p" >/dev/null 2>&1; then
    dv_apt_update
    break
  fi
done
dv_install "${pkgs[@]}"
