import { z } from "zod";
import { isAddress, isPublicKey } from "../components/host/index.js";
import { RELEASES, isHttpUrl } from "../components/base/index.js";
import { PARTITIONING, PROFILE_NAMES } from "../components/management/index.js";
import { networkSchema } from "./network-schema.js";
import { virtualizationSchema } from "./virtualization-schema.js";
import { FIREWALL_BACKENDS, ROOT_LOGIN_POLICIES, MANAGED_SSHD_KEYWORDS, SSHD_KEYWORD, isCanonicalCidr, isCidr, isPackageGlob, parsePortRange } from "../components/security/index.js";

/**
 * The one stack config schema (`debvisor:cluster` in Pulumi.<stack>.yaml). Unknown
 * fields are errors, so a typo never silently falls back to a default.
 */
const packageName = z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/, "not a Debian package name");
const httpUrl = z.string().refine(isHttpUrl, "not an http(s) URL");
const absolutePath = z.string().regex(/^\/\S*$/, "must be an absolute path");

const cidr = z.string().refine(isCidr, "not an IP address or CIDR network").refine(isCanonicalCidr, "host bits set: use the network address");
const portRange = z.string().refine((v) => { const r = parsePortRange(v); return r !== undefined && r[0] < r[1]; }, 'must be a port range "first-last"');
const onCalendar = z.string().regex(/^[A-Za-z0-9 ,.:*\/~+-]{1,100}$/, "not a systemd OnCalendar expression");

/** `security`: firewall, fail2ban, unattended-upgrades, sshd. Merged field by field over `defaults.security`. */
const securitySchema = z.strictObject({
  firewall: z.enum(FIREWALL_BACKENDS, { error: `must be one of ${FIREWALL_BACKENDS.join(", ")}` }).optional(),
  clusterNetworks: z.array(cidr).optional(),
  controllerAddresses: z.array(cidr).optional(),
  nodePorts: portRange.optional(),
  wireguard: z.boolean().optional(),
  extraRules: z.array(z.strictObject({
    port: z.union([z.number(), z.string()]).refine((v) => parsePortRange(v) !== undefined, 'must be a port 1-65535 or a range "first-last"'),
    protocol: z.enum(["tcp", "udp"], { error: "must be tcp or udp" }).optional(),
    from: z.array(cidr).min(1, "must name at least one network (leave it out for the cluster networks)").optional(),
    comment: z.string().regex(/^[A-Za-z0-9 ._:-]{1,64}$/, "must be 1-64 letters, digits, space, . _ : -").optional(),
  })).optional(),
  trustedInterfaces: z.array(z.string().regex(/^[A-Za-z0-9._-]{1,15}\*?$/, "not an interface name (a trailing * is a wildcard)")).optional(),
  permitRootLogin: z.enum(ROOT_LOGIN_POLICIES, { error: `must be one of ${ROOT_LOGIN_POLICIES.join(", ")}` }).optional(),
  sshAllowUsers: z.array(z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, "not a valid user name")).optional(),
  sshdSettings: z.record(z.string(), z.string().regex(/^[^\n\r#]*\S[^\n\r#]*$/, "must be a one-line value"))
    .superRefine((rec, ctx) => {
      for (const k of Object.keys(rec)) {
        if (!SSHD_KEYWORD.test(k)) ctx.addIssue({ code: "custom", path: [k], message: "not an sshd_config keyword" });
        else if (MANAGED_SSHD_KEYWORDS.includes(k.toLowerCase())) ctx.addIssue({ code: "custom", path: [k], message: "is managed by DebVisor (use permitRootLogin / sshAllowUsers)" });
      }
    })
    .optional(),
  fail2banMaxRetry: z.number().int().min(1).max(100).optional(),
  fail2banFindTime: z.string().regex(/^\d+[smhdw]?$/, 'must be a fail2ban time like "600", "10m", "1h"').optional(),
  fail2banBanTime: z.string().regex(/^\d+[smhdw]?$/, 'must be a fail2ban time like "600", "10m", "1h"').optional(),
  securityUpdatesOnly: z.boolean().optional(),
  heldPackages: z.array(z.string().refine(isPackageGlob, "not a package name or glob")).optional(),
});

/** `management`: first-boot unit, health and scrub timers. */
const managementSchema = z.strictObject({
  firstBoot: z.boolean().optional(),
  firstBootScript: z.string().startsWith("#!", "must be a script starting with #!").optional(),
  cephHealthSchedule: onCalendar.optional(),
  zfsScrubSchedule: onCalendar.optional(),
  zfsScrubPools: z.array(z.string().regex(/^[A-Za-z][A-Za-z0-9_.:-]{0,254}$/, "not a ZFS pool name")).optional(),
});

/** `preseed`: the Debian installer preseed of a node (rendered when installDisk is set). */
const preseedSchema = z.strictObject({
  installDisk: z.string().regex(/^\/dev\/(disk\/by-id\/[A-Za-z0-9._:+-]+|[a-z]+[a-z0-9]*)$/, "must be a /dev/disk/by-id/ path or a /dev/<name> disk").optional(),
  partitioning: z.enum(PARTITIONING, { error: `must be one of ${PARTITIONING.join(", ")}` }).optional(),
  authorizedKeys: z.array(z.string().refine((k) => isPublicKey(k) && !/[\n']/.test(k), "not an SSH public key line")).min(1, "at least one SSH public key is required").optional(),
  domain: z.string().regex(/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/, "not a DNS domain").optional(),
  keymap: z.string().regex(/^[a-z]{2,3}(\([a-z0-9_-]+\))?$/, "not an xkb layout like us or de").optional(),
});

/** Settings a node may take from `defaults` or set itself. */
const nodeSettings = {
  port: z.number().int().min(1).max(65535).optional(),
  user: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, "not a valid user name").optional(),
  /** Path of the SSH private key on the machine that runs Pulumi (or set the secret `debvisor:sshPrivateKey`). */
  privateKeyFile: absolutePath.optional(),
  insecureSkipHostKeyCheck: z.boolean().optional(),
  /** Failed SSH dials before a step gives up (default 10). */
  dialErrorLimit: z.number().int().min(1).max(100).optional(),
  /** Seconds per SSH dial attempt (default 15). */
  perDialTimeout: z.number().int().min(1).max(600).optional(),
  profile: z.enum(PROFILE_NAMES as [string, ...string[]], { error: `must be one of ${PROFILE_NAMES.join(", ")}` }).optional(),
  release: z.enum(RELEASES, { error: `must be one of ${RELEASES.join(", ")}` }).optional(),
  mirror: httpUrl.optional(),
  securityMirror: httpUrl.optional(),
  aptProxy: httpUrl.optional(),
  contrib: z.boolean().optional(),
  nonFree: z.boolean().optional(),
  backports: z.boolean().optional(),
  packages: z.array(packageName).optional(),
  locale: z.string().regex(/^[a-z]{2,3}_[A-Z]{2}\.UTF-8$/, "must look like en_US.UTF-8").optional(),
  timezone: z.string().regex(/^[A-Za-z0-9_+-]+(\/[A-Za-z0-9_+-]+)*$/, "not a timezone name like UTC or Europe/Berlin").optional(),
  security: securitySchema.optional(),
  management: managementSchema.optional(),
  /** `network`: br0, VLANs, bonds. Merged field by field over `defaults.network`. */
  network: networkSchema.optional(),
  /** `virtualization`: KVM/QEMU, libvirt networks, pools and VMs, Cockpit. Merged field by field over `defaults.virtualization`. */
  virtualization: virtualizationSchema.optional(),
  preseed: preseedSchema.optional(),
};

const nodeSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "must be lower-case letters, digits and '-' (at most 63)"),
  address: z.string().refine(isAddress, "not an IP address or host name"),
  /** The host's SSH public key line, or `hostKeyFile` pointing at one. */
  hostKey: z.string().refine(isPublicKey, "not an SSH public key line (ssh-ed25519 AAAA...)").optional(),
  hostKeyFile: absolutePath.optional(),
  /** Disks this node may use, by stable id. Never wiped unless listed in `wipe`. */
  disks: z.array(z.string().regex(/^\/dev\/disk\/by-id\/[A-Za-z0-9._:+-]+$/, "must be a /dev/disk/by-id/ path")).optional(),
  ...nodeSettings,
});

export const stackConfigSchema = z
  .strictObject({
    defaults: z.strictObject(nodeSettings).optional(),
    nodes: z.array(nodeSchema).min(1, "at least one node is required"),
  })
  .superRefine((cfg, ctx) => {
    const seen = { name: new Map<string, number>(), address: new Map<string, number>() };
    cfg.nodes.forEach((n, i) => {
      for (const key of ["name", "address"] as const) {
        const prev = seen[key].get(n[key]);
        if (prev !== undefined) ctx.addIssue({ code: "custom", path: ["nodes", i, key], message: `duplicate of nodes[${prev}].${key}` });
        else seen[key].set(n[key], i);
      }
      const skip = n.insecureSkipHostKeyCheck ?? cfg.defaults?.insecureSkipHostKeyCheck ?? false;
      const pinned = n.hostKey !== undefined || n.hostKeyFile !== undefined;
      if (n.hostKey !== undefined && n.hostKeyFile !== undefined) ctx.addIssue({ code: "custom", path: ["nodes", i, "hostKeyFile"], message: "set hostKey or hostKeyFile, not both" });
      if (!pinned && !skip) ctx.addIssue({ code: "custom", path: ["nodes", i, "hostKey"], message: "a pinned host key (hostKey or hostKeyFile) is required unless insecureSkipHostKeyCheck is true" });
      if (pinned && skip) ctx.addIssue({ code: "custom", path: ["nodes", i, "insecureSkipHostKeyCheck"], message: "cannot be true when a host key is pinned" });
      const user = n.user ?? cfg.defaults?.user ?? "root";
      const rootPolicy = n.security?.permitRootLogin ?? cfg.defaults?.security?.permitRootLogin;
      if (user === "root" && rootPolicy === "no") {
        ctx.addIssue({ code: "custom", path: [...(n.security?.permitRootLogin ? ["nodes", i] : ["defaults"]), "security", "permitRootLogin"], message: `would lock out the provisioning user root of nodes[${i}] (log in as a sudoer, or keep prohibit-password)` });
      }
      const firstBoot = n.management?.firstBoot ?? cfg.defaults?.management?.firstBoot;
      if ((n.management?.firstBootScript ?? cfg.defaults?.management?.firstBootScript) !== undefined && firstBoot !== true) {
        ctx.addIssue({ code: "custom", path: ["nodes", i, "management", "firstBoot"], message: "must be true when firstBootScript is set" });
      }
      const installDisk = n.preseed?.installDisk ?? cfg.defaults?.preseed?.installDisk;
      if (installDisk !== undefined && (n.disks ?? []).includes(installDisk)) {
        ctx.addIssue({ code: "custom", path: ["nodes", i, "preseed", "installDisk"], message: "is one of the node's storage disks (the installer erases it)" });
      }
      if (installDisk !== undefined && (n.preseed?.authorizedKeys ?? cfg.defaults?.preseed?.authorizedKeys) === undefined) {
        ctx.addIssue({ code: "custom", path: ["nodes", i, "preseed", "authorizedKeys"], message: "at least one SSH public key is required to render the preseed" });
      }
      const dup = (n.disks ?? []).findIndex((d, j) => (n.disks ?? []).indexOf(d) !== j);
      if (dup >= 0) ctx.addIssue({ code: "custom", path: ["nodes", i, "disks", dup], message: "listed twice" });
    });
  });

export type StackConfig = z.infer<typeof stackConfigSchema>;
export type StackNodeConfig = StackConfig["nodes"][number];
