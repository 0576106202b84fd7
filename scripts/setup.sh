#!/usr/bin/env bash
# npm run setup: make the real Pulumi engine usable on this machine, offline
# if need be, then create the local `dev` stack.
#
# The CLI comes from, in order: a `pulumi` of the pinned version already on
# PATH (including our cache), the official installer when get.pulumi.com
# answers, else a build from the Go module proxy into the cache dir
# (first run takes minutes; later runs only check and take seconds).
# Versions: scripts/versions.env. Cache layout and env: scripts/toolchain/env.sh.
set -euo pipefail
# shellcheck source=scripts/toolchain/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/toolchain/env.sh"
# shellcheck source=scripts/toolchain/lib.sh
. "$DEBVISOR_ROOT/scripts/toolchain/lib.sh"

step "pulumi v$PULUMI_VERSION toolchain; cache: $DEBVISOR_CACHE"

# The engine, providers and npm SDKs must match: refuse drift early.
check_pin "$PULUMI_VERSION" "$PULUMI_NPM"
check_pin "$COMMAND_VERSION" "$COMMAND_NPM"
check_pin "$KUBERNETES_VERSION" "$KUBERNETES_NPM"
check_pin "$RANDOM_VERSION" "$RANDOM_NPM"
[[ -d "$DEBVISOR_ROOT/node_modules/@pulumi/pulumi" ]] || die "node_modules is missing: run npm ci first"
mkdir -p "$BIN" "$PULUMI_HOME"

# online: can we reach the official installer? Checked once, fails fast offline.
ONLINE=
online() {
  if [[ -z "$ONLINE" ]]; then
    ONLINE=no
    if [[ "${DEBVISOR_OFFLINE:-}" != 1 ]] && curl -fsS --max-time 5 -o /dev/null https://get.pulumi.com 2>/dev/null; then
      ONLINE=yes
    fi
  fi
  [[ "$ONLINE" == yes ]]
}

# --- CLI and Node.js language host ------------------------------------------
current=$(pulumi version 2>/dev/null || true)
# Our own language host (scripts/toolchain/langhost): rebuilt when its source changed.
langhost_source() {
  local sum
  sum=$(sha256sum "$DEBVISOR_ROOT/scripts/toolchain/langhost/main.go")
  echo "local-source-${sum:0:16}"
}
if [[ "$current" == "v$PULUMI_VERSION" ]] && command -v pulumi-language-nodejs >/dev/null; then
  step "pulumi $current found at $(command -v pulumi)"
  if grep -q "^pulumi-language-nodejs .* local-source" "$MANIFEST" 2>/dev/null &&
    ! grep -qx "pulumi-language-nodejs $PULUMI_VERSION $(langhost_source)" "$MANIFEST"; then
    go_env
    step "rebuilding pulumi-language-nodejs (its source changed) ..."
    build_langhost || die "building pulumi-language-nodejs failed; full log: $LOG"
    manifest_set pulumi-language-nodejs "$PULUMI_VERSION" "$(langhost_source)"
  fi
else
  [[ -z "$current" ]] || step "ignoring pulumi $current at $(command -v pulumi): need v$PULUMI_VERSION"
  : >"$LOG"
  if online; then
    step "installing pulumi v$PULUMI_VERSION with the official installer (log: $LOG)"
    logged "running the official installer" bash -c "curl -fsSL https://get.pulumi.com |
      sh -s -- --version '$PULUMI_VERSION' --install-root '$DEBVISOR_TOOLCHAIN' --no-edit-path" ||
      die "official installer failed; full log: $LOG"
    manifest_set pulumi "$PULUMI_VERSION" installer
    manifest_set pulumi-language-nodejs "$PULUMI_VERSION" installer
  else
    step "offline: building from the Go module proxy into $BIN (log: $LOG)"
    go_env
    step "building pulumi CLI v$PULUMI_VERSION (first time: several minutes) ..."
    build_cli || die "building the pulumi CLI failed; full log: $LOG"
    manifest_set pulumi "$PULUMI_VERSION" go-proxy
    step "building pulumi-language-nodejs ..."
    build_langhost || die "building pulumi-language-nodejs failed; full log: $LOG"
    manifest_set pulumi-language-nodejs "$PULUMI_VERSION" "$(langhost_source)"
  fi
  step "pulumi $(pulumi version) ready"
fi

# Dynamic providers (pulumi.dynamic) run through this tiny script.
install -m 0755 "$DEBVISOR_ROOT/scripts/toolchain/pulumi-resource-pulumi-nodejs" "$BIN/"

# --- resource providers ------------------------------------------------------
MISSING=()

# DebVisor's own pulumi-resource-command (scripts/toolchain/command-provider),
# built when no upstream one can be had. Its manifest source is
# "debvisor-source-<hash of its build inputs>": a changed source rebuilds it.
OWN_COMMAND="$DEBVISOR_ROOT/scripts/toolchain/command-provider"
own_command_source() {
  local sum
  sum=$(cd "$OWN_COMMAND" && find . -type f \( \( -name '*.go' ! -name '*_test.go' \) -o -name go.mod \
    -o -name go.sum -o -name '*.json' \) -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum)
  echo "debvisor-source-${sum:0:16}"
}
# own_command_drop: remove our build, so the checks below see upstream only.
own_command_drop() {
  rm -f "$BIN/pulumi-resource-command"
  { grep -v '^pulumi-resource-command ' "$MANIFEST" 2>/dev/null || true; } >"$MANIFEST.tmp"
  mv "$MANIFEST.tmp" "$MANIFEST"
}
# build_own_command VERSION SOURCE: build it into $BIN, or say why not.
build_own_command() {
  local implements
  implements=$(sed -n 's/^const implementsVersion = "\(.*\)"$/\1/p' "$OWN_COMMAND/main.go")
  if [[ "$implements" != "$1" ]]; then
    step "SKIP pulumi-resource-command v$1: DebVisor's own provider implements v$implements, not v$1"
    return 1
  fi
  go_env
  step "building DebVisor's own pulumi-resource-command v$1 (scripts/toolchain/command-provider) ..."
  logged "building pulumi-resource-command from scripts/toolchain/command-provider" \
    bash -c "cd '$OWN_COMMAND' && GOFLAGS='-mod=readonly -buildvcs=false' \
      go build -trimpath -ldflags '-s -w' -o '$BIN/pulumi-resource-command' ." || {
    step "SKIP pulumi-resource-command v$1: DebVisor's own build failed (see $LOG)"
    return 1
  }
  manifest_set pulumi-resource-command "$1" "$2"
}

# provider NAME VERSION GO_MODULE GO_VERSION
provider() {
  local name=$1 version=$2 bin="pulumi-resource-$1" own=
  if [[ "$name" == command ]]; then
    own=$(own_command_source)
    if grep -q "^$bin .* debvisor-source-" "$MANIFEST" 2>/dev/null; then
      # Ours is on PATH, which the engine prefers to its plugin cache: keep it
      # only while no upstream plugin is installed and its source is unchanged.
      if [[ ! -d "$PULUMI_HOME/plugins/resource-$name-v$version" ]] && grep -qx "$bin $version $own" "$MANIFEST" &&
        [[ -x "$BIN/$bin" ]]; then
        step "$bin v$version: cached (DebVisor's own build, source unchanged)"
        return 0
      fi
      own_command_drop
    fi
  fi
  if manifest_has "$bin" "$version"; then
    step "$bin v$version: cached"
  elif [[ -d "$PULUMI_HOME/plugins/resource-$name-v$version" ]]; then
    step "$bin v$version: installed plugin"
  elif command -v "$bin" >/dev/null; then
    step "$bin: using $(command -v "$bin") (its version is not checked)"
  elif online; then
    logged "installing $bin v$version" pulumi plugin install resource "$name" "$version" ||
      die "pulumi plugin install resource $name $version failed; full log: $LOG"
  elif [[ "$name" == kubernetes ]]; then
    # An 11-minute, 4 GB build that only Kubernetes clusters need: its own command.
    step "SKIP $bin v$version: not built by setup; npm run toolchain:kubernetes builds it (scripts/toolchain/kubernetes/provider.sh, ~11 min cold)"
    MISSING+=("$name")
  elif [[ -n "$4" ]]; then
    go_env
    step "building $bin v$version from $3@$4 ..."
    if build_provider "$name" "$version" "$3" "$4"; then
      manifest_set "$bin" "$version" go-proxy
    else
      step "SKIP $bin v$version: build failed (see $LOG and scripts/toolchain/NOTES.md)"
      MISSING+=("$name")
    fi
  elif [[ -n "$own" ]]; then
    build_own_command "$version" "$own" || MISSING+=("$name")
  else
    step "SKIP $bin v$version: the Go module proxy does not serve it (see scripts/toolchain/NOTES.md)"
    MISSING+=("$name")
  fi
}
provider command "$COMMAND_VERSION" "$COMMAND_GO_MODULE" "$COMMAND_GO_VERSION"
provider kubernetes "$KUBERNETES_VERSION" "$KUBERNETES_GO_MODULE" "$KUBERNETES_GO_VERSION"
provider random "$RANDOM_VERSION" "$RANDOM_GO_MODULE" "$RANDOM_GO_VERSION"

# --- local backend and the dev stack ----------------------------------------
if [[ "$PULUMI_BACKEND_URL" == file://* ]]; then
  mkdir -p "${PULUMI_BACKEND_URL#file://}"
fi
debvisor_passphrase "$DEBVISOR_DEV_STACK"
cd "$DEBVISOR_ROOT"
if pulumi stack select "$DEBVISOR_DEV_STACK" --non-interactive >/dev/null 2>&1; then
  step "stack $DEBVISOR_DEV_STACK exists on $PULUMI_BACKEND_URL"
else
  # Writes encryptionsalt into Pulumi.dev.yaml, or reuses the one there.
  out=$(PULUMI_SKIP_CONFIRMATIONS=true pulumi stack init "$DEBVISOR_DEV_STACK" --non-interactive 2>&1) ||
    die "pulumi stack init $DEBVISOR_DEV_STACK failed: $out"
  step "created stack $DEBVISOR_DEV_STACK on $PULUMI_BACKEND_URL"
fi

# --- kubeadm (scripts/toolchain/kubernetes): checks the Kubernetes layer's configs -----
bash "$DEBVISOR_ROOT/scripts/toolchain/kubernetes/kubeadm.sh" || step "WARNING: kubeadm could not be built (see above); test/e2e/kubeadm-validate.test.ts will fail"

# --- summary -------------------------------------------------------------------
step "toolchain in $BIN:"
sed 's/^/    /' "$MANIFEST" 2>/dev/null || true
if ((${#MISSING[@]})); then
  step "WARNING: providers not installed: ${MISSING[*]}; programs using them cannot preview or deploy"
fi
step "done. Run Pulumi with: bash scripts/pulumi.sh <args>  (e.g. npm run preview)"
