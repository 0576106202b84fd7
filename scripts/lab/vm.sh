# shellcheck shell=bash
# The VM tier: Debian machines with their own (Debian) kernel under QEMU's
# software emulation (TCG; this machine's /dev/kvm cannot boot a stock Debian
# kernel), on the lab bridge through tap devices, with the container hosts'
# contract (lab.json, pinned host keys, the debvisor user, the apt proxy,
# /etc/network/interfaces as the installer writes it). Sourced by lab.sh
# (after lib.sh, base.sh, fleet.sh and vm-image.sh).
#
# Per VM v<i>, in $LAB_DIR/vms/v<i>/: root.qcow2 (overlay of the cached
# image), its SSH host keys, seed-once.tar (identity: hostname, host keys,
# interfaces; applied on its first boot) and seed-always.tar (/etc/hosts,
# authorized keys; every boot), both handed over through QEMU's fw_cfg;
# qemu.pid and qmp.sock while it runs. Console: $LOG_DIR/v<i>.log.

# How long `up` waits for the VMs to answer SSH (a VM boots in ~1 min alone,
# slower when several share the machine's cores).
LAB_VM_BOOT_TIMEOUT=${LAB_VM_BOOT_TIMEOUT:-420}
# A VM gets this long to power off cleanly before QEMU is killed.
LAB_VM_STOP_TIMEOUT=${LAB_VM_STOP_TIMEOUT:-30}
# QEMU's translation cache per VM (MiB): its default (1 GiB) made a booted VM's
# QEMU ~1.4 GB RSS; 256 MiB gives ~0.75 GB, booting as fast.
LAB_VM_TB_MIB=${LAB_VM_TB_MIB:-256}

ensure_vm_tools() {
  local -A pkg_of=(
    [qemu-system-x86_64]=qemu-system-x86 [qemu-img]=qemu-utils [socat]=socat
    [mkfs.ext4]=e2fsprogs [mmdebstrap]=mmdebstrap [ip]=iproute2
  )
  local cmd missing=()
  for cmd in "${!pkg_of[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("${pkg_of[$cmd]}")
  done
  ((${#missing[@]})) || return 0
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  log "installing missing host tools for the VM tier with apt-get: ${missing[*]}"
  mkdir -p "$LOG_DIR"
  {
    apt-get update -q &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  } >"$LOG_DIR/apt-get-vm.log" 2>&1 || {
    tail -n 20 "$LOG_DIR/apt-get-vm.log" >&2
    die "apt-get could not install ${missing[*]} (log: $LOG_DIR/apt-get-vm.log)"
  }
  for cmd in "${!pkg_of[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || die "'$cmd' is still missing after installing ${pkg_of[$cmd]}"
  done
}

# Parse "v3" into 3, checking it names a VM of the running fleet.
vm_index() {
  local v=${1#v}
  if ! [[ $v =~ ^[0-9]+$ ]] || ((v < 1 || v > ${FLEET_VMS:-0})); then
    if ((${FLEET_VMS:-0})); then die "unknown VM '$1' (the lab has v1..v$FLEET_VMS)"; fi
    die "unknown VM '$1' (the lab has no VMs: up --vms N)"
  fi
  printf '%d' "$v"
}

vm_mac() { printf '52:54:00:d5:%02x:%02x' "$1" "$2"; }

# PID of VM $1's QEMU (empty if none): its pidfile, checked against the process
# name QEMU gives itself (-name ...,process=dvlab-v<i>).
vm_pid() {
  local f pid
  f=$(vm_dir "$1")/qemu.pid
  [[ -f $f ]] || return 0
  pid=$(<"$f")
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "dvlab-v$1" ]] && printf '%s' "$pid"
  return 0
}

# Every QEMU of the lab on the machine, as "index pid" lines (found by process
# name and by its command line naming this lab's directory, pidfile or not).
vm_processes() {
  local p comm
  for p in /proc/[0-9]*; do
    comm=$(cat "$p/comm" 2>/dev/null) || continue
    [[ $comm =~ ^dvlab-v([0-9]+)$ ]] || continue
    tr '\0' '\n' <"$p/cmdline" 2>/dev/null | grep -qF "$LAB_DIR/vms/" || continue
    printf '%s %s\n' "${BASH_REMATCH[1]}" "${p#/proc/}"
  done
}

# A QMP command to VM $1 (JSON text); prints QEMU's answers.
vm_qmp() {
  local sock
  sock=$(vm_dir "$1")/qmp.sock
  [[ -S $sock ]] || return 1
  printf '{"execute":"qmp_capabilities"}\n%s\n' "$2" | timeout 10 socat -t 2 - "UNIX-CONNECT:$sock"
}

# Indices of the VMs with anything left on the machine.
vms_present() {
  {
    seq 1 "${FLEET_VMS:-0}"
    local f root
    for f in "$LAB_DIR"/vms/v*; do
      [[ -d $f ]] && printf '%s\n' "${f##*/v}"
    done
    for root in $FLEET_CGROUPS; do
      for f in "$root"/v*; do
        [[ -d $f ]] && printf '%s\n' "${f##*/v}"
      done
    done
    vm_processes | cut -d' ' -f1
    ip -o link show 2>/dev/null | awk -F': ' '$2 ~ /^dvlab-v[0-9]+-[0-9]+$/ { split($2, a, "-"); sub("v", "", a[2]); print a[2] }'
  } | grep -E '^[0-9]+$' | sort -un
}

vms_anything_present() {
  [[ -n $(vm_processes) ]] && return 0
  ip -o link show 2>/dev/null | awk -F': ' '$2 ~ /^dvlab-v[0-9]+-[0-9]+$/ { found = 1 } END { exit !found }'
}

# ---------------------------------------------------------------- disks
vm_disks_create() { # creates VM $1's missing disk images (sparse, blank)
  local i=$1 j f size
  for ((j = 1; j <= FLEET_VM_DISKS; j++)); do
    f=$(vm_disk_file "$i" "$j")
    if [[ ! -f $f ]]; then
      mkdir -p "$DISK_DIR"
      truncate -s "$FLEET_VM_DISK_SIZE" "$f"
      CREATED_DISKS+=("$f")
    else
      size=$(stat -c %s "$f")
      [[ $size -eq $(numfmt --from=iec "$FLEET_VM_DISK_SIZE") ]] ||
        warn "$f exists with $(numfmt --to=iec "$size")B (kept as is; asked $FLEET_VM_DISK_SIZE; down --wipe-disks resets)"
    fi
  done
}

# ---------------------------------------------------------------- identity
# /etc/network/interfaces of a fresh VM, as the Debian installer writes it for a
# static address (no gateway: the lab has no route out).
vm_interfaces() {
  printf '%s\n' \
    '# This file describes the network interfaces available on your system' \
    '# and how to activate them. For more information, see interfaces(5).' '' \
    'source /etc/network/interfaces.d/*' '' \
    '# The loopback network interface' 'auto lo' 'iface lo inet loopback' '' \
    '# The primary network interface' 'allow-hotplug eth0' 'iface eth0 inet static' \
    "	address $(vm_ip "$1")/24"
}

# Give VM $1 its overlay and identity (first time, or after a reset) and the
# fleet's view (hosts, authorized keys) every time.
vm_prepare() {
  local i=$1 d name s t img_id
  d=$(vm_dir "$i")
  name=$(vm_name "$i")
  img_id=${VM_IMAGE_DIR##*/}
  if [[ -f $d/image-id && $(<"$d/image-id") != "$img_id" ]]; then
    die "kept VM $name was made from image $(<"$d/image-id"), not $img_id: run 'down' (without --keep) first"
  fi
  mkdir -p "$d"
  if [[ ! -f $d/image-id ]]; then
    rm -rf "$d/once" "$d"/ssh_host_* "$d/root.qcow2"
    qemu-img create -q -f qcow2 -F raw -b "$VM_IMAGE_DIR/root.img" "$d/root.qcow2"
    for t in ed25519 ecdsa; do
      ssh-keygen -q -t "$t" -N '' -C "root@$name" -f "$d/ssh_host_${t}_key"
    done
    s=$d/once
    install -d -m 0755 "$s/etc/ssh" "$s/etc/network"
    printf '%s\n' "$name" >"$s/etc/hostname"
    install -m 0600 "$d/ssh_host_ed25519_key" "$d/ssh_host_ecdsa_key" "$s/etc/ssh/"
    install -m 0644 "$d/ssh_host_ed25519_key.pub" "$d/ssh_host_ecdsa_key.pub" "$s/etc/ssh/"
    vm_interfaces "$i" >"$s/etc/network/interfaces"
    chmod 0644 "$s/etc/hostname" "$s/etc/network/interfaces"
    tar -C "$s" --owner=0 --group=0 --numeric-owner -cf "$d/seed-once.tar" \
      etc/hostname etc/ssh/ssh_host_ed25519_key etc/ssh/ssh_host_ed25519_key.pub \
      etc/ssh/ssh_host_ecdsa_key etc/ssh/ssh_host_ecdsa_key.pub etc/network/interfaces
    rm -rf "$s"
    printf '%s\n' "$img_id" >"$d/image-id"
  fi
  s=$d/always
  rm -rf "$s"
  install -d -m 0755 "$s/etc" "$s/home/$LAB_USER"
  install -d -m 0700 "$s/root/.ssh" "$s/home/$LAB_USER/.ssh"
  etc_hosts >"$s/etc/hosts"
  chmod 0644 "$s/etc/hosts"
  install -m 0600 "$CLIENT_KEY.pub" "$s/root/.ssh/authorized_keys"
  install -m 0600 "$CLIENT_KEY.pub" "$s/home/$LAB_USER/.ssh/authorized_keys"
  tar -C "$s" --owner=0 --group=0 --numeric-owner -cf "$d/seed-always.tar" \
    etc/hosts root/.ssh/authorized_keys "home/$LAB_USER/.ssh/authorized_keys"
  rm -rf "$s"
  vm_disks_create "$i"
}

# ---------------------------------------------------------------- network
vm_net_up() {
  local i=$1 n tap
  for ((n = 0; n < FLEET_VM_NICS; n++)); do
    tap=$(vm_tap "$i" "$n")
    ip link del "$tap" 2>/dev/null || true
    ip tuntap add dev "$tap" mode tap
    ip link set "$tap" master "$LAB_BRIDGE" up
  done
}

vm_net_down() {
  local i=$1 tap
  for tap in $(ip -o link show 2>/dev/null | awk -F': ' -v p="dvlab-v$i-" 'index($2, p) == 1 { sub("@.*", "", $2); print $2 }'); do
    ip link del "$tap" 2>/dev/null || warn "could not delete $tap"
  done
}

# ---------------------------------------------------------------- start/stop
vm_start() {
  local i=$1 d name root j n uuid args=()
  d=$(vm_dir "$i")
  name=$(vm_name "$i")
  uuid=$(<"$VM_IMAGE_DIR/root-uuid")
  rm -f "$d/qemu.pid" "$d/qmp.sock"
  # systemd.firstboot=off: the image's machine-id is empty (each VM makes its own on its
  # first boot), and systemd-firstboot would otherwise wait for answers on the console.
  args=(
    -name "$name,process=dvlab-v$i" -machine q35 -accel "tcg,tb-size=$LAB_VM_TB_MIB" -cpu max
    -smp "$FLEET_VM_CPUS" -m "$FLEET_VM_MEMORY"
    -nodefaults -no-user-config -display none -vga none
    -kernel "$VM_IMAGE_DIR/vmlinuz" -initrd "$VM_IMAGE_DIR/initrd.img"
    -append "root=UUID=$uuid ro console=ttyS0 net.ifnames=0 systemd.firstboot=off quiet"
    -chardev "file,id=console,path=$LOG_DIR/$name.log,append=on" -serial chardev:console
    -qmp "unix:$d/qmp.sock,server=on,wait=off" -pidfile "$d/qemu.pid"
    -fw_cfg "name=opt/org.debvisor.lab/once,file=$d/seed-once.tar"
    -fw_cfg "name=opt/org.debvisor.lab/always,file=$d/seed-always.tar"
    -device virtio-rng-pci
    -drive "file=$d/root.qcow2,if=none,id=root,format=qcow2,cache=unsafe,discard=unmap"
    -device "virtio-blk-pci,drive=root,serial=LAB-$name-root"
  )
  for ((j = 1; j <= FLEET_VM_DISKS; j++)); do
    args+=(-drive "file=$(vm_disk_file "$i" "$j"),if=none,id=d$j,format=raw,cache=writeback,discard=unmap"
      -device "virtio-blk-pci,drive=d$j,serial=LAB-$name-d$j")
  done
  for ((n = 0; n < FLEET_VM_NICS; n++)); do
    args+=(-netdev "tap,id=nic$n,ifname=$(vm_tap "$i" "$n"),script=no,downscript=no"
      -device "virtio-net-pci,netdev=nic$n,mac=$(vm_mac "$i" "$n")")
  done
  VMS_STARTED_AT=${VMS_STARTED_AT:-$SECONDS}
  printf '=== %s: boot at %s\n' "$name" "$(date -Is)" >>"$LOG_DIR/$name.log"
  : >"$RUN_DIR/$name.cgroups"
  for root in $FLEET_CGROUPS; do
    mkdir -p "$root/$name"
    printf '%s\n' "$root/$name" >>"$RUN_DIR/$name.cgroups"
  done
  # shellcheck disable=SC2016 # expanded by the inner bash
  setsid bash -c 'while read -r cg; do printf "%s\n" "$$" >"$cg/cgroup.procs" || true; done <"$1"; shift; exec "$@"' \
    _ "$RUN_DIR/$name.cgroups" qemu-system-x86_64 "${args[@]}" \
    >>"$LOG_DIR/$name.qemu.log" 2>&1 </dev/null 9>&- &
  disown "$!"
  local t
  for ((t = 0; t < 50; t++)); do
    [[ -n $(vm_pid "$i") ]] && return 0
    kill -0 "$!" 2>/dev/null || break
    sleep 0.2
  done
  tail -n 5 "$LOG_DIR/$name.qemu.log" >&2 || true
  die "QEMU did not start for $name (log: $LOG_DIR/$name.qemu.log)"
}

# Stop VMs (indices as arguments): ACPI power-off, QEMU killed after
# LAB_VM_STOP_TIMEOUT seconds. Finds QEMUs without a pidfile too.
vms_stop() {
  local i pid deadline left pids=()
  for i in "$@"; do
    touch "$(vm_dir "$i")/stopping" 2>/dev/null || true
    [[ -n $(vm_pid "$i") ]] && vm_qmp "$i" '{"execute":"system_powerdown"}' >/dev/null 2>&1
  done
  deadline=$((SECONDS + LAB_VM_STOP_TIMEOUT))
  while :; do
    left=()
    for i in "$@"; do
      [[ -n $(vm_pid "$i") ]] && left+=("$i")
    done
    ((${#left[@]})) || break
    ((SECONDS < deadline)) || break
    sleep 0.5
  done
  for i in "${left[@]}"; do
    warn "v$i did not power off within ${LAB_VM_STOP_TIMEOUT}s: stopping QEMU"
  done
  # QEMUs of these VMs, pidfile or not
  for i in "$@"; do
    pid=$(vm_pid "$i")
    [[ -z $pid ]] || pids+=("$pid")
    mapfile -t -O "${#pids[@]}" pids < <(vm_processes | awk -v i="$i" '$1 == i { print $2 }')
  done
  mapfile -t pids < <(printf '%s\n' "${pids[@]}" | awk 'NF' | sort -un)
  ((${#pids[@]})) || return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  deadline=$((SECONDS + 10))
  while ((SECONDS < deadline)); do
    left=()
    for pid in "${pids[@]}"; do
      kill -0 "$pid" 2>/dev/null && left+=("$pid")
    done
    ((${#left[@]})) || return 0
    sleep 0.2
  done
  kill -KILL "${left[@]}" 2>/dev/null || true
  sleep 0.5
  for pid in "${left[@]}"; do
    kill -0 "$pid" 2>/dev/null && die "could not kill QEMU pid $pid"
  done
  return 0
}

# Everything of VM $1 off the machine (QEMU, taps, cgroups); its files stay.
vm_remove_runtime() {
  local i=$1
  vm_net_down "$i"
  remove_cgroups_named "v$i"
  rm -f "$(vm_dir "$i")/qemu.pid" "$(vm_dir "$i")/qmp.sock" "$(vm_dir "$i")/stopping" "$RUN_DIR/v$i.cgroups"
}

remove_cgroups_named() {
  local root d
  for root in $FLEET_CGROUPS; do
    d=$root/$1
    [[ -d $d ]] || continue
    find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
}

# Called by teardown: every VM off the machine; their files go unless KEEP.
vms_teardown() {
  local keep=$1 vms=() i
  mapfile -t vms < <(vms_present)
  ((${#vms[@]})) || return 0
  log "stopping VMs: ${vms[*]/#/v}"
  vms_stop "${vms[@]}"
  for i in "${vms[@]}"; do vm_remove_runtime "$i"; done
  if [[ $keep != 1 ]]; then rm -rf "$LAB_DIR/vms"; fi
}

# ---------------------------------------------------------------- checks
# Same checks as verify_hosts, for VMs (indices), plus the kernel modules the
# tier exists for.
verify_vms() {
  local i j ids pids=() rc failed=() k=0
  for i in "$@"; do
    ids=''
    for ((j = 1; j <= FLEET_VM_DISKS; j++)); do ids+=" $(vm_disk_id "$i" "$j")"; done
    # shellcheck disable=SC2016 # expanded on the VM
    lab_ssh "$(vm_name "$i")" 'sudo -n true || exit 2
      [ "$(hostname)" = '"$(vm_name "$i")"' ] || { echo "hostname is $(hostname)" >&2; exit 4; }
      for t in $(seq 1 40); do
        ok=1
        for d in '"$ids"'; do [ -b "/dev/disk/by-id/$d" ] || ok=0; done
        [ $ok = 1 ] && exit 0
        sleep 0.5
      done
      echo "missing disks; /dev/disk/by-id has: $(ls /dev/disk/by-id 2>/dev/null | tr "\n" " ")" >&2
      exit 3' </dev/null >"$LOG_DIR/v$i.verify" 2>&1 &
    pids+=($!)
  done
  for i in "$@"; do
    rc=0
    wait "${pids[k]}" || rc=$?
    k=$((k + 1))
    case $rc in
      0) ;;
      2) failed+=("v$i: passwordless sudo failed for $LAB_USER") ;;
      3) failed+=("v$i: its disks did not appear: $(tail -n1 "$LOG_DIR/v$i.verify")") ;;
      4) failed+=("v$i: the identity seed was not applied: $(tail -n1 "$LOG_DIR/v$i.verify")") ;;
      *) failed+=("v$i: ssh as $LAB_USER failed (rc $rc): $(tail -n1 "$LOG_DIR/v$i.verify")") ;;
    esac
  done
  ((${#failed[@]} == 0)) && return 0
  printf '[lab] %s\n' "${failed[@]}" >&2
  return 1
}

# Boot VMs (indices) and wait for them.
vms_boot() {
  local i
  (($#)) || return 0
  for i in "$@"; do vm_start "$i"; done
  vms_wait "${@/#/v}"
}

# Wait for started VMs (names) to answer SSH: one more try for a VM that
# never answers, then fail with its console's last lines.
vms_wait() {
  local i late=()
  (($#)) || return 0
  mapfile -t late < <(wait_ssh "$LAB_VM_BOOT_TIMEOUT" "$@")
  if ((${#late[@]})); then
    warn "no SSH answer from ${late[*]} after ${LAB_VM_BOOT_TIMEOUT}s: restarting them"
    vms_stop "${late[@]#v}"
    for i in "${late[@]#v}"; do vm_start "$i"; done
    mapfile -t late < <(wait_ssh "$LAB_VM_BOOT_TIMEOUT" "${late[@]}")
    if ((${#late[@]})); then
      for i in "${late[@]}"; do
        printf '[lab] --- last lines of %s console (%s):\n' "$i" "$LOG_DIR/$i.log" >&2
        tail -n 15 "$LOG_DIR/$i.log" >&2 || true
      done
      die "VM(s) ${late[*]} never answered SSH"
    fi
  fi
  log "all VMs answer SSH ($((SECONDS - LAB_T0))s; $((SECONDS - ${VMS_STARTED_AT:-0}))s after their QEMU started)"
  VMS_STARTED_AT=''
}

# RSS of VM $1's QEMU (what the VM costs the machine).
vm_memory() {
  local pid kb
  pid=$(vm_pid "$1")
  [[ -n $pid ]] || { printf -- '-'; return 0; }
  kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
  printf '%d MiB' $((${kb:-0} / 1024))
}

# ---------------------------------------------------------------- commands
# The VM tier as asked (count, memory, CPUs, NICs, disks) on a running fleet:
# unchanged VMs stay; otherwise every VM is stopped and the new tier started fresh.
vms_reconcile() {
  local i
  if ((FLEET_VMS > 0)); then
    log "replacing the VM tier (${FLEET_VMS} VM(s)) with the one asked for"
    vms_stop $(seq 1 "$FLEET_VMS")
    for ((i = 1; i <= FLEET_VMS; i++)); do vm_remove_runtime "$i"; done
  fi
  rm -rf "$LAB_DIR/vms"
  FLEET_VMS=$1 FLEET_VM_MEMORY=$2 FLEET_VM_CPUS=$3 FLEET_VM_NICS=$4 FLEET_VM_DISKS=$5 FLEET_VM_DISK_SIZE=$6
  save_fleet
  if ((FLEET_VMS > 0)); then
    ensure_vm_tools
    ensure_vm_image "$FLEET_RELEASE"
    # shellcheck disable=SC2034 # saved by save_fleet
    FLEET_VM_IMAGE=$VM_IMAGE_DIR
    save_fleet
    for ((i = 1; i <= FLEET_VMS; i++)); do
      vm_prepare "$i"
      vm_net_up "$i"
    done
  fi
  write_ssh_files
  # shellcheck disable=SC2046 # indices
  vms_boot $(seq 1 "$FLEET_VMS")
  # shellcheck disable=SC2046 # indices
  ((FLEET_VMS == 0)) || verify_vms $(seq 1 "$FLEET_VMS") || die "VM checks failed"
  write_lab_json
}

vm_restart() {
  local i=$1 name boot now t
  name=$(vm_name "$i")
  boot=$(LAB_SSH_TIMEOUT=15 lab_ssh "root@$name" 'cat /proc/sys/kernel/random/boot_id' </dev/null 2>/dev/null) || boot=''
  if [[ -n $boot && -n $(vm_pid "$i") ]]; then
    log "rebooting $name"
    LAB_SSH_TIMEOUT=15 lab_ssh "root@$name" 'systemctl reboot' </dev/null >/dev/null 2>&1 || true
  else
    log "restarting $name the hard way"
    vms_stop "$i"
    vm_remove_runtime "$i"
    vm_prepare "$i"
    vm_net_up "$i"
    vm_start "$i"
  fi
  local deadline=$((SECONDS + LAB_VM_BOOT_TIMEOUT)) reset_at=$((SECONDS + 180))
  while ((SECONDS < deadline)); do
    now=$(LAB_SSH_TIMEOUT=15 lab_ssh "root@$name" 'cat /proc/sys/kernel/random/boot_id' </dev/null 2>/dev/null) || now=''
    [[ -n $now && $now != "$boot" ]] && break
    if ((reset_at && SECONDS > reset_at)); then
      # a reboot that hangs (as a halt sometimes does): the reset button
      warn "$name has not come back after 180s: resetting it"
      vm_qmp "$i" '{"execute":"system_reset"}' >/dev/null 2>&1 || true
      reset_at=0
    fi
    sleep 2
  done
  [[ -n $now && $now != "$boot" ]] || die "$name does not answer SSH after the restart (console: $LOG_DIR/$name.log)"
  for ((t = 0; t < 30; t++)); do ssh_answers "$name" && break; sleep 1; done
  verify_vms "$i" || die "$name checks failed after the restart"
  log "$name is back"
}

vms_reset() {
  local i
  ensure_vm_image "$FLEET_RELEASE"
  log "resetting ${*/#/v} to fresh $FLEET_RELEASE VMs"
  vms_stop "$@"
  for i in "$@"; do
    vm_remove_runtime "$i"
    rm -rf "$(vm_dir "$i")"
    vm_prepare "$i"
    vm_net_up "$i"
  done
  write_ssh_files
  vms_boot "$@"
  verify_vms "$@" || die "VM checks failed"
  write_lab_json
}

# link <vm> <nic> up|down: the cable of one NIC, pulled or plugged from the
# machine's side (QEMU's link state, which the guest sees as carrier, and the
# tap device on the bridge).
vm_link() {
  local i=$1 nic=$2 state=$3 n tap up
  n=${nic#eth}
  if ! [[ $n =~ ^[0-9]+$ ]] || ((n >= FLEET_VM_NICS)); then die "v$i has NICs eth0..eth$((FLEET_VM_NICS - 1)), not '$nic'"; fi
  tap=$(vm_tap "$i" "$n")
  case $state in
    up) up=true ;;
    down) up=false ;;
    *) die "link: state must be up or down" ;;
  esac
  [[ $state == up ]] && ip link set "$tap" up
  local out
  out=$(vm_qmp "$i" "{\"execute\":\"set_link\",\"arguments\":{\"name\":\"nic$n\",\"up\":$up}}") || out='(no answer)'
  [[ $out == *'"return"'* && $out != *'"error"'* ]] || die "QEMU did not take set_link for v$i nic$n: $out"
  [[ $state == down ]] && ip link set "$tap" down
  log "v$i eth$n ($tap): link $state"
}
