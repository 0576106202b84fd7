#!/usr/bin/env bash
# pulumi-resource-kubernetes, built offline from the Go module proxy into the Pulumi
# toolchain's bin dir (where `npm run setup` and scripts/pulumi.sh find providers):
#
#   bash scripts/toolchain/kubernetes/provider.sh     (also run by npm run toolchain:kubernetes)
#
# The proxy serves one version of github.com/pulumi/pulumi-kubernetes/provider/v4, an
# untagged pseudo-version (KUBERNETES_GO_VERSION in scripts/versions.env) whose API matches
# the npm SDK pinned there (KUBERNETES_VERSION). Its module zip lacks the generated
# schema-embed.json and terraform-mapping-embed.json that main.go embeds, and its go.mod
# replaces the SDK with ../sdk (absent). So the module is copied to a writable dir, the
# module's own generate.go writes the embedded files, the local replace is dropped, and it
# is built with the npm SDK's version stamped in. About 11 minutes and 4 GB of memory on a
# 2-core machine when Go's build cache is cold; not run by setup or CI.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/toolchain/kubernetes/lib.sh
. "$HERE/lib.sh"

BIN="$DEBVISOR_TOOLCHAIN/bin"
MANIFEST="$DEBVISOR_TOOLCHAIN/manifest"
MOD=$KUBERNETES_GO_MODULE
MODVER=$KUBERNETES_GO_VERSION
NAME=pulumi-resource-kubernetes
SOURCE="go-proxy-$MODVER-inputs-$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)"
LOG="$DEBVISOR_TOOLCHAIN/provider-kubernetes.log"

[[ -n "$MODVER" ]] || { echo "error: KUBERNETES_GO_VERSION is empty in scripts/versions.env" >&2; exit 1; }
if [[ -x "$BIN/$NAME" ]] && grep -qx "$NAME $KUBERNETES_VERSION $SOURCE" "$MANIFEST" 2>/dev/null; then
  kstep "$NAME v$KUBERNETES_VERSION: cached ($BIN/$NAME)"
  exit 0
fi
command -v go >/dev/null || { echo "error: Go is needed to build $NAME offline; install Go >= 1.25" >&2; exit 1; }
mkdir -p "$BIN"
: >"$LOG"
export CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false"

kstep "building $NAME v$KUBERNETES_VERSION from $MOD@$MODVER (cold: ~11 min, 4 GB; log: $LOG)"
dir="$DEBVISOR_TOOLCHAIN/build/provider-kubernetes"
rm -rf "$dir"
mkdir -p "$dir"
run "downloading $MOD@$MODVER" bash -c "cd '$dir' && go mod download -json '$MOD@$MODVER' >download.json"
src=$(sed -n 's/^\t"Dir": "\(.*\)",$/\1/p' "$dir/download.json")
[[ -f "$src/go.mod" ]] || { echo "error: no module source for $MOD@$MODVER (see $dir/download.json)" >&2; exit 1; }
cp -r "$src/." "$dir/src"
chmod -R u+w "$dir/src"
# The SDK replace points into the upstream repository's tree, which the module zip lacks;
# without it the SDK release the go.mod requires (served by the proxy) is used.
sed -i '/^replace github.com\/pulumi\/pulumi-kubernetes\/sdk\/v4 => \.\.\/sdk$/d' "$dir/src/go.mod"
if grep -q '=> *\.' "$dir/src/go.mod"; then
  echo "error: $MOD@$MODVER's go.mod has another local replace: $(grep '=> *\.' "$dir/src/go.mod")" >&2
  exit 1
fi
cmd="$dir/src/cmd/$NAME"
run "generating schema-embed.json (schema version $KUBERNETES_VERSION)" \
  bash -c "cd '$cmd' && VERSION='$KUBERNETES_VERSION' go run generate.go"
run "compiling $NAME (cold: ~11 min)" bash -c "cd '$dir/src' && go build -trimpath \
  -ldflags '-s -w -X $MOD/pkg/version.Version=$KUBERNETES_VERSION' -o '$BIN/$NAME.new' ./cmd/$NAME"
mv "$BIN/$NAME.new" "$BIN/$NAME"
{ grep -v "^$NAME " "$MANIFEST" 2>/dev/null || true; echo "$NAME $KUBERNETES_VERSION $SOURCE"; } >"$MANIFEST.tmp"
mv "$MANIFEST.tmp" "$MANIFEST"
rm -rf "$dir"
kstep "$NAME v$KUBERNETES_VERSION ready: $BIN/$NAME"
