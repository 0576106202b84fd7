import { BlockList, isIP } from "node:net";

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

/** `10.0.0.5/24` -> does its network contain `ip`? (IPv4 and IPv6; host bits in the CIDR are ignored.) */
export function cidrContains(cidr: string, ip: string): boolean {
  const [net, len] = cidr.split("/");
  const fam = isIP(net);
  if (fam === 0 || isIP(ip) !== fam) return false;
  const list = new BlockList();
  list.addSubnet(net, len === undefined ? (fam === 4 ? 32 : 128) : Number(len), fam === 4 ? "ipv4" : "ipv6");
  return list.check(ip, fam === 4 ? "ipv4" : "ipv6");
}

/** The address part of `10.0.0.5/24`. */
export const addressOf = (cidr: string) => cidr.split("/")[0];

const WEEKDAY = "(mon|tue|wed|thu|fri|sat|sun)[a-z]*";
const NUM = "(\\*|\\d+)(\\.\\.\\d+)?(/\\d+)?";
const LIST = (item: string) => `${item}(,${item})*`;
const ON_CALENDAR_SHORTHANDS = ["minutely", "hourly", "daily", "monthly", "weekly", "yearly", "annually", "quarterly", "semiannually"];
const ON_CALENDAR_FULL = new RegExp(
  `^(${LIST(`${WEEKDAY}(\\.\\.${WEEKDAY})?`)} )?` + // weekdays
  `(${LIST(NUM)}-${LIST(NUM)}(-|~)${LIST(NUM)} ?)?` + // date, or none
  `(${LIST(NUM)}:${LIST(NUM)}(:${LIST(NUM)}(\\.\\d+)?)?)?` + // time, or none
  `( (UTC|[A-Za-z]+/[A-Za-z_]+))?$`,
  "i",
);

/**
 * A systemd OnCalendar expression (systemd.time(7)): a shorthand like `daily`, or
 * `[weekdays] [date] [time] [zone]` with `*`, lists, ranges and repetitions. The host
 * checks it once more with `systemd-analyze calendar`.
 */
export function isOnCalendar(expr: string): boolean {
  const e = expr.trim();
  if (e === "" || !ON_CALENDAR.test(e)) return false;
  if (ON_CALENDAR_SHORTHANDS.includes(e.toLowerCase())) return true;
  if (!ON_CALENDAR_FULL.test(e)) return false;
  // Field ranges: months 1-12, days 1-31, hours 0-23, minutes and seconds 0-59.
  const time = /(?:^| )([\d*.,/]+):([\d*.,/]+)(?::([\d*.,/]+))?(?: |$)/.exec(e);
  const nums = (f: string | undefined) => (f ?? "").replace(/\/\d+/g, "").split(/[^\d]+/).filter((x) => x !== "").map(Number);
  if (time && (nums(time[1]).some((n) => n > 23) || nums(time[2]).some((n) => n > 59) || nums(time[3]).some((n) => n > 59))) return false;
  const date = /(?:^| )([\d*.,/]+)-([\d*.,/]+)[-~]([\d*.,/]+)(?: |$)/.exec(e);
  if (date && (nums(date[2]).some((n) => n < 1 || n > 12) || nums(date[3]).some((n) => n < 1 || n > 31))) return false;
  return time !== null || date !== null || /^[a-z]/i.test(e);
}
