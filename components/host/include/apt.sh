# Package helpers shared by layer scripts (included where used: the prelude, host/lib.sh,
# is in every step's payload, and changing it would re-run every converged step).

# dv_install_refreshed PKG...: installs the missing ones; refreshes the package lists
# first, once, when apt does not know one of them (lists older than the packages, or none).
dv_install_refreshed() {
  local p
  for p in "$@"; do
    if ! dv_installed "$p" && ! apt-cache show "$p" >/dev/null 2>&1; then
      dv_apt_update
      break
    fi
  done
  dv_install "$@"
}

# dv_check_versions "name=version ...": each installed package is the pinned version (a
# host that got another build, e.g. from another repository, is refused, not reconfigured).
dv_check_versions() {
  local c name want have upstream checks
  read -r -a checks <<<"$1"
  for c in "${checks[@]}"; do
    name=${c%%=*} want=${c#*=}
    have=$(dpkg-query -W -f='${Version}' "$name" 2>/dev/null || true)
    upstream=${have#*:}
    case $upstream in
      "$want" | "$want"[~+-]*) ;;
      *) dv_die "$name $have is installed, DebVisor pins $want for this release (remove it or change the pin)" ;;
    esac
  done
}
