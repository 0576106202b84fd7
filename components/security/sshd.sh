# sshd hardening: key-only logins, root login policy from config, as a drop-in that
# sorts before every other drop-in (sshd keeps the first value it reads).
# Params: DV_SSHD_CONF (drop-in text), DV_USER (the provisioning user: must stay allowed),
#         DV_PERMIT_ROOT (expected effective PermitRootLogin).
# Never locks out: the new file is validated with `sshd -t` before sshd is reloaded; a
# rejected file is replaced by the last good one (or removed) and sshd keeps running.
dropin=/etc/ssh/sshd_config.d/00-debvisor.conf
good=/var/lib/debvisor/sshd-00-debvisor.conf.good
mkdir -p /var/lib/debvisor /run/sshd
command -v sshd >/dev/null || dv_die "sshd is not installed (openssh-server): nothing to harden"
grep -Eqi '^[[:space:]]*Include[[:space:]]+/etc/ssh/sshd_config\.d/\*\.conf' /etc/ssh/sshd_config ||
  dv_die "/etc/ssh/sshd_config does not include /etc/ssh/sshd_config.d/*.conf: cannot apply the hardening drop-in"
id "$DV_USER" >/dev/null 2>&1 || dv_die "provisioning user $DV_USER does not exist on this host"

restore() {
  if [ -f "$good" ]; then cp -p "$good" "$dropin"; else rm -f "$dropin"; fi
}
# A config that is already broken (by someone else) is not ours to reload.
if ! err=$(sshd -t 2>&1); then
  if [ -f "$dropin" ] && ! cmp -s "$dropin" "$good" 2>/dev/null; then
    dv_log "sshd -t fails with a drop-in left by an interrupted run; restoring the last good one"
    restore
  fi
  err=$(sshd -t 2>&1) || dv_die "sshd -t fails before any change (fix sshd_config first): $err"
fi

changed=0
if dv_write_file "$dropin" 644 "$DV_SSHD_CONF"; then changed=1; fi
if ! err=$(sshd -t 2>&1); then
  restore
  sshd -t >&2 || true
  dv_die "sshd -t rejected the new settings; kept the previous configuration and did not reload sshd: $err"
fi

# What sshd will actually do for the provisioning user (another drop-in could win).
eff=$(sshd -T -C "user=$DV_USER,host=localhost,addr=127.0.0.1" 2>&1) || { restore; dv_die "sshd -T failed: $eff"; }
val() { awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print; exit }' <<<"$eff"; }
[ "$(val passwordauthentication)" = no ] || { restore; dv_die "PasswordAuthentication is still $(val passwordauthentication): another sshd_config.d file sorts before $dropin"; }
[ "$(val kbdinteractiveauthentication)" = no ] || { restore; dv_die "KbdInteractiveAuthentication is still $(val kbdinteractiveauthentication)"; }
[ "$(val pubkeyauthentication)" = yes ] || { restore; dv_die "PubkeyAuthentication is not yes"; }
root=$(val permitrootlogin)
[ "$root" = without-password ] && root=prohibit-password
[ "$root" = "$DV_PERMIT_ROOT" ] || { restore; dv_die "PermitRootLogin is $root, expected $DV_PERMIT_ROOT: another sshd_config.d file sorts before $dropin"; }
allow=$(val allowusers)
if [ -n "$allow" ] && ! grep -qw -- "$DV_USER" <<<"$allow"; then restore; dv_die "AllowUsers ($allow) does not include the provisioning user $DV_USER"; fi
deny=$(val denyusers)
if [ -n "$deny" ] && grep -qw -- "$DV_USER" <<<"$deny"; then restore; dv_die "DenyUsers ($deny) names the provisioning user $DV_USER"; fi
if [ "$DV_USER" = root ] && [ "$root" = no ]; then restore; dv_die "PermitRootLogin no would lock out the provisioning user root"; fi

# Reload only when what sshd runs with differs from the last applied file.
if [ "$changed" = 1 ] || ! cmp -s "$dropin" "$good" 2>/dev/null; then
  if systemctl is-active --quiet ssh.service; then
    systemctl reload ssh.service
    dv_changed "reloaded sshd"
  fi
  cp -p "$dropin" "$good"
fi
# sshd still answers (a running ssh.service with a listener, or socket activation).
listening=0
for _ in $(seq 1 10); do
  if systemctl is-active --quiet ssh.socket 2>/dev/null; then listening=1; break; fi
  if systemctl is-active --quiet ssh.service && ss -Hltnp 2>/dev/null | grep -q '"sshd"'; then listening=1; break; fi
  sleep 1
done
[ "$listening" = 1 ] || dv_die "sshd is not listening after the reload"
dv_fact sshd "key-only, PermitRootLogin $DV_PERMIT_ROOT"
