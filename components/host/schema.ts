import { z } from "zod";
import { fail } from "../config/problems.js";
import { USER_NAME, isAddress, isPublicKey } from "../config/formats.js";

/** Connection settings shared by `HostArgs` and the stack config's nodes and defaults. */
export const hostFields = {
  port: z.number({ error: "must be an integer from 1 to 65535" }).int("must be an integer from 1 to 65535").min(1, "must be an integer from 1 to 65535").max(65535, "must be an integer from 1 to 65535").optional(),
  user: z.string().regex(USER_NAME, "not a valid user name").optional(),
  insecureSkipHostKeyCheck: z.boolean({ error: "must be true or false" }).optional(),
  /** Failed SSH dials before a step gives up. */
  dialErrorLimit: z.number().int("must be an integer from 1 to 100").min(1, "must be an integer from 1 to 100").max(100, "must be an integer from 1 to 100").optional(),
  /** Seconds per SSH dial attempt. */
  perDialTimeout: z.number().int("must be an integer from 1 to 600 (seconds)").min(1, "must be an integer from 1 to 600 (seconds)").max(600, "must be an integer from 1 to 600 (seconds)").optional(),
};

export const addressSchema = z.string({ error: "not an IP address or host name" }).refine(isAddress, "not an IP address or host name");
export const publicKeySchema = z.string().refine(isPublicKey, "not an SSH public key line (ssh-ed25519 AAAA...)");

/** `HostArgs`, field by field. */
export const hostSchema = z.object({
  address: addressSchema,
  ...hostFields,
  privateKey: z.custom<unknown>((v) => v !== undefined && v !== "", "is required"),
  hostKey: publicKeySchema.optional(),
});

/** Safety rule 1: a pinned host key, unless explicitly opted out (and never both). */
export function hostKeyRules(h: { address: string; hostKey?: string; insecureSkipHostKeyCheck?: boolean }): void {
  if (h.hostKey === undefined && h.insecureSkipHostKeyCheck !== true) {
    fail("hostKey", `a pinned host key is required for ${h.address} (set insecureSkipHostKeyCheck: true to accept any key)`, undefined, false);
  }
  if (h.hostKey !== undefined && h.insecureSkipHostKeyCheck === true) fail("insecureSkipHostKeyCheck", "cannot be set together with a pinned hostKey", undefined, false);
}
