# The DebVisor timers on this host are exactly the ones its layers want: every other
# debvisor-*.timer (e.g. a Ceph health check on a node without Ceph, installed by an
# earlier DebVisor) is stopped, disabled and removed with its service and check script.
# Params: DV_KEEP (space-separated unit base names the node's layers install).
removed=0
for unit in /etc/systemd/system/debvisor-*.timer; do
  [ -e "$unit" ] || continue
  name=$(basename "$unit" .timer)
  case " $DV_KEEP " in *" $name "*) continue ;; esac
  systemctl disable --now "$name.timer" >/dev/null 2>&1 || true
  rm -f "$unit" "/etc/systemd/system/$name.service" "/usr/local/lib/debvisor/$name"
  removed=1
  dv_changed "removed timer $name (nothing on this node needs it)"
done
if [ "$removed" = 1 ]; then
  systemctl daemon-reload
  systemctl reset-failed >/dev/null 2>&1 || true
fi
dv_fact timers "${DV_KEEP:-none}"
