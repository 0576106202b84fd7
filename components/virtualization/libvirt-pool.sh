# One libvirt storage pool: defined from DV_XML when its definition differs, its directory
# created when missing, active, autostart as asked. On delete (DV_OP=delete) the pool is
# only stopped and undefined: never pool-delete, the directory and every volume in it are
# kept (data is never destroyed). Params: DV_NAME, DV_TYPE (dir|rbd|zfs), DV_XML, DV_PATH
# (dir), DV_CEPH_POOL, DV_CEPH_CLIENT, DV_SECRET_UUID (rbd), DV_AUTOSTART (yes|no),
# DV_IGNORE (element paths libvirt adds), DV_XML_MATCH (python3 comparison).
# An RBD pool: the node is a member of the Ceph cluster (its ceph.conf and admin keyring,
# from the storage layer); its client key goes into a libvirt secret from a root-only file,
# the monitors into the definition from ceph.conf.
# (A delete of a step that a newer apply replaced never gets here: RemoteStep skips it.)
op=${DV_OP:-apply}
virsh_() { virsh -q -c qemu:///system "$@"; }
defined() { virsh_ pool-info "$DV_NAME" >/dev/null 2>&1; }
info() { virsh_ pool-info "$DV_NAME" | awk -v k="$1:" '$1 == k {print $2}'; }
matches() { # $@: pool-dumpxml options
  local live
  live=$(virsh_ pool-dumpxml "$@" "$DV_NAME" 2>/dev/null) || return 1
  DV_WANT=$DV_XML DV_LIVE=$live DV_IGNORE=$DV_IGNORE python3 -c "$DV_XML_MATCH"
}

if [ "$op" = delete ]; then
  if command -v virsh >/dev/null && defined; then
    if [ "$(info State)" = running ]; then virsh_ pool-destroy "$DV_NAME" >&2; fi
    virsh_ pool-undefine "$DV_NAME" >&2
    dv_changed "undefined libvirt pool $DV_NAME (its directory $DV_PATH and the volumes in it are kept)"
  fi
  exit 0
fi

case $DV_TYPE in
  dir)
    if [ ! -d "$DV_PATH" ]; then
      mkdir -p "$DV_PATH"
      chmod 755 "$DV_PATH"
      dv_changed "created directory $DV_PATH"
    fi
    ;;
  zfs)
    dataset=$(python3 -c 'import sys, xml.etree.ElementTree as E; print(E.fromstring(sys.argv[1]).findtext("source/name"))' "$DV_XML")
    zfs list -H "$dataset" >/dev/null 2>&1 || dv_die "ZFS dataset $dataset does not exist (the storage layer makes the datasets of storage.zfsPools)"
    ;;
  rbd)
    # The Ceph cluster may still be forming (its steps run beside this layer): wait for it.
    for ((t = 0; t < 600; t += 5)); do
      if [ -r /etc/ceph/ceph.client.admin.keyring ] && timeout 20 ceph --connect-timeout 15 -s >/dev/null 2>&1; then break; fi
      sleep 5
    done
    timeout 30 ceph --connect-timeout 15 -s >/dev/null 2>&1 || dv_die "this node's Ceph cluster does not answer within 10 minutes (the RBD pool $DV_CEPH_POOL needs it)"
    timeout 30 ceph osd pool ls | grep -qx "$DV_CEPH_POOL" || dv_die "Ceph has no pool $DV_CEPH_POOL (storage.ceph.rbdPools makes them)"
    if ! timeout 30 ceph auth get "client.$DV_CEPH_CLIENT" >/dev/null 2>&1; then
      timeout 30 ceph auth get-or-create "client.$DV_CEPH_CLIENT" mon 'profile rbd' osd "profile rbd pool=$DV_CEPH_POOL" >/dev/null
      dv_changed "made Ceph client $DV_CEPH_CLIENT"
    fi
    if ! virsh_ secret-dumpxml "$DV_SECRET_UUID" >/dev/null 2>&1; then
      tmp=$(mktemp)
      printf '<secret ephemeral="no" private="yes"><uuid>%s</uuid><usage type="ceph"><name>client.%s</name></usage></secret>\n' "$DV_SECRET_UUID" "$DV_CEPH_CLIENT" >"$tmp"
      virsh_ secret-define "$tmp" >&2
      rm -f "$tmp"
      dv_changed "defined libvirt secret $DV_SECRET_UUID (client.$DV_CEPH_CLIENT)"
    fi
    # The key travels through a root-only file, never a command line.
    keyfile=$(umask 077 && mktemp)
    timeout 30 ceph auth print-key "client.$DV_CEPH_CLIENT" >"$keyfile"
    # A private secret's value cannot be read back: a hash of the key set last is kept instead.
    record=/var/lib/debvisor/libvirt-secrets/$DV_SECRET_UUID
    if [ "$(cat "$record" 2>/dev/null)" != "$(sha256sum <"$keyfile" | cut -d' ' -f1)" ] || ! virsh_ secret-dumpxml "$DV_SECRET_UUID" >/dev/null 2>&1; then
      virsh_ secret-set-value --secret "$DV_SECRET_UUID" --file "$keyfile" >&2
      mkdir -p "${record%/*}"
      sha256sum <"$keyfile" | cut -d' ' -f1 >"$record"
      dv_changed "set the key of libvirt secret $DV_SECRET_UUID"
    fi
    rm -f "$keyfile"
    # The monitors, from ceph.conf's mon_host (plain addresses or [v2:...,v1:...] vectors).
    hosts=$(sed -n 's/^[[:space:]]*mon[_ ]host[[:space:]]*=[[:space:]]*//p' /etc/ceph/ceph.conf | head -n1 |
      python3 -c 'import re,sys; s=sys.stdin.read(); v1=re.findall(r"v1:([0-9.]+):(\d+)", s); print(" ".join(f"{a}:{p}" for a,p in v1) if v1 else " ".join(f"{a}:6789" for a in re.split(r"[,\s]+", s.strip()) if a))')
    [ -n "$hosts" ] || dv_die "no mon_host in /etc/ceph/ceph.conf"
    DV_XML=$(DV_HOSTS=$hosts python3 -c '
import os, sys, xml.etree.ElementTree as E
pool = E.fromstring(sys.argv[1]); src = pool.find("source")
for i, hp in enumerate(os.environ["DV_HOSTS"].split()):
    a, p = hp.rsplit(":", 1)
    src.insert(i + 1, E.Element("host", {"name": a, "port": p}))
print(E.tostring(pool, encoding="unicode"))' "$DV_XML")
    ;;
  *) dv_die "unknown pool type $DV_TYPE" ;;
esac
if ! defined || ! matches --inactive; then
  xml=$DV_XML
  if defined; then
    # Redefining needs the existing uuid (a definition without one gets a new one, and
    # libvirt refuses a second uuid for the same name).
    uuid=$(virsh_ pool-uuid "$DV_NAME")
    xml=$(printf '%s\n' "$DV_XML" | sed "0,/<\/name>/s##</name>\\n  <uuid>$uuid</uuid>#")
  fi
  tmp=$(mktemp)
  printf '%s\n' "$xml" >"$tmp"
  virsh_ pool-define "$tmp" >&2
  rm -f "$tmp"
  dv_changed "defined libvirt pool $DV_NAME"
fi
if [ "$(info State)" != running ]; then
  virsh_ pool-start "$DV_NAME" >&2
  dv_changed "started libvirt pool $DV_NAME"
elif ! matches; then
  # Running with an older definition (e.g. another path): stopping a dir pool only
  # deactivates it, no volume is touched.
  virsh_ pool-destroy "$DV_NAME" >&2
  virsh_ pool-start "$DV_NAME" >&2
  dv_changed "restarted libvirt pool $DV_NAME with its new definition"
fi
if [ "$(info Autostart)" != "$DV_AUTOSTART" ]; then
  if [ "$DV_AUTOSTART" = yes ]; then virsh_ pool-autostart "$DV_NAME" >&2; else virsh_ pool-autostart --disable "$DV_NAME" >&2; fi
  dv_changed "set autostart of libvirt pool $DV_NAME to $DV_AUTOSTART"
fi
