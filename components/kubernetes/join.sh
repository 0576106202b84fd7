# kubeadm join of one node, once: skipped when the node has joined already (its
# kubelet.conf, and on a control plane its static pods). The JoinConfiguration holds the
# node's bootstrap token (and certificate key): it arrives as a secret parameter, lives
# in a root-only file while kubeadm runs and is removed after. Before joining, the token
# is checked against the cluster's public cluster-info (which lists a signature per valid
# token id): an expired one stops here with how to get a new one. A worker left half-way
# by an earlier join is reset (it holds no cluster state); a control plane is not.
# Params: DV_NODE, DV_CONTROL_PLANE (1 or 0), DV_ENDPOINT (host:port), DV_TOKENS_STEP
# (its token step's name); secret: DV_JOIN_CONFIG.
dir=/etc/kubernetes/debvisor
mkdir -p "$dir"
chmod 700 "$dir"
config=$dir/join.yaml
log=$dir/kubeadm-join.log
marker=$dir/joined
umask 077

show_log() {
  tail -n 40 "$log" | sed -E 's/[a-z0-9]{6}\.[a-z0-9]{16}/<token>/g; s/[A-Fa-f0-9]{64}/<key>/g' >&2 || true
}
complete() {
  [ -s /etc/kubernetes/kubelet.conf ] || return 1
  [ "$DV_CONTROL_PLANE" != 1 ] || { [ -s /etc/kubernetes/manifests/kube-apiserver.yaml ] && [ -s /etc/kubernetes/manifests/etcd.yaml ]; }
}

if [ -e "$marker" ] || complete; then
  rm -f "$config"
  [ -e "$marker" ] || touch "$marker"
  dv_log "$DV_NODE has joined the cluster already"
  exit 0
fi

if [ -e /etc/kubernetes/kubelet.conf ] || [ -e /etc/kubernetes/bootstrap-kubelet.conf ] || [ -e /etc/kubernetes/pki/ca.crt ]; then
  if [ "$DV_CONTROL_PLANE" = 1 ]; then
    dv_die "an earlier kubeadm join of control plane $DV_NODE stopped half-way: nothing is reset automatically (it may be an etcd member already). Read $log; then on $DV_NODE run 'kubeadm reset -f', remove its etcd member if it has one, and pulumi up again"
  fi
  dv_log "an earlier join of worker $DV_NODE stopped half-way: resetting it (a worker holds no cluster state)"
  kubeadm reset -f >>"$log" 2>&1 || { show_log; dv_die "kubeadm reset of $DV_NODE failed (log: $log)"; }
  dv_changed "reset a half-done join"
fi

dv_write_file "$config" 600 "$DV_JOIN_CONFIG" >/dev/null || true
id=$(sed -n 's/^ *token: \([a-z0-9]\{6\}\)\..*/\1/p' "$config" | head -n 1)
[ -n "$id" ] || dv_die "the join configuration of $DV_NODE holds no bootstrap token"
# cluster-info is public (no credentials sent); the CA is pinned by kubeadm itself. The
# controller manager signs it for a new token within seconds of its creation: a token
# minted just now may not be there yet, so an absent signature is only believed after a minute.
signed() { [[ $info == *"jws-kubeconfig-$id"* ]]; }
if info=$(curl -sfk --max-time 15 "https://$DV_ENDPOINT/api/v1/namespaces/kube-public/configmaps/cluster-info" 2>/dev/null); then
  for _ in $(seq 1 12); do
    signed && break
    sleep 5
    info=$(curl -sfk --max-time 15 "https://$DV_ENDPOINT/api/v1/namespaces/kube-public/configmaps/cluster-info" 2>/dev/null) || true
  done
  if ! signed; then
    rm -f "$config"
    dv_die "the bootstrap token of $DV_NODE (id $id) has expired or is gone: tokens live 1 h. Get a new one by running its token step again, which mints one when the node has not joined: pulumi up --replace \"\$(pulumi stack --show-urns | grep -o 'urn:[^ ]*::$DV_TOKENS_STEP')\""
  fi
else
  dv_log "cannot read cluster-info at $DV_ENDPOINT yet: kubeadm join retries discovery itself"
fi

dv_log "running kubeadm join (log: $log)"
if ! kubeadm join --config "$config" >>"$log" 2>&1; then
  show_log
  dv_die "kubeadm join of $DV_NODE failed (the whole log is $log: root only)"
fi
rm -f "$config"
touch "$marker"
dv_changed "joined the cluster as a $([ "$DV_CONTROL_PLANE" = 1 ] && echo control plane || echo worker)"
