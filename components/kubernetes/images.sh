# The control-plane images pulled ahead (kubeadm config images pull), so init and join do
# not wait on them; only the missing ones are pulled. Params: DV_CONFIG (the cluster's
# kubeadm config, no secrets in it).
dir=/etc/kubernetes/debvisor
mkdir -p "$dir"
chmod 700 "$dir"
config=$dir/images.yaml
dv_write_file "$config" 600 "$DV_CONFIG" || true

images=$(kubeadm config images list --config "$config" 2>/dev/null) || dv_die "kubeadm cannot list the images of $config"
missing=()
for img in $images; do
  crictl inspecti "$img" >/dev/null 2>&1 || missing+=("$img")
done
if [ ${#missing[@]} -gt 0 ]; then
  dv_log "pulling ${missing[*]}"
  kubeadm config images pull --config "$config" >&2 || dv_die "kubeadm could not pull the control-plane images (registry reachable? kubernetes.imageRepository)"
  dv_changed "pulled ${missing[*]}"
fi
