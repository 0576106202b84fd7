# libvirtd enabled and running. Debian's unit stops the daemon after 120 s without a
# client (--timeout 120, then socket activation); a hypervisor host keeps it running, so
# a drop-in clears the timeout. Params: DV_DROPIN (the drop-in content).
unit=libvirtd.service
systemctl cat "$unit" >/dev/null 2>&1 || dv_die "$unit is missing after the install of libvirt-daemon-system"
restart=false
if dv_write_file /etc/systemd/system/libvirtd.service.d/debvisor.conf 644 "$DV_DROPIN"; then
  systemctl daemon-reload
  restart=true
fi
if ! dv_enable_now "$unit" && [ "$restart" = true ]; then
  # Running VMs are not affected by a restart of libvirtd.
  systemctl restart "$unit"
  dv_changed "restarted $unit"
fi
virsh -c qemu:///system version >&2 || dv_die "libvirtd runs but virsh cannot connect to qemu:///system"
