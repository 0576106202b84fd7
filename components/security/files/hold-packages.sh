#!/bin/sh
# Managed by DebVisor: holds the installed packages named (as shell globs) in
# /etc/debvisor/held-packages. Prints the packages it newly held.
set -eu
patterns=$(cat /etc/debvisor/held-packages 2>/dev/null || true)
[ -n "$patterns" ] || exit 0
held=$(dpkg-query -W -f='${db:Status-Want} ${Package}\n' 2>/dev/null | awk '$1 == "hold" {print $2}')
new=""
for pkg in $(dpkg-query -W -f='${db:Status-Status} ${Package}\n' 2>/dev/null | awk '$1 == "installed" {print $2}'); do
  for pat in $patterns; do
    # shellcheck disable=SC2254
    case "$pkg" in $pat)
      if ! printf '%s\n' "$held" | grep -qxF "$pkg"; then new="$new $pkg"; fi
      break ;;
    esac
  done
done
[ -n "$new" ] || exit 0
if [ "${1:-}" = standalone ]; then
  # shellcheck disable=SC2086
  printf '%s hold\n' $new | dpkg --set-selections
else
  # shellcheck disable=SC2086
  printf '%s hold\n' $new | DPKG_FRONTEND_LOCKED=1 dpkg --set-selections
fi
echo "${new# }"
