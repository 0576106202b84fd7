# Checks hardware virtualization before anything is installed, and configures nested
# virtualization. Params: DV_ALLOW_EMULATION (true|false), DV_NESTED (true|false),
# DV_NESTED_CONF (the modprobe.d file content when nested is on).
vendor=""
if grep -qw vmx /proc/cpuinfo; then vendor=intel; elif grep -qw svm /proc/cpuinfo; then vendor=amd; fi
# The kvm module loads at boot from the CPU's modalias; try once more if /dev/kvm is missing.
if [ ! -c /dev/kvm ] && [ -n "$vendor" ]; then modprobe "kvm_$vendor" >/dev/null 2>&1 || true; fi

problem=""
if [ -z "$vendor" ]; then
  problem="the CPU flags show no vmx or svm (VT-x/AMD-V off in the firmware, or a VM without nested virtualization)"
fi
if [ ! -c /dev/kvm ]; then
  problem="/dev/kvm is missing${problem:+; }$problem"
elif ! { : <>/dev/kvm; } 2>/dev/null; then
  problem="/dev/kvm exists but cannot be opened read-write${problem:+; }$problem"
fi

if [ -n "$problem" ]; then
  if [ "$DV_ALLOW_EMULATION" != true ]; then
    dv_die "hardware virtualization (KVM) is not usable on $(hostname): $problem. Enable VT-x/AMD-V (or nested virtualization on the hypervisor below), or set virtualization.allowEmulation: true to run VMs under software emulation (TCG, much slower)"
  fi
  dv_log "warning: hardware virtualization (KVM) is not usable: $problem; virtualization.allowEmulation is true, so VMs run under software emulation (TCG, much slower)"
  dv_fact acceleration tcg
else
  dv_fact acceleration kvm
fi

# Nested virtualization: a modprobe.d option, read when kvm_intel/kvm_amd loads (at boot).
conf=/etc/modprobe.d/debvisor-kvm-nested.conf
if [ "$DV_NESTED" = true ]; then
  dv_write_file "$conf" 644 "$DV_NESTED_CONF" || true
else
  dv_remove_file "$conf" || true
fi
nested=unknown
for f in /sys/module/kvm_intel/parameters/nested /sys/module/kvm_amd/parameters/nested; do
  if [ -r "$f" ]; then nested=$(cat "$f"); fi
done
dv_fact nested "$nested"
