# shellcheck shell=bash disable=SC2034 # constants used by the other files
# Shared definitions for the DebVisor lab scripts. Sourced, never run.
#
# Everything the lab makes lives under $LAB_DIR (outside the repository) and is
# named "dvlab*" / "debvisor-lab" on the machine, so `down` can find it again.

LAB_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_DIR=${DEBVISOR_LAB_DIR:-/var/lib/debvisor-lab}

LAB_BRIDGE=dvlab0
LAB_NET=10.213.0
LAB_GW=$LAB_NET.1
LAB_PROXY_PORT=3142
LAB_PROXY=http://$LAB_GW:$LAB_PROXY_PORT
LAB_USER=debvisor
LAB_CGROUP=debvisor-lab
LAB_MIRROR=http://deb.debian.org/debian
LAB_RELEASES="bookworm trixie"
LAB_DEFAULT_RELEASE=bookworm

# A host that hangs on halt is killed after this many seconds.
LAB_STOP_TIMEOUT=${LAB_STOP_TIMEOUT:-15}
# How long `up` waits for every host to answer SSH.
LAB_BOOT_TIMEOUT=${LAB_BOOT_TIMEOUT:-90}

RUN_DIR=$LAB_DIR/run
LOG_DIR=$LAB_DIR/log
FLEET_ENV=$RUN_DIR/fleet.env
CLIENT_KEY=$LAB_DIR/id_ed25519
SSH_CONFIG=$LAB_DIR/ssh_config
KNOWN_HOSTS=$LAB_DIR/known_hosts
HOSTKEY_DIR=$LAB_DIR/hostkeys
LAB_JSON=$LAB_DIR/lab.json
DISK_DIR=$LAB_DIR/disks

LAB_T0=${LAB_T0:-$SECONDS}

log() {
  local t=$((SECONDS - LAB_T0))
  printf '[lab %02d:%02d] %s\n' $((t / 60)) $((t % 60)) "$*" >&2
}

warn() { log "warning: $*"; }

die() {
  printf '[lab] error: %s\n' "$*" >&2
  exit 1
}

require_root() {
  [[ $(id -u) -eq 0 ]] ||
    die "the lab must run as root (it creates network namespaces, mounts and loop devices); try: sudo npm run lab -- ${LAB_CMD:-up}"
}

# Serialise commands that change the lab. (Fd 9 must not leak into the
# long-running processes the lab starts: they are started with 9>&-.)
take_lock() {
  mkdir -p "$LAB_DIR"
  exec 9>"$LAB_DIR/.lock"
  flock -w 300 9 || die "another lab command holds $LAB_DIR/.lock"
}

host_name() { printf 'n%d' "$1"; }
host_ip() { printf '%s.%d' "$LAB_NET" $((10 + $1)); }
host_dir() { printf '%s/hosts/n%d' "$LAB_DIR" "$1"; }
host_netns() { printf 'dvlab-n%d' "$1"; }
host_veth() { printf 'dvlab-n%d' "$1"; }
disk_file() { printf '%s/n%d-d%d.img' "$DISK_DIR" "$1" "$2"; }
disk_id() { printf 'ata-LABDISK_LAB-n%d-d%d' "$1" "$2"; }

# The VM tier (vm.sh): v<i> at .(100+i), its own names everywhere, so that it
# never collides with the container hosts n1..n40 at .11-.50.
VM_ADDR_BASE=100
vm_name() { printf 'v%d' "$1"; }
vm_ip() { printf '%s.%d' "$LAB_NET" $((VM_ADDR_BASE + $1)); }
vm_dir() { printf '%s/vms/v%d' "$LAB_DIR" "$1"; }
vm_tap() { printf 'dvlab-v%d-%d' "$1" "$2"; } # VM index, NIC index (0 = eth0)
vm_disk_file() { printf '%s/v%d-d%d.img' "$DISK_DIR" "$1" "$2"; }
vm_disk_id() { printf 'virtio-LAB-v%d-d%d' "$1" "$2"; }

# Parse "n3" (or "3") into 3, checking it names a host of the running fleet.
host_index() {
  local h=${1#n}
  if ! [[ $h =~ ^[0-9]+$ ]] || ((h < 1 || h > ${FLEET_HOSTS:-0})); then
    die "unknown host '$1' (the lab has n1..n${FLEET_HOSTS:-0})"
  fi
  printf '%d' "$h"
}

# ---------------------------------------------------------------- fleet state
# run/fleet.env records what `up` made; written before anything is created so
# that a failed or interrupted `up` can be cleaned by `down`.
load_fleet() {
  FLEET_RELEASE='' FLEET_HOSTS=0 FLEET_DISKS=0 FLEET_DISK_SIZE='' FLEET_BASE='' FLEET_CGROUPS=''
  FLEET_VMS=0 FLEET_VM_MEMORY=1024 FLEET_VM_CPUS=1 FLEET_VM_NICS=1 FLEET_VM_DISKS=0 FLEET_VM_DISK_SIZE='' FLEET_VM_IMAGE=''
  if [[ -f $FLEET_ENV ]]; then
    # shellcheck source=/dev/null
    . "$FLEET_ENV"
  fi
  VM_IMAGE_DIR=$FLEET_VM_IMAGE # the image the running VMs stand on (vm.sh)
}

save_fleet() {
  mkdir -p "$RUN_DIR"
  {
    printf 'FLEET_RELEASE=%q\n' "$FLEET_RELEASE"
    printf 'FLEET_HOSTS=%q\n' "$FLEET_HOSTS"
    printf 'FLEET_DISKS=%q\n' "$FLEET_DISKS"
    printf 'FLEET_DISK_SIZE=%q\n' "$FLEET_DISK_SIZE"
    printf 'FLEET_BASE=%q\n' "$FLEET_BASE"
    printf 'FLEET_CGROUPS=%q\n' "$FLEET_CGROUPS"
    local v
    for v in FLEET_VMS FLEET_VM_MEMORY FLEET_VM_CPUS FLEET_VM_NICS FLEET_VM_DISKS FLEET_VM_DISK_SIZE FLEET_VM_IMAGE; do
      printf '%s=%q\n' "$v" "${!v}"
    done
  } >"$FLEET_ENV.tmp"
  mv "$FLEET_ENV.tmp" "$FLEET_ENV"
}

# ---------------------------------------------------------------- cgroups
# Each host's restart loop, nspawn and the container's processes live in their
# own cgroup "debvisor-lab/n<i>" in every hierarchy that matters (cgroup2, the
# v1 name=systemd hierarchy on hybrid machines, and v1 memory for RAM
# accounting), created below the cgroup this script runs in.
# Prints one directory per line (the "debvisor-lab" roots).
cgroup_roots() {
  local id ctrl path
  while IFS=: read -r id ctrl path; do
    : "$id"
    case $ctrl in
      '')
        if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
          printf '%s\n' "/sys/fs/cgroup${path%/}/$LAB_CGROUP"
        elif [[ -d /sys/fs/cgroup/unified ]]; then
          printf '%s\n' "/sys/fs/cgroup/unified${path%/}/$LAB_CGROUP"
        fi
        ;;
      name=systemd)
        if [[ -d /sys/fs/cgroup/systemd ]]; then printf '%s\n' "/sys/fs/cgroup/systemd${path%/}/$LAB_CGROUP"; fi
        ;;
      memory | *,memory | memory,*)
        if [[ -d /sys/fs/cgroup/memory ]]; then printf '%s\n' "/sys/fs/cgroup/memory${path%/}/$LAB_CGROUP"; fi
        ;;
    esac
  done </proc/self/cgroup
}

# True when the machine mounts cgroup v1 hierarchies (hybrid/legacy layout).
cgroup_is_hybrid() { [[ ! -f /sys/fs/cgroup/cgroup.controllers ]]; }

# PIDs of every process in host $1's cgroups (all hierarchies, recursively).
host_pids() {
  local root
  for root in $FLEET_CGROUPS; do
    [[ -d $root/n$1 ]] || continue
    find "$root/n$1" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -un
}

# PID of host $1's systemd-nspawn process (empty if none).
host_nspawn_pid() {
  local pid
  for pid in $(host_pids "$1"); do
    if [[ $(cat "/proc/$pid/comm" 2>/dev/null) == systemd-nspawn ]]; then
      printf '%s' "$pid"
      return 0
    fi
  done
}

# PID of host $1's init (systemd, PID 1 inside the container; empty if none).
host_init_pid() {
  local pid
  for pid in $(host_pids "$1"); do
    if [[ $(awk '/^NSpid:/ { print $NF }' "/proc/$pid/status" 2>/dev/null) == 1 ]]; then
      printf '%s' "$pid"
      return 0
    fi
  done
}

host_running() { [[ -n $(host_pids "$1") ]]; }

remove_cgroups() { # $1 = host index or "" for the roots themselves
  local root d
  for root in $FLEET_CGROUPS; do
    d=$root${1:+/n$1}
    [[ -d $d ]] || continue
    find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
}

# ---------------------------------------------------------------- SSH
# Non-interactive ssh for the lab's own checks, never hanging (a host can
# accept TCP and then stall).
lab_ssh() { # [ssh args...] host [command]
  timeout "${LAB_SSH_TIMEOUT:-60}" ssh -F "$SSH_CONFIG" -o BatchMode=yes -o ConnectTimeout=3 "$@"
}

ssh_answers() { LAB_SSH_TIMEOUT=15 lab_ssh "$1" true </dev/null >/dev/null 2>&1; }

proxy_answers() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$LAB_GW/$LAB_PROXY_PORT" 2>/dev/null
}

bridge_exists() { ip link show "$LAB_BRIDGE" >/dev/null 2>&1; }

# PID of the apt-cacher-ng the lab started (empty if not running).
acng_pid() {
  local pid
  [[ -f $RUN_DIR/acng.pid ]] || return 0
  pid=$(<"$RUN_DIR/acng.pid")
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == apt-cacher-ng ]] && printf '%s' "$pid"
  return 0
}

json_str() { # minimal JSON string quoting (paths and names only)
  local s=${1//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}
