#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# DebVisor lab: a fleet of real Debian hosts (real systemd, sshd, udev, apt) on
# this machine, each a systemd-nspawn container on its own overlay, in its own
# network namespace on a private bridge, with optional loop-device disks.
#
#   npm run lab -- up [--hosts N] [--release bookworm|trixie] [--disks N[:SIZE]]
#                     [--vms N] [--vm-memory MIB] [--vm-cpus N] [--vm-nics N] [--vm-disks N[:SIZE]]
#   npm run lab -- down [--keep] [--wipe-disks]
#   npm run lab -- status
#   npm run lab -- ssh <host> [-- command...]
#   npm run lab -- restart <host>
#   npm run lab -- reset <host>...
#   npm run lab -- reset-hostkey <host>
#   npm run lab -- link <vm> <nic> up|down
#   npm run lab -- kubernetes up|down|status   (scripts/lab/kubernetes.sh)
#
# Runs as root. State lives in $DEBVISOR_LAB_DIR (default /var/lib/debvisor-lab).
set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin

LAB_T0=$SECONDS
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=base.sh
. "$LAB_SRC/base.sh"
# shellcheck source=fleet.sh
. "$LAB_SRC/fleet.sh"
# shellcheck source=vm-image.sh
. "$LAB_SRC/vm-image.sh"
# shellcheck source=vm.sh
. "$LAB_SRC/vm.sh"

usage() {
  cat <<EOF
usage: npm run lab -- <command> [options]    (or: bash scripts/lab/lab.sh ...; as root)

  up [--hosts N] [--release bookworm|trixie] [--disks N[:SIZE]]
     [--vms N] [--vm-memory MIB] [--vm-cpus N] [--vm-nics N] [--vm-disks N[:SIZE]]
        start the fleet n1..nN at $LAB_NET.11.. (defaults: 3 hosts, $LAB_DEFAULT_RELEASE,
        no disks; disk SIZE defaults to 10G), and VMs v1..vN at $LAB_NET.101..
        (QEMU, software emulation; defaults: no VMs, 1024 MiB, 1 CPU, 1 NIC, the
        --disks of the hosts). --hosts 0 --vms N: VMs only. With the fleet already
        up it only checks that every host answers SSH; more --hosts than run (same
        release and disks) adds the missing ones; VM options that differ from
        the running VMs replace the VM tier (the container hosts stay as they are).
  down [--keep] [--wipe-disks]
        stop and remove everything the lab made on the machine. --keep keeps the
        hosts' filesystems for the next up (default: next up gives fresh hosts);
        --wipe-disks deletes the disk images (kept by default).
  status
        one line per host (address, running, SSH), bridge and apt proxy;
        exit 1 when the fleet is partially up.
  ssh <host> [-- command...]
        ssh -F \$LAB_DIR/ssh_config <host> (as $LAB_USER; root@<host> works too)
  restart <host>
        reboot one host and wait until it answers SSH again
  reset <host>...
        make these hosts fresh again (new filesystem, network namespace, host
        keys), leaving the others running; known_hosts and lab.json follow
  reset-hostkey <host>
        give a host new SSH host keys WITHOUT updating known_hosts/hostkeys
        (for tests that a changed host key is refused)
  kubernetes up|down|status
        serve the Kubernetes artifacts (npm run toolchain:kubernetes) to the hosts:
        image registry $LAB_GW:5000, apt repository http://$LAB_GW:3143/kubernetes/
  link <vm> <nic> up|down
        plug or pull the cable of a VM's NIC (eth0, eth1, ...) from the machine's
        side: the guest sees its carrier go, the tap device goes down

State directory: $LAB_DIR (set DEBVISOR_LAB_DIR to move it); consumers read
$LAB_DIR/lab.json, ssh_config, known_hosts, hostkeys/<host>.pub, id_ed25519.
EOF
}

# ---------------------------------------------------------------- up
cmd_up() {
  local want_hosts='' want_release='' want_disks='' want_size='' i
  local want_vms='' want_vm_mem='' want_vm_cpus='' want_vm_nics='' want_vm_disks='' want_vm_size=''
  while (($#)); do
    case $1 in
      --hosts)
        if ! [[ ${2:-} =~ ^[0-9]+$ ]] || (($2 > 40)); then die "--hosts needs a number from 0 to 40"; fi
        want_hosts=$2
        shift 2
        ;;
      --vms)
        if ! [[ ${2:-} =~ ^[0-9]+$ ]] || (($2 > 40)); then die "--vms needs a number from 0 to 40"; fi
        want_vms=$2
        shift 2
        ;;
      --vm-memory)
        if ! [[ ${2:-} =~ ^[0-9]+$ ]] || (($2 < 256 || $2 > 65536)); then die "--vm-memory needs MiB from 256 to 65536"; fi
        want_vm_mem=$2
        shift 2
        ;;
      --vm-cpus)
        if ! [[ ${2:-} =~ ^[0-9]+$ ]] || (($2 < 1 || $2 > 16)); then die "--vm-cpus needs a number from 1 to 16"; fi
        want_vm_cpus=$2
        shift 2
        ;;
      --vm-nics)
        if ! [[ ${2:-} =~ ^[0-9]+$ ]] || (($2 < 1 || $2 > 4)); then die "--vm-nics needs a number from 1 to 4"; fi
        want_vm_nics=$2
        shift 2
        ;;
      --vm-disks)
        [[ ${2:-} =~ ^([0-9]+)(:([0-9]+[KMGT]?))?$ ]] || die "--vm-disks takes N or N:SIZE (e.g. 2 or 2:6G)"
        want_vm_disks=${BASH_REMATCH[1]}
        want_vm_size=${BASH_REMATCH[3]:-10G}
        ((want_vm_disks <= 8)) || die "--vm-disks: at most 8 per VM"
        shift 2
        ;;
      --release)
        [[ " $LAB_RELEASES " == *" ${2:-} "* && -n ${2:-} ]] || die "--release must be one of: $LAB_RELEASES"
        want_release=$2
        shift 2
        ;;
      --disks)
        [[ ${2:-} =~ ^([0-9]+)(:([0-9]+[KMGT]?))?$ ]] || die "--disks takes N or N:SIZE (e.g. 2 or 2:6G)"
        want_disks=${BASH_REMATCH[1]}
        want_size=${BASH_REMATCH[3]:-10G}
        ((want_disks <= 8)) || die "--disks: at most 8 per host"
        shift 2
        ;;
      -h | --help)
        usage
        return 0
        ;;
      *) die "up: unknown option '$1' (see: npm run lab -- help)" ;;
    esac
  done
  require_root
  take_lock
  ensure_tools
  load_fleet

  FLEET_CGROUPS=$(discover_cgroups)
  if [[ -f $LAB_JSON && -f $FLEET_ENV ]] && ! bridge_exists && [[ -z $(acng_pid) ]] && [[ -z $(vm_processes) ]] &&
    [[ -z $(for ((i = 1; i <= FLEET_HOSTS; i++)); do host_pids "$i"; done) ]]; then
    log "the lab's state says up but nothing of it runs (machine restarted?): starting it anew"
  elif [[ -f $LAB_JSON && -f $FLEET_ENV ]]; then
    # More hosts than run, all else alike: the missing ones join the running fleet.
    if [[ -n $want_hosts ]] && ((want_hosts > FLEET_HOSTS && FLEET_HOSTS > 0)) &&
      [[ -z $want_release || $want_release == "$FLEET_RELEASE" ]] &&
      [[ -z $want_disks || ($want_disks == "$FLEET_DISKS" && ($want_disks == 0 || $want_size == "$FLEET_DISK_SIZE")) ]]; then
      hosts_grow "$want_hosts"
    fi
    if [[ -n $want_release && $want_release != "$FLEET_RELEASE" ]] ||
      [[ -n $want_hosts && $want_hosts != "$FLEET_HOSTS" ]] ||
      [[ -n $want_disks && $want_disks != "$FLEET_DISKS" ]] ||
      [[ -n $want_disks && $want_disks != 0 && $want_size != "$FLEET_DISK_SIZE" ]]; then
      die "the lab is already up with $FLEET_HOSTS $FLEET_RELEASE host(s) and $FLEET_DISKS disk(s) of $FLEET_DISK_SIZE each: run 'down' first to change it"
    fi
    # The VM tier as asked (options left out: as it runs, or the defaults).
    local vm_now vm_want
    vm_now="$FLEET_VMS $FLEET_VM_MEMORY $FLEET_VM_CPUS $FLEET_VM_NICS $FLEET_VM_DISKS ${FLEET_VM_DISK_SIZE:-10G}"
    if ((FLEET_VMS)); then
      vm_want="${want_vms:-$FLEET_VMS} ${want_vm_mem:-$FLEET_VM_MEMORY} ${want_vm_cpus:-$FLEET_VM_CPUS} ${want_vm_nics:-$FLEET_VM_NICS} ${want_vm_disks:-$FLEET_VM_DISKS} ${want_vm_size:-${FLEET_VM_DISK_SIZE:-10G}}"
    else
      vm_want="${want_vms:-0} ${want_vm_mem:-1024} ${want_vm_cpus:-1} ${want_vm_nics:-1} ${want_vm_disks:-$FLEET_DISKS} ${want_vm_size:-$FLEET_DISK_SIZE}"
    fi
    [[ ${vm_want%% *} != 0 ]] || vm_want="0 1024 1 1 0 10G"
    if [[ $vm_want != "$vm_now" ]]; then
      if ! bridge_exists || [[ -z $(acng_pid) ]]; then
        die "the lab is partially up (bridge or apt proxy missing): run 'down', then 'up'"
      fi
      ((${vm_want%% *} + FLEET_HOSTS > 0)) || die "that would leave the lab without hosts: use 'down'"
      CREATED_DISKS=()
      # shellcheck disable=SC2086 # six words
      vms_reconcile $vm_want
    fi
    up_check_running
    return
  fi

  FLEET_RELEASE=${want_release:-$LAB_DEFAULT_RELEASE}
  FLEET_HOSTS=${want_hosts:-3}
  FLEET_DISKS=${want_disks:-0}
  FLEET_DISK_SIZE=${want_size:-10G}
  FLEET_VMS=${want_vms:-0}
  FLEET_VM_MEMORY=${want_vm_mem:-1024}
  FLEET_VM_CPUS=${want_vm_cpus:-1}
  FLEET_VM_NICS=${want_vm_nics:-1}
  FLEET_VM_DISKS=${want_vm_disks:-$FLEET_DISKS}
  FLEET_VM_DISK_SIZE=${want_vm_size:-$FLEET_DISK_SIZE}
  ((FLEET_VMS)) || { FLEET_VM_DISKS=0 FLEET_VM_DISK_SIZE=10G; }
  ((FLEET_HOSTS + FLEET_VMS > 0)) || die "--hosts 0 needs --vms N"
  ((FLEET_VMS == 0)) || ensure_vm_tools

  if lab_present; then
    log "cleaning up what an earlier lab run left on the machine"
    teardown "$([[ -f $LAB_DIR/hosts/.kept ]] && echo 1 || echo 0)" 0
  fi
  local kept=0
  if [[ -f $LAB_DIR/hosts/.kept ]]; then
    kept=1
    log "reusing the hosts' filesystems kept by 'down --keep'"
  fi

  CREATED_DISKS=()
  UP_KEPT=$kept
  trap 'up_failed $?' EXIT
  trap 'exit 130' INT TERM HUP

  mkdir -p "$RUN_DIR" "$LOG_DIR"
  rm -f "$LOG_DIR"/n*.log "$LOG_DIR"/n*.verify
  FLEET_CGROUPS=$(cgroup_roots | tr '\n' ' ')
  FLEET_BASE=''
  save_fleet # from here on, down knows what to clean

  write_client_key
  if ((FLEET_HOSTS)); then
    ensure_base "$FLEET_RELEASE"
    FLEET_BASE=$BASE_DIR
  fi
  if ((FLEET_VMS)); then
    ensure_vm_image "$FLEET_RELEASE"
    FLEET_VM_IMAGE=$VM_IMAGE_DIR
  fi
  save_fleet

  log "network: bridge $LAB_BRIDGE $LAB_GW/24, apt proxy $LAB_PROXY"
  bridge_up
  acng_start

  local hosts_label="n1..n$FLEET_HOSTS"
  ((FLEET_HOSTS > 1)) || hosts_label=n1
  ((FLEET_HOSTS > 0)) || hosts_label=''
  ((FLEET_DISKS == 0 || FLEET_HOSTS == 0)) || log "disks: $FLEET_DISKS per host, $FLEET_DISK_SIZE each (sparse, in $DISK_DIR)"
  for ((i = 1; i <= FLEET_HOSTS; i++)); do
    disks_attach "$i"
    host_prepare "$i"
    host_net_up "$i"
  done
  rm -f "$LAB_DIR/hosts/.kept"
  for ((i = 1; i <= FLEET_VMS; i++)); do
    vm_prepare "$i"
    vm_net_up "$i"
  done
  write_ssh_files

  if ((FLEET_VMS)); then
    log "booting VMs v1..v$FLEET_VMS ($FLEET_RELEASE, ${FLEET_VM_MEMORY} MiB, $FLEET_VM_CPUS CPU(s), $FLEET_VM_NICS NIC(s), $FLEET_VM_DISKS disk(s) each; software emulation, ~1 min)"
    for ((i = 1; i <= FLEET_VMS; i++)); do vm_start "$i"; done
  fi
  [[ -z $hosts_label ]] || log "booting $hosts_label ($FLEET_RELEASE)"
  for ((i = 1; i <= FLEET_HOSTS; i++)); do host_start "$i"; done

  local late=()
  # shellcheck disable=SC2046 # indices
  ((FLEET_HOSTS == 0)) || mapfile -t late < <(wait_ssh "$LAB_BOOT_TIMEOUT" $(seq 1 "$FLEET_HOSTS"))
  if ((${#late[@]})); then
    # A host sometimes never comes up (or hangs in its first boot): once more.
    warn "no SSH answer from ${late[*]/#/n} after ${LAB_BOOT_TIMEOUT}s: restarting them"
    hosts_stop "${late[@]}"
    for i in "${late[@]}"; do host_start "$i"; done
    mapfile -t late < <(wait_ssh "$LAB_BOOT_TIMEOUT" "${late[@]}")
    if ((${#late[@]})); then
      for i in "${late[@]}"; do
        printf '[lab] --- last lines of n%s console (%s):\n' "$i" "$LOG_DIR/n$i.log" >&2
        tail -n 15 "$LOG_DIR/n$i.log" >&2 || true
      done
      die "host(s) ${late[*]/#/n} never answered SSH"
    fi
  fi
  if ((FLEET_HOSTS)); then
    log "all hosts answer SSH; checking $LAB_USER, sudo and disks"
    verify_hosts $(seq 1 "$FLEET_HOSTS") || die "host checks failed"
  fi
  if ((FLEET_VMS)); then
    # shellcheck disable=SC2046 # names
    vms_wait $(seq -f 'v%g' 1 "$FLEET_VMS")
    log "checking $LAB_USER, sudo and disks on the VMs"
    verify_vms $(seq 1 "$FLEET_VMS") || die "VM checks failed"
  fi
  write_lab_json
  trap - EXIT INT TERM HUP
  log "lab up: $FLEET_HOSTS $FLEET_RELEASE host(s)$( ((FLEET_VMS)) && echo " and $FLEET_VMS VM(s)") in $((SECONDS - LAB_T0))s, RAM $(lab_memory); fleet: $LAB_JSON"
  log "try: npm run lab -- ssh $( ((FLEET_HOSTS)) && echo n1 || echo v1) -- sudo true"
}

up_failed() {
  local rc=$1
  trap - EXIT INT TERM HUP
  ((rc == 0)) && return 0
  set +e
  log "up failed (exit $rc): tearing down what it made"
  teardown "$UP_KEPT" 0
  local f
  for f in "${CREATED_DISKS[@]}"; do rm -f "$f"; done
  log "see the logs in $LOG_DIR"
  exit "$rc"
}

# `up` with the fleet running: every host must answer; a host that does not is
# started again (once). Nothing is torn down here: this run made nothing.
up_check_running() {
  if ! bridge_exists || [[ -z $(acng_pid) ]]; then
    die "the lab is partially up (bridge or apt proxy missing): run 'down', then 'up'"
  fi
  FLEET_CGROUPS=$(discover_cgroups)
  local i bad=() late=()
  for ((i = 1; i <= FLEET_HOSTS; i++)); do
    if [[ -z $(host_nspawn_pid "$i") ]] || ! ssh_answers "$(host_name "$i")"; then bad+=("$i"); fi
  done
  local out
  for i in "${bad[@]}"; do
    out=$(lab_ssh "$(host_name "$i")" true </dev/null 2>&1) || true
    if [[ $out == *'Host key verification failed'* ]]; then
      die "n$i answers with a host key that is not the one in $KNOWN_HOSTS (after reset-hostkey?): run 'down', then 'up'"
    fi
  done
  if ((${#bad[@]})); then
    warn "${bad[*]/#/n}: not running or not answering SSH: restarting them"
    for i in "${bad[@]}"; do
      ip netns list | grep "^$(host_netns "$i")\b" >/dev/null ||
        die "n$i lost its network namespace: run 'down', then 'up'"
    done
    hosts_stop "${bad[@]}"
    for i in "${bad[@]}"; do host_start "$i"; done
    mapfile -t late < <(wait_ssh "$LAB_BOOT_TIMEOUT" "${bad[@]}")
    ((${#late[@]} == 0)) || die "host(s) ${late[*]/#/n} do not answer SSH (console logs in $LOG_DIR)"
  fi
  ((FLEET_HOSTS == 0)) || verify_hosts $(seq 1 "$FLEET_HOSTS") || die "host checks failed"
  bad=()
  for ((i = 1; i <= FLEET_VMS; i++)); do
    if [[ -z $(vm_pid "$i") ]] || ! ssh_answers "$(vm_name "$i")"; then bad+=("$i"); fi
  done
  if ((${#bad[@]})); then
    warn "${bad[*]/#/v}: not running or not answering SSH: restarting them"
    vms_stop "${bad[@]}"
    for i in "${bad[@]}"; do
      vm_remove_runtime "$i"
      vm_prepare "$i"
      vm_net_up "$i"
    done
    vms_boot "${bad[@]}"
  fi
  # shellcheck disable=SC2046 # indices
  ((FLEET_VMS == 0)) || verify_vms $(seq 1 "$FLEET_VMS") || die "VM checks failed"
  log "lab already up: $FLEET_HOSTS $FLEET_RELEASE host(s)$( ((FLEET_VMS)) && echo " and $FLEET_VMS VM(s)"), all answer SSH"
}

# ---------------------------------------------------------------- down
cmd_down() {
  local keep=0 wipe=0
  while (($#)); do
    case $1 in
      --keep) keep=1 ;;
      --wipe-disks) wipe=1 ;;
      -h | --help)
        usage
        return 0
        ;;
      *) die "down: unknown option '$1'" ;;
    esac
    shift
  done
  require_root
  take_lock
  load_fleet
  FLEET_CGROUPS=$(discover_cgroups)
  if ! lab_present; then
    if ((wipe)) && [[ -d $DISK_DIR ]]; then
      teardown "$keep" 1
    elif ((keep == 0)) && [[ -d $LAB_DIR/hosts ]]; then
      rm -rf "$LAB_DIR/hosts"
      log "removed the kept host filesystems"
    fi
    log "lab is down"
    return 0
  fi
  teardown "$keep" "$wipe"
  log "lab down in $((SECONDS - LAB_T0))s$( ((keep)) && echo ' (host filesystems kept)')"
}

# ---------------------------------------------------------------- status
cmd_status() {
  require_root
  load_fleet
  FLEET_CGROUPS=$(discover_cgroups)
  if ! lab_present; then
    echo "lab: down"
    return 0
  fi
  local ok=1 i name pid run ssh acng
  if bridge_exists; then
    echo "bridge  $LAB_BRIDGE $LAB_GW/24: up"
  else
    echo "bridge  $LAB_BRIDGE: missing"
    ok=0
  fi
  acng=$(acng_pid)
  if [[ -n $acng ]] && proxy_answers; then
    echo "proxy   $LAB_PROXY: up (apt-cacher-ng pid $acng)"
  else
    echo "proxy   $LAB_PROXY: ${acng:+running (pid $acng) but not answering}${acng:-down}"
    ok=0
  fi
  for ((i = 1; i <= FLEET_HOSTS; i++)); do
    name=$(host_name "$i")
    pid=$(host_nspawn_pid "$i")
    run=down ssh=no
    [[ -n $pid ]] && run=up
    ssh_answers "$name" && ssh=yes
    [[ $run == up && $ssh == yes ]] || ok=0
    printf '%-6s  %-12s  %-4s  ssh %s\n' "$name" "$(host_ip "$i")" "$run" "$ssh"
  done
  for ((i = 1; i <= FLEET_VMS; i++)); do
    name=$(vm_name "$i")
    pid=$(vm_pid "$i")
    run=down ssh=no
    [[ -n $pid ]] && run=up
    ssh_answers "$name" && ssh=yes
    [[ $run == up && $ssh == yes ]] || ok=0
    printf '%-6s  %-12s  %-4s  ssh %-3s  vm: QEMU pid %s, RSS %s\n' "$name" "$(vm_ip "$i")" "$run" "$ssh" "${pid:--}" "$(vm_memory "$i")"
  done
  if ((ok)) && [[ -f $LAB_JSON ]]; then
    echo "lab: up ($FLEET_HOSTS $FLEET_RELEASE host(s), $FLEET_DISKS disk(s) each$( ((FLEET_VMS)) && echo "; $FLEET_VMS VM(s), $FLEET_VM_DISKS disk(s) each"), RAM $(lab_memory))"
    return 0
  fi
  echo "lab: partially up (run 'down', then 'up')"
  return 1
}

# ---------------------------------------------------------------- ssh & co
need_up() {
  load_fleet
  [[ -f $SSH_CONFIG && -f $FLEET_ENV ]] || die "the lab is not up (npm run lab -- up)"
}

cmd_ssh() {
  (($#)) || die "usage: ssh <host> [-- command...]"
  require_root
  need_up
  local host=$1
  shift
  [[ ${1:-} == -- ]] && shift
  exec ssh -F "$SSH_CONFIG" "$host" "$@"
}

cmd_restart() {
  (($# == 1)) || die "usage: restart <host>"
  require_root
  take_lock
  need_up
  local i name pid init t late=()
  FLEET_CGROUPS=$(discover_cgroups)
  if [[ $1 == v* ]]; then
    vm_restart "$(vm_index "$1")"
    return
  fi
  i=$(host_index "$1")
  name=$(host_name "$i")
  # SIGINT to the container's systemd = ctrl-alt-del = reboot; nspawn exits
  # 133 and the host's loop boots it again.
  init=$(host_init_pid "$i")
  pid=$(host_nspawn_pid "$i")
  if [[ -n $init && -n $pid ]]; then
    pid=$(host_nspawn_pid "$i")
    log "rebooting $name"
    kill -INT "$init"
    for ((t = 0; t < LAB_STOP_TIMEOUT * 2; t++)); do
      [[ $(host_nspawn_pid "$i") == "$pid" ]] || break
      sleep 0.5
    done
    sleep 1 # the loop boots it again
  fi
  local now
  now=$(host_nspawn_pid "$i")
  if [[ -z $init || -z $pid || -z $now || $now == "$pid" ]]; then
    log "restarting $name the hard way"
    hosts_stop "$i"
    host_start "$i"
  fi
  mapfile -t late < <(wait_ssh "$LAB_BOOT_TIMEOUT" "$i")
  ((${#late[@]} == 0)) || die "$name does not answer SSH after the restart (console: $LOG_DIR/$name.log)"
  verify_hosts "$i" || die "$name checks failed after the restart"
  log "$name is back"
}

cmd_reset() {
  (($#)) || die "usage: reset <host>..."
  require_root
  take_lock
  need_up
  local h i t idx=() vms=() late=()
  for h in "$@"; do
    if [[ $h == v* ]]; then vms+=("$(vm_index "$h")"); else idx+=("$(host_index "$h")"); fi
  done
  FLEET_CGROUPS=$(discover_cgroups)
  if ((${#vms[@]})); then
    vms_reset "${vms[@]}"
    ((${#idx[@]})) || { log "reset ${vms[*]/#/v} in $((SECONDS - LAB_T0))s"; return 0; }
  fi
  ensure_base "$FLEET_RELEASE"
  log "resetting ${idx[*]/#/n} to fresh $FLEET_RELEASE hosts"
  hosts_stop "${idx[@]}"
  for i in "${idx[@]}"; do
    umount "$(host_dir "$i")/root" 2>/dev/null || umount -l "$(host_dir "$i")/root"
    rm -rf "$(host_dir "$i")/upper" "$(host_dir "$i")/work" "$(host_dir "$i")/base-id"
    # A fresh network namespace too: bridges, VLANs and addresses a test made
    # outlive the container in the old one.
    ip link del "$(host_veth "$i")" 2>/dev/null || true
    ip netns del "$(host_netns "$i")"
    # the kernel frees the old veth pair asynchronously: wait before making a new one
    for ((t = 0; t < 50; t++)); do
      ip link show "$(host_veth "$i")" >/dev/null 2>&1 || break
      sleep 0.1
    done
    host_prepare "$i"
    host_net_up "$i"
  done
  write_ssh_files
  for i in "${idx[@]}"; do host_start "$i"; done
  mapfile -t late < <(wait_ssh "$LAB_BOOT_TIMEOUT" "${idx[@]}")
  ((${#late[@]} == 0)) || die "host(s) ${late[*]/#/n} never answered SSH after the reset"
  verify_hosts "${idx[@]}" || die "host checks failed"
  write_lab_json
  log "reset ${idx[*]/#/n} in $((SECONDS - LAB_T0))s"
}

# Hosts n<FLEET_HOSTS+1>..n$1 join the running fleet (same release and disks); the
# others keep running.
hosts_grow() {
  local want=$1 i late=() new=()
  for ((i = FLEET_HOSTS + 1; i <= want; i++)); do new+=("$i"); done
  log "adding ${new[*]/#/n} to the running fleet ($FLEET_RELEASE)"
  ensure_base "$FLEET_RELEASE"
  CREATED_DISKS=()
  FLEET_HOSTS=$want
  save_fleet
  for i in "${new[@]}"; do
    disks_attach "$i"
    host_prepare "$i"
    host_net_up "$i"
  done
  write_ssh_files
  for i in "${new[@]}"; do host_start "$i"; done
  mapfile -t late < <(wait_ssh "$LAB_BOOT_TIMEOUT" "${new[@]}")
  ((${#late[@]} == 0)) || die "host(s) ${late[*]/#/n} never answered SSH"
  verify_hosts "${new[@]}" || die "host checks failed"
  write_lab_json
}

cmd_reset_hostkey() {
  (($# == 1)) || die "usage: reset-hostkey <host>"
  require_root
  take_lock
  need_up
  local i name
  if [[ $1 == v* ]]; then
    i=$(vm_index "$1")
    name=$(vm_name "$i")
  else
    i=$(host_index "$1")
    name=$(host_name "$i")
  fi
  lab_ssh "root@$name" 'rm -f /etc/ssh/ssh_host_*_key /etc/ssh/ssh_host_*_key.pub &&
    ssh-keygen -A >/dev/null && systemctl restart ssh' </dev/null ||
    die "could not reset the host keys of $name"
  log "$name has new SSH host keys; $KNOWN_HOSTS and $HOSTKEY_DIR/$name.pub still hold the old ones"
  log "(ssh to $name is now refused; 'down' + 'up' gives fresh hosts again)"
}

cmd_link() {
  (($# == 3)) || die "usage: link <vm> <nic> up|down   (e.g. link v1 eth0 down)"
  require_root
  take_lock
  need_up
  vm_link "$(vm_index "$1")" "$2" "$3"
}

main() {
  LAB_CMD=${1:-help}
  (($#)) && shift
  case $LAB_CMD in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    status) cmd_status "$@" ;;
    ssh) cmd_ssh "$@" ;;
    restart) cmd_restart "$@" ;;
    reset) cmd_reset "$@" ;;
    reset-hostkey) cmd_reset_hostkey "$@" ;;
    link) cmd_link "$@" ;;
    kubernetes) exec bash "$LAB_SRC/kubernetes.sh" "$@" ;;
    help | -h | --help) usage ;;
    *)
      usage >&2
      die "unknown command '$LAB_CMD'"
      ;;
  esac
}

main "$@"
