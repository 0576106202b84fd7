# DebVisor step prelude: prepended to every step script (after `set -euo pipefail`
# and the step's parameters). Helpers are prefixed dv_ so scripts can tell them apart.
export DEBIAN_FRONTEND=noninteractive
export LC_ALL=C.UTF-8
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# Machine-readable lines on stdout; everything human goes to stderr.
dv_log() { printf '[debvisor] %s\n' "$*" >&2; }
dv_changed() { printf '@changed %s\n' "$*"; }
dv_fact() { printf '@fact %s=%s\n' "$1" "$2"; }
dv_die() { printf '[debvisor] error: %s\n' "$*" >&2; exit 1; }

# apt waits for the dpkg lock (unattended-upgrades may hold it) instead of failing.
dv_apt_get() {
  apt-get -q -y -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef \
    -o Dpkg::Options::=--force-confold "$@"
}

# apt-get update has no lock timeout for the lists lock: retry while another apt runs.
# Each try is bounded: a connection to a proxy that went away can hang it for good.
dv_apt_update() {
  local try
  for try in $(seq 1 60); do
    if timeout --kill-after=10 300 apt-get -q -o DPkg::Lock::Timeout=600 update >&2; then return 0; fi
    dv_log "apt-get update failed (try $try), retrying in 10 s"
    sleep 10
  done
  dv_die "apt-get update kept failing"
}

dv_installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

# Finishes a dpkg run that was interrupted. dpkg has no lock timeout of its own: while
# another package manager (unattended-upgrades, apt in another step) holds the lock,
# wait for it (that one may well finish the run itself).
dv_dpkg_configure() {
  local try out
  for try in $(seq 1 120); do
    [ -n "$(ls -A "${DV_DPKG_UPDATES:-/var/lib/dpkg/updates}" 2>/dev/null)" ] || return 0
    dv_log "finishing an interrupted dpkg run"
    if out=$(dpkg --force-confdef --force-confold --configure -a 2>&1); then
      printf '%s\n' "$out" >&2
      return 0
    fi
    printf '%s\n' "$out" >&2
    case $out in
      *"locked by another process"*) dv_log "dpkg is locked by another process (try $try), retrying" ;;
      *) dv_die "dpkg --configure -a failed" ;;
    esac
    sleep "${DV_DPKG_RETRY_SECONDS:-5}"
  done
  dv_die "dpkg stayed locked for 120 tries"
}

# Installs only the packages that are missing; finishes a dpkg run that an earlier,
# interrupted step (or unattended-upgrades) left half-done.
dv_install() {
  local missing=() p
  for p in "$@"; do dv_installed "$p" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  dv_dpkg_configure
  dv_log "installing ${missing[*]}"
  dv_apt_get install --no-install-recommends "${missing[@]}" >&2
  dv_changed "installed ${missing[*]}"
}

# dv_write_file PATH MODE CONTENT: writes only when the content or mode differs.
# Returns 0 when it wrote, 1 when the file was already right.
dv_write_file() {
  local path=$1 mode=$2 content=$3 tmp
  if [ -f "$path" ] && [ "$(stat -c %a "$path")" = "$mode" ] &&
    printf '%s\n' "$content" | cmp -s - "$path"; then
    return 1
  fi
  mkdir -p "$(dirname "$path")"
  tmp=$(mktemp "$path.debvisor.XXXXXX")
  printf '%s\n' "$content" >"$tmp"
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$path" # atomic: an interrupted step never leaves half a file
  dv_changed "wrote $path"
  return 0
}

# dv_enable_now UNIT: the unit enabled and active. Returns 0 when it had to start it,
# 1 when it was already running (the caller may want to restart it instead). Callers
# test its status, which turns `set -e` off inside: every failure exits explicitly.
dv_enable_now() {
  if ! systemctl is-enabled --quiet "$1" 2>/dev/null; then
    systemctl enable "$1" >&2 2>&1 || dv_die "cannot enable $1"
    dv_changed "enabled $1"
  fi
  systemctl is-active --quiet "$1" && return 1
  systemctl start "$1" || dv_die "cannot start $1"
  dv_changed "started $1"
}

# dv_remove_file PATH: removes a file DebVisor manages, reporting the change.
dv_remove_file() {
  [ -e "$1" ] || return 1
  rm -f "$1"
  dv_changed "removed $1"
}

# dv_ssh_session: the SSH_CONNECTION (client cport server sport) this step runs in;
# sudo drops it from the environment, so walk up the process tree.
dv_ssh_session() {
  local pid=$$ conn
  while [ "$pid" -gt 1 ]; do
    conn=$(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | sed -n 's/^SSH_CONNECTION=//p' | head -n1)
    if [ -n "$conn" ]; then
      printf '%s\n' "$conn"
      return 0
    fi
    pid=$(awk '/^PPid:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 1)
  done
  return 1
}
