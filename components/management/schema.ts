import { z } from "zod";
import { DNS_DOMAIN, HOST_LABEL, ZFS_POOL_NAME, isOnCalendar, isPublicKey } from "../config/formats.js";
import { fail } from "../config/problems.js";

/** Partitioning recipes of the Debian installer DebVisor offers. */
export const PARTITIONING = ["atomic", "lvm"] as const;

const onCalendar = z.string({ error: "not a systemd OnCalendar expression" }).refine(isOnCalendar, "not a systemd OnCalendar expression (like daily, *:0/5 or Sun *-*-01..07 03:00:00)");

/** `ManagementSettings`, field by field (stack config `management`). */
export const managementSchema = z.strictObject({
  firstBoot: z.boolean({ error: "must be true or false" }).optional(),
  firstBootScript: z.string({ error: "must be a script starting with #!" }).startsWith("#!", "must be a script starting with #!").optional(),
  cephHealthSchedule: onCalendar.optional(),
  zfsScrubSchedule: onCalendar.optional(),
  zfsScrubPools: z.array(z.string().regex(ZFS_POOL_NAME, "not a ZFS pool name")).optional(),
});

export function managementRules(m: z.infer<typeof managementSchema>): void {
  if (m.firstBootScript !== undefined && !m.firstBoot) fail("firstBoot", "must be true when firstBootScript is set", m.firstBoot);
}

/** The Debian installer's disk: by id, or a kernel name. */
export const INSTALL_DISK = /^\/dev\/(disk\/by-id\/[A-Za-z0-9._:+-]+|[a-z]+[a-z0-9]*)$/;

/** `PreseedSettings`, field by field (stack config `preseed`; `installDisk` and `authorizedKeys` are needed to render). */
export const preseedSchema = z.strictObject({
  hostname: z.string().regex(HOST_LABEL, "not a host name (lower-case letters, digits, -)").optional(),
  installDisk: z.string({ error: "must be a /dev/disk/by-id/ path or a /dev/<name> disk" }).regex(INSTALL_DISK, "must be a /dev/disk/by-id/ path or a /dev/<name> disk").optional(),
  partitioning: z.enum(PARTITIONING, { error: `must be one of ${PARTITIONING.join(", ")}` }).optional(),
  authorizedKeys: z.array(z.string().refine((k) => isPublicKey(k) && !/[\n']/.test(k), "not an SSH public key line"), { error: "at least one SSH public key is required (password logins are off)" })
    .min(1, "at least one SSH public key is required (password logins are off)").optional(),
  domain: z.string().refine((d) => d === "" || DNS_DOMAIN.test(d), "not a DNS domain").optional(),
  keymap: z.string().regex(/^[a-z]{2,3}(\([a-z0-9_-]+\))?$/, "not an xkb layout like us or de").optional(),
});

/** What rendering a preseed needs. */
export function preseedRules(p: z.infer<typeof preseedSchema>): void {
  if (p.installDisk === undefined) fail("installDisk", "must be a /dev/disk/by-id/ path or a /dev/<name> disk", p.installDisk);
  if (p.authorizedKeys === undefined) fail("authorizedKeys", "at least one SSH public key is required (password logins are off)", p.authorizedKeys);
}
