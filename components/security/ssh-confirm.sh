# Moving sshd to another port, step 2 of 2: this session came in on the NEW port, which
# proves it works from the controller. Disarms the rollback and keeps only the new port.
# Params: DV_FROM, DV_TO (as the move step's).
[ "${DV_OP:-apply}" = apply ] || exit 0
S=/var/lib/debvisor/ssh-port
conf=/etc/ssh/sshd_config.d/00-debvisor-port.conf
state=$(cat "$S/state" 2>/dev/null || true)
case "$state" in
  "moving $DV_FROM $DV_TO")
    systemctl stop debvisor-ssh-rollback.timer 2>/dev/null || true
    systemctl reset-failed debvisor-ssh-rollback.timer debvisor-ssh-rollback.service 2>/dev/null || true
    printf '# Managed by DebVisor: the node'"'"'s SSH port.\nPort %s\n' "$DV_TO" >"$conf.new"
    mv -f "$conf.new" "$conf"
    sshd -t >&2 || dv_die "sshd -t rejected the final port setting (sshd keeps listening on both ports)"
    if systemctl is-active --quiet ssh.socket 2>/dev/null; then
      systemctl daemon-reload && systemctl restart ssh.socket
    else
      systemctl reload ssh.service
    fi
    echo "committed $DV_TO" >"$S/state"
    dv_changed "sshd moved from port $DV_FROM to $DV_TO (rollback disarmed)"
    ;;
  "rolledback $DV_FROM $DV_TO")
    dv_die "the move of sshd to port $DV_TO was rolled back (no connection on that port in time); sshd is on port $DV_FROM"
    ;;
  *) ;; # nothing pending for this move
esac
dv_fact ssh_port "$DV_TO"
