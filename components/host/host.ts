import * as pulumi from "@pulumi/pulumi";
import type * as command from "@pulumi/command";
import { isIP } from "node:net";

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

const HOST_NAME = /^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;
const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
const PUBLIC_KEY = /^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,3}( .*)?$/;

export function isAddress(value: string): boolean {
  if (isIP(value)) return true;
  // A dotted quad that is not a valid IP (10.0.0.300) must not pass as a host name.
  if (/^[0-9.]+$/.test(value)) return false;
  return HOST_NAME.test(value);
}

export function isPublicKey(value: string): boolean {
  return PUBLIC_KEY.test(value.trim());
}

/** Throws an error naming the field and the value for the first thing wrong. */
export function validateHostArgs(args: HostArgs, field = "host"): void {
  const fail = (f: string, msg: string, v: unknown) => {
    throw new Error(`${field}.${f}: ${msg}, got ${JSON.stringify(v)}`);
  };
  if (typeof args.address !== "string" || !isAddress(args.address)) fail("address", "not an IP address or host name", args.address);
  if (args.port !== undefined && !(Number.isInteger(args.port) && args.port >= 1 && args.port <= 65535)) fail("port", "must be an integer from 1 to 65535", args.port);
  if (args.user !== undefined && !USER_NAME.test(args.user)) fail("user", "not a valid user name", args.user);
  if (args.dialErrorLimit !== undefined && !(Number.isInteger(args.dialErrorLimit) && args.dialErrorLimit >= 1)) fail("dialErrorLimit", "must be a positive integer", args.dialErrorLimit);
  if (args.perDialTimeout !== undefined && !(Number.isInteger(args.perDialTimeout) && args.perDialTimeout >= 1)) fail("perDialTimeout", "must be a positive integer (seconds)", args.perDialTimeout);
  if (args.privateKey === undefined || args.privateKey === "") fail("privateKey", "is required", args.privateKey);
  if (args.hostKey !== undefined && !isPublicKey(args.hostKey)) fail("hostKey", "not an SSH public key line (ssh-ed25519 AAAA...)", args.hostKey);
  if (args.hostKey === undefined && args.insecureSkipHostKeyCheck !== true) {
    throw new Error(`${field}.hostKey: a pinned host key is required for ${args.address} (set insecureSkipHostKeyCheck: true to accept any key)`);
  }
  if (args.hostKey !== undefined && args.insecureSkipHostKeyCheck === true) {
    throw new Error(`${field}.insecureSkipHostKeyCheck: cannot be set together with a pinned hostKey`);
  }
}

/** Defaults applied once, after validation. */
export function resolveHost(args: HostArgs, field = "host"): ResolvedHost {
  validateHostArgs(args, field);
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

/** The `@pulumi/command` connection: the private key always travels as a secret. */
export function connectionFor(host: ResolvedHost): command.types.input.remote.ConnectionArgs {
  return {
    host: host.address,
    port: host.port,
    user: host.user,
    privateKey: pulumi.secret(host.privateKey),
    ...(host.hostKey ? { hostKey: host.hostKey } : {}),
    dialErrorLimit: host.dialErrorLimit,
    perDialTimeout: host.perDialTimeout,
  };
}
