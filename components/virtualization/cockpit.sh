# Cockpit: its settings file, its socket enabled and answering on its port.
# Params: DV_CONF (/etc/cockpit/cockpit.conf), DV_PORT.
unit=cockpit.socket
if dv_write_file /etc/cockpit/cockpit.conf 644 "$DV_CONF"; then
  # cockpit-ws reads the file when it starts; a running one is restarted (sessions end).
  systemctl try-restart cockpit.service
fi
dv_enable_now "$unit" || true
answered=false
for _ in $(seq 1 30); do
  if timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$DV_PORT" 2>/dev/null; then
    answered=true
    break
  fi
  sleep 1
done
[ "$answered" = true ] || dv_die "Cockpit does not answer on port $DV_PORT"
