#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# Serve the Kubernetes artifacts of scripts/toolchain/kubernetes/build.sh to the lab's
# hosts the way an air-gapped site serves them: an image registry and a flat apt
# repository on the lab bridge's address, plain HTTP.
#
#   npm run lab -- kubernetes up       start both (idempotent), push the images
#   npm run lab -- kubernetes down     stop both (the registry's storage is kept)
#   npm run lab -- kubernetes status   what is served, and where
#
#   registry  http://10.213.0.1:5000   (crane registry serve, storage in
#                                       $DEBVISOR_CACHE/kubernetes/registry)
#   apt repo  http://10.213.0.1:3143/kubernetes/   (python3 -m http.server)
#
# Under systemd each is a transient unit (debvisor-lab-registry,
# debvisor-lab-kubernetes-repo); on a machine without systemd as PID 1 they are
# setsid processes with pid files in $LAB_DIR/serve/ and logs in $LAB_DIR/log/.
set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=../toolchain/kubernetes/lib.sh
. "$LAB_SRC/../toolchain/kubernetes/lib.sh"

REGISTRY_UNIT=debvisor-lab-registry
REPO_UNIT=debvisor-lab-kubernetes-repo
REGISTRY_DIR="$DEBVISOR_CACHE/kubernetes/registry"
# pid files of the setsid services: not in the lab's run/, which "lab down" removes while
# they keep running (they outlive a lab down and serve again when the bridge is back).
SERVE_DIR=$LAB_DIR/serve
KEYRING_URL="${LAB_REPO_URL}Release.key"

[[ $LAB_GW == "$LAB_SERVE_ADDR" ]] || die "lab bridge address $LAB_GW differs from $LAB_SERVE_ADDR (scripts/toolchain/kubernetes/lib.sh)"

have_systemd() { [[ -d /run/systemd/system ]]; }

# service_pid NAME: the pid of our running service, or nothing.
service_pid() {
  local pid
  if have_systemd; then
    pid=$(systemctl show -p MainPID --value "$1.service" 2>/dev/null || true)
    [[ -n $pid && $pid != 0 ]] && printf '%s' "$pid"
    return 0
  fi
  # Ours if it runs with the arguments we gave (argv[0] may have been rewritten by a wrapper).
  pid=$(cat "$SERVE_DIR/$1.pid" 2>/dev/null || true)
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null &&
    [[ $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -d' ' -f2-) == "$(cut -d' ' -f2- "$SERVE_DIR/$1.cmd" 2>/dev/null) " ]] &&
    printf '%s' "$pid"
  return 0
}

# start_service NAME CMD...: start it unless it already runs with the same command line.
start_service() {
  local name=$1 pid
  shift
  pid=$(service_pid "$name")
  if [[ -n $pid ]]; then
    if have_systemd || [[ $(cat "$SERVE_DIR/$name.cmd") == "$*" ]]; then
      log "$name: running (pid $pid)"
      return 0
    fi
    stop_service "$name" # another command line (another version's artifacts)
  fi
  mkdir -p "$SERVE_DIR" "$LOG_DIR"
  if have_systemd; then
    systemctl reset-failed "$name.service" 2>/dev/null || true
    systemd-run --quiet --unit "$name" --description "DebVisor lab: $name" \
      -p Restart=on-failure -p RestartSec=2 "$@" 9>&-
  else
    printf '%s' "$*" >"$SERVE_DIR/$name.cmd"
    setsid "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null 9>&- &
    echo $! >"$SERVE_DIR/$name.pid"
  fi
  log "$name: started"
}

stop_service() {
  local name=$1 pid
  if have_systemd; then
    systemctl stop "$name.service" 2>/dev/null || true
    systemctl reset-failed "$name.service" 2>/dev/null || true
  else
    pid=$(service_pid "$name")
    if [[ -n $pid ]]; then
      kill "$pid"
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$SERVE_DIR/$name.pid" "$SERVE_DIR/$name.cmd"
  fi
  log "$name: stopped"
}

wait_url() { # URL WHAT LOGNAME
  for _ in $(seq 100); do
    if curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null; then
      # Answered: by ours, not by a process this script did not start (ours then dies
      # on "address already in use" at once: look again a second later).
      sleep 1
      [[ -n $(service_pid "$3") ]] && return 0
      die "$2 at $1 answers, but not from the process this script started: another one holds the address (stop it; log: $LOG_DIR/$3.log)"
    fi
    sleep 0.2
  done
  die "$2 does not answer at $1 (log: $(have_systemd && echo "journalctl -u $3" || echo "$LOG_DIR/$3.log"))"
}

cmd_up() {
  require_root
  ip -4 -o addr show dev "$LAB_BRIDGE" 2>/dev/null | grep -q " $LAB_GW/" ||
    die "the lab bridge $LAB_BRIDGE ($LAB_GW) is not up: npm run lab -- up first"
  [[ -f $KIMAGES/images.tsv && -f $KREPO/kubernetes/InRelease && -x $CRANE ]] ||
    die "no Kubernetes $K8S_VERSION artifacts in $KDIR: build them first (npm run toolchain:kubernetes)"
  take_lock
  mkdir -p "$REGISTRY_DIR"
  start_service "$REGISTRY_UNIT" "$CRANE" registry serve --address "$LAB_REGISTRY" --disk "$REGISTRY_DIR"
  wait_url "http://$LAB_REGISTRY/v2/" "the registry" "$REGISTRY_UNIT"
  local ref dir digest have pushed=0 kept=0
  while IFS=$'\t' read -r ref dir digest; do
    have=$("$CRANE" digest --insecure "$LAB_REGISTRY/$ref" 2>/dev/null || true)
    if [[ $have == "$digest" ]]; then
      kept=$((kept + 1))
      continue
    fi
    "$CRANE" push --insecure "$KIMAGES/$dir" "$LAB_REGISTRY/$ref" >>"$LOG_DIR/$REGISTRY_UNIT-push.log" 2>&1 ||
      die "pushing $ref failed (log: $LOG_DIR/$REGISTRY_UNIT-push.log)"
    have=$("$CRANE" digest --insecure "$LAB_REGISTRY/$ref")
    [[ $have == "$digest" ]] || die "$LAB_REGISTRY/$ref has digest $have after the push, the build made $digest"
    pushed=$((pushed + 1))
  done <"$KIMAGES/images.tsv"
  log "registry: $pushed image(s) pushed, $kept already there"
  local python=/usr/bin/python3
  [[ -x $python ]] || python=$(command -v python3) || die "python3 is needed to serve the apt repository"
  start_service "$REPO_UNIT" "$python" -m http.server --bind "$LAB_SERVE_ADDR" --directory "$KREPO" "$LAB_REPO_PORT"
  wait_url "${LAB_REPO_URL}InRelease" "the apt repository" "$REPO_UNIT"
  # The lab's apt proxy caches this repository's packages (by host, without the port): a
  # rebuild keeps their versions but not their checksums, so the cached copies go.
  rm -rf "${LAB_DIR:?}/acng/cache/$LAB_SERVE_ADDR/kubernetes"
  cmd_status
}

cmd_down() {
  require_root
  take_lock
  stop_service "$REPO_UNIT"
  stop_service "$REGISTRY_UNIT"
}

cmd_status() {
  local pid up=0 repo
  pid=$(service_pid "$REGISTRY_UNIT")
  if [[ -n $pid ]] && curl -fsS -o /dev/null --max-time 2 "http://$LAB_REGISTRY/v2/"; then
    echo "registry  http://$LAB_REGISTRY: up (pid $pid, storage $REGISTRY_DIR)"
    for repo in $(curl -fsS --max-time 5 "http://$LAB_REGISTRY/v2/_catalog" | tr -d '{}[]"' | sed 's/^repositories://' | tr ',' ' '); do
      echo "  $LAB_REGISTRY/$repo: $("$CRANE" ls --insecure "$LAB_REGISTRY/$repo" 2>/dev/null | tr '\n' ' ')"
    done
    up=$((up + 1))
  else
    echo "registry  http://$LAB_REGISTRY: ${pid:+running (pid $pid) but not answering}${pid:-down}"
  fi
  pid=$(service_pid "$REPO_UNIT")
  if [[ -n $pid ]] && curl -fsS -o /dev/null --max-time 2 "${LAB_REPO_URL}InRelease"; then
    echo "apt repo  $LAB_REPO_URL: up (pid $pid, serving $KREPO)"
    curl -fsS --max-time 5 "${LAB_REPO_URL}Packages" | awk '/^Package:/ { p = $2 } /^Version:/ { printf "  %s %s\n", p, $2 }'
    echo "  deb [signed-by=/etc/apt/keyrings/debvisor-kubernetes.gpg] $LAB_REPO_URL /"
    echo "  key: $KEYRING_URL (armored), ${LAB_REPO_URL}keyring.gpg (binary, for signed-by); on this machine $KREPO/kubernetes/"
    up=$((up + 1))
  else
    echo "apt repo  $LAB_REPO_URL: ${pid:+running (pid $pid) but not answering}${pid:-down}"
  fi
  ((up == 2 || up == 0)) || return 1
}

case ${1:-status} in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *) die "usage: npm run lab -- kubernetes up|down|status" ;;
esac
