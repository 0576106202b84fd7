import { z } from "zod";
import { DISK_BY_ID } from "../components/config/formats.js";
import { addressSchema, hostFields, publicKeySchema } from "../components/host/schema.js";
import { baseFields } from "../components/base/schema.js";
import { preseedSchema } from "../components/management/schema.js";
import { LAYERS } from "../components/layers.js";
import { PROFILE_NAMES } from "../components/management/profiles.js";

/**
 * The one stack config schema (`debvisor:cluster` in Pulumi.<stack>.yaml), composed from
 * the layers' own schemas (`components/<layer>/schema.ts`): the same field rules and
 * messages a library user gets from the components. Unknown fields are errors, so a typo
 * never silently falls back to a default. Rules that relate fields to each other run in
 * the loader, on each node's settings merged over `defaults`.
 */
const absolutePath = z.string().regex(/^\/\S*$/, "must be an absolute path");

/** The settings objects of the catalog's layers (`security`, `network`, ...); the base layer's fields sit on the node itself. */
const layerSettings = Object.fromEntries(
  LAYERS.filter((l) => l.settings && l.settings.key !== "base").map((l) => [l.settings!.key, l.settings!.schema.optional()]),
);

/** Settings a node may take from `defaults` or set itself. */
const nodeSettings = {
  ...hostFields,
  /** Path of the SSH private key on the machine that runs Pulumi (or set the secret `debvisor:sshPrivateKey`). */
  privateKeyFile: absolutePath.optional(),
  profile: z.enum(PROFILE_NAMES as [string, ...string[]], { error: `must be one of ${PROFILE_NAMES.join(", ")}` }).optional(),
  ...baseFields,
  ...layerSettings,
  preseed: preseedSchema.optional(),
};

const nodeSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "must be lower-case letters, digits and '-' (at most 63)"),
  address: addressSchema,
  /** The host's SSH public key line, or `hostKeyFile` pointing at one. */
  hostKey: publicKeySchema.optional(),
  hostKeyFile: absolutePath.optional(),
  /** Disks this node may use, by stable id. Never wiped unless listed in `wipe`. */
  disks: z.array(z.string().regex(DISK_BY_ID, "must be a /dev/disk/by-id/ path")).optional(),
  ...nodeSettings,
});

export const stackConfigSchema = z.strictObject({
  defaults: z.strictObject(nodeSettings).optional(),
  nodes: z.array(nodeSchema).min(1, "at least one node is required"),
});

/** A node of the stack config, as parsed (layer settings by key). */
export type StackNodeConfig = z.infer<typeof nodeSchema> & Record<string, unknown>;
export type StackConfig = { defaults?: Omit<StackNodeConfig, "name" | "address" | "hostKey" | "hostKeyFile" | "disks">; nodes: StackNodeConfig[] };
