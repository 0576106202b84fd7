# shellcheck shell=bash
# logged_run SAY LABEL CMD...: runs CMD with its output appended to $LOG, SAY (a progress
# function) telling every 30 s that it is still running; Ctrl-C stops CMD too. On failure
# shows the log's last 30 lines. Returns CMD's status. Shared by the Pulumi toolchain
# (scripts/toolchain/lib.sh) and the Kubernetes builds (scripts/toolchain/kubernetes/lib.sh).
logged_run() {
  local say=$1 label=$2 pid rc=0 n=0
  shift 2
  printf '\n=== %s: %s\n' "$(date -u +%FT%TZ)" "$label" >>"$LOG"
  "$@" >>"$LOG" 2>&1 &
  pid=$!
  # Background jobs ignore Ctrl-C in scripts: stop the build with us.
  trap 'kill "$pid" 2>/dev/null; exit 130' INT TERM
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    n=$((n + 1))
    if ((n % 30 == 0)); then "$say" "  ... still $label ($((n / 60))m$((n % 60))s; log: $LOG)"; fi
  done
  wait "$pid" || rc=$?
  trap - INT TERM
  if ((rc != 0)); then
    echo "---- last 30 lines of $LOG ----" >&2
    tail -n 30 "$LOG" >&2
    echo "----" >&2
  fi
  return "$rc"
}
