import { isIP } from "node:net";

/**
 * Formats several layers accept, defined once (regexes and predicates); the layers'
 * schemas build on them.
 */

/** A POSIX user name as Debian's adduser accepts it. */
export const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
/** A node name: lower-case DNS label (also names the node's resources). */
export const NODE_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** A host name label as cloud-init and the installer take it. */
export const HOST_LABEL = NODE_NAME;
/** A DNS domain (lower case). */
export const DNS_DOMAIN = /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
/** A Debian package name. */
export const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+$/;
/** A disk named by its stable id. */
export const DISK_BY_ID = /^\/dev\/disk\/by-id\/[A-Za-z0-9._:+-]+$/;
/** A systemd OnCalendar expression's characters (the host checks it with systemd-analyze). */
export const ON_CALENDAR = /^[A-Za-z0-9 ,.:*\/~+-]{1,100}$/;
/** A ZFS pool name. */
export const ZFS_POOL_NAME = /^[A-Za-z][A-Za-z0-9_.:-]{0,254}$/;

const HOST_NAME = /^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;
const PUBLIC_KEY = /^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,3}( .*)?$/;

/** An IP address or a DNS name. */
export function isAddress(value: string): boolean {
  if (isIP(value)) return true;
  // A dotted quad that is not a valid IP (10.0.0.300) must not pass as a host name.
  if (/^[0-9.]+$/.test(value)) return false;
  return HOST_NAME.test(value);
}

/** One SSH public key line (`ssh-ed25519 AAAA... comment`). */
export function isPublicKey(value: string): boolean {
  return PUBLIC_KEY.test(value.trim());
}

export function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
  } catch {
    return false;
  }
}
