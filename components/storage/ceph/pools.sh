# @include storage/include/ceph-mask.sh
# The cluster's shared objects, run on the first monitor once every node's daemons are
# up: the CephFS file system and its CSI subvolume group, the RBD pools with their copy
# counts, the client keys Kubernetes' CSI drivers use; then waits for HEALTH_OK. Never
# deletes a pool or a file system (one taken out of the config stays, with its data).
# Params: DV_CEPHFS (name, or empty), DV_RBD_POOLS ("name:size:min_size ..."),
# DV_DISABLE_RESTFUL (1: turn off the mgr's restful module, which cannot load on
# Debian trixie's ceph-mgr), DV_HEALTH_WAIT (seconds), DV_DRAINED (nodes whose OSDs must
# hold no data any more: storage.ceph.drainedNodes).
ceph_q() { timeout 60 ceph --connect-timeout 30 "$@"; }
ceph_q -s >/dev/null || dv_die "the cluster does not answer: $(ceph_q -s 2>&1 | tail -n3 | tr '\n' ' ')"

# Nodes said to be drained: every OSD under them must be safe to destroy (no PG needs it).
for node in $DV_DRAINED; do
  for osd in $(ceph_q osd ls-tree "$node" 2>/dev/null || true); do
    ceph_q osd safe-to-destroy "osd.$osd" >/dev/null 2>&1 ||
      dv_die "storage.ceph.drainedNodes lists $node, but its osd.$osd still holds data (ceph osd safe-to-destroy osd.$osd): mark it out (ceph osd out osd.$osd) and wait for HEALTH_OK first"
  done
done

if [ "$DV_DISABLE_RESTFUL" = 1 ] && ceph_q mgr module ls -f json | python3 -c 'import json,sys; sys.exit(0 if "restful" in json.load(sys.stdin).get("enabled_modules", []) else 1)'; then
  ceph_q mgr module disable restful
  dv_changed "disabled the mgr's restful module (it cannot load on this ceph-mgr: PyO3 in sub-interpreters)"
fi

if [ -n "$DV_CEPHFS" ]; then
  if ! ceph_q fs ls -f json | python3 -c 'import json,sys; sys.exit(0 if sys.argv[1] in [f["name"] for f in json.load(sys.stdin)] else 1)' "$DV_CEPHFS"; then
    ceph_q fs volume create "$DV_CEPHFS" >&2
    dv_changed "made CephFS $DV_CEPHFS"
  fi
  if ! ceph_q fs subvolumegroup ls "$DV_CEPHFS" -f json | python3 -c 'import json,sys; sys.exit(0 if "csi" in [g["name"] for g in json.load(sys.stdin)] else 1)'; then
    ceph_q fs subvolumegroup create "$DV_CEPHFS" csi
    dv_changed "made subvolume group csi in $DV_CEPHFS"
  fi
fi

pools=$(ceph_q osd pool ls)
for spec in $DV_RBD_POOLS; do
  IFS=: read -r name size min_size <<<"$spec"
  if ! grep -qx "$name" <<<"$pools"; then
    ceph_q osd pool create "$name" >&2
    ceph_q osd pool application enable "$name" rbd >&2
    timeout 120 rbd pool init "$name"
    dv_changed "made RBD pool $name"
  fi
  for k in size min_size; do
    if [ $k = size ]; then want=$size; else want=$min_size; fi
    have=$(ceph_q osd pool get "$name" "$k" -f json | python3 -c "import json,sys; print(json.load(sys.stdin)['$k'])")
    if [ "$have" != "$want" ]; then
      ceph_q osd pool set "$name" "$k" "$want" >&2
      dv_changed "pool $name: $k $have -> $want"
    fi
  done
done

# Client keys of the CSI drivers (made once; their caps kept up to date).
rbd_osd_caps=""
for spec in $DV_RBD_POOLS; do rbd_osd_caps+="${rbd_osd_caps:+, }profile rbd pool=${spec%%:*}"; done
ensure_client() { # name caps...
  local name=$1
  shift
  if ceph_q auth get "$name" >/dev/null 2>&1; then
    ceph_q auth caps "$name" "$@" >/dev/null 2>&1
  else
    ceph_q auth get-or-create "$name" "$@" >/dev/null
    dv_changed "made Ceph client $name"
  fi
  dv_fact "ceph.key.$name" "$(ceph_q auth print-key "$name")"
}
if [ -n "$rbd_osd_caps" ]; then
  ensure_client client.kubernetes mon 'profile rbd' osd "$rbd_osd_caps" mgr "$rbd_osd_caps"
fi
if [ -n "$DV_CEPHFS" ]; then
  ensure_client client.kubernetes-cephfs mon 'allow r' mgr 'allow rw' mds "allow rw fsname=$DV_CEPHFS" osd "allow rw tag cephfs metadata=$DV_CEPHFS, allow rw tag cephfs data=$DV_CEPHFS"
fi

# Healthy before the step reports success; a cluster that stays in warning is reported
# (with its detail), and the step still fails only on HEALTH_ERR.
health=
for ((t = 0; t <= DV_HEALTH_WAIT; t += 5)); do
  health=$(ceph_q health 2>&1 | head -n1 || true)
  [[ $health == HEALTH_OK* ]] && break
  sleep 5
done
dv_fact ceph.health "${health%% *}"
if [[ $health != HEALTH_OK* ]]; then
  dv_log "ceph health after ${DV_HEALTH_WAIT}s: $(ceph_q health detail 2>&1 | tr '\n' ' ')"
  if [[ $health == HEALTH_ERR* ]]; then dv_die "the cluster is in HEALTH_ERR"; fi
fi
dv_fact ceph.fsid "$(ceph_q fsid)"
