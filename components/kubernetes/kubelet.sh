# kubelet enabled, so it comes back at boot. kubeadm init or join writes its configuration
# and (re)starts it; until then it restarts every few seconds, as kubeadm expects.
if ! systemctl is-enabled --quiet kubelet.service 2>/dev/null; then
  systemctl enable kubelet.service >&2 2>&1 || dv_die "cannot enable kubelet"
  dv_changed "enabled kubelet"
fi
