# One libvirt domain: disk volumes, cloud-init seed, definition, autostart, running state.
# Params: DV_NAME, DV_XML (domain XML as DebVisor renders it: compared as a subset of
#         `virsh dumpxml --inactive`), DV_FIRMWARE (uefi|bios), DV_DISKS (lines
#         pool<TAB>volume<TAB>format<TAB>sizeGiB<TAB>baseImage), DV_SEED_POOL, DV_SEED_VOLUME,
#         DV_USER_DATA, DV_META_DATA (cloud-init NoCloud seed; empty: none), DV_VLANS (lines
#         "bridge|network <name> <tag>"), DV_AUTOSTART, DV_RUNNING, DV_DELETE_DISKS (yes|no),
#         DV_SHUTDOWN_WAIT (seconds a guest gets to shut down on delete), DV_SERIAL_LOG.
# DV_OP=delete: stops and undefines the domain; its volumes, seed and UEFI variables are
# kept unless DV_DELETE_DISKS=yes. (The old half of a replaced step never gets here:
# RemoteStep skips a delete whose trigger is not the one applied last.)
export LIBVIRT_DEFAULT_URI=qemu:///system
op=${DV_OP:-apply}
name=$DV_NAME
state=/var/lib/debvisor/vm/$name

command -v virsh >/dev/null || dv_die "virsh is not installed (libvirt-clients): the virtualization host layer installs it"
command -v python3 >/dev/null || dv_die "python3 is needed to compare domain definitions"
virsh -q uri >/dev/null 2>&1 || dv_die "cannot reach libvirtd (qemu:///system)"

domain_exists() { virsh -q dominfo "$name" >/dev/null 2>&1; }
domain_state() { virsh -q domstate "$name" 2>/dev/null | sed -n 1p; }
vol_exists() { virsh -q vol-info --pool "$1" "$2" >/dev/null 2>&1; }

# xml_get XPATH-ish: prints the text or attribute selected by a tiny path on stdin's XML.
xml_get() {
  python3 -c '
import sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.read())
path, _, attr = sys.argv[1].partition("@")
el = root.find(path) if path not in ("", ".") else root
if el is not None:
    v = el.get(attr) if attr else el.text
    if v is not None:
        print(v.strip())
' "$1"
}

# xml_subset RENDERED DUMPED: exit 0 when every element and attribute of RENDERED is in
# DUMPED (libvirt adds uuid, addresses, controllers, defaults). Machine "q35" matches the
# versioned "pc-q35-X.Y" libvirt expands it to.
xml_subset() {
  python3 -c '
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
d = ET.parse(sys.argv[2]).getroot()
def attr_ok(k, v, dv):
    return dv == v or (k == "machine" and dv is not None and dv.startswith("pc-" + v + "-"))
def match(r, d):
    if r.tag != d.tag:
        return False
    if any(not attr_ok(k, v, d.get(k)) for k, v in r.attrib.items()):
        return False
    rt = (r.text or "").strip()
    if rt and rt != (d.text or "").strip():
        return False
    used = set()
    for rc in r:
        for i, dc in enumerate(d):
            if i not in used and match(rc, dc):
                used.add(i)
                break
        else:
            return False
    return True
sys.exit(0 if match(r, d) else 1)
' "$1" "$2"
}

if [ "$op" = delete ]; then
  if domain_exists; then
    if [ "$(domain_state)" != "shut off" ]; then
      virsh -q shutdown "$name" >/dev/null 2>&1 || true
      for _ in $(seq 1 "$DV_SHUTDOWN_WAIT"); do
        [ "$(domain_state)" = "shut off" ] && break
        sleep 1
      done
      if [ "$(domain_state)" != "shut off" ]; then
        dv_log "domain $name did not shut down within $DV_SHUTDOWN_WAIT s: powering it off"
        virsh -q destroy "$name" >/dev/null 2>&1 || [ "$(domain_state)" = "shut off" ] || dv_die "cannot stop domain $name"
      fi
      dv_changed "stopped domain $name"
    fi
    flags=(--managed-save --snapshots-metadata)
    if [ "$DV_FIRMWARE" = uefi ]; then
      if [ "$DV_DELETE_DISKS" = yes ]; then flags+=(--nvram); else flags+=(--keep-nvram); fi
    fi
    virsh -q undefine "${flags[@]}" "$name" >&2
    dv_changed "undefined domain $name"
  fi
  if [ "$DV_DELETE_DISKS" = yes ]; then
    while IFS=$'\t' read -r -u 3 pool vol _; do
      [ -n "$pool" ] || continue
      if vol_exists "$pool" "$vol"; then
        virsh -q vol-delete --pool "$pool" "$vol" >&2
        dv_changed "deleted volume $pool/$vol"
      fi
    done 3<<<"$DV_DISKS"
    if [ -n "$DV_SEED_VOLUME" ] && vol_exists "$DV_SEED_POOL" "$DV_SEED_VOLUME"; then
      virsh -q vol-delete --pool "$DV_SEED_POOL" "$DV_SEED_VOLUME" >&2
      dv_changed "deleted volume $DV_SEED_POOL/$DV_SEED_VOLUME"
    fi
    rm -rf "$state"
  else
    [ -z "$DV_DISKS" ] || dv_log "kept the disks of $name: $(cut -f1,2 <<<"$DV_DISKS" | tr '\t\n' '/ ')"
  fi
  exit 0
fi

mkdir -p "$state"
chmod 700 "$state"

# VLAN tags: libvirt applies <vlan> only on Open vSwitch ports. Check before touching anything.
while read -r -u 3 kind dev tag; do
  [ -n "$kind" ] || continue
  if [ "$kind" = bridge ]; then
    if command -v ovs-vsctl >/dev/null && ovs-vsctl br-exists "$dev" 2>/dev/null; then continue; fi
    ip link show dev "$dev" >/dev/null 2>&1 || dv_die "VLAN $tag on bridge $dev: there is no interface $dev on this host"
    dv_die "VLAN $tag on bridge $dev: $dev is a Linux bridge, and libvirt sets VLAN tags only on Open vSwitch ports; attach the NIC to a bridge built on a VLAN interface (e.g. over eth0.$tag) without vlan, or use an Open vSwitch bridge"
  else
    netxml=$(virsh net-dumpxml "$dev" 2>/dev/null) || dv_die "VLAN $tag on network $dev: there is no libvirt network $dev"
    [ "$(xml_get ./virtualport@type <<<"$netxml")" = openvswitch ] ||
      dv_die "VLAN $tag on network $dev: libvirt sets VLAN tags only on networks of Open vSwitch bridges (<virtualport type='openvswitch'/>); $dev is not one"
  fi
done 3<<<"$DV_VLANS"

# Disk volumes: created when missing, never overwritten or shrunk.
pool_ready() {
  virsh -q pool-info "$1" >/dev/null 2>&1 || dv_die "storage pool $1 does not exist (define it in virtualization.pools)"
  if [ "$(virsh -q pool-info "$1" | awk -F': *' '$1 == "State" {print $2}')" != running ]; then
    virsh -q pool-start "$1" >&2 || dv_die "storage pool $1 is not active and does not start"
    dv_changed "started storage pool $1"
  fi
}
while IFS=$'\t' read -r -u 3 pool vol format size base; do
  [ -n "$pool" ] || continue
  pool_ready "$pool"
  marker=$state/$vol.cloning
  if [ -f "$marker" ] && vol_exists "$pool" "$vol"; then
    dv_log "volume $pool/$vol is left from an interrupted clone: recreating it"
    virsh -q vol-delete --pool "$pool" "$vol" >&2
  fi
  vol_exists "$pool" "$vol" && { rm -f "$marker"; continue; }
  if [ -n "$base" ]; then
    [ -f "$base" ] || dv_die "base image $base (for $pool/$vol) does not exist on this host"
    info=$(qemu-img info --output=json "$base") || dv_die "qemu-img cannot read $base"
    bfmt=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["format"])' <<<"$info")
    bsize=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])' <<<"$info")
    [ "$bfmt" = qcow2 ] || [ "$bfmt" = raw ] || dv_die "base image $base is $bfmt: only qcow2 and raw images are cloned"
    [ "$bsize" -le $((size * 1073741824)) ] || dv_die "base image $base ($bsize bytes) is larger than the disk $vol (${size} GiB)"
    : >"$marker"
    virsh -q vol-create-as "$pool" "$vol" "${size}G" --format "$format" >&2
    qemu-img convert -n -f "$bfmt" -O "$format" "$base" "$(virsh -q vol-path --pool "$pool" "$vol")" >&2
    rm -f "$marker"
    dv_changed "created volume $pool/$vol (${size} GiB) from $base"
  else
    virsh -q vol-create-as "$pool" "$vol" "${size}G" --format "$format" >&2
    dv_changed "created volume $pool/$vol (${size} GiB, empty)"
  fi
done 3<<<"$DV_DISKS"

# Cloud-init NoCloud seed: rebuilt when its content changes (a stamp records what is in it).
if [ -n "$DV_SEED_VOLUME" ]; then
  pool_ready "$DV_SEED_POOL"
  dir=$(virsh pool-dumpxml "$DV_SEED_POOL" | xml_get ./target/path)
  { [ -n "$dir" ] && [ -d "$dir" ]; } || dv_die "storage pool $DV_SEED_POOL is not a directory pool: it cannot hold the cloud-init seed ISO"
  want=$(printf '%s\n%s\n' "$DV_USER_DATA" "$DV_META_DATA" | sha256sum | cut -d' ' -f1)
  if ! vol_exists "$DV_SEED_POOL" "$DV_SEED_VOLUME" || [ "$(cat "$state/seed.sha256" 2>/dev/null)" != "$want" ]; then
    command -v xorriso >/dev/null || dv_install xorriso
    tmp=$(mktemp -d)
    printf '%s\n' "$DV_USER_DATA" >"$tmp/user-data"
    printf '%s\n' "$DV_META_DATA" >"$tmp/meta-data"
    xorriso -as mkisofs -quiet -o "$dir/.$DV_SEED_VOLUME.tmp" -V cidata -J -r "$tmp/user-data" "$tmp/meta-data" >&2
    rm -rf "$tmp"
    chmod 600 "$dir/.$DV_SEED_VOLUME.tmp"
    mv -f "$dir/.$DV_SEED_VOLUME.tmp" "$dir/$DV_SEED_VOLUME"
    virsh -q pool-refresh "$DV_SEED_POOL" >/dev/null
    printf '%s\n' "$want" >"$state/seed.sha256"
    dv_changed "wrote cloud-init seed $DV_SEED_POOL/$DV_SEED_VOLUME"
  fi
fi

# The definition: defined when missing, redefined (same uuid) only when it differs.
rendered=$(mktemp)
live=$(mktemp)
trap 'rm -f "$rendered" "$live"' EXIT
printf '%s\n' "$DV_XML" >"$rendered"
if ! domain_exists; then
  virsh -q define "$rendered" >&2
  dv_changed "defined domain $name"
else
  virsh dumpxml --inactive "$name" >"$live"
  if ! xml_subset "$rendered" "$live"; then
    uuid=$(virsh domuuid "$name" | sed -n 1p)
    python3 -c '
import sys, xml.etree.ElementTree as ET
t = ET.parse(sys.argv[1]); root = t.getroot()
u = ET.Element("uuid"); u.text = sys.argv[2]; root.insert(1, u)
t.write(sys.argv[1])
' "$rendered" "$uuid"
    virsh -q define "$rendered" >&2
    if [ "$(domain_state)" = running ]; then
      dv_changed "redefined domain $name (the running VM picks it up at its next boot)"
    else
      dv_changed "redefined domain $name"
    fi
  fi
fi

want=disable
[ "$DV_AUTOSTART" = yes ] && want=enable
have=$(virsh -q dominfo "$name" | awk -F': *' '$1 == "Autostart" {print $2}')
if [ "$have" != "$want" ]; then
  if [ "$want" = enable ]; then virsh -q autostart "$name" >&2; else virsh -q autostart --disable "$name" >&2; fi
  dv_changed "autostart ${want}d for domain $name"
fi

# running: yes starts a stopped VM; no leaves it as it is (DebVisor never powers a VM off).
if [ "$DV_RUNNING" = yes ] && [ "$(domain_state)" = "shut off" ]; then
  virsh -q start "$name" >&2
  dv_changed "started domain $name"
fi
dv_fact "vm.$name.state" "$(domain_state | tr ' ' '-')"
dv_fact "vm.$name.serialLog" "$DV_SERIAL_LOG"
