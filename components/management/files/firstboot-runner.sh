#!/bin/sh
# Managed by DebVisor: the first-boot runner (see debvisor-firstboot.service).
set -u
marker=/var/lib/debvisor/firstboot.done
if [ -e "$marker" ]; then
  echo "debvisor-firstboot status=skipped reason=already-provisioned since=$(cat "$marker")"
  exit 0
fi
if [ ! -x /usr/local/lib/debvisor/provision.sh ]; then
  echo "<3>debvisor-firstboot status=error reason=no-provisioning-script path=/usr/local/lib/debvisor/provision.sh"
  exit 1
fi
echo "debvisor-firstboot status=started"
if /usr/local/lib/debvisor/provision.sh; then
  mkdir -p "$(dirname "$marker")"
  date -u +%Y-%m-%dT%H:%M:%SZ >"$marker.tmp" && mv -f "$marker.tmp" "$marker"
  echo "debvisor-firstboot status=done"
else
  rc=$?
  echo "<3>debvisor-firstboot status=error reason=provisioning-failed exit=$rc"
  exit "$rc"
fi
