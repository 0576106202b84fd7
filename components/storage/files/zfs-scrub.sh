#!/bin/sh
# Managed by DebVisor: ZFS scrub (debvisor-zfs-scrub.timer).
set -u
tag=debvisor-zfs-scrub
if ! command -v zpool >/dev/null 2>&1; then
  echo "<3>$tag status=ERROR reason=zpool-missing message=\"zpool not found: this node has no ZFS installed (zfsutils-linux, storage layer)\""
  exit 1
fi
pools=${DEBVISOR_ZFS_POOLS:-$(zpool list -H -o name 2>/dev/null)}
if [ -z "$pools" ]; then
  echo "<5>$tag status=NO_POOLS"
  exit 0
fi
rc=0
for pool in $pools; do
  if ! zpool list -H "$pool" >/dev/null 2>&1; then
    echo "<3>$tag pool=$pool status=ERROR reason=pool-missing"
    rc=1
    continue
  fi
  if zpool status "$pool" | grep -q "scrub in progress"; then
    echo "<5>$tag pool=$pool status=IN_PROGRESS"
    continue
  fi
  if ! zpool scrub -w "$pool" 2>/dev/null; then
    echo "<3>$tag pool=$pool status=ERROR reason=scrub-failed"
    rc=1
    continue
  fi
  health=$(zpool list -H -o health "$pool")
  errors=$(zpool status "$pool" | sed -n 's/^ *errors: //p')
  if [ "$health" = ONLINE ] && [ "$errors" = "No known data errors" ]; then
    echo "<6>$tag pool=$pool status=OK health=$health"
  else
    echo "<3>$tag pool=$pool status=ERROR health=$health errors=\"$errors\""
    rc=1
  fi
done
exit $rc
