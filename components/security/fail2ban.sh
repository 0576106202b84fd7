# fail2ban with the sshd jail on the systemd journal (Debian 12+ has no auth.log).
# Params: DV_JAIL (the jail.d/debvisor.local text, without the provisioner line),
#         DV_IGNORE (addresses never banned: loopback, the controller).
# The address of the SSH session this step runs in is added to ignoreip as well.
dv_install fail2ban python3-systemd nftables

ignore=$DV_IGNORE
if session=$(dv_ssh_session) && client=${session%% *} && ! grep -qwF -- "$client" <<<"$ignore"; then ignore+=" $client"; fi
jail="[DEFAULT]
ignoreip = $ignore
$DV_JAIL"

changed=0
if dv_write_file /etc/fail2ban/jail.d/debvisor.local 644 "$jail"; then changed=1; fi
if ! err=$(fail2ban-client -t 2>&1); then
  dv_die "fail2ban-client -t rejected the configuration: $err"
fi
systemctl is-enabled --quiet fail2ban.service || { systemctl enable fail2ban.service >&2 2>&1; dv_changed "enabled fail2ban"; }
if [ "$changed" = 1 ] || ! systemctl is-active --quiet fail2ban.service; then
  systemctl restart fail2ban.service
  dv_changed "restarted fail2ban"
fi
# The jail must really run (a wrong backend makes it fail at start).
running=0
for _ in $(seq 1 30); do
  if fail2ban-client status sshd >/dev/null 2>&1; then running=1; break; fi
  sleep 1
done
if [ "$running" = 0 ]; then
  journalctl -u fail2ban.service -n 20 --no-pager >&2 || true
  dv_die "the fail2ban sshd jail is not running"
fi
dv_fact fail2banSshd running
