#!/usr/bin/env bash
# `npm run bench:preview [-- NODES]`: `pulumi preview` of a new stack of NODES (default 1000)
# hyperconverged nodes through the real engine (no host is dialled at preview), in a
# throwaway stack: wall time, and the peak RSS of the engine (the pulumi CLI) and of the
# program (node), sampled every 0.2 s from /proc.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
n=${1:-1000}
[[ $n =~ ^[0-9]+$ && $n -ge 1 ]] || { echo "usage: npm run bench:preview -- NODES" >&2; exit 2; }
stack=bench-preview
config=Pulumi.$stack.yaml
export PULUMI_CONFIG_PASSPHRASE=debvisor-bench-preview DEBVISOR_SKIP_BUILD=1
key=ssh-ed25519\ AAAAC3NzaC1lZDI1NTE5AAAAIHq9rJ2m0o0n9X0N3m2yYb1V5c6dE7fG8hI9jK0lM1nO
keydir=$(mktemp -d)
keyfile=$keydir/id_ed25519
trap 'rm -rf "$keydir" "$config"; bash scripts/pulumi.sh stack rm --yes --force --stack "$stack" >/dev/null 2>&1 || true' EXIT
ssh-keygen -q -t ed25519 -N '' -C bench-preview -f "$keyfile" # the provider checks that it parses

bash scripts/pulumi.sh stack rm --yes --force --stack "$stack" >/dev/null 2>&1 || true
bash scripts/pulumi.sh stack init "$stack" >/dev/null
{
  printf 'config:\n  debvisor:cluster:\n    defaults:\n      user: debvisor\n      privateKeyFile: %s\n      aptProxy: http://10.0.0.1:3142\n      profile: hyperconverged\n    nodes:\n' "$keyfile"
  for ((i = 0; i < n; i++)); do
    printf '      - name: n%d\n        address: 10.%d.%d.%d\n        hostKey: %s\n' $((i + 1)) $(((i >> 16) & 255)) $(((i >> 8) & 255)) $((i & 255)) "$key"
  done
} >"$config"

# Peak RSS (MiB) per command name among this run's descendants.
declare -A peak=()
sample() {
  local p comm rss
  for p in /proc/[0-9]*; do
    [[ -r $p/status ]] || continue
    comm=$(awk '/^Name:/ {print $2}' "$p/status" 2>/dev/null) || continue
    case $comm in pulumi | node | MainThread) ;; *) continue ;; esac
    rss=$(awk '/^VmRSS:/ {print int($2 / 1024)}' "$p/status" 2>/dev/null) || continue
    [[ -n $rss ]] || continue
    [[ $comm == MainThread ]] && comm=node
    ((rss > ${peak[$comm]:-0})) && peak[$comm]=$rss
  done
}
start=$(date +%s.%N)
bash scripts/pulumi.sh preview --stack "$stack" --non-interactive --suppress-outputs >"${TMPDIR:-/tmp}/bench-preview.log" 2>&1 &
pid=$!
while kill -0 "$pid" 2>/dev/null; do
  sample
  sleep 0.2
done
rc=0
wait "$pid" || rc=$?
end=$(date +%s.%N)
tail -n 4 "${TMPDIR:-/tmp}/bench-preview.log"
((rc == 0)) || { echo "preview failed (exit $rc): ${TMPDIR:-/tmp}/bench-preview.log" >&2; exit "$rc"; }
printf '{"bench":"preview","nodes":%d,"seconds":%.1f,"enginePeakRssMiB":%d,"programPeakRssMiB":%d}\n' \
  "$n" "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" "${peak[pulumi]:-0}" "${peak[node]:-0}"
