# shellcheck shell=bash
# Helpers for scripts/setup.sh: progress output, logged steps, and building
# Pulumi binaries from the Go module proxy. Source after env.sh.

SETUP_START=$SECONDS
BIN="$DEBVISOR_TOOLCHAIN/bin"
MANIFEST="$DEBVISOR_TOOLCHAIN/manifest" # "name version source" per installed binary
LOG="$DEBVISOR_TOOLCHAIN/build.log"

# step MESSAGE: progress line with minutes:seconds since setup started.
step() {
  local s=$((SECONDS - SETUP_START))
  printf '[setup %02d:%02d] %s\n' $((s / 60)) $((s % 60)) "$*"
}

die() {
  echo "error: $*" >&2
  exit 1
}

# shellcheck source=scripts/toolchain/logged.sh
. "$(dirname "${BASH_SOURCE[0]}")/logged.sh"

# logged LABEL CMD...: run CMD with output appended to $LOG; a heartbeat
# every 30 s shows it is alive; on failure show the log's last 30 lines.
logged() { logged_run step "$@"; }

# manifest_has BINARY VERSION: true if $BIN/BINARY exists and was installed at VERSION.
manifest_has() {
  [[ -x "$BIN/$1" ]] && grep -qx "$1 $2 .*" "$MANIFEST" 2>/dev/null
}

# manifest_set BINARY VERSION SOURCE: record what is in $BIN.
manifest_set() {
  local tmp="$MANIFEST.tmp"
  { grep -v "^$1 " "$MANIFEST" 2>/dev/null || true; echo "$1 $2 $3"; } >"$tmp"
  mv "$tmp" "$MANIFEST"
}

# lock_version PACKAGE: the version package-lock.json installs for PACKAGE.
lock_version() {
  node -e '
    const lock = require(process.argv[1]);
    const p = lock.packages && lock.packages["node_modules/" + process.argv[2]];
    if (!p) { console.error("not in package-lock.json: " + process.argv[2]); process.exit(1); }
    console.log(p.version);' "$DEBVISOR_ROOT/package-lock.json" "$1"
}

# check_pin WANT PACKAGE: stop if versions.env and package-lock.json disagree.
check_pin() {
  local have
  have=$(lock_version "$2") || die "cannot read $2 from package-lock.json"
  [[ "$have" == "$1" ]] || die "scripts/versions.env pins $2 at $1 but package-lock.json has $have." \
    "Change both together (the engine, providers and npm SDKs must match)."
}

# --- building from the Go module proxy -------------------------------------

# go_env: settings for every build; modules come from GOPROXY (default proxy).
go_env() {
  export CGO_ENABLED=0 GOFLAGS=-mod=mod
  command -v go >/dev/null || die "Go is needed to build Pulumi offline; install Go >= 1.25"
}

# copy_replaces MODULE@VERSION DIR: a dependency's replace directives are
# ignored by Go, so copy its non-local ones into our wrapper go.mod in DIR.
copy_replaces() {
  local gomod
  gomod=$(cd "$2" && go mod download -json "$1" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
  [[ -f "$gomod" ]] || return 0
  awk '
    /^replace \(/ { block = 1; next }
    block && /^\)/ { block = 0; next }
    block { print "replace " $0; next }
    /^replace / { print }
  ' "$gomod" | grep -v '=> *\.' >>"$2/go.mod" || true
}

# wrapper NAME: fresh throwaway module dir for one build; echoes its path.
wrapper() {
  local dir="$DEBVISOR_TOOLCHAIN/build/$1"
  rm -rf "$dir"
  mkdir -p "$dir"
  printf 'module debvisor.local/toolchain/%s\n\ngo 1.25\n' "$1" >"$dir/go.mod"
  echo "$dir"
}

build_cli() {
  local dir pkg=github.com/pulumi/pulumi/pkg/v3 sdk=github.com/pulumi/pulumi/sdk/v3
  dir=$(wrapper cli)
  logged "resolving pulumi v$PULUMI_VERSION modules" \
    bash -c "cd '$dir' && go get '$pkg@v$PULUMI_VERSION' '$sdk@v$PULUMI_VERSION'" || return 1
  copy_replaces "$pkg@v$PULUMI_VERSION" "$dir"
  logged "building pulumi CLI v$PULUMI_VERSION" \
    bash -c "cd '$dir' && go build -trimpath -o '$BIN/pulumi' \
      -ldflags '-s -w -X $sdk/go/common/version.Version=v$PULUMI_VERSION' $pkg/cmd/pulumi"
}

# The upstream Node.js language host is an untagged Go module the proxy does
# not serve, so we build our own (scripts/toolchain/langhost) against the SDK.
build_langhost() {
  local dir
  dir=$(wrapper langhost)
  cp "$DEBVISOR_ROOT/scripts/toolchain/langhost/main.go" "$dir/"
  logged "building pulumi-language-nodejs against sdk v$PULUMI_VERSION" \
    bash -c "cd '$dir' && go get 'github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION' && go mod tidy &&
      go build -trimpath -o '$BIN/pulumi-language-nodejs' -ldflags '-s -w -X main.version=$PULUMI_VERSION' ."
}

# build_provider NAME VERSION GO_MODULE GO_VERSION: pulumi-resource-NAME.
build_provider() {
  local name=$1 version=$2 mod=$3 modver=$4 dir
  dir=$(wrapper "provider-$name")
  logged "resolving $mod@$modver" bash -c "cd '$dir' && go get '$mod@$modver'" || return 1
  copy_replaces "$mod@$modver" "$dir"
  logged "building pulumi-resource-$name v$version" \
    bash -c "cd '$dir' && go build -trimpath -o '$BIN/pulumi-resource-$name' \
      -ldflags '-s -w -X $mod/pkg/version.Version=$version' $mod/cmd/pulumi-resource-$name"
}
