#!/bin/bash
# One lab host: joins the host's cgroups, then boots its root under
# systemd-nspawn, again and again while the host reboots itself (nspawn exits
# 133 on a reboot inside the container). Any other exit, or the stop marker
# that `down` leaves, ends the loop.
#
# Usage: host-loop.sh NAME ROOT NETNS RUN_DIR [extra nspawn args...]
# Started in the background by fleet.sh; its output is the host's console log.
set -euo pipefail
name=$1 root=$2 netns=$3 run=$4
shift 4

while read -r cg; do
  printf '%s\n' "$$" >"$cg/cgroup.procs"
done <"$run/$name.cgroups"

boots=0
while :; do
  [[ -e $run/$name.stop ]] && exit 0
  boots=$((boots + 1))
  printf '=== %s: boot %d at %s\n' "$name" "$boots" "$(date -Is)"
  rc=0
  systemd-nspawn --directory="$root" --machine="$name" --boot \
    --register=no --keep-unit --link-journal=no --resolv-conf=off \
    --network-namespace-path="/run/netns/$netns" \
    --capability=CAP_NET_ADMIN --console=passive "$@" || rc=$?
  printf '=== %s: systemd-nspawn exited with %d\n' "$name" "$rc"
  [[ $rc -eq 133 ]] || exit "$rc"
done
