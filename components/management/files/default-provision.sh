#!/bin/sh
# DebVisor default first-boot provisioning: make sure SSH runs, then report the node
# ready for `pulumi up` (which applies the node's layers over SSH).
set -eu
systemctl enable --now ssh.service >/dev/null 2>&1 || true
# shellcheck source=/dev/null
release=$(. /etc/os-release && echo "${VERSION_CODENAME:-unknown}")
echo "debvisor-firstboot status=ready host=$(hostname) release=$release"
