import { z } from "zod";
import { isAddress, isPublicKey } from "../components/host/index.js";
import { RELEASES, isHttpUrl } from "../components/base/index.js";
import { PROFILE_NAMES } from "../components/management/index.js";

/**
 * The one stack config schema (`debvisor:cluster` in Pulumi.<stack>.yaml). Unknown
 * fields are errors, so a typo never silently falls back to a default.
 */
const packageName = z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/, "not a Debian package name");
const httpUrl = z.string().refine(isHttpUrl, "not an http(s) URL");
const absolutePath = z.string().regex(/^\/\S*$/, "must be an absolute path");

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
      const dup = (n.disks ?? []).findIndex((d, j) => (n.disks ?? []).indexOf(d) !== j);
      if (dup >= 0) ctx.addIssue({ code: "custom", path: ["nodes", i, "disks", dup], message: "listed twice" });
    });
  });

export type StackConfig = z.infer<typeof stackConfigSchema>;
export type StackNodeConfig = StackConfig["nodes"][number];
