# Raw-mode BlueStore OSDs keep their directory on a tmpfs that ceph-volume fills at
# activation, and ceph-volume has no boot integration for raw mode: this unit activates
# this node's OSDs at boot, before their ceph-osd@ units start. Params: none.
unit=$(cat <<'UNIT'
[Unit]
Description=DebVisor: activate raw-mode Ceph OSDs (their tmpfs directories are lost at shutdown)
After=local-fs.target systemd-udev-settle.service
Wants=systemd-udev-settle.service
Before=ceph-osd.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/lib/debvisor/ceph-osd-activate

[Install]
WantedBy=ceph-osd.target
UNIT
)
script=$(cat <<'SCRIPT'
#!/bin/bash
# Activates every raw-mode OSD of this cluster found on this host's disks.
set -euo pipefail
fsid=$(sed -n 's/^fsid *= *//p' /etc/ceph/ceph.conf)
ceph-volume raw list --format json 2>/dev/null | python3 -c '
import json, sys
for v in json.load(sys.stdin).values():
    if v.get("ceph_fsid") == sys.argv[1]:
        print(v["device"], v["osd_id"])' "$fsid" | while read -r dev id; do
  if [ -e "/var/lib/ceph/osd/ceph-$id/whoami" ]; then continue; fi
  ceph-volume raw activate --device "$dev" --no-systemd
  echo "activated osd.$id on $dev"
done
SCRIPT
)
changed=0
dv_write_file /usr/local/lib/debvisor/ceph-osd-activate 755 "$script" && changed=1
dv_write_file /etc/systemd/system/debvisor-ceph-osd-activate.service 644 "$unit" && changed=1
dv_write_file /etc/systemd/system/ceph-osd@.service.d/debvisor.conf 644 "$(printf '[Unit]\nAfter=debvisor-ceph-osd-activate.service\nWants=debvisor-ceph-osd-activate.service')" && changed=1
if [ $changed = 1 ]; then systemctl daemon-reload; fi
if ! systemctl is-enabled --quiet debvisor-ceph-osd-activate.service; then
  systemctl enable -q debvisor-ceph-osd-activate.service
  dv_changed "enabled debvisor-ceph-osd-activate.service"
fi
