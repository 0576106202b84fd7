# The Kubernetes apt repository (one per minor; flat, suite /): its signing key dearmored
# into DebVisor's keyring, the source signed by that key alone, and kubeadm, kubelet and
# kubectl pinned to the cluster's version. The key is the inline one (nothing fetched), or
# fetched over https only while the keyring does not hold the key of that origin yet.
# Params: DV_KEY (armored key, or empty), DV_KEY_URL (https URL, or empty),
# DV_APT_SOURCE (the .list file), DV_APT_PIN (apt preferences).
keyring=/etc/apt/keyrings/debvisor-kubernetes.gpg
origin_file=/etc/apt/keyrings/debvisor-kubernetes.origin
refresh=false

if [ -n "$DV_KEY" ]; then
  origin="inline sha256:$(printf '%s\n' "$DV_KEY" | sha256sum | cut -d' ' -f1)"
else
  [ -n "$DV_KEY_URL" ] || dv_die "no key and no keyUrl for the Kubernetes repository"
  origin=$DV_KEY_URL
fi
if [ ! -s "$keyring" ] || [ "$(cat "$origin_file" 2>/dev/null)" != "$origin" ]; then
  mkdir -p /etc/apt/keyrings
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  if [ -n "$DV_KEY" ]; then
    printf '%s\n' "$DV_KEY" >"$work/key.asc"
  else
    command -v curl >/dev/null 2>&1 || dv_install curl
    curl -fsSL --proto '=https' --tlsv1.2 --max-time 60 --retry 3 -o "$work/key.asc" "$DV_KEY_URL" ||
      dv_die "cannot fetch the Kubernetes repository key from $DV_KEY_URL (an air-gapped site gives it inline: kubernetes.packageRepository.key)"
  fi
  command -v gpg >/dev/null 2>&1 || dv_install gnupg
  GNUPGHOME="$work" gpg --batch --quiet --dearmor <"$work/key.asc" >"$work/key.gpg" 2>/dev/null ||
    dv_die "the Kubernetes repository key from ${DV_KEY_URL:-the settings} is not an armored OpenPGP key"
  [ -s "$work/key.gpg" ] || dv_die "the Kubernetes repository key from ${DV_KEY_URL:-the settings} is empty"
  # Into place atomically (the work folder may be on another file system).
  tmp=$(mktemp "$keyring.debvisor.XXXXXX")
  cat "$work/key.gpg" >"$tmp"
  chmod 644 "$tmp"
  mv -f "$tmp" "$keyring"
  printf '%s\n' "$origin" >"$origin_file"
  dv_changed "wrote $keyring"
  refresh=true
fi

if dv_write_file /etc/apt/sources.list.d/debvisor-kubernetes.list 644 "$DV_APT_SOURCE"; then refresh=true; fi
dv_write_file /etc/apt/preferences.d/debvisor-kubernetes 644 "$DV_APT_PIN" || true
if [ "$refresh" = true ]; then dv_apt_update; fi
