# @include storage/include/ceph-mask.sh
# @include storage/include/disks.sh
# One node's part of the Ceph cluster: ceph.conf and keyrings, then its monitor, manager,
# OSDs and metadata server, each made once and started. Idempotent: what exists is left
# as it is. Params: DV_CEPH_ID (daemon id: the node's name), DV_CEPH_ROLES (mon mgr mds
# osd), DV_CEPH_OSD_MODE (raw|lvm, for new OSDs), DV_CEPH_CONF (ceph.conf's [global] settings but the fsid), DV_CEPH_MONS (initial monitors,
# "id=address ..."), DV_CEPH_OSDS (disk ids), DV_WIPE (disk ids this node may wipe);
# secret: DV_CEPH_FSID, DV_CEPH_KEY_MON, DV_CEPH_KEY_ADMIN, DV_CEPH_KEY_BOOTSTRAP_OSD.
umask 022
id=$DV_CEPH_ID
read -r -a roles <<<"$DV_CEPH_ROLES"
read -r -a osds <<<"$DV_CEPH_OSDS"
has_role() { [[ " ${roles[*]} " == *" $1 "* ]]; }
wipe_ok() { [[ " $DV_WIPE " == *" $1 "* ]] && echo 1 || echo 0; }

# Disks first: a disk that is not blank stops the step before anything is written.
declare -A osd_of=() osd_kind=() # device -> osd id / raw|lvm, this cluster's OSDs on this host
if command -v ceph-volume >/dev/null; then
  while read -r kind dev osd; do if [ -n "$dev" ]; then osd_of[$dev]=$osd; osd_kind[$dev]=$kind; fi; done < <(
    { ceph-volume raw list --format json 2>/dev/null | python3 -c '
import json, sys
for v in json.load(sys.stdin).values():
    if v.get("ceph_fsid") == sys.argv[1]: print("raw", v["device"], v["osd_id"])' "$DV_CEPH_FSID" || true
      if [ -e /dev/mapper/control ]; then
        ceph-volume lvm list --format json 2>/dev/null | python3 -c '
import json, sys
for osd, lvs in json.load(sys.stdin).items():
    for lv in lvs:
        if lv.get("type") == "block" and lv.get("tags", {}).get("ceph.cluster_fsid") == sys.argv[1]:
            for d in lv.get("devices", []): print("lvm", d, osd)' "$DV_CEPH_FSID" || true
      fi; })
fi
if [ "$DV_CEPH_OSD_MODE" = lvm ] && [ ${#osds[@]} -gt 0 ] && [ ! -e /dev/mapper/control ]; then
  dv_die "storage.osdMode lvm needs device-mapper, which this host lacks (a container?): use osdMode raw here"
fi
for disk in "${osds[@]}"; do
  dev=$(readlink -f "$disk")
  if [ -n "${osd_of[$dev]:-}" ]; then continue; fi # an OSD of this cluster already
  dv_disk_preflight "$disk" "$(wipe_ok "$disk")"
done

# ceph.conf and the keyrings (written with shell built-ins: keys never on a command line).
keyring() { # name key caps... -> keyring text
  local name=$1 key=$2
  shift 2
  printf '[%s]\n\tkey = %s\n' "$name" "$key"
  while [ $# -gt 0 ]; do printf '\tcaps %s = "%s"\n' "$1" "$2"; shift 2; done
}
dv_write_file /etc/ceph/ceph.conf 644 "[global]"$'\n'"fsid = $DV_CEPH_FSID"$'\n'"$DV_CEPH_CONF" || true
umask 077 # no moment where a keyring file is readable by others
dv_write_file /etc/ceph/ceph.client.admin.keyring 600 "$(keyring client.admin "$DV_CEPH_KEY_ADMIN" mon 'allow *' osd 'allow *' mds 'allow *' mgr 'allow *')" || true
mkdir -p /var/lib/ceph/bootstrap-osd
dv_write_file /var/lib/ceph/bootstrap-osd/ceph.keyring 600 "$(keyring client.bootstrap-osd "$DV_CEPH_KEY_BOOTSTRAP_OSD" mon 'profile bootstrap-osd' mgr 'allow r')" || true
chown ceph:ceph /var/lib/ceph/bootstrap-osd/ceph.keyring
umask 022

ceph_q() { timeout 30 ceph --connect-timeout 20 "$@"; }
wait_for() { # seconds description command...
  local limit=$1 what=$2 t
  shift 2
  for ((t = 0; t < limit; t += 3)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 3
  done
  dv_die "$what: not within $limit s (ceph -s: $(ceph_q -s 2>&1 | tr '\n' ' '))"
}

# Monitor: made from the cluster's monitor map when the cluster answers, else (a new
# cluster) from the initial monitors; every initial monitor makes the same map.
if has_role mon; then
  mon_dir=/var/lib/ceph/mon/ceph-$id
  if [ ! -e "$mon_dir/done" ]; then
    tmp=$(mktemp -d /run/debvisor-ceph.XXXXXX) # 0700
    trap 'rm -rf "$tmp"' EXIT
    { keyring mon. "$DV_CEPH_KEY_MON" mon 'allow *'
      keyring client.admin "$DV_CEPH_KEY_ADMIN" mon 'allow *' osd 'allow *' mds 'allow *' mgr 'allow *'
      keyring client.bootstrap-osd "$DV_CEPH_KEY_BOOTSTRAP_OSD" mon 'profile bootstrap-osd' mgr 'allow r'
    } >"$tmp/keyring"
    if ceph_q mon getmap -o "$tmp/monmap" >/dev/null 2>&1; then
      dv_log "joining the running cluster's monitors"
    else
      addv=()
      for m in $DV_CEPH_MONS; do addv+=(--addv "${m%%=*}" "[v2:${m#*=}:3300,v1:${m#*=}:6789]"); done
      [[ " $DV_CEPH_MONS " == *" $id="* ]] || dv_die "the cluster does not answer and $id is not one of its initial monitors ($DV_CEPH_MONS): start those first"
      monmaptool --create --fsid "$DV_CEPH_FSID" --set-min-mon-release reef "${addv[@]}" "$tmp/monmap" >/dev/null
    fi
    chown -R ceph:ceph "$tmp"
    rm -rf "$mon_dir"
    install -d -o ceph -g ceph "$mon_dir"
    runuser -u ceph -- ceph-mon --mkfs -i "$id" --monmap "$tmp/monmap" --keyring "$tmp/keyring" >&2
    touch "$mon_dir/done"
    chown ceph:ceph "$mon_dir/done"
    dv_changed "made monitor mon.$id"
  fi
  dv_enable_now "ceph-mon@$id" || true
  wait_for 300 "monitor quorum with mon.$id" bash -c "ceph --connect-timeout 10 quorum_status -f json | python3 -c 'import json,sys; sys.exit(0 if \"$id\" in json.load(sys.stdin)[\"quorum_names\"] else 1)'"
else
  wait_for 300 "the cluster's monitors" ceph --connect-timeout 10 -s
fi

daemon_keyring() { # type caps... -> /var/lib/ceph/<type>/ceph-<id>/keyring from the cluster
  local type=$1 dir=/var/lib/ceph/$1/ceph-$id
  shift
  [ -s "$dir/keyring" ] && return 1
  install -d -o ceph -g ceph "$dir"
  ceph_q auth get-or-create "$type.$id" "$@" -o "$dir/keyring" >/dev/null
  chown ceph:ceph "$dir/keyring"
  chmod 600 "$dir/keyring"
}
if has_role mgr; then
  if daemon_keyring mgr mon 'allow profile mgr' osd 'allow *' mds 'allow *'; then dv_changed "made manager mgr.$id"; fi
  dv_enable_now "ceph-mgr@$id" || true
fi
if has_role mds; then
  if daemon_keyring mds mon 'profile mds' mgr 'profile mds' mds 'allow *' osd 'allow *'; then dv_changed "made metadata server mds.$id"; fi
  dv_enable_now "ceph-mds@$id" || true
fi

# OSDs: raw BlueStore on each blank disk (checked above); activated here and at boot.
if has_role osd; then
  volume_log=/var/log/ceph/debvisor-ceph-volume.log
  touch "$volume_log"
  chmod 600 "$volume_log"
  for disk in "${osds[@]}"; do
    dev=$(readlink -f "$disk")
    osd=${osd_of[$dev]:-}
    kind=${osd_kind[$dev]:-$DV_CEPH_OSD_MODE}
    if [ -z "$osd" ]; then
      dv_log "preparing a BlueStore OSD ($kind) on $disk ($dev)"
      # ceph-volume echoes the commands it runs, the new OSD's key among them: its output
      # goes to a root-only log, not to the step's. `lvm create` also activates the OSD and
      # enables its boot unit (ceph-volume@lvm-...).
      if [ "$kind" = lvm ]; then
        ceph-volume lvm create --bluestore --data "$dev" >>"$volume_log" 2>&1 || dv_die "$disk: ceph-volume lvm create failed: $(tail -n 5 "$volume_log" | tr '\n' ' ') (all of it in $volume_log)"
        osd=$(ceph-volume lvm list "$dev" --format json | python3 -c 'import json,sys; print(list(json.load(sys.stdin))[0])')
      else
        ceph-volume raw prepare --bluestore --data "$dev" >>"$volume_log" 2>&1 || dv_die "$disk: ceph-volume raw prepare failed: $(tail -n 5 "$volume_log" | tr '\n' ' ') (all of it in $volume_log)"
        osd=$(ceph-volume raw list "$dev" --format json | python3 -c 'import json,sys; print([v["osd_id"] for v in json.load(sys.stdin).values()][0])')
      fi
      dv_changed "made osd.$osd on $disk"
    fi
    if [ ! -e "/var/lib/ceph/osd/ceph-$osd/whoami" ]; then
      if [ "$kind" = lvm ]; then
        ceph-volume lvm activate --all --no-systemd >>"$volume_log" 2>&1 || dv_die "$disk: ceph-volume lvm activate failed: $(tail -n 5 "$volume_log" | tr '\n' ' ')"
      else
        ceph-volume raw activate --device "$dev" --no-systemd >>"$volume_log" 2>&1 || dv_die "$disk: ceph-volume raw activate failed: $(tail -n 5 "$volume_log" | tr '\n' ' ')"
      fi
    fi
    dv_enable_now "ceph-osd@$osd" || true
    dv_fact "ceph.osd.$osd" "$disk"
  done
  # OSDs of this cluster on disks the config no longer lists are left alone: never
  # destroyed from here (drain and purge them with ceph osd commands).
  for dev in "${!osd_of[@]}"; do
    listed=0
    for disk in "${osds[@]}"; do if [ "$(readlink -f "$disk")" = "$dev" ]; then listed=1; fi; done
    [ $listed = 1 ] && continue
    osd=${osd_of[$dev]}
    # A failed disk taken out of the config: its OSD is down; mark it out so its data is
    # copied to the others now rather than after the monitors' 10-minute timeout.
    # Nothing is deleted: the OSD stays in the map (purge it by hand once replaced).
    if ceph_q osd dump -f json | python3 -c 'import json,sys; o=[x for x in json.load(sys.stdin)["osds"] if x["osd"]==int(sys.argv[1])]; sys.exit(0 if o and o[0]["up"]==0 and o[0]["in"]==1 else 1)' "$osd"; then
      ceph_q osd out "osd.$osd" >&2
      dv_changed "marked osd.$osd out (down, its disk $dev no longer in storage.osds)"
    fi
    dv_log "osd.$osd on $dev is no longer in storage.osds: left as it is (its data kept); drain and purge it by hand if it is to go"
  done
fi
for r in "${roles[@]}"; do dv_fact "ceph.role.$r" "$id"; done
