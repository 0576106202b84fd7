import * as pulumi from "@pulumi/pulumi";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { isPublicKey } from "../components/config/formats.js";
import { ConfigError, describeIssue, joinPath, ruleProblems } from "../components/config/problems.js";
import { trusted } from "../components/config/trusted.js";
import { clusterProblems, layerClusterProblems, type DebVisorClusterArgs, type DebVisorClusterNodeArgs } from "../components/cluster.js";
import { LAYERS, layersOfProfile } from "../components/layers.js";
import { ignoredSettingsProblems } from "../components/node.js";
import { DEFAULT_PROFILE } from "../components/management/profiles.js";
import { preseedRules } from "../components/management/schema.js";
import { storageDisks, type StorageSettings } from "../components/storage/schema.js";
import { stackConfigSchema, type StackConfig, type StackNodeConfig } from "./schema.js";

/** All that is wrong with a stack config, one line per problem, each naming the field. */
export class StackConfigError extends ConfigError {
  constructor(problems: string[]) {
    super(problems, "invalid DebVisor stack config (debvisor:cluster):");
    this.name = "StackConfigError";
  }
}

export { fieldName } from "../components/config/problems.js";

export interface LoadOptions {
  /** The secret `debvisor:sshPrivateKey`, when the stack sets one. */
  sshPrivateKey?: pulumi.Input<string>;
  /** The port sshd listens on now, per node name (from the stack's previous outputs): a node whose `port` differs moves sshd. @default {} */
  currentSshPorts?: Record<string, number>;
  /** The nodes that had Ceph OSDs after the stack's last run (its outputs): one may leave the cluster only once drained. @default [] */
  previousCephOsdNodes?: string[];
  /** Reads a file (tests replace it). @default fs.readFileSync(path, "utf8") */
  readFile?: (path: string) => string;
}

/**
 * A node whose Ceph OSDs held data must not leave the cluster (or lose its `osds`) with
 * that data: it may once it is listed in `storage.ceph.drainedNodes` (which the cluster's
 * pools step checks with `ceph osd safe-to-destroy` before anything else).
 */
function cephDepartureProblems(nodes: DebVisorClusterNodeArgs[], previous: string[], inDefaults: boolean): string[] {
  const ceph = nodes.filter((n) => n.storage?.ceph);
  const now = new Set(ceph.filter((n) => (n.storage?.osds ?? []).length > 0).map((n) => n.name));
  const drained = new Set(ceph[0]?.storage?.ceph?.drainedNodes ?? []);
  const field = `${inDefaults ? "defaults" : "nodes[0]"}.storage.ceph.drainedNodes`;
  return previous.filter((n) => !now.has(n) && !drained.has(n)).map((n) =>
    `${field}: node ${n} had Ceph OSDs and is leaving the cluster (or its osds): drain them first (ceph osd out $(ceph osd ls-tree ${n}), then wait for HEALTH_OK), then list ${JSON.stringify(n)} here; its data is never destroyed by DebVisor`);
}

/** The base layer's fields, which sit directly on a node in the stack config. */
const BASE_KEYS = ["release", "mirror", "securityMirror", "aptProxy", "contrib", "nonFree", "backports", "packages", "locale", "timezone"] as const;
/** Layers whose settings are an object of their own (`security`, `network`, ...), merged field by field over `defaults`. */
const OBJECT_LAYERS = LAYERS.filter((l) => l.settings && l.settings.key !== "base");

/**
 * Validates `debvisor:cluster` and turns it into DebVisorCluster arguments. Reads the
 * key files it names. Throws StackConfigError listing every problem; registers nothing.
 */
export function loadStackConfig(raw: unknown, options: LoadOptions = {}): DebVisorClusterArgs {
  const parsed = stackConfigSchema.safeParse(raw);
  if (!parsed.success) throw new StackConfigError(parsed.error.issues.flatMap((i) => describeIssue(raw, i).split("\n")));
  const cfg = parsed.data as StackConfig;
  const defaults = (cfg.defaults ?? {}) as Record<string, unknown>;
  const readRaw = options.readFile ?? ((p: string) => readFileSync(p, "utf8"));
  // Every node usually names the same key file: read each path once.
  const cache = new Map<string, string>();
  const problems: string[] = [];
  const readField = (field: string, path: string): string | undefined => {
    try {
      let text = cache.get(path);
      if (text === undefined) cache.set(path, (text = readRaw(path)));
      return text;
    } catch (e) {
      problems.push(`${field}: cannot read ${JSON.stringify(path)} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      return undefined;
    }
  };

  // Nodes usually share one key: one secret value for all of them (each is an Output).
  const secrets = new Map<pulumi.Input<string>, pulumi.Output<string>>();
  const secretKey = (key: pulumi.Input<string>) => {
    let out = secrets.get(key);
    if (!out) secrets.set(key, (out = pulumi.secret(key)));
    return out;
  };

  problems.push(...clusterProblems(cfg.nodes.map((n) => ({ name: n.name, address: n.address, port: n.port ?? (defaults.port as number | undefined) })), (i, k) => `nodes[${i}].${k}`));
  // The cluster's own networks default to the nodes' addresses (a host name cannot be a
  // firewall source: such a cluster must name its networks).
  const nodeAddresses = cfg.nodes.map((n) => n.address).filter((a) => isIP(a) !== 0).map((a) => (isIP(a) === 4 ? `${a}/32` : `${a}/128`));
  const someHostName = cfg.nodes.some((m) => isIP(m.address) === 0);

  const nodes: DebVisorClusterNodeArgs[] = cfg.nodes.map((n: StackNodeConfig, i) => {
    const f = `nodes[${i}]`;
    const s = { ...defaults, ...n } as StackNodeConfig;
    // Layer settings objects merge field by field over defaults.
    const layers: Record<string, Record<string, unknown>> = {};
    for (const l of OBJECT_LAYERS) layers[l.settings!.key] = { ...(defaults[l.settings!.key] as object), ...(n[l.settings!.key] as object) };
    const security = layers.security as { clusterNetworks?: string[] };
    if (security.clusterNetworks === undefined) {
      if (someHostName) problems.push(`${f}.security.clusterNetworks: required when node addresses are host names (the firewall needs networks), got nothing`);
      security.clusterNetworks = nodeAddresses;
    }
    const preseed = { ...(defaults.preseed as object), ...n.preseed } as { installDisk?: string; authorizedKeys?: string[] };

    // Host key: pinned (hostKey or hostKeyFile) unless explicitly skipped, never both.
    const skip = s.insecureSkipHostKeyCheck ?? false;
    const pinned = n.hostKey !== undefined || n.hostKeyFile !== undefined;
    if (n.hostKey !== undefined && n.hostKeyFile !== undefined) problems.push(`${f}.hostKeyFile: set hostKey or hostKeyFile, not both`);
    if (!pinned && !skip) problems.push(`${f}.hostKey: a pinned host key (hostKey or hostKeyFile) is required unless insecureSkipHostKeyCheck is true`);
    if (pinned && skip) problems.push(`${f}.insecureSkipHostKeyCheck: cannot be true when a host key is pinned`);
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
      if (text !== undefined) privateKey = secretKey(text);
    } else if (options.sshPrivateKey !== undefined) {
      privateKey = secretKey(options.sshPrivateKey);
    } else {
      problems.push(`${f}.privateKeyFile: no SSH private key: set privateKeyFile (here or in defaults) or the secret debvisor:sshPrivateKey`);
    }

    const current = options.currentSshPorts?.[n.name];
    const node: DebVisorClusterNodeArgs = {
      name: n.name,
      profile: s.profile,
      ...(current !== undefined && current !== (s.port ?? 22) ? { currentSshPort: current } : {}),
      host: {
        address: n.address, port: s.port, user: s.user, privateKey: privateKey ?? "",
        hostKey, insecureSkipHostKeyCheck: s.insecureSkipHostKeyCheck,
        dialErrorLimit: s.dialErrorLimit, perDialTimeout: s.perDialTimeout,
      },
      base: Object.fromEntries(BASE_KEYS.map((k) => [k, s[k]])),
      ...layers,
      ...(preseed.installDisk !== undefined ? { preseed: { ...preseed, installDisk: preseed.installDisk, authorizedKeys: preseed.authorizedKeys ?? [], hostname: n.name } } : {}),
    };

    // Rules that relate fields to each other, on the merged settings (each layer's own).
    const profile = s.profile ?? DEFAULT_PROFILE;
    const nodeLayers = layersOfProfile(profile).map((l) => l.name);
    if ((n.disks ?? []).length > 0 && !nodeLayers.includes("storage")) problems.push(`${f}.disks: the node's profile "${profile}" has no storage layer, so these disks would never be used (pick a profile with it, or remove them)`);
    for (const l of OBJECT_LAYERS) {
      const { key, rules } = l.settings!;
      problems.push(...ignoredSettingsProblems(l.name, key, n[key], nodeLayers, profile, f));
      // A problem in a field the node took from `defaults` is named there (once for all nodes).
      const locate = (path: string) => {
        const top = /^[^.[]+/.exec(path)?.[0];
        const own = top === undefined || (n[key] as Record<string, unknown> | undefined)?.[top] !== undefined;
        return joinPath(own || (defaults[key] as Record<string, unknown> | undefined)?.[top] === undefined ? `${f}.${key}` : `defaults.${key}`, path);
      };
      if (rules) problems.push(...ruleProblems(`${f}.${key}`, () => rules(layers[key], { args: node, layers: nodeLayers }), locate));
    }
    if (preseed.installDisk !== undefined) {
      if ((n.disks ?? []).includes(preseed.installDisk)) problems.push(`${f}.preseed.installDisk: is one of the node's storage disks (the installer erases it), got ${JSON.stringify(preseed.installDisk)}`);
      problems.push(...ruleProblems(`${f}.preseed`, () => preseedRules(preseed)));
    }
    // A node that lists its disks lists every disk its storage uses (the list is the inventory policy and people read).
    if (n.disks !== undefined) {
      const storage = (layers.storage ?? {}) as StorageSettings;
      for (const { field, disk } of storageDisks(storage)) {
        if (!n.disks.includes(disk)) problems.push(`${f}.storage.${field}: is not one of the node's disks (${f}.disks), got ${JSON.stringify(disk)}`);
      }
    }
    const dup = (n.disks ?? []).findIndex((d, j) => (n.disks ?? []).indexOf(d) !== j);
    if (dup >= 0) problems.push(`${f}.disks[${dup}]: listed twice, got ${JSON.stringify(n.disks![dup])}`);
    return node;
  });
  if (problems.length === 0) problems.push(...layerClusterProblems(nodes.map((node, i) => ({ field: `nodes[${i}]`, args: node }))));
  if (problems.length === 0) problems.push(...cephDepartureProblems(nodes, options.previousCephOsdNodes ?? [], cfg.defaults?.storage !== undefined));
  if (problems.length > 0) throw new StackConfigError([...new Set(problems)]); // a shared default fails once, not per node
  return trusted({ nodes });
}
