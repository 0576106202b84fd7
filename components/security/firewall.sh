# Host firewall: default-deny inbound, role ports open to the cluster's networks only.
# Params: DV_BACKEND (nftables|ufw), DV_NFT (the nftables file: replaces only table inet
#         debvisor), DV_UFW_RULES (ufw rule arguments, one a line), DV_UFW_IPIP (IPv4
#         networks allowed IP-in-IP under ufw, space-separated).
# Never locks out the provisioner: SSH from the address this step is connected from is
# always allowed, and every change is checked (nft -c) before it is applied atomically.
conf=/etc/debvisor/firewall.nft
unit=/etc/systemd/system/debvisor-firewall.service
state=/var/lib/debvisor
mkdir -p "$state" /etc/debvisor

client='' client_port=''
if session=$(dv_ssh_session); then
  read -r client _ _ client_port <<<"$session"
fi

if [ "$DV_BACKEND" = nftables ]; then
  dv_install nftables
  # Coexistence: if ufw manages this host, it is switched off (not purged).
  if command -v ufw >/dev/null && ufw status 2>/dev/null | grep -q '^Status: active'; then
    ufw --force disable >&2
    dv_changed "disabled ufw (nftables backend selected)"
  fi
  want=$DV_NFT
  if [ -n "$client" ]; then
    fam=ip
    case "$client" in *:*) fam=ip6 ;; esac
    want+=$'\n'"# The provisioning session: never locked out."$'\n'"add rule inet debvisor input $fam saddr $client tcp dport $client_port accept comment \"provisioner\""
  fi
  unit_text="[Unit]
Description=DebVisor host firewall (nftables table inet debvisor)
Documentation=man:nft(8)
DefaultDependencies=no
Wants=network-pre.target
Before=network-pre.target shutdown.target
Conflicts=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
StandardInput=null
ExecStart=/usr/sbin/nft -f $conf
ExecReload=/usr/sbin/nft -f $conf

[Install]
WantedBy=sysinit.target"
  # Check the candidate before it replaces anything.
  tmp=$(mktemp "$conf.new.XXXXXX")
  trap 'rm -f "$tmp"' EXIT
  printf '%s\n' "$want" >"$tmp"
  if ! err=$(nft -c -f "$tmp" 2>&1); then
    dv_die "nft -c rejected the firewall ruleset; nothing was changed: $err"
  fi
  rm -f "$tmp"
  dv_write_file "$conf" 600 "$want" || true
  if dv_write_file "$unit" 644 "$unit_text"; then systemctl daemon-reload; fi
  if ! systemctl is-enabled --quiet debvisor-firewall.service 2>/dev/null; then
    systemctl enable debvisor-firewall.service >&2 2>&1
    dv_changed "enabled debvisor-firewall.service"
  fi
  # Applied = the loaded table is what the file says (a flushed ruleset is put back).
  loaded=$({ nft list table inet debvisor 2>/dev/null || true; } | sha256sum | cut -d' ' -f1)
  stamp=$(cat "$state/firewall.applied" 2>/dev/null || true)
  if [ "$stamp" != "$(sha256sum <"$conf" | cut -d' ' -f1) $loaded" ] || ! nft list table inet debvisor >/dev/null 2>&1; then
    nft -f "$conf" # one transaction: the old table is replaced or nothing changes
    systemctl is-active --quiet debvisor-firewall.service || systemctl start debvisor-firewall.service >&2
    loaded=$(nft list table inet debvisor | sha256sum | cut -d' ' -f1)
    echo "$(sha256sum <"$conf" | cut -d' ' -f1) $loaded" >"$state/firewall.applied"
    dv_changed "applied nftables table inet debvisor"
  fi
  dv_fact firewall nftables
else
  dv_install ufw
  # Leave DebVisor's nftables table behind if the backend was switched.
  if systemctl is-enabled --quiet debvisor-firewall.service 2>/dev/null; then
    systemctl disable debvisor-firewall.service >&2 2>&1
    dv_changed "disabled debvisor-firewall.service (ufw backend selected)"
  fi
  if command -v nft >/dev/null && nft list table inet debvisor >/dev/null 2>&1; then
    nft delete table inet debvisor
    dv_changed "removed nftables table inet debvisor"
  fi
  # ufw's default FORWARD policy DROP would drop pod and VM traffic it does not own.
  if grep -q '^DEFAULT_FORWARD_POLICY="DROP"' /etc/default/ufw; then
    sed -i 's/^DEFAULT_FORWARD_POLICY="DROP"/DEFAULT_FORWARD_POLICY="ACCEPT"/' /etc/default/ufw
    dv_changed "ufw forward policy ACCEPT"
  fi
  # IP-in-IP (protocol 4) has no ufw rule syntax: a marked block in before.rules.
  block=""
  for net in $DV_UFW_IPIP; do block+="-A ufw-before-input -p 4 -s $net -j ACCEPT"$'\n'; done
  if ! awk '/^# BEGIN debvisor/{f=1;next} /^# END debvisor/{f=0;next} f' /etc/ufw/before.rules | cmp -s - <(printf '%s' "$block"); then
    sed -i '/^# BEGIN debvisor/,/^# END debvisor/d' /etc/ufw/before.rules
    if [ -n "$block" ]; then
      # Insert right before the final COMMIT of the filter table.
      awk -v blk="# BEGIN debvisor (managed: IP-in-IP for Calico)\n${block}# END debvisor" '
        { lines[NR] = $0 } /^COMMIT/ { last = NR }
        END { for (i = 1; i <= NR; i++) { if (i == last) print blk; print lines[i] } }' /etc/ufw/before.rules >/etc/ufw/before.rules.debvisor
      mv /etc/ufw/before.rules.debvisor /etc/ufw/before.rules
    fi
    dv_changed "ufw before.rules IP-in-IP block"
    ufw_reload=1
  fi
  applied=$state/ufw-rules
  want=$DV_UFW_RULES
  if [ -n "$client" ]; then want+=$'\n'"allow from $client to any port $client_port proto tcp comment 'provisioner'"; fi
  old=$(cat "$applied" 2>/dev/null || true)
  if [ "$old" != "$want" ]; then
    # Add the new rules first (SSH stays open throughout), then delete the old ones.
    while IFS= read -r rule; do
      [ -n "$rule" ] || continue
      eval "ufw $rule" >&2
    done <<<"$want"
    while IFS= read -r rule; do
      [ -n "$rule" ] || continue
      grep -qxF -- "$rule" <<<"$want" || eval "ufw delete $rule" >&2 || true
    done <<<"$old"
    printf '%s' "$want" >"$applied"
    dv_changed "ufw rules"
  fi
  # A port move's temporary opening (ssh-move.sh): the rules above now cover SSH.
  while IFS= read -r rule; do
    [ -n "$rule" ] || continue
    eval "ufw delete ${rule#ufw }" >&2 && dv_changed "removed the temporary SSH port opening"
  done < <(ufw show added 2>/dev/null | grep "comment 'debvisor-ssh-move'" || true)
  if ! ufw status | grep -q '^Status: active'; then
    ufw default deny incoming >&2
    ufw default allow outgoing >&2
    ufw --force enable >&2
    dv_changed "enabled ufw (default deny incoming)"
  elif [ "${ufw_reload:-0}" = 1 ]; then
    ufw reload >&2
  fi
  dv_fact firewall ufw
fi
