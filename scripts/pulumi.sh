#!/usr/bin/env bash
# Run the Pulumi CLI on this project: scripts/pulumi.sh <pulumi args...>
# e.g. `scripts/pulumi.sh preview --diff`, `scripts/pulumi.sh up --policy-pack policy`.
#
# Uses the toolchain and state from `npm run setup` (see scripts/toolchain/env.sh),
# compiles the program first (npm run build; skip with DEBVISOR_SKIP_BUILD=1),
# and runs against the `dev` stack unless --stack/-s or PULUMI_STACK is given.
# Only `dev` has a default passphrase (debvisor-dev); other stacks need
# PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE.
set -euo pipefail
# shellcheck source=scripts/toolchain/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/toolchain/env.sh"
cd "$DEBVISOR_ROOT"

if ! command -v pulumi >/dev/null || ! command -v pulumi-language-nodejs >/dev/null; then
  echo "error: no Pulumi toolchain found; run npm run setup first" >&2
  exit 1
fi

# The stack: an explicit --stack/-s wins, then PULUMI_STACK, then dev.
stack=
prev=
for arg in "$@"; do
  case "$prev" in --stack | -s) stack=$arg ;; esac
  case "$arg" in --stack=* | -s=*) stack=${arg#*=} ;; esac
  prev=$arg
done
# `stack init NAME` creates NAME: its passphrase rule, not dev's, applies.
if [[ "${1:-}" == stack && "${2:-}" == init && -n "${3:-}" && "${3:-}" != -* ]]; then
  stack=$3
fi
if [[ -z "$stack" ]]; then
  # Pulumi reads PULUMI_STACK as the current stack, for every command; it
  # overrides `pulumi stack select`, so name other stacks with --stack.
  stack=${PULUMI_STACK:-$DEBVISOR_DEV_STACK}
  export PULUMI_STACK="$stack"
fi
debvisor_passphrase "${stack##*/}"

if [[ "${DEBVISOR_SKIP_BUILD:-}" != 1 ]]; then
  # Keep stdout clean for commands like `stack export` that print data.
  npm run --silent build >&2
fi

exec pulumi "$@"
