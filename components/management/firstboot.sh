# The first-boot unit: runs the node's provisioning script once, at the next boot
# (marker file), for nodes installed unattended. Installs and enables; never starts it.
# Params: DV_PROVISION (the provisioning script), DV_RUNNER (the runner script),
#         DV_UNIT (the unit text).
reload=0
dv_write_file /usr/local/lib/debvisor/provision.sh 755 "$DV_PROVISION" || true
dv_write_file /usr/local/sbin/debvisor-firstboot 755 "$DV_RUNNER" || true
dv_write_file /etc/systemd/system/debvisor-firstboot.service 644 "$DV_UNIT" && reload=1
[ "$reload" = 0 ] || systemctl daemon-reload
if ! systemctl is-enabled --quiet debvisor-firstboot.service 2>/dev/null; then
  systemctl enable debvisor-firstboot.service >&2 2>&1
  dv_changed "enabled debvisor-firstboot.service"
fi
if [ -e /var/lib/debvisor/firstboot.done ]; then
  dv_fact firstBoot "done $(cat /var/lib/debvisor/firstboot.done)"
else
  dv_fact firstBoot pending
fi
