import { z } from "zod";
import { PACKAGE_NAME, isHttpUrl } from "../config/formats.js";
import { loadScript } from "../host/scripts.js";
import { RELEASES } from "./sources.js";

/** The UTF-8 locales Debian's `locales` package can generate (its SUPPORTED list). */
export const SUPPORTED_LOCALES: ReadonlySet<string> = new Set(loadScript("base/files/supported-locales.txt").split("\n").filter((l) => l !== "" && !l.startsWith("#")));

/** A timezone name tzdata knows (IANA names and their aliases, UTC and Etc/* included). */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

const httpUrl = z.string().refine(isHttpUrl, "not an http(s) URL");
const bool = z.boolean({ error: "must be true or false" });

/**
 * The Debian base layer's settings, field by field (`DebianBaseArgs` without the host).
 * In the stack config they sit directly on a node (or in `defaults`).
 */
export const baseFields = {
  release: z.enum(RELEASES, { error: `must be one of ${RELEASES.join(", ")}` }).optional(),
  mirror: httpUrl.optional(),
  securityMirror: httpUrl.optional(),
  aptProxy: httpUrl.optional(),
  contrib: bool.optional(),
  nonFree: bool.optional(),
  backports: bool.optional(),
  packages: z.array(z.string().regex(PACKAGE_NAME, "not a Debian package name")).optional(),
  locale: z.string().regex(/^[a-z]{2,3}_[A-Z]{2}\.UTF-8$/, "must look like en_US.UTF-8")
    .refine((l) => SUPPORTED_LOCALES.has(l), "not a locale Debian supports (its /usr/share/i18n/SUPPORTED list)").optional(),
  timezone: z.string().regex(/^[A-Za-z0-9_+-]+(\/[A-Za-z0-9_+-]+)*$/, "not a timezone name like UTC or Europe/Berlin")
    .refine(isTimeZone, "not a timezone tzdata knows (like UTC or Europe/Berlin)").optional(),
};

export const baseSchema = z.strictObject(baseFields);
