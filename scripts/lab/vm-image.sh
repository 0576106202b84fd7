# shellcheck shell=bash disable=SC2034 # VM_IMAGE_DIR: read by vm.sh and lab.sh
# The VM tier's disk image per release: a Debian root filesystem with the Debian
# kernel, made natively with mmdebstrap (no installer, no emulation), in which
# dkms builds the ZFS kernel module for that kernel while the image is made
# (under QEMU's software emulation that compile would take far too long).
# zfsutils-linux and the rest of ZFS are NOT installed: that is the product's job.
#
# Cached in $LAB_DIR/cache/vm-<release>-<id>/ (<id> hashes the package list,
# this file and vm-customize.sh): root.img (a sparse raw ext4 filesystem, no
# partition table), vmlinuz, initrd.img, root-uuid, kernel-version. Each VM
# boots that kernel directly (QEMU -kernel) on a qcow2 overlay of root.img.
# Sourced by lab.sh.

VM_PACKAGES=(
  # the same "plain Debian server" as the container hosts
  openssh-server sudo ca-certificates python3 iproute2 systemd-sysv dbus
  libpam-systemd udev util-linux procps kmod netbase iputils-ping less psmisc
  lsof uuid-runtime ifupdown
  fdisk gdisk parted e2fsprogs xfsprogs btrfs-progs lvm2
  # what a machine (not a container) needs to boot
  linux-image-amd64 initramfs-tools zstd
  # MD RAID: installing it under emulation rebuilds the initramfs (minutes)
  mdadm
  # the ZFS kernel module, compiled here by dkms for the image's kernel
  linux-headers-amd64 zfs-dkms
)
VM_ROOT_SIZE=${VM_ROOT_SIZE:-20G}

vm_image_id() {
  {
    printf '%s\n' "$1" "${VM_PACKAGES[*]}" "$VM_ROOT_SIZE" "$LAB_PROXY" "$LAB_USER" "$LAB_MIRROR"
    grep -hv '^[[:space:]]*#' "$LAB_SRC/vm-image.sh" "$LAB_SRC/vm-customize.sh"
  } | sha256sum | cut -c1-12
}

# ensure_vm_image RELEASE: sets VM_IMAGE_DIR (built once, then reused).
ensure_vm_image() {
  local release=$1 id dir tree t0 uuid pkgs kver
  id=$(vm_image_id "$release")
  dir=$LAB_DIR/cache/vm-$release-$id
  VM_IMAGE_DIR=$dir
  [[ -f $dir/complete ]] && return 0
  mkdir -p "$LAB_DIR/cache" "$LOG_DIR"
  t0=$SECONDS
  log "building the $release VM image with mmdebstrap (kernel, and the ZFS module with dkms; once, ~10 min; cached in $LAB_DIR/cache)"
  rm -rf "$dir" "$dir.part"
  mkdir -p "$dir.part"
  tree=$dir.part/tree
  pkgs=$(
    IFS=,
    printf '%s' "${VM_PACKAGES[*]}"
  )
  # contrib for zfs-dkms while building; the image itself keeps main only (vm-customize.sh)
  if ! mmdebstrap --variant=minbase --mode=root --format=directory \
    --include="$pkgs" \
    --aptopt='APT::Install-Recommends "false"' \
    --customize-hook="bash $(printf '%q' "$LAB_SRC/vm-customize.sh") \"\$1\" $release" \
    "$release" "$tree" \
    "deb $LAB_MIRROR $release main contrib" \
    "deb $LAB_MIRROR $release-updates main contrib" \
    "deb ${LAB_MIRROR}-security $release-security main contrib" \
    >"$LOG_DIR/vm-image-$release.log" 2>&1; then
    tail -n 30 "$LOG_DIR/vm-image-$release.log" >&2
    rm -rf "$dir.part"
    die "building the VM image failed (full log: $LOG_DIR/vm-image-$release.log)"
  fi
  kver=$(<"$tree/etc/debvisor-lab/kernel-version")
  uuid=$(<"$tree/etc/debvisor-lab/root-uuid")
  cp "$tree/boot/vmlinuz-$kver" "$dir.part/vmlinuz"
  cp "$tree/boot/initrd.img-$kver" "$dir.part/initrd.img"
  printf '%s\n' "$kver" >"$dir.part/kernel-version"
  printf '%s\n' "$uuid" >"$dir.part/root-uuid"
  # The root filesystem straight from the tree: no loop device, no partition table.
  if ! mkfs.ext4 -q -F -L dvlab-root -U "$uuid" -E root_owner=0:0 -d "$tree" \
    "$dir.part/root.img" "$VM_ROOT_SIZE" >>"$LOG_DIR/vm-image-$release.log" 2>&1; then
    tail -n 10 "$LOG_DIR/vm-image-$release.log" >&2
    rm -rf "$dir.part"
    die "mkfs.ext4 -d failed (log: $LOG_DIR/vm-image-$release.log)"
  fi
  rm -rf "$tree"
  touch "$dir.part/complete"
  mv "$dir.part" "$dir"
  log "VM image built in $((SECONDS - t0))s: kernel $kver, $(du -sh --apparent-size "$dir/root.img" | cut -f1) root ($(du -sh "$dir/root.img" | cut -f1) on disk)"
  prune_vm_images "$release" "$id"
}

# Drop older images of a release that no VM still stands on.
prune_vm_images() {
  local release=$1 id=$2 d used
  used=$(cat "$LAB_DIR"/vms/*/image-id 2>/dev/null || true)
  for d in "$LAB_DIR"/cache/vm-"$release"-*; do
    [[ -d $d && $d != */vm-$release-$id ]] || continue
    grep -qx "${d##*/}" <<<"$used" && continue
    log "removing the outdated VM image $d"
    rm -rf "$d"
  done
}
