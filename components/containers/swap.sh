# Swap off for good (kubelet refuses to run with swap on by default): swapped off now,
# fstab's swap lines commented out (`#debvisor# ` prefix), every swap unit masked (the
# fstab generator's, and any other). No parameters.
# The units are listed first: once fstab's lines are gone, its generated units are too.
mapfile -t units < <(systemctl list-units --type=swap --all --plain --no-legend 2>/dev/null | awk '{print $1}')
if [ -n "$(tail -n +2 /proc/swaps)" ]; then
  if systemd-detect-virt --quiet --container 2>/dev/null; then
    # A container sees the machine's swap and cannot turn it off.
    dv_log "warning: swap is on, and this host is a container: the machine's swap is not its to turn off"
  else
    swapoff -a
    dv_changed "swap turned off"
  fi
fi

if grep -Eq '^[[:space:]]*[^#[:space:]]+[[:space:]]+[^[:space:]]+[[:space:]]+swap[[:space:]]' /etc/fstab 2>/dev/null; then
  tmp=$(mktemp /etc/fstab.debvisor.XXXXXX)
  sed -E 's/^([[:space:]]*[^#[:space:]]+[[:space:]]+[^[:space:]]+[[:space:]]+swap[[:space:]].*)$/#debvisor# \1/' /etc/fstab >"$tmp"
  chmod --reference=/etc/fstab "$tmp"
  mv -f "$tmp" /etc/fstab
  dv_changed "commented out swap in /etc/fstab"
  systemctl daemon-reload
fi

# Swap units systemd knew of (from fstab before the edit, swap files, zram...), and the
# target: masked, so nothing turns swap on at boot.
units+=(swap.target)
for u in "${units[@]}"; do
  [ -n "$u" ] || continue
  [ "$(systemctl is-enabled "$u" 2>/dev/null || true)" = masked ] && continue
  systemctl mask "$u" >&2
  dv_changed "masked $u"
done
