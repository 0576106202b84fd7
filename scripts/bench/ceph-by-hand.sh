#!/bin/bash
# The same Ceph cluster DebVisor's storage layer makes, made by hand from the machine
# over SSH (the benchmark's reference): packages, then the manual bootstrap Ceph's own
# documentation describes (fsid and keys on the first monitor, a monmap, mon --mkfs on
# each host, managers, raw BlueStore OSDs, metadata servers, CephFS, an RBD pool), then
# waits for HEALTH_OK. Usage: ceph-by-hand.sh SSH_CONFIG PUBLIC_NETWORK "PACKAGES" HOST=ADDRESS=DISK...
set -euo pipefail
cfg=$1 net=$2 packages=$3
shift 3
S() { ssh -F "$cfg" "root@$1" "${@:2}"; }
names=() addrs=() disks=()
for h in "$@"; do IFS='=' read -r n a d <<<"$h"; names+=("$n"); addrs+=("$a"); disks+=("$d"); done
first=${names[0]}

# Packages, on every host at once.
for n in "${names[@]}"; do
  S "$n" "export DEBIAN_FRONTEND=noninteractive; apt-get -q update >/dev/null && apt-get -q -y install --no-install-recommends $packages >/dev/null" &
done
wait
# The host fixes a container host and Debian trixie's ceph-mgr need (DebVisor does the same).
for n in "${names[@]}"; do
  S "$n" 'systemctl mask -q nvmf-autoconnect.service 2>/dev/null || true
    sed -i -e "s/^import bcrypt$/# import bcrypt/" -e "s/^def password_hash(password: Optional\[str\], salt_password: Optional\[str\] = None) -> Optional\[str\]:$/&\n    import bcrypt/" /usr/share/ceph/mgr/mgr_util.py'
done

monhost=$(IFS=,; echo "${addrs[*]}")
addv=""
for i in "${!names[@]}"; do addv+=" --addv ${names[$i]} [v2:${addrs[$i]}:3300,v1:${addrs[$i]}:6789]"; done
S "$first" "set -e; umask 077; fsid=\$(cat /proc/sys/kernel/random/uuid); t=/var/lib/ceph/tmp; mkdir -p \$t
cat >/etc/ceph/ceph.conf <<CONF
[global]
fsid = \$fsid
mon_host = $monhost
public_network = $net
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
osd_pool_default_size = 3
osd_pool_default_min_size = 2
osd_memory_target = 939524096
mon_data_avail_warn = 5
mon_data_avail_crit = 4
CONF
chmod 644 /etc/ceph/ceph.conf
ceph-authtool -q --create-keyring \$t/mon.keyring --gen-key -n mon. --cap mon 'allow *'
ceph-authtool -q --create-keyring /etc/ceph/ceph.client.admin.keyring --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *'
ceph-authtool -q --create-keyring /var/lib/ceph/bootstrap-osd/ceph.keyring --gen-key -n client.bootstrap-osd --cap mon 'profile bootstrap-osd' --cap mgr 'allow r'
ceph-authtool -q \$t/mon.keyring --import-keyring /etc/ceph/ceph.client.admin.keyring
ceph-authtool -q \$t/mon.keyring --import-keyring /var/lib/ceph/bootstrap-osd/ceph.keyring
monmaptool -q --create --fsid \$fsid --set-min-mon-release reef $addv \$t/monmap
chown -R ceph: \$t /var/lib/ceph/bootstrap-osd"
files="etc/ceph/ceph.conf etc/ceph/ceph.client.admin.keyring var/lib/ceph/bootstrap-osd/ceph.keyring var/lib/ceph/tmp"
for n in "${names[@]:1}"; do S "$first" "tar -C / -cpf - $files" | S "$n" "tar -C / -xpf -"; done
for n in "${names[@]}"; do
  S "$n" "set -e; runuser -u ceph -- ceph-mon --mkfs -i $n --monmap /var/lib/ceph/tmp/monmap --keyring /var/lib/ceph/tmp/mon.keyring; systemctl enable -q --now ceph-mon@$n"
done
until S "$first" "ceph quorum_status -f json" 2>/dev/null | python3 -c "import json,sys; sys.exit(0 if len(json.load(sys.stdin)['quorum_names'])==$# else 1)"; do sleep 2; done
for n in "${names[@]}"; do
  S "$n" "set -e; for t in mgr mds; do d=/var/lib/ceph/\$t/ceph-$n; mkdir -p \$d
    if [ \$t = mgr ]; then ceph auth get-or-create mgr.$n mon 'allow profile mgr' osd 'allow *' mds 'allow *' -o \$d/keyring
    else ceph auth get-or-create mds.$n mon 'profile mds' mgr 'profile mds' mds 'allow *' osd 'allow *' -o \$d/keyring; fi
    chown -R ceph: \$d; systemctl enable -q --now ceph-\$t@$n; done"
done
for i in "${!names[@]}"; do
  S "${names[$i]}" "set -e; d=\$(readlink -f ${disks[$i]}); ceph-volume raw prepare --bluestore --data \$d >/dev/null 2>&1
    ceph-volume raw activate --device \$d --no-systemd >/dev/null 2>&1
    id=\$(ceph-volume raw list \$d --format json | python3 -c 'import json,sys; print(list(json.load(sys.stdin).values())[0][\"osd_id\"])')
    systemctl enable -q --now ceph-osd@\$id" &
done
wait
S "$first" "set -e; ceph mgr module disable restful 2>/dev/null || true; ceph fs volume create cephfs >/dev/null 2>&1
  ceph osd pool create rbd >/dev/null 2>&1; ceph osd pool application enable rbd rbd >/dev/null 2>&1; rbd pool init rbd
  for t in \$(seq 1 300); do ceph health | grep -q HEALTH_OK && exit 0; sleep 1; done; ceph health detail; exit 1"
