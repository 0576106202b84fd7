# Join secrets, minted on the first control plane (one step per joining node, DV_JOINERS
# naming it; the script takes several): per joining node a bootstrap token (short TTL)
# and, for a control plane, the key its copy of the control-plane certificates is encrypted
# with (uploaded once per run, shared by the control planes minted in it). Each node's
# secrets are recorded in a root-only file (/etc/kubernetes/debvisor/join/<node>) and
# printed again on later runs, so a re-run gives its join identical inputs. A node not
# joined yet whose token expired (or whose certificates were uploaded again for another
# node) gets new ones. Prints, last, `@fact join.<node>.token=` and
# `@fact join.<node>.certificate_key=` (secret output).
# Params: DV_JOINERS (`node:controlPlane|worker` words), DV_TTL (token lifetime),
# DV_CLUSTER_CONFIG (the ClusterConfiguration), DV_CRI_SOCKET, DV_ADVERTISE_ADDRESS (the first
# control plane's address, empty for kubeadm's guess).
admin=/etc/kubernetes/admin.conf
records=/etc/kubernetes/debvisor/join
log=/etc/kubernetes/debvisor/kubeadm-tokens.log
uploaded=$records/.uploaded-certificate-key
umask 077
mkdir -p "$records"
chmod 700 /etc/kubernetes/debvisor "$records"
[ -s "$admin" ] || dv_die "$admin is missing: the cluster is not initialized on this host"

kc() { kubectl --kubeconfig "$admin" --request-timeout=15s "$@"; }
field() { sed -n "s/^$1=//p" "$2" 2>/dev/null || true; }
# A node counts as joined once it registered; a control plane once kubeadm marked it one (its last join phase).
joined() {
  local labels
  labels=$(kc get node "$1" -o jsonpath='{.metadata.labels}' 2>/dev/null) || return 1
  [ "$2" != controlPlane ] || [[ $labels == *'"node-role.kubernetes.io/control-plane"'* ]]
}
# The token (by id) still exists with 10 minutes left.
token_valid() {
  local exp
  exp=$(kc -n kube-system get secret "bootstrap-token-$1" -o jsonpath='{.data.expiration}' 2>/dev/null) || return 1
  [ -n "$exp" ] || return 0 # no expiration: never expires
  exp=$(printf '%s' "$exp" | base64 -d 2>/dev/null) || return 1
  [ "$(date -d "$exp" +%s 2>/dev/null || echo 0)" -gt $(($(date +%s) + 600)) ]
}

read -r -a joiners <<<"$DV_JOINERS"
new_key=""
for j in "${joiners[@]}"; do
  node=${j%%:*} role=${j#*:}
  rec=$records/$node
  token=$(field token "$rec")
  key=$(field certificate_key "$rec")
  fresh=false
  if [ -z "$token" ]; then
    fresh=true
  elif joined "$node" "$role"; then
    : # joined: its record stays what its join step got
  elif ! token_valid "${token%%.*}"; then
    dv_log "$node has not joined and its token expired: minting a new one"
    fresh=true
  elif [ "$role" = controlPlane ] && { [ -z "$key" ] || [ "$key" != "$(cat "$uploaded" 2>/dev/null)" ] || ! kc -n kube-system get secret kubeadm-certs >/dev/null 2>&1; }; then
    dv_log "$node has not joined and the certificates for its key are gone: minting new ones"
    fresh=true
  fi
  [ "$fresh" = true ] || continue
  token=$(kubeadm token create --kubeconfig "$admin" --ttl "$DV_TTL" --description "DebVisor join of $node" 2>/dev/null) || dv_die "kubeadm could not create a bootstrap token for $node"
  [[ $token =~ ^[a-z0-9]{6}\.[a-z0-9]{16}$ ]] || dv_die "kubeadm token create printed no token for $node"
  content="token=$token"
  if [ "$role" = controlPlane ]; then
    if [ -z "$new_key" ]; then
      new_key=$(kubeadm certs certificate-key 2>/dev/null) || dv_die "kubeadm could not make a certificate key"
      [[ $new_key =~ ^[a-f0-9]{64}$ ]] || dv_die "kubeadm certs certificate-key printed no key"
    fi
    content="$content
certificate_key=$new_key"
  fi
  tmp=$(mktemp "$rec.XXXXXX")
  printf '%s\n' "$content" >"$tmp"
  mv -f "$tmp" "$rec"
  dv_changed "minted the join token of $node"
done

if [ -n "$new_key" ]; then
  # The key goes in a root-only config file, not on kubeadm's command line.
  cfg=$(mktemp /etc/kubernetes/debvisor/upload-certs.XXXXXX)
  trap 'rm -f "$cfg"' EXIT
  # The advertise address as init had it: kubeadm's guess needs a default route (an
  # air-gapped host may have none: "cannot use 0.0.0.0 as the bind address").
  endpoint=""
  [ -z "$DV_ADVERTISE_ADDRESS" ] || endpoint="localAPIEndpoint:
  advertiseAddress: $DV_ADVERTISE_ADDRESS
"
  printf 'apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\ncertificateKey: %s\n%snodeRegistration:\n  criSocket: %s\n---\n%s\n' "$new_key" "$endpoint" "$DV_CRI_SOCKET" "$DV_CLUSTER_CONFIG" >"$cfg"
  if ! kubeadm init phase upload-certs --upload-certs --skip-certificate-key-print --config "$cfg" >>"$log" 2>&1; then
    tail -n 20 "$log" | sed -E 's/[a-z0-9]{6}\.[a-z0-9]{16}/<token>/g; s/[A-Fa-f0-9]{64}/<key>/g' >&2 || true
    dv_die "kubeadm could not upload the control-plane certificates (log: $log, root only)"
  fi
  rm -f "$cfg"
  printf '%s\n' "$new_key" >"$uploaded"
  dv_changed "uploaded the control-plane certificates for the joining control planes"
fi

# Secrets last: nothing after the first of these lines can fail.
out=""
for j in "${joiners[@]}"; do
  node=${j%%:*} role=${j#*:}
  out+="@fact join.$node.token=$(field token "$records/$node")"$'\n'
  [ "$role" != controlPlane ] || out+="@fact join.$node.certificate_key=$(field certificate_key "$records/$node")"$'\n'
done
printf '%s' "$out"
