# shellcheck shell=bash
# The base root filesystem shared (read-only, as overlay lower layer) by every
# lab host of one release. Built once with mmdebstrap, cached as a tarball in
# $LAB_DIR/cache/ and unpacked to $LAB_DIR/base/. Sourced by lab.sh.

BASE_PACKAGES=(
  # what the brief of a "plain Debian server" needs
  openssh-server sudo ca-certificates python3 iproute2 systemd-sysv dbus
  libpam-systemd udev util-linux procps kmod netbase iputils-ping less psmisc
  lsof uuid-runtime ifupdown
  # disk tools the storage layer drives
  fdisk gdisk parted e2fsprogs xfsprogs btrfs-progs lvm2
)

# The cache key: release + everything that shapes the tree (comments aside).
base_id() {
  {
    printf '%s\n' "$1" "${BASE_PACKAGES[*]}" "$LAB_PROXY" "$LAB_USER" "$LAB_MIRROR"
    grep -hv '^[[:space:]]*#' "$LAB_SRC/base.sh" "$LAB_SRC/base-customize.sh"
  } | sha256sum | cut -c1-12
}

base_sources() { # release -> the apt sources of the base
  printf '%s\n' \
    "deb $LAB_MIRROR $1 main" \
    "deb $LAB_MIRROR $1-updates main" \
    "deb ${LAB_MIRROR}-security $1-security main"
}

# ensure_base RELEASE: sets BASE_DIR (the unpacked tree) and BASE_ID.
ensure_base() {
  local release=$1 tarball
  BASE_ID=$(base_id "$release")
  BASE_DIR=$LAB_DIR/base/$release-$BASE_ID
  tarball=$LAB_DIR/cache/base-$release-$BASE_ID.tar
  if [[ -f $BASE_DIR.complete ]]; then
    return 0
  fi
  mkdir -p "$LAB_DIR/cache" "$LAB_DIR/base" "$LOG_DIR"
  if [[ ! -f $tarball ]]; then
    log "building the $release base rootfs with mmdebstrap (once; cached in $LAB_DIR/cache)"
    local srcs=()
    mapfile -t srcs < <(base_sources "$release")
    local pkgs
    pkgs=$(
      IFS=,
      printf '%s' "${BASE_PACKAGES[*]}"
    )
    if ! mmdebstrap --variant=minbase --mode=root --format=tar \
      --include="$pkgs" \
      --customize-hook="bash $(printf '%q' "$LAB_SRC/base-customize.sh") \"\$1\" $release" \
      "$release" "$tarball.part" "${srcs[@]}" >"$LOG_DIR/mmdebstrap-$release.log" 2>&1; then
      rm -f "$tarball.part"
      tail -n 25 "$LOG_DIR/mmdebstrap-$release.log" >&2
      die "mmdebstrap failed (full log: $LOG_DIR/mmdebstrap-$release.log)"
    fi
    mv "$tarball.part" "$tarball"
    log "base rootfs built: $(du -h "$tarball" | cut -f1)"
  fi
  log "unpacking the $release base rootfs"
  rm -rf "$BASE_DIR"
  mkdir -p "$BASE_DIR"
  tar -C "$BASE_DIR" --numeric-owner --xattrs --xattrs-include='*' -xpf "$tarball"
  touch "$BASE_DIR.complete"
  prune_bases "$release"
}

# Drop older bases of a release that no kept host still stands on.
prune_bases() {
  local release=$1 f used id
  used=$(cat "$LAB_DIR"/hosts/*/base-id 2>/dev/null || true)
  for f in "$LAB_DIR"/cache/base-"$release"-*.tar; do
    [[ -e $f ]] || continue
    id=${f##*-}
    id=${id%.tar}
    [[ $id == "$BASE_ID" ]] && continue
    rm -f "$f"
  done
  for f in "$LAB_DIR"/base/"$release"-*; do
    [[ -d $f ]] || continue
    id=${f##*-}
    [[ $id == "$BASE_ID" ]] && continue
    grep -qx "$release-$id" <<<"$used" && continue
    log "removing the outdated base $f"
    rm -rf "$f" "$f.complete"
  done
}
