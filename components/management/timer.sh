# A DebVisor systemd timer: its check script, service and timer units; enabled and
# started. Params: DV_NAME (unit base name), DV_SCRIPT (the check script),
# DV_SERVICE / DV_TIMER (unit texts; OnCalendar is checked before anything is written).
[[ "$DV_NAME" =~ ^debvisor-[a-z0-9-]+$ ]] || dv_die "bad timer name $DV_NAME"
on_calendar=$(sed -n 's/^OnCalendar=//p' <<<"$DV_TIMER")
if ! err=$(systemd-analyze calendar "$on_calendar" 2>&1 >/dev/null); then
  dv_die "OnCalendar=$on_calendar is not a valid systemd calendar expression: $err"
fi
reload=0
dv_write_file "/usr/local/lib/debvisor/$DV_NAME" 755 "$DV_SCRIPT" || true
dv_write_file "/etc/systemd/system/$DV_NAME.service" 644 "$DV_SERVICE" && reload=1
dv_write_file "/etc/systemd/system/$DV_NAME.timer" 644 "$DV_TIMER" && reload=1
if [ "$reload" = 1 ]; then
  systemctl daemon-reload
  # A running timer picks up a new schedule only when restarted.
  if systemctl is-active --quiet "$DV_NAME.timer"; then systemctl restart "$DV_NAME.timer"; fi
fi
dv_enable_now "$DV_NAME.timer" || true
dv_fact "timer.$DV_NAME" "$(systemctl show -P NextElapseUSecRealtime "$DV_NAME.timer" 2>/dev/null || true)"
