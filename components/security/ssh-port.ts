import * as pulumi from "@pulumi/pulumi";
import { RemoteStep, stepSpec, type ResolvedHost } from "../host/index.js";
import type { LayerDescriptor } from "../layer.js";

/** Seconds the new SSH port has to answer before a port move is rolled back. */
export const DEFAULT_PORT_MOVE_ROLLBACK_SECONDS = 60;

/** `security/ssh-move.sh`: sshd on both ports, the new one let in, rollback armed. */
export const sshMoveStep = (from: number, to: number, rollbackSeconds: number) =>
  stepSpec("security/ssh-move.sh", { DV_FROM: String(from), DV_TO: String(to), DV_ROLLBACK_SECONDS: String(rollbackSeconds) });

/** `security/ssh-confirm.sh`: run over the new port; keeps only it. */
export const sshConfirmStep = (from: number, to: number) => stepSpec("security/ssh-confirm.sh", { DV_FROM: String(from), DV_TO: String(to) });

export interface SshPortMoveArgs {
  /** The host, `port` being the port sshd is to listen on. */
  host: ResolvedHost;
  /** The port sshd listens on now. */
  from: number;
  /** Seconds the new port has to answer before the move is rolled back. @default 60 */
  rollbackSeconds?: number;
}

/**
 * Moves sshd from `from` to `host.port`, commit-confirmed: `<name>-move` (over the old
 * port) makes sshd listen on both, lets the new port through the host firewall and arms
 * a rollback; `<name>-confirm` dials the new port and, reaching it, keeps only the new
 * port. If the new port does not answer, the host restores its old sshd and firewall
 * settings by itself and the confirm step fails naming the port.
 */
export class SshPortMove extends pulumi.ComponentResource {
  /** The confirm step: every later step dials the new port after it. */
  readonly ready: pulumi.Resource;

  constructor(name: string, args: SshPortMoveArgs, opts?: pulumi.ComponentResourceOptions) {
    super("debvisor:security:SshPortMove", name, {}, opts);
    const to = args.host.port;
    const secs = args.rollbackSeconds ?? DEFAULT_PORT_MOVE_ROLLBACK_SECONDS;
    const move = new RemoteStep(`${name}-move`, { host: { ...args.host, port: args.from }, ...sshMoveStep(args.from, to, secs), timeoutSeconds: 120 }, { parent: this, dependsOn: opts?.dependsOn });
    // Its dials outlast the rollback window, so a port that never answers fails after the rollback.
    const confirmHost = { ...args.host, dialErrorLimit: Math.max(args.host.dialErrorLimit, Math.ceil((secs + 30) / 5) + 5), perDialTimeout: Math.max(args.host.perDialTimeout, 10) };
    this.ready = new RemoteStep(`${name}-confirm`, { host: confirmHost, ...sshConfirmStep(args.from, to), timeoutSeconds: 120 }, { parent: this, dependsOn: [move.command] }).command;
    this.registerOutputs({});
  }
}

/**
 * The SSH port layer: on every node, first of all. It builds something only when sshd
 * listens on another port than the node's `port` (`DebVisorNodeArgs.currentSshPort`, which
 * the stack program reads from the stack's previous outputs): then sshd moves first, and
 * every later step dials the new port.
 */
export const sshPortLayer: LayerDescriptor = {
  name: "ssh-port",
  always: true,
  build(node) {
    const from = node.args.currentSshPort;
    if (from === undefined || from === node.host.port) return undefined;
    const component = new SshPortMove(`${node.name}-ssh-port`, { host: node.host, from, rollbackSeconds: node.args.security?.portMoveRollbackSeconds }, { parent: node.parent });
    return { component, ready: component.ready };
  },
};
