# One libvirt storage pool: defined from DV_XML when its definition differs, its directory
# created when missing, active, autostart as asked. On delete (DV_OP=delete) the pool is
# only stopped and undefined: never pool-delete, the directory and every volume in it are
# kept (data is never destroyed). Params: DV_NAME, DV_XML, DV_PATH, DV_AUTOSTART (yes|no),
# DV_IGNORE (element paths libvirt adds), DV_XML_MATCH (python3 comparison).
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

if [ ! -d "$DV_PATH" ]; then
  mkdir -p "$DV_PATH"
  chmod 755 "$DV_PATH"
  dv_changed "created directory $DV_PATH"
fi
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
