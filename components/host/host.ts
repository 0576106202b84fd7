import * as pulumi from "@pulumi/pulumi";
import type * as command from "@pulumi/command";
import { checkSettings } from "../config/problems.js";
export { isAddress, isPublicKey } from "../config/formats.js";
import { hostKeyRules, hostSchema } from "./schema.js";

/** How DebVisor reaches one Debian host over SSH. */
export interface HostArgs {
  /** IP address or DNS name of the host. */
  address: string;
  /** SSH port. @default 22 */
  port?: number;
  /** Login user; any user other than root runs steps through `sudo -n`. @default "root" */
  user?: string;
  /** Private key for the login user (OpenSSH or PEM). Passed on as a secret. */
  privateKey: pulumi.Input<string>;
  /**
   * The host's public SSH key, as in a `.pub` file (`ssh-ed25519 AAAA...`). Pin ed25519:
   * the SSH client offers only the pinned key's type. Required unless
   * `insecureSkipHostKeyCheck` is set.
   */
  hostKey?: string;
  /** Accept any host key (man-in-the-middle possible). Only for throwaway hosts. @default false */
  insecureSkipHostKeyCheck?: boolean;
  /** How many failed dials before a step gives up. @default 10 */
  dialErrorLimit?: number;
  /** Seconds for one dial attempt. @default 15 */
  perDialTimeout?: number;
}

export type ResolvedHost = Required<Omit<HostArgs, "hostKey">> & { hostKey?: string };

/** Throws a ConfigError naming each bad field and its value. */
export function validateHostArgs(args: HostArgs, field = "host"): void {
  checkSettings(hostSchema, args, field, hostKeyRules);
}

/** Defaults applied once, after validation. */
export function resolveHost(args: HostArgs, field = "host"): ResolvedHost {
  validateHostArgs(args, field);
  return hostDefaults(args);
}

/** Defaults of an already validated HostArgs. */
export function hostDefaults(args: HostArgs): ResolvedHost {
  return {
    address: args.address,
    port: args.port ?? 22,
    user: args.user ?? "root",
    privateKey: args.privateKey,
    hostKey: args.hostKey?.trim(),
    insecureSkipHostKeyCheck: args.insecureSkipHostKeyCheck ?? false,
    dialErrorLimit: args.dialErrorLimit ?? 10,
    perDialTimeout: args.perDialTimeout ?? 15,
  };
}

/**
 * The `@pulumi/command` connection, as one secret value (the private key never travels
 * in the clear). One per host object: every step on a host shares it, which matters at
 * thousands of steps (each secret Output costs the SDK several promises).
 */
export function connectionFor(host: ResolvedHost): pulumi.Output<command.types.input.remote.ConnectionArgs> {
  let c = connections.get(host);
  if (!c) connections.set(host, (c = pulumi.secret(connectionArgs(host))));
  return c;
}
const connections = new WeakMap<ResolvedHost, pulumi.Output<command.types.input.remote.ConnectionArgs>>();

function connectionArgs(host: ResolvedHost): command.types.input.remote.ConnectionArgs {
  return {
    host: host.address,
    port: host.port,
    user: host.user,
    privateKey: host.privateKey,
    ...(host.hostKey ? { hostKey: host.hostKey } : {}),
    dialErrorLimit: host.dialErrorLimit,
    perDialTimeout: host.perDialTimeout,
  };
}
