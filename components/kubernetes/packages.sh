# @include host/include/apt.sh
# kubeadm, kubelet and kubectl at the cluster's version (apt pins them: the repo part),
# cri-tools and kubernetes-cni from the same repository, and the Debian tools kubeadm's
# preflight looks for. The pinned ones are checked after install: a host with another
# version (an older cluster, another repository's kubectl) is refused, never upgraded
# here. Held: DV_HOLD (the others are held by the security layer's hold hook).
# Params: DV_PACKAGES, DV_VERSIONS (name=upstream-version words), DV_HOLD.
read -r -a pkgs <<<"$DV_PACKAGES"
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
