import * as pulumi from "@pulumi/pulumi";
import { RemoteStep, stepSpec, type ResolvedHost } from "../host/index.js";
import { checkSettings } from "../config/problems.js";
import { alreadyValidated } from "../config/trusted.js";
import { managementRules, managementSchema } from "./schema.js";
import {
  DEFAULT_PROVISION_SCRIPT, FIRSTBOOT_RUNNER_SCRIPT, FIRSTBOOT_SERVICE, renderTimerService, renderTimerUnit,
  type TimerSpec,
} from "./units.js";

/** Management settings of a node (stack config `management`). */
export interface ManagementSettings {
  /** Install the first-boot unit (runs `firstBootScript` once at the next boot). @default false */
  firstBoot?: boolean;
  /** The node's provisioning script, run once at first boot. @default DEFAULT_PROVISION_SCRIPT (reports the node ready) */
  firstBootScript?: string;
  /** When the Ceph health check runs (systemd OnCalendar). @default "*:0/5" */
  cephHealthSchedule?: string;
  /** When ZFS pools are scrubbed (systemd OnCalendar). @default "Sun *-*-01..07 03:00:00" (first Sunday of the month) */
  zfsScrubSchedule?: string;
  /** Pools to scrub. @default [] (every imported pool) */
  zfsScrubPools?: string[];
}

export interface NodeManagementArgs extends ManagementSettings {
  /** The host to configure. */
  host: ResolvedHost;
  /** Timers to install, as `[role, spec]` (DebVisorNode passes what its layers contribute: Ceph health and ZFS scrub on storage nodes). @default [] */
  timers?: [string, TimerSpec][];
}

/** Throws a ConfigError naming each bad field and its value. */
export function validateManagementSettings(m: ManagementSettings, field = "management"): void {
  checkSettings(managementSchema, m, field, managementRules);
}

/**
 * The management layer of a node: the first-boot unit (when asked for), the timers the
 * node's other layers contribute, and a last step that removes any other DebVisor timer.
 */
export class NodeManagement extends pulumi.ComponentResource {
  /** Timers installed (unit base names). */
  readonly timers: string[];
  /** The last step, or undefined when the layer had nothing to do. */
  readonly ready?: pulumi.Resource;

  constructor(name: string, args: NodeManagementArgs, opts?: pulumi.ComponentResourceOptions) {
    if (!alreadyValidated(args)) {
      const { host: _h, timers: _t, ...settings } = args;
      validateManagementSettings(settings);
    }
    super("debvisor:management:NodeManagement", name, {}, opts);
    const host = args.host;
    const timers = args.timers ?? [];
    this.timers = timers.map(([, t]) => t.name);
    // One step: the first-boot unit, each timer, then the removal of any other DebVisor
    // timer (an earlier DebVisor may have installed e.g. a Ceph health check on a node
    // without Ceph).
    const steps = new RemoteStep(`${name}-apply`, {
      host,
      parts: [
        ...(args.firstBoot ? [{ name: "firstboot", script: "management/firstboot.sh", params: firstBootParams(args.firstBootScript) }] : []),
        ...timers.map(([role, spec]) => ({ name: `timer-${role}`, script: "management/timer.sh", params: timerParams(spec) })),
        { name: "timers", ...timersStep(this.timers) },
      ],
      timeoutSeconds: 1800,
      partsRecord: "management",
    }, { parent: this, dependsOn: opts?.dependsOn }); // children do not inherit the layer's dependsOn
    this.ready = steps.command;
    this.registerOutputs({ timers: this.timers });
  }
}


/** The timer step's parameters. */
export function timerParams(t: TimerSpec): Record<string, string> {
  return { DV_NAME: t.name, DV_SCRIPT: t.script, DV_SERVICE: renderTimerService(t), DV_TIMER: renderTimerUnit(t) };
}

/** `management/timers.sh`: removes the DebVisor timers not in `keep`. */
export const timersStep = (keep: readonly string[]) => stepSpec("management/timers.sh", { DV_KEEP: keep.join(" ") });

/** The first-boot step's parameters. */
export function firstBootParams(script = DEFAULT_PROVISION_SCRIPT): Record<string, string> {
  return { DV_PROVISION: script, DV_RUNNER: FIRSTBOOT_RUNNER_SCRIPT, DV_UNIT: FIRSTBOOT_SERVICE };
}
