# kubeadm init on the first control plane, once: never again once it succeeded (recorded
# in /etc/kubernetes/debvisor/init-done), and never a reset. An init that stopped after the
# API came up is finished with kubeadm's idempotent phases; one that stopped before is
# left for a person to look at. kubeadm's own output holds secrets: it goes to a root-only
# log, and only a masked tail is shown when it fails. The bootstrap token kubeadm mints at
# init (24 h) is deleted: joins get short-lived ones of their own (their token steps).
# Prints, last, the admin kubeconfig (server: the controlPlaneEndpoint) and the CA's hash.
# Params: DV_CONFIG (Init + Cluster + Kubelet configuration, no secrets), DV_ENDPOINT
# (host:port), DV_UPLOAD_CERTS (1: several control planes), DV_WAIT (seconds for the API),
# DV_INIT_TOKEN_DESCRIPTION (the description of kubeadm init's own token, deleted here).
dir=/etc/kubernetes/debvisor
mkdir -p "$dir"
chmod 700 "$dir"
config=$dir/init.yaml
log=$dir/kubeadm-init.log
done_marker=$dir/init-done
admin=/etc/kubernetes/admin.conf
dv_write_file "$config" 600 "$DV_CONFIG" || true

api_answers() { kubectl --kubeconfig "$admin" --request-timeout=5s get --raw /readyz >/dev/null 2>&1; }
wait_api() {
  local _
  for _ in $(seq 1 "$DV_WAIT"); do
    api_answers && return 0
    sleep 1
  done
  return 1
}
# The end of kubeadm's log with bootstrap tokens and keys masked.
show_log() {
  tail -n 40 "$log" | sed -E 's/[a-z0-9]{6}\.[a-z0-9]{16}/<token>/g; s/[A-Fa-f0-9]{64}/<key>/g' >&2 || true
}
kubeadm_logged() {
  umask 077
  if ! kubeadm "$@" >>"$log" 2>&1; then
    show_log
    dv_die "kubeadm $1 $2 failed (the whole log, with secrets, is $log: root only)"
  fi
}

if [ -e "$done_marker" ]; then
  wait_api || dv_die "the cluster was initialized here, but the API at $DV_ENDPOINT does not answer after ${DV_WAIT}s (kubelet, containerd, the VIP?)"
elif [ -e "$admin" ] || [ -n "$(ls -A /etc/kubernetes/manifests 2>/dev/null)" ] || [ -n "$(ls -A /var/lib/etcd 2>/dev/null)" ]; then
  dv_log "an earlier kubeadm init stopped before DebVisor recorded it: waiting for its API"
  wait_api || dv_die "an earlier kubeadm init on this host stopped half-way and its API at $DV_ENDPOINT does not answer: nothing is reset automatically (that would destroy this control plane). Read $log; to start over, run 'kubeadm reset -f' on this host, then pulumi up again"
  kc() { kubectl --kubeconfig "$admin" --request-timeout=15s "$@" >/dev/null 2>&1; }
  if kc -n kube-system get configmap kubeadm-config && kc -n kube-public get configmap cluster-info &&
    kc -n kube-system get deployment coredns && kc -n kube-system get daemonset kube-proxy; then
    dv_log "kubeadm init had finished (its config, cluster-info and add-ons are there)"
  else
    # The phases after the control plane came up, each idempotent.
    kubeadm_logged init phase upload-config all --config "$config"
    kubeadm_logged init phase mark-control-plane --config "$config"
    kubeadm_logged init phase bootstrap-token --config "$config" --skip-token-print
    kubeadm_logged init phase kubelet-finalize all --config "$config"
    kubeadm_logged init phase addon all --config "$config"
    dv_changed "finished an interrupted kubeadm init"
  fi
  touch "$done_marker"
else
  upload=()
  [ "$DV_UPLOAD_CERTS" = 1 ] && upload=(--upload-certs --skip-certificate-key-print)
  dv_log "running kubeadm init (log: $log)"
  kubeadm_logged init --config "$config" --skip-token-print "${upload[@]}"
  wait_api || dv_die "kubeadm init finished, but the API at $DV_ENDPOINT does not answer after ${DV_WAIT}s (the VIP?)"
  touch "$done_marker"
  dv_changed "ran kubeadm init"
fi

# kubeadm init's own token (DebVisor's config gives it this description and 15 minutes) is
# used by no join: delete it (by its id, which is no secret). Other tokens are left alone.
ids=$(kubeadm token list --kubeconfig "$admin" -o json 2>/dev/null |
  jq -r --arg d "$DV_INIT_TOKEN_DESCRIPTION" 'select(.description == $d) | .token | split(".")[0]' 2>/dev/null || true)
for id in $ids; do
  kubeadm token delete --kubeconfig "$admin" "$id" >/dev/null 2>&1 || dv_die "cannot delete kubeadm's default bootstrap token $id"
  dv_changed "deleted kubeadm's default bootstrap token $id"
done

hash=$(openssl x509 -pubkey -noout -in /etc/kubernetes/pki/ca.crt | openssl pkey -pubin -outform der 2>/dev/null | openssl dgst -sha256 -hex | sed 's/^.* //')
[[ $hash =~ ^[a-f0-9]{64}$ ]] || dv_die "cannot hash the cluster CA's public key (/etc/kubernetes/pki/ca.crt)"
kubeconfig=$(sed -E "s#^([[:space:]]*server:[[:space:]]*).*#\\1https://$DV_ENDPOINT#" "$admin" | base64 -w0)
[ -n "$kubeconfig" ] || dv_die "cannot read $admin"
# Secrets last: nothing after these lines can fail.
dv_fact ca_cert_hash "sha256:$hash"
dv_fact kubeconfig "$kubeconfig"
