# @include storage/include/ceph-mask.sh
# The Ceph cluster's identity: its fsid and the cephx keys every member needs (mon.,
# client.admin, client.bootstrap-osd). Made once, on the first monitor, and kept: a host
# that is already a member reports what it has (so a re-run, or another node taking this
# step over, never makes new ones). Printed as facts on stdout, which the step makes
# secret: they never reach plaintext state, a command line or the journal. Params: none.
umask 077
dir=/etc/ceph/debvisor
mkdir -p "$dir"
mon_keyring=
for f in /var/lib/ceph/mon/ceph-*/keyring; do if [ -f "$f" ]; then mon_keyring=$f; break; fi; done
key_of() { # keyring file -> its key (keyring files are "key = <base64>")
  sed -n 's/^[[:space:]]*key[[:space:]]*=[[:space:]]*//p' "$1" 2>/dev/null | head -n1
}
if [ -s "$dir/fsid" ]; then
  : # made here before
elif [ -f /etc/ceph/ceph.conf ] && [ -s /etc/ceph/ceph.client.admin.keyring ] && [ -n "$mon_keyring" ]; then
  # A member of the cluster already (this step moved to another node): keep its identity.
  sed -n 's/^fsid *= *//p' /etc/ceph/ceph.conf >"$dir/fsid"
  key_of "$mon_keyring" >"$dir/mon.key"
  key_of /etc/ceph/ceph.client.admin.keyring >"$dir/admin.key"
  key_of /var/lib/ceph/bootstrap-osd/ceph.keyring >"$dir/bootstrap-osd.key"
  dv_log "the cluster's identity was taken from this member's own files"
else
  command -v ceph-authtool >/dev/null || dv_die "ceph-authtool is missing (the storage layer installs ceph-common first)"
  cat /proc/sys/kernel/random/uuid >"$dir/fsid.new"
  for k in mon admin bootstrap-osd; do ceph-authtool --gen-print-key >"$dir/$k.key"; done
  mv "$dir/fsid.new" "$dir/fsid"
  dv_changed "made the Ceph cluster's fsid and keys"
fi
for f in fsid mon.key admin.key bootstrap-osd.key; do
  [ -s "$dir/$f" ] || dv_die "$dir/$f is empty: the cluster's identity is incomplete on this host"
done
dv_fact ceph.fsid "$(cat "$dir/fsid")"
dv_fact ceph.key.mon "$(cat "$dir/mon.key")"
dv_fact ceph.key.admin "$(cat "$dir/admin.key")"
dv_fact ceph.key.bootstrap-osd "$(cat "$dir/bootstrap-osd.key")"
