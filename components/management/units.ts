import { loadScript } from "../host/scripts.js";

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
export const DEFAULT_PROVISION_SCRIPT = loadScript("management/files/default-provision.sh");

export const FIRSTBOOT_SERVICE = loadScript("management/files/debvisor-firstboot.service");

/** Runs the provisioning script; writes the marker only when it succeeded (a failed run is retried at the next boot). */
export const FIRSTBOOT_RUNNER_SCRIPT = loadScript("management/files/firstboot-runner.sh");

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

