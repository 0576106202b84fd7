# crictl pointed at containerd's socket (/etc/crictl.yaml), and installed when the host's
# apt sources have it: Debian has no cri-tools package (bookworm, trixie); Kubernetes'
# apt repository does. Params: DV_CRICTL_CONF, DV_PACKAGE.
dv_write_file /etc/crictl.yaml 644 "$DV_CRICTL_CONF" || true
if ! command -v crictl >/dev/null 2>&1; then
  if [ -n "$(apt-cache policy "$DV_PACKAGE" 2>/dev/null | awk '/Candidate:/ && $2 != "(none)" {print $2}')" ]; then
    dv_install "$DV_PACKAGE"
  else
    dv_log "crictl is not installed: no $DV_PACKAGE package in this host's apt sources (Debian has none; Kubernetes' apt repository does)"
  fi
fi
if command -v crictl >/dev/null 2>&1; then
  dv_fact crictl "$(command -v crictl)"
else
  dv_fact crictl absent
fi
