# shellcheck shell=bash
# The fleet's moving parts: host tools, bridge, apt proxy, disks, hosts,
# contract files and teardown. Sourced by lab.sh (after lib.sh and base.sh).

# ---------------------------------------------------------------- host tools
# command -> Debian package. Missing ones are installed (CI machines are fresh).
ensure_tools() {
  local -A pkg_of=(
    [mmdebstrap]=mmdebstrap [systemd-nspawn]=systemd-container
    [apt-cacher-ng]=apt-cacher-ng [ip]=iproute2 [losetup]=mount
    [partx]=util-linux [findmnt]=util-linux [ssh]=openssh-client
    [ssh-keygen]=openssh-client
  )
  local cmd missing=()
  for cmd in "${!pkg_of[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("${pkg_of[$cmd]}")
  done
  ((${#missing[@]})) || return 0
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  log "installing missing host tools with apt-get: ${missing[*]}"
  mkdir -p "$LOG_DIR"
  local apt_log=$LOG_DIR/apt-get.log rc=0 made_policy=
  # No service of the machine is started by these packages (the lab runs its
  # own apt-cacher-ng on the bridge address only).
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  {
    apt-get update -q &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  } >"$apt_log" 2>&1 || rc=$?
  [[ -n $made_policy ]] && rm -f /usr/sbin/policy-rc.d
  if ((rc)); then
    tail -n 20 "$apt_log" >&2
    die "apt-get could not install ${missing[*]} (log: $apt_log)"
  fi
  for cmd in "${!pkg_of[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || die "'$cmd' is still missing after installing ${pkg_of[$cmd]}"
  done
  log "installed: ${missing[*]}"
}

# ---------------------------------------------------------------- network
bridge_up() {
  if [[ $(cat /proc/sys/net/ipv4/ip_forward 2>/dev/null) == 1 ]]; then
    warn "net.ipv4.ip_forward is 1 on this machine: the hosts get no default route, but keep it in mind"
  fi
  ip link add "$LAB_BRIDGE" type bridge
  ip addr add "$LAB_GW/24" dev "$LAB_BRIDGE"
  ip link set "$LAB_BRIDGE" up
}

host_net_up() {
  local i=$1 ns veth
  ns=$(host_netns "$i")
  veth=$(host_veth "$i")
  ip netns add "$ns"
  ip link add "$veth" type veth peer name eth0 netns "$ns"
  ip link set "$veth" master "$LAB_BRIDGE" up
  # The address is the host's own business: its ifupdown (networking.service)
  # raises eth0 from /etc/network/interfaces at boot, as on a default Debian
  # install, so the network layer can move it onto a bridge and back.
}

# ---------------------------------------------------------------- apt proxy
acng_start() {
  local d=$LAB_DIR/acng root pid t
  mkdir -p "$d/conf" "$d/cache" "$d/log" "$RUN_DIR"
  # A config of our own (not the machine's /etc/apt-cacher-ng): listen on the
  # bridge only; Debian's archive and its security archive as backends.
  cat >"$d/conf/acng.conf" <<EOF
CacheDir: $d/cache
LogDir: $d/log
SupportDir: /usr/lib/apt-cacher-ng
Port: $LAB_PROXY_PORT
BindAddress: $LAB_GW
SocketPath: $RUN_DIR/acng.socket
PidFile: $RUN_DIR/acng.daemon.pid
ForeGround: 1
ExThreshold: 4
Remap-debrep: file:deb_mirror*.gz /debian ; file:backends_debian
Remap-secdeb: security.debian.org security.debian.org/debian-security deb.debian.org/debian-security /debian-security cdn-fastly.deb.debian.org/debian-security ; deb.debian.org/debian-security security.debian.org
ReportPage: acng-report.html
# The lab's own Kubernetes apt repository (npm run lab -- kubernetes up) on the bridge's
# port 3143: hosts reach it through this proxy like any repository. (Its packages are
# cached like Debian's: with DontCache, big transfers to busy VMs failed half-way;
# "lab kubernetes up" drops the cached copies, since a rebuilt package keeps its version.)
AllowUserPorts: 80 3143
EOF
  printf '%s/\n' "$LAB_MIRROR" >"$d/conf/backends_debian"
  if proxy_answers; then
    die "something on this machine already listens on $LAB_GW:$LAB_PROXY_PORT (the system's apt-cacher-ng on all addresses? stop it: the lab runs its own)"
  fi
  setsid apt-cacher-ng -c "$d/conf" >"$LOG_DIR/acng.out" 2>&1 </dev/null 9>&- &
  pid=$!
  disown "$pid"
  printf '%s\n' "$pid" >"$RUN_DIR/acng.pid"
  for root in $FLEET_CGROUPS; do
    if mkdir -p "$root/acng"; then printf '%s\n' "$pid" >"$root/acng/cgroup.procs" || true; fi
  done
  for ((t = 0; t < 50; t++)); do
    kill -0 "$pid" 2>/dev/null || break
    proxy_answers && return 0
    sleep 0.2
  done
  tail -n 20 "$LOG_DIR/acng.out" >&2 || true
  die "apt-cacher-ng did not come up on $LAB_GW:$LAB_PROXY_PORT (log: $LOG_DIR/acng.out)"
}

acng_stop() {
  local pid t
  pid=$(acng_pid)
  if [[ -n $pid ]]; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((t = 0; t < 50; t++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$RUN_DIR/acng.pid" "$RUN_DIR/acng.daemon.pid" "$RUN_DIR/acng.socket"
}

# ---------------------------------------------------------------- disks
# Creates missing disk images (sparse, blank) and attaches host $1's disks to
# loop devices; records them in run/n<i>.loops.
disks_attach() {
  local i=$1 j f dev size
  : >"$RUN_DIR/n$i.loops"
  for ((j = 1; j <= FLEET_DISKS; j++)); do
    f=$(disk_file "$i" "$j")
    if [[ ! -f $f ]]; then
      mkdir -p "$DISK_DIR"
      truncate -s "$FLEET_DISK_SIZE" "$f"
      CREATED_DISKS+=("$f")
    else
      size=$(stat -c %s "$f")
      [[ $size -eq $(numfmt --from=iec "$FLEET_DISK_SIZE") ]] ||
        warn "$f exists with $(numfmt --to=iec "$size")B (kept as is; --disks asked $FLEET_DISK_SIZE; down --wipe-disks resets)"
    fi
    dev=$(losetup -f --show "$f")
    partx -a "$dev" >/dev/null 2>&1 || true # partitions already on the disk
    printf '%s\n' "$dev" >>"$RUN_DIR/n$i.loops"
  done
}

disks_detach() {
  local f dev
  for f in "$DISK_DIR"/*.img; do
    [[ -f $f ]] || continue
    for dev in $(losetup -n -O NAME -j "$f" 2>/dev/null); do
      partx -d "$dev" >/dev/null 2>&1 || true
      losetup -d "$dev" 2>/dev/null || warn "could not detach $dev ($f)"
    done
  done
}

# ---------------------------------------------------------------- hosts
udev_rules() { # host index -> the host's udev rules for its own disks
  local i=$1 j f id serial mk
  mk="RUN+=\"/bin/sh -c '[ -e /dev/%k ] || { mknod -m 660 /dev/%k b %M %m && chgrp disk /dev/%k; }'\""
  echo '# Written by the DebVisor lab. /dev is a tmpfs here: create the nodes of this'
  echo "# host's loop disks (and their partitions) and give them stable ATA-like ids."
  for ((j = 1; j <= FLEET_DISKS; j++)); do
    f=$(disk_file "$i" "$j")
    id=$(disk_id "$i" "$j")
    serial=LAB-n$i-d$j
    echo "SUBSYSTEM==\"block\", ENV{DEVTYPE}==\"disk\", ACTION==\"add|change\", ATTR{loop/backing_file}==\"$f\", ENV{ID_BUS}=\"ata\", ENV{ID_MODEL}=\"LABDISK\", ENV{ID_SERIAL_SHORT}=\"$serial\", ENV{ID_SERIAL}=\"LABDISK_$serial\", SYMLINK+=\"disk/by-id/$id\", $mk"
    echo "SUBSYSTEM==\"block\", ENV{DEVTYPE}==\"partition\", ACTION==\"add|change\", ATTRS{loop/backing_file}==\"$f\", SYMLINK+=\"disk/by-id/$id-part%n\", $mk"
  done
  echo 'SUBSYSTEM=="block", ENV{DEVTYPE}=="partition", ACTION=="remove", RUN+="/bin/rm -f /dev/%k"'
}

etc_hosts() {
  local i
  printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n'
  printf 'ff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n\n# DebVisor lab hosts\n'
  for ((i = 1; i <= FLEET_HOSTS; i++)); do
    printf '%s\t%s\n' "$(host_ip "$i")" "$(host_name "$i")"
  done
  for ((i = 1; i <= ${FLEET_VMS:-0}; i++)); do
    printf '%s\t%s\n' "$(vm_ip "$i")" "$(vm_name "$i")"
  done
}

# /etc/network/interfaces of a fresh host $1: what the Debian installer writes
# for a static address (no gateway: the lab has no route out).
host_interfaces() {
  printf '%s\n' '# Written by the DebVisor lab like the Debian installer would; the host owns it.' \
    'source /etc/network/interfaces.d/*' '' 'auto lo' 'iface lo inet loopback' '' \
    'auto eth0' 'iface eth0 inet static' "	address $(host_ip "$1")/24"
}

# Mount host $1's overlay and give it its identity (first time) and this
# fleet's view (hosts, disks, authorized keys) every time.
host_prepare() {
  local i=$1 h m name uid gid t
  h=$(host_dir "$i")
  m=$h/root
  name=$(host_name "$i")
  if [[ -f $h/base-id && $(<"$h/base-id") != "$FLEET_RELEASE-$BASE_ID" ]]; then
    die "kept host $name was made from base $(<"$h/base-id"), not $FLEET_RELEASE-$BASE_ID: run 'down' (without --keep) first"
  fi
  mkdir -p "$h/upper" "$h/work" "$m"
  mount -t overlay overlay -o "lowerdir=$BASE_DIR,upperdir=$h/upper,workdir=$h/work" "$m"
  if [[ ! -f $h/base-id ]]; then
    printf '%s\n' "$name" >"$m/etc/hostname"
    od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$m/etc/machine-id"
    echo >>"$m/etc/machine-id"
    for t in ed25519 ecdsa; do
      ssh-keygen -q -t "$t" -N '' -C "root@$name" -f "$m/etc/ssh/ssh_host_${t}_key"
    done
    host_interfaces "$i" >"$m/etc/network/interfaces"
    printf '%s\n' "$FLEET_RELEASE-$BASE_ID" >"$h/base-id"
  fi
  etc_hosts >"$m/etc/hosts"
  install -m 0600 "$CLIENT_KEY.pub" "$m/root/.ssh/authorized_keys"
  uid=$(awk -F: -v u="$LAB_USER" '$1 == u { print $3 }' "$m/etc/passwd")
  gid=$(awk -F: -v u="$LAB_USER" '$1 == u { print $4 }' "$m/etc/passwd")
  install -d -m 0700 -o "$uid" -g "$gid" "$m/home/$LAB_USER/.ssh"
  install -m 0600 -o "$uid" -g "$gid" "$CLIENT_KEY.pub" "$m/home/$LAB_USER/.ssh/authorized_keys"
  udev_rules "$i" >"$m/etc/udev/rules.d/10-debvisor-lab.rules"
  sed 's#^/dev/##' "$RUN_DIR/n$i.loops" >"$m/etc/debvisor-lab/loops"
}

# Start host $1's restart loop (netns, overlay and disks are in place).
host_start() {
  local i=$1 name root args=() dev
  name=$(host_name "$i")
  : >"$RUN_DIR/$name.cgroups"
  for root in $FLEET_CGROUPS; do
    mkdir -p "$root/$name"
    printf '%s\n' "$root/$name" >>"$RUN_DIR/$name.cgroups"
  done
  rm -f "$RUN_DIR/$name.stop"
  [[ -c /dev/fuse ]] && args+=(--bind=/dev/fuse)
  [[ -c /dev/btrfs-control ]] && args+=(--bind=/dev/btrfs-control)
  # rw sysfs dir of each own disk: lets the host's udevd replay and refresh it
  while read -r dev; do
    args+=("--bind=/sys/devices/virtual/block/${dev#/dev/}")
  done <"$RUN_DIR/n$i.loops"
  local env=()
  # trixie's systemd (257) wants cgroup2 inside the container; on a machine
  # with the hybrid v1/v2 layout nspawn would otherwise hand it v1.
  cgroup_is_hybrid && env+=(SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1)
  env "${env[@]}" setsid bash "$LAB_SRC/host-loop.sh" \
    "$name" "$(host_dir "$i")/root" "$(host_netns "$i")" "$RUN_DIR" "${args[@]}" \
    >>"$LOG_DIR/$name.log" 2>&1 </dev/null 9>&- &
  printf '%s\n' "$!" >"$RUN_DIR/$name.loop.pid"
  disown "$!"
}

# Stop hosts (indices as arguments): TERM their nspawn (clean halt), kill
# whatever still runs after LAB_STOP_TIMEOUT seconds.
hosts_stop() {
  local i pid deadline running
  for i in "$@"; do
    touch "$RUN_DIR/n$i.stop" 2>/dev/null || true
    pid=$(host_nspawn_pid "$i")
    if [[ -n $pid ]]; then
      kill -TERM "$pid" 2>/dev/null || true
    else # nspawn is gone but the container may live on: power it off
      pid=$(host_init_pid "$i")
      if [[ -n $pid ]]; then kill -s SIGRTMIN+3 "$pid" 2>/dev/null || true; fi
    fi
  done
  deadline=$((SECONDS + LAB_STOP_TIMEOUT))
  while :; do
    running=()
    for i in "$@"; do
      host_running "$i" && running+=("$i")
    done
    ((${#running[@]})) || return 0
    ((SECONDS < deadline)) || break
    sleep 0.5
  done
  for i in "${running[@]}"; do
    warn "n$i did not halt within ${LAB_STOP_TIMEOUT}s: killing it"
  done
  deadline=$((SECONDS + 10))
  while ((SECONDS < deadline)); do
    running=()
    for i in "$@"; do
      pid=$(host_pids "$i")
      [[ -n $pid ]] || continue
      running+=("$i")
      # shellcheck disable=SC2086 # a list of PIDs
      kill -KILL $pid 2>/dev/null || true
    done
    ((${#running[@]})) || return 0
    sleep 0.3
  done
  die "could not kill host(s) ${running[*]}"
}

# Indices of the hosts with anything left on the machine.
hosts_present() {
  {
    seq 1 "${FLEET_HOSTS:-0}"
    local f root
    for f in "$RUN_DIR"/n*.cgroups "$LAB_DIR"/hosts/n*; do
      [[ -e $f ]] || continue
      f=${f##*/n}
      printf '%s\n' "${f%.cgroups}"
    done
    for root in $FLEET_CGROUPS; do
      for f in "$root"/n*; do
        if [[ -d $f ]]; then printf '%s\n' "${f##*/n}"; fi
      done
    done
    ip netns list 2>/dev/null | awk '$1 ~ /^dvlab-n[0-9]+$/ { sub("dvlab-n", "", $1); print $1 }'
  } | grep -E '^[0-9]+$' | sort -un
}

# Every "debvisor-lab" cgroup root on the machine (ours from fleet.env and any
# found, so leftovers of an interrupted run are found too).
discover_cgroups() {
  {
    # shellcheck disable=SC2086 # a space-separated list
    printf '%s\n' $FLEET_CGROUPS
    cgroup_roots
    find /sys/fs/cgroup -maxdepth 6 -type d -name "$LAB_CGROUP" 2>/dev/null
  } | awk 'NF' | sort -u | while read -r d; do
    if [[ -d $d ]]; then printf '%s ' "$d"; fi
  done
}

# Anything of a lab on the machine?
lab_present() {
  [[ -f $FLEET_ENV ]] && return 0
  bridge_exists && return 0
  [[ -n $(acng_pid) ]] && return 0
  ip netns list 2>/dev/null | grep '^dvlab-n' >/dev/null && return 0
  findmnt -rn -o TARGET | grep "^$LAB_DIR/hosts/" >/dev/null && return 0
  local f
  for f in "$DISK_DIR"/*.img; do
    [[ -f $f && -n $(losetup -n -O NAME -j "$f" 2>/dev/null) ]] && return 0
  done
  for f in $FLEET_CGROUPS; do
    [[ -d $f ]] && return 0
  done
  vms_anything_present && return 0
  return 1
}

# teardown KEEP_UPPERS WIPE_DISKS: remove everything the lab made on the machine.
teardown() {
  local keep=$1 wipe=$2 hosts=() i m ns
  FLEET_CGROUPS=$(discover_cgroups)
  mapfile -t hosts < <(hosts_present)
  if ((${#hosts[@]})); then
    log "stopping hosts: ${hosts[*]/#/n}"
    hosts_stop "${hosts[@]}"
  fi
  findmnt -rn -o TARGET | { grep "^$LAB_DIR/hosts/" || true; } | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" || warn "could not unmount $m"
  done
  vms_teardown "$keep"
  disks_detach
  for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^dvlab-n[0-9]+$/ { print $1 }'); do
    ip netns del "$ns" || warn "could not delete netns $ns"
  done
  for i in $(ip -o link show 2>/dev/null | awk -F': ' '$2 ~ /^dvlab-n[0-9]+@/ { sub("@.*", "", $2); print $2 }'); do
    ip link del "$i" 2>/dev/null || true
  done
  acng_stop
  if bridge_exists; then ip link del "$LAB_BRIDGE" || warn "could not delete bridge $LAB_BRIDGE"; fi
  for i in "${hosts[@]}"; do
    remove_cgroups "$i"
    # nspawn cannot remove its propagation dir where /run is no tmpfs
    rmdir "/run/systemd/nspawn/propagate/n$i" 2>/dev/null || true
  done
  remove_cgroups ""
  rm -f "$LAB_JSON" "$SSH_CONFIG" "$KNOWN_HOSTS"
  rm -rf "$HOSTKEY_DIR" "$RUN_DIR"
  if [[ $keep == 1 ]]; then
    [[ -d $LAB_DIR/hosts ]] && touch "$LAB_DIR/hosts/.kept"
  else
    rm -rf "$LAB_DIR/hosts"
  fi
  if [[ $wipe == 1 && -d $DISK_DIR ]]; then
    log "deleting the disk images in $DISK_DIR"
    rm -rf "$DISK_DIR"
  fi
}

# ---------------------------------------------------------------- checks
# wait_ssh DEADLINE_SECONDS HOST...: prints the hosts still not answering
# (container hosts by index, VMs by name).
wait_ssh() {
  local deadline=$((SECONDS + $1)) i pending=()
  shift
  pending=("$@")
  while ((${#pending[@]})); do
    local next=()
    for i in "${pending[@]}"; do
      # a container host's index, or a VM's name (v<i>)
      if [[ $i == v* ]]; then ssh_answers "$i" || next+=("$i"); else ssh_answers "$(host_name "$i")" || next+=("$i"); fi
    done
    pending=("${next[@]}")
    ((${#pending[@]})) || break
    ((SECONDS < deadline)) || break
    sleep 0.5
  done
  ((${#pending[@]} == 0)) || printf '%s\n' "${pending[@]}"
}

# Checks, on every host in parallel, that the lab user logs in with the key,
# sudo works without a password and the host's disks are there.
verify_hosts() {
  local i j ids pids=() rc=0 failed=()
  for i in "$@"; do
    ids=''
    for ((j = 1; j <= FLEET_DISKS; j++)); do ids+=" $(disk_id "$i" "$j")"; done
    # shellcheck disable=SC2016 # expanded on the host
    lab_ssh "$(host_name "$i")" 'sudo -n true || exit 2
      for t in $(seq 1 40); do
        ok=1
        for d in '"$ids"'; do [ -b "/dev/disk/by-id/$d" ] || ok=0; done
        [ $ok = 1 ] && exit 0
        sleep 0.5
      done
      echo "missing disks; /dev/disk/by-id has: $(ls /dev/disk/by-id 2>/dev/null | tr "\n" " ")" >&2
      exit 3' </dev/null >"$LOG_DIR/n$i.verify" 2>&1 &
    pids+=($!)
  done
  local k=0
  for i in "$@"; do
    rc=0
    wait "${pids[k]}" || rc=$?
    k=$((k + 1))
    case $rc in
      0) ;;
      2) failed+=("n$i: passwordless sudo failed for $LAB_USER") ;;
      3) failed+=("n$i: its disks did not appear: $(tail -n1 "$LOG_DIR/n$i.verify")") ;;
      *) failed+=("n$i: ssh as $LAB_USER failed (rc $rc): $(tail -n1 "$LOG_DIR/n$i.verify")") ;;
    esac
  done
  ((${#failed[@]} == 0)) && return 0
  printf '[lab] %s\n' "${failed[@]}" >&2
  return 1
}

# ---------------------------------------------------------------- contract files
write_client_key() {
  [[ -f $CLIENT_KEY && -f $CLIENT_KEY.pub ]] && return 0
  rm -f "$CLIENT_KEY" "$CLIENT_KEY.pub"
  ssh-keygen -q -t ed25519 -N '' -C debvisor-lab -f "$CLIENT_KEY"
  log "generated the lab client key $CLIENT_KEY"
}

write_ssh_files() {
  local i name ip m f all=''
  mkdir -p "$HOSTKEY_DIR"
  : >"$KNOWN_HOSTS.tmp"
  : >"$SSH_CONFIG.tmp"
  for ((i = 1; i <= FLEET_HOSTS; i++)); do
    name=$(host_name "$i")
    ip=$(host_ip "$i")
    m=$(host_dir "$i")/root
    awk '{ print $1, $2 }' "$m/etc/ssh/ssh_host_ed25519_key.pub" >"$HOSTKEY_DIR/$name.pub"
    for f in "$m"/etc/ssh/ssh_host_*_key.pub; do
      awk -v h="$name,$ip" '{ print h, $1, $2 }' "$f" >>"$KNOWN_HOSTS.tmp"
    done
    printf 'Host %s %s\n  HostName %s\n\n' "$name" "$ip" "$ip" >>"$SSH_CONFIG.tmp"
    all+=" $name $ip"
  done
  for ((i = 1; i <= ${FLEET_VMS:-0}; i++)); do
    name=$(vm_name "$i")
    ip=$(vm_ip "$i")
    m=$(vm_dir "$i")
    awk '{ print $1, $2 }' "$m/ssh_host_ed25519_key.pub" >"$HOSTKEY_DIR/$name.pub"
    for f in "$m"/ssh_host_*_key.pub; do
      awk -v h="$name,$ip" '{ print h, $1, $2 }' "$f" >>"$KNOWN_HOSTS.tmp"
    done
    printf 'Host %s %s\n  HostName %s\n\n' "$name" "$ip" "$ip" >>"$SSH_CONFIG.tmp"
    all+=" $name $ip"
  done
  cat >>"$SSH_CONFIG.tmp" <<EOF
Host${all}
  User $LAB_USER
  IdentityFile $CLIENT_KEY
  IdentitiesOnly yes
  UserKnownHostsFile $KNOWN_HOSTS
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  PasswordAuthentication no
  ConnectTimeout 5
  LogLevel ERROR
EOF
  mv "$KNOWN_HOSTS.tmp" "$KNOWN_HOSTS"
  mv "$SSH_CONFIG.tmp" "$SSH_CONFIG"
}

write_lab_json() {
  local i j name sep='' dsep
  {
    printf '{\n  "release": %s,\n  "hosts": [' "$(json_str "$FLEET_RELEASE")"
    for ((i = 1; i <= FLEET_HOSTS; i++)); do
      name=$(host_name "$i")
      printf '%s\n    {"name": %s, "address": %s, "user": %s, "hostKeyFile": %s, "disks": [' \
        "$sep" "$(json_str "$name")" "$(json_str "$(host_ip "$i")")" \
        "$(json_str "$LAB_USER")" "$(json_str "$HOSTKEY_DIR/$name.pub")"
      dsep=''
      for ((j = 1; j <= FLEET_DISKS; j++)); do
        printf '%s%s' "$dsep" "$(json_str "/dev/disk/by-id/$(disk_id "$i" "$j")")"
        dsep=', '
      done
      printf '], "kind": "nspawn"}'
      sep=','
    done
    for ((i = 1; i <= ${FLEET_VMS:-0}; i++)); do
      name=$(vm_name "$i")
      printf '%s\n    {"name": %s, "address": %s, "user": %s, "hostKeyFile": %s, "disks": [' \
        "$sep" "$(json_str "$name")" "$(json_str "$(vm_ip "$i")")" \
        "$(json_str "$LAB_USER")" "$(json_str "$HOSTKEY_DIR/$name.pub")"
      dsep=''
      for ((j = 1; j <= FLEET_VM_DISKS; j++)); do
        printf '%s%s' "$dsep" "$(json_str "/dev/disk/by-id/$(vm_disk_id "$i" "$j")")"
        dsep=', '
      done
      printf '], "kind": "vm", "interfaces": ['
      dsep=''
      for ((j = 0; j < FLEET_VM_NICS; j++)); do
        printf '%s{"name": "eth%d", "mac": "%s", "tap": "%s"}' "$dsep" "$j" "$(vm_mac "$i" "$j")" "$(vm_tap "$i" "$j")"
        dsep=', '
      done
      printf '], "memoryMiB": %d, "cpus": %d}' "$FLEET_VM_MEMORY" "$FLEET_VM_CPUS"
      sep=','
    done
    printf '\n  ],\n'
    printf '  "privateKeyFile": %s,\n' "$(json_str "$CLIENT_KEY")"
    printf '  "sshConfigFile": %s,\n' "$(json_str "$SSH_CONFIG")"
    printf '  "knownHostsFile": %s,\n' "$(json_str "$KNOWN_HOSTS")"
    printf '  "aptProxy": %s\n}\n' "$(json_str "$LAB_PROXY")"
  } >"$LAB_JSON.tmp"
  mv "$LAB_JSON.tmp" "$LAB_JSON"
}

# RAM used by the lab's processes (hosts and proxy): the sum of their PSS.
lab_memory() {
  local root kb=0 pid v
  for pid in $(
    for root in $FLEET_CGROUPS; do
      find "$root" -name cgroup.procs -exec cat {} + 2>/dev/null
    done | sort -un
  ); do
    v=$(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null) || continue
    kb=$((kb + ${v:-0}))
  done
  printf '%d MiB' $((kb / 1024))
}
