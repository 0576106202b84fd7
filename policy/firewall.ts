import { EVERYWHERE } from "./net.js";

/**
 * What a firewall ruleset lets in, read from the text the host will load: the nftables
 * file (the firewall step's DV_NFT parameter) or the ufw rule arguments (DV_UFW_RULES,
 * DV_UFW_IPIP). Reading the rendered ruleset rather than the stack config means the
 * policy sees every way a port gets opened (extra rules, cluster networks, controller
 * addresses, a hand-written ruleset) exactly as the host will receive it.
 */
export interface Opening {
  backend: "nftables" | "ufw";
  /** What is accepted: `tcp dport 8080`, `udp port 30000:32767`, `ip protocol ipip`, `every port`. */
  what: string;
  /** Source networks or addresses as written; `0.0.0.0/0` and `::/0` when the rule names none. */
  from: string[];
  /** The rule names no source at all. */
  unrestricted: boolean;
  /** Input interface the rule is limited to, if any. */
  iif?: string;
  /** The rule's comment, if any (names the rule in messages). */
  comment?: string;
}

export interface RulesetReport {
  openings: Opening[];
  /** Problems with the ruleset as a whole (no default-deny input chain, ...). */
  problems: string[];
}

/** The `{ ... }` block that opens at `text[open]`, braces counted; the index after it. */
function block(text: string, open: number): [string, number] {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "{") depth++;
    else if (text[i] === "}" && --depth === 0) return [text.slice(open + 1, i), i + 1];
  }
  return [text.slice(open + 1), text.length];
}

const list = (s: string) => s.replace(/^\{|\}$/g, "").split(/[\s,]+/).filter(Boolean);
const stripComment = (line: string) => line.replace(/\bcomment\s+"[^"]*"/g, "").replace(/#.*$/, "").trim();

/** Openings of an nftables file: accept rules of every chain hooked to input. */
export function nftOpenings(ruleset: string): RulesetReport {
  const openings: Opening[] = [];
  const problems: string[] = [];
  const sets = new Map<string, string[]>();
  for (const m of ruleset.matchAll(/\bset\s+([A-Za-z0-9_.-]+)\s*\{/g)) {
    const [body] = block(ruleset, m.index! + m[0].length - 1);
    const el = /elements\s*=\s*\{/.exec(body);
    sets.set(m[1], el ? list(block(body, el.index + el[0].length - 1)[0]) : []);
  }
  // Chains hooked to input, and their statements.
  const inputChains = new Map<string, string[]>();
  for (const m of ruleset.matchAll(/\bchain\s+([A-Za-z0-9_.-]+)\s*\{/g)) {
    const [body] = block(ruleset, m.index! + m[0].length - 1);
    const lines = body.split(/[\n;]/).map((l) => l.trim()).filter(Boolean);
    const hook = lines.find((l) => /\btype\s+filter\s+hook\s+input\b/.test(l));
    if (!hook) continue;
    const policy = /\bpolicy\s+(accept|drop)\b/.exec(body)?.[1] ?? "accept";
    if (policy !== "drop") problems.push(`input chain ${m[1]} has policy ${policy}: every port it does not drop is open to everyone`);
    inputChains.set(m[1], lines.filter((l) => !/^(type|policy)\b/.test(l)));
  }
  for (const m of ruleset.matchAll(/^\s*add\s+rule\s+\S+\s+\S+\s+([A-Za-z0-9_.-]+)\s+(.*)$/gm)) {
    inputChains.get(m[1])?.push(m[2]);
  }
  if (inputChains.size === 0) problems.push("no chain hooked to input: inbound traffic is not filtered at all");

  const resolve = (src: string): string[] => {
    if (src.startsWith("@")) return sets.get(src.slice(1)) ?? [src];
    return list(src);
  };
  for (const statements of inputChains.values()) {
    for (const raw of statements) {
      const line = stripComment(raw);
      if (!/\baccept\b/.test(line)) continue;
      if (/^ct\s+state\b/.test(line) && !/\bnew\b/.test(line)) continue; // replies to our own traffic
      if (/\b(meta\s+l4proto|ip\s+protocol|ip6\s+nexthdr)\s+(icmp|ipv6-icmp|icmpv6)\b/.test(line) || /^(icmp|icmpv6)\s+type\b/.test(line)) continue;
      const comment = /\bcomment\s+"([^"]*)"/.exec(raw)?.[1];
      const iifm = /\biifname\s+(!=\s*)?("([^"]*)"|\{[^}]*\}|\S+)/.exec(line);
      const iif = iifm ? (iifm[3] ?? iifm[2]) : undefined;
      const from: string[] = [];
      let restricted = false;
      for (const s of line.matchAll(/\b(ip6?)\s+saddr\s+(!=\s*)?(@[A-Za-z0-9_.-]+|\{[^}]*\}|\S+)/g)) {
        restricted = true;
        if (s[2]) from.push(s[1] === "ip" ? EVERYWHERE[0] : EVERYWHERE[1]); // everything but a few
        else from.push(...resolve(s[3]));
      }
      if (!restricted) from.push(...EVERYWHERE);
      const port = /\b(tcp|udp|th|sctp)\s+dport\s+(!=\s*)?(\{[^}]*\}|\S+)/.exec(line);
      const proto = /\b(?:ip\s+protocol|meta\s+l4proto|ip6\s+nexthdr)\s+(\S+)/.exec(line);
      const what = port ? `${port[1]} dport ${port[2] ? "!= " : ""}${port[3]}` : proto ? `protocol ${proto[1]}` : "every port";
      if (iif === "lo" && !restricted) continue;
      openings.push({ backend: "nftables", what, from, unrestricted: !restricted, ...(iif ? { iif } : {}), ...(comment ? { comment } : {}) });
    }
  }
  return { openings, problems };
}

/** Openings of ufw rules (`allow from 10.0.0.0/24 to any port 22 proto tcp comment 'ssh'`, one a line). */
export function ufwOpenings(rules: string, ipipFrom = ""): RulesetReport {
  const openings: Opening[] = [];
  for (const raw of rules.split("\n")) {
    const comment = /\bcomment\s+'([^']*)'/.exec(raw)?.[1];
    const line = raw.replace(/\bcomment\s+'[^']*'/, "").trim();
    const words = line.split(/\s+/).filter(Boolean);
    if (words.length === 0 || !["allow", "limit"].includes(words[0])) continue;
    const after = (w: string) => {
      const i = words.indexOf(w);
      return i === -1 ? undefined : words[i + 1];
    };
    const src = after("from");
    const from = src === undefined || src === "any" ? [...EVERYWHERE] : [src];
    const port = after("port");
    const proto = after("proto");
    // `allow 8080/tcp` or `allow 8080`: the port is the second word.
    const bare = !src && !port && words[1] && /^[0-9:,]+(\/(tcp|udp))?$/.test(words[1]) ? words[1] : undefined;
    const what = port ? `${proto ?? "tcp+udp"} port ${port}` : bare ? `port ${bare}` : "every port";
    const iif = words[1] === "in" && words[2] === "on" ? words[3] : undefined;
    openings.push({ backend: "ufw", what, from, unrestricted: src === undefined || src === "any", ...(iif ? { iif } : {}), ...(comment ? { comment } : {}) });
  }
  const ipip = ipipFrom.split(/\s+/).filter(Boolean);
  if (ipip.length > 0) openings.push({ backend: "ufw", what: "ip protocol ipip", from: ipip, unrestricted: false, comment: "calico-ipip" });
  return { openings, problems: [] };
}
