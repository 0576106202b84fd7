#!/usr/bin/env bash
# npm run demo: the toolchain, the local lab, `pulumi up` of the dev stack, and a short
# summary of what each node now is. Root is needed for the lab.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
t0=$SECONDS
say() { printf '[demo %02d:%02d] %s\n' $(((SECONDS - t0) / 60)) $(((SECONDS - t0) % 60)) "$*"; }

say "toolchain (npm run setup)"
bash scripts/setup.sh
say "lab (npm run lab -- up): three bookworm hosts"
bash scripts/lab/lab.sh up
say "pulumi up of the dev stack"
bash scripts/pulumi.sh up --yes --non-interactive
say "what each node now is"
DEBVISOR_SKIP_BUILD=1 bash scripts/pulumi.sh stack output nodes --json --show-secrets | node scripts/summary.mjs
say "done. Next: npm run preview (expect no changes), npm run lab -- ssh n1, npm run lab -- down"
