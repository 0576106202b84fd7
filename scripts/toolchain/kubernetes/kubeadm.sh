#!/usr/bin/env bash
# kubeadm, built offline from the Go module proxy into a cache dir outside the repo.
#
#   bash scripts/toolchain/kubernetes/kubeadm.sh          build when missing or when its inputs changed
#   bash scripts/toolchain/kubernetes/kubeadm.sh --path   print where kubeadm is (or would be); build nothing
#
# The Kubernetes version is the library's default, read from
# components/kubernetes/versions.ts (KUBERNETES_VERSION = "v1.X.Y"), the one place it
# is pinned. k8s.io/kubernetes cannot be required on its own: its go.mod points every
# k8s.io/* staging module at ./staging/src/..., which Go ignores in a dependency. So a
# throwaway wrapper module requires k8s.io/kubernetes vX.Y.Z and replaces each of those
# staging modules with its own release v0.Y.Z (the list is read from that go.mod), except
# the sample-* modules nothing needs (the proxy does not serve them).
#
# Cache: $DEBVISOR_CACHE/kubernetes/<version>/{bin/kubeadm,manifest,build.log,build/}.
# The manifest records a hash of the inputs (this script, lib.sh and the version); a run whose
# inputs match only checks. Go's module and build caches are used as usual.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/toolchain/kubernetes/lib.sh
. "$HERE/lib.sh" # K8S_VERSION, K8S_MINOR, K8S_STAGING_VERSION, KDIR, kstep, run
KUBEADM="$KDIR/bin/kubeadm"

if [[ "${1:-}" == --path ]]; then
  echo "$KUBEADM"
  exit 0
fi

LOG="$KDIR/build.log"

inputs=$(cat "${BASH_SOURCE[0]}" "$HERE/lib.sh"; echo "$K8S_VERSION")
SOURCE="inputs-$(printf '%s' "$inputs" | sha256sum | cut -c1-16)"
if [[ -x "$KUBEADM" ]] && [[ "$(manifest_get kubeadm)" == "$K8S_VERSION $SOURCE" ]]; then
  kstep "kubeadm $K8S_VERSION: cached ($KUBEADM)"
  exit 0
fi

command -v go >/dev/null || { echo "error: Go is needed to build kubeadm offline; install Go >= 1.24" >&2; exit 1; }
mkdir -p "$KDIR/bin"
: >"$LOG"
export CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false"

kstep "building kubeadm $K8S_VERSION from the Go module proxy (cold: several minutes; log: $LOG)"
dir="$KDIR/build/wrapper"
rm -rf "$dir"
mkdir -p "$dir"
printf 'module debvisor.local/toolchain/kubernetes\n\ngo 1.24.0\n\nrequire k8s.io/kubernetes %s\n' "$K8S_VERSION" >"$dir/go.mod"

# The staging modules k8s.io/kubernetes replaces with local directories.
run "fetching k8s.io/kubernetes $K8S_VERSION's go.mod" bash -c "cd '$dir' && go mod download -json 'k8s.io/kubernetes@$K8S_VERSION' >'$dir/download.json'"
gomod=$(sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p' "$dir/download.json")
[[ -f "$gomod" ]] || { echo "error: no go.mod for k8s.io/kubernetes@$K8S_VERSION (see $dir/download.json)" >&2; exit 1; }
mapfile -t staging < <(sed -n 's#^[[:space:]]*\(replace[[:space:]]\+\)\?\(k8s\.io/[a-z0-9-]*\)[[:space:]]*=>[[:space:]]*\./staging/.*$#\2#p' "$gomod" |
  grep -v '^k8s.io/sample-' | sort -u)
((${#staging[@]} > 10)) || { echo "error: found only ${#staging[@]} staging modules in $gomod" >&2; exit 1; }
{
  echo
  for m in "${staging[@]}"; do echo "replace $m => $m $K8S_STAGING_VERSION"; done
} >>"$dir/go.mod"
kstep "wrapper module: k8s.io/kubernetes $K8S_VERSION, ${#staging[@]} staging modules at $K8S_STAGING_VERSION"

run "resolving modules" bash -c "cd '$dir' && go get 'k8s.io/kubernetes/cmd/kubeadm@$K8S_VERSION'"

# What `kubeadm version` reports, and what kubeadm compares kubernetesVersion with.
V=k8s.io/component-base/version
ldflags="-s -w -X $V.gitVersion=$K8S_VERSION -X $V.gitMajor=1 -X $V.gitMinor=$K8S_MINOR -X $V.gitTreeState=clean"
ldflags+=" -X $V.buildDate=1970-01-01T00:00:00Z"
run "compiling kubeadm (cold: 2-5 minutes)" bash -c "cd '$dir' && go build -trimpath -ldflags '$ldflags' -o '$KUBEADM.new' k8s.io/kubernetes/cmd/kubeadm"
mv "$KUBEADM.new" "$KUBEADM"
got=$("$KUBEADM" version -o short)
[[ "$got" == "$K8S_VERSION" ]] || { echo "error: the built kubeadm reports $got, not $K8S_VERSION" >&2; exit 1; }
manifest_set kubeadm "$K8S_VERSION $SOURCE"
kstep "kubeadm $K8S_VERSION ready: $KUBEADM"
