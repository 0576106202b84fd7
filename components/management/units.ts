/**
 * Files DebVisor installs on a host for the management layer: the first-boot unit and
 * its runner, and the health / scrub timers with their check scripts. Pure text, shared
 * by the steps (Pulumi) and the installer preseed's late command.
 */

export const FIRSTBOOT_UNIT = "debvisor-firstboot.service";
export const FIRSTBOOT_MARKER = "/var/lib/debvisor/firstboot.done";
export const FIRSTBOOT_RUNNER = "/usr/local/sbin/debvisor-firstboot";
export const PROVISION_SCRIPT = "/usr/local/lib/debvisor/provision.sh";

/** The provisioning script a node runs at first boot when none is configured: it reports the node ready for `pulumi up`. */
export const DEFAULT_PROVISION_SCRIPT = `#!/bin/sh
# DebVisor default first-boot provisioning: make sure SSH runs, then report the node
# ready for \`pulumi up\` (which applies the node's layers over SSH).
set -eu
systemctl enable --now ssh.service >/dev/null 2>&1 || true
# shellcheck source=/dev/null
release=$(. /etc/os-release && echo "\${VERSION_CODENAME:-unknown}")
echo "debvisor-firstboot status=ready host=$(hostname) release=$release"
`;

export const FIRSTBOOT_SERVICE = `# Managed by DebVisor: runs the provisioning script of this node once, at first boot.
[Unit]
Description=DebVisor first-boot provisioning (runs once)
Wants=network-online.target
After=network-online.target
ConditionPathExists=!${FIRSTBOOT_MARKER}

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=${FIRSTBOOT_RUNNER}
SyslogIdentifier=debvisor-firstboot
TimeoutStartSec=2h

[Install]
WantedBy=multi-user.target
`;

/** Runs the provisioning script; writes the marker only when it succeeded (a failed run is retried at the next boot). */
export const FIRSTBOOT_RUNNER_SCRIPT = `#!/bin/sh
# Managed by DebVisor: the first-boot runner (see ${FIRSTBOOT_UNIT}).
set -u
marker=${FIRSTBOOT_MARKER}
if [ -e "$marker" ]; then
  echo "debvisor-firstboot status=skipped reason=already-provisioned since=$(cat "$marker")"
  exit 0
fi
if [ ! -x ${PROVISION_SCRIPT} ]; then
  echo "<3>debvisor-firstboot status=error reason=no-provisioning-script path=${PROVISION_SCRIPT}"
  exit 1
fi
echo "debvisor-firstboot status=started"
if ${PROVISION_SCRIPT}; then
  mkdir -p "$(dirname "$marker")"
  date -u +%Y-%m-%dT%H:%M:%SZ >"$marker.tmp" && mv -f "$marker.tmp" "$marker"
  echo "debvisor-firstboot status=done"
else
  rc=$?
  echo "<3>debvisor-firstboot status=error reason=provisioning-failed exit=$rc"
  exit "$rc"
fi
`;

/**
 * Ceph health check: one journal line per run, logfmt, with a syslog priority an
 * alerting system can filter on (SYSLOG_IDENTIFIER=debvisor-ceph-health; 6 ok, 4 warn,
 * 3 error). Fails (unit failed) on HEALTH_ERR and when Ceph is absent or unreachable.
 */
export const CEPH_HEALTH_SCRIPT = `#!/bin/sh
# Managed by DebVisor: Ceph health check (debvisor-ceph-health.timer).
set -u
tag=debvisor-ceph-health
if ! command -v ceph >/dev/null 2>&1; then
  echo "<3>$tag status=ERROR reason=ceph-missing message=\\"ceph CLI not found: this node has no Ceph installed (storage layer)\\""
  exit 1
fi
if ! out=$(timeout 60 ceph --connect-timeout 30 health --format json 2>&1); then
  msg=$(printf '%s' "$out" | tr '\\n"' "  " | cut -c1-300)
  echo "<3>$tag status=ERROR reason=ceph-unreachable message=\\"$msg\\""
  exit 1
fi
status=$(printf '%s' "$out" | jq -r '.status // "UNKNOWN"' 2>/dev/null || echo UNKNOWN)
checks=$(printf '%s' "$out" | jq -r '(.checks // {}) | keys | join(",")' 2>/dev/null || true)
case "$status" in
  HEALTH_OK) echo "<6>$tag status=$status checks=$checks"; exit 0 ;;
  HEALTH_WARN) echo "<4>$tag status=$status checks=$checks"; exit 0 ;;
  *) echo "<3>$tag status=$status checks=$checks"; exit 1 ;;
esac
`;

/**
 * ZFS scrub: scrubs every pool (or DEBVISOR_ZFS_POOLS), waits for it, and logs one
 * logfmt line per pool (SYSLOG_IDENTIFIER=debvisor-zfs-scrub). Fails when zpool is
 * missing, a pool is missing or a scrub finds errors.
 */
export const ZFS_SCRUB_SCRIPT = `#!/bin/sh
# Managed by DebVisor: ZFS scrub (debvisor-zfs-scrub.timer).
set -u
tag=debvisor-zfs-scrub
if ! command -v zpool >/dev/null 2>&1; then
  echo "<3>$tag status=ERROR reason=zpool-missing message=\\"zpool not found: this node has no ZFS installed (zfsutils-linux, storage layer)\\""
  exit 1
fi
pools=\${DEBVISOR_ZFS_POOLS:-$(zpool list -H -o name 2>/dev/null)}
if [ -z "$pools" ]; then
  echo "<5>$tag status=NO_POOLS"
  exit 0
fi
rc=0
for pool in $pools; do
  if ! zpool list -H "$pool" >/dev/null 2>&1; then
    echo "<3>$tag pool=$pool status=ERROR reason=pool-missing"
    rc=1
    continue
  fi
  if zpool status "$pool" | grep -q "scrub in progress"; then
    echo "<5>$tag pool=$pool status=IN_PROGRESS"
    continue
  fi
  if ! zpool scrub -w "$pool" 2>/dev/null; then
    echo "<3>$tag pool=$pool status=ERROR reason=scrub-failed"
    rc=1
    continue
  fi
  health=$(zpool list -H -o health "$pool")
  errors=$(zpool status "$pool" | sed -n 's/^ *errors: //p')
  if [ "$health" = ONLINE ] && [ "$errors" = "No known data errors" ]; then
    echo "<6>$tag pool=$pool status=OK health=$health"
  else
    echo "<3>$tag pool=$pool status=ERROR health=$health errors=\\"$errors\\""
    rc=1
  fi
done
exit $rc
`;

export interface TimerSpec {
  /** Unit base name, e.g. `debvisor-ceph-health`. */
  name: string;
  description: string;
  /** systemd OnCalendar expression (checked on the host with `systemd-analyze calendar`). */
  onCalendar: string;
  /** The check script's text, installed as /usr/local/lib/debvisor/<name>. */
  script: string;
  /** Extra `Environment=` lines for the service. */
  environment?: Record<string, string>;
  /** Run a missed run after boot (scrub: yes; health: no). */
  persistent: boolean;
  randomizedDelaySec: number;
  timeoutStartSec: string;
}

export function renderTimerService(t: TimerSpec): string {
  return [
    "# Managed by DebVisor: changes here are overwritten.",
    "[Unit]",
    `Description=${t.description}`,
    "",
    "[Service]",
    "Type=oneshot",
    `ExecStart=/usr/local/lib/debvisor/${t.name}`,
    `SyslogIdentifier=${t.name}`,
    ...Object.keys(t.environment ?? {}).sort().map((k) => `Environment=${k}=${t.environment![k]}`),
    `TimeoutStartSec=${t.timeoutStartSec}`,
    "Nice=10",
    "",
  ].join("\n");
}

export function renderTimerUnit(t: TimerSpec): string {
  return [
    "# Managed by DebVisor: changes here are overwritten.",
    "[Unit]",
    `Description=${t.description} (timer)`,
    "",
    "[Timer]",
    `OnCalendar=${t.onCalendar}`,
    `Persistent=${t.persistent ? "true" : "false"}`,
    `RandomizedDelaySec=${t.randomizedDelaySec}`,
    "",
    "[Install]",
    "WantedBy=timers.target",
    "",
  ].join("\n");
}

export const DEFAULT_CEPH_HEALTH_SCHEDULE = "*:0/5";
/** The first Sunday of each month, 03:00. */
export const DEFAULT_ZFS_SCRUB_SCHEDULE = "Sun *-*-01..07 03:00:00";

export function cephHealthTimer(onCalendar = DEFAULT_CEPH_HEALTH_SCHEDULE): TimerSpec {
  return { name: "debvisor-ceph-health", description: "DebVisor Ceph health check", onCalendar, script: CEPH_HEALTH_SCRIPT, persistent: false, randomizedDelaySec: 30, timeoutStartSec: "2min" };
}

export function zfsScrubTimer(onCalendar = DEFAULT_ZFS_SCRUB_SCHEDULE, pools: string[] = []): TimerSpec {
  return {
    name: "debvisor-zfs-scrub", description: "DebVisor ZFS scrub", onCalendar, script: ZFS_SCRUB_SCRIPT,
    environment: pools.length > 0 ? { DEBVISOR_ZFS_POOLS: `"${pools.join(" ")}"` } : {}, persistent: true, randomizedDelaySec: 3600, timeoutStartSec: "infinity",
  };
}
