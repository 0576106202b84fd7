# shellcheck shell=bash disable=SC2034 # constants used by the scripts that source this
# Versions and cache paths of the Kubernetes artifacts, shared by build.sh and
# scripts/lab/kubernetes.sh. Sourced, never run.

# shellcheck source=scripts/toolchain/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/../env.sh"

# The Kubernetes version is the library's default (see kubeadm.sh).
K8S_VERSION=$(sed -n 's/^export const KUBERNETES_VERSION = "\(v[0-9]*\.[0-9]*\.[0-9]*\)";.*$/\1/p' \
  "$DEBVISOR_ROOT/components/kubernetes/versions.ts")
[[ "$K8S_VERSION" =~ ^v1\.([0-9]+)\.([0-9]+)$ ]] || {
  echo "error: no KUBERNETES_VERSION = \"v1.X.Y\" line in components/kubernetes/versions.ts" >&2
  exit 1
}
K8S_MINOR=${BASH_REMATCH[1]}
K8S_STAGING_VERSION="v0.${BASH_REMATCH[1]}.${BASH_REMATCH[2]}"

# What goes with it. The etcd and pause tags are checked against what kubeadm lists.
ETCD_VERSION=v3.6.5        # go.etcd.io/etcd/{server,etcdctl}/v3
COREDNS_VERSION=v1.14.3    # github.com/coredns/coredns (the proxy serves >= v1.14.3 only)
CRI_TOOLS_VERSION=v1.34.0  # sigs.k8s.io/cri-tools (crictl)
CNI_PLUGINS_VERSION=v1.10.0 # github.com/containernetworking/plugins
CRANE_VERSION=v0.22.1      # github.com/google/go-containerregistry (cmd/crane)
CNI_PLUGINS=(bridge host-local loopback portmap)
DEB_REVISION=1.1           # as pkgs.k8s.io: <upstream version>-1.1

KDIR="$DEBVISOR_CACHE/kubernetes/$K8S_VERSION"
KBIN="$KDIR/bin"
KIMAGES="$KDIR/images"
KREPO="$KDIR/repo"                         # served as http://<host>:3143/ (flat repo in kubernetes/)
KGNUPG="$DEBVISOR_CACHE/kubernetes/gnupg" # the lab's repository signing key, made once
CRANE="$KBIN/crane"

# Where the lab serves them (the lab bridge's address, scripts/lab/lib.sh LAB_GW).
LAB_SERVE_ADDR=10.213.0.1
LAB_REGISTRY_PORT=5000
LAB_REPO_PORT=3143
LAB_REGISTRY="$LAB_SERVE_ADDR:$LAB_REGISTRY_PORT"
LAB_REPO_URL="http://$LAB_SERVE_ADDR:$LAB_REPO_PORT/kubernetes/"

K8S_T0=${K8S_T0:-$SECONDS}
kstep() {
  local s=$((SECONDS - K8S_T0))
  printf '[kubernetes %02d:%02d] %s\n' $((s / 60)) $((s % 60)) "$*"
}

# manifest_get KEY / manifest_set KEY VALUE: "KEY VALUE" lines in $KDIR/manifest
# (shared with kubeadm.sh, which keeps every line but its own "kubeadm ..." one).
manifest_get() { sed -n "s|^$1 ||p" "$KDIR/manifest" 2>/dev/null | head -n1; }
manifest_set() {
  mkdir -p "$KDIR"
  { grep -v "^$1 " "$KDIR/manifest" 2>/dev/null || true; echo "$1 $2"; } >"$KDIR/manifest.tmp"
  mv "$KDIR/manifest.tmp" "$KDIR/manifest"
}

# shellcheck source=scripts/toolchain/logged.sh
. "$(dirname "${BASH_SOURCE[0]}")/../logged.sh"

# run LABEL CMD...: CMD's output appended to $LOG (the caller sets it), a heartbeat every
# 30 s; on failure the log's tail, and exit.
run() {
  local rc=0
  kstep "$1 ..."
  logged_run kstep "$@" || rc=$?
  if ((rc != 0)); then
    echo "error: $1 failed; full log: $LOG" >&2
    exit "$rc"
  fi
}
