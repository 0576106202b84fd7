# One libvirt network: defined from DV_XML when its definition differs, active, autostart
# as asked; on delete (DV_OP=delete) destroyed and undefined. Params: DV_NAME, DV_XML,
# DV_AUTOSTART (yes|no), DV_IGNORE (element paths libvirt adds), DV_XML_MATCH (python3
# comparison: rendered definition covered by libvirt's, nothing else there).
# (A delete of a step that a newer apply replaced never gets here: RemoteStep skips it.)
op=${DV_OP:-apply}
virsh_() { virsh -q -c qemu:///system "$@"; }
defined() { virsh_ net-info "$DV_NAME" >/dev/null 2>&1; }
info() { virsh_ net-info "$DV_NAME" | awk -v k="$1:" '$1 == k {print $2}'; }
matches() { # $@: net-dumpxml options
  local live
  live=$(virsh_ net-dumpxml "$@" "$DV_NAME" 2>/dev/null) || return 1
  DV_WANT=$DV_XML DV_LIVE=$live DV_IGNORE=$DV_IGNORE python3 -c "$DV_XML_MATCH"
}

if [ "$op" = delete ]; then
  if command -v virsh >/dev/null && defined; then
    if [ "$(info Active)" = yes ]; then virsh_ net-destroy "$DV_NAME" >&2; fi
    virsh_ net-undefine "$DV_NAME" >&2
    dv_changed "removed libvirt network $DV_NAME"
  fi
  exit 0
fi

if ! defined || ! matches --inactive; then
  xml=$DV_XML
  if defined; then
    # Redefining needs the existing uuid (a definition without one gets a new one, and
    # libvirt refuses a second uuid for the same name).
    uuid=$(virsh_ net-uuid "$DV_NAME")
    xml=$(printf '%s\n' "$DV_XML" | sed "0,/<\/name>/s##</name>\\n  <uuid>$uuid</uuid>#")
  fi
  tmp=$(mktemp)
  printf '%s\n' "$xml" >"$tmp"
  virsh_ net-define "$tmp" >&2
  rm -f "$tmp"
  dv_changed "defined libvirt network $DV_NAME"
fi
if [ "$(info Active)" != yes ]; then
  virsh_ net-start "$DV_NAME" >&2
  dv_changed "started libvirt network $DV_NAME"
elif ! matches; then
  # Running with an older definition: restart it (attached VMs lose the link until
  # they are reattached or restarted).
  virsh_ net-destroy "$DV_NAME" >&2
  virsh_ net-start "$DV_NAME" >&2
  dv_changed "restarted libvirt network $DV_NAME with its new definition"
fi
if [ "$(info Autostart)" != "$DV_AUTOSTART" ]; then
  if [ "$DV_AUTOSTART" = yes ]; then virsh_ net-autostart "$DV_NAME" >&2; else virsh_ net-autostart --disable "$DV_NAME" >&2; fi
  dv_changed "set autostart of libvirt network $DV_NAME to $DV_AUTOSTART"
fi
