#!/usr/bin/env bash
# Run the Pulumi CLI on this project: scripts/pulumi.sh <pulumi args...>
# e.g. `scripts/pulumi.sh preview --diff`, `scripts/pulumi.sh up --policy-pack policy`.
#
# Uses the toolchain and state from `npm run setup` (see scripts/toolchain/env.sh),
# compiles the program first (npm run build; skip with DEBVISOR_SKIP_BUILD=1),
# and runs against the `dev` stack unless --stack/-s or PULUMI_STACK is given.
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
explicit=
prev=
for arg in "$@"; do
  case "$prev" in --stack | -s) stack=$arg explicit=1 ;; esac
  case "$arg" in --stack=* | -s=*) stack=${arg#*=} explicit=1 ;; esac
  prev=$arg
done
if [[ -z "$stack" ]]; then
  stack=${PULUMI_STACK:-$DEBVISOR_DEV_STACK}
fi
debvisor_passphrase "${stack##*/}"

if [[ "${DEBVISOR_SKIP_BUILD:-}" != 1 ]]; then
  # Keep stdout clean for commands like `stack export` that print data.
  npm run --silent build >&2
fi

# Select the stack unless the command names one itself (not every pulumi
# command takes --stack, so a selection is the one way that always works).
if [[ -z "$explicit" ]]; then
  pulumi stack select "$stack" --non-interactive >/dev/null
fi
exec pulumi "$@"
