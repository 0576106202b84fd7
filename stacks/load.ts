import * as pulumi from "@pulumi/pulumi";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import type { z } from "zod";
import { isPublicKey } from "../components/host/index.js";
import type { DebVisorClusterArgs, DebVisorClusterNodeArgs } from "../components/cluster.js";
import { stackConfigSchema, type StackConfig } from "./schema.js";
import { validateNetworkSettings, type NetworkSettings } from "../components/network/index.js";
import { validateVirtualizationSettings, type VirtualizationSettings } from "../components/virtualization/index.js";

/** All that is wrong with a stack config, one line per problem, each naming the field. */
export class StackConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid DebVisor stack config (debvisor:cluster):\n  - ${problems.join("\n  - ")}`);
    this.name = "StackConfigError";
  }
}

export interface LoadOptions {
  /** The secret `debvisor:sshPrivateKey`, when the stack sets one. */
  sshPrivateKey?: pulumi.Input<string>;
  /** Reads a file (tests replace it). @default fs.readFileSync(path, "utf8") */
  readFile?: (path: string) => string;
}

/** `nodes[2].address` from a zod path. */
export function fieldName(path: PropertyKey[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i === 0 ? "" : "."}${String(p)}`)).join("");
}

function valueAt(raw: unknown, path: PropertyKey[]): unknown {
  let v: unknown = raw;
  for (const p of path) v = v !== null && typeof v === "object" ? (v as Record<PropertyKey, unknown>)[p] : undefined;
  return v;
}

function describe(raw: unknown, issue: z.core.$ZodIssue): string {
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((k) => `${fieldName([...issue.path, k])}: unknown field`).join("; ");
  }
  const field = fieldName(issue.path) || "(root)";
  const value = valueAt(raw, issue.path);
  if (issue.code === "invalid_type") {
    return value === undefined ? `${field}: is required` : `${field}: must be ${/^[aeiou]/.test(issue.expected) ? "an" : "a"} ${issue.expected}, got ${JSON.stringify(value)}`;
  }
  return `${field}: ${issue.message}, got ${value === undefined ? "nothing" : JSON.stringify(value)}`;
}

/**
 * Validates `debvisor:cluster` and turns it into DebVisorCluster arguments. Reads the
 * key files it names. Throws StackConfigError listing every problem; registers nothing.
 */
export function loadStackConfig(raw: unknown, options: LoadOptions = {}): DebVisorClusterArgs {
  const parsed = stackConfigSchema.safeParse(raw);
  if (!parsed.success) throw new StackConfigError(parsed.error.issues.map((i) => describe(raw, i)));
  const cfg: StackConfig = parsed.data;
  const readRaw = options.readFile ?? ((p: string) => readFileSync(p, "utf8"));
  // Every node usually names the same key file: read each path once.
  const cache = new Map<string, string>();
  const read = (p: string) => {
    let text = cache.get(p);
    if (text === undefined) cache.set(p, (text = readRaw(p)));
    return text;
  };
  const problems: string[] = [];
  const readField = (field: string, path: string): string | undefined => {
    try {
      return read(path);
    } catch (e) {
      problems.push(`${field}: cannot read ${JSON.stringify(path)} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      return undefined;
    }
  };

  // The cluster's own networks default to the nodes' addresses (a host name cannot be a
  // firewall source: such a cluster must name its networks).
  const nodeAddresses = cfg.nodes.map((n) => n.address).filter((a) => isIP(a) !== 0).map((a) => (isIP(a) === 4 ? `${a}/32` : `${a}/128`));
  const someHostName = cfg.nodes.some((m) => isIP(m.address) === 0);
  const nodes: DebVisorClusterNodeArgs[] = cfg.nodes.map((n, i) => {
    const s = { ...cfg.defaults, ...n };
    // Objects merge field by field over defaults.
    const security = { ...cfg.defaults?.security, ...n.security };
    const management = { ...cfg.defaults?.management, ...n.management };
    const preseed = { ...cfg.defaults?.preseed, ...n.preseed };
    const network: NetworkSettings = { ...cfg.defaults?.network, ...n.network };
    const virtualization: VirtualizationSettings = { ...cfg.defaults?.virtualization, ...n.virtualization };
    if (security.clusterNetworks === undefined) {
      if (someHostName) problems.push(`nodes[${i}].security.clusterNetworks: required when node addresses are host names (the firewall needs networks), got nothing`);
      security.clusterNetworks = nodeAddresses;
    }
    const f = `nodes[${i}]`;
    // Rules that relate fields to each other, on the merged settings.
    for (const check of [() => validateNetworkSettings(network, `${f}.network`), () => validateVirtualizationSettings(virtualization, `${f}.virtualization`)]) {
      try {
        check();
      } catch (e) {
        problems.push((e as Error).message);
      }
    }
    let hostKey = n.hostKey;
    if (n.hostKeyFile !== undefined) {
      const text = readField(`${f}.hostKeyFile`, n.hostKeyFile)?.trim();
      if (text !== undefined && !isPublicKey(text)) problems.push(`${f}.hostKeyFile: ${JSON.stringify(n.hostKeyFile)} does not hold one SSH public key line`);
      hostKey = text;
    }
    let privateKey: pulumi.Input<string> | undefined;
    if (s.privateKeyFile !== undefined) {
      const keyField = n.privateKeyFile !== undefined ? `${f}.privateKeyFile` : "defaults.privateKeyFile";
      const text = readField(keyField, s.privateKeyFile);
      if (text !== undefined && !text.includes("PRIVATE KEY-----")) problems.push(`${keyField}: ${JSON.stringify(s.privateKeyFile)} is not a private key file`);
      if (text !== undefined) privateKey = pulumi.secret(text);
    } else if (options.sshPrivateKey !== undefined) {
      privateKey = pulumi.secret(options.sshPrivateKey);
    } else {
      problems.push(`${f}.privateKeyFile: no SSH private key: set privateKeyFile (here or in defaults) or the secret debvisor:sshPrivateKey`);
    }
    return {
      name: n.name,
      profile: s.profile as DebVisorClusterNodeArgs["profile"],
      host: {
        address: n.address, port: s.port, user: s.user, privateKey: privateKey ?? "",
        hostKey, insecureSkipHostKeyCheck: s.insecureSkipHostKeyCheck,
        dialErrorLimit: s.dialErrorLimit, perDialTimeout: s.perDialTimeout,
      },
      base: {
        release: s.release, mirror: s.mirror, securityMirror: s.securityMirror, aptProxy: s.aptProxy,
        contrib: s.contrib, nonFree: s.nonFree, backports: s.backports, packages: s.packages,
        locale: s.locale, timezone: s.timezone,
      },
      security,
      management,
      network,
      virtualization,
      ...(preseed.installDisk !== undefined ? { preseed: { ...preseed, installDisk: preseed.installDisk, authorizedKeys: preseed.authorizedKeys ?? [], hostname: n.name } } : {}),
    };
  });
  if (problems.length > 0) throw new StackConfigError([...new Set(problems)]); // a shared default fails once, not per node
  return { nodes };
}
