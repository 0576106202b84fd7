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
# The manifest records a hash of the inputs (this script and the version); a run whose
# inputs match only checks. Go's module and build caches are used as usual.
set -euo pipefail
# shellcheck source=scripts/toolchain/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/../env.sh"

K8S_VERSION=$(sed -n 's/^export const KUBERNETES_VERSION = "\(v[0-9]*\.[0-9]*\.[0-9]*\)";.*$/\1/p' \
  "$DEBVISOR_ROOT/components/kubernetes/versions.ts")
[[ "$K8S_VERSION" =~ ^v1\.([0-9]+)\.([0-9]+)$ ]] || {
  echo "error: no KUBERNETES_VERSION = \"v1.X.Y\" line in components/kubernetes/versions.ts" >&2
  exit 1
}
MINOR=${BASH_REMATCH[1]}
STAGING_VERSION="v0.${BASH_REMATCH[1]}.${BASH_REMATCH[2]}"
KDIR="$DEBVISOR_CACHE/kubernetes/$K8S_VERSION"
KUBEADM="$KDIR/bin/kubeadm"

if [[ "${1:-}" == --path ]]; then
  echo "$KUBEADM"
  exit 0
fi

START=$SECONDS
step() {
  local s=$((SECONDS - START))
  printf '[kubeadm %02d:%02d] %s\n' $((s / 60)) $((s % 60)) "$*"
}
LOG="$KDIR/build.log"
MANIFEST="$KDIR/manifest"

inputs=$(cat "${BASH_SOURCE[0]}"; echo "$K8S_VERSION")
SOURCE="inputs-$(printf '%s' "$inputs" | sha256sum | cut -c1-16)"
if [[ -x "$KUBEADM" ]] && grep -qx "kubeadm $K8S_VERSION $SOURCE" "$MANIFEST" 2>/dev/null; then
  step "kubeadm $K8S_VERSION: cached ($KUBEADM)"
  exit 0
fi

command -v go >/dev/null || { echo "error: Go is needed to build kubeadm offline; install Go >= 1.24" >&2; exit 1; }
mkdir -p "$KDIR/bin"
: >"$LOG"
export CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false"

# run LABEL CMD...: output to the log, a heartbeat every 30 s, the log's tail on failure.
run() {
  local label=$1 pid rc=0 n=0
  shift
  step "$label ..."
  printf '\n=== %s: %s\n' "$(date -u +%FT%TZ)" "$label" >>"$LOG"
  "$@" >>"$LOG" 2>&1 &
  pid=$!
  trap 'kill "$pid" 2>/dev/null; exit 130' INT TERM
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    n=$((n + 1))
    if ((n % 30 == 0)); then step "  ... still $label (log: $LOG)"; fi
  done
  wait "$pid" || rc=$?
  trap - INT TERM
  if ((rc != 0)); then
    echo "---- last 30 lines of $LOG ----" >&2
    tail -n 30 "$LOG" >&2
    echo "----" >&2
    echo "error: $label failed; full log: $LOG" >&2
    exit "$rc"
  fi
}

step "building kubeadm $K8S_VERSION from the Go module proxy (cold: several minutes; log: $LOG)"
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
  for m in "${staging[@]}"; do echo "replace $m => $m $STAGING_VERSION"; done
} >>"$dir/go.mod"
step "wrapper module: k8s.io/kubernetes $K8S_VERSION, ${#staging[@]} staging modules at $STAGING_VERSION"

run "resolving modules" bash -c "cd '$dir' && go get 'k8s.io/kubernetes/cmd/kubeadm@$K8S_VERSION'"

# What `kubeadm version` reports, and what kubeadm compares kubernetesVersion with.
V=k8s.io/component-base/version
ldflags="-s -w -X $V.gitVersion=$K8S_VERSION -X $V.gitMajor=1 -X $V.gitMinor=$MINOR -X $V.gitTreeState=clean"
ldflags+=" -X $V.buildDate=1970-01-01T00:00:00Z"
run "compiling kubeadm (cold: 2-5 minutes)" bash -c "cd '$dir' && go build -trimpath -ldflags '$ldflags' -o '$KUBEADM.new' k8s.io/kubernetes/cmd/kubeadm"
mv "$KUBEADM.new" "$KUBEADM"
got=$("$KUBEADM" version -o short)
[[ "$got" == "$K8S_VERSION" ]] || { echo "error: the built kubeadm reports $got, not $K8S_VERSION" >&2; exit 1; }
{ grep -v '^kubeadm ' "$MANIFEST" 2>/dev/null || true; echo "kubeadm $K8S_VERSION $SOURCE"; } >"$MANIFEST.tmp"
mv "$MANIFEST.tmp" "$MANIFEST"
step "kubeadm $K8S_VERSION ready: $KUBEADM"
