import { loadScript } from "../host/scripts.js";
import type { TimerSpec } from "../management/units.js";

/**
 * Ceph health check: one journal line per run, logfmt, with a syslog priority an
 * alerting system can filter on (SYSLOG_IDENTIFIER=debvisor-ceph-health; 6 ok, 4 warn,
 * 3 error). Fails (unit failed) on HEALTH_ERR and when Ceph is absent or unreachable.
 */
export const CEPH_HEALTH_SCRIPT = loadScript("storage/files/ceph-health.sh");

/**
 * ZFS scrub: scrubs every pool (or DEBVISOR_ZFS_POOLS), waits for it, and logs one
 * logfmt line per pool (SYSLOG_IDENTIFIER=debvisor-zfs-scrub). Fails when zpool is
 * missing, a pool is missing or a scrub finds errors.
 */
export const ZFS_SCRUB_SCRIPT = loadScript("storage/files/zfs-scrub.sh");

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
