#!/usr/bin/env bash
# Host tools the e2e tier runs on this machine (the lab installs its own): shellcheck for
# the script tier, Debian's chromium for the Cockpit login page. Installed with apt-get
# when missing (root), so `npm run test:e2e` works on a fresh machine.
set -euo pipefail
need=()
for p in shellcheck chromium openssh-client iproute2; do
  dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed || need+=("$p")
done
((${#need[@]})) || exit 0
[[ $(id -u) == 0 ]] || { echo "test tools missing (${need[*]}): run as root, or apt-get install them" >&2; exit 1; }
echo "[test-tools] installing ${need[*]}" >&2
apt-get update -q >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >&2
