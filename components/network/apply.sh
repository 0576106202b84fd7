# Network layer, step 1 of 2 (commit-confirmed): br0 / bonds / VLANs through the host's own
# ifupdown. DebVisor owns /etc/network/interfaces.d/debvisor; the host's own stanza of the
# interface that carried its address is commented out (#debvisor#) where it was.
# Params: DV_INTERFACES (the file, with @@PRIMARY@@ / @@MIGRATE@@ / @@MIGRATE_MORE@@ left for
#         the host), DV_DEFINED (interfaces it defines), DV_MEMBERS (bridge ports and bond
#         slaves), DV_MIGRATE (the bridge that takes over the primary interface's stanza, or
#         ""), DV_PACKAGES, DV_ROLLBACK_SECONDS, DV_GENERATION (names this configuration).
# When the files would change: back up, arm a rollback timer (restores the backup after
# DV_ROLLBACK_SECONDS unless the confirm step disarms it), switch in a detached unit (the
# SSH session may stall or drop meanwhile), wait for the switch. Nothing to change: nothing
# is applied and no rollback is armed.
[ "${DV_OP:-apply}" = apply ] || exit 0
S=/var/lib/debvisor/network
ours=/etc/network/interfaces.d/debvisor
helper=/usr/local/lib/debvisor/network-switch
gen=$DV_GENERATION
secs=$DV_ROLLBACK_SECONDS
mkdir -p "$S"

# --- The switch helper (written to $helper; runs in transient units, not in this session).
# net_switch apply|rollback GEN (or boot): under a lock, takes down the affected interfaces with the
# current files, installs the new (or the backed-up) files, raises the interfaces again.
net_switch() {
  local op=$1 gen=${2:-} S=/var/lib/debvisor/network state src i f failed=() up
  mkdir -p /run/lock
  exec 9>/run/lock/debvisor-network.lock
  flock 9
  state=$(cat "$S/state" 2>/dev/null || true)
  case "$op" in
    apply)
      [ "$state" = "armed $gen" ] || { echo "network-switch: state is '$state', not 'armed $gen': nothing to apply"; return 0; }
      src=$S/pending/new ;;
    rollback)
      case "$state" in "armed $gen" | "switched $gen") ;; *) echo "network-switch: state is '$state': nothing to roll back"; return 0 ;; esac
      src=$S/pending/old ;;
    boot)
      # Early at boot, before networking.service: a change that was never confirmed does
      # not survive a reboot (its rollback timer did not). Files only: nothing is up yet.
      case "$state" in "armed "* | "switched "*) gen=${state#* } ;; *) return 0 ;; esac
      while read -r f; do
        if [ -e "$S/pending/old$f" ]; then cp -p "$S/pending/old$f" "$f"; elif [ -e "$S/pending/old$f.absent" ]; then rm -f "$f"; fi
      done <"$S/pending/files"
      printf 'generation=%s at=%s seconds=%s reason=reboot\n' "$gen" "$(date -u +%FT%TZ)" "$(cat "$S/pending/seconds" 2>/dev/null)" >"$S/rolled-back"
      echo "rolledback $gen" >"$S/state"
      echo "network-switch: restored the configuration before the unconfirmed change $gen"
      return 0 ;;
    *) echo "usage: network-switch apply|rollback GEN | boot" >&2; return 2 ;;
  esac
  local ifaces=()
  read -r -a ifaces <"$S/pending/ifaces" || true
  up=$(ifquery --state 2>/dev/null | cut -d= -f1)
  # Down, with the files that raised them: VLANs, then bridges, then bonds, then NICs.
  for f in vlan bridge bond nic; do
    for i in "${ifaces[@]}"; do
      case "$f" in
        vlan) [[ $i == *.* ]] || continue ;;
        bridge) if [[ $i == *.* ]] || [ ! -d "/sys/class/net/$i/bridge" ]; then continue; fi ;;
        bond) [ -d "/sys/class/net/$i/bonding" ] || continue ;;
        nic) if [[ $i == *.* ]] || [ -d "/sys/class/net/$i/bridge" ] || [ -d "/sys/class/net/$i/bonding" ]; then continue; fi ;;
      esac
      if grep -qx -- "$i" <<<"$up"; then ifdown --force "$i" || echo "network-switch: ifdown $i failed"; fi
    done
  done
  # Leftovers ifupdown did not remove: virtual interfaces go, NICs lose their addresses.
  for i in "${ifaces[@]}"; do
    [ -e "/sys/class/net/$i" ] || continue
    if [[ $i == *.* ]] || [ -d "/sys/class/net/$i/bridge" ] || [ -d "/sys/class/net/$i/bonding" ]; then
      ip link del "$i" 2>/dev/null || true
    else
      ip addr flush dev "$i" scope global 2>/dev/null || true
    fi
  done
  while read -r f; do
    if [ -e "$src$f" ]; then
      cp -p "$src$f" "$f.debvisor-new" && mv -f "$f.debvisor-new" "$f"
    elif [ -e "$src$f.absent" ]; then
      rm -f "$f"
    fi
  done <"$S/pending/files"
  # Up, in the order the files give (bonds before the bridge that uses them).
  local order
  order=$( (ifquery --list --allow=auto; ifquery --list --allow=hotplug) 2>/dev/null | awk '!seen[$0]++')
  : >"$S/pending/failed"
  for i in $order; do
    [ "$i" = lo ] && continue
    printf '%s\n' "${ifaces[@]}" | grep -qx -- "$i" || continue
    if ! ifup "$i" >>"$S/pending/switch.log" 2>&1; then failed+=("$i"); echo "$i" >>"$S/pending/failed"; fi
  done
  if [ "$op" = apply ]; then
    echo "switched $gen" >"$S/state"
  else
    printf 'generation=%s at=%s seconds=%s reason=%s\n' "$gen" "$(date -u +%FT%TZ)" "$(cat "$S/pending/seconds" 2>/dev/null)" "${3:-timeout}" >"$S/rolled-back"
    echo "rolledback $gen" >"$S/state"
  fi
  echo "network-switch: $op $gen done${failed[*]:+ (ifup failed: ${failed[*]})}"
}

BOOT_UNIT="[Unit]
Description=DebVisor: restore the network configuration if a change was never confirmed
DefaultDependencies=no
After=local-fs.target
Before=networking.service network-pre.target shutdown.target
Wants=network-pre.target
Conflicts=shutdown.target
ConditionPathExists=/var/lib/debvisor/network/pending/files

[Service]
Type=oneshot
ExecStart=$helper boot

[Install]
WantedBy=multi-user.target"

other_stack() {
  local found=()
  systemctl is-active --quiet systemd-networkd 2>/dev/null && found+=("systemd-networkd is active")
  systemctl is-active --quiet NetworkManager 2>/dev/null && found+=("NetworkManager is active")
  compgen -G '/etc/netplan/*.yaml' >/dev/null && found+=("netplan files in /etc/netplan")
  [ ${#found[@]} -gt 0 ] || found=("no systemd-networkd, NetworkManager or netplan either")
  local IFS=';'
  printf '%s' "${found[*]}"
}
# The host's own ifupdown files (never DebVisor's).
host_files() {
  local f
  for f in /etc/network/interfaces /etc/network/interfaces.d/*; do
    [ -f "$f" ] && [ "$f" != "$ours" ] && [[ $f != *.debvisor-new ]] && printf '%s\n' "$f"
  done
  return 0
}
# ifupdown stanza keywords: a stanza ends where the next one begins.
KW='^(iface|mapping|auto|allow-[^ ]+|source|source-directory|no-auto-down|no-scripts|rename)$'
# extract IFACE FILE...: "iface FAMILY METHOD" lines and the tab-indented options of IFACE.
extract() {
  local ifc=$1
  shift
  awk -v ifc="$ifc" -v kw="$KW" '
    /^[[:space:]]*(#|$)/ { next }
    $1 ~ kw { in_st = ($1 == "iface" && $2 == ifc); if (in_st) print "iface", $3, $4; next }
    in_st { sub(/^[[:space:]]+/, ""); print "\t" $0 }' "$@"
}
# restore: undo DebVisor's commenting (a split auto line is followed by its remainder).
restore() {
  awk '
    skip { skip = 0; next }
    /^#debvisor-split# / { sub(/^#debvisor-split# /, ""); print; skip = 1; next }
    /^#debvisor# / { sub(/^#debvisor# /, ""); print; next }
    { print }'
}
# comment_out IFACE: comment out its stanzas and its auto/allow-* entries.
comment_out() {
  awk -v ifc="$1" -v kw="$KW" '
    /^[[:space:]]*#/ { print; next }
    NF && $1 ~ kw {
      in_st = ($1 == "iface" && $2 == ifc)
      if (in_st) { print "#debvisor# " $0; next }
      if ($1 == "auto" || $1 ~ /^allow-/) {
        n = 0; rest = $1
        for (i = 2; i <= NF; i++) { if ($i == ifc) n++; else rest = rest " " $i }
        if (n > 0 && NF - 1 == n) { print "#debvisor# " $0; next }
        if (n > 0) { print "#debvisor-split# " $0; print rest; next }
      }
      print; next
    }
    in_st && NF { print "#debvisor# " $0; next }
    { print }'
}

# --- 1. Which network stack runs this host? Nothing changes before this is settled.
if ! command -v ifup >/dev/null || ! command -v ifquery >/dev/null; then
  dv_die "ifupdown is not installed ($(other_stack)): DebVisor's network layer supports only ifupdown; nothing was changed"
fi
if [ -s "$S/primary" ]; then
  primary=$(cat "$S/primary")
else
  primary=""
  server=$(dv_ssh_session | awk '{print $3}') || server=""
  [ -z "$server" ] || primary=$(ip -o addr show to "$server" | awk '{print $2; exit}')
  [ -n "$primary" ] || primary=$(ip -o route show default | awk '{for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit }}')
  [ -n "$primary" ] || dv_die "cannot tell which interface carries the host's address (no SSH session address, no default route); nothing was changed"
  mapfile -t files < <(host_files)
  stanza=$(extract "$primary" "${files[@]}")
  if [ -z "$stanza" ]; then
    dv_die "$primary carries the host's address but has no ifupdown stanza in /etc/network/interfaces or interfaces.d ($(other_stack)): DebVisor's network layer supports only ifupdown; nothing was changed"
  fi
  # Bookkeeping (not a change to the host's network): the stanza DebVisor migrates.
  printf '%s\n' "$stanza" >"$S/primary-stanza"
  printf '%s\n' "$primary" >"$S/primary"
fi
grep -Eq '^[[:space:]]*source(-directory)?[[:space:]]+/etc/network/interfaces\.d' /etc/network/interfaces ||
  dv_die "/etc/network/interfaces does not source /etc/network/interfaces.d: DebVisor's file would be ignored; nothing was changed"

# --- 2. What ifupdown needs for bridges, VLANs and bonds.
# shellcheck disable=SC2086 # a list of package names
[ -z "$DV_PACKAGES" ] || dv_install $DV_PACKAGES

# --- 3. The desired files, staged.
members=" ${DV_MEMBERS//@@PRIMARY@@/$primary} "
consumed=0
[[ $members == *" $primary "* ]] && consumed=1
if [ -n "$DV_MIGRATE" ] && [ "$consumed" = 0 ]; then
  dv_die "bridge $DV_MIGRATE would take over the address of $primary, but $primary is not one of its ports (directly or through a bond):${members% }; nothing was changed"
fi
tmp=$(mktemp -d /run/debvisor-network.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
content=${DV_INTERFACES//@@PRIMARY@@/$primary}
if [ -n "$DV_MIGRATE" ]; then
  content=$(awk -v br="$DV_MIGRATE" '
    NR == FNR { if ($1 == "iface") { n++; head[n] = "iface " br " " $2 " " $3; fam[n] = $2 } else if (n) body[n] = body[n] $0 "\n"; next }
    !done { done = 1; for (i = 1; i <= n; i++) if (fam[i] == "inet") { first = i; break }; if (!first && n) first = 1 }
    $0 == "@@MIGRATE@@" { if (first) printf "%s\n%s", head[first], body[first]; else print "iface " br " inet manual"; next }
    $0 == "@@MIGRATE_MORE@@" { for (i = 1; i <= n; i++) if (i != first) printf "%s\n%s", head[i], body[i]; next }
    { print }' "$S/primary-stanza" - <<<"$content")
fi
mkdir -p "$tmp/new/etc/network/interfaces.d"
printf '%s\n' "$content" >"$tmp/new$ours"
mapfile -t files < <(host_files)
for f in "${files[@]}"; do
  mkdir -p "$tmp/new$(dirname "$f")"
  if [ "$consumed" = 1 ]; then restore <"$f" | comment_out "$primary" >"$tmp/new$f"; else restore <"$f" >"$tmp/new$f"; fi
done
changed=()
for f in "$ours" "${files[@]}"; do
  cmp -s "$tmp/new$f" "$f" 2>/dev/null || changed+=("$f")
done

# The staged configuration must parse and define every interface DebVisor names.
{
  for f in "${files[@]}"; do grep -Ev '^[[:space:]]*source(-directory)?[[:space:]]' "$tmp/new$f" || true; done
  cat "$tmp/new$ours"
} >"$tmp/combined"
if ! err=$(ifquery -i "$tmp/combined" --list -a 2>&1 >/dev/null) || [ -n "$err" ]; then
  dv_die "the new network configuration does not parse: $err; nothing was changed"
fi
for i in $DV_DEFINED; do
  ifquery -i "$tmp/combined" "$i" >/dev/null 2>&1 || dv_die "the new network configuration does not define $i; nothing was changed"
done

# This very configuration was rolled back before: it stays refused until it changes.
if [ -f "$S/rolled-back" ] && grep -q "^generation=$gen " "$S/rolled-back"; then
  why=$(cat "$S/rolled-back")
  case "$why" in
    *reason=timeout*) why="the host did not answer a new SSH connection within ${secs} s after it was applied, so the previous config was restored automatically ($why)" ;;
    *reason=reboot*) why="the host rebooted before the change was confirmed and booted the previous config ($why)" ;;
    *) why="the previous config was restored ($why)" ;;
  esac
  dv_die "the new network config was rolled back: $why; change the network settings (or remove $S/rolled-back) to try again"
fi
state=$(cat "$S/state" 2>/dev/null || true)
wait_switch() {
  local st _
  for _ in $(seq 1 $((secs + 90))); do
    st=$(cat "$S/state" 2>/dev/null || true)
    case "$st" in "switched $gen" | "rolledback $gen" | "committed $gen") printf '%s\n' "$st"; return 0 ;; esac
    sleep 1
  done
  printf '%s\n' "$st"
}
if [ ${#changed[@]} -eq 0 ]; then
  # Already in place. A re-run after a lost session finds its own switch still running.
  [ "$state" != "armed $gen" ] || wait_switch >/dev/null
  dv_fact network "$(printf '%s' "$DV_DEFINED" | tr ' ' ',') on ifupdown (primary $primary)"
  exit 0
fi

# --- 4. Commit-confirmed switch. An earlier change still waiting for its confirmation is
# left to resolve (its rollback timer fires at the latest after its window).
for _ in $(seq 1 $((secs + 120))); do
  systemctl is-active --quiet debvisor-network-rollback.timer || break
  sleep 1
done
systemctl is-active --quiet debvisor-network-rollback.timer && dv_die "an earlier network change is still waiting for its confirmation; run again"
{
  printf '#!/bin/bash\n# DebVisor network switch (written by the network layer)\nset -euo pipefail\nexport PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n'
  declare -f net_switch
  # shellcheck disable=SC2016 # literal text of the helper
  printf 'net_switch "$@"\n'
} >"$tmp/helper"
if ! cmp -s "$tmp/helper" "$helper" 2>/dev/null; then
  mkdir -p "$(dirname "$helper")"
  install -m 755 "$tmp/helper" "$helper"
fi
[ -d "$S/original" ] || { mkdir -p "$S/original" && cp -a /etc/network/interfaces /etc/network/interfaces.d "$S/original/"; }
# A reboot before the confirmation boots the previous files (the rollback timer is transient).
if dv_write_file /etc/systemd/system/debvisor-network-boot.service 644 "$BOOT_UNIT"; then systemctl daemon-reload; fi
systemctl is-enabled --quiet debvisor-network-boot.service || { systemctl enable --quiet debvisor-network-boot.service; dv_changed "enabled debvisor-network-boot.service"; }

exec 9>/run/lock/debvisor-network.lock
flock 9
rm -rf "$S/pending" "$S/rolled-back"
mkdir -p "$S/pending/new" "$S/pending/old"
for f in "${changed[@]}"; do
  mkdir -p "$S/pending/new$(dirname "$f")" "$S/pending/old$(dirname "$f")"
  cp -p "$tmp/new$f" "$S/pending/new$f"
  if [ -e "$f" ]; then cp -p "$f" "$S/pending/old$f"; else : >"$S/pending/old$f.absent"; fi
  printf '%s\n' "$f" >>"$S/pending/files"
done
# Affected: the primary interface, everything either version of DebVisor's file names.
{
  echo "$primary"
  for f in "$ours" "$tmp/new$ours"; do
    [ -f "$f" ] && awk '$1 == "iface" { print $2 } $1 ~ /^(bridge[-_]ports|bond[-_]slaves)$/ { for (i = 2; i <= NF; i++) if ($i != "none") print $i }' "$f"
  done
} | awk 'NF && !seen[$0]++' | tr '\n' ' ' >"$S/pending/ifaces"
echo "$secs" >"$S/pending/seconds"
echo "armed $gen" >"$S/state"
systemctl stop debvisor-network-rollback.timer debvisor-network-rollback.service 2>/dev/null || true
systemctl reset-failed debvisor-network-rollback.timer debvisor-network-rollback.service 2>/dev/null || true
systemd-run --quiet --unit=debvisor-network-rollback --on-active="${secs}s" --timer-property=AccuracySec=1s "$helper" rollback "$gen" >&2
flock -u 9
systemd-run --quiet --collect --unit="debvisor-network-switch-$(date +%s)" "$helper" apply "$gen" >&2
dv_log "switching the network (rollback armed: ${secs} s)"

st=$(wait_switch)
case "$st" in
  "switched $gen")
    if [ -s "$S/pending/failed" ]; then
      bad=$(tr '\n' ' ' <"$S/pending/failed")
      systemctl stop debvisor-network-rollback.timer 2>/dev/null || true
      systemd-run --quiet --collect --unit="debvisor-network-rollback-now-$(date +%s)" "$helper" rollback "$gen" ifup-failed >&2
      for _ in $(seq 1 120); do [ "$(cat "$S/state")" != "rolledback $gen" ] || break; sleep 1; done
      dv_die "ifup failed for ${bad% } ($(tail -n 5 "$S/pending/switch.log" | tr '\n' ' ')); the previous network config was restored"
    fi ;;
  "rolledback $gen") dv_die "the new network config was rolled back while it was being applied" ;;
  *) dv_die "the network switch did not finish (state: $st); the rollback restores the previous config after ${secs} s" ;;
esac
dv_changed "switched the network to generation $gen (${changed[*]}); rollback armed for ${secs} s until confirmed"
