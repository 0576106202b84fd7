/**
 * DebVisor's deploy rules as plain functions over a resource's inputs, so tests can feed
 * them registrations without starting a policy server. `index.ts` wraps them in a
 * CrossGuard PolicyPack; README.md beside this file documents each rule.
 *
 * The rules look at what a host will really receive: the inputs of each
 * `command:remote:Command`, whose stdin carries the step's parameters as
 * `export DV_NAME='value'` lines (read back with `parseParams`). That works in
 * `pulumi preview` as well as in `pulumi up` (stack outputs are empty during preview;
 * resource inputs are not).
 *
 * Secrets: a step with secret parameters sends its whole payload as a secret. CrossGuard
 * hands policies such values unwrapped, so the rules still check them, but a message
 * about a secret payload never quotes anything from it.
 */
import { parseScripts, PayloadParseError } from "./params.js";
import { nftOpenings, ufwOpenings, type Opening } from "./firewall.js";
import { contains, parseNetwork, type Network } from "./net.js";

/** JSON schema of one rule setting (a CrossGuard policy config property). */
export interface SettingSchema {
  type: "integer" | "string" | "array" | "boolean";
  description: string;
  default: unknown;
  items?: { type: "string" };
  minimum?: number;
  maximum?: number;
}

export interface RuleContext {
  /** The resource's name: for a step, the step (`debvisor-n1-security-firewall`). */
  name: string;
  /** This rule's settings, defaults applied. */
  config: Record<string, any>;
  /** The step's payload is a secret: a message must not quote any of it. */
  secretPayload: boolean;
}

export interface Rule {
  name: string;
  description: string;
  /** Resource type the rule looks at. */
  type: string;
  /** Settings a policy pack config may give this rule (besides `enforcementLevel`). */
  settings?: Record<string, SettingSchema>;
  /** Violation messages; empty when the resource complies. */
  check(props: Record<string, any>, ctx: RuleContext): string[];
}

export const REMOTE_COMMAND = "command:remote:Command";

/** `step <name>[, part <part>] (host <address>)`: how every message names the place. */
function where(p: Record<string, any>, ctx: RuleContext, part?: string): string {
  return `step ${ctx.name}${part ? `, part ${part}` : ""} (host ${p.connection?.host ?? "?"})`;
}

/**
 * The parameters of each script the step runs (one, or one per part of a layer's
 * multi-part step), or a violation message when the payload cannot be read. Parts are
 * checked one by one, never merged: two parts may use the same parameter name.
 */
function stepScripts(p: Record<string, any>, ctx: RuleContext): { scripts: { part?: string; params: Record<string, string> }[] } | { error: string } {
  if (typeof p.stdin !== "string") return { scripts: [] };
  try {
    return { scripts: parseScripts(p.stdin) };
  } catch (e) {
    // A parse error quotes one character at most, but not even that from a secret.
    const detail = ctx.secretPayload ? "(details withheld: the payload is secret)" : (e as Error).message;
    if (e instanceof PayloadParseError) return { error: `${where(p, ctx)}: its stdin parameters cannot be read, so they cannot be checked: ${detail}` };
    throw e;
  }
}

/** Does an interface name match a pattern list (a trailing `*` is a wildcard)? */
function interfaceAllowed(name: string, patterns: string[]): boolean {
  return patterns.some((pat) => (pat.endsWith("*") ? name.startsWith(pat.slice(0, -1)) : name === pat));
}

/** Interfaces whose traffic other software polices (Calico, libvirt, Docker): DebVisor's default trusted interfaces. */
export const DEFAULT_TRUSTED_INTERFACES = ["lo", "cali*", "vxlan.calico", "vxlan-v6.calico", "tunl0", "wireguard.cali", "wg-v6.cali", "virbr*", "docker0"];

/** Why one source is too wide, or undefined when it is fine. */
function tooWide(src: string, cfg: Record<string, any>, exempt: Network[]): string | undefined {
  let net = parseNetwork(src);
  const range = /^([^-]+)-([^-]+)$/.exec(src);
  if (!net && range) {
    // An address range a-b: as wide as the smallest network holding both ends.
    const [a, b] = [parseNetwork(range[1]), parseNetwork(range[2])];
    if (a && b && a.family === b.family && a.prefix === b.prefix) {
      const width = a.family === 4 ? 32 : 128;
      const diff = (a.bits ^ b.bits).toString(2).length - (a.bits === b.bits ? 1 : 0);
      net = { family: a.family, bits: a.bits, prefix: width - diff, text: src };
    }
  }
  if (!net) return `${src} (not an address or network the policy can read)`;
  if (exempt.some((e) => contains(e, net))) return undefined;
  const min = net.family === 4 ? cfg.minPrefixV4 : cfg.minPrefixV6;
  if (net.prefix === 0) return `${src} (every IPv${net.family} address)`;
  if (net.prefix < min) return `${src} (a /${net.prefix}, wider than the minimum /${min} for IPv${net.family})`;
  return undefined;
}

function describeOpening(o: Opening): string {
  const name = o.comment ? `rule "${o.comment}"` : "a rule";
  const iif = o.iif ? ` on interface ${o.iif}` : "";
  return `${o.backend} ${name} accepts ${o.what}${iif}`;
}

/** Parameters that list disks to wipe: DV_WIPE, or DV_WIPE_<anything>. */
export const WIPE_PARAM = /^DV_WIPE(_[A-Z0-9_]+)?$/;

export const RULES: Rule[] = [
  {
    name: "remote-command-pinned-host-key",
    description: "Every SSH step pins the host's key; a connection without one (insecureSkipHostKeyCheck) accepts any man-in-the-middle.",
    type: REMOTE_COMMAND,
    check: (p, ctx) =>
      p.connection && !p.connection.hostKey
        ? [`${where(p, ctx)}: no pinned hostKey (insecureSkipHostKeyCheck): any man-in-the-middle is accepted`]
        : [],
  },
  {
    name: "remote-command-no-environment",
    description: "No SSH environment variables (Debian's sshd drops them silently) and no previous output sent back.",
    type: REMOTE_COMMAND,
    check: (p, ctx) => [
      ...(p.environment && Object.keys(p.environment).length > 0 ? [`${where(p, ctx)}: sets environment ${Object.keys(p.environment).join(", ")}: pass parameters on stdin`] : []),
      ...(p.addPreviousOutputInEnv !== false ? [`${where(p, ctx)}: addPreviousOutputInEnv must be false`] : []),
    ],
  },
  {
    name: "remote-command-no-key-in-command",
    description: "No private key material in a command line.",
    type: REMOTE_COMMAND,
    check: (p, ctx) =>
      ["create", "update", "delete"]
        .filter((k) => typeof p[k] === "string" && /PRIVATE KEY-----/.test(p[k]))
        .map((k) => `${where(p, ctx)}: ${k} holds private key material`),
  },
  {
    name: "firewall-no-world-open",
    description:
      "No host firewall rule accepts traffic from the whole internet (0.0.0.0/0, ::/0) or from a network wider than the minimum prefix; the ruleset is read from the firewall step's parameters (nftables or ufw), default-deny input required.",
    type: REMOTE_COMMAND,
    settings: {
      minPrefixV4: { type: "integer", minimum: 1, maximum: 32, default: 8, description: "IPv4 sources must be at least this long a prefix (/0 is always refused)" },
      minPrefixV6: { type: "integer", minimum: 1, maximum: 128, default: 32, description: "IPv6 sources must be at least this long a prefix (/0 is always refused)" },
      exemptSources: { type: "array", items: { type: "string" }, default: ["fe80::/10"], description: "Networks never counted as too wide (link-local by default: it does not cross a router)" },
      trustedInterfaces: {
        type: "array", items: { type: "string" }, default: DEFAULT_TRUSTED_INTERFACES,
        description: "Interfaces whose traffic may be accepted without a source restriction (a trailing * is a wildcard)",
      },
    },
    check: (p, ctx) => {
      const read = stepScripts(p, ctx);
      if ("error" in read) return [read.error];
      const exempt = (ctx.config.exemptSources as string[]).map(parseNetwork).filter((n): n is Network => n !== undefined);
      const messages: string[] = [];
      for (const { part, params } of read.scripts) {
        const reports = [];
        if (params.DV_NFT) reports.push(nftOpenings(params.DV_NFT));
        if (params.DV_UFW_RULES || params.DV_UFW_IPIP) reports.push(ufwOpenings(params.DV_UFW_RULES ?? "", params.DV_UFW_IPIP ?? ""));
        const found: string[] = [];
        for (const r of reports) {
          found.push(...r.problems);
          for (const o of r.openings) {
            if (o.iif && o.unrestricted && interfaceAllowed(o.iif, ctx.config.trustedInterfaces)) continue;
            const wide = o.from.map((s) => tooWide(s, ctx.config, exempt)).filter((w): w is string => w !== undefined);
            if (wide.length > 0) found.push(`${describeOpening(o)} from ${wide.join(", ")}`);
          }
        }
        if (found.length === 0) continue;
        if (ctx.secretPayload) {
          messages.push(`${where(p, ctx, part)}: the firewall opens ${found.length} rule(s) to networks wider than allowed (details withheld: the step's payload is secret)`);
        } else messages.push(...found.map((f) => `${where(p, ctx, part)}: ${f}`));
      }
      return messages;
    },
  },
  {
    name: "disk-wipe-opt-in",
    description:
      "A step that wipes disks (parameter DV_WIPE or DV_WIPE_*, the disks one per line or space-separated) may wipe only disks this policy's allowedWipes names exactly.",
    type: REMOTE_COMMAND,
    settings: {
      allowedWipes: {
        type: "array", items: { type: "string" }, default: [],
        description: "Disks (exact /dev/disk/by-id paths) a deploy may wipe; any other wipe is a violation",
      },
    },
    check: (p, ctx) => {
      const read = stepScripts(p, ctx);
      if ("error" in read) return [read.error];
      const allowed = new Set(ctx.config.allowedWipes as string[]);
      const out: string[] = [];
      for (const { part, params } of read.scripts) {
        for (const [k, v] of Object.entries(params)) {
          if (!WIPE_PARAM.test(k)) continue;
          const disks = v.split(/\s+/).filter(Boolean).filter((d) => !allowed.has(d));
          if (disks.length === 0) continue;
          out.push(
            ctx.secretPayload
              ? `${where(p, ctx, part)}: ${k} wipes ${disks.length} disk(s) not in allowedWipes (names withheld: the step's payload is secret)`
              : `${where(p, ctx, part)}: ${k} wipes ${disks.join(", ")}: every byte on it is lost; name the disk in this policy's allowedWipes to allow it`,
          );
        }
      }
      return out;
    },
  },
];

/** A rule's settings: the defaults, overridden by what the policy pack config gives. */
export function ruleConfig(rule: Rule, given: Record<string, unknown> = {}): Record<string, any> {
  const cfg: Record<string, any> = {};
  for (const [k, s] of Object.entries(rule.settings ?? {})) cfg[k] = given[k] ?? s.default;
  return cfg;
}

/**
 * Is a Command's payload secret? CrossGuard unwraps secrets before a policy sees them,
 * so this reads what RemoteStep sets together with a secret payload: `logging: "none"`
 * and stdout/stderr as additional secret outputs.
 */
export function isSecretPayload(props: Record<string, any>, additionalSecretOutputs: string[] = []): boolean {
  return props.logging === "none" || additionalSecretOutputs.includes("stdout");
}

export interface CheckOptions {
  /** The resource's name. @default "?" */
  name?: string;
  /** Settings per rule name, as in a policy pack config file. */
  config?: Record<string, Record<string, unknown>>;
  /** @default isSecretPayload(props) */
  secretPayload?: boolean;
}

/** Violations of every rule for one resource. */
export function checkResource(type: string, props: Record<string, any>, options: CheckOptions = {}): { rule: string; message: string }[] {
  return RULES.filter((r) => r.type === type).flatMap((r) =>
    r
      .check(props, { name: options.name ?? "?", config: ruleConfig(r, options.config?.[r.name]), secretPayload: options.secretPayload ?? isSecretPayload(props) })
      .map((message) => ({ rule: r.name, message })),
  );
}
