import { isIP } from "node:net";

/** A network: family, its address as a number, prefix length. A bare address is a /32 or /128. */
export interface Network {
  family: 4 | 6;
  bits: bigint;
  prefix: number;
  text: string;
}

function v4(addr: string): bigint {
  return addr.split(".").reduce((n, o) => (n << 8n) + BigInt(Number(o)), 0n);
}

function v6(addr: string): bigint {
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  const m = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(addr);
  if (m) {
    const n = v4(m[2]);
    addr = `${m[1]}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = addr.includes("::") ? addr.split("::") : [addr, undefined];
  const h = head ? head.split(":") : [];
  const t = tail === undefined ? [] : tail ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  return groups.reduce((n, g) => (n << 16n) + BigInt(parseInt(g || "0", 16)), 0n);
}

/** Parses `10.0.0.0/8`, `::/0`, `192.0.2.7`; undefined for anything else. */
export function parseNetwork(text: string): Network | undefined {
  const [addr, len, ...rest] = text.trim().split("/");
  if (rest.length > 0) return undefined;
  const fam = isIP(addr.replace(/%.*$/, ""));
  if (fam === 0) return undefined;
  const max = fam === 4 ? 32 : 128;
  if (len !== undefined && !/^\d{1,3}$/.test(len)) return undefined;
  const prefix = len === undefined ? max : Number(len);
  if (prefix > max) return undefined;
  const bits = fam === 4 ? v4(addr) : v6(addr.replace(/%.*$/, ""));
  return { family: fam as 4 | 6, bits, prefix, text: text.trim() };
}

/** Does network `outer` contain all of `inner`? */
export function contains(outer: Network, inner: Network): boolean {
  if (outer.family !== inner.family || outer.prefix > inner.prefix) return false;
  const width = outer.family === 4 ? 32 : 128;
  const shift = BigInt(width - outer.prefix);
  return outer.bits >> shift === inner.bits >> shift;
}

/** The whole address space of both families: what "no source restriction" means. */
export const EVERYWHERE = ["0.0.0.0/0", "::/0"];
