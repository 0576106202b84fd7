# Locale and timezone. Params: DV_LOCALE (e.g. en_US.UTF-8), DV_TIMEZONE (e.g. UTC).
charset=${DV_LOCALE#*.}
[ -f "/usr/share/zoneinfo/$DV_TIMEZONE" ] || dv_die "unknown timezone $DV_TIMEZONE"

# locale.gen: enable exactly our line (other enabled locales are left alone).
if ! grep -Eq "^${DV_LOCALE//./\\.} ${charset}\$" /etc/locale.gen 2>/dev/null; then
  if grep -Eq "^# *${DV_LOCALE//./\\.} ${charset}\$" /etc/locale.gen 2>/dev/null; then
    sed -i -E "s/^# *(${DV_LOCALE//./\\.} ${charset})\$/\\1/" /etc/locale.gen
  else
    echo "$DV_LOCALE $charset" >>/etc/locale.gen
  fi
  dv_changed "enabled $DV_LOCALE in /etc/locale.gen"
fi
# locale -a spells en_US.UTF-8 as en_US.utf8.
normalized=$(printf '%s' "$DV_LOCALE" | sed -E 's/\.UTF-8$/.utf8/')
if ! locale -a 2>/dev/null | grep -qx "$normalized"; then
  locale-gen >&2 || dv_die "locale-gen failed for $DV_LOCALE"
  # locale-gen skips a name glibc does not know with only a warning: check, or LANG
  # would point at a locale that does not exist.
  locale -a 2>/dev/null | grep -qx "$normalized" ||
    dv_die "locale $DV_LOCALE was not generated (not in /usr/share/i18n/SUPPORTED?); /etc/default/locale left as it was"
  dv_changed "generated $DV_LOCALE"
fi
dv_write_file /etc/default/locale 644 "LANG=$DV_LOCALE" || true

# Timezone: /etc/localtime and /etc/timezone (timedatectl needs a bus; this does not).
if [ "$(readlink /etc/localtime)" != "/usr/share/zoneinfo/$DV_TIMEZONE" ]; then
  ln -sfn "/usr/share/zoneinfo/$DV_TIMEZONE" /etc/localtime
  dv_changed "timezone $DV_TIMEZONE"
fi
dv_write_file /etc/timezone 644 "$DV_TIMEZONE" || true
