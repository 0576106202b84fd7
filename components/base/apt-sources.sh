# Debian apt sources (deb822) and the apt proxy; apt-get update when they changed.
# Params: DV_SOURCES (debian.sources text), DV_PROXY_CONF (apt.conf text or empty),
#         DV_KEYRING (the keyring the sources name).
[ -r "$DV_KEYRING" ] || dv_die "keyring $DV_KEYRING is missing: is this the Debian release the config names?"

dv_write_file /etc/apt/sources.list.d/debian.sources 644 "$DV_SOURCES" || true
if [ -n "$DV_PROXY_CONF" ]; then
  dv_write_file /etc/apt/apt.conf.d/01debvisor-proxy 644 "$DV_PROXY_CONF" || true
else
  dv_remove_file /etc/apt/apt.conf.d/01debvisor-proxy || true
fi

# The one-line sources.list of an installer would duplicate our entries: set it aside.
if [ -f /etc/apt/sources.list ] && grep -Eq '^[[:space:]]*deb' /etc/apt/sources.list; then
  mv /etc/apt/sources.list /etc/apt/sources.list.debvisor-disabled
  dv_changed "set aside /etc/apt/sources.list"
fi

# Update when the inputs changed since the last successful update (a stamp, so an
# update cut off half-way is done again on the next run).
stamp=/var/lib/debvisor/apt-sources.sha256
want=$(printf '%s\n%s\n' "$DV_SOURCES" "$DV_PROXY_CONF" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  dv_apt_update
  mkdir -p "$(dirname "$stamp")"
  echo "$want" >"$stamp"
  dv_changed "apt-get update"
fi
