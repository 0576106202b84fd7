#!/bin/sh
# Managed by DebVisor: Ceph health check (debvisor-ceph-health.timer).
set -u
tag=debvisor-ceph-health
if ! command -v ceph >/dev/null 2>&1; then
  echo "<3>$tag status=ERROR reason=ceph-missing message=\"ceph CLI not found: this node has no Ceph installed (storage layer)\""
  exit 1
fi
if ! out=$(timeout 60 ceph --connect-timeout 30 health --format json 2>&1); then
  msg=$(printf '%s' "$out" | tr '\n"' "  " | cut -c1-300)
  echo "<3>$tag status=ERROR reason=ceph-unreachable message=\"$msg\""
  exit 1
fi
status=$(printf '%s' "$out" | jq -r '.status // "UNKNOWN"' 2>/dev/null || echo UNKNOWN)
checks=$(printf '%s' "$out" | jq -r '(.checks // {}) | keys | join(",")' 2>/dev/null || true)
case "$status" in
  HEALTH_OK) echo "<6>$tag status=$status checks=$checks"; exit 0 ;;
  HEALTH_WARN) echo "<4>$tag status=$status checks=$checks"; exit 0 ;;
  *) echo "<3>$tag status=$status checks=$checks"; exit 1 ;;
esac
