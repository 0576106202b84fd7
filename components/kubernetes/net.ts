import { isIP } from "node:net";

/** IPv4 helpers of the Kubernetes layer's checks (networks as integer ranges). */

/** `10.1.2.3` -> its 32-bit value, or undefined. */
export function ipv4ToInt(ip: string): number | undefined {
  if (isIP(ip) !== 4) return undefined;
  return ip.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);
}

/** An IPv4 network `a.b.c.d/len` (or a bare address, /32) as its first and last address and prefix. */
export interface Ipv4Range {
  first: number;
  last: number;
  prefix: number;
  /** True when the CIDR had host bits set (`10.0.0.5/24`). */
  hostBits: boolean;
}

export function ipv4Range(cidr: string): Ipv4Range | undefined {
  const m = /^([0-9.]+)(?:\/(\d{1,2}))?$/.exec(cidr);
  if (!m) return undefined;
  const addr = ipv4ToInt(m[1]);
  const prefix = m[2] === undefined ? 32 : Number(m[2]);
  if (addr === undefined || prefix > 32) return undefined;
  const size = 2 ** (32 - prefix);
  const first = Math.floor(addr / size) * size;
  return { first, last: first + size - 1, prefix, hostBits: first !== addr };
}

/** Do two IPv4 networks (or addresses) share an address? */
export function ipv4Overlaps(a: string, b: string): boolean {
  const x = ipv4Range(a);
  const y = ipv4Range(b);
  return x !== undefined && y !== undefined && x.first <= y.last && y.first <= x.last;
}

/** Is `ip` inside the IPv4 network `cidr`? */
export function ipv4Contains(cidr: string, ip: string): boolean {
  const r = ipv4Range(cidr);
  const a = ipv4ToInt(ip);
  return r !== undefined && a !== undefined && a >= r.first && a <= r.last;
}

/** The network of `10.0.0.5/24`: `10.0.0.0/24`. */
export function ipv4Network(cidr: string): string | undefined {
  const r = ipv4Range(cidr);
  if (r === undefined) return undefined;
  const o = [24, 16, 8, 0].map((s) => Math.floor(r.first / 2 ** s) % 256);
  return `${o.join(".")}/${r.prefix}`;
}
