# @include host/include/apt.sh
# containerd from Debian, pinned and checked, configured for Kubernetes and Docker alike:
# the systemd cgroup driver, the sandbox image, registries (mirrors, insecure ones) as
# hosts.toml files under certs.d. Params: DV_PACKAGES (space-separated), DV_VERSIONS
# (name=upstream-version words), DV_APT_PIN (apt preferences for every container package
# of the release), DV_CONFIG (config.toml), DV_CERTS_D (the certs.d folder),
# DV_REGISTRY_HOSTS (lines `<registry> <base64 hosts.toml>`; empty: none).
read -r -a pkgs <<<"$DV_PACKAGES"
marker='# Managed by DebVisor (containers layer)'

dv_write_file /etc/apt/preferences.d/debvisor-containers 644 "$DV_APT_PIN" || true
dv_install_refreshed "${pkgs[@]}"

# The installed versions are the pinned ones (a host that got another containerd, e.g.
# Docker's containerd.io or a backport, is refused rather than reconfigured).
dv_check_versions "$DV_VERSIONS"

restart=false
if dv_write_file /etc/containerd/config.toml 644 "$DV_CONFIG"; then restart=true; fi

# Registry hosts: one hosts.toml per registry; files of registries no longer listed go
# (only the ones DebVisor wrote).
mkdir -p "$DV_CERTS_D"
declare -A wanted=()
while read -r reg b64; do
  [ -n "$reg" ] || continue
  wanted[$reg]=1
  dv_write_file "$DV_CERTS_D/$reg/hosts.toml" 644 "$(printf '%s' "$b64" | base64 -d)" || true
done <<<"$DV_REGISTRY_HOSTS"
for f in "$DV_CERTS_D"/*/hosts.toml; do
  [ -f "$f" ] || continue
  reg=$(basename "$(dirname "$f")")
  [ -n "${wanted[$reg]:-}" ] && continue
  head -n 1 "$f" | grep -qF "$marker" || continue
  dv_remove_file "$f" || true
  rmdir "$(dirname "$f")" 2>/dev/null || true
done

if ! dv_enable_now containerd.service && [ "$restart" = true ]; then
  # Running containers keep running: their shims outlive the daemon.
  systemctl restart containerd.service
  dv_changed "restarted containerd"
fi
for _ in $(seq 1 30); do
  [ -S /run/containerd/containerd.sock ] && ctr version >/dev/null 2>&1 && break
  sleep 1
done
ctr version >/dev/null 2>&1 || dv_die "containerd runs but ctr cannot reach /run/containerd/containerd.sock"
dv_fact containerd_version "$(ctr version 2>/dev/null | awk '/^Server:/ {s=1} s && /Version:/ {print $2; exit}')"
