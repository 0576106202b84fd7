#!/usr/bin/env bash
# shellcheck disable=SC2016 # the bash -c '...' snippets take their values as arguments
# Everything a lab or an air-gapped site needs to run Kubernetes with kubeadm on Debian,
# built offline (Go module proxy, Debian archive) into a cache dir outside the repo:
#
#   bash scripts/toolchain/kubernetes/build.sh     (npm run toolchain:kubernetes)
#
#   $DEBVISOR_CACHE/kubernetes/<version>/
#     bin/      kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler
#               kube-proxy etcd etcdctl coredns crictl crane pause (static, amd64)
#     cni/      bridge host-local loopback portmap
#     images/   one OCI image layout per image, images.tsv: "<repo>/<name>:<tag> <dir> <digest>"
#     debs/     kubeadm kubelet kubectl cri-tools kubernetes-cni, named as pkgs.k8s.io's
#     repo/kubernetes/  the flat apt repository (Packages, Release, InRelease, Release.gpg,
#               Release.key armored, keyring.gpg binary) that `npm run lab -- kubernetes up` serves
#     manifest  one "<stage> <input hash>" line per stage: a stage whose inputs match only checks
#     artifacts.log  the output of the last build (its tail is printed on failure)
#
# Needs root for the kube-proxy base (mmdebstrap) and, when missing, to install gcc,
# libc6-dev (pause is C, built with gcc -static), apt-utils (apt-ftparchive) and gpg.
# Not part of CI. Serving: scripts/lab/kubernetes.sh.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/toolchain/kubernetes/lib.sh
. "$HERE/lib.sh"

BUILD="$KDIR/build"
LOG="$KDIR/artifacts.log"
APT_PROXY=http://$LAB_SERVE_ADDR:3142
DEBIAN_MIRROR=http://deb.debian.org/debian
IMAGE_PATH=/usr/local/bin:/usr/bin:/bin
# kube-proxy runs iptables, nft and conntrack, which Debian installs in /usr/sbin.
KUBE_PROXY_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
REG_PID=
cleanup() { if [[ -n $REG_PID ]]; then kill "$REG_PID" 2>/dev/null || true; fi; }
trap cleanup EXIT

# hash_of WORDS...: a short hash of functions' text (for names of functions) and strings.
hash_of() {
  local w
  for w in "$@"; do
    if declare -F "$w" >/dev/null; then declare -f "$w"; else printf '%s\n' "$w"; fi
  done | sha256sum | cut -c1-16
}

# ---------------------------------------------------------------- binaries

# go_build NAME "MODULE@VERSION..." "PACKAGE..." LDFLAGS: one wrapper module requiring the
# modules, one `go build` for all the packages into $BUILD/out/NAME/.
go_build() {
  local name=$1 mods=$2 pkgs=$3 ldflags=$4 dir=$BUILD/$1 out=$BUILD/out/$1
  rm -rf "$dir" "$out"
  mkdir -p "$dir" "$out"
  if [[ $name == k8s ]]; then
    # kubeadm.sh's wrapper: k8s.io/kubernetes with its staging modules at their releases.
    cp "$BUILD/wrapper/go.mod" "$BUILD/wrapper/go.sum" "$dir/"
    sed -i "s|^module .*|module debvisor.local/toolchain/$name|" "$dir/go.mod"
  else
    printf 'module debvisor.local/toolchain/%s\n\ngo 1.24.0\n' "$name" >"$dir/go.mod"
  fi
  local gets=() p
  for p in $pkgs; do gets+=("$p@${mods##*@}"); done
  # shellcheck disable=SC2086 # word lists on purpose
  run "$name: resolving modules" bash -c 'cd "$1" && shift && go get "$@"' _ "$dir" "${gets[@]}"
  # shellcheck disable=SC2086
  run "$name: compiling$(for p in $pkgs; do [[ ${p##*/} =~ ^v[0-9]+$ ]] && p=${p%/*}; printf ' %s' "${p##*/}"; done)" \
    bash -c 'cd "$1" && out=$2 && ld=$3 && shift 3 && go build -trimpath -ldflags "$ld" -o "$out/" "$@"' _ "$dir" "$out" "$ldflags" $pkgs
}

# stage_bins NAME: build one module's binaries unless the manifest says they are current.
stage_bins() {
  local name=$1 key want V ldflags pkgs mods f
  key=$(hash_of go_build stage_bins "$(go env GOVERSION)" "$K8S_VERSION" "$ETCD_VERSION" "$COREDNS_VERSION" \
    "$CRI_TOOLS_VERSION" "$CNI_PLUGINS_VERSION" "$CRANE_VERSION" "$name")
  case $name in
    k8s) want="kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy" ;;
    etcd) want="etcd etcdctl" ;;
    coredns) want=coredns ;;
    cri-tools) want=crictl ;;
    cni-plugins) want="${CNI_PLUGINS[*]}" ;;
    crane) want=crane ;;
    pause) want=pause ;;
  esac
  local dest=$KBIN
  [[ $name == cni-plugins ]] && dest=$KDIR/cni
  local missing=0
  for f in $want; do [[ -x $dest/$f ]] || missing=1; done
  if ((missing == 0)) && [[ $(manifest_get "bin-$name") == "$key" ]]; then
    kstep "$name: cached ($want)"
    return 0
  fi
  mkdir -p "$dest"
  case $name in
    k8s)
      V=k8s.io/component-base/version
      ldflags="-s -w -X $V.gitVersion=$K8S_VERSION -X $V.gitMajor=1 -X $V.gitMinor=$K8S_MINOR -X $V.gitTreeState=clean"
      ldflags+=" -X $V.buildDate=1970-01-01T00:00:00Z"
      pkgs=""
      for f in $want; do pkgs+=" k8s.io/kubernetes/cmd/$f"; done
      go_build k8s "k8s.io/kubernetes@$K8S_VERSION" "$pkgs" "$ldflags"
      ;;
    etcd)
      go_build etcd "go.etcd.io/etcd@$ETCD_VERSION" "go.etcd.io/etcd/server/v3 go.etcd.io/etcd/etcdctl/v3" "-s -w"
      mv "$BUILD/out/etcd/server" "$BUILD/out/etcd/etcd" # Go names a .../server/v3 binary "server"
      ;;
    coredns)
      go_build coredns "github.com/coredns/coredns@$COREDNS_VERSION" github.com/coredns/coredns \
        "-s -w -X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_VERSION"
      ;;
    cri-tools)
      go_build cri-tools "sigs.k8s.io/cri-tools@$CRI_TOOLS_VERSION" sigs.k8s.io/cri-tools/cmd/crictl \
        "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=${CRI_TOOLS_VERSION#v}"
      ;;
    cni-plugins)
      pkgs=""
      for f in $want; do
        case $f in
          host-local) pkgs+=" github.com/containernetworking/plugins/plugins/ipam/$f" ;;
          portmap) pkgs+=" github.com/containernetworking/plugins/plugins/meta/$f" ;;
          *) pkgs+=" github.com/containernetworking/plugins/plugins/main/$f" ;;
        esac
      done
      go_build cni-plugins "github.com/containernetworking/plugins@$CNI_PLUGINS_VERSION" "$pkgs" \
        "-s -w -X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=$CNI_PLUGINS_VERSION"
      ;;
    crane)
      go_build crane "github.com/google/go-containerregistry@$CRANE_VERSION" github.com/google/go-containerregistry/cmd/crane \
        "-s -w -X github.com/google/go-containerregistry/cmd/crane/cmd.Version=$CRANE_VERSION"
      ;;
    pause)
      build_pause
      ;;
  esac
  for f in $want; do
    [[ -x $BUILD/out/$name/$f ]] || { echo "error: $name: no $f was built (log: $LOG)" >&2; exit 1; }
    mv "$BUILD/out/$name/$f" "$dest/$f"
  done
  manifest_set "bin-$name" "$key"
  kstep "$name: built $want"
}

# pause is C: k8s.io/kubernetes's build/pause/linux/pause.c, static with gcc.
build_pause() {
  local src tag out=$BUILD/out/pause
  src=$(cd "$BUILD/wrapper" && go list -m -f '{{.Dir}}' "k8s.io/kubernetes")/build/pause/linux/pause.c
  [[ -f $src ]] || { echo "error: no pause.c in the k8s.io/kubernetes module ($src)" >&2; exit 1; }
  if ! command -v gcc >/dev/null || [[ ! -f /usr/lib/x86_64-linux-gnu/libc.a ]]; then
    kstep "installing gcc and libc6-dev from Debian (pause is built with gcc -static)"
    run "apt-get install gcc libc6-dev" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends gcc libc6-dev
  fi
  tag=$(pause_tag)
  rm -rf "$out"
  mkdir -p "$out"
  run "pause: gcc -Os -static" gcc -Os -Wall -Werror -static -DVERSION="v$tag-debvisor" -o "$out/pause" "$src"
  strip "$out/pause"
}

KUBEADM_IMAGES=
kubeadm_images() { # what kubeadm pulls with our repository and CoreDNS tag: "name:tag" lines
  if [[ -z $KUBEADM_IMAGES ]]; then
    local cfg=$BUILD/images-config.yaml
    printf 'apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: %s\nimageRepository: %s/k8s\ndns:\n  imageTag: %s\n' \
      "$K8S_VERSION" "$LAB_REGISTRY" "$COREDNS_VERSION" >"$cfg"
    KUBEADM_IMAGES=$("$KBIN/kubeadm" config images list --config "$cfg")
  fi
  printf '%s\n' "$KUBEADM_IMAGES" | sed "s|^$LAB_REGISTRY/k8s/||"
}
pause_tag() { kubeadm_images | sed -n 's/^pause://p'; }
etcd_tag() { kubeadm_images | sed -n 's/^etcd://p'; }

# ---------------------------------------------------------------- images

# A registry for the build only (in memory, loopback): crane appends and mutates
# remote images; each is then saved as an OCI layout.
start_build_registry() {
  local port i
  for i in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 20000))
    "$CRANE" registry serve --address "127.0.0.1:$port" >>"$LOG" 2>&1 &
    REG_PID=$!
    for _ in $(seq 50); do
      if curl -fsS -o /dev/null "http://127.0.0.1:$port/v2/"; then
        BUILD_REG=127.0.0.1:$port
        return 0
      fi
      kill -0 "$REG_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill "$REG_PID" 2>/dev/null || true
    REG_PID=
    echo "build registry on 127.0.0.1:$port did not start (try $i)" >>"$LOG"
  done
  echo "error: crane registry serve did not start (log: $LOG)" >&2
  exit 1
}

# layer_tar OUT DIR: a reproducible layer (root-owned, mtime 0) of DIR's contents.
layer_tar() {
  tar -C "$2" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$1" .
}

# The files every static image has: passwd/group (root, nobody), nsswitch, /tmp, CA bundle.
base_layer() {
  local d=$BUILD/layers/base
  rm -rf "$d"
  mkdir -p "$d/etc/ssl/certs" "$d/tmp" "$d/root" "$d/var/run"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' >"$d/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$d/etc/group"
  printf 'hosts: files dns\n' >"$d/etc/nsswitch.conf"
  if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then cp /etc/ssl/certs/ca-certificates.crt "$d/etc/ssl/certs/"; fi
  chmod 1777 "$d/tmp"
  chmod 0700 "$d/root"
  layer_tar "$BUILD/layers/base.tar" "$d"
}

# bin_layer OUT PATH-IN-IMAGE=FILE...
bin_layer() {
  local out=$1 d=$BUILD/layers/bin kv
  shift
  rm -rf "$d"
  mkdir -p "$d"
  for kv in "$@"; do
    mkdir -p "$d/$(dirname "${kv%%=*}")"
    cp "${kv#*=}" "$d/${kv%%=*}"
    chmod 0755 "$d/${kv%%=*}"
  done
  layer_tar "$out" "$d"
}

# kube-proxy's base: Debian trixie with iptables, nftables, conntrack (mmdebstrap,
# through the lab's apt proxy when it answers). Cached by its own key.
KUBE_PROXY_PACKAGES=iptables,nftables,conntrack
kube_proxy_rootfs() {
  local key tar=$BUILD/layers/kube-proxy-rootfs.tar opts=()
  key=$(hash_of kube_proxy_rootfs "$KUBE_PROXY_PACKAGES")
  if [[ -f $tar && $(manifest_get rootfs-kube-proxy) == "$key" ]]; then
    kstep "kube-proxy base: cached ($(du -h "$tar" | cut -f1))"
    return 0
  fi
  command -v mmdebstrap >/dev/null || run "apt-get install mmdebstrap" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends mmdebstrap
  if curl -fsS -o /dev/null --max-time 3 "$APT_PROXY/acng-report.html" 2>/dev/null; then
    opts+=(--aptopt="Acquire::http::Proxy \"$APT_PROXY\"")
    kstep "kube-proxy base: through the apt proxy $APT_PROXY"
  fi
  mkdir -p "$BUILD/layers"
  run "kube-proxy base: mmdebstrap trixie essential + $KUBE_PROXY_PACKAGES" \
    mmdebstrap --variant=essential --mode=root --format=tar --include="$KUBE_PROXY_PACKAGES" \
    "${opts[@]}" --skip=output/dev \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/var/log/*' \
    trixie "$tar.part" \
    "deb $DEBIAN_MIRROR trixie main" "deb $DEBIAN_MIRROR trixie-updates main" \
    "deb $DEBIAN_MIRROR-security trixie-security main"
  mv "$tar.part" "$tar"
  manifest_set rootfs-kube-proxy "$key"
  kstep "kube-proxy base: $(du -h "$tar" | cut -f1)"
}

# busybox for the lab's test images: trixie's busybox-static (the lab's Kubernetes VMs run
# trixie; this machine's bookworm busybox segfaulted in wget resolving a Service name in a
# pod), extracted by mmdebstrap, through the lab's apt proxy when it answers.
busybox_layer() {
  local d=$BUILD/layers/busybox a tar=$BUILD/layers/busybox-rootfs.tar opts=()
  rm -rf "$d" "$tar"
  mkdir -p "$d/bin" "$d/www"
  if curl -fsS -o /dev/null --max-time 3 "$APT_PROXY/acng-report.html" 2>/dev/null; then
    opts+=(--aptopt="Acquire::http::Proxy \"$APT_PROXY\"")
  fi
  run "busybox: busybox-static of trixie (mmdebstrap --variant=extract)" \
    mmdebstrap --variant=extract --mode=root --format=tar --include=busybox-static "${opts[@]}" --skip=output/dev \
    trixie "$tar" "deb $DEBIAN_MIRROR trixie main"
  tar -xOf "$tar" ./usr/bin/busybox >"$d/bin/busybox" 2>/dev/null || tar -xOf "$tar" ./bin/busybox >"$d/bin/busybox"
  [[ -s $d/bin/busybox ]] || die "no busybox binary in trixie's busybox-static"
  chmod 0755 "$d/bin/busybox"
  for a in $("$d/bin/busybox" --list); do
    [[ $a == busybox ]] || ln -s busybox "$d/bin/$a"
  done
  printf '<!doctype html><title>DebVisor lab</title><p>served by busybox httpd\n' >"$d/www/index.html"
  mkdir -p "$d/etc" "$d/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$d/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$d/etc/group"
  chmod 1777 "$d/tmp"
  layer_tar "$BUILD/layers/busybox.tar" "$d"
  printf 'busybox-static (trixie) %s\n' "$("$d/bin/busybox" 2>&1 | head -n 1)" >"$BUILD/layers/busybox.from"
  rm -f "$tar"
}

# make_image REF ENTRYPOINT CMD LAYER...: appended on an empty OCI base, then entrypoint,
# cmd (comma-separated, may be empty), PATH ($IMAGE_PATH unless PATH_FOR is set) and
# platform set; saved as an OCI layout.
make_image() {
  local ref=$1 entry=$2 cmd=$3 flags=() l dir
  shift 3
  for l in "$@"; do flags+=(-f "$l"); done
  run "image $ref" bash -c '
    set -e
    crane=$1 reg=$2 ref=$3 entry=$4 cmd=$5 path=$6 dir=$7
    shift 7
    "$crane" append --insecure --oci-empty-base "$@" -t "$reg/$ref"
    m=("$crane" mutate --insecure "$reg/$ref" -t "$reg/$ref" --env "PATH=$path" --set-platform linux/amd64)
    if [[ -n $entry ]]; then m+=(--entrypoint "$entry"); fi
    if [[ -n $cmd ]]; then m+=(--cmd "$cmd"); fi
    "${m[@]}"
    rm -rf "$dir.part"
    "$crane" pull --insecure --format oci "$reg/$ref" "$dir.part"
    rm -rf "$dir"
    mv "$dir.part" "$dir"
  ' _ "$CRANE" "$BUILD_REG" "$ref" "$entry" "$cmd" "${PATH_FOR:-$IMAGE_PATH}" "$KIMAGES/$(echo "$ref" | tr '/:' '__')" "${flags[@]}"
  dir=$(echo "$ref" | tr '/:' '__')
  printf '%s\t%s\t%s\n' "$ref" "$dir" "$("$CRANE" digest --insecure "$BUILD_REG/$ref")" >>"$KIMAGES/images.tsv.part"
}

stage_images() {
  local key n bins=() etcd_t pause_t
  etcd_t=$(etcd_tag)
  pause_t=$(pause_tag)
  [[ $etcd_t == "${ETCD_VERSION#v}-"* ]] || {
    echo "error: kubeadm $K8S_VERSION wants etcd $etcd_t, this build has $ETCD_VERSION: change ETCD_VERSION in lib.sh" >&2
    exit 1
  }
  for n in k8s etcd coredns pause; do bins+=("$(manifest_get "bin-$n")"); done
  key=$(hash_of stage_images make_image base_layer bin_layer busybox_layer layer_tar "$IMAGE_PATH" "$KUBE_PROXY_PATH" \
    "$(manifest_get rootfs-kube-proxy)" "${bins[@]}" "$etcd_t" "$pause_t")
  if [[ -f $KIMAGES/images.tsv && $(manifest_get images) == "$key" ]]; then
    kstep "images: cached ($(wc -l <"$KIMAGES/images.tsv") in $KIMAGES)"
    return 0
  fi
  mkdir -p "$KIMAGES" "$BUILD/layers"
  rm -f "$KIMAGES/images.tsv.part"
  start_build_registry
  base_layer
  local L=$BUILD/layers c
  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    bin_layer "$L/$c.tar" "usr/local/bin/$c=$KBIN/$c"
    make_image "k8s/$c:$K8S_VERSION" "/usr/local/bin/$c" "" "$L/base.tar" "$L/$c.tar"
  done
  bin_layer "$L/kube-proxy.tar" "usr/local/bin/kube-proxy=$KBIN/kube-proxy"
  PATH_FOR=$KUBE_PROXY_PATH make_image "k8s/kube-proxy:$K8S_VERSION" /usr/local/bin/kube-proxy "" "$BUILD/layers/kube-proxy-rootfs.tar" "$L/kube-proxy.tar"
  bin_layer "$L/etcd.tar" "usr/local/bin/etcd=$KBIN/etcd" "usr/local/bin/etcdctl=$KBIN/etcdctl"
  make_image "k8s/etcd:$etcd_t" /usr/local/bin/etcd "" "$L/base.tar" "$L/etcd.tar"
  bin_layer "$L/coredns.tar" "coredns=$KBIN/coredns"
  make_image "k8s/coredns:$COREDNS_VERSION" /coredns "" "$L/base.tar" "$L/coredns.tar"
  bin_layer "$L/pause.tar" "pause=$KBIN/pause"
  make_image "k8s/pause:$pause_t" /pause "" "$L/pause.tar"
  busybox_layer
  make_image lab/busybox:1 "" sh "$L/busybox.tar"
  make_image lab/httpd:1 "" "httpd,-f,-v,-p,8080,-h,/www" "$L/busybox.tar"
  mv "$KIMAGES/images.tsv.part" "$KIMAGES/images.tsv"
  kill "$REG_PID" 2>/dev/null || true
  REG_PID=
  # Every image kubeadm will pull is here.
  local want
  for want in $(kubeadm_images); do
    grep -q "^k8s/$want	" "$KIMAGES/images.tsv" || { echo "error: kubeadm lists k8s/$want, not built" >&2; exit 1; }
  done
  manifest_set images "$key"
  find "$BUILD/layers" -mindepth 1 -maxdepth 1 ! -name 'kube-proxy-rootfs.tar' -exec rm -rf {} + # kept: the Debian base
  kstep "images: $(wc -l <"$KIMAGES/images.tsv") OCI layouts in $KIMAGES ($(du -sh "$KIMAGES" | cut -f1))"
}

# ---------------------------------------------------------------- debs

# make_deb NAME VERSION DEPENDS RECOMMENDS DESCRIPTION ROOT
make_deb() {
  local name=$1 version=$2 depends=$3 recommends=$4 desc=$5 root=$6 size
  mkdir -p "$root/DEBIAN"
  size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
  {
    echo "Package: $name"
    echo "Version: $version"
    echo "Architecture: amd64"
    echo "Maintainer: DebVisor lab build <kubernetes@debvisor.invalid>"
    echo "Installed-Size: $size"
    if [[ -n $depends ]]; then echo "Depends: $depends"; fi
    if [[ -n $recommends ]]; then echo "Recommends: $recommends"; fi
    echo "Section: admin"
    echo "Priority: optional"
    echo "Homepage: https://kubernetes.io"
    echo "Description: $desc"
    echo " Built from source by DebVisor (scripts/toolchain/kubernetes/build.sh) for labs"
    echo " and air-gapped sites; named and versioned as the packages of pkgs.k8s.io."
  } >"$root/DEBIAN/control"
  run "deb $name $version" dpkg-deb --root-owner-group -Zxz --build "$root" "$KDIR/debs.part/${name}_${version}_amd64.deb"
}

stage_debs() {
  local key K=${K8S_VERSION#v} C=${CRI_TOOLS_VERSION#v} N=${CNI_PLUGINS_VERSION#v} R=$DEB_REVISION r f
  key=$(hash_of stage_debs make_deb "$(cat "$HERE"/deb/*)" "$(manifest_get bin-k8s)" "$(manifest_get bin-cri-tools)" \
    "$(manifest_get bin-cni-plugins)" "$(sha256sum "$KBIN/kubeadm" | cut -c1-16)")
  if [[ -d $KDIR/debs && $(manifest_get debs) == "$key" ]]; then
    kstep "debs: cached ($(find "$KDIR/debs" -name '*.deb' -printf '%f '))"
    return 0
  fi
  rm -rf "$KDIR/debs.part" "$BUILD/debroot"
  mkdir -p "$KDIR/debs.part"
  r=$BUILD/debroot

  mkdir -p "$r/kubectl/usr/bin"
  cp "$KBIN/kubectl" "$r/kubectl/usr/bin/"
  make_deb kubectl "$K-$R" "" "" "Command-line client for Kubernetes clusters" "$r/kubectl"

  mkdir -p "$r/cri-tools/usr/bin"
  cp "$KBIN/crictl" "$r/cri-tools/usr/bin/"
  make_deb cri-tools "$C-$R" "" "" "Command-line client for CRI container runtimes (crictl)" "$r/cri-tools"

  mkdir -p "$r/kubernetes-cni/opt/cni/bin"
  for f in "${CNI_PLUGINS[@]}"; do cp "$KDIR/cni/$f" "$r/kubernetes-cni/opt/cni/bin/"; done
  make_deb kubernetes-cni "$N-$R" "" "" "CNI plugins: ${CNI_PLUGINS[*]}" "$r/kubernetes-cni"

  mkdir -p "$r/kubelet/usr/bin" "$r/kubelet/usr/lib/systemd/system" "$r/kubelet/etc/default" "$r/kubelet/DEBIAN"
  cp "$KBIN/kubelet" "$r/kubelet/usr/bin/"
  cp "$HERE/deb/kubelet.service" "$r/kubelet/usr/lib/systemd/system/kubelet.service"
  cp "$HERE/deb/kubelet.default" "$r/kubelet/etc/default/kubelet"
  echo /etc/default/kubelet >"$r/kubelet/DEBIAN/conffiles"
  install -m 0755 "$HERE/deb/kubelet.postinst" "$r/kubelet/DEBIAN/postinst"
  install -m 0755 "$HERE/deb/kubelet.postrm" "$r/kubelet/DEBIAN/postrm"
  make_deb kubelet "$K-$R" "iptables, iproute2, mount, util-linux, kubernetes-cni (>= 1.2.0)" "conntrack, ethtool, socat" \
    "Kubernetes node agent (kubelet)" "$r/kubelet"

  mkdir -p "$r/kubeadm/usr/bin" "$r/kubeadm/usr/lib/systemd/system/kubelet.service.d" "$r/kubeadm/DEBIAN"
  cp "$KBIN/kubeadm" "$r/kubeadm/usr/bin/"
  cp "$HERE/deb/10-kubeadm.conf" "$r/kubeadm/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"
  install -m 0755 "$HERE/deb/kubeadm.postinst" "$r/kubeadm/DEBIAN/postinst"
  install -m 0755 "$HERE/deb/kubeadm.postrm" "$r/kubeadm/DEBIAN/postrm"
  make_deb kubeadm "$K-$R" "kubelet (>= $K), kubectl (>= $K), cri-tools (>= $C), kubernetes-cni (>= 1.2.0)" "" \
    "Kubernetes cluster bootstrapping tool (kubeadm)" "$r/kubeadm"

  rm -rf "$KDIR/debs" "$r"
  mv "$KDIR/debs.part" "$KDIR/debs"
  manifest_set debs "$key"
  kstep "debs: $(find "$KDIR/debs" -name '*.deb' -printf '%f ')($(du -sh "$KDIR/debs" | cut -f1))"
}

# ---------------------------------------------------------------- apt repository

# The lab's signing key, made once (no passphrase: it signs a lab repository).
signing_key() {
  mkdir -p "$KGNUPG"
  chmod 0700 "$KGNUPG"
  if ! GNUPGHOME=$KGNUPG gpg --batch --list-secret-keys 2>/dev/null | grep -q .; then
    run "generating the repository signing key (once, $KGNUPG)" env GNUPGHOME="$KGNUPG" \
      gpg --batch --passphrase '' --quick-gen-key "DebVisor lab Kubernetes packages <kubernetes@debvisor.invalid>" rsa3072 sign never
  fi
}
signing_fpr() {
  GNUPGHOME=$KGNUPG gpg --batch --with-colons --list-secret-keys | awk -F: '$1 == "fpr" { print $10; exit }'
}

stage_repo() {
  local key fpr d=$KREPO.part/kubernetes
  command -v apt-ftparchive >/dev/null || run "apt-get install apt-utils" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends apt-utils
  command -v gpg >/dev/null || run "apt-get install gpg" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends gpg
  signing_key
  fpr=$(signing_fpr)
  [[ $fpr =~ ^[0-9A-F]{40}$ ]] || { echo "error: no signing key in $KGNUPG" >&2; exit 1; }
  key=$(hash_of stage_repo "$(manifest_get debs)" "$fpr")
  if [[ -f $KREPO/kubernetes/InRelease && $(manifest_get repo) == "$key" ]]; then
    kstep "apt repository: cached ($KREPO/kubernetes)"
    return 0
  fi
  rm -rf "$KREPO.part"
  mkdir -p "$d"
  cp "$KDIR"/debs/*.deb "$d/"
  run "apt repository: Packages and Release" bash -c '
    set -e
    cd "$1"
    apt-ftparchive packages . >Packages
    gzip -9nk Packages
    apt-ftparchive -o APT::FTPArchive::Release::Origin=DebVisor-lab -o APT::FTPArchive::Release::Label=DebVisor-lab-kubernetes \
      -o APT::FTPArchive::Release::Description="Kubernetes $2 packages built by DebVisor" release . >../Release
    mv ../Release Release
  ' _ "$d" "$K8S_VERSION"
  GNUPGHOME=$KGNUPG gpg --batch --yes --local-user "$fpr" --digest-algo SHA512 --clearsign -o "$d/InRelease" "$d/Release"
  GNUPGHOME=$KGNUPG gpg --batch --yes --local-user "$fpr" --digest-algo SHA512 --armor --detach-sign -o "$d/Release.gpg" "$d/Release"
  GNUPGHOME=$KGNUPG gpg --batch --armor --export "$fpr" >"$d/Release.key"
  GNUPGHOME=$KGNUPG gpg --batch --export "$fpr" >"$d/keyring.gpg"
  gpgv --keyring "$d/keyring.gpg" "$d/InRelease" >>"$LOG" 2>&1 || { echo "error: InRelease does not verify (log: $LOG)" >&2; exit 1; }
  rm -rf "$KREPO"
  mv "$KREPO.part" "$KREPO"
  manifest_set repo "$key"
  kstep "apt repository: $KREPO/kubernetes (key $fpr)"
}

# ---------------------------------------------------------------- main

mkdir -p "$KDIR"
: >"$LOG"
kstep "Kubernetes $K8S_VERSION artifacts into $KDIR (log: $LOG)"
bash "$HERE/kubeadm.sh" # its wrapper module (build/wrapper) is the base of ours
command -v go >/dev/null || { echo "error: Go is needed; install Go >= 1.24" >&2; exit 1; }
export CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false"
for m in crane k8s etcd coredns cri-tools cni-plugins pause; do stage_bins "$m"; done
kube_proxy_rootfs
stage_images
stage_debs
stage_repo
# The Pulumi provider the cluster objects go through (into the Pulumi toolchain's bin dir).
bash "$HERE/provider.sh"
kstep "done: $(du -sh "$KDIR" | cut -f1) in $KDIR (Go build cache not counted)"
kstep "serve them to the lab: npm run lab -- kubernetes up"
