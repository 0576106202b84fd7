# @include host/include/apt.sh
# kubeadm, kubelet and kubectl at the cluster's version (apt pins them: the repo part),
# cri-tools and kubernetes-cni from the same repository, and the Debian tools kubeadm's
# preflight looks for. The pinned ones are checked after install: a host with another
# version (an older cluster, another repository's kubectl) is refused, never upgraded
# here. Held: DV_HOLD (the others are held by the security layer's hold hook).
# Params: DV_PACKAGES, DV_VERSIONS (name=upstream-version words), DV_HOLD.
read -r -a pkgs <<<"$DV_PACKAGES"
# A busy proxy or mirror can drop a transfer (seen in the lab: a 503 from the site's apt
# proxy while another node fetched the same package): fetch the missing packages first,
# retrying, then install them from apt's cache.
missing=()
for p in "${pkgs[@]}"; do dv_installed "$p" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-cache show "${missing[@]}" >/dev/null 2>&1 || dv_apt_update
  for try in 1 2 3 4 5; do
    if dv_apt_get install --download-only --no-install-recommends "${missing[@]}" >&2; then break; fi
    [ "$try" -lt 5 ] || dv_die "downloading ${missing[*]} kept failing (5 tries)"
    dv_log "downloading ${missing[*]} failed (try $try of 5), retrying in 15 s"
    sleep 15
  done
fi
dv_install_refreshed "${pkgs[@]}"
dv_check_versions "$DV_VERSIONS"

read -r -a hold <<<"$DV_HOLD"
for p in "${hold[@]}"; do
  if [ "$(dpkg-query -W -f='${db:Status-Want}' "$p" 2>/dev/null)" != hold ]; then
    apt-mark hold "$p" >&2
    dv_changed "held $p"
  fi
done
dv_fact kubeadm_version "$(kubeadm version -o short 2>/dev/null || echo unknown)"
