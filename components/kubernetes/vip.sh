# @include host/include/apt.sh
# The control-plane VIP: keepalived from Debian, one VRRP instance whose priority drops
# while the local kube-apiserver does not answer (the health check). The config is tested
# before keepalived reloads it. Params: DV_VIP_PACKAGES (from Debian's archive),
# DV_KEEPALIVED_CONF, DV_CHECK_PATH, DV_CHECK_SCRIPT.
read -r -a pkgs <<<"$DV_VIP_PACKAGES"
dv_install_refreshed "${pkgs[@]}"

reload=false
if dv_write_file "$DV_CHECK_PATH" 755 "$DV_CHECK_SCRIPT"; then reload=true; fi
conf=/etc/keepalived/keepalived.conf
if [ -f "$conf" ] && ! head -n 1 "$conf" | grep -qF '# Managed by DebVisor' && ! printf '%s\n' "$DV_KEEPALIVED_CONF" | cmp -s - "$conf"; then
  cp -p "$conf" "$conf.debvisor-saved"
  dv_log "kept the host's own $conf as $conf.debvisor-saved"
fi
tmp=$(mktemp /etc/keepalived/keepalived.conf.debvisor.XXXXXX)
trap 'rm -f "$tmp"' EXIT
printf '%s\n' "$DV_KEEPALIVED_CONF" >"$tmp"
keepalived --config-test -f "$tmp" >&2 2>&1 || dv_die "keepalived refuses the rendered configuration (see above)"
rm -f "$tmp"
if dv_write_file "$conf" 644 "$DV_KEEPALIVED_CONF"; then reload=true; fi

if ! dv_enable_now keepalived.service && [ "$reload" = true ]; then
  systemctl reload keepalived.service || systemctl restart keepalived.service
  dv_changed "reloaded keepalived"
fi
