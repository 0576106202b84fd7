# shellcheck shell=bash
# Environment shared by scripts/setup.sh and scripts/pulumi.sh (source it).
# Everything Pulumi writes (binaries, plugins, state) lives in a cache dir
# outside the repo, so a fresh clone and `npm run setup` reuse it.

DEBVISOR_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export DEBVISOR_ROOT

# Pinned versions (PULUMI_VERSION, COMMAND_VERSION, ...).
# shellcheck source=scripts/versions.env
. "$DEBVISOR_ROOT/scripts/versions.env"

export DEBVISOR_CACHE="${DEBVISOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/debvisor}"
export DEBVISOR_TOOLCHAIN="$DEBVISOR_CACHE/toolchain/$PULUMI_VERSION"

# Our binaries first: the CLI finds pulumi-language-nodejs and
# pulumi-resource-<name> providers on PATH.
case ":$PATH:" in
  *":$DEBVISOR_TOOLCHAIN/bin:"*) ;;
  *) export PATH="$DEBVISOR_TOOLCHAIN/bin:$PATH" ;;
esac

# Plugin cache, workspace settings and credentials stay in the cache dir.
export PULUMI_HOME="$DEBVISOR_CACHE/pulumi-home"
# Local file backend unless the user chose one (e.g. their own S3 or cloud).
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$DEBVISOR_CACHE/backend}"
# Offline machine: never phone home, never download a plugin behind our back.
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true

# The dev stack's passphrase. Only the local `dev` stack gets a default
# (debvisor-dev); any other stack needs PULUMI_CONFIG_PASSPHRASE (or
# PULUMI_CONFIG_PASSPHRASE_FILE) set by the user.
DEBVISOR_DEV_STACK=dev
DEBVISOR_DEV_PASSPHRASE=debvisor-dev

# debvisor_passphrase STACK: export the default passphrase for the dev stack
# when the user has set none; fail for other stacks without one.
debvisor_passphrase() {
  if [[ -n "${PULUMI_CONFIG_PASSPHRASE:-}" || -n "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]]; then
    return 0
  fi
  if [[ "$1" == "$DEBVISOR_DEV_STACK" ]]; then
    export PULUMI_CONFIG_PASSPHRASE="$DEBVISOR_DEV_PASSPHRASE"
    return 0
  fi
  echo "error: stack '$1' needs PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE);" \
    "only the local '$DEBVISOR_DEV_STACK' stack has a default passphrase" >&2
  return 1
}
