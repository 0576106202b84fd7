# Moving sshd to another port, step 1 of 2 (commit-confirmed; this session came in on the
# old port). sshd is made to listen on both ports, the host firewall lets the new port in
# (a marked rule the firewall step later replaces), and a rollback is armed: unless the
# confirm step reaches the host on the new port within DV_ROLLBACK_SECONDS, the old
# sshd and firewall settings come back.
# Params: DV_FROM (the port sshd listens on now), DV_TO (the node's configured port),
#         DV_ROLLBACK_SECONDS.
[ "${DV_OP:-apply}" = apply ] || exit 0
S=/var/lib/debvisor/ssh-port
conf=/etc/ssh/sshd_config.d/00-debvisor-port.conf
rollback=/usr/local/lib/debvisor/ssh-port-rollback
mkdir -p "$S" /usr/local/lib/debvisor /etc/ssh/sshd_config.d /run/sshd
listening() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
sshd_on() { ss -Hltnp "sport = :$1" 2>/dev/null | grep -q '"sshd"' || { systemctl is-active --quiet ssh.socket && listening "$1"; }; }
reload_sshd() {
  if systemctl is-active --quiet ssh.socket 2>/dev/null; then
    # Socket activation (trixie): the generator turns Port lines into the socket's listeners.
    systemctl daemon-reload && systemctl restart ssh.socket
  else
    systemctl reload ssh.service
  fi
}

state=$(cat "$S/state" 2>/dev/null || true)
if sshd_on "$DV_TO" && ! sshd_on "$DV_FROM"; then
  dv_fact ssh_port "$DV_TO"
  exit 0 # moved already (a re-run after the confirm step)
fi
if [ "$state" = "moving $DV_FROM $DV_TO" ] && sshd_on "$DV_TO"; then
  dv_fact ssh_port "$DV_FROM+$DV_TO"
  exit 0 # waiting for the confirm step
fi
if listening "$DV_TO" && ! sshd_on "$DV_TO"; then
  dv_die "port $DV_TO is taken on this host ($(ss -Hltnp "sport = :$DV_TO" | awk '{print $NF}' | head -n1)): sshd cannot move there; nothing was changed, sshd stays on port $DV_FROM"
fi

session=$(dv_ssh_session || true)
read -r client _ <<<"$session"
[ -n "$client" ] || dv_die "cannot tell the address this session comes from, so the new port could not be let in for it; nothing was changed"
fam=ip
case "$client" in *:*) fam=ip6 ;; esac

# The rollback: the previous drop-in (or none), the temporary firewall opening removed.
if [ -f "$conf" ]; then cp -p "$conf" "$S/port.conf.bak"; else rm -f "$S/port.conf.bak"; fi
cat >"$rollback.new" <<ROLLBACK
#!/bin/bash
# Managed by DebVisor: undoes an SSH port move that was not confirmed.
S=$S
if [ -f "\$S/port.conf.bak" ]; then cp -p "\$S/port.conf.bak" $conf; else rm -f $conf; fi
h=\$(nft -a list chain inet debvisor input 2>/dev/null | sed -n 's/.*"debvisor-ssh-move".*# handle \([0-9]*\)\$/\1/p')
for x in \$h; do nft delete rule inet debvisor input handle "\$x"; done
if command -v ufw >/dev/null; then ufw delete allow from $client to any port $DV_TO proto tcp >/dev/null 2>&1 || true; fi
if systemctl is-active --quiet ssh.socket; then systemctl daemon-reload; systemctl restart ssh.socket; else systemctl reload ssh.service; fi
echo "rolledback $DV_FROM $DV_TO" >"\$S/state"
echo "debvisor-ssh-port: no connection on port $DV_TO within $DV_ROLLBACK_SECONDS s: sshd is back on port $DV_FROM"
ROLLBACK
chmod 755 "$rollback.new" && mv -f "$rollback.new" "$rollback"

# Let the controller (the address this session comes from, which dials the confirm
# step) reach the new port, and no one else: the firewall step replaces this with the
# node's rules.
if nft list table inet debvisor >/dev/null 2>&1 && ! nft list chain inet debvisor input 2>/dev/null | grep -q '"debvisor-ssh-move"'; then
  nft insert rule inet debvisor input "$fam" saddr "$client" tcp dport "$DV_TO" accept comment '"debvisor-ssh-move"'
fi
if command -v ufw >/dev/null && ufw status 2>/dev/null | grep -q '^Status: active'; then
  ufw allow from "$client" to any port "$DV_TO" proto tcp comment debvisor-ssh-move >&2
fi

printf '# Managed by DebVisor: moving sshd from port %s to %s.\nPort %s\nPort %s\n' "$DV_FROM" "$DV_TO" "$DV_FROM" "$DV_TO" >"$conf.new"
mv -f "$conf.new" "$conf"
if ! err=$(sshd -t 2>&1); then
  "$rollback" >/dev/null
  dv_die "sshd -t rejected listening on port $DV_TO; nothing was changed: $err"
fi
systemctl stop debvisor-ssh-rollback.timer 2>/dev/null || true
systemctl reset-failed debvisor-ssh-rollback.timer debvisor-ssh-rollback.service 2>/dev/null || true
systemd-run --quiet --unit=debvisor-ssh-rollback --on-active="${DV_ROLLBACK_SECONDS}s" --timer-property=AccuracySec=1s "$rollback"
echo "moving $DV_FROM $DV_TO" >"$S/state"
reload_sshd
for _ in $(seq 1 10); do sshd_on "$DV_TO" && break; sleep 1; done
if ! sshd_on "$DV_TO"; then
  systemctl stop debvisor-ssh-rollback.timer 2>/dev/null || true
  "$rollback" >/dev/null
  dv_die "sshd did not start listening on port $DV_TO; rolled back: sshd stays on port $DV_FROM"
fi
dv_changed "sshd listens on ports $DV_FROM and $DV_TO; the move is rolled back unless confirmed on port $DV_TO within $DV_ROLLBACK_SECONDS s"
